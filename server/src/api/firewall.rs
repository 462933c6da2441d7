//! Security groups over REST: the old tool's paths and fields (`groups`, `group`, `group_info`,
//! `summary`, `failed_servers` beside our `data`) and the new ones (rename, copy, change and
//! move rules, attach jobs). A write's digest may come in the body, as `?digest=` or in
//! `If-Match`; a stale one is a 409 carrying the current list.

use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::firewall::{AssignMode, RuleInput, SecurityGroup};
use domain::jobs::Job;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use super::envelope::{answer, ApiOk};
use super::extract::{Json, Path, Query};
use super::servers::queued;
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// How long the old tool's synchronous apply/remove paths wait for their job.
const LEGACY_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct DigestQuery {
    /// The digest the change is based on (also accepted in the body or `If-Match`).
    pub digest: Option<String>,
}

/// The digest a write is based on: the body's, else `?digest=`, else `If-Match`.
fn digest(body: Option<&str>, q: &DigestQuery, headers: &HeaderMap) -> Option<String> {
    body.map(str::to_owned).or_else(|| q.digest.clone()).or_else(|| {
        headers
            .get(axum::http::header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().trim_matches('"').to_owned())
    })
}

fn listed(g: &SecurityGroup) -> Value {
    json!({
        "name": g.name, "description": g.description, "instance_count": g.instance_count,
        "rules": g.rules, "rules_count": g.rules_count, "digest": g.digest, "used_by": g.used_by,
    })
}

fn detailed(g: &SecurityGroup) -> Value {
    let mut v = listed(g);
    v["group_info"] = json!({"comment": g.description, "rules_count": g.rules_count});
    v
}

/// Every security group with its rules, rule count and the servers using it.
#[utoipa::path(get, path = "/api/firewall/groups", tag = "firewall",
    responses((status = 200, description = "`data` and `groups`: the groups", body = Envelope<Vec<Object>>)))]
