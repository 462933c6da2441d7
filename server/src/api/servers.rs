//! Servers over REST: the old tool's read shapes (`servers` maps, `stats`, `ip_addresses`),
//! create one or many (its field names and ours), lifecycle actions as jobs, and sync/import.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use utoipa::IntoParams;

use domain::jobs::Job;
use domain::servers::{
    Action, BulkRequest, Disk, Nic, Server, ServerBrief, ServerListParams, ServerRequest, ServerStatus,
};

use super::encoding::{encoded_json, Encoding};
use super::envelope::{ApiOk, Pagination};
use super::extract::{Json, PageParams, Path, Query};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// A server as the API shows it: our fields plus the old tool's names for the same things
/// (`cpu` = cores, `memory` in MB, `firewall_group`, `ip_addresses`). Serialised straight from
/// the record: whole-fleet answers carry a thousand of these, and building a `Value` tree for
/// each first cost more than the rest of the request.
#[derive(Serialize)]
pub struct ServerJson<'a> {
    id: i64,
    name: &'a str,
    vmid: Option<u32>,
    node: Option<&'a str>,
    status: ServerStatus,
    cores: u32,
    sockets: u32,
    cpu: u32,
    memory: u64,
    memory_mb: u64,
    memory_gb: f64,
    disks: &'a [Disk],
    total_disk_gb: u64,
    nics: &'a [Nic],
    ip_addresses: Ips<'a>,
    role: &'a str,
    security_group: &'a str,
    firewall_group: &'a str,
    os_type: &'a str,
    template_vmid: Option<u32>,
    owner: &'a str,
    tags: &'a [String],
    description: &'a str,
    drift: &'a Value,
    cpu_usage: f64,
    cpu_usage_percent: f64,
    mem_used: u64,
    maxmem: u64,
    memory_usage_percent: f64,
    uptime: u64,
    synced_at: Option<String>,
    created_at: String,
    updated_at: String,
}

/// The NICs' addresses as a list, without collecting them first.
pub struct Ips<'a>(&'a [Nic]);

impl Serialize for Ips<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().filter_map(|n| n.ip.as_deref()))
    }
}

/// One decimal place, as the old tool rounded percentages and GB.
fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

impl<'a> From<&'a Server> for ServerJson<'a> {
    fn from(s: &'a Server) -> Self {
        let maxmem = s.memory_mb.saturating_mul(1024 * 1024);
        ServerJson {
            id: s.id,
            name: &s.name,
            vmid: s.vmid,
            node: s.node.as_deref(),
            status: s.status,
            cores: s.cores,
            sockets: s.sockets,
            cpu: s.cores,
            memory: s.memory_mb,
            memory_mb: s.memory_mb,
            memory_gb: tenths(s.memory_mb as f64 / 1024.0),
            disks: &s.disks,
            total_disk_gb: s.disks.iter().map(|d| d.size_gb).sum(),
            nics: &s.nics,
            ip_addresses: Ips(&s.nics),
            role: &s.role,
            security_group: &s.security_group,
            firewall_group: &s.security_group,
            os_type: &s.os_type,
            template_vmid: s.template_vmid,
            owner: &s.owner,
            tags: &s.tags,
            description: &s.description,
            drift: &s.drift,
            cpu_usage: s.cpu,
            cpu_usage_percent: tenths(s.cpu * 100.0),
            mem_used: s.mem_used,
            maxmem,
            memory_usage_percent: if maxmem == 0 { 0.0 } else { tenths(s.mem_used as f64 / maxmem as f64 * 100.0) },
            uptime: s.uptime,
            synced_at: s.synced_at.map(domain::clock::to_rfc3339),
            created_at: domain::clock::to_rfc3339(s.created_at),
            updated_at: domain::clock::to_rfc3339(s.updated_at),
        }
    }
}

/// Serialised once, written wherever the answer repeats it (the old tool's answers carry their
/// lists twice: in `data` and at the top level).
fn raw<T: Serialize + ?Sized>(value: &T) -> Result<Box<RawValue>, ApiError> {
    serde_json::value::to_raw_value(value).map_err(|e| ApiError::from(domain::Error::Internal(e.to_string())))
}

