//! griddispatch — incident dispatch for grid-management networks.
pub mod config;
pub mod domain;
pub mod mqtt;
pub mod store;
