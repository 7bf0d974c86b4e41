-- Messages for the broker that a committed decision owes: written in the decision's
-- transaction, deleted once the broker acknowledged them, sent again by the next engine
-- start (a crash between commit and publish loses nothing).
CREATE TABLE outbox (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    topic       TEXT NOT NULL,
    payload     BLOB NOT NULL,
    retain      INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