pub async fn list(State(state): State<AppState>, CurrentActor(actor): CurrentActor) -> Result<Response, ApiError> {
    let groups: Vec<Value> = state.services.firewall.groups(&actor).await?.iter().map(listed).collect();
    Ok(answer(StatusCode::OK, json!(groups), None, json!({ "groups": groups })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    /// 2–18 characters: a letter, then letters, digits, `-`, `_` (kept in lower case).
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Creates an empty group.
#[utoipa::path(post, path = "/api/firewall/groups", tag = "firewall",
    request_body(content = NewGroup, example = json!({"name": "web", "description": "HTTP and HTTPS"})),
    responses((status = 201, description = "`data` and `group`: the new group", body = Envelope<Object>)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<NewGroup>,
) -> Result<Response, ApiError> {
    let g = state.services.firewall.create_group(&actor, &body.name, &body.description).await?;
    let old = json!({"name": g.name, "description": g.description, "instance_count": g.instance_count});
    let note = "New groups are empty: add rules, then attach the group to servers.";
    Ok(answer(
        StatusCode::CREATED,
        listed(&g),
        Some(format!("security group {} created", g.name)),
        json!({"group": old, "note": note}),
    ))
}

/// One group with its rules (`group_info` as the old tool gave it), digest and users.
#[utoipa::path(get, path = "/api/firewall/groups/{group}", tag = "firewall", params(("group" = String, Path)),
    responses((status = 200, description = "`data` and `group`", body = Envelope<Object>)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(group): Path<String>,
) -> Result<Response, ApiError> {
    let g = detailed(&state.services.firewall.group(&actor, &group).await?);
    Ok(answer(StatusCode::OK, g.clone(), None, json!({ "group": g })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChange {
    #[serde(default)]
    pub description: Option<String>,
    /// The new name.
    #[serde(default)]
    pub rename: Option<String>,
}

/// Changes the description and/or renames the group (servers using it follow).
#[utoipa::path(put, path = "/api/firewall/groups/{group}", tag = "firewall", params(("group" = String, Path)),
    request_body(content = GroupChange, example = json!({"description": "web front ends", "rename": "web-front"})),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn update(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(group): Path<String>,
    Json(body): Json<GroupChange>,
) -> Result<ApiOk<Value>, ApiError> {
    let g = state
        .services
        .firewall
        .update_group(&actor, &group, body.description.as_deref(), body.rename.as_deref())
        .await?;
    Ok(ApiOk::new(detailed(&g)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyGroup {
    /// The copy's name.
    pub name: String,
}

/// Copies the group (description and rules, in order) under a new name.
#[utoipa::path(post, path = "/api/firewall/groups/{group}/copy", tag = "firewall", params(("group" = String, Path)),
    request_body(content = CopyGroup, example = json!({"name": "web-staging"})), responses((status = 201, body = Envelope<Object>)))]
pub async fn copy(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(group): Path<String>,
    Json(body): Json<CopyGroup>,
) -> Result<ApiOk<Value>, ApiError> {
    let g = state.services.firewall.copy_group(&actor, &group, &body.name).await?;
    Ok(ApiOk::new(detailed(&g)).status(StatusCode::CREATED).message(format!("copied {group} to {}", g.name)))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct ForceQuery {
    /// Detach the group from the servers using it first (needs `remove_firewall_groups`).
    #[serde(default)]
    pub force: bool,
}

/// Deletes the group and its rules; one attached to servers is refused (409 naming them)
/// unless `?force=true`, which detaches it from them first.
#[utoipa::path(delete, path = "/api/firewall/groups/{group}", tag = "firewall", params(("group" = String, Path), ForceQuery),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(group): Path<String>,
    Query(q): Query<ForceQuery>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.firewall.delete_group(&actor, &group, q.force).await?;
    Ok(ApiOk::new(json!({ "deleted": group })).message(format!("security group {group} deleted")))
}

/// Adds a rule (our fields or the old tool's: `protocol`, `port`, `source_ip`, `dest_ip`,
/// `description`) at `position` (default the top), enabled unless `enable: false`.
#[utoipa::path(post, path = "/api/firewall/groups/{group}/rules", tag = "firewall", params(("group" = String, Path)),
    request_body(content = RuleInput, example = json!({"action": "ACCEPT", "macro": "SSH", "source": "10.0.0.0/8", "comment": "admins", "position": 0})),
    responses((status = 201, description = "`data`: the group with the new rule", body = Envelope<Object>)))]
pub async fn add_rule(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(group): Path<String>,
    Query(q): Query<DigestQuery>,
    headers: HeaderMap,
    Json(mut body): Json<RuleInput>,
) -> Result<ApiOk<Value>, ApiError> {
    body.digest = digest(body.digest.as_deref(), &q, &headers);
    let g = state.services.firewall.add_rule(&actor, &group, &body).await?;
    Ok(ApiOk::new(detailed(&g)).status(StatusCode::CREATED).message("rule added"))
}

/// Sets the whole list at once (the editor's Apply): rules kept from the list read carry
/// their `origin` (their `pos` then), new ones none; what is left out is deleted. All rules
/// are checked first (errors name `rules[i].field`); the list is put back if a step fails.
#[utoipa::path(put, path = "/api/firewall/groups/{group}/rules", tag = "firewall", params(("group" = String, Path), DigestQuery),
    request_body(content = model::firewall::RuleList, example = json!({"digest": "…", "rules": [{"origin": 1, "action": "ACCEPT", "macro": "HTTP"}, {"origin": 0, "action": "ACCEPT", "macro": "SSH", "enable": false}, {"action": "ACCEPT", "proto": "tcp", "dport": "8080"}]})),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn replace_rules(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(group): Path<String>,
    Query(q): Query<DigestQuery>,
    headers: HeaderMap,
    Json(mut body): Json<model::firewall::RuleList>,
) -> Result<ApiOk<Value>, ApiError> {
    body.digest = digest(body.digest.as_deref(), &q, &headers);
    if body.dry_run {
        let p = state.services.firewall.preview_rules(&actor, &group, &body).await?;
        return Ok(previewed(p));
    }
    let g = state.services.firewall.replace_rules(&actor, &group, &body).await?;
    Ok(ApiOk::new(detailed(&g)).message(format!("{} rules set", g.rules_count)))
}

/// A preview's answer: the preview as `data`, a message counting what it found.
fn previewed(p: model::firewall::preview::Preview) -> ApiOk<Value> {
    let fresh = p.warnings.iter().filter(|w| !w.already).count();
    let message = format!(
        "preview: {} of {} server(s) change, {} new warning(s); nothing was changed",
        p.affected.len(),
        p.servers.len(),
        fresh
    );
    ApiOk::new(serde_json::to_value(&p).unwrap_or_default()).message(message)
}

/// Changes the rule at `pos`: fields sent replace, fields sent empty (`""`) are cleared.
#[utoipa::path(put, path = "/api/firewall/groups/{group}/rules/{pos}", tag = "firewall",
    params(("group" = String, Path), ("pos" = u32, Path), DigestQuery),
    request_body(content = RuleInput, example = json!({"enable": false, "digest": "…"})), responses((status = 200, body = Envelope<Object>)))]
pub async fn update_rule(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((group, pos)): Path<(String, u32)>,
    Query(q): Query<DigestQuery>,
    headers: HeaderMap,
    Json(mut body): Json<RuleInput>,
) -> Result<ApiOk<Value>, ApiError> {
    body.digest = digest(body.digest.as_deref(), &q, &headers);
    let g = state.services.firewall.update_rule(&actor, &group, pos, &body).await?;
    Ok(ApiOk::new(detailed(&g)).message("rule changed"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRule {
    /// The rule's index once moved.
    pub to: u32,
    #[serde(default)]
    pub digest: Option<String>,
}

/// Moves the rule at `pos` so that it ends at index `to`.
#[utoipa::path(post, path = "/api/firewall/groups/{group}/rules/{pos}/move", tag = "firewall",
    params(("group" = String, Path), ("pos" = u32, Path), DigestQuery),
    request_body(content = MoveRule, example = json!({"to": 0, "digest": "…"})), responses((status = 200, body = Envelope<Object>)))]
pub async fn move_rule(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((group, pos)): Path<(String, u32)>,
    Query(q): Query<DigestQuery>,
    headers: HeaderMap,
    Json(body): Json<MoveRule>,
) -> Result<ApiOk<Value>, ApiError> {
    let d = digest(body.digest.as_deref(), &q, &headers);
    let g = state.services.firewall.move_rule(&actor, &group, pos, body.to, d.as_deref()).await?;
    Ok(ApiOk::new(detailed(&g)).message(format!("rule {pos} moved to {}", body.to)))
}

/// Deletes the rule at `pos` (the old tool's `rule_id`).
#[utoipa::path(delete, path = "/api/firewall/groups/{group}/rules/{pos}", tag = "firewall",
    params(("group" = String, Path), ("pos" = u32, Path), DigestQuery), responses((status = 200, body = Envelope<Object>)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((group, pos)): Path<(String, u32)>,
    Query(q): Query<DigestQuery>,
    headers: HeaderMap,
) -> Result<ApiOk<Value>, ApiError> {
    let d = digest(None, &q, &headers);
    let g = state.services.firewall.delete_rule(&actor, &group, pos, d.as_deref()).await?;
    Ok(ApiOk::new(detailed(&g)).message(format!("rule {pos} deleted")))
}

/// The datacenter firewall: on or off (off: Proxmox enforces no rule anywhere), its policies.
#[utoipa::path(get, path = "/api/firewall/status", tag = "firewall", responses((status = 200, body = Envelope<Object>)))]
pub async fn status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<model::firewall::FirewallStatus>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.status(&actor).await?))
}

/// Proxmox VE's firewall macros (a rule's `macro`).
#[utoipa::path(get, path = "/api/firewall/macros", tag = "firewall", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn macros(CurrentActor(actor): CurrentActor) -> Result<ApiOk<&'static [&'static str]>, ApiError> {
    actor.require_current()?;
    Ok(ApiOk::new(&model::firewall::MACROS[..]))
}

