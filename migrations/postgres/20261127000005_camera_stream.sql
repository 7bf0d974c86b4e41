-- What the last successful probe of a camera's stream learnt (see migrations/sqlite).
ALTER TABLE cameras ADD COLUMN codec TEXT;
ALTER TABLE cameras ADD COLUMN width BIGINT;
ALTER TABLE cameras ADD COLUMN height BIGINT;
ALTER TABLE cameras ADD COLUMN fps DOUBLE PRECISION;
ALTER TABLE cameras ADD COLUMN bitrate BIGINT;
ALTER TABLE cameras ADD COLUMN probed_at BIGINT;
