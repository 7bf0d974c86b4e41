//! The hostile-client suite: one login of each kind (a field worker, an alert source, a
//! stranger with no login) tries to crash, starve, impersonate or fill the broker and the
//! API, each through the real listeners (raw sockets or a stock MQTT client, plain HTTP).
//! Every finding of a security review gets a test here that failed before its fix.
//! docs/security.md lists the attacks and their results.

mod api;
mod broker;
mod floods;
