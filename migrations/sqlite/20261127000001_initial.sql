-- griddispatch schema. Times are Unix milliseconds (INTEGER), JSON is TEXT.

CREATE TABLE zones (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('grid', 'beat')),
    geometry    TEXT NOT NULL,           -- GeoJSON geometry
    properties  TEXT NOT NULL DEFAULT '{}', -- the Feature's other properties, kept as given
    updated_at  INTEGER NOT NULL
);

CREATE TABLE responders (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('grid_worker', 'patrol', 'volunteer')),
    travel      TEXT NOT NULL CHECK (travel IN ('foot', 'bike', 'car')),
    zone_id     TEXT REFERENCES zones (id) ON DELETE SET NULL,
    skills      TEXT NOT NULL DEFAULT '[]',
    on_duty     INTEGER NOT NULL DEFAULT 1,
    lat         REAL,
    lon         REAL,
    fix_at      INTEGER,
    accuracy_m  REAL,
    battery     INTEGER,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE sources (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

-- One MQTT login per responder or source. The username is unique across both.
CREATE TABLE mqtt_accounts (
    username      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    principal     TEXT NOT NULL CHECK (principal IN ('responder', 'source')),
    subject_id    TEXT NOT NULL,
    UNIQUE (principal, subject_id)
);

CREATE TABLE cameras (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    zone_id     TEXT REFERENCES zones (id) ON DELETE SET NULL,
    stream_uri  TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE incidents (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    severity      INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 4),
    state         TEXT NOT NULL,
    lat           REAL NOT NULL,
    lon           REAL NOT NULL,
    zone_id       TEXT,
    title         TEXT NOT NULL,
    description   TEXT,
    address       TEXT,
    rendezvous    TEXT,               -- JSON {lat, lon, note}
    offers_made   INTEGER NOT NULL DEFAULT 0,
    -- set when an operator chose the responder: a failed offer goes back to the operators
    manual        INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_alert_at INTEGER NOT NULL
);
CREATE INDEX incidents_state ON incidents (state);

CREATE TABLE alerts (
    id           TEXT PRIMARY KEY,
    source_id    TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    kind         TEXT NOT NULL,
    severity     INTEGER NOT NULL,
    lat          REAL NOT NULL,
    lon          REAL NOT NULL,
    camera_id    TEXT,
    time         INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    description  TEXT,
    address      TEXT,
    UNIQUE (source_id, external_id)
);
CREATE INDEX alerts_incident ON alerts (incident_id);

CREATE TABLE tasks (
    id            TEXT PRIMARY KEY,
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    responder_id  TEXT NOT NULL,
    status        TEXT NOT NULL,
    version       INTEGER NOT NULL,
    offered_at    INTEGER NOT NULL,
    respond_by    INTEGER NOT NULL,
    eta_secs      REAL,
    distance_m    REAL,
    note          TEXT,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX tasks_incident ON tasks (incident_id);
CREATE INDEX tasks_open ON tasks (status) WHERE status IN ('offered', 'accepted', 'en_route', 'on_scene');

CREATE TABLE timeline (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    at           INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    from_state   TEXT,
    to_state     TEXT NOT NULL,
    note         TEXT
);
CREATE INDEX timeline_incident ON timeline (incident_id);

CREATE TABLE dead_letters (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    topic        TEXT NOT NULL,
    payload      BLOB NOT NULL,
    truncated    INTEGER NOT NULL DEFAULT 0,
    reason       TEXT NOT NULL
);