/// The cluster IP sets and aliases a rule's `source` or `dest` may name, with what to write.
#[utoipa::path(get, path = "/api/firewall/refs", tag = "firewall", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn refs(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Vec<model::firewall::FirewallRef>>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.refs(&actor).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assign {
    pub server_names: Vec<String>,
    /// Groups to add after each server's others.
    #[serde(default)]
    pub attach: Option<Vec<String>>,
    /// Groups to remove (`[]`: all of them).
    #[serde(default)]
    pub detach: Option<Vec<String>>,
    /// The exact groups each server gets, in order (`[]`: none).
    #[serde(default)]
    pub replace: Option<Vec<String>>,
    /// Leave the VM firewall and NIC flags on when the last group goes.
    #[serde(default)]
    pub keep_enabled: bool,
    /// Start nothing; answer what the job would do to each server (200, a preview).
    #[serde(default)]
    pub dry_run: bool,
}

/// Attaches, detaches or replaces security groups on servers: a `firewall.assign` job (one
/// item per server). Give exactly one of `attach`, `detach`, `replace`. With `dry_run`, no
/// job: per server, the rules enforced before and after, the difference and warnings.
#[utoipa::path(post, path = "/api/firewall/assign", tag = "firewall",
    request_body(content = Assign, example = json!({"server_names": ["web-1", "web-2"], "attach": ["web"]})),
    responses((status = 202, body = Envelope<Object>), (status = 200, description = "`dry_run`: the preview", body = Envelope<Object>)))]
