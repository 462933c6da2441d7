//! Backups over REST: the old tool's paths and fields (`backup_id`, `backup_status`,
//! `node_stats`, `size_gb`, `vm_id`, …, beside our `data`) and the new ones (bulk back up,
//! filters and pages on the list, notes and protection of a volume).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use model::backups::{BackupList, BackupQuery, BackupRequest, BackupVolume, VolumeUpdate};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::envelope::answer;
use super::extract::{Json, Path, Query};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

const GIB: f64 = (1u64 << 30) as f64;

fn gib(bytes: u64) -> f64 {
    (bytes as f64 / GIB * 100.0).round() / 100.0
}

/// A backup with our fields and the old tool's (`name` = volid, `vm_id`, `vm_name`, `size_gb`,
/// `backup_date`, `timestamp`, `content`).
fn row(b: &BackupVolume) -> Value {
    let at = domain::clock::to_rfc3339(b.ctime * 1000);
    json!({
        "volid": b.volid, "name": b.volid, "filename": b.filename, "node": b.node, "storage": b.storage,
        "shared": b.shared, "vmid": b.vmid, "vm_id": b.vmid, "server": b.server,
        "vm_name": b.server.clone().or_else(|| b.vmid.map(|v| format!("VM {v}"))),
        "ctime": b.ctime, "timestamp": at, "backup_date": at.get(..19).map(|d| d.replace('T', " ")),
        "size": b.size, "size_gb": gib(b.size), "content": "backup", "format": b.format,
        "notes": b.notes, "protected": b.protected,
    })
}

fn list_body(list: &BackupList) -> Value {
    let node_stats: serde_json::Map<String, Value> = list
        .node_stats
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                json!({"backup_count": s.backup_count, "total_size": s.total_size, "total_size_gb": gib(s.total_size)}),
            )
        })
        .collect();
    json!({
        "backups": list.backups.iter().map(row).collect::<Vec<_>>(),
        "node_stats": node_stats, "total_count": list.total_count,
        "total_size": list.total_size, "total_size_gb": gib(list.total_size),
        "nodes": list.nodes, "storages": list.storages, "truncated": list.truncated,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ListParams {
    /// Text in the server name, volume id or notes (or an exact vmid).
    pub search: Option<String>,
    pub node: Option<String>,
    pub storage: Option<String>,
    pub server: Option<String>,
    /// `YYYY-MM-DD`: backups from this day on.
    pub from: Option<String>,
    /// `YYYY-MM-DD`: backups up to this day.
    pub to: Option<String>,
    /// `newest` (default), `oldest`, `largest`, `server`.
    pub sort: Option<String>,
    /// With `page`, one page (`per_page`, default 50, at most 500); without, all (≤ 5,000).
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl ListParams {
    fn split(self, node: Option<String>) -> Result<(BackupQuery, Option<(u32, u32)>), ApiError> {
        let page = match (self.page, self.per_page) {
            (None, None) => None,
            (p, per) => Some(super::extract::PageParams { page: p, per_page: per }.resolve()?),
        };
        let q = BackupQuery {
            search: self.search,
            node: node.or(self.node),
            storage: self.storage,
            server: self.server,
            from: self.from,
            to: self.to,
            sort: self.sort,
        };
        Ok((q, page))
    }
}

/// Every backup on every node's backup storages (PBS too), newest first, with totals per
/// node; filters, order and pages as asked.
#[utoipa::path(get, path = "/api/backups/nodes", tag = "backups", params(ListParams),
    responses((status = 200, description = "`data`: `backups`, `node_stats`, `total_count`, `total_size_gb`", body = Envelope<Object>)))]
pub async fn all(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(p): Query<ListParams>,
) -> Result<Response, ApiError> {
    let (q, page) = p.split(None)?;
    let list = state.services.backups.list(&actor, &q, page).await?;
    Ok(answer(StatusCode::OK, list_body(&list), None, json!({})))
}

/// The backups one node reads (its own storages and the shared ones it sees first).
#[utoipa::path(get, path = "/api/backups/nodes/{node}", tag = "backups", params(("node" = String, Path), ListParams),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn of_node(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(node): Path<String>,
    Query(p): Query<ListParams>,
) -> Result<Response, ApiError> {
    let (q, page) = p.split(Some(node))?;
    let list = state.services.backups.list(&actor, &q, page).await?;
    Ok(answer(StatusCode::OK, list_body(&list), None, json!({})))
}

/// One server's backups, on every storage (matched by vmid, never by a substring).
#[utoipa::path(get, path = "/api/server/backups/{server}", tag = "backups", params(("server" = String, Path)),
    responses((status = 200, description = "`data`: `server_name`, `backups`, `total_count`", body = Envelope<Object>)))]
pub async fn of_server(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(server): Path<String>,
) -> Result<Response, ApiError> {
    // Unknown or hidden servers are a 404, not an empty list.
    state.services.servers.get(&actor, &server).await?;
    let q = BackupQuery { server: Some(server.clone()), ..Default::default() };
    let list = state.services.backups.list(&actor, &q, None).await?;
    let data = json!({
        "server_name": server, "backups": list.backups.iter().map(row).collect::<Vec<_>>(),
        "total_count": list.total_count, "total_size_gb": gib(list.total_size),
    });
    Ok(answer(StatusCode::OK, data, None, json!({})))
}

