//! Servers and IP pools for the pages. Each call takes the acting user from the request and
//! calls `domain::servers::ServerService` / `domain::ipam::Ipam`, which check permissions.

// A server function behind an `ActionForm` takes one argument per form field (`create_pool` has
// eight); the `#[server]` macro's browser-side stub does not carry an item-level `allow`.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;
use leptos::server_fn::codec::Json;
use model::ipam::IpPool;
use model::servers::{Action, BulkRequest, CreateOptions, Server, ServerList, ServerListParams};
use model::AppError;

#[cfg(feature = "ssr")]
use crate::functions::door;

/// Servers per page of the list.
pub const PAGE_SIZE: u32 = 50;

// JSON, not a URL-encoded form: a form has no way to say "params with every filter empty" and
// the argument would go missing.
#[server(prefix = "/sfn", endpoint = "list_servers", input = Json)]
pub async fn list_servers(params: ServerListParams, page: u32) -> Result<ServerList, AppError> {
    let actor = door::actor()?;
    let servers = &door::services()?.servers;
    let query = params.query().map_err(door::invalid)?;
    let page = page.max(1);
    let (rows, total) = servers.list(&actor, &query, page, PAGE_SIZE).await.map_err(door::fail)?;
    let (nodes, roles, tags) = servers.filter_choices(&actor).await.map_err(door::fail)?;
    let groups = servers.firewall_groups_of(&rows).await.map_err(door::fail)?;
    Ok(ServerList { servers: model::Page::new(rows, total as u64, page, PAGE_SIZE), groups, nodes, roles, tags })
}

#[server(prefix = "/sfn", endpoint = "server_detail")]
pub async fn server_detail(name: String) -> Result<Server, AppError> {
    door::services()?.servers.get(&door::actor()?, &name).await.map_err(door::fail)
}

/// Starts one job acting on the servers; returns its id.
#[server(prefix = "/sfn", endpoint = "act_on_servers")]
pub async fn act_on_servers(names: Vec<String>, action: Action) -> Result<i64, AppError> {
    door::services()?.servers.act(&door::actor()?, &names, action).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "create_choices")]
pub async fn create_choices() -> Result<CreateOptions, AppError> {
    door::services()?.servers.create_options(&door::actor()?).await.map_err(door::fail)
}

/// Creates the servers of a bulk request (the body of `POST /api/create_servers_bulk`, sent
/// as JSON); returns the job id. Validation errors name the server and field.
#[server(prefix = "/sfn", endpoint = "create_servers", input = Json)]
pub async fn create_servers(request: BulkRequest) -> Result<i64, AppError> {
    let requests = domain::servers::spec::expand(request).map_err(door::fail)?;
    door::services()?.servers.create(&door::actor()?, requests).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "list_pools")]
pub async fn list_pools() -> Result<Vec<IpPool>, AppError> {
    door::actor()?.require_current().map_err(door::fail)?;
    door::services()?.ipam.pools().await.map_err(door::fail)
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
) -> Result<(), AppError> {
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
pub async fn delete_pool(name: String) -> Result<(), AppError> {
    door::services()?.ipam.delete_pool(&door::actor()?, &name).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "server_settings")]
pub async fn server_settings(name: String) -> Result<model::servers::ServerSettings, AppError> {
    door::services()?.servers.settings(&door::actor()?, &name).await.map_err(door::fail)
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
) -> Result<bool, AppError> {
    let change = domain::servers::settings::SettingsChange {
        cores: Some(cores),
        sockets: Some(sockets),
        memory: Some(memory),
        balloon: None,
        description: Some(description),
        tags: Some(tags.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect()),
        security_group: None,
    };
    let r = door::services()?.servers.change_settings(&door::actor()?, &name, &change).await.map_err(door::fail)?;
    Ok(r.needs_reboot)
}

#[server(prefix = "/sfn", endpoint = "add_server_disk")]
pub async fn add_server_disk(name: String, bus: String, size_gb: u64, storage: String) -> Result<(), AppError> {
    let disk = domain::servers::settings::NewDisk {
        bus: Some(bus),
        index: None,
        storage: (!storage.is_empty()).then_some(storage),
        size_gb,
    };
    door::services()?.servers.add_disk(&door::actor()?, &name, &disk).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "remove_server_disk")]
pub async fn remove_server_disk(name: String, device: String) -> Result<(), AppError> {
    door::services()?.servers.remove_disk(&door::actor()?, &name, &device).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "server_logs")]
pub async fn server_logs(name: String) -> Result<model::servers::ServerLogs, AppError> {
    door::services()?.servers.logs(&door::actor()?, &name, domain::servers::LogKind::All).await.map_err(door::fail)
}

/// The lines of one of the server's Proxmox tasks.
#[server(prefix = "/sfn", endpoint = "server_task_log")]
pub async fn server_task_log(name: String, upid: String) -> Result<Vec<String>, AppError> {
    door::services()?.servers.task_log(&door::actor()?, &name, &upid).await.map_err(door::fail)
}
