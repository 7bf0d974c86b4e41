-- Redemptions of volunteer points at 喜邻 merchants (issue 15). Each one holds its points
-- in `points_holds` (same id as `hold_id`); its state follows the hold's, written in the
-- same transaction: pending (held), confirmed, expired (released after it lapsed) or
-- released. `code` is the one-time code shown at the shop: unique among pending ones.
CREATE TABLE redemptions (
    id            TEXT PRIMARY KEY NOT NULL,
    code          TEXT NOT NULL,
    responder_id  TEXT NOT NULL,
    offer_id      TEXT NOT NULL,
    offer_title   TEXT NOT NULL,
    merchant_id   TEXT NOT NULL,
    points        INTEGER NOT NULL CHECK (points > 0),
    hold_id       TEXT NOT NULL,
    request_id    TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'confirmed', 'expired', 'released')),
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    confirmed_at  INTEGER,
    confirmed_by  TEXT
);
CREATE UNIQUE INDEX redemptions_request ON redemptions (responder_id, request_id);
CREATE UNIQUE INDEX redemptions_live_code ON redemptions (code) WHERE state = 'pending';
CREATE INDEX redemptions_code ON redemptions (code);
CREATE INDEX redemptions_hold ON redemptions (hold_id);
CREATE INDEX redemptions_merchant ON redemptions (merchant_id, state, created_at);
CREATE INDEX redemptions_offer ON redemptions (offer_id, responder_id, state);
