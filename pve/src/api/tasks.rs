//! Tasks: status, log, stop, and waiting for one to finish. A task succeeded only when its
//! `exitstatus` is `OK` or `WARNINGS: n`; anything else is its error message.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::seg;
use crate::client::PveClient;
use crate::de;
use crate::error::{ErrorKind, PveError};
use crate::params::{Method, Params, Request};
use crate::upid::Upid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskStatus {
    pub upid: String,
    pub node: String,
    /// `running` or `stopped`.
    pub status: String,
    #[serde(default)]
    pub exitstatus: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    pub user: String,
    #[serde(deserialize_with = "de::u64")]
    pub starttime: u64,
}

impl TaskStatus {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    /// `Some(Ok)` for OK/WARNINGS, `Some(Err(message))` for a failed task, `None` while running.
    pub fn outcome(&self) -> Option<Result<(), String>> {
        if self.is_running() {
            return None;
        }
        let exit = self.exitstatus.clone().unwrap_or_else(|| "unexpected status".into());
        Some(if exit == "OK" || exit.starts_with("WARNINGS: ") { Ok(()) } else { Err(exit) })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    #[serde(deserialize_with = "de::u64")]
    pub n: u64,
    pub t: String,
}

/// One entry of a node's task history (`GET /nodes/{node}/tasks`). `status` is the exit status
/// (`OK`, `WARNINGS: n` or the error) for a finished task and `RUNNING` (or absent) while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEntry {
    pub upid: String,
    pub node: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    pub user: String,
    #[serde(deserialize_with = "de::u64")]
    pub starttime: u64,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub endtime: Option<u64>,
    #[serde(default)]
    pub status: Option<String>,
}

impl TaskEntry {
    /// `Some(true)` for OK/WARNINGS, `Some(false)` for a failed task, `None` while running.
    pub fn succeeded(&self) -> Option<bool> {
        let exit = self.status.as_deref()?;
        if exit.eq_ignore_ascii_case("running") {
            return None;
        }
        Some(exit == "OK" || exit.starts_with("WARNINGS: "))
    }
}

/// Which tasks a history read covers (`source`): PVE's default is only finished ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskSource {
    Archive,
    Active,
    All,
}

impl TaskSource {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskSource::Archive => "archive",
            TaskSource::Active => "active",
            TaskSource::All => "all",
        }
    }
}

/// A node's task history, newest first: `vmid` narrows it to one guest.
pub fn list(node: &str, vmid: Option<u32>, source: TaskSource, start: u64, limit: u64) -> Request {
    let p = Params::new()
        .str("node", node)
        .opt_int("vmid", vmid.map(i64::from))
        .str("source", source.as_str())
        .int("start", i64::try_from(start).unwrap_or(0))
        .int("limit", i64::try_from(limit).unwrap_or(50));
    Request::new(Method::Get, "/nodes/{node}/tasks", format!("/nodes/{}/tasks", seg(node))).with(p)
}

// Task calls go to the node in the UPID, not to the node the action was sent to.
fn task_path(upid: &Upid, rest: &str) -> String {
    format!("/nodes/{}/tasks/{}{rest}", seg(&upid.node), seg(upid.as_str()))
}

fn task_params(upid: &Upid) -> Params {
    Params::new().str("node", upid.node.clone()).str("upid", upid.as_str())
}

pub fn status(upid: &Upid) -> Request {
    Request::new(Method::Get, "/nodes/{node}/tasks/{upid}/status", task_path(upid, "/status")).with(task_params(upid))
}

pub fn log(upid: &Upid, start: u64, limit: u64) -> Request {
    let p = task_params(upid)
        .int("start", i64::try_from(start).unwrap_or(0))
        .int("limit", i64::try_from(limit).unwrap_or(500));
    Request::new(Method::Get, "/nodes/{node}/tasks/{upid}/log", task_path(upid, "/log")).with(p)
}

pub fn stop(upid: &Upid) -> Request {
    Request::new(Method::Delete, "/nodes/{node}/tasks/{upid}", task_path(upid, "")).with(task_params(upid))
}

/// How often `wait_task` asks.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub first: Duration,
    pub max: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Polling { first: Duration::from_millis(100), max: Duration::from_secs(1) }
    }
}

impl PveClient {
    pub async fn task_status(&self, upid: &Upid) -> Result<TaskStatus, PveError> {
        self.call(&status(upid)).await
    }

    pub async fn task_log(&self, upid: &Upid, start: u64, limit: u64) -> Result<Vec<LogLine>, PveError> {
        self.call(&log(upid, start, limit)).await
    }

    /// A node's task history, newest first (see [`list`]).
    pub async fn tasks(
        &self,
        node: &str,
        vmid: Option<u32>,
        source: TaskSource,
        limit: u64,
    ) -> Result<Vec<TaskEntry>, PveError> {
        self.call(&list(node, vmid, source, 0, limit)).await
    }

    pub async fn task_stop(&self, upid: &Upid) -> Result<(), PveError> {
        self.call_value(&stop(upid)).await.map(|_| ())
    }

    /// Waits until the task stops (polling with backoff) and fails unless it ended `OK` or
    /// with warnings; the error carries the task's message. `Timeout` when it runs longer.
    pub async fn wait_task(&self, upid: &Upid, timeout: Duration, polling: Polling) -> Result<TaskStatus, PveError> {
        let started = Instant::now();
        let mut every = polling.first;
        loop {
            let status = match self.task_status(upid).await {
                Ok(s) => s,
                // Right after the call the task file may not exist yet (PVE answers 400 "no such
                // task"): keep polling within the timeout.
                Err(e) if e.kind == ErrorKind::NotFound && started.elapsed() < timeout => {
                    tokio::time::sleep(every).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            match status.outcome() {
                Some(Ok(())) => return Ok(status),
                // Classified like any PVE error ("VM is locked (clone)" → Locked, …).
                Some(Err(message)) => return Err(PveError::from_response(500, &message, Default::default())),
                None if started.elapsed() >= timeout => {
                    return Err(PveError::new(
                        ErrorKind::Timeout,
                        0,
                        format!("task {} still running after {}s", upid.kind, timeout.as_secs()),
                    ))
                }
                None => {
                    tokio::time::sleep(every).await;
                    every = (every * 2).min(polling.max);
                }
            }
        }
    }
}
