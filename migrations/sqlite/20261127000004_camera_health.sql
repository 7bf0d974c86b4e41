-- Camera health as Frigate reports it (`frigate/<camera>/status/detect`, `frigate/available`).
-- status is online, offline or unknown (never reported, or Frigate itself went away);
-- status_since is when it took that value, last_seen when Frigate last reported the camera
-- online, last_error the reason of the last offline or unknown. Times are Unix ms.
ALTER TABLE cameras ADD COLUMN status TEXT NOT NULL DEFAULT 'unknown'
    CHECK (status IN ('online', 'offline', 'unknown'));
ALTER TABLE cameras ADD COLUMN status_since INTEGER;
ALTER TABLE cameras ADD COLUMN last_seen INTEGER;
ALTER TABLE cameras ADD COLUMN last_error TEXT;

-- One row per status change of a camera (a repeated status writes none). Kept when the
-- camera is deleted, like alerts that named it.
CREATE TABLE camera_history (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    camera_id  TEXT NOT NULL,
    at         INTEGER NOT NULL,
    status     TEXT NOT NULL,
    reason     TEXT
);
CREATE INDEX camera_history_camera ON camera_history (camera_id, seq);