/// A list answer where the old tool's scripts read it: `data` and `servers`, and `pagination`.
#[derive(Serialize)]
struct ListBody<'a> {
    success: bool,
    data: &'a RawValue,
    servers: &'a RawValue,
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<Pagination>,
}

impl<'a> ListBody<'a> {
    fn new(list: &'a RawValue, pagination: Option<Pagination>) -> Self {
        ListBody { success: true, data: list, servers: list, pagination }
    }
}

/// Items as one JSON object keyed by name, in their order (the old tool's `servers` maps).
struct ByName<'a, T, F>(&'a [T], F);

impl<'a, T, V: Serialize, F: Fn(&'a T) -> (&'a str, V)> Serialize for ByName<'a, T, F> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(&self.1))
    }
}

fn server_entry(s: &Server) -> (&str, ServerJson<'_>) {
    (&s.name, ServerJson::from(s))
}

fn brief_entry(b: &ServerBrief) -> (&str, &ServerBrief) {
    (&b.name, b)
}

/// A queued job in the old tool's shape: `{success, task_id, status: "queued", message}`.
pub(super) fn queued(job: &Job, message: String) -> Response {
    let body = json!({
        "success": true,
        "data": { "task_id": job.id.to_string(), "job_id": job.id, "status": "queued" },
        "task_id": job.id.to_string(),
        "status": "queued",
        "message": message,
    });
    (StatusCode::ACCEPTED, axum::Json(body)).into_response()
}

/// Managed servers (everyone's with view_all, else your own): paginated, searchable.
#[utoipa::path(get, path = "/api/servers", tag = "servers", params(PageParams, ServerListParams),
    responses((status = 200, description = "`data` and `servers`: the page of servers", body = Envelope<Vec<Object>>)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(pages): Query<PageParams>,
    Query(q): Query<ServerListParams>,
) -> Result<Response, ApiError> {
    let (page, per_page) = pages.resolve()?;
    let query = q.query()?;
    let (servers, total) = state.services.servers.list(&actor, &query, page, per_page).await?;
    let list = raw(&servers.iter().map(ServerJson::from).collect::<Vec<_>>())?;
    let pagination = Pagination::new(page, per_page, total as u64);
    Ok(axum::Json(ListBody::new(&list, Some(pagination))).into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BriefQuery {
    /// Comma-separated names; all servers without it.
    pub names: Option<String>,
}

/// `{servers: {NAME: {name, role, firewall_group, os_type, ip_addresses}}}`, as the old UI reads it.
#[utoipa::path(get, path = "/api/servers/brief", tag = "servers", params(BriefQuery), responses((status = 200, body = Envelope<Object>)))]
pub async fn brief(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(q): Query<BriefQuery>,
) -> Result<Response, ApiError> {
    let names: Option<Vec<String>> =
        q.names.map(|n| n.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect());
    let servers = state.services.servers.brief(&actor, names.as_deref()).await?;
    let map = raw(&ByName(&servers, brief_entry))?;
    Ok(axum::Json(ListBody::new(&map, None)).into_response())
}

/// `{data: {servers, stats}, servers, stats}`: the old tool's scripts read either.
#[derive(Serialize)]
struct FleetBody<'a> {
    success: bool,
    data: FleetData<'a>,
    servers: &'a RawValue,
    stats: &'a RawValue,
}

#[derive(Serialize)]
struct FleetData<'a> {
    servers: &'a RawValue,
    stats: &'a RawValue,
}

// As fresh as the shared cluster snapshot (at most `cluster_snapshot_ms` old); a read, it
// changes nothing.
/// Every server with its live state from Proxmox, keyed by name, with fleet stats.
#[utoipa::path(get, path = "/api/all_server_status", tag = "servers",
    responses((status = 200, description = "`servers` (by name) and `stats`", body = Envelope<Object>)))]
