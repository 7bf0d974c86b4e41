-- GB/T 28181 device id of a camera (20 digits), unique among cameras. A unique index
-- named as in SQLite, whose error messages name it (a clash is told apart from an id clash).
ALTER TABLE cameras ADD COLUMN gb28181_id TEXT;
CREATE UNIQUE INDEX cameras_gb28181_id ON cameras (gb28181_id);
