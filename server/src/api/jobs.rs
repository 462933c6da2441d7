//! Jobs: the old tool's task endpoints (its scripts poll them) and proxfleet's own job list,
//! detail, cancel and retry. Visibility and rights are checked in `domain::jobs::service`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use domain::jobs::service::legacy_task;
use domain::jobs::{Job, JobDetail, JobFilter, JobStatus, QueueStatus};

use super::envelope::{ApiOk, Envelope, Pagination};
use super::extract::{PageParams, Path, Query};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// The old tool's task object, at the top level (where its scripts read it) and under `data`.
fn legacy(job: &Job) -> Response {
    let task = legacy_task(job);
    let mut body = json!({ "success": true, "data": task.clone() });
    if let (Some(obj), Some(t)) = (body.as_object_mut(), task.as_object()) {
        for (k, v) in t {
            obj.insert(k.clone(), v.clone());
        }
    }
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn task_id(text: &str) -> Result<i64, ApiError> {
    text.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("task_id {text:?} is not a job id")))
}

/// A task's state in the old tool's shape: `pending|running|completed|failed`.
#[utoipa::path(get, path = "/api/tasks/{task_id}/status", tag = "jobs", params(("task_id" = String, Path)),
    responses((status = 200, description = "{task_id, status, progress, message, result|error}"), (status = 404, description = "No such job of yours")))]
pub async fn task_status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let detail = state.services.jobs.get(&actor, task_id(&id)?).await?;
    Ok(legacy(&detail.job))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TaskQuery {
    pub task_id: Option<String>,
}

/// The same, with the id as `?task_id=`; without it, the caller's unfinished tasks.
#[utoipa::path(get, path = "/api/tasks/status", tag = "jobs", params(TaskQuery),
    responses((status = 200, description = "One task, or {tasks: {id: task}} of unfinished ones")))]
pub async fn tasks_status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(q): Query<TaskQuery>,
) -> Result<Response, ApiError> {
    if let Some(id) = q.task_id {
        let detail = state.services.jobs.get(&actor, task_id(&id)?).await?;
        return Ok(legacy(&detail.job));
    }
    let mut tasks = serde_json::Map::new();
    for status in [JobStatus::Queued, JobStatus::Running] {
        let filter = JobFilter { status: Some(status), ..Default::default() };
        let (jobs, _) = state.services.jobs.list(&actor, filter, 1, 500).await?;
        for j in jobs {
            tasks.insert(j.id.to_string(), legacy_task(&j));
        }
    }
    Ok(ApiOk::new(json!({ "tasks": tasks })).into_response())
}

/// Worker settings (the old tool's `max_concurrent_tasks` / `task_timeout`).
#[utoipa::path(get, path = "/api/tasks/config", tag = "jobs", responses((status = 200, body = Envelope<Value>)))]
pub async fn tasks_config(State(state): State<AppState>, _actor: CurrentActor) -> ApiOk<Value> {
    ApiOk::new(json!({ "config": { "max_concurrent_tasks": state.services.jobs.workers(), "task_timeout": 3600 } }))
}

/// Workers, queue depth, running jobs, failures in the last hour.
#[utoipa::path(get, path = "/api/celery/status", tag = "jobs", responses((status = 200, body = Envelope<Value>)))]
pub async fn queue_status(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<QueueStatus>, ApiError> {
    Ok(ApiOk::new(state.services.jobs.queue_status(&actor).await?))
}

/// Starts the test job that succeeds (admin).
#[utoipa::path(post, path = "/api/test/simple", tag = "jobs", responses((status = 202, description = "{task_id}")))]
pub async fn test_simple(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    let job = state.services.jobs.start_test(&actor, false).await?;
    Ok(ApiOk::new(json!({ "task_id": job.id.to_string() })).status(StatusCode::ACCEPTED).message("test job queued"))
}

/// Starts the test job that fails (admin).
#[utoipa::path(post, path = "/api/test/error", tag = "jobs", responses((status = 202, description = "{task_id}")))]
pub async fn test_error(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    let job = state.services.jobs.start_test(&actor, true).await?;
    Ok(ApiOk::new(json!({ "task_id": job.id.to_string() }))
        .status(StatusCode::ACCEPTED)
        .message("failing test job queued"))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct JobQuery {
    /// queued, running, succeeded, failed, partially_failed, cancelled
    pub status: Option<String>,
    pub kind: Option<String>,
    /// Owner's user id (only with view_all; others always see their own).
    pub owner_id: Option<i64>,
    /// Owner's username (only with view_all).
    pub owner: Option<String>,
}

/// Jobs, newest first: your own, or everyone's with `view_all`.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs", params(PageParams, JobQuery), responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(pages): Query<PageParams>,
    Query(q): Query<JobQuery>,
) -> Result<ApiOk<Vec<Job>>, ApiError> {
    let (page, per_page) = pages.resolve()?;
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
            ApiError::new(StatusCode::BAD_REQUEST, format!("unknown status {s:?}"))
                .with_details(json!({"field": "status"}))
        })?),
        None => None,
    };
    let filter = JobFilter { status, kind: q.kind, owner_id: q.owner_id, owner: q.owner };
    let (jobs, total) = state.services.jobs.list(&actor, filter, page, per_page).await?;
    Ok(ApiOk::new(jobs).paginated(Pagination::new(page, per_page, u64::try_from(total).unwrap_or(0))))
}

/// One job with its items and log.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs", params(("id" = i64, Path)), responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<JobDetail>, ApiError> {
    Ok(ApiOk::new(state.services.jobs.get(&actor, id).await?))
}

/// Cancels a queued job at once, a running one at its next step (owner or admin).
#[utoipa::path(post, path = "/api/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 409, description = "Already finished")))]
pub async fn cancel(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<Job>, ApiError> {
    Ok(ApiOk::new(state.services.jobs.cancel(&actor, id).await?).message("cancellation requested"))
}

/// Retries the failed items of a finished job as a new job linked to it.
#[utoipa::path(post, path = "/api/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 202, body = Envelope<Object>), (status = 409, description = "Nothing to retry")))]
pub async fn retry(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<Job>, ApiError> {
    Ok(ApiOk::new(state.services.jobs.retry(&actor, id).await?).status(StatusCode::ACCEPTED).message("retry queued"))
}
