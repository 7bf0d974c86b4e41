//! griddispatch — incident dispatch for grid-management networks.
pub mod demo;
pub mod mqtt;
pub mod sim;
