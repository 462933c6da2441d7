//! The Proxmox cluster at a glance, for the dashboard.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClusterView {
    pub nodes_online: usize,
    pub nodes_total: usize,
    pub vms_running: usize,
    pub vms_total: usize,
    pub templates: usize,
    pub cpu_cores: u64,
    pub memory_bytes: u64,
    pub memory_used_bytes: u64,
}

/// One `/cluster/resources` call through the `pve` client (never a call per VM).
#[server(prefix = "/sfn", endpoint = "cluster_overview")]
pub async fn cluster_overview() -> Result<ClusterView, ServerFnError> {
    use crate::functions::door;
    let o = door::services()?.cluster.overview(&door::actor()?).await.map_err(door::fail)?;
    Ok(ClusterView {
        nodes_online: o.nodes_online,
        nodes_total: o.nodes_total,
        vms_running: o.vms_running,
        vms_total: o.vms_total,
        templates: o.templates,
        cpu_cores: o.cpu_cores,
        memory_bytes: o.memory_bytes,
        memory_used_bytes: o.memory_used_bytes,
    })
}

/// The managed fleet's counts and each node's load and allocation, for the dashboard.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetView {
    pub total: usize,
    pub running: usize,
    pub stopped: usize,
    pub nodes: Vec<NodeGauge>,
}

/// Percentages are of the node's capacity; allocation may pass 100 (overcommit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeGauge {
    pub node: String,
    pub online: bool,
    pub cpus: u64,
    pub cpu_usage: f64,
    pub cpu_allocation: f64,
    pub memory_gb: f64,
    pub memory_usage: f64,
    pub memory_allocation: f64,
}

#[server(prefix = "/sfn", endpoint = "fleet_overview")]
pub async fn fleet_overview() -> Result<FleetView, ServerFnError> {
    use crate::functions::door;
    let s = door::services()?.servers.fleet_stats(&door::actor()?).await.map_err(door::fail)?;
    Ok(FleetView {
        total: s.total_servers,
        running: s.running_servers,
        stopped: s.stopped_servers,
        nodes: s
            .nodes
            .into_iter()
            .map(|n| NodeGauge {
                memory_usage: n.memory_usage_percent,
                node: n.node,
                online: n.online,
                cpus: n.cpus,
                cpu_usage: n.cpu_usage_percent,
                cpu_allocation: n.cpu_allocation_percent,
                memory_gb: n.memory_gb,
                memory_allocation: n.memory_allocation_percent,
            })
            .collect(),
    })
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
pub async fn storage_usage() -> Result<Vec<DatastoreUsage>, ServerFnError> {
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
pub async fn set_default_datastores(hdd: String, ssd: String) -> Result<(), ServerFnError> {
    use crate::functions::door;
    door::services()?.datastores.set_defaults(&door::actor()?, &hdd, &ssd).await.map(|_| ()).map_err(door::fail)
}
