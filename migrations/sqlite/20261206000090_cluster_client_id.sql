-- The MQTT client id the leading replica connects with (src/cluster.rs). Present in SQLite
-- too so that both schemas stay the same; a single process never uses it.
ALTER TABLE cluster_leader ADD COLUMN mqtt_client_id TEXT NOT NULL DEFAULT '';
