//! griddispatch — incident dispatch for a county's grid-management network (网格化管理).
//!
//! Alerts arrive over MQTT or HTTP (sensors, camera analytics such as Frigate, call takers).
//! The dispatcher turns them into incidents, picks the responsible and nearest available
//! grid worker (网格员) or patrol, pushes the task to that person's phone over MQTT and
//! follows it until it is closed.
//!
//! # Layout
//! Layers from the bottom up; each names only those below it (checked by `src/layers.rs`,
//! `cargo test --lib layers`, which also refuses files of one module naming each other
//! in a circle):
//!
//! 1. [`clock`], [`metrics`], [`conn_limit`], [`tls`]: time, Prometheus counters, the bound
//!    on connections each listener holds, and the TLS acceptor of each secure listener.
//! 2. [`domain`]: pure rules: identifiers, geometry and GeoJSON outlines, zones, ranking, the
//!    incident and task state machines, the alert schema, camera health. No I/O.
//! 3. [`config`]: settings, typed as they are read (addresses, URLs, secrets).
//! 4. [`store`]: all SQL, one file per entity; rows come out typed or as an error naming
//!    the row.
//! 5. [`views`]: the JSON shapes that the API and the live feed share.
//! 6. [`dispatch`]: the engine, one task owning every decision (`dispatch/engine/`, one
//!    room per responsibility); what it hands out is `dispatch::outgoing`.
//! 7. The edges: [`mqtt`] (the embedded broker, the dispatcher's client, Mosquitto
//!    export), then [`ingest`] (one adapter per incoming format), then [`video`]
//!    (GStreamer probes, snapshots, ONVIF metadata) and [`live`] (the numbered change feed).
//! 8. [`http`]: the JSON API, one router per area, the console and the field app.
//! 9. [`cluster`] (replicas on one PostgreSQL), [`app`] (start-up, supervision, shutdown)
//!    beside [`telemetry`] (the log subscriber and the optional OTLP export of its spans),
//!    then [`sim`], [`demo`] and [`admin`], and [`cli`] on top.
//!
//! Where things go: a new incident state in `domain/state.rs` (the engine's rooms then say
//! when it is entered); a new ingest format as a file in `ingest/`; a new report as its
//! figures in `domain/`, its queries in `store/` and its route in `http/`.

pub mod admin;
pub mod app;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod conn_limit;
pub mod demo;
pub mod dispatch;
pub mod domain;
#[cfg(fuzzing)]
pub mod fuzz;
pub mod http;
pub mod ingest;
pub mod live;
pub mod metrics;
pub mod mqtt;
pub mod roads;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod video;
pub mod views;

#[cfg(test)]
mod layers;
