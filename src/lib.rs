//! griddispatch — incident dispatch for grid-management networks.
pub mod mqtt;
