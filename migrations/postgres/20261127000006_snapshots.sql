-- Pictures taken for incidents (see migrations/sqlite); the JPEGs are files under the data
-- folder, snapshots/<incident_id>/<n>.jpg. n counts from 1 per incident.
CREATE TABLE snapshots (
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    n            BIGINT NOT NULL CHECK (n >= 1),
    camera_id    TEXT NOT NULL,
    taken_at     BIGINT NOT NULL,
    source       TEXT NOT NULL CHECK (source IN ('stream', 'frigate')),
    bytes        BIGINT NOT NULL,
    width        BIGINT,
    height       BIGINT,
    PRIMARY KEY (incident_id, n)
);