pub async fn assign(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<Assign>,
) -> Result<Response, ApiError> {
    let (mode, groups) = match (body.attach, body.detach, body.replace) {
        (Some(g), None, None) => (AssignMode::Attach, g),
        (None, Some(g), None) => (AssignMode::Detach, g),
        (None, None, Some(g)) => (AssignMode::Replace, g),
        _ => return Err(domain::Error::validation("attach", "give exactly one of attach, detach or replace").into()),
    };
    if body.dry_run {
        let p = state
            .services
            .firewall
            .preview_assign(&actor, &body.server_names, mode, &groups, body.keep_enabled)
            .await?;
        return Ok(previewed(p).into_response());
    }
    let job = state.services.firewall.assign(&actor, &body.server_names, mode, &groups, body.keep_enabled).await?;
    Ok(queued(&job, format!("security groups: {} server(s)", body.server_names.len())))
}

/// One server's firewall: options, groups attached, the VM's rules, and drift.
#[utoipa::path(get, path = "/api/servers/{name}/firewall", tag = "firewall", params(("name" = String, Path)),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn server_firewall(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<model::firewall::ServerFirewall>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.server_firewall(&actor, &name).await?))
}

/// Changes a server's firewall options (enable, policies, log levels, filters), with the
/// digest they were read with.
#[utoipa::path(put, path = "/api/servers/{name}/firewall/options", tag = "firewall", params(("name" = String, Path)),
    request_body(content = model::firewall::FirewallOptionsChange, example = json!({"enable": true, "policy_in": "DROP", "log_level_in": "info"})),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn set_server_options(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Json(body): Json<model::firewall::FirewallOptionsChange>,
) -> Result<ApiOk<Value>, ApiError> {
    if body.dry_run {
        return Ok(previewed(state.services.firewall.preview_options(&actor, &name, &body).await?));
    }
    let fw = state.services.firewall.set_server_options(&actor, &name, &body).await?;
    Ok(ApiOk::new(serde_json::to_value(&fw).unwrap_or_default()).message("firewall options changed"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FirewallSettings {
    /// Addresses, CIDR networks or ranges SSH (Ansible) and Prometheus come from; `[]`: any
    /// address. Previews warn when tcp/22 or tcp/9100 from them would be dropped.
    pub management_sources: Vec<String>,
}

/// The firewall settings proxfleet keeps (the management sources).
#[utoipa::path(get, path = "/api/firewall/settings", tag = "firewall", responses((status = 200, body = Envelope<Object>)))]
pub async fn settings(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    let list = state.services.firewall.management_sources(&actor).await?;
    Ok(ApiOk::new(json!({"management_sources": list})))
}

/// Sets the management sources (`manage_firewall_groups`).
#[utoipa::path(put, path = "/api/firewall/settings", tag = "firewall",
    request_body(content = FirewallSettings, example = json!({"management_sources": ["192.0.2.0/24"]})),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn set_settings(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<FirewallSettings>,
) -> Result<ApiOk<Value>, ApiError> {
    let list = state.services.firewall.set_management_sources(&actor, &body.management_sources).await?;
    Ok(ApiOk::new(json!({"management_sources": list})).message("firewall settings saved"))
}

/// The old tool's answer once its job is done (or 202 while it still runs).
async fn legacy(state: &AppState, job: Job, done_message: String) -> Result<Response, ApiError> {
    let Some(job) = state.services.firewall.wait(job.id, LEGACY_WAIT).await? else {
        return Ok(queued(&job, "still applying; follow task_id".into()));
    };
    let items = state.services.firewall.job_items(job.id).await?;
    let failed: Vec<Value> = items
        .iter()
        .filter(|i| i.status != "succeeded")
        .map(|i| json!({"name": i.name, "error": i.error.clone().unwrap_or_else(|| i.status.clone())}))
        .collect();
    let (total, bad) = (items.len(), failed.len());
    let summary = json!({"total": total, "success": total - bad, "failed": bad});
    let extra = json!({"task_id": job.id.to_string(), "summary": summary, "failed_servers": failed});
    if total > 0 && bad == total {
        let first = failed.first().and_then(|f| f["error"].as_str()).unwrap_or("failed").to_owned();
        return Err(ApiError::new(StatusCode::BAD_GATEWAY, first).with_details(extra));
    }
    let message = if bad == 0 { done_message } else { format!("{done_message}; {bad} of {total} failed") };
    Ok(answer(
        StatusCode::OK,
        json!({"task_id": job.id, "status": job.status.as_str(), "summary": summary}),
        Some(message),
        extra,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ApplyGroup {
    /// The group (also as `firewall_group`); `none` or `""` removes the server's groups.
    #[serde(alias = "firewall_group")]
    pub security_group: String,
}

async fn set_one(
    state: &AppState,
    actor: &domain::auth::Actor,
    server: String,
    group: &str,
) -> Result<Response, ApiError> {
    let (mode, groups, message) = match group.trim() {
        "" | "none" => (AssignMode::Replace, vec![], format!("security groups removed from {server}")),
        g => (AssignMode::Replace, vec![g.to_owned()], format!("security group {g} applied to {server}")),
    };
    let job = state.services.firewall.assign(actor, &[server], mode, &groups, false).await?;
    legacy(state, job, message).await
}

/// The old tool's apply: the server gets exactly this group (its others are detached); waits
/// up to 30 s for the job, else answers 202 with `task_id`.
#[utoipa::path(post, path = "/api/apply_security_group/{server}", tag = "firewall", params(("server" = String, Path)),
    request_body(content = ApplyGroup, example = json!({"security_group": "web"})), responses((status = 200, body = Envelope<Object>), (status = 202)))]
pub async fn apply(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(server): Path<String>,
    Json(body): Json<ApplyGroup>,
) -> Result<Response, ApiError> {
    set_one(&state, &actor, server, &body.security_group).await
}

/// The same as apply (the old tool only recorded it; this one applies it).
#[utoipa::path(post, path = "/api/assign_firewall_group/{server}", tag = "firewall", params(("server" = String, Path)),
    request_body(content = ApplyGroup, example = json!({"firewall_group": "web"})), responses((status = 200, body = Envelope<Object>), (status = 202)))]
pub async fn assign_one(
    state: State<AppState>,
    actor: CurrentActor,
    server: Path<String>,
    body: Json<ApplyGroup>,
) -> Result<Response, ApiError> {
    apply(state, actor, server, body).await
}

/// Detaches the server's groups and undoes what proxfleet turned on for them.
#[utoipa::path(post, path = "/api/remove_firewall_group/{server}", tag = "firewall", params(("server" = String, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 202)))]
pub async fn remove(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(server): Path<String>,
) -> Result<Response, ApiError> {
    set_one(&state, &actor, server, "none").await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignBulk {
    pub server_names: Vec<String>,
    /// The group (also as `firewall_group`); `none` removes.
    #[serde(alias = "firewall_group")]
    pub security_group: String,
}

/// The old tool's bulk apply: every server gets exactly this group (`none` removes); answers
/// `summary` and `failed_servers` once the job is done (202 with `task_id` after 30 s).
#[utoipa::path(post, path = "/api/firewall/assign_bulk", tag = "firewall",
    request_body(content = AssignBulk, example = json!({"server_names": ["web-1", "web-2"], "security_group": "web"})),
    responses((status = 200, body = Envelope<Object>), (status = 202)))]
pub async fn assign_bulk(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<AssignBulk>,
) -> Result<Response, ApiError> {
    let groups = match body.security_group.trim() {
        "" | "none" => vec![],
        g => vec![g.to_owned()],
    };
    let job = state.services.firewall.assign(&actor, &body.server_names, AssignMode::Replace, &groups, false).await?;
    let n = body.server_names.len();
    let message = if groups.is_empty() {
        format!("security groups removed from {n} server(s)")
    } else {
        format!("security group {} applied to {n} server(s)", groups[0])
    };
    legacy(&state, job, message).await
}

/// Cluster IP sets with their entries and the groups whose rules name them.
#[utoipa::path(get, path = "/api/firewall/ipsets", tag = "firewall", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn ipsets(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Vec<model::firewall::IpSet>>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.ipsets(&actor).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSet {
    /// 2–64 characters: a letter, then letters, digits, `-`, `_`.
    pub name: String,
    #[serde(default)]
    pub comment: String,
}

