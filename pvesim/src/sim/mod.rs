//! The simulator's behaviour, with PVE's own errors at the moment PVE raises them
//! (synchronously as HTTP errors, or inside the task). The rooms mirror `pve/src/api/*`:
//!
//! - `seed`: the demo cluster a new simulator starts with (nodes, storages, templates, VMs);
//! - `tasks`: the task engine (UPIDs, queueing on locks, finishing) and the task reads;
//! - `qemu`: VM operations (clone, power, config, resize, destroy, template, agent) and VM reads;
//! - `cluster`: cluster and node reads (`/cluster/resources`, next id, nodes, RRD data);
//! - `params`: reading request parameters the way PVE's schema checker words its errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::state::Cluster;
use crate::timing::{Profile, Work};

mod cluster;
mod params;
mod qemu;
mod seed;
mod tasks;

pub use params::{int, req};
pub use seed::TEMPLATES;

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn now_s() -> u64 {
    now_ms() / 1000
}

/// What a task does when its time is up: `Ok(log lines)` or `Err(failure)`. `aborted` is
/// true when the task was stopped (DELETE) before; the effect then undoes what it started.
pub(crate) type Effect = Box<dyn FnOnce(&mut Cluster, bool) -> Result<Vec<String>, Failure> + Send>;

/// Something a running task does part-way (a vzdump progress line, a VM paused for a backup):
/// changes the cluster and returns the log lines to append.
pub(crate) type Stage = Box<dyn FnOnce(&mut Cluster) -> Vec<String> + Send>;

/// How a task failed: the log lines before its end, and the exit status (`TASK ERROR: …`).
#[derive(Debug)]
pub(crate) struct Failure {
    pub lines: Vec<String>,
    pub status: String,
}

impl From<String> for Failure {
    fn from(status: String) -> Self {
        Failure { lines: Vec::new(), status }
    }
}

impl From<&str> for Failure {
    fn from(status: &str) -> Self {
        Failure { lines: Vec::new(), status: status.to_owned() }
    }
}

/// A cluster plus its clock-driven behaviour. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    cluster: Arc<Mutex<Cluster>>,
    pub profile: Profile,
    /// `busy_until` per lock key (ms): full clones hold the source's file lock and serialise
    /// per storage, as on a real cluster.
    busy: Arc<Mutex<HashMap<String, u64>>>,
    aborted: Arc<Mutex<std::collections::HashSet<String>>>,
    pub faults: crate::faults::FaultState,
}

/// The cluster layout to start with.
#[derive(Debug, Clone)]
pub struct Layout {
    pub nodes: usize,
    pub seed: u64,
    /// Ordinary VMs besides the templates, spread over the nodes.
    pub vms: usize,
    pub shared_storage: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { nodes: 3, seed: 42, vms: 24, shared_storage: true }
    }
}

/// What a task is: where it runs, its type and id (the UPID's), who started it, what work it
/// stands for and how long it queues first; `log` replaces the generic first line, and
/// `stages` run at fractions (0..1) of its duration.
pub(crate) struct TaskSpec<'a> {
    pub node: &'a str,
    pub kind: &'a str,
    pub id: String,
    pub user: &'a str,
    pub work: Work,
    pub wait: Duration,
    pub log: Option<Vec<String>>,
    pub stages: Vec<(f64, Stage)>,
}

impl<'a> TaskSpec<'a> {
    pub(crate) fn vm(node: &'a str, kind: &'a str, vmid: u32, user: &'a str, work: Work) -> Self {
        TaskSpec { node, kind, id: vmid.to_string(), user, work, wait: Duration::ZERO, log: None, stages: Vec::new() }
    }
}

impl Sim {
    /// The cluster, for any access that may change it (bumps `version`).
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        let mut c = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        c.version += 1;
        c
    }

    /// The cluster for a read that changes nothing (keeps the resources cache valid).
    pub(crate) fn read(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn version(&self) -> u64 {
        self.read().version
    }
}
