//! Durable jobs: everything long in proxfleet (create, bulk actions, backups, Ansible runs)
//! runs as a job stored in the database, so a restart or a second instance never loses one.
//!
//! - `store`: the tables and the claim with a lease.
//! - `runner`: the worker pool, heartbeats, resumption after a crash, cancellation.
//! - `limits`: concurrency limits by key ("at most 2 clones per storage").
//!
//! Handlers are written as numbered, idempotent steps (`JobContext::step`): a job resumed by
//! another instance skips the steps already recorded as done.

pub mod limits;
pub mod runner;
pub mod service;
pub mod store;

use serde::{Deserialize, Serialize};

pub use limits::KeyedLimits;
pub use runner::{
    wait_finished, FnHandler, HandlerFuture, ItemRecorder, JobContext, JobHandler, JobRunner, RunnerConfig,
    RunnerHandle, StepOutcome, Stop,
};
pub use service::{JobDetail, JobService, QueueStatus};
pub use store::{JobFilter, JobStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    PartiallyFailed,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::PartiallyFailed => "partially_failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        [Self::Queued, Self::Running, Self::Succeeded, Self::Failed, Self::PartiallyFailed, Self::Cancelled]
            .into_iter()
            .find(|v| v.as_str() == s)
    }

    pub fn is_finished(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }

    /// The old tool's task states, which its scripts poll: pending, running, completed, failed.
    pub fn legacy(self) -> &'static str {
        match self {
            JobStatus::Queued => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "completed",
            JobStatus::Failed | JobStatus::PartiallyFailed | JobStatus::Cancelled => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    /// Secrets in parameters (a cloud-init password) are stored for the job's own use but
    /// never shown: serialising masks every key containing "password".
    #[serde(serialize_with = "redacted")]
    pub params: serde_json::Value,
    pub owner_id: Option<i64>,
    pub owner: String,
    pub status: JobStatus,
    pub progress: i64,
    /// What it is doing now (or did last).
    pub step: String,
    pub steps_done: i64,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    pub attempts: i64,
    pub cancel_requested: bool,
    /// The job whose failed items this one retries.
    pub retry_of: Option<i64>,
    pub lease_owner: Option<String>,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub updated_at: i64,
}

/// One server of a bulk job (or one unit of work).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub position: i64,
    pub name: String,
    /// queued, running, succeeded, failed, cancelled
    pub status: String,
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: i64,
    pub level: String,
    pub item: Option<String>,
    pub line: String,
}

/// A job to enqueue.
#[derive(Debug, Clone, Default)]
pub struct NewJob {
    pub kind: String,
    pub params: serde_json::Value,
    pub owner_id: Option<i64>,
    pub owner: String,
    /// Item names, e.g. the servers of a bulk action.
    pub items: Vec<String>,
    pub retry_of: Option<i64>,
}

fn redacted<S: serde::Serializer>(params: &serde_json::Value, s: S) -> std::result::Result<S::Ok, S::Error> {
    fn mask(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| {
                    let masked = if k.contains("password") && !v.is_null() {
                        serde_json::Value::String("********".into())
                    } else {
                        mask(v)
                    };
                    (k.clone(), masked)
                })
                .collect(),
            serde_json::Value::Array(items) => items.iter().map(mask).collect(),
            other => other.clone(),
        }
    }
    mask(params).serialize(s)
}