/// Creates an empty IP set.
#[utoipa::path(post, path = "/api/firewall/ipsets", tag = "firewall", request_body(content = NewSet, example = json!({"name": "mgmt", "comment": "admin networks"})),
    responses((status = 201, body = Envelope<Object>)))]
pub async fn create_ipset(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<NewSet>,
) -> Result<ApiOk<model::firewall::IpSet>, ApiError> {
    let set = state.services.firewall.create_ipset(&actor, &body.name, &body.comment).await?;
    Ok(ApiOk::new(set).status(StatusCode::CREATED))
}

/// One IP set.
#[utoipa::path(get, path = "/api/firewall/ipsets/{name}", tag = "firewall", params(("name" = String, Path)), responses((status = 200, body = Envelope<Object>)))]
pub async fn ipset(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<model::firewall::IpSet>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.ipset(&actor, &name).await?))
}

/// Deletes an IP set and its entries; one that rules still name is refused (409 naming the groups).
#[utoipa::path(delete, path = "/api/firewall/ipsets/{name}", tag = "firewall", params(("name" = String, Path)), responses((status = 200, body = Envelope<Object>)))]
pub async fn delete_ipset(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.firewall.delete_ipset(&actor, &name).await?;
    Ok(ApiOk::new(json!({ "deleted": name })))
}

