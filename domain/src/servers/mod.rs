//! Servers: the managed VMs, how they are created (one or many) and driven through their
//! lifecycle, and how the records stay in step with Proxmox.
//!
//! - `spec`: create requests (our field names and the old tool's) checked one by one;
//! - `plan`: a create request checked against what exists, and where each server is made;
//! - `ssh_keys`: the one-key-per-entry check of OpenSSH public keys;
//! - `store`: the `servers` table;
//! - `inventory`: sync with `/cluster/resources`, import of unmanaged VMs;
//! - `create`: the create job, per server: record → addresses → clone → configure → disks →
//!   start → wait for the address → record the result;
//! - `stats`: the dashboard's fleet and node figures;
//! - `fleet`: the whole fleet as of the shared cluster snapshot, computed once and shared;
//! - `actions`: the start/stop/reboot/delete job;
//! - `settings`: CPU/memory/description/tags and disks of one server;
//! - `logs`: a server's Proxmox task history and job log lines;
//! - `cleanup`: records of half-made or vanished VMs, and removing them;
//! - `service`: `ServerService`, what the REST handlers and server functions call.

pub mod actions;
pub mod cleanup;
pub mod create;
pub mod fleet;
pub mod inventory;
pub mod logs;
pub mod marker;
pub mod plan;
pub mod service;
pub mod settings;
pub mod spec;
pub mod ssh_keys;
pub mod stats;
pub mod store;

pub use actions::Action;
pub use create::CreateLimits;
pub use fleet::Fleet;
pub use inventory::SyncReport;
pub use logs::{LogKind, ServerLogs};
pub use model::servers::{
    CreateOptions, DatastoreChoice, FleetStats, NodeStats, PoolChoice, ServerBrief, ServerListParams, ServerQuery,
    ServerStatus, TemplateChoice,
};
pub use service::ServerService;
pub use spec::{BulkRequest, ServerRequest};
pub use store::{Disk, Nic, Server};
