//! The audit log's HTTP side (docs/security.md, "Audit log"):
//!
//! - [`record`] (`layer.rs`), a layer that writes one entry for each request that changes something
//!   (and each read of the log itself): who, from where, what, to which thing, with the
//!   answer's status;
//! - [`handle::Audit`], the handle a handler takes to say what the thing was before and after, or
//!   who a failed login claimed to be;
//! - `GET /api/v1/audit` and `GET /api/v1/audit.csv`, for admins (`routes.rs`).
//!
//! `describe.rs` names a request's action and target from its route. Handlers and the
//! login checks reach the handle as `audit::handle`, which needs nothing else of this
//! area, so that `auth` and the routes here (which take `auth::Admin`) do not name each
//! other.
//!
//! Requests without valid credentials are written only when a handler names the claimed
//! user (failed logins), and then within [`ANONYMOUS_PER_MINUTE`], so that a flood of
//! invented usernames cannot fill the database; what is over that is counted in one entry.

mod describe;
pub mod handle;
mod layer;
mod routes;

pub use layer::{record, write};
pub use routes::router;
