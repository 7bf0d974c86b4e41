//! Attacks on the embedded MQTT broker.
