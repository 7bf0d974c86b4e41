-- Where a camera looks (see migrations/sqlite): heading and field of view in degrees, NULL
-- when unknown; onvif_metadata marks cameras that publish ONVIF analytics metadata.
ALTER TABLE cameras ADD COLUMN heading DOUBLE PRECISION;
ALTER TABLE cameras ADD COLUMN fov DOUBLE PRECISION;
ALTER TABLE cameras ADD COLUMN onvif_metadata BOOLEAN NOT NULL DEFAULT FALSE;
