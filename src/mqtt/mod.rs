//! MQTT adapters: the embedded broker and the dispatcher's client.
pub mod broker;
