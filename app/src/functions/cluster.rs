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
