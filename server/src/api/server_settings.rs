//! One server's settings, disks and log; datastores; cleanup of half-made or vanished servers.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use domain::datastores::DatastoreList;
use domain::servers::settings::{NewDisk, ServerSettings, SettingsChange};
use domain::servers::LogKind;

use super::envelope::ApiOk;
use super::extract::{Json, Path, Query};
use super::servers::queued;
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// CPU, memory, balloon, description, tags and disks as Proxmox has them; `next_free` suggests
/// an index per bus for a new disk.
#[utoipa::path(get, path = "/api/server/config/{name}", tag = "servers", params(("name" = String, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404), (status = 409, description = "No VM on the cluster")))]
pub async fn get_config(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<ServerSettings>, ApiError> {
    Ok(ApiOk::new(state.services.servers.settings(&actor, &name).await?))
}

/// Changes `cores` (or `cpu`), `sockets`, `memory` (MB), `balloon` (MB, 0 = off), `description`,
/// `tags`; `needs_reboot` says when a running VM only gets the change at its next reboot.
#[utoipa::path(put, path = "/api/server/config/{name}", tag = "servers", params(("name" = String, Path)),
    request_body(content = SettingsChange, example = json!({"cores": 4, "memory": 8192, "tags": ["web"]})),
    responses((status = 200, body = Envelope<Object>), (status = 400), (status = 403), (status = 404)))]
pub async fn put_config(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Json(body): Json<SettingsChange>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let result = state.services.servers.change_settings(&actor, &name, &body).await?;
    let mut message = match (result.changed.is_empty(), result.needs_reboot) {
        (true, _) => "nothing to change".to_owned(),
        (false, true) => format!("changed {}; reboot the server to apply", result.changed.join(", ")),
        (false, false) => format!("changed {}", result.changed.join(", ")),
    };
    let Some(group) = body.security_group.as_deref().map(str::trim) else {
        return Ok(ApiOk::new(result).message(message).into_response());
    };
    let groups = match group {
        "" | "none" => vec![],
        g => vec![g.to_owned()],
    };
    let job = state
        .services
        .firewall
        .assign(&actor, std::slice::from_ref(&name), domain::firewall::AssignMode::Replace, &groups, false)
        .await?;
    message.push_str(&format!("; security group job #{} started", job.id));
    let body = json!({"success": true, "data": result, "message": message, "task_id": job.id.to_string()});
    Ok(axum::Json(body).into_response())
}

/// Adds a disk: `{"size_gb": 50, "bus": "scsi", "index": 2, "storage": "local-lvm"}` (bus,
/// index and storage optional: next free SCSI slot, default HDD datastore).
#[utoipa::path(post, path = "/api/server/disk/{name}", tag = "servers", params(("name" = String, Path)),
    request_body(content = NewDisk, example = json!({"size_gb": 50, "bus": "scsi", "storage": "local-lvm"})),
    responses((status = 201, body = Envelope<Object>), (status = 400), (status = 409)))]
pub async fn add_disk(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Json(body): Json<NewDisk>,
) -> Result<ApiOk<ServerSettings>, ApiError> {
    let settings = state.services.servers.add_disk(&actor, &name, &body).await?;
    Ok(ApiOk::new(settings).status(StatusCode::CREATED).message("disk added"))
}

/// Detaches and destroys a disk (not the boot disk).
#[utoipa::path(delete, path = "/api/server/disk/{name}/{device}", tag = "servers", params(("name" = String, Path), ("device" = String, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404), (status = 409, description = "The boot disk")))]
pub async fn delete_disk(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((name, device)): Path<(String, String)>,
) -> Result<ApiOk<ServerSettings>, ApiError> {
    let settings = state.services.servers.remove_disk(&actor, &name, &device).await?;
    Ok(ApiOk::new(settings).message(format!("{device} destroyed")))
}

#[derive(Debug, Deserialize)]
pub struct LogQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The server's Proxmox task history (its node's task list for its VM, newest first) and
/// proxfleet's job lines about it (oldest first). `type`: `all` (default), `tasks` or `jobs`.
/// The old tool's fields (`server_name`, `log_type`, `lines`, `content`, `timestamp`) are kept.
#[utoipa::path(get, path = "/api/server/logs/{name}", tag = "servers",
    params(("name" = String, Path), ("type" = Option<String>, Query, description = "all | tasks | jobs")),
    responses((status = 200, body = Envelope<Object>), (status = 400), (status = 404)))]
pub async fn logs(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Query(q): Query<LogQuery>,
) -> Result<ApiOk<Value>, ApiError> {
    let kind = LogKind::parse(q.kind.as_deref())?;
    let logs = state.services.servers.logs(&actor, &name, kind).await?;
    let mut body = serde_json::to_value(&logs).map_err(|e| domain::Error::Internal(e.to_string()))?;
    // The old tool's fields beside ours.
    body["log_type"] = json!(kind);
    body["lines"] = json!(logs.tasks.len() + logs.jobs.len());
    body["content"] = json!(logs.content());
    body["timestamp"] = json!(domain::clock::to_rfc3339(domain::clock::now_ms()));
    Ok(ApiOk::new(body))
}

#[derive(Debug, Deserialize)]
pub struct TaskLogQuery {
    upid: String,
    /// `text`: the log as plain text (what the server page links to without JavaScript).
    format: Option<String>,
}

