//! The Proxmox cluster behind this instance, as the rest of the domain sees it: one `pve`
//! client (a real cluster, or the built-in simulator over the same HTTP) and the fleet
//! overview, both read from one shared `/cluster/resources` snapshot (`snapshot.rs`); and how
//! a job's step rides out a busy cluster (`retry.rs`).

pub mod retry;
mod snapshot;

use std::sync::Arc;
use std::time::Duration;

use pve::{PveClient, PveError};

pub use retry::{Look, Retry};
pub use snapshot::{Freshness, Snapshot, DEFAULT_MAX_AGE};

use crate::auth::{Actor, Permission};
use crate::{Error, Result};

pub use model::servers::ClusterOverview;

#[derive(Debug, Clone)]
pub struct ClusterService {
    client: Option<PveClient>,
    /// Shared by every clone, so all services read the same snapshot.
    snapshots: Arc<snapshot::Snapshots>,
}

/// Proxmox errors as domain errors: "not found" stays not found, locks are conflicts, the rest
/// is an upstream failure (502) carrying PVE's message.
pub fn from_pve(e: PveError) -> Error {
    match e.kind {
        pve::ErrorKind::NotFound => Error::NotFound(e.message),
        pve::ErrorKind::AlreadyExists | pve::ErrorKind::Locked | pve::ErrorKind::Modified => Error::Conflict(e.message),
        pve::ErrorKind::Unreachable | pve::ErrorKind::Timeout => {
            Error::Unavailable(format!("Proxmox VE: {}", e.message))
        }
        pve::ErrorKind::Auth => Error::Upstream("Proxmox VE refused proxfleet's credentials".into()),
        pve::ErrorKind::Rejected => Error::Upstream(format!("Proxmox VE: {}", e.message)),
    }
}

impl ClusterService {
    pub fn new(client: Option<PveClient>) -> Self {
        ClusterService { client, snapshots: Arc::default() }
    }

    /// How old a snapshot may be when served (`cluster_snapshot_ms` in the configuration).
    pub fn set_snapshot_max_age(&self, max_age: Duration) {
        self.snapshots.set_max_age(max_age);
    }

    pub fn snapshot_max_age(&self) -> Duration {
        self.snapshots.max_age()
    }

    /// The cluster's resources (nodes, VMs, storages) as of a snapshot fresh enough for `need`.
    pub async fn snapshot(&self, need: Freshness) -> Result<Arc<Snapshot>> {
        self.snapshots.get(self.client()?, need).await.map_err(from_pve)
    }

    pub fn client(&self) -> Result<&PveClient> {
        self.client.as_ref().ok_or_else(|| Error::Unavailable("no Proxmox VE cluster is configured".into()))
    }

    pub async fn overview(&self, actor: &Actor) -> Result<ClusterOverview> {
        actor.require(Permission::ViewAll)?;
        let snapshot = self.snapshot(Freshness::Recent).await?;
        let all = &snapshot.resources;
        let nodes: Vec<_> = all.iter().filter(|r| r.kind == "node").collect();
        let online: Vec<_> = nodes.iter().filter(|n| n.status.as_deref() == Some("online")).collect();
        let vms: Vec<_> = all.iter().filter(|r| r.kind == "qemu" && !r.template).collect();
        Ok(ClusterOverview {
            nodes_online: online.len(),
            nodes_total: nodes.len(),
            vms_running: vms.iter().filter(|v| v.status.as_deref() == Some("running")).count(),
            vms_total: vms.len(),
            templates: all.iter().filter(|r| r.kind == "qemu" && r.template).count(),
            cpu_cores: online.iter().filter_map(|n| n.maxcpu).map(|c| c as u64).sum(),
            memory_bytes: online.iter().filter_map(|n| n.maxmem).sum(),
            memory_used_bytes: online.iter().filter_map(|n| n.mem).sum(),
        })
    }
}
