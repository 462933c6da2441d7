//! proxfleet's client for the Proxmox VE API (`/api2/json`).
//!
//! - `client`: the transport: token or ticket auth (one ticket shared and renewed), TLS with
//!   system roots / a CA file / a pinned fingerprint, retries for reads only.
//! - `api::*`: typed calls, each a pure request builder plus a `PveClient` method.
//! - `contract`: the PVE 9.1 schema subset and the checks run against it (by the contract test
//!   and by the `pvesim` simulator).
//! - `error`: errors classified by status and message (PVE says 500 for "not found").

pub mod api;
pub mod client;
pub mod contract;
pub mod de;
pub mod error;
pub mod params;
pub mod tls;
pub mod upid;

pub use api::cluster::{NodeInfo, Resource, ResourceKind, Version};
pub use api::qemu::{CloneOptions, ConfigUpdate, Power, VmConfig, VmStatus};
pub use api::tasks::{Polling, TaskEntry, TaskSource, TaskStatus};
pub use client::{Auth, PveClient, PveConfig};
pub use error::{ErrorKind, PveError};
pub use params::{Method, Params, Request};
pub use tls::TlsMode;
pub use upid::Upid;
