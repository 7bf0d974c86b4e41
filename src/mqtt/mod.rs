//! MQTT adapters: the embedded broker, the dispatcher's client, and the login and ACL
//! files for an external Mosquitto.
pub mod acks;
pub mod auth;
pub mod broker;
pub mod client;
pub mod kinds;
pub mod mosquitto;
pub mod outbox;
