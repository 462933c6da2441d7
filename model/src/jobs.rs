//! Jobs and notifications as both doors and the pages show them. A job's parameters may hold
//! a secret (a cloud-init password) for the job's own use: serialising masks every key that
//! contains "password", so no answer, page or event ever carries one.
//!
//! Free-form JSON (a job's parameters and results) is not read back when these types are
//! deserialised: the pages never show it, and skipping it keeps serde_json's `Value` parser
//! out of the browser build (it is a few per cent of the WASM).

use serde::{Deserialize, Serialize};

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
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::PartiallyFailed,
        JobStatus::Cancelled,
    ];

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
        Self::ALL.into_iter().find(|v| v.as_str() == s)
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
    #[serde(serialize_with = "redacted", skip_deserializing)]
    pub params: serde_json::Value,
    #[serde(skip_deserializing)]
    pub owner_id: Option<i64>,
    pub owner: String,
    pub status: JobStatus,
    pub progress: i64,
    /// What it is doing now (or did last).
    pub step: String,
    #[serde(skip_deserializing)]
    pub steps_done: i64,
    #[serde(skip_deserializing)]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
    #[serde(skip_deserializing)]
    pub attempts: i64,
    #[serde(skip_deserializing)]
    pub cancel_requested: bool,
    /// The job whose failed items this one retries.
    #[serde(skip_deserializing)]
    pub retry_of: Option<i64>,
    #[serde(skip_deserializing)]
    pub lease_owner: Option<String>,
    pub created_at: i64,
    #[serde(skip_deserializing)]
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    #[serde(skip_deserializing)]
    pub updated_at: i64,
}

/// One server of a bulk job (or one unit of work).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobItem {
    pub position: i64,
    pub name: String,
    /// queued, running, succeeded, failed, cancelled
    pub status: String,
    #[serde(skip_deserializing)]
    pub result: Option<serde_json::Value>,
    pub error: Option<String>,
}

impl JobItem {
    /// Its status, when it is one of the job statuses (items use queued, running, succeeded,
    /// failed and cancelled).
    pub fn state(&self) -> Option<JobStatus> {
        JobStatus::parse(&self.status)
    }

    /// Failed or cancelled: a retry would do it again.
    pub fn needs_retry(&self) -> bool {
        matches!(self.state(), Some(JobStatus::Failed | JobStatus::Cancelled))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    pub at: i64,
    pub level: String,
    pub item: Option<String>,
    pub line: String,
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

/// A job with its items and log, as the detail view and `GET /api/jobs/{id}` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    #[serde(flatten)]
    pub job: Job,
    pub items: Vec<JobItem>,
    pub log: Vec<LogLine>,
}

/// A job as its page shows it: the job, its items and log, and what the viewer may do with it.
/// (Not a `JobDetail`: its flattened job would pull serde's buffering deserialiser into the
/// browser build.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub job: Job,
    pub items: Vec<JobItem>,
    pub log: Vec<LogLine>,
    pub can_cancel: bool,
    pub can_retry: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Success,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Success => "success",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Anything unknown reads as `info`.
    pub fn parse(s: &str) -> Severity {
        match s {
            "success" => Severity::Success,
            "warning" => Severity::Warning,
            "error" => Severity::Error,
            _ => Severity::Info,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: i64,
    /// `None`: a broadcast.
    #[serde(skip_deserializing)]
    pub user_id: Option<i64>,
    /// What it is about: `job`, `login`, `password`, `test`, …
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub message: String,
    /// Longer text, e.g. a job's log.
    pub details: String,
    pub severity: Severity,
    #[serde(skip_deserializing)]
    pub job_id: Option<i64>,
    pub created_at: i64,
    /// For the reader asking.
    pub is_read: bool,
}