/// The lines of one of the server's Proxmox tasks (`upid` from its task history); with
/// `format=text` as plain text instead of the envelope.
#[utoipa::path(get, path = "/api/server/logs/{name}/task", tag = "servers",
    params(("name" = String, Path), ("upid" = String, Query), ("format" = Option<String>, Query, description = "text for plain text")),
    responses((status = 200, body = Envelope<Object>), (status = 400), (status = 404, description = "No such server, or the task is another guest's")))]
pub async fn task_log(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Query(q): Query<TaskLogQuery>,
) -> Result<Response, ApiError> {
    let lines = state.services.servers.task_log(&actor, &name, &q.upid).await?;
    if q.format.as_deref() == Some("text") {
        let mut text = lines.join("\n");
        text.push('\n');
        return Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    Ok(ApiOk::new(json!({ "server_name": name, "upid": q.upid, "lines": lines })).into_response())
}

/// Datastores per node with capacity and content types, and the defaults for new disks.
#[utoipa::path(get, path = "/api/datastores", tag = "datastores", responses((status = 200, body = Envelope<Object>)))]
pub async fn datastores(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<Response, ApiError> {
    let list = state.services.datastores.list(&actor).await?;
    Ok(datastore_response(list, None))
}

fn datastore_response(list: DatastoreList, message: Option<String>) -> Response {
    // The old tool's keys at the top level too.
    let mut body = json!({ "success": true, "data": list, "datastores": list.datastores, "default_hdd": list.default_hdd, "default_ssd": list.default_ssd });
    if let Some(m) = message {
        body["message"] = json!(m);
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Reads the datastores again from Proxmox (they are always read live; kept for the old
/// tool's scripts): `count`.
#[utoipa::path(post, path = "/api/datastores/refresh", tag = "datastores", responses((status = 200, body = Envelope<Object>)))]
pub async fn refresh(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    let list = state.services.datastores.list(&actor).await?;
    Ok(ApiOk::new(json!({ "count": list.datastores.len() }))
        .message(format!("{} datastores read from Proxmox", list.datastores.len())))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DefaultsBody {
    pub hdd_datastore_id: String,
    pub ssd_datastore_id: String,
}

/// Chooses the default HDD and SSD datastores (`manage_storage`).
#[utoipa::path(post, path = "/api/datastores/default", tag = "datastores", request_body = DefaultsBody,
    responses((status = 200, body = Envelope<Object>), (status = 400), (status = 404)))]
pub async fn set_defaults(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<DefaultsBody>,
) -> Result<Response, ApiError> {
    let list = state.services.datastores.set_defaults(&actor, &body.hdd_datastore_id, &body.ssd_datastore_id).await?;
    Ok(datastore_response(list, Some("default datastores saved".into())))
}

/// The old tool's storage view: `[{storage, node, type, content, shared, active, avail, total, used}]`.
#[utoipa::path(get, path = "/api/proxmox_storage", tag = "datastores", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn proxmox_storage(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Vec<Value>>, ApiError> {
    let list = state.services.datastores.list(&actor).await?;
    let data = list
        .datastores
        .iter()
        .map(|d| json!({"storage": d.id, "node": d.node, "type": d.kind, "content": d.content.join(","), "shared": u8::from(d.shared), "active": u8::from(d.active), "avail": d.available, "total": d.size, "used": d.used}))
        .collect();
    Ok(ApiOk::new(data))
}

/// Whether a server needs cleaning, and why.
#[utoipa::path(get, path = "/api/cleanup/status/{name}", tag = "servers", params(("name" = String, Path)), responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn cleanup_status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<Value>, ApiError> {
    Ok(ApiOk::new(json!(state.services.servers.cleanup_status(&actor, &name).await?)))
}

/// Records that need cleaning: failed creates, vanished VMs, jobs lost mid-way.
#[utoipa::path(get, path = "/api/cleanup/failed-servers", tag = "servers", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn failed_servers(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    Ok(ApiOk::new(json!(state.services.servers.failed_servers(&actor).await?)))
}

/// What is out of step between Proxmox, the records and the address pools: VMs without a
/// record (and whether proxfleet made them), records without their VM, addresses held by no
/// server. Changes nothing.
#[utoipa::path(get, path = "/api/cleanup/orphans", tag = "servers", responses((status = 200, body = Envelope<Object>), (status = 403)))]
pub async fn orphans(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    Ok(ApiOk::new(json!(state.services.servers.orphans(&actor).await?)))
}

/// Removes one such record with whatever VM and addresses are left (a job).
#[utoipa::path(post, path = "/api/cleanup/clean/{name}", tag = "servers", params(("name" = String, Path)),
    responses((status = 202, body = Envelope<Object>), (status = 404), (status = 409, description = "Needs no cleanup")))]
pub async fn clean(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let job = state.services.servers.clean(&actor, std::slice::from_ref(&name)).await?;
    Ok(queued(&job, format!("cleaning {name}")))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkCleanBody {
    /// Default: every record that needs cleaning.
    #[serde(default)]
    pub server_names: Vec<String>,
}

/// Cleans the named records, or all that need it (one job).
#[utoipa::path(post, path = "/api/cleanup/bulk-clean", tag = "servers", request_body = BulkCleanBody,
    responses((status = 202, body = Envelope<Object>), (status = 409, description = "Nothing to clean")))]
pub async fn bulk_clean(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<BulkCleanBody>,
) -> Result<Response, ApiError> {
    let job = state.services.servers.clean(&actor, &body.server_names).await?;
    Ok(queued(&job, "cleaning".into()))
}
