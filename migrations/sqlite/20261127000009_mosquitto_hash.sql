-- The MQTT password hashed as Mosquitto's password file stores it ($7$ PBKDF2-SHA512), so
-- `griddispatch mqtt export-auth` can serve an external broker. password_hash (SHA-256)
-- stays what the embedded broker checks. NULL for accounts issued before this column
-- existed: their password is unknown, so a hash can only come from a reset.
ALTER TABLE mqtt_accounts ADD COLUMN mosquitto_hash TEXT;
