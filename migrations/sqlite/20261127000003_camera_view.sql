-- Where a camera looks, so that a view can be drawn on the map and analytics can tell which
-- way an event lies: heading in degrees clockwise from north (0–360), field of view in
-- degrees (1–360). Both stay NULL when unknown. onvif_metadata marks cameras that publish
-- ONVIF analytics metadata themselves.
ALTER TABLE cameras ADD COLUMN heading REAL;
ALTER TABLE cameras ADD COLUMN fov REAL;
ALTER TABLE cameras ADD COLUMN onvif_metadata INTEGER NOT NULL DEFAULT 0;
