-- Pictures taken for incidents: one frame of an alerting camera's stream, or the picture
-- Frigate kept of the event. The JPEG itself is a file under the data folder,
-- snapshots/<incident_id>/<n>.jpg; this row lists it. n counts from 1 per incident.
CREATE TABLE snapshots (
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    n            INTEGER NOT NULL CHECK (n >= 1),
    camera_id    TEXT NOT NULL,
    taken_at     INTEGER NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('stream', 'frigate')),
    bytes        INTEGER NOT NULL,
    width        INTEGER,
    height       INTEGER,
    PRIMARY KEY (incident_id, n)
);
