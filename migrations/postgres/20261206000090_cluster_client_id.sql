-- The MQTT client id the leading replica connects with (src/cluster.rs): a replica whose
-- mqtt.client_id differs refuses to run, since a leader change would then leave what the
-- broker queued in the old session unread. '' = recorded before this column existed.
ALTER TABLE cluster_leader ADD COLUMN mqtt_client_id TEXT NOT NULL DEFAULT '';
