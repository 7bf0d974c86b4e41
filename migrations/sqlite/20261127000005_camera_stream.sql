-- What the last successful probe of a camera's stream learnt (GStreamer): codec as
-- GStreamer describes it, frame size in pixels, frames per second, encoded bits per second,
-- and when (Unix ms). Kept while the camera is offline, so operators still see what it
-- was; NULL where the stream never told.
ALTER TABLE cameras ADD COLUMN codec TEXT;
ALTER TABLE cameras ADD COLUMN width INTEGER;
ALTER TABLE cameras ADD COLUMN height INTEGER;
ALTER TABLE cameras ADD COLUMN fps REAL;
ALTER TABLE cameras ADD COLUMN bitrate INTEGER;
ALTER TABLE cameras ADD COLUMN probed_at INTEGER;
