//! proxfleet's business logic and storage. No web framework lives here: the REST handlers in
//! `server` and the server functions in `app` are thin doors that call these services with
//! the acting user, so both behave the same and tests can drive the domain directly.

pub mod audit;
pub mod auth;
pub mod backups;
pub mod clock;
pub mod cluster;
pub mod datastores;
pub mod db;
pub mod error;
pub mod events;
pub mod firewall;
pub mod iam;
pub mod ipam;
pub mod jobs;
pub mod limits;
pub mod notifications;
pub mod retention;
pub mod servers;
pub mod services;
pub mod settings;
pub mod users;

/// Fresh databases for tests of this crate and of `server` (small, so always compiled).
#[doc(hidden)]
pub mod testing;

pub use db::{Backend, Database};
pub use error::{Error, Result};
pub use services::{Services, SystemInfo};
