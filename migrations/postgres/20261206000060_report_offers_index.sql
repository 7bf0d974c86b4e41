-- The evaluation report's offers by responder (docs/reports.md, docs/benchmarks.md). SQLite
-- reads this index alone instead of sorting a year's 600,000 tasks; PostgreSQL's plan for a
-- year stayed a parallel sequential scan with a hash aggregate when measured, but both
-- histories keep the same named indexes (tests/it/schema.rs).
CREATE INDEX tasks_responder_offered ON tasks (responder_id, offered_at, status, accepted_at);
