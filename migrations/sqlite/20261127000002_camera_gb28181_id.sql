-- GB/T 28181 device id of a camera (20 digits), so that an alarm naming the device can be
-- placed at the camera. SQLite cannot add a UNIQUE column, hence the separate index; NULLs
-- do not clash in a UNIQUE index, so cameras without an id are unaffected.
ALTER TABLE cameras ADD COLUMN gb28181_id TEXT;
CREATE UNIQUE INDEX cameras_gb28181_id ON cameras (gb28181_id);
