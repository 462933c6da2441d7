//! The `backup` job: "back up now" for one or more servers. Per server it asks vzdump for one
//! archive on the chosen storage (`remove=0`: Proxmox deletes nothing unasked), follows the
//! task to its end — its `NN%` lines become the job's progress, its `creating vzdump archive`
//! line names the new volume, which is then looked up in the storage's content (never by
//! watching files, the old tool's way) — and reports the volume, size and duration. A resumed
//! job follows the task it already started instead of starting a second one; a cancelled one
//! stops the Proxmox task.

use std::time::{Duration, Instant};

use model::backups::{filename_of, BackupMode, Compression};
use pve::api::storage::BackupOptions;
use pve::{PveClient, Upid};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::catalogue::Catalogue;
use crate::jobs::{HandlerFuture, ItemRecorder, JobContext, JobHandler, KeyedLimits, StepOutcome, Stop};
use crate::notifications::{Notification, Notifications, Severity};
use crate::servers::create::CreateLimits;
use crate::servers::store::ServerStore;

pub const BACKUP: &str = "backup";

/// Backups writing to one storage at once (PVE itself runs one vzdump per node).
const PER_STORAGE: usize = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackupParams {
    /// Storage per server node, chosen when the job was asked for (`node → storage`).
    pub storages: std::collections::BTreeMap<String, String>,
    pub mode: BackupMode,
    pub compress: Compression,
    /// The notes template: `{{guestname}}` and the description.
    pub notes: String,
    pub protected: bool,
}

#[derive(Clone)]
pub struct BackupHandler {
    pub store: ServerStore,
    pub client: PveClient,
    pub catalogue: Catalogue,
    pub notifications: Notifications,
    pub limits: CreateLimits,
}

impl JobHandler for BackupHandler {
    fn kind(&self) -> &'static str {
        BACKUP
    }

    fn audit_action(&self, _job: &crate::jobs::Job) -> Option<String> {
        Some("server.backup".into())
    }

    fn run<'a>(&'a self, ctx: &'a mut JobContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let params: BackupParams = serde_json::from_value(ctx.job.params.clone())
                .map_err(|e| Stop::Failed(format!("bad parameters: {e}")))?;
            let items = ctx.items().await?;
            let rec = ctx.item_recorder();
            let mut tasks = tokio::task::JoinSet::new();
            for item in items.into_iter().filter(|i| i.status == "queued" || i.status == "running") {
                let (handler, rec, params, limits) = (self.clone(), rec.clone(), params.clone(), ctx.limits.clone());
                let owner = ctx.job.owner_id;
                tasks.spawn(async move {
                    let resumed =
                        item.result.as_ref().and_then(|r| r.get("upid")).and_then(Value::as_str).and_then(Upid::parse);
                    let started = Instant::now();
                    match handler.one(&rec, &limits, &params, item.position, &item.name, resumed).await {
                        Ok(result) => {
                            let _ = rec.ok(item.position, &result).await;
                            handler.notify(owner, &item.name, Ok(&result), started.elapsed()).await;
                        }
                        Err(e) => {
                            let _ = rec.failed(item.position, &item.name, &e).await;
                            handler.notify(owner, &item.name, Err(&e), started.elapsed()).await;
                        }
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a server task of a backup job panicked");
                }
            }
            self.catalogue.invalidate();
            if rec.cancel_requested().await? {
                return Err(Stop::Cancelled);
            }
            ctx.tally_items().await?;
            Ok(StepOutcome::default())
        })
    }
}

/// `INFO:  37% (…)` → 37.
fn percent(line: &str) -> Option<u8> {
    let rest = line.strip_prefix("INFO:")?.trim_start();
    let (n, tail) = rest.split_once('%')?;
    tail.starts_with(" (").then(|| n.trim().parse().ok()).flatten()
}

