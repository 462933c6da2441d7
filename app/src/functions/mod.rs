//! Server functions, one module per area. They live under `/sfn/…` (not `/api`, which is the
//! REST namespace of the seed API) and are thin: read the `domain::Services` from context, call
//! one service method, map the result.

pub mod auth;
pub mod backups;
pub mod cluster;
#[cfg(feature = "ssr")]
pub mod door;
pub mod firewall;
pub mod jobs;
pub mod servers;
pub mod system;
