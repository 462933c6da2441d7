//! What the client (`pve`) and the simulator (`pvesim`) share about the Proxmox VE API:
//!
//! - `contract`: the PVE 9.1 schema subset (`schema/pve-9.1-subset.json`) and the checks both
//!   sides run against it — the client's requests, the simulator's parameter validation (400
//!   with PVE's own messages) and its responses;
//! - `params`: requests and their parameters as PVE expects them (`1`/`0` booleans, …);
//! - `upid`: task ids;
//! - `auth`: API token or password credentials.

pub mod auth;
pub mod contract;
pub mod params;
pub mod upid;

pub use auth::Auth;
pub use params::{Method, Params, Request};
pub use upid::Upid;
