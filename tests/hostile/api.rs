//! Attacks on the HTTP API and the login path.
