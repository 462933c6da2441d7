//! proxfleet's client for the Proxmox VE API (`/api2/json`).
//!
//! - `client`: the transport: token or ticket auth (one ticket shared and renewed), TLS with
//!   system roots / a CA file / a pinned fingerprint, retries for reads only.
//! - `api::*`: typed calls, each a pure request builder plus a `PveClient` method.
//! - `contract`, `params`, `upid` (from `pve-schema`, shared with the `pvesim` simulator): the
//!   PVE 9.1 schema subset and its checks, request parameters, task ids.
//! - `error`: errors classified by status and message (PVE says 500 for "not found").
//! - `backoff`: pauses between tries, with jitter.

pub mod api;
pub mod backoff;
pub mod client;
pub mod de;
pub mod error;
pub mod tls;

pub use api::cluster::{NodeInfo, Resource, ResourceKind, Version};
pub use api::firewall::{FirewallRule, RuleSpec, SecurityGroup, VmFirewallOptions, VmOptionsUpdate};
pub use api::qemu::{CloneOptions, ConfigUpdate, Power, VmConfig, VmStatus};
pub use api::tasks::{Polling, TaskEntry, TaskSource, TaskStatus};
pub use client::{Auth, PveClient, PveConfig};
pub use error::{ErrorKind, PveError};
// The schema, parameters and task ids are shared with the simulator (`pve-schema`).
pub use params::{Method, Params, Request};
pub use pve_schema::{contract, params, upid};
pub use tls::TlsMode;
pub use upid::Upid;
