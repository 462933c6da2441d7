//! Every backup on the cluster, read the way an operator would count them: each online node's
//! backup-capable storages (`GET /nodes/{n}/storage?content=backup`; a shared storage once),
//! then one content call per node × storage, all side by side. The answer is kept 10 s and
//! shared by every reader (one read in flight however many ask); a backup, restore or delete
//! job marks it stale so the next reader sees its work.
//!
//! A node or storage that does not answer is left out and named in `unreadable`, so one dead
//! node does not hide the others' backups.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pve::api::storage::{StorageInfo, Volume};
use pve::PveClient;

use crate::cluster::from_pve;
use crate::Result;

/// How long a listing is served before it is read again.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// One backup volume and where it was read.
#[derive(Debug, Clone)]
pub struct Found {
    pub node: String,
    pub storage: String,
    pub shared: bool,
    pub volume: Volume,
}

/// A whole listing.
#[derive(Debug, Default)]
pub struct Listing {
    pub volumes: Vec<Found>,
    /// Backup-capable storages per node (`(node, storage, shared)`), also those without backups.
    pub storages: Vec<(String, StorageInfo)>,
    /// `node` or `node/storage` that could not be read, with why.
    pub unreadable: Vec<String>,
}

/// A listing with when it was read and the epoch it was read in.
type Kept = Option<(Instant, u64, Arc<Listing>)>;

#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    latest: Arc<tokio::sync::Mutex<Kept>>,
    /// Bumped by `invalidate`: a listing read before the bump is not served after it.
    epoch: Arc<AtomicU64>,
}

impl Catalogue {
    /// The listing, read again when older than `MAX_AGE` or stale.
    pub async fn get(&self, client: &PveClient) -> Result<Arc<Listing>> {
        let mut latest = self.latest.lock().await;
        let epoch = self.epoch.load(Ordering::SeqCst);
        if let Some((at, seen, listing)) = latest.as_ref() {
            if *seen == epoch && at.elapsed() < MAX_AGE {
                return Ok(listing.clone());
            }
        }
        let listing = Arc::new(read(client).await?);
        *latest = Some((Instant::now(), epoch, listing.clone()));
        Ok(listing)
    }

    /// The next reader reads the cluster again (after a backup, restore or delete).
    pub fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

async fn read(client: &PveClient) -> Result<Listing> {
    let nodes: Vec<String> =
        client.nodes().await.map_err(from_pve)?.into_iter().filter(|n| n.status == "online").map(|n| n.node).collect();
    let mut listing = Listing::default();
    let mut asks = tokio::task::JoinSet::new();
    for node in nodes {
        let c = client.clone();
        asks.spawn(async move {
            let got = c.storages(&node, Some("backup")).await;
            (node, got)
        });
    }
    let mut per_node = Vec::new();
    while let Some(done) = asks.join_next().await {
        match done {
            Ok((node, Ok(storages))) => per_node.push((node, storages)),
            Ok((node, Err(e))) => listing.unreadable.push(format!("{node}: {}", e.message)),
            Err(e) => listing.unreadable.push(format!("a storage read stopped: {e}")),
        }
    }
    // Nodes in name order, so a shared storage is always read through the same node.
    per_node.sort_by(|a, b| a.0.cmp(&b.0));
    let mut shared_seen = HashSet::new();
    let mut reads = tokio::task::JoinSet::new();
    for (node, storages) in per_node {
        for s in storages {
            listing.storages.push((node.clone(), s.clone()));
            if !s.active || (s.shared && !shared_seen.insert(s.storage.clone())) {
                continue;
            }
            let (c, node) = (client.clone(), node.clone());
            reads.spawn(async move {
                let got = c.storage_content(&node, &s.storage, Some("backup"), None).await;
                (node, s, got)
            });
        }
    }
    while let Some(done) = reads.join_next().await {
        match done {
            Ok((node, s, Ok(volumes))) => listing.volumes.extend(volumes.into_iter().map(|volume| Found {
                node: node.clone(),
                storage: s.storage.clone(),
                shared: s.shared,
                volume,
            })),
            Ok((node, s, Err(e))) => listing.unreadable.push(format!("{node}/{}: {}", s.storage, e.message)),
            Err(e) => listing.unreadable.push(format!("a content read stopped: {e}")),
        }
    }
    listing
        .volumes
        .sort_by(|a, b| b.volume.ctime.cmp(&a.volume.ctime).then_with(|| a.volume.volid.cmp(&b.volume.volid)));
    Ok(listing)
}
