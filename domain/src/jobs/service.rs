//! Jobs as users see them: who may read, cancel and retry which job, the old tool's task
//! shape, the queue summary, and the built-in test jobs.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;

use super::runner::{FnHandler, JobRunner, StepOutcome, Stop};
use super::store::{JobFilter, JobStore};
use super::{Job, JobDetail, JobStatus, NewJob};
use crate::auth::{Actor, Permission};
use crate::{clock, Error, Result};

/// The queue at a glance (`/api/celery/status`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueStatus {
    pub workers: usize,
    pub queued: i64,
    pub running: i64,
    pub failed_last_hour: i64,
}

#[derive(Debug, Clone)]
pub struct JobService {
    store: JobStore,
    wake: Arc<Notify>,
    workers: usize,
}

impl JobService {
    pub fn new(store: JobStore, workers: usize) -> Self {
        JobService { store, wake: Arc::new(Notify::new()), workers }
    }

    pub fn store(&self) -> &JobStore {
        &self.store
    }

    /// The signal the runner's idle workers wait on.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Enqueues a job owned by `actor` and wakes a worker.
    pub async fn enqueue(
        &self,
        actor: &Actor,
        kind: &str,
        params: serde_json::Value,
        items: Vec<String>,
    ) -> Result<Job> {
        let job = self
            .store
            .enqueue(&NewJob {
                kind: kind.into(),
                params,
                owner_id: Some(actor.user_id),
                owner: actor.username.clone(),
                items,
                retry_of: None,
            })
            .await?;
        self.wake.notify_one();
        Ok(job)
    }

    /// The admin-only test jobs of the seed API: one that succeeds, one that fails.
    pub async fn start_test(&self, actor: &Actor, fail: bool) -> Result<Job> {
        actor.require(Permission::ManageUsers)?;
        self.enqueue(actor, if fail { TEST_ERROR } else { TEST_SIMPLE }, json!({}), Vec::new()).await
    }

    fn visible(actor: &Actor, job: &Job) -> bool {
        job.owner_id == Some(actor.user_id) || actor.has(Permission::ViewAll)
    }

    /// A job the actor may see; someone else's private job looks like no job at all.
    pub async fn get(&self, actor: &Actor, id: i64) -> Result<JobDetail> {
        let job = self
            .store
            .get(id)
            .await?
            .filter(|j| Self::visible(actor, j))
            .ok_or_else(|| Error::NotFound(format!("no job {id}")))?;
        Ok(JobDetail { items: self.store.items(id).await?, log: self.store.logs(id).await?, job })
    }

    pub async fn list(
        &self,
        actor: &Actor,
        mut filter: JobFilter,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<Job>, i64)> {
        if !actor.has(Permission::ViewAll) {
            filter.owner_id = Some(actor.user_id);
        }
        self.store.list(&filter, page, per_page).await
    }

    /// Job kinds to offer as a filter (kind names are code constants, not anyone's data).
    pub async fn kinds(&self) -> Result<Vec<String>> {
        self.store.kinds().await
    }

    /// Cancels a queued or running job: its owner or an admin.
    pub async fn cancel(&self, actor: &Actor, id: i64) -> Result<Job> {
        let detail = self.get(actor, id).await?;
        if detail.job.owner_id != Some(actor.user_id) && !actor.has(Permission::ManageUsers) {
            return Err(Error::Forbidden("only the job's owner or an admin can cancel it".into()));
        }
        if !self.store.request_cancel(id).await? {
            return Err(Error::Conflict(format!("job {id} has already {}", detail.job.status.as_str())));
        }
        self.store.get(id).await?.ok_or_else(|| Error::NotFound(format!("no job {id}")))
    }

    /// Retries the failed items of a finished job as a new job owned by the caller.
    pub async fn retry(&self, actor: &Actor, id: i64) -> Result<Job> {
        let detail = self.get(actor, id).await?;
        if detail.job.owner_id != Some(actor.user_id) && !actor.has(Permission::ManageUsers) {
            return Err(Error::Forbidden("only the job's owner or an admin can retry it".into()));
        }
        let job = self.store.retry_failed_items(id, Some(actor.user_id), &actor.username).await?;
        self.wake.notify_one();
        Ok(job)
    }

    pub async fn queue_status(&self, actor: &Actor) -> Result<QueueStatus> {
        actor.require(Permission::ViewAll)?;
        let (queued, running, failed) = self.store.counts(clock::now_ms() - 3_600_000).await?;
        Ok(QueueStatus { workers: self.workers, queued, running, failed_last_hour: failed })
    }
}

pub const TEST_SIMPLE: &str = "test.simple";
pub const TEST_ERROR: &str = "test.error";

/// Registers the built-in test jobs on a runner.
pub fn register_test_jobs(runner: JobRunner) -> JobRunner {
    runner
        .register(FnHandler::new(TEST_SIMPLE, |ctx| {
            Box::pin(async move {
                ctx.plan(3);
                for step in ["prepare", "work", "finish"] {
                    ctx.step(step, || async {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        Ok(())
                    })
                    .await?;
                }
                Ok(StepOutcome { result: Some(json!({"message": "test job finished"})) })
            })
        }))
        .register(FnHandler::new(TEST_ERROR, |ctx| {
            Box::pin(async move {
                ctx.plan(2);
                ctx.step("prepare", || async { Ok(()) }).await?;
                ctx.step("fail", || async { Err("simulated error (test job)".to_owned()) }).await?;
                Err(Stop::Failed("unreachable".into()))
            })
        }))
}

/// The old tool's task shape, which its scripts poll.
pub fn legacy_task(job: &Job) -> serde_json::Value {
    let mut v = json!({
        "task_id": job.id.to_string(),
        "status": job.status.legacy(),
        "progress": job.progress,
        "message": if job.step.is_empty() { job.status.as_str().to_owned() } else { job.step.clone() },
    });
    match job.status {
        JobStatus::Succeeded => v["result"] = job.result.clone().unwrap_or(json!({})),
        s if s.is_finished() => v["error"] = json!(job.error.clone().unwrap_or_else(|| s.as_str().to_owned())),
        _ => {}
    }
    v
}
