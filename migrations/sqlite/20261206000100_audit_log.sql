-- The audit log (issue 17, docs/security.md "Audit log"): who did what, from where, to
-- what, with the thing before and after, and when. Append-only: the database refuses
-- every edit, and refuses deleting an entry younger than 180 days, the least any
-- `audit.retention_days` may be (the Cybersecurity Law keeps network logs six months).
CREATE TABLE audit_log (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    role         TEXT,
    address      TEXT,
    action       TEXT NOT NULL,
    target_kind  TEXT,
    target_id    TEXT,
    request      TEXT,
    status       INTEGER NOT NULL,
    detail       TEXT,
    before       TEXT,
    after        TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_keep_180_days BEFORE DELETE ON audit_log
WHEN OLD.at > CAST(strftime('%s', 'now') AS INTEGER) * 1000 - 180 * 86400000
BEGIN SELECT RAISE(ABORT, 'audit log entries are kept at least 180 days'); END;
