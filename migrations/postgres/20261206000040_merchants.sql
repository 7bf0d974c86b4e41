-- 喜邻 partner merchants and grid stations (网格驿站), their offers catalogue, the
-- `merchant` console role bound to one merchant, and responders based at a station
-- (issue 15).
CREATE TABLE merchants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    address     TEXT NOT NULL,
    lat         DOUBLE PRECISION NOT NULL,
    lon         DOUBLE PRECISION NOT NULL,
    station     BOOLEAN NOT NULL DEFAULT FALSE,
    hours       TEXT,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- Offer ids are unique across merchants: a redemption names the offer alone.
CREATE TABLE merchant_offers (
    id                TEXT PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants(id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    points            BIGINT NOT NULL CHECK (points > 0),
    stock             BIGINT CHECK (stock >= 0),
    per_person_limit  BIGINT CHECK (per_person_limit > 0),
    valid_until       BIGINT,
    active            BOOLEAN NOT NULL DEFAULT TRUE,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX merchant_offers_merchant ON merchant_offers(merchant_id);

-- Only a station may be a base; the API checks that (a foreign key cannot).
ALTER TABLE responders ADD COLUMN station_id TEXT REFERENCES merchants(id) ON DELETE SET NULL;

-- The role check gains 'merchant', and a merchant user names its merchant.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD COLUMN merchant_id TEXT REFERENCES merchants(id) ON DELETE CASCADE;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('merchant', 'viewer', 'operator', 'admin'));
ALTER TABLE users ADD CONSTRAINT users_merchant_check
    CHECK ((role = 'merchant') = (merchant_id IS NOT NULL));
CREATE INDEX users_merchant ON users(merchant_id);
