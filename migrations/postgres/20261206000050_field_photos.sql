-- Residents' and volunteers' reports from the phone (随手拍, issue 15): the photo taken
-- with the report is kept with the incident like a snapshot, with source 'field' and the
-- reporter as `field:<responder id>` in camera_id.
ALTER TABLE snapshots DROP CONSTRAINT snapshots_source_check;
ALTER TABLE snapshots ADD CONSTRAINT snapshots_source_check
    CHECK (source IN ('stream', 'frigate', 'field'));