/// Adds an address, a network or an alias to the set (`nomatch`: excluded).
#[utoipa::path(post, path = "/api/firewall/ipsets/{name}/entries", tag = "firewall", params(("name" = String, Path)),
    request_body(content = model::firewall::IpSetEntry, example = json!({"cidr": "10.20.0.0/24", "comment": "office"})),
    responses((status = 201, body = Envelope<Object>)))]
pub async fn add_ipset_entry(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Json(body): Json<model::firewall::IpSetEntry>,
) -> Result<ApiOk<model::firewall::IpSet>, ApiError> {
    let set = state.services.firewall.add_ipset_entry(&actor, &name, &body).await?;
    Ok(ApiOk::new(set).status(StatusCode::CREATED))
}

/// Removes an entry (`10.20.0.0/24` sent as `10.20.0.0%2F24`).
#[utoipa::path(delete, path = "/api/firewall/ipsets/{name}/entries/{cidr}", tag = "firewall", params(("name" = String, Path), ("cidr" = String, Path)),
    responses((status = 200, body = Envelope<Object>)))]
pub async fn remove_ipset_entry(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((name, cidr)): Path<(String, String)>,
) -> Result<ApiOk<model::firewall::IpSet>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.remove_ipset_entry(&actor, &name, &cidr).await?))
}

/// Cluster aliases with the groups whose rules name them.
#[utoipa::path(get, path = "/api/firewall/aliases", tag = "firewall", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn aliases(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Vec<model::firewall::Alias>>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.aliases(&actor).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    /// On create: 2–64 characters, a letter first.
    #[serde(default)]
    pub name: Option<String>,
    /// One address or network.
    pub cidr: String,
    #[serde(default)]
    pub comment: String,
}

/// Creates an alias.
#[utoipa::path(post, path = "/api/firewall/aliases", tag = "firewall", request_body(content = AliasBody, example = json!({"name": "office", "cidr": "192.168.10.0/24"})),
    responses((status = 201, body = Envelope<Object>)))]
pub async fn create_alias(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<AliasBody>,
) -> Result<ApiOk<model::firewall::Alias>, ApiError> {
    let name = body.name.clone().unwrap_or_default();
    let alias = state.services.firewall.put_alias(&actor, &name, &body.cidr, &body.comment, true).await?;
    Ok(ApiOk::new(alias).status(StatusCode::CREATED))
}

/// Changes an alias's address and comment.
#[utoipa::path(put, path = "/api/firewall/aliases/{name}", tag = "firewall", params(("name" = String, Path)),
    request_body(content = AliasBody, example = json!({"cidr": "192.168.11.0/24"})), responses((status = 200, body = Envelope<Object>)))]
pub async fn update_alias(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Json(body): Json<AliasBody>,
) -> Result<ApiOk<model::firewall::Alias>, ApiError> {
    Ok(ApiOk::new(state.services.firewall.put_alias(&actor, &name, &body.cidr, &body.comment, false).await?))
}

/// Deletes an alias no rule names (409 naming the groups otherwise).
#[utoipa::path(delete, path = "/api/firewall/aliases/{name}", tag = "firewall", params(("name" = String, Path)), responses((status = 200, body = Envelope<Object>)))]
pub async fn delete_alias(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.firewall.delete_alias(&actor, &name).await?;
    Ok(ApiOk::new(json!({ "deleted": name })))
}
