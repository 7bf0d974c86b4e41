-- The MQTT password hashed as Mosquitto's password file stores it (see migrations/sqlite).
ALTER TABLE mqtt_accounts ADD COLUMN mosquitto_hash TEXT;
