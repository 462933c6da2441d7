//! Jobs and notifications for the pages: each call takes the acting user from the request and
//! calls the domain service, which decides what they may see and do.

use leptos::prelude::*;
use model::jobs::{Job, JobView, Notification};
use model::AppError;

#[cfg(feature = "ssr")]
use crate::functions::door;

#[server(prefix = "/sfn", endpoint = "list_jobs")]
pub async fn list_jobs(status: String, kind: String, owner: String) -> Result<Vec<Job>, AppError> {
    let status = domain::jobs::JobStatus::parse(&status);
    let filter = domain::jobs::JobFilter { status, kind: Some(kind), owner: Some(owner), owner_id: None };
    let (jobs, _) = door::services()?.jobs.list(&door::actor()?, filter, 1, 100).await.map_err(door::fail)?;
    Ok(jobs)
}

/// The newest `limit` jobs the user may see (the dashboard's "recent jobs").
#[server(prefix = "/sfn", endpoint = "recent_jobs")]
pub async fn recent_jobs(limit: u32) -> Result<Vec<Job>, AppError> {
    let filter = domain::jobs::JobFilter::default();
    let (jobs, _) =
        door::services()?.jobs.list(&door::actor()?, filter, 1, limit.clamp(1, 50)).await.map_err(door::fail)?;
    Ok(jobs)
}

/// Job kinds for the filter.
#[server(prefix = "/sfn", endpoint = "job_kinds")]
pub async fn job_kinds() -> Result<Vec<String>, AppError> {
    door::actor()?;
    door::services()?.jobs.kinds().await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "job_view")]
pub async fn load_job(id: i64) -> Result<JobView, AppError> {
    let actor = door::actor()?;
    let d = door::services()?.jobs.get(&actor, id).await.map_err(door::fail)?;
    let mine = d.job.owner_id == Some(actor.user_id) || actor.has(domain::auth::Permission::ManageUsers);
    let failed_items = d.items.iter().any(|i| i.needs_retry());
    Ok(JobView {
        can_cancel: mine && !d.job.status.is_finished(),
        can_retry: mine && d.job.status.is_finished() && failed_items,
        job: d.job,
        items: d.items,
        log: d.log,
    })
}

#[server(prefix = "/sfn", endpoint = "cancel_job")]
pub async fn cancel_job(id: i64) -> Result<(), AppError> {
    door::services()?.jobs.cancel(&door::actor()?, id).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "retry_job")]
pub async fn retry_job(id: i64) -> Result<i64, AppError> {
    door::services()?.jobs.retry(&door::actor()?, id).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "start_test_job")]
pub async fn start_test_job(fail: bool) -> Result<i64, AppError> {
    door::services()?.jobs.start_test(&door::actor()?, fail).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "list_notifications")]
pub async fn list_notifications(limit: u32) -> Result<Vec<Notification>, AppError> {
    let (items, _) =
        door::services()?.notifications.list(&door::actor()?, 1, limit.clamp(1, 100)).await.map_err(door::fail)?;
    Ok(items)
}

#[server(prefix = "/sfn", endpoint = "unread_notifications")]
pub async fn unread_notifications() -> Result<i64, AppError> {
    let Some(actor) = door::signed_in() else { return Ok(0) };
    door::services()?.notifications.unread_count(&actor).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "read_notification")]
pub async fn read_notification(id: i64) -> Result<(), AppError> {
    door::services()?.notifications.mark_read(&door::actor()?, id).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_notification")]
pub async fn delete_notification(id: i64) -> Result<(), AppError> {
    door::services()?.notifications.delete(&door::actor()?, id).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "clear_notifications")]
pub async fn clear_notifications() -> Result<usize, AppError> {
    door::services()?.notifications.clear_all(&door::actor()?).await.map_err(door::fail)
}
