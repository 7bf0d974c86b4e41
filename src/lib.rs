//! griddispatch — incident dispatch for a county's grid-management network (网格化管理).
//!
//! Alerts arrive over MQTT or HTTP (sensors, camera analytics such as Frigate, call takers).
//! The dispatcher turns them into incidents, picks the responsible and nearest available
//! grid worker (网格员) or patrol, pushes the task to that person's phone over MQTT and
//! follows it until it is closed.
//!
//! # Layout
//! - [`domain`]: pure rules — identifiers, geometry, zone index, candidate ranking, the
//!   incident and task state machines, the alert schema. No I/O.
//! - [`dispatch`]: the engine, one task owning every dispatch decision; it writes each
//!   decision to the store before telling anyone.
//! - [`store`]: all SQL (SQLite or PostgreSQL through sqlx's `Any` driver).
//! - [`mqtt`]: the embedded broker (with per-worker topic ACLs), its login check, the
//!   dispatcher's own MQTT client, and the same logins and ACLs exported for Mosquitto.
//! - [`ingest`]: one adapter per incoming format (our alert JSON, Frigate, GB/T 28181
//!   alarms, OwnTracks).
//! - [`http`]: the JSON API, one router per area; `http::auth` checks bearer tokens and
//!   console session cookies (with the Origin rule), `http::session` logs users in and out,
//!   `http::console` and `http::field` serve the web console and the field app (a PWA on
//!   MQTT over WebSocket), embedded from `web/` by `build.rs`.
//! - [`live`]: the numbered change feed behind the `/api/v1/live` WebSocket.
//! - [`cluster`]: replicas on one PostgreSQL: the leader lock and epoch, the live feed
//!   relayed over NOTIFY (its SQL is in `store::cluster`; followers forward engine requests
//!   in `http::forward`).
//! - [`app`]: start-up, supervision and shutdown; [`cli`] the command line; [`admin`]:
//!   command-line administration of a running instance over its HTTP API (camera import).
//! - [`sim`]: the simulator (virtual workers and alert sources driving a running instance
//!   over its public HTTP and MQTT contract, `griddispatch simulate`); [`demo`]: the Wuda
//!   demo county built on it (`serve --demo`). Both sit above [`app`], which imports
//!   neither.
//! - [`video`]: camera streams through GStreamer — health probes, snapshots on alerts,
//!   ONVIF metadata; blocking work on blocking threads.
//! - [`config`]: layered settings; [`metrics`]: Prometheus counters; [`clock`]: time.
//!
//! No file holds more than the ~800 lines a file should: the engine (`dispatch/engine/`)
//! and the ONVIF ingest (`ingest/onvif/`) are split by responsibility (issue 13), and the
//! engine's state that must move together is kept by types of its own.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod dispatch;
pub mod domain;
pub mod http;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod mqtt;
pub mod sim;
pub mod store;
pub mod video;
pub mod views;

#[cfg(test)]
mod layers;
