//! A server's history: its Proxmox task list (from the node it is on, one call) and proxfleet's
//! own job log lines about it. Proxmox being unreachable does not hide the job lines: the task
//! part then carries the error instead.

use pve::{PveClient, TaskEntry, TaskSource, Upid};
use serde::{Deserialize, Serialize};

use super::store::Server;
use crate::clock::to_rfc3339;
use crate::cluster::from_pve;
use crate::jobs::JobStore;
use crate::{Error, Result};

/// How many Proxmox tasks and job log lines a history shows.
const TASKS: u64 = 50;
const JOB_LINES: i64 = 500;

/// Which part of the history a caller wants (`?type=` on the REST door).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogKind {
    All,
    Tasks,
    Jobs,
}

impl LogKind {
    pub fn parse(s: Option<&str>) -> Result<LogKind> {
        match s.unwrap_or("all") {
            "" | "all" => Ok(LogKind::All),
            "tasks" | "proxmox" => Ok(LogKind::Tasks),
            "jobs" | "proxfleet" => Ok(LogKind::Jobs),
            other => Err(Error::validation("type", format!("unknown log type {other:?}: use all, tasks or jobs"))),
        }
    }
}

pub use model::servers::{JobLine, ProxmoxTask, ServerLogs};

/// A Proxmox task as the history shows it.
fn task(t: TaskEntry) -> ProxmoxTask {
    {
        let at = |s: u64| to_rfc3339(i64::try_from(s).unwrap_or(i64::MAX / 1000).saturating_mul(1000));
        let ok = t.succeeded();
        ProxmoxTask {
            status: if ok.is_none() { "running".into() } else { t.status.clone().unwrap_or_default() },
            started_at: at(t.starttime),
            starttime: t.starttime,
            ended_at: t.endtime.map(at),
            upid: t.upid,
            node: t.node,
            kind: t.kind,
            user: t.user,
            ok,
        }
    }
}

/// Reads the parts of `server`'s history that `kind` asks for.
pub async fn read(client: Option<&PveClient>, jobs: &JobStore, server: &Server, kind: LogKind) -> Result<ServerLogs> {
    let mut logs = ServerLogs {
        server_name: server.name.clone(),
        vmid: server.vmid,
        node: server.node.clone(),
        tasks: Vec::new(),
        tasks_error: None,
        jobs: Vec::new(),
    };
    if kind != LogKind::Jobs {
        match (client, server.vmid, server.node.as_deref()) {
            (None, _, _) => logs.tasks_error = Some("no Proxmox VE cluster is configured".into()),
            (_, None, _) | (_, _, None) => logs.tasks_error = Some("the server has no VM yet".into()),
            // `all`: running tasks too, so a stuck shutdown shows while it hangs.
            (Some(c), Some(vmid), Some(node)) => match c.tasks(node, Some(vmid), TaskSource::All, TASKS).await {
                Ok(list) => logs.tasks = list.into_iter().map(task).collect(),
                Err(e) => logs.tasks_error = Some(e.to_string()),
            },
        }
    }
    if kind != LogKind::Tasks {
        logs.jobs = jobs
            .item_logs(&server.name, JOB_LINES)
            .await?
            .into_iter()
            .map(|(job_id, kind, l)| JobLine { job_id, kind, at: to_rfc3339(l.at), level: l.level, line: l.line })
            .collect();
    }
    Ok(logs)
}

/// The lines of one Proxmox task of `server`. The UPID must name the server's VM, so a user
/// who may see this server cannot read the log of any other guest's task through it.
pub async fn task_log(client: &PveClient, server: &Server, upid: &str) -> Result<Vec<String>> {
    let parsed = Upid::parse(upid).ok_or_else(|| Error::validation("upid", "not a Proxmox task id (UPID:node:…)"))?;
    let vmid = server.vmid.map(|v| v.to_string());
    if vmid.as_deref() != Some(parsed.id.as_str()) {
        return Err(Error::NotFound(format!("task {upid} is not one of {}'s tasks", server.name)));
    }
    // All of it: the verdict (`TASK OK` / `TASK ERROR: …`) is the last line of a long log.
    let lines = client.task_log(&parsed, 0, 1_000_000).await.map_err(from_pve)?;
    Ok(lines.into_iter().map(|l| l.t).collect())
}
