//! The whole fleet in one answer (`/api/all_server_status`, the dashboard's figures): the
//! records a reader may see with the cluster snapshot laid over them, and the node and fleet
//! figures. Polled by dashboards and the old tool's scripts, so it is computed once per
//! cluster snapshot and per change of the records, then shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{FleetStats, Server};

#[derive(Debug, Clone, PartialEq)]
pub struct Fleet {
    /// By name.
    pub servers: Vec<Server>,
    pub stats: FleetStats,
}

/// What a `Fleet` was computed from: the snapshot's generation and the records' version.
type Key = (u64, u64);

/// The latest fleet per visibility (`None`: everyone's; `Some(owner)`: one owner's servers).
#[derive(Debug, Clone, Default)]
pub struct FleetCache {
    entries: Arc<Mutex<HashMap<Option<i64>, (Key, Arc<Fleet>)>>>,
}

impl FleetCache {
    pub fn get(&self, owner: Option<i64>, snapshot: u64, records: u64) -> Option<Arc<Fleet>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(&owner).filter(|(key, _)| *key == (snapshot, records)).map(|(_, f)| f.clone())
    }

    /// Keeps `fleet` for `owner`, dropping every entry of an older snapshot (so the cache
    /// holds at most one fleet per visibility that asked during the current snapshot).
    pub fn put(&self, owner: Option<i64>, snapshot: u64, records: u64, fleet: Arc<Fleet>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, ((gen, _), _)| *gen >= snapshot);
        entries.insert(owner, ((snapshot, records), fleet));
    }
}
