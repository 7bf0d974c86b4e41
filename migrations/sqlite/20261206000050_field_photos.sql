-- Residents' and volunteers' reports from the phone (随手拍, issue 15): the photo taken
-- with the report is kept with the incident like a snapshot, with source 'field' and the
-- reporter as `field:<responder id>` in camera_id. SQLite cannot change a CHECK, so the
-- table is rebuilt with the same rows.
CREATE TABLE snapshots_new (
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    n            INTEGER NOT NULL CHECK (n >= 1),
    camera_id    TEXT NOT NULL,
    taken_at     INTEGER NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('stream', 'frigate', 'field')),
    bytes        INTEGER NOT NULL,
    width        INTEGER,
    height       INTEGER,
    PRIMARY KEY (incident_id, n)
);
INSERT INTO snapshots_new (incident_id, n, camera_id, taken_at, source, bytes, width, height)
    SELECT incident_id, n, camera_id, taken_at, source, bytes, width, height FROM snapshots;
DROP TABLE snapshots;
ALTER TABLE snapshots_new RENAME TO snapshots;
