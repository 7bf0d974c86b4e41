//! The integration tests, as one binary: each module was a test binary of its own, and
//! every one of them linked GStreamer, sqlx and the app. They run against the real app,
//! broker and database (see `common`); `hostile` is the hostile-client suite.
//!
//! Tests here run as threads of one process. A test that measures the whole process
//! (threads, memory) runs itself again alone in a child process: [`common::run_alone`].

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns fail loudly by design

mod common;

mod api;
mod audit;
mod audit_changes;
mod basemap;
mod broker;
mod camera_health;
mod camera_probes;
mod cameras;
mod chaos;
mod cli;
mod cluster;
mod console;
mod console_auth;
mod coverage;
mod dashboard;
mod deadlines;
mod dispatch;
mod duty;
mod field_reports;
mod gb28181;
mod hostile;
mod ingest;
mod inspector;
mod limits;
mod live;
mod merchants;
mod mosquitto;
mod mosquitto_acl;
mod mqtt_ws;
mod onvif;
mod openapi;
mod pagination;
mod personal;
mod points;
mod points_honour;
mod points_ledger;
mod probe_rounds;
mod redemptions;
mod report_history;
mod report_months;
mod reports;
mod restart;
mod roads;
mod roads_helsinki;
mod schema;
mod sim;
mod snapshots;
mod task_routes;
mod telemetry;
mod tls;
mod verification;
mod video;
