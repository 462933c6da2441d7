//! Servers and IP pools for the pages. Each call takes the acting user from the request and
//! calls `domain::servers::ServerService` / `domain::ipam::Ipam`, which check permissions.

// A server function behind an `ActionForm` takes one argument per form field (`create_pool` has
// eight); the `#[server]` macro's browser-side stub does not carry an item-level `allow`.
#![allow(clippy::too_many_arguments)]

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
    pub page: u32,
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
    pub page: u32,
    pub pages: u32,
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
            disks: s
                .disks
                .into_iter()
                .map(|d| super::DiskRow { device: d.device, storage: d.storage, size_gb: d.size_gb })
                .collect(),
            nics: s
                .nics
                .into_iter()
                .map(|n| super::NicRow {
                    index: n.index,
                    bridge: n.bridge,
                    vlan: n.vlan,
                    mac: n.mac,
                    ip: n.ip,
                    prefix: n.prefix,
                    gateway: n.gateway,
                    pool: n.pool,
                })
                .collect(),
        }
    }
}

/// Servers per page of the list.
pub const PAGE_SIZE: u32 = 50;

#[server(prefix = "/sfn", endpoint = "list_servers")]
pub async fn list_servers(filter: ServerFilter) -> Result<ServerList, ServerFnError> {
    let actor = door::actor()?;
    let servers = &door::services()?.servers;
    let blank = |s: String| (!s.is_empty()).then_some(s);
    let query = domain::servers::ServerQuery {
        search: blank(filter.search.clone()),
        status: blank(filter.status),
        role: blank(filter.role),
        node: blank(filter.node),
        tag: blank(filter.tag),
        sort: blank(filter.sort),
        desc: false,
    };
    let page = filter.page.max(1);
    let (rows, total) = servers.list(&actor, &query, page, PAGE_SIZE).await.map_err(door::fail)?;
    let (nodes, roles, tags) = servers.filter_choices(&actor).await.map_err(door::fail)?;
    Ok(ServerList {
        nodes,
        roles,
        tags,
        servers: rows.into_iter().map(door::row).collect(),
        total,
        page,
        pages: total.div_ceil(PAGE_SIZE as usize).max(1) as u32,
    })
}

#[server(prefix = "/sfn", endpoint = "server_detail")]
pub async fn server_detail(name: String) -> Result<ServerRow, ServerFnError> {
    door::services()?.servers.get(&door::actor()?, &name).await.map(door::row).map_err(door::fail)
}

/// Starts one job acting on the servers; returns its id.
#[server(prefix = "/sfn", endpoint = "act_on_servers")]
pub async fn act_on_servers(names: Vec<String>, action: String) -> Result<i64, ServerFnError> {
    let action: domain::servers::Action = action.parse().map_err(door::fail)?;
    door::services()?.servers.act(&door::actor()?, &names, action).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "create_choices")]
pub async fn create_choices() -> Result<CreateFormChoices, ServerFnError> {
    let o = door::services()?.servers.create_options(&door::actor()?).await.map_err(door::fail)?;
    Ok(CreateFormChoices {
        templates: o.templates,
        datastores: o.datastores,
        pools: o.pools,
        default_hdd: o.default_hdd,
        default_ssd: o.default_ssd,
    })
}

