//! One `/cluster/resources` answer shared by every reader: the whole-fleet reads, the
//! dashboard's figures, the overview and the background sync all take the latest snapshot
//! while it is younger than the freshness bound, and at most one call is in flight however
//! many readers ask at once (single flight: the first reader past the bound refreshes it while
//! the others wait for that answer instead of asking Proxmox themselves).
//!
//! On a 1,000-VM cluster the answer is ~0.5 MiB of JSON; without this every concurrent poll of
//! `/api/all_server_status` made its own call, and the calls, not proxfleet, set the pace.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pve::{PveClient, PveError, Resource};

/// How old a snapshot may be when served, unless configured otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(2);

/// The cluster as one `/cluster/resources` answer showed it.
#[derive(Debug)]
pub struct Snapshot {
    /// Counts up with every refresh, so what is computed from a snapshot can be kept until the
    /// next one.
    pub generation: u64,
    /// When the request was sent: the cluster was in this state no earlier than this.
    pub taken_at: Instant,
    /// When the answer was in.
    pub done_at: Instant,
    /// `taken_at` on the wall clock (ms), to compare with the records' `updated_at`: a record
    /// written after the snapshot was taken knows more than the snapshot does.
    pub taken_at_ms: i64,
    pub resources: Vec<Resource>,
    /// Index into `resources` of each VM (`qemu`) by vmid.
    vms: HashMap<u64, usize>,
}

impl Snapshot {
    pub fn new(generation: u64, taken_at: Instant, resources: Vec<Resource>) -> Snapshot {
        let done_at = Instant::now();
        let taken_at_ms = crate::clock::now_ms() - i64::try_from(taken_at.elapsed().as_millis()).unwrap_or(0);
        let vms = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.kind == "qemu")
            .filter_map(|(i, r)| Some((r.vmid?, i)))
            .collect();
        Snapshot { generation, taken_at, done_at, taken_at_ms, resources, vms }
    }

    /// The VM with this vmid, if the cluster has it.
    pub fn vm(&self, vmid: u64) -> Option<&Resource> {
        self.vms.get(&vmid).and_then(|i| self.resources.get(*i))
    }

    /// Whether the cluster has a VM with this vmid.
    pub fn has_vm(&self, vmid: u64) -> bool {
        self.vms.contains_key(&vmid)
    }
}

/// How fresh a reader needs the snapshot.
#[derive(Debug, Clone, Copy)]
pub enum Freshness {
    /// No older than the configured bound (reads, the background sync).
    Recent,
    /// Taken after this moment (the sync at the end of a job must see what the job did).
    Since(Instant),
}

enum Latest {
    Ready(Arc<Snapshot>),
    /// A failed refresh is remembered like an answer, so that a cluster that is down is asked
    /// once per window rather than once per reader.
    Failed {
        taken_at: Instant,
        done_at: Instant,
        error: PveError,
    },
}

/// The latest snapshot and the lock that makes refreshes single-flight.
pub(super) struct Snapshots {
    max_age_ms: AtomicU64,
    generation: AtomicU64,
    latest: tokio::sync::Mutex<Option<Latest>>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots").field("max_age_ms", &self.max_age_ms).finish_non_exhaustive()
    }
}

impl Default for Snapshots {
    fn default() -> Self {
        Snapshots {
            max_age_ms: AtomicU64::new(DEFAULT_MAX_AGE.as_millis() as u64),
            generation: AtomicU64::new(0),
            latest: tokio::sync::Mutex::new(None),
        }
    }
}

impl Snapshots {
    pub(super) fn set_max_age(&self, max_age: Duration) {
        self.max_age_ms.store(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(super) fn max_age(&self) -> Duration {
        Duration::from_millis(self.max_age_ms.load(Ordering::Relaxed))
    }

    /// Whether an answer to a call sent at `taken_at` and back at `done_at` serves a reader
    /// that arrived at `arrived`. A recent reader takes one sent within the bound before it
    /// arrived, or one that came back after it arrived (it could not have had a fresher one by
    /// asking itself: this is what keeps a call slower than the bound single-flight).
    fn serves(&self, taken_at: Instant, done_at: Instant, arrived: Instant, need: Freshness) -> bool {
        match need {
            Freshness::Recent => done_at >= arrived || arrived.saturating_duration_since(taken_at) <= self.max_age(),
            Freshness::Since(t) => taken_at >= t,
        }
    }

    /// The latest snapshot if it is fresh enough, else a new one (one call, whoever asks).
    pub(super) async fn get(&self, client: &PveClient, need: Freshness) -> Result<Arc<Snapshot>, PveError> {
        let arrived = Instant::now();
        // Waiting readers queue on this lock (tokio's is fair) and, when they get it, find the
        // answer the reader before them fetched.
        let mut latest = self.latest.lock().await;
        match &*latest {
            Some(Latest::Ready(s)) if self.serves(s.taken_at, s.done_at, arrived, need) => return Ok(s.clone()),
            Some(Latest::Failed { taken_at, done_at, error }) if self.serves(*taken_at, *done_at, arrived, need) => {
                return Err(error.clone())
            }
            _ => {}
        }
        let taken_at = Instant::now();
        match client.resources(None).await {
            Ok(resources) => {
                let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
                let snapshot = Arc::new(Snapshot::new(generation, taken_at, resources));
                *latest = Some(Latest::Ready(snapshot.clone()));
                Ok(snapshot)
            }
            Err(error) => {
                *latest = Some(Latest::Failed { taken_at, done_at: Instant::now(), error: error.clone() });
                Err(error)
            }
        }
    }
}