pub async fn all_status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let fleet = state.services.servers.fleet(&actor).await?;
    // Rendered and compressed once per fleet (that is, per cluster snapshot and change of the
    // records), then sent as is to every reader who sees the same servers.
    let internal = |e: String| ApiError::from(domain::Error::Internal(e));
    let json = fleet.rendered("rest.all_server_status", || {
        let servers = raw(&ByName(&fleet.servers, server_entry))?;
        let stats = raw(&fleet.stats)?;
        let data = FleetData { servers: &servers, stats: &stats };
        serde_json::to_vec(&FleetBody { success: true, data, servers: &servers, stats: &stats })
            .map_err(|e| internal(e.to_string()))
    })?;
    let encoding = Encoding::negotiate(&headers);
    let body = match encoding.header() {
        None => json,
        // Its compressed forms, kept beside it under their coding.
        Some(coding) => fleet.rendered(coding, || encoding.compress(&json).map_err(|e| internal(e.to_string())))?,
    };
    Ok(encoded_json(body, encoding))
}

/// One server's record and live figures.
#[utoipa::path(get, path = "/api/server_status/{name}", tag = "servers", params(("name" = String, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn one_status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let server = state.services.servers.get(&actor, &name).await?;
    Ok(ApiOk::new(ServerJson::from(&server)).into_response())
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SyncBody {
    /// Unmanaged VMs to import by name; without it, sync only reports them.
    pub names: Option<Vec<String>>,
    /// Import every unmanaged VM.
    #[serde(default)]
    pub import_all: bool,
}

/// Reconciles the records with Proxmox; imports the VMs named (or all with `import_all`).
#[utoipa::path(post, path = "/api/sync_servers", tag = "servers", request_body = SyncBody,
    responses((status = 200, description = "checked, changed, missing, unmanaged, imported", body = Envelope<Object>)))]
pub async fn sync(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    body: axum::body::Bytes,
) -> Result<ApiOk<Value>, ApiError> {
    // The body is optional: no body means "sync and report".
    let body: SyncBody = if body.iter().all(u8::is_ascii_whitespace) {
        SyncBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))?
    };
    let report = if body.import_all || body.names.is_some() {
        state.services.servers.import(&actor, if body.import_all { None } else { body.names.as_deref() }).await?
    } else {
        state.services.servers.sync(&actor).await?
    };
    let message = format!(
        "{} checked, {} imported, {} missing, {} unmanaged",
        report.checked,
        report.imported.len(),
        report.missing.len(),
        report.unmanaged.len()
    );
    Ok(ApiOk::new(json!(report)).message(message))
}

/// Creates one server (a job). The body takes the old tool's field names
/// (`name, cpu, memory (MB), disks[{size (GB), interface, datastore_id}], network_devices[{bridge,
/// ip_address, subnet, gateway}], template_vm_id, role, os_type, firewall_group, vm_username,
/// vm_password`) and ours beside them (`ip_pool`, `vlan`, `dns` on a NIC; `ssh_keys`, `clone`:
/// full|linked, `tags`, `sockets`, `description`).
#[utoipa::path(post, path = "/api/servers", tag = "servers",
    request_body(content = ServerRequest, description = "One server spec", example = json!({
        "name": "web-1", "cpu": 2, "memory": 4096, "template_vm_id": 9000, "os_type": "ubuntu",
        "disks": [{"size": 40, "interface": "scsi0", "datastore_id": "local-lvm"}],
        "network_devices": [{"bridge": "vmbr0", "ip_pool": "default"}],
        "ssh_keys": ["ssh-ed25519 AAAA… ops@example"], "role": "web", "tags": ["frontend"]
    })),
    responses((status = 202, description = "Queued: `task_id`", body = Envelope<Object>), (status = 400, description = "A field is invalid: `details.errors` lists every problem by server and field")))]
pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<ServerRequest>,
) -> Result<Response, ApiError> {
    let name = body.name.clone().unwrap_or_default();
    let job = state.services.servers.create(&actor, vec![body]).await?;
    Ok(queued(&job, format!("creating server {name}")))
}

