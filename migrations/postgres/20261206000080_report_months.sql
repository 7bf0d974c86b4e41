-- The evaluation report's summaries of past months (docs/reports.md, docs/benchmarks.md).
--
-- Every write of an incident gives it a new random 40-bit change_tag. A month's incidents
-- (opened in it, and due in it) are then fingerprinted by their count and the sum of their
-- tags, read from the two indexes below alone; a stored summary is used only while the
-- fingerprint it was computed with still holds, so an old incident closing late makes its
-- month be read again. Existing rows keep tag 0 until their next write.
ALTER TABLE incidents ADD COLUMN change_tag BIGINT NOT NULL DEFAULT 0;
DROP INDEX incidents_created;
CREATE INDEX incidents_created ON incidents (created_at, change_tag);
DROP INDEX incidents_due;
CREATE INDEX incidents_due ON incidents (due_at, change_tag);

-- One calendar month (at the report's UTC offset) of one grouping: its groups' counts and
-- joined durations as JSON (format: the layout of that JSON and of the queries behind it;
-- a summary of another format is read again).
CREATE TABLE report_months (
    group_by      TEXT NOT NULL,
    offset_ms     BIGINT NOT NULL,
    period_from   BIGINT NOT NULL,
    period_to     BIGINT NOT NULL,
    format        BIGINT NOT NULL,
    opened_count  BIGINT NOT NULL,
    opened_tags   BIGINT NOT NULL,
    due_count     BIGINT NOT NULL,
    due_tags      BIGINT NOT NULL,
    groups        TEXT NOT NULL,
    computed_at   BIGINT NOT NULL,
    PRIMARY KEY (group_by, offset_ms, period_from, period_to)
);
