-- The evaluation report's offers by responder (docs/reports.md, docs/benchmarks.md): every
-- column the query reads, in the order it groups by, so that SQLite walks this index alone
-- and never sorts 600,000 tasks for a year. The report names it (`INDEXED BY`).
CREATE INDEX tasks_responder_offered ON tasks (responder_id, offered_at, status, accepted_at);
