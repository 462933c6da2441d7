//! Servers and IP pools for the pages. Each call takes the acting user from the request and
//! calls `domain::servers::ServerService` / `domain::ipam::Ipam`, which check permissions.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DiskRow {
    pub device: String,
    pub storage: String,
    pub size_gb: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NicRow {
    pub index: u32,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub mac: Option<String>,
    pub ip: Option<String>,
    pub prefix: Option<u8>,
    pub gateway: Option<String>,
    pub pool: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRow {
    pub name: String,
    pub vmid: Option<u32>,
    pub node: String,
    pub status: String,
    pub cores: u32,
    pub sockets: u32,
    pub memory_mb: u64,
    pub role: String,
    pub security_group: String,
    pub os_type: String,
    pub tags: Vec<String>,
    pub owner: String,
    pub cpu: f64,
    pub mem_used: u64,
    pub disks: Vec<DiskRow>,
    pub nics: Vec<NicRow>,
    pub drift: Vec<String>,
}

impl ServerRow {
    pub fn ips(&self) -> Vec<String> {
        self.nics.iter().filter_map(|n| n.ip.clone()).collect()
    }
}

/// The list page: filter values as the URL carries them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerFilter {
    pub search: String,
    pub status: String,
    pub role: String,
    pub node: String,
    pub tag: String,
    pub sort: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerList {
    pub servers: Vec<ServerRow>,
    pub total: usize,
    /// Choices for the filters, from all visible servers.
    pub nodes: Vec<String>,
    pub roles: Vec<String>,
    pub tags: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateFormChoices {
    /// (vmid, name, node)
    pub templates: Vec<(u32, String, String)>,
    /// (storage, node, shared, free bytes)
    pub datastores: Vec<(String, String, bool, u64)>,
    /// (name, cidr, free)
    pub pools: Vec<(String, String, i64)>,
    pub default_hdd: String,
    pub default_ssd: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolRow {
    pub name: String,
    pub cidr: String,
    pub gateway: String,
    pub dns: String,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub reserved: String,
    pub description: String,
    pub size: i64,
    pub used: i64,
}

#[cfg(feature = "ssr")]
mod door {
    pub use crate::functions::door::{actor, fail, services};

    pub fn row(s: domain::servers::Server) -> super::ServerRow {
        super::ServerRow {
            drift: s.drift.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default(),
            name: s.name,
            vmid: s.vmid,
            node: s.node.unwrap_or_default(),
            status: s.status,
            cores: s.cores,
            sockets: s.sockets,
            memory_mb: s.memory_mb,
            role: s.role,
            security_group: s.security_group,
            os_type: s.os_type,
            tags: s.tags,
            owner: s.owner,
            cpu: s.cpu,
            mem_used: s.mem_used,
            disks: s.disks.into_iter().map(|d| super::DiskRow { device: d.device, storage: d.storage, size_gb: d.size_gb }).collect(),
            nics: s
                .nics
                .into_iter()
                .map(|n| super::NicRow { index: n.index, bridge: n.bridge, vlan: n.vlan, mac: n.mac, ip: n.ip, prefix: n.prefix, gateway: n.gateway, pool: n.pool })
                .collect(),
        }
    }
}

#[server(prefix = "/sfn", endpoint = "list_servers")]
pub async fn list_servers(filter: ServerFilter) -> Result<ServerList, ServerFnError> {
    let actor = door::actor()?;
    let servers = &door::services()?.servers;
    let blank = |s: String| (!s.is_empty()).then_some(s);
    let query = domain::servers::ServerQuery {
        search: blank(filter.search),
        status: blank(filter.status),
        role: blank(filter.role),
        node: blank(filter.node),
        tag: blank(filter.tag),
        sort: blank(filter.sort),
        desc: false,
    };
    let (page, total) = servers.list(&actor, &query, 1, 1000).await.map_err(door::fail)?;
    let (all, _) = servers.list(&actor, &domain::servers::ServerQuery::default(), 1, u32::MAX).await.map_err(door::fail)?;
    let pick = |f: &dyn Fn(&domain::servers::Server) -> Vec<String>| {
        let mut v: Vec<String> = all.iter().flat_map(f).filter(|s| !s.is_empty()).collect();
        v.sort();
        v.dedup();
        v
    };
    Ok(ServerList {
        nodes: pick(&|s| vec![s.node.clone().unwrap_or_default()]),
        roles: pick(&|s| vec![s.role.clone()]),
        tags: pick(&|s| s.tags.clone()),
        servers: page.into_iter().map(door::row).collect(),
        total,
    })
}

#[server(prefix = "/sfn", endpoint = "server_detail")]
pub async fn server_detail(name: String) -> Result<ServerRow, ServerFnError> {
    door::services()?.servers.get(&door::actor()?, &name).await.map(door::row).map_err(door::fail)
}

/// Starts one job acting on the servers; returns its id.
#[server(prefix = "/sfn", endpoint = "act_on_servers")]
pub async fn act_on_servers(names: Vec<String>, action: String) -> Result<i64, ServerFnError> {
    let action = domain::servers::Action::parse(&action).ok_or_else(|| ServerFnError::new(format!("unknown action {action:?}")))?;
    door::services()?.servers.act(&door::actor()?, &names, action).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "create_choices")]
pub async fn create_choices() -> Result<CreateFormChoices, ServerFnError> {
    let o = door::services()?.servers.create_options(&door::actor()?).await.map_err(door::fail)?;
    Ok(CreateFormChoices { templates: o.templates, datastores: o.datastores, pools: o.pools, default_hdd: o.default_hdd, default_ssd: o.default_ssd })
}

/// Creates the servers of a bulk request (the REST body of `POST /api/create_servers_bulk`,
/// as JSON); returns the job id. Validation errors come back naming server and field.
#[server(prefix = "/sfn", endpoint = "create_servers")]
pub async fn create_servers(request: String) -> Result<i64, ServerFnError> {
    let bulk: domain::servers::BulkRequest = leptos::serde_json::from_str(&request).map_err(|e| ServerFnError::new(format!("invalid request: {e}")))?;
    let requests = bulk.expand().map_err(door::fail)?;
    door::services()?.servers.create(&door::actor()?, requests).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "list_pools")]
pub async fn list_pools() -> Result<Vec<PoolRow>, ServerFnError> {
    door::actor()?.require_current().map_err(door::fail)?;
    let pools = door::services()?.ipam.pools().await.map_err(door::fail)?;
    Ok(pools
        .into_iter()
        .map(|p| PoolRow {
            name: p.name,
            cidr: p.cidr,
            gateway: p.gateway.unwrap_or_default(),
            dns: p.dns.join(", "),
            bridge: p.bridge,
            vlan: p.vlan,
            reserved: p.reserved,
            description: p.description,
            size: p.size,
            used: p.used,
        })
        .collect())
}

/// Creates a pool from the form's fields (DNS comma-separated, VLAN may be empty). One
/// argument per form field is how an `ActionForm` maps its inputs.
#[allow(clippy::too_many_arguments)]
#[server(prefix = "/sfn", endpoint = "create_pool")]
pub async fn create_pool(name: String, cidr: String, gateway: String, dns: String, bridge: String, vlan: String, reserved: String, description: String) -> Result<(), ServerFnError> {
    let vlan = match vlan.trim() {
        "" => None,
        v => Some(v.parse::<u16>().map_err(|_| ServerFnError::new("vlan: a number 1–4094"))?),
    };
    let input = domain::ipam::PoolInput {
        name,
        cidr,
        gateway: (!gateway.trim().is_empty()).then(|| gateway.trim().to_owned()),
        dns: dns.split(',').map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()).collect(),
        bridge,
        vlan,
        reserved,
        description,
    };
    door::services()?.ipam.create_pool(&door::actor()?, &input).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_pool")]
pub async fn delete_pool(name: String) -> Result<(), ServerFnError> {
    door::services()?.ipam.delete_pool(&door::actor()?, &name).await.map_err(door::fail)
}