/// Creates many servers in one job: `{"servers": [spec, …]}` (the old tool's shape) or
/// `{"name_pattern": "web-{n}", "count": 3, "start": 1, "spec": {…}}`.
#[utoipa::path(post, path = "/api/create_servers_bulk", tag = "servers",
    request_body(content = BulkRequest, description = "A list of specs, or a name pattern with a count and one spec", example = json!({
        "name_pattern": "web-{n}", "count": 3,
        "spec": {"template_vm_id": 9000, "cpu": 2, "memory": 2048, "disks": [{"size": 20, "interface": "scsi0"}], "network_devices": [{"ip_pool": "default"}]}
    })),
    responses((status = 202, description = "Queued: `task_id`", body = Envelope<Object>), (status = 400, description = "Invalid: `details.errors` lists every problem")))]
pub async fn create_bulk(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<BulkRequest>,
) -> Result<Response, ApiError> {
    let requests = domain::servers::spec::expand(body)?;
    let n = requests.len();
    let job = state.services.servers.create(&actor, requests).await?;
    Ok(queued(&job, format!("creating {n} servers")))
}

async fn act(
    state: &AppState,
    actor: &domain::auth::Actor,
    names: &[String],
    action: Action,
) -> Result<Response, ApiError> {
    let job = state.services.servers.act(actor, names, action).await?;
    let what = if names.len() == 1 { names[0].clone() } else { format!("{} servers", names.len()) };
    Ok(queued(&job, format!("{} {what}", action.as_str())))
}

/// Starts the server (a job checked against the Proxmox task).
#[utoipa::path(post, path = "/api/servers/{name}/start", tag = "servers", params(("name" = String, Path)), responses((status = 202, body = Envelope<Object>), (status = 404)))]
pub async fn start(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    act(&state, &actor, &[name], Action::Start).await
}

/// Graceful shutdown; forced off after 60 s.
#[utoipa::path(post, path = "/api/servers/{name}/stop", tag = "servers", params(("name" = String, Path)), responses((status = 202, body = Envelope<Object>), (status = 404)))]
pub async fn stop(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    act(&state, &actor, &[name], Action::Stop).await
}

/// Guest reboot; reset if it hangs.
#[utoipa::path(post, path = "/api/servers/{name}/reboot", tag = "servers", params(("name" = String, Path)), responses((status = 202, body = Envelope<Object>), (status = 404)))]
pub async fn reboot(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    act(&state, &actor, &[name], Action::Reboot).await
}

/// Stops and destroys the VM with its disks, releases its IPs, drops the record.
#[utoipa::path(post, path = "/api/servers/{name}/delete", tag = "servers", params(("name" = String, Path)), responses((status = 202, body = Envelope<Object>), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    act(&state, &actor, &[name], Action::Delete).await
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkActionBody {
    pub server_names: Vec<String>,
    /// start, stop, reboot or delete
    pub action: String,
}

/// One job acting on many servers.
#[utoipa::path(post, path = "/api/servers/bulk_action", tag = "servers", request_body = BulkActionBody,
    responses((status = 202, body = Envelope<Object>), (status = 400), (status = 404)))]
pub async fn bulk_action(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<BulkActionBody>,
) -> Result<Response, ApiError> {
    let action: Action = body.action.parse()?;
    act(&state, &actor, &body.server_names, action).await
}

/// The same (the old tool's async path).
#[utoipa::path(post, path = "/api/servers/bulk_action/async", tag = "servers", request_body = BulkActionBody,
    responses((status = 202, body = Envelope<Object>), (status = 400), (status = 404)))]
pub async fn bulk_action_async(
    state: State<AppState>,
    actor: CurrentActor,
    body: Json<BulkActionBody>,
) -> Result<Response, ApiError> {
    bulk_action(state, actor, body).await
}

/// The same as `POST /api/servers` (the old tool's async path).
#[utoipa::path(post, path = "/api/servers/async", tag = "servers", request_body(content = ServerRequest, description = "One server spec (see POST /api/servers)"),
    responses((status = 202, body = Envelope<Object>), (status = 400)))]
pub async fn create_async(
    state: State<AppState>,
    actor: CurrentActor,
    body: Json<ServerRequest>,
) -> Result<Response, ApiError> {
    create(state, actor, body).await
}
