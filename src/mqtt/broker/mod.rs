//! Embedded MQTT broker (to be written).