/// Creates the servers of a bulk request (the REST body of `POST /api/create_servers_bulk`,
/// as JSON); returns the job id. Validation errors come back naming server and field.
#[server(prefix = "/sfn", endpoint = "create_servers")]
pub async fn create_servers(request: String) -> Result<i64, ServerFnError> {
    let bulk: domain::servers::BulkRequest = leptos::serde_json::from_str(&request)
        .map_err(|e| door::fail(domain::Error::validation("request", format!("invalid request: {e}"))))?;
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
#[server(prefix = "/sfn", endpoint = "create_pool")]
pub async fn create_pool(
    name: String,
    cidr: String,
    gateway: String,
    dns: String,
    bridge: String,
    vlan: String,
    reserved: String,
    description: String,
) -> Result<(), ServerFnError> {
    let vlan = match vlan.trim() {
        "" => None,
        v => {
            Some(v.parse::<u16>().map_err(|_| door::fail(domain::Error::validation("vlan", "vlan: a number 1–4094")))?)
        }
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    pub cores: u32,
    pub sockets: u32,
    pub memory_mb: u64,
    pub balloon_mb: Option<u64>,
    pub description: String,
    pub tags: Vec<String>,
    pub running: bool,
    pub disks: Vec<DiskRow>,
    /// (bus, next free index)
    pub next_free: Vec<(String, u32)>,
}

#[cfg(feature = "ssr")]
fn settings_view(s: domain::servers::settings::ServerSettings) -> SettingsView {
    SettingsView {
        cores: s.cores,
        sockets: s.sockets,
        memory_mb: s.memory_mb,
        balloon_mb: s.balloon_mb,
        description: s.description,
        tags: s.tags,
        running: s.running,
        disks: s
            .disks
            .into_iter()
            .map(|d| DiskRow { device: d.device, storage: d.storage, size_gb: d.size_gb })
            .collect(),
        next_free: s.next_free.into_iter().collect(),
    }
}

#[server(prefix = "/sfn", endpoint = "server_settings")]
pub async fn server_settings(name: String) -> Result<SettingsView, ServerFnError> {
    door::services()?.servers.settings(&door::actor()?, &name).await.map(settings_view).map_err(door::fail)
}

/// Applies the settings form; returns whether a reboot is needed to apply them.
#[server(prefix = "/sfn", endpoint = "change_server_settings")]
pub async fn change_server_settings(
    name: String,
    cores: u32,
    sockets: u32,
    memory: u64,
    description: String,
    tags: String,
) -> Result<bool, ServerFnError> {
    let change = domain::servers::settings::SettingsChange {
        cores: Some(cores),
        sockets: Some(sockets),
        memory: Some(memory),
        balloon: None,
        description: Some(description),
        tags: Some(tags.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()),
    };
    let r = door::services()?.servers.change_settings(&door::actor()?, &name, &change).await.map_err(door::fail)?;
    Ok(r.needs_reboot)
}

#[server(prefix = "/sfn", endpoint = "add_server_disk")]
pub async fn add_server_disk(name: String, bus: String, size_gb: u64, storage: String) -> Result<(), ServerFnError> {
    let disk = domain::servers::settings::NewDisk {
        bus: Some(bus),
        index: None,
        storage: (!storage.is_empty()).then_some(storage),
        size_gb,
    };
    door::services()?.servers.add_disk(&door::actor()?, &name, &disk).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "remove_server_disk")]
pub async fn remove_server_disk(name: String, device: String) -> Result<(), ServerFnError> {
    door::services()?.servers.remove_disk(&door::actor()?, &name, &device).await.map(|_| ()).map_err(door::fail)
}

/// One Proxmox task in a server's history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub upid: String,
    pub node: String,
    pub kind: String,
    pub user: String,
    /// Unix milliseconds.
    pub started_ms: i64,
    /// `OK`, the error, or `running`.
    pub status: String,
    /// `None` while running.
    pub ok: Option<bool>,
}

/// A server's history: Proxmox tasks (newest first, or why they are missing) and proxfleet's
/// job lines (RFC 3339 time, level, line, job id; oldest first).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerHistory {
    pub tasks: Vec<TaskRow>,
    pub tasks_error: Option<String>,
    pub lines: Vec<(String, String, String, i64)>,
}

#[server(prefix = "/sfn", endpoint = "server_logs")]
pub async fn server_logs(name: String) -> Result<ServerHistory, ServerFnError> {
    let logs = door::services()?
        .servers
        .logs(&door::actor()?, &name, domain::servers::LogKind::All)
        .await
        .map_err(door::fail)?;
    Ok(ServerHistory {
        tasks: logs
            .tasks
            .into_iter()
            .map(|t| TaskRow {
                upid: t.upid,
                node: t.node,
                kind: t.kind,
                user: t.user,
                started_ms: i64::try_from(t.starttime).unwrap_or(0).saturating_mul(1000),
                status: t.status,
                ok: t.ok,
            })
            .collect(),
        tasks_error: logs.tasks_error,
        lines: logs.jobs.into_iter().map(|l| (l.at, l.level, l.line, l.job_id)).collect(),
    })
}

/// The lines of one of the server's Proxmox tasks.
#[server(prefix = "/sfn", endpoint = "server_task_log")]
pub async fn server_task_log(name: String, upid: String) -> Result<Vec<String>, ServerFnError> {
    door::services()?.servers.task_log(&door::actor()?, &name, &upid).await.map_err(door::fail)
}
