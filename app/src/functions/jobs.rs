//! Jobs and notifications for the pages: each call takes the acting user from the request and
//! calls the domain service, which decides what they may see and do.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub owner: String,
    pub status: String,
    pub progress: i64,
    pub step: String,
    pub error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub job: JobRow,
    pub items: Vec<(String, String, Option<String>)>,
    pub log: Vec<(i64, String, String)>,
    pub can_cancel: bool,
    pub can_retry: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoteRow {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub message: String,
    pub details: String,
    pub severity: String,
    pub is_read: bool,
    pub created_at: i64,
}

#[cfg(feature = "ssr")]
mod door {
    pub use crate::functions::door::{actor, fail, services, signed_in};

    pub fn row(j: domain::jobs::Job) -> super::JobRow {
        super::JobRow {
            id: j.id,
            kind: j.kind,
            owner: j.owner,
            status: j.status.as_str().to_owned(),
            progress: j.progress,
            step: j.step,
            error: j.error,
            created_at: j.created_at,
            finished_at: j.finished_at,
        }
    }
}

#[server(prefix = "/sfn", endpoint = "list_jobs")]
pub async fn list_jobs(status: String, kind: String, owner: String) -> Result<Vec<JobRow>, ServerFnError> {
    let status = domain::jobs::JobStatus::parse(&status);
    let filter = domain::jobs::JobFilter { status, kind: Some(kind), owner: Some(owner), owner_id: None };
    let (jobs, _) = door::services()?.jobs.list(&door::actor()?, filter, 1, 100).await.map_err(door::fail)?;
    Ok(jobs.into_iter().map(door::row).collect())
}

/// The newest `limit` jobs the user may see (the dashboard's "recent jobs").
#[server(prefix = "/sfn", endpoint = "recent_jobs")]
pub async fn recent_jobs(limit: u32) -> Result<Vec<JobRow>, ServerFnError> {
    let filter = domain::jobs::JobFilter::default();
    let (jobs, _) =
        door::services()?.jobs.list(&door::actor()?, filter, 1, limit.clamp(1, 50)).await.map_err(door::fail)?;
    Ok(jobs.into_iter().map(door::row).collect())
}

/// Job kinds for the filter.
#[server(prefix = "/sfn", endpoint = "job_kinds")]
pub async fn job_kinds() -> Result<Vec<String>, ServerFnError> {
    door::actor()?;
    door::services()?.jobs.kinds().await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "job_view")]
pub async fn load_job(id: i64) -> Result<JobView, ServerFnError> {
    let actor = door::actor()?;
    let d = door::services()?.jobs.get(&actor, id).await.map_err(door::fail)?;
    let mine = d.job.owner_id == Some(actor.user_id) || actor.has(domain::auth::Permission::ManageUsers);
    let failed_items = d.items.iter().any(|i| i.status == "failed" || i.status == "cancelled");
    Ok(JobView {
        can_cancel: mine && !d.job.status.is_finished(),
        can_retry: mine && d.job.status.is_finished() && failed_items,
        items: d.items.into_iter().map(|i| (i.name, i.status, i.error)).collect(),
        log: d.log.into_iter().map(|l| (l.at, l.level, l.line)).collect(),
        job: door::row(d.job),
    })
}

#[server(prefix = "/sfn", endpoint = "cancel_job")]
pub async fn cancel_job(id: i64) -> Result<(), ServerFnError> {
    door::services()?.jobs.cancel(&door::actor()?, id).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "retry_job")]
pub async fn retry_job(id: i64) -> Result<i64, ServerFnError> {
    door::services()?.jobs.retry(&door::actor()?, id).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "start_test_job")]
pub async fn start_test_job(fail: bool) -> Result<i64, ServerFnError> {
    door::services()?.jobs.start_test(&door::actor()?, fail).await.map(|j| j.id).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "list_notifications")]
pub async fn list_notifications(limit: u32) -> Result<Vec<NoteRow>, ServerFnError> {
    let (items, _) =
        door::services()?.notifications.list(&door::actor()?, 1, limit.clamp(1, 100)).await.map_err(door::fail)?;
    Ok(items
        .into_iter()
        .map(|n| NoteRow {
            id: n.id,
            kind: n.kind,
            title: n.title,
            message: n.message,
            details: n.details,
            severity: n.severity.as_str().to_owned(),
            is_read: n.is_read,
            created_at: n.created_at,
        })
        .collect())
}

#[server(prefix = "/sfn", endpoint = "unread_notifications")]
pub async fn unread_notifications() -> Result<i64, ServerFnError> {
    let Some(actor) = door::signed_in() else { return Ok(0) };
    door::services()?.notifications.unread_count(&actor).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "read_notification")]
pub async fn read_notification(id: i64) -> Result<(), ServerFnError> {
    door::services()?.notifications.mark_read(&door::actor()?, id).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "delete_notification")]
pub async fn delete_notification(id: i64) -> Result<(), ServerFnError> {
    door::services()?.notifications.delete(&door::actor()?, id).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "clear_notifications")]
pub async fn clear_notifications() -> Result<usize, ServerFnError> {
    door::services()?.notifications.clear_all(&door::actor()?).await.map_err(door::fail)
}