/// `INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-qemu-100-….vma.zst'` → the path
/// (PBS: `creating Proxmox Backup Server archive 'vm/100/…'`).
fn archive(line: &str) -> Option<&str> {
    let rest = line
        .strip_prefix("INFO: creating vzdump archive '")
        .or_else(|| line.strip_prefix("INFO: creating Proxmox Backup Server archive '"))?;
    rest.strip_suffix('\'')
}

/// Why a vzdump task failed, in PVE's words: its `ERROR: Backup of VM N failed - …` line (the
/// exit status is only `job errors` then), with a full storage said plainly.
fn failure(exit: &str, log: &[String], storage: &str) -> String {
    let guest =
        log.iter().rev().find_map(|l| l.strip_prefix("ERROR: Backup of VM ")).and_then(|l| l.split_once(" failed - "));
    let why = guest.map_or_else(|| exit.to_owned(), |(_, why)| why.to_owned());
    if log.iter().any(|l| l.contains("No space left on device")) {
        return format!("no space left on device on storage '{storage}' ({why})");
    }
    why
}

impl BackupHandler {
    async fn one(
        &self,
        rec: &ItemRecorder,
        limits: &KeyedLimits,
        params: &BackupParams,
        position: i64,
        name: &str,
        resumed: Option<Upid>,
    ) -> Result<Value, String> {
        let server =
            self.store.by_name(name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no server {name}"))?;
        let (Some(vmid), Some(node)) = (server.vmid, server.node.clone()) else {
            return Err(format!("{name} has no VM recorded"));
        };
        let storage = params
            .storages
            .get(&node)
            .cloned()
            .ok_or_else(|| format!("{name} is now on node {node}, for which no backup storage was chosen"))?;
        let c = &self.client;
        let _permit =
            limits.acquire(&format!("backup:{node}/{storage}"), PER_STORAGE).await.map_err(|e| e.to_string())?;
        let upid = match resumed {
            Some(upid) => upid,
            None => {
                let options = BackupOptions {
                    storage: storage.clone(),
                    mode: Some(params.mode.as_str().into()),
                    compress: Some(params.compress.as_pve().into()),
                    notes_template: Some(params.notes.clone()),
                    protected: params.protected,
                };
                let upid =
                    c.vzdump(&node, vmid, &options).await.map_err(|e| e.message)?.ok_or_else(|| {
                        format!("VM {vmid} is not on node {node} any more; sync the inventory and retry")
                    })?;
                rec.running(position, &json!({"upid": upid.as_str(), "storage": storage, "node": node}))
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = rec.log(name, "info", &format!("vzdump of VM {vmid} to {storage} started ({upid})")).await;
                upid
            }
        };
        let (log, took) = self.follow(rec, name, &upid).await?;
        let exit = c.task_status(&upid).await.map_err(|e| e.message)?;
        if let Some(Err(exit)) = exit.outcome() {
            return Err(failure(&exit, &log, &storage));
        }
        let path = log
            .iter()
            .find_map(|l| archive(l))
            .ok_or_else(|| "the backup task finished without naming its archive".to_owned())?;
        let file = path.rsplit('/').next().unwrap_or(path);
        let file = if path.starts_with("vm/") { path } else { file };
        let volid = format!("{storage}:backup/{file}");
        let content = c.storage_content(&node, &storage, Some("backup"), Some(vmid)).await.map_err(|e| e.message)?;
        let volume = content
            .into_iter()
            .find(|v| v.volid == volid)
            .ok_or_else(|| format!("the backup task ended well, but {volid} is not in the storage's content"))?;
        let _ = rec.log(name, "info", &format!("backed up to {volid} ({} bytes)", volume.size)).await;
        Ok(json!({
            "name": name, "vmid": vmid, "node": node, "storage": storage, "volid": volid,
            "filename": filename_of(&volid), "size": volume.size, "format": volume.format,
            "protected": volume.protected, "duration_secs": took.as_secs(), "upid": upid.as_str(),
        }))
    }

    /// Reads the task's log as it grows until the task ends; progress lines move the job's
    /// progress. A cancelled job stops the task (and goes on reading until it has stopped).
    async fn follow(&self, rec: &ItemRecorder, name: &str, upid: &Upid) -> Result<(Vec<String>, Duration), String> {
        let c = &self.client;
        let started = Instant::now();
        let mut lines: Vec<String> = Vec::new();
        let mut every = self.limits.polling.first;
        let mut stop_sent = false;
        let mut last_percent = None;
        loop {
            let status = self.limits.retry.call(|| c.task_status(upid)).await.map_err(|e| e.message)?;
            loop {
                let start = u64::try_from(lines.len()).unwrap_or(0);
                let more = self.limits.retry.call(|| c.task_log(upid, start, 500)).await.map_err(|e| e.message)?;
                if more.is_empty() {
                    break;
                }
                for l in more {
                    if let Some(p) = percent(&l.t) {
                        if last_percent != Some(p) {
                            last_percent = Some(p);
                            let _ = rec.item_progress(p, &format!("{name}: {p}%")).await;
                        }
                    }
                    lines.push(l.t);
                }
            }
            if !status.is_running() {
                return Ok((lines, started.elapsed()));
            }
            if !stop_sent && rec.cancel_requested().await.unwrap_or(false) {
                let _ = rec.log(name, "warn", "cancelled: stopping the Proxmox task").await;
                c.task_stop(upid).await.map_err(|e| e.message)?;
                stop_sent = true;
            }
            if started.elapsed() > self.limits.task_timeout {
                return Err(format!("the backup task still runs after {} s", self.limits.task_timeout.as_secs()));
            }
            tokio::time::sleep(every).await;
            every = (every * 2).min(self.limits.polling.max);
        }
    }

    /// The owner's `backup` notification: volume, size and duration, or why it failed.
    async fn notify(&self, owner: Option<i64>, name: &str, outcome: Result<&Value, &str>, took: Duration) {
        let Some(owner) = owner else { return };
        let (title, message, severity) = match outcome {
            Ok(r) => (
                format!("Backup of {name} done"),
                format!(
                    "{} — {:.2} GiB in {} s",
                    r["volid"].as_str().unwrap_or(""),
                    r["size"].as_u64().unwrap_or(0) as f64 / (1u64 << 30) as f64,
                    took.as_secs()
                ),
                Severity::Success,
            ),
            Err(e) => (format!("Backup of {name} failed"), e.to_owned(), Severity::Error),
        };
        let n =
            Notification { user_id: Some(owner), kind: BACKUP.into(), title, message, severity, ..Default::default() };
        if let Err(e) = self.notifications.create(&n).await {
            tracing::warn!(error = %e, "cannot record a backup notification");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_lines_are_read_like_pve_writes_them() {
        assert_eq!(percent("INFO:  37% (11.8 GiB of 32.0 GiB) in 6s, read: 2 GiB/s, write: 1 MiB/s"), Some(37));
        assert_eq!(percent("INFO: 100% (32.0 GiB of 32.0 GiB) in 9s"), Some(100));
        assert_eq!(percent("INFO:   3% (1.0 GiB of 32.0 GiB) in 1s"), Some(3));
        assert_eq!(percent("INFO: backup is sparse: 26.41 GiB (82%) total zero data"), None);
        assert_eq!(
            archive("INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst'"),
            Some("/var/lib/vz/dump/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst")
        );
        let log = vec![
            "zstd: error 70 : Write error : cannot write block : No space left on device".to_owned(),
            "ERROR: Backup of VM 100 failed - vma_queue_write: write error - Broken pipe".to_owned(),
        ];
        assert_eq!(
            failure("job errors", &log, "local"),
            "no space left on device on storage 'local' (vma_queue_write: write error - Broken pipe)"
        );
        let locked = vec!["ERROR: Backup of VM 100 failed - VM is locked (snapshot)".to_owned()];
        assert_eq!(failure("job errors", &locked, "local"), "VM is locked (snapshot)");
        assert_eq!(failure("interrupted by signal", &[], "local"), "interrupted by signal");
    }
}