/// "Back up now" for one server: a `backup` job (202). 409 while one runs for it.
#[utoipa::path(post, path = "/api/server/backup/{server}", tag = "backups", params(("server" = String, Path)),
    request_body = BackupRequest,
    responses((status = 202, description = "`backup_id`, `task_id` and `data.status: running`", body = Envelope<Object>)))]
pub async fn back_up_one(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(server): Path<String>,
    Json(req): Json<BackupRequest>,
) -> Result<Response, ApiError> {
    let (job, said) = state.services.backups.back_up(&actor, std::slice::from_ref(&server), &req).await?;
    let id = job.id.to_string();
    let message = said.unwrap_or_else(|| format!("backup of {server} started"));
    let data = json!({"backup_id": id, "task_id": id, "job_id": job.id, "server_name": server, "status": "running"});
    Ok(answer(StatusCode::ACCEPTED, data, Some(message), json!({"backup_id": id, "task_id": id})))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkBackup {
    pub server_names: Vec<String>,
    #[serde(flatten)]
    pub request: BackupRequest,
}

/// "Back up" for several servers: one job, one item per server (202).
#[utoipa::path(post, path = "/api/backups", tag = "backups", request_body = BulkBackup,
    responses((status = 202, description = "`task_id`: the job", body = Envelope<Object>)))]
pub async fn back_up_many(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<BulkBackup>,
) -> Result<Response, ApiError> {
    let (job, said) = state.services.backups.back_up(&actor, &body.server_names, &body.request).await?;
    let id = job.id.to_string();
    let message = said.unwrap_or_else(|| format!("backup of {} server(s) started", body.server_names.len()));
    let data = json!({"task_id": id, "job_id": job.id, "status": "queued", "targets": body.server_names});
    Ok(answer(StatusCode::ACCEPTED, data, Some(message), json!({"task_id": id})))
}

/// Running backups, and those finished in the last 5 minutes, per server.
#[utoipa::path(get, path = "/api/server/backup/status", tag = "backups",
    responses((status = 200, description = "`backup_status`: `{SERVER: {backup_id, status, started_at, …}}`", body = Envelope<Object>)))]
pub async fn status_all(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<Response, ApiError> {
    let all = state.services.backups.status(&actor, None).await?;
    let map: serde_json::Map<String, Value> = all.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    Ok(answer(StatusCode::OK, Value::Object(map.clone()), None, json!({"backup_status": map})))
}

async fn status_one(state: &AppState, actor: &domain::auth::Actor, server: &str) -> Result<Response, ApiError> {
    state.services.servers.get(actor, server).await?;
    let all = state.services.backups.status(actor, Some(server)).await?;
    let one = all.get(server).map(|s| json!(s)).unwrap_or(Value::Null);
    Ok(answer(StatusCode::OK, one.clone(), None, json!({"backup_status": one})))
}

/// One server's running or recent backup (`null` when none in the last 5 minutes).
#[utoipa::path(get, path = "/api/server/backup/status/{server}", tag = "backups", params(("server" = String, Path)),
    responses((status = 200, description = "`backup_status`", body = Envelope<Object>)))]
pub async fn status_of(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(server): Path<String>,
) -> Result<Response, ApiError> {
    status_one(&state, &actor, &server).await
}

/// The same, at the old UI's second path.
#[utoipa::path(get, path = "/api/server/backup/{server}/status", tag = "backups", params(("server" = String, Path)),
    responses((status = 200, description = "`backup_status`", body = Envelope<Object>)))]
pub async fn status_of_compat(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(server): Path<String>,
) -> Result<Response, ApiError> {
    status_one(&state, &actor, &server).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteBackup {
    pub node: String,
    /// A file name or a full volume id.
    pub filename: String,
    /// Which storage, when the name is on more than one.
    #[serde(default)]
    pub storage: Option<String>,
}

/// Deletes a backup; a protected one is refused (409).
#[utoipa::path(post, path = "/api/backups/delete", tag = "backups", request_body = DeleteBackup,
    responses((status = 200, description = "`data`: the deleted backup, with `filename`, `node`, `timestamp`", body = Envelope<Object>)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<DeleteBackup>,
) -> Result<Response, ApiError> {
    let gone = state.services.backups.delete(&actor, &body.node, &body.filename, body.storage.as_deref()).await?;
    let mut data = row(&gone);
    data["timestamp"] = json!(domain::clock::to_rfc3339(domain::clock::now_ms()));
    Ok(answer(StatusCode::OK, data, Some(format!("deleted {}", gone.volid)), json!({})))
}

/// Sets a backup's notes (`""` removes them) and/or protection.
#[utoipa::path(put, path = "/api/backups/volume", tag = "backups", request_body = VolumeUpdate,
    responses((status = 200, description = "`data`: the backup as it is now", body = Envelope<Object>)))]
pub async fn update_volume(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<VolumeUpdate>,
) -> Result<Response, ApiError> {
    let b = state.services.backups.update_volume(&actor, &body).await?;
    Ok(answer(StatusCode::OK, row(&b), Some(format!("updated {}", b.volid)), json!({})))
}
