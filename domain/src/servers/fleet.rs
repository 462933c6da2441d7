//! The whole fleet in one answer (`/api/all_server_status`, the dashboard's figures): the
//! records a reader may see with the cluster snapshot laid over them, and the node and fleet
//! figures. Polled by dashboards and the old tool's scripts, so it is computed once per
//! cluster snapshot and per change of the records, then shared.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{FleetStats, Server};

#[derive(Debug)]
pub struct Fleet {
    /// By name.
    pub servers: Vec<Server>,
    pub stats: FleetStats,
    /// What the doors render from this fleet (an answer's bytes, their compressed forms), kept
    /// with it: every reader of the same fleet is sent the same bytes without rendering them
    /// again, and they go when the fleet is replaced.
    rendered: Mutex<HashMap<&'static str, Arc<[u8]>>>,
}

impl Fleet {
    pub fn new(servers: Vec<Server>, stats: FleetStats) -> Fleet {
        Fleet { servers, stats, rendered: Mutex::default() }
    }

    /// The bytes `render` makes from this fleet, made once per `key`. (Readers that arrive
    /// together at a new fleet may each render it; one result is kept.)
    pub fn rendered<E>(&self, key: &'static str, render: impl FnOnce() -> Result<Vec<u8>, E>) -> Result<Arc<[u8]>, E> {
        if let Some(hit) = self.rendered.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Ok(hit.clone());
        }
        let bytes: Arc<[u8]> = render()?.into();
        Ok(self.rendered.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_insert(bytes).clone())
    }
}

/// What a `Fleet` was computed from: the snapshot's generation and the records' version.
type Key = (u64, u64);

/// Whose servers a fleet holds: `None` everyone's, `Some(owner)` one owner's.
type Visibility = Option<i64>;

/// The latest fleet per visibility.
#[derive(Debug, Clone, Default)]
pub struct FleetCache {
    entries: Arc<Mutex<HashMap<Visibility, Entry>>>,
}

/// A fleet and what it was computed from.
type Entry = (Key, Arc<Fleet>);

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
