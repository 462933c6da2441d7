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

pub use limits::{KeyedLimits, Permit};
pub use runner::{
    wait_finished, FnHandler, HandlerFuture, ItemRecorder, JobContext, JobHandler, JobRunner, RunnerConfig,
    RunnerHandle, StepOutcome, Stop,
};
pub use service::{JobService, QueueStatus};
pub use store::{JobFilter, JobStore};

pub use model::jobs::{Job, JobDetail, JobItem, JobStatus, LogLine};

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
