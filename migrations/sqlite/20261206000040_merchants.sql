-- 喜邻 partner merchants and grid stations (网格驿站), their offers catalogue, the
-- `merchant` console role bound to one merchant, and responders based at a station
-- (issue 15).
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    address     TEXT NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    station     INTEGER NOT NULL DEFAULT 0,
    hours       TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Offer ids are unique across merchants: a redemption names the offer alone.
CREATE TABLE merchant_offers (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    points            INTEGER NOT NULL CHECK (points > 0),
    stock             INTEGER CHECK (stock >= 0),
    per_person_limit  INTEGER CHECK (per_person_limit > 0),
    valid_until       INTEGER,
    active            INTEGER NOT NULL DEFAULT 1,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX merchant_offers_merchant ON merchant_offers(merchant_id);

-- Only a station may be a base; the API checks that (a foreign key cannot).
ALTER TABLE responders ADD COLUMN station_id TEXT REFERENCES merchants(id) ON DELETE SET NULL;

-- The role check gains 'merchant', and a merchant user names its merchant. SQLite cannot
-- change a CHECK, so users is rebuilt; sessions is rebuilt beside it (pointing at the new
-- table) so that dropping the old users table deletes no session.
CREATE TABLE users_new (
    username       TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('merchant', 'viewer', 'operator', 'admin')),
    created_at     INTEGER NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    merchant_id    TEXT REFERENCES merchants(id) ON DELETE CASCADE,
    CHECK ((role = 'merchant') = (merchant_id IS NOT NULL))
);
INSERT INTO users_new (username, password_hash, role, created_at, disabled)
    SELECT username, password_hash, role, created_at, disabled FROM users;
CREATE TABLE sessions_new (
    id_hash     TEXT PRIMARY KEY,
    username    TEXT NOT NULL REFERENCES users_new(username) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL
);
INSERT INTO sessions_new SELECT id_hash, username, created_at, expires_at, last_seen FROM sessions;
DROP TABLE sessions;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_username ON sessions(username);
CREATE INDEX sessions_expires_at ON sessions(expires_at);
CREATE INDEX users_merchant ON users(merchant_id);
