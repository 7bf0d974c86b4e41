-- Volunteer points (志愿服务积分, issue 15): an append-only, double-entry ledger.
-- Responders may carry a real name and a phone number, nothing more personal.
ALTER TABLE responders ADD COLUMN real_name TEXT;
ALTER TABLE responders ADD COLUMN phone TEXT;

-- Accounts: `responder:<id>` (spendable points), `reserved:<id>` (points held for a
-- redemption), `county` (issuing: goes negative by what it issued), `merchant:<id>`,
-- `expiry`. `balance` is a cache of the sum of the account's entries, written in the same
-- transaction as them (the invariant test checks it); the row is also what a movement
-- locks.
CREATE TABLE points_accounts (
    id          TEXT PRIMARY KEY NOT NULL,
    balance     INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL
);

-- One movement of points, with the deed it comes from. Never updated, never deleted.
CREATE TABLE points_movements (
    id              TEXT PRIMARY KEY NOT NULL,
    idempotency_key TEXT NOT NULL,
    kind            TEXT NOT NULL
        CHECK (kind IN ('earn', 'award', 'expire', 'reserve', 'release', 'redeem', 'correct')),
    cause_type      TEXT NOT NULL
        CHECK (cause_type IN ('incident', 'award', 'redemption', 'movement')),
    cause_id        TEXT NOT NULL,
    -- The responder the movement concerns (NULL for none): their history's index.
    responder_id    TEXT,
    points          INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    note            TEXT
);
CREATE UNIQUE INDEX points_movements_idempotency ON points_movements (idempotency_key);
CREATE INDEX points_movements_at ON points_movements (at);
CREATE INDEX points_movements_cause ON points_movements (cause_type, cause_id);
CREATE INDEX points_movements_responder ON points_movements (responder_id, at);

-- The entries of a movement; they sum to zero. `lot_id` names the movement that issued
-- the points (an earning or an award), `lot_expires_at` when that lot expires: points
-- leave a responder soonest-expiring first, and stay traceable to their deed.
CREATE TABLE points_entries (
    movement_id     TEXT NOT NULL REFERENCES points_movements (id),
    seq             INTEGER NOT NULL,
    account         TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    lot_id          TEXT NOT NULL,
    lot_expires_at  INTEGER NOT NULL,
    PRIMARY KEY (movement_id, seq)
);
CREATE INDEX points_entries_account ON points_entries (account, lot_id);

-- A reservation of a responder's points (a redemption's hold): it counts against the
-- balance from `reserve` until it is confirmed (to a merchant, once) or released.
CREATE TABLE points_holds (
    id              TEXT PRIMARY KEY NOT NULL,
    responder_id    TEXT NOT NULL,
    points          INTEGER NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('held', 'confirmed', 'released')),
    expires_at      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    merchant_id     TEXT NOT NULL,
    reserve_movement TEXT NOT NULL,
    end_movement    TEXT
);
CREATE INDEX points_holds_open ON points_holds (state, expires_at);

-- Honour awards: proposed by an admin, approved by another above a threshold.
CREATE TABLE points_awards (
    id           TEXT PRIMARY KEY NOT NULL,
    responder_id TEXT NOT NULL,
    points       INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'approved')),
    proposed_by  TEXT NOT NULL,
    proposed_at  INTEGER NOT NULL,
    approved_by  TEXT,
    approved_at  INTEGER,
    movement_id  TEXT
);
CREATE INDEX points_awards_state ON points_awards (state, proposed_at);

-- The ledger is append-only: the database itself refuses edits.
CREATE TRIGGER points_entries_no_update BEFORE UPDATE ON points_entries
BEGIN SELECT RAISE(ABORT, 'points ledger is append-only'); END;
CREATE TRIGGER points_entries_no_delete BEFORE DELETE ON points_entries
BEGIN SELECT RAISE(ABORT, 'points ledger is append-only'); END;
CREATE TRIGGER points_movements_no_update BEFORE UPDATE ON points_movements
BEGIN SELECT RAISE(ABORT, 'points ledger is append-only'); END;
CREATE TRIGGER points_movements_no_delete BEFORE DELETE ON points_movements
BEGIN SELECT RAISE(ABORT, 'points ledger is append-only'); END;
