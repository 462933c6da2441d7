//! The Proxmox cluster at a glance, for the dashboard.

use leptos::prelude::*;
use model::servers::FleetStats;
use model::AppError;
use serde::{Deserialize, Serialize};

/// One `/cluster/resources` call through the `pve` client (never a call per VM).
#[server(prefix = "/sfn", endpoint = "cluster_overview")]
pub async fn cluster_overview() -> Result<model::servers::ClusterOverview, AppError> {
    use crate::functions::door;
    door::services()?.cluster.overview(&door::actor()?).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "fleet_overview")]
pub async fn fleet_overview() -> Result<FleetStats, AppError> {
    use crate::functions::door;
    door::services()?.servers.fleet_stats(&door::actor()?).await.map_err(door::fail)
}

/// One datastore's use: a shared one once (with the nodes that see it), a local one per node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DatastoreUsage {
    pub id: String,
    pub nodes: Vec<String>,
    pub shared: bool,
    pub content: Vec<String>,
    pub used: u64,
    pub size: u64,
    pub is_default_hdd: bool,
    pub is_default_ssd: bool,
}

#[server(prefix = "/sfn", endpoint = "storage_usage")]
pub async fn storage_usage() -> Result<Vec<DatastoreUsage>, AppError> {
    use crate::functions::door;
    let list = door::services()?.datastores.list(&door::actor()?).await.map_err(door::fail)?;
    let mut out: Vec<DatastoreUsage> = Vec::new();
    for d in list.datastores {
        if let Some(seen) = out.iter_mut().find(|u| u.shared && d.shared && u.id == d.id) {
            seen.nodes.push(d.node);
            continue;
        }
        out.push(DatastoreUsage {
            id: d.id,
            nodes: vec![d.node],
            shared: d.shared,
            content: d.content,
            used: d.used,
            size: d.size,
            is_default_hdd: d.is_default_hdd,
            is_default_ssd: d.is_default_ssd,
        });
    }
    Ok(out)
}

/// Sets the datastores new disks go to by default (HDD and SSD); `manage_storage` or admin.
#[server(prefix = "/sfn", endpoint = "set_default_datastores")]
pub async fn set_default_datastores(hdd: String, ssd: String) -> Result<(), AppError> {
    use crate::functions::door;
    door::services()?.datastores.set_defaults(&door::actor()?, &hdd, &ssd).await.map(|_| ()).map_err(door::fail)
}
