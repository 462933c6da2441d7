//! `BackupService`: what both doors call for backups — the list (filtered, sorted, totals per
//! node), "back up now" as a job, the running and recent backups per server, and changes to
//! one volume (notes, protection, delete). Every method needs `backup_management`; a caller
//! who may not see every server sees only its own servers' backups.

use std::collections::BTreeMap;

use model::backups::{
    check_notes, filename_of, BackupList, BackupMode, BackupQuery, BackupRequest, BackupVolume, Compression,
    NodeBackupStats, VolumeUpdate,
};
use pve::api::storage::StorageInfo;
use serde_json::{json, Value};

use super::catalogue::{Catalogue, Found};
use super::run::{BackupHandler, BackupParams, BACKUP};
use crate::audit::{AuditLog, Record};
use crate::auth::{Actor, Permission};
use crate::cluster::{from_pve, ClusterService};
use crate::jobs::{Job, JobRunner, JobService};
use crate::notifications::Notifications;
use crate::servers::create::CreateLimits;
use crate::servers::store::{Server, ServerStore};
use crate::{clock, Error, Result};

/// The most backups one answer carries without paging (the old endpoints): `truncated` says so.
pub const UNPAGED_MAX: usize = 5_000;
/// How long a finished backup stays in the status answers.
const RECENT_MS: i64 = 5 * 60 * 1000;

/// One server's backup as the old status endpoints report it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackupStatus {
    pub backup_id: String,
    pub job_id: i64,
    /// `running`, `completed` or `failed`.
    pub status: &'static str,
    pub progress: i64,
    pub started_at: String,
    pub config: Value,
    pub message: String,
    pub last_check: String,
    pub last_update: String,
}

#[derive(Debug, Clone)]
pub struct BackupService {
    cluster: ClusterService,
    store: ServerStore,
    jobs: JobService,
    notifications: Notifications,
    audit: AuditLog,
    catalogue: Catalogue,
    limits: CreateLimits,
}

impl BackupService {
    pub fn new(
        cluster: ClusterService,
        store: ServerStore,
        jobs: JobService,
        notifications: Notifications,
        audit: AuditLog,
    ) -> Self {
        BackupService {
            cluster,
            store,
            jobs,
            notifications,
            audit,
            catalogue: Catalogue::default(),
            limits: CreateLimits::default(),
        }
    }

    /// Paces the jobs differently (tests poll fast).
    pub fn with_limits(mut self, limits: CreateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Registers the backup job handler (only when a cluster is configured).
    pub fn register_jobs(&self, runner: JobRunner) -> JobRunner {
        let Ok(client) = self.cluster.client() else { return runner };
        runner.register(BackupHandler {
            store: self.store.clone(),
            client: client.clone(),
            catalogue: self.catalogue.clone(),
            notifications: self.notifications.clone(),
            limits: self.limits.clone(),
        })
    }

    /// Drops the shared listing, so the next read asks Proxmox (benchmarks: the cost without it).
    pub fn forget_listing(&self) {
        self.catalogue.invalidate();
    }

    fn visible(actor: &Actor, s: &Server) -> bool {
        actor.has(Permission::ViewAll) || s.owner_id == Some(actor.user_id)
    }

    /// The servers the actor may see, by vmid.
    async fn servers_by_vmid(&self, actor: &Actor) -> Result<BTreeMap<u32, Server>> {
        let all = self.store.all().await?;
        Ok(all.into_iter().filter(|s| Self::visible(actor, s)).filter_map(|s| Some((s.vmid?, s))).collect())
    }

    /// Backups matching `q`, newest first unless asked otherwise; `page` = (page, per page),
    /// else all of them up to `UNPAGED_MAX`.
    pub async fn list(&self, actor: &Actor, q: &BackupQuery, page: Option<(u32, u32)>) -> Result<BackupList> {
        actor.require(Permission::BackupManagement)?;
        let client = self.cluster.client()?;
        let listing = self.catalogue.get(client).await?;
        let servers = self.servers_by_vmid(actor).await?;
        let day = |field: &str, text: &Option<String>, end: bool| -> Result<Option<i64>> {
            let Some(t) = text.as_deref().filter(|t| !t.is_empty()) else { return Ok(None) };
            let start = clock::parse_day(t)
                .ok_or_else(|| Error::validation(field, format!("{t:?} is not a day (YYYY-MM-DD)")))?;
            Ok(Some(if end { start + 86_400 - 1 } else { start }))
        };
        let (from, to) = (day("from", &q.from, false)?, day("to", &q.to, true)?);
        let search = q.search.as_deref().map(str::to_lowercase).filter(|s| !s.is_empty());
        let everyone = actor.has(Permission::ViewAll);
        let mut matched: Vec<BackupVolume> = listing
            .volumes
            .iter()
            .map(|f| volume_of(f, &servers))
            // A backup of a guest the actor cannot see (or of no managed server, for those who
            // do not see everything) is not listed.
            .filter(|b| everyone || b.server.is_some())
            .filter(|b| q.node.as_deref().is_none_or(|n| n.is_empty() || b.node == n))
            .filter(|b| q.storage.as_deref().is_none_or(|s| s.is_empty() || b.storage == s))
            .filter(|b| q.server.as_deref().is_none_or(|s| s.is_empty() || b.server.as_deref() == Some(s)))
            .filter(|b| from.is_none_or(|f| b.ctime >= f) && to.is_none_or(|t| b.ctime <= t))
            .filter(|b| {
                search.as_deref().is_none_or(|s| {
                    b.volid.to_lowercase().contains(s)
                        || b.server.as_deref().is_some_and(|n| n.to_lowercase().contains(s))
                        || b.notes.as_deref().is_some_and(|n| n.to_lowercase().contains(s))
                        || b.vmid.is_some_and(|v| v.to_string() == s)
                })
            })
            .collect();
        match q.sort.as_deref().unwrap_or("newest") {
            "newest" | "" => {}
            "oldest" => matched.reverse(),
            "largest" => matched.sort_by_key(|b| std::cmp::Reverse(b.size)),
            "server" => matched.sort_by(|a, b| (&a.server, a.vmid, -a.ctime).cmp(&(&b.server, b.vmid, -b.ctime))),
            other => {
                return Err(Error::validation(
                    "sort",
                    format!("unknown order {other:?}: newest, oldest, largest or server"),
                ))
            }
        }
        let mut node_stats: BTreeMap<String, NodeBackupStats> = BTreeMap::new();
        for b in &matched {
            let s = node_stats.entry(b.node.clone()).or_default();
            s.backup_count += 1;
            s.total_size += b.size;
        }
        let total_count = matched.len();
        let total_size = matched.iter().map(|b| b.size).sum();
        let (skip, take) = match page {
            Some((p, per)) => ((p.max(1) as usize - 1) * per as usize, per as usize),
            None => (0, UNPAGED_MAX),
        };
        let truncated = page.is_none() && total_count > UNPAGED_MAX;
        let backups = matched.into_iter().skip(skip).take(take).collect();
        let mut nodes: Vec<String> = listing.storages.iter().map(|(n, _)| n.clone()).collect();
        nodes.dedup();
        let mut storages: Vec<String> = listing.storages.iter().map(|(_, s)| s.storage.clone()).collect();
        storages.sort();
        storages.dedup();
        Ok(BackupList { backups, total_count, total_size, node_stats, nodes, storages, truncated })
    }

    /// The storages of a node that take backups (for the "back up" dialog).
    pub async fn storages(&self, actor: &Actor, node: &str) -> Result<Vec<StorageInfo>> {
        actor.require(Permission::BackupManagement)?;
        let listing = self.catalogue.get(self.cluster.client()?).await?;
        Ok(listing.storages.iter().filter(|(n, _)| n == node).map(|(_, s)| s.clone()).collect())
    }

    /// Starts a `backup` job for these servers. Refused before anything starts: an unknown or
    /// hidden server (404), a server already being backed up (409 naming the job), a storage
    /// without backups on a server's node, bad mode, compression or notes (400). The second
    /// value says what was taken differently from what was asked (`lz4` → `lzo`).
    pub async fn back_up(&self, actor: &Actor, names: &[String], req: &BackupRequest) -> Result<(Job, Option<String>)> {
        actor.require(Permission::BackupManagement)?;
        if names.is_empty() {
            return Err(Error::validation("server_names", "name at least one server"));
        }
        let mode = BackupMode::parse(req.mode.as_deref().unwrap_or(""))?;
        let (compress, said) = Compression::parse(req.compress.as_deref().unwrap_or(""))?;
        let description = req.description.as_deref().map(str::trim).unwrap_or("");
        check_notes("description", description)?;
        let mut nodes = Vec::new();
        let mut unique: Vec<String> = Vec::new();
        for name in names {
            if unique.contains(name) {
                continue;
            }
            let server = self.store.by_name(name).await?.filter(|s| Self::visible(actor, s));
            let server = server.ok_or_else(|| Error::NotFound(format!("no server named {name:?}")))?;
            let node = server.node.clone().filter(|_| server.vmid.is_some());
            nodes.push(node.ok_or_else(|| Error::Conflict(format!("{name} has no VM yet")))?);
            unique.push(name.clone());
        }
        if let Some((job, name)) = self.running_for(&unique).await?.into_iter().next() {
            return Err(Error::Conflict(format!("{name} is already being backed up by job #{job}")));
        }
        let listing = self.catalogue.get(self.cluster.client()?).await?;
        let mut storages = BTreeMap::new();
        for node in &nodes {
            let here: Vec<&StorageInfo> = listing.storages.iter().filter(|(n, _)| n == node).map(|(_, s)| s).collect();
            let chosen = match req.storage.as_deref().filter(|s| !s.is_empty()) {
                Some(asked) => {
                    here.iter().find(|s| s.storage == asked).map(|s| s.storage.clone()).ok_or_else(|| {
                        let offered: Vec<&str> = here.iter().map(|s| s.storage.as_str()).collect();
                        Error::validation(
                            "storage",
                            format!(
                                "storage {asked:?} takes no backups on node {node}; it offers: {}",
                                offered.join(", ")
                            ),
                        )
                    })?
                }
                None => here
                    .iter()
                    .find(|s| s.storage == "local")
                    .or_else(|| here.first())
                    .map(|s| s.storage.clone())
                    .ok_or_else(|| {
                        Error::validation("storage", format!("node {node} has no storage that takes backups"))
                    })?,
            };
            storages.insert(node.clone(), chosen);
        }
        let notes = if description.is_empty() {
            "{{guestname}}".to_owned()
        } else {
            // vzdump reads `\` as an escape in templates; a description's own stays literal.
            format!("{{{{guestname}}}} - {}", description.replace('\\', "\\\\"))
        };
        let params = BackupParams { storages, mode, compress, notes, protected: req.protected };
        let params = serde_json::to_value(&params).map_err(|e| Error::Internal(e.to_string()))?;
        let job = self.jobs.enqueue(actor, BACKUP, params, unique).await?;
        Ok((job, said.map(str::to_owned)))
    }

    /// `(job id, server)` for each of these servers with a backup queued or running.
    async fn running_for(&self, names: &[String]) -> Result<Vec<(i64, String)>> {
        let items = self.jobs.store().recent_items(BACKUP, clock::now_ms()).await?;
        Ok(items
            .into_iter()
            .filter(|(job, item, _)| !job.status.is_finished() && matches!(item.status.as_str(), "queued" | "running"))
            .filter(|(_, item, _)| names.contains(&item.name))
            .map(|(job, item, _)| (job.id, item.name))
            .collect())
    }

    /// Running backups, and those finished in the last 5 minutes, per server (the latest one).
    pub async fn status(&self, actor: &Actor, server: Option<&str>) -> Result<BTreeMap<String, BackupStatus>> {
        actor.require(Permission::BackupManagement)?;
        let now = clock::now_ms();
        let items = self.jobs.store().recent_items(BACKUP, now - RECENT_MS).await?;
        let mut out = BTreeMap::new();
        let visible: Vec<String> =
            self.store.all().await?.into_iter().filter(|s| Self::visible(actor, s)).map(|s| s.name).collect();
        for (job, item, updated) in items {
            if server.is_some_and(|s| s != item.name) || !visible.contains(&item.name) {
                continue;
            }
            let status = match item.status.as_str() {
                "queued" | "running" => "running",
                "succeeded" => "completed",
                _ => "failed",
            };
            let message = match (&item.error, &item.result) {
                (Some(e), _) => e.clone(),
                (None, Some(r)) if status == "completed" => {
                    format!("backed up to {}", r["volid"].as_str().unwrap_or(""))
                }
                _ if job.step.is_empty() => "waiting to start".into(),
                _ => job.step.clone(),
            };
            let config = json!({
                "storage": job.params["storages"].as_object().and_then(|m| m.values().next()).cloned().unwrap_or(Value::Null),
                "mode": job.params["mode"], "compress": job.params["compress"], "protected": job.params["protected"],
            });
            out.insert(
                item.name.clone(),
                BackupStatus {
                    backup_id: job.id.to_string(),
                    job_id: job.id,
                    status,
                    progress: if status == "running" { job.progress } else { 100 },
                    started_at: clock::to_rfc3339(job.started_at.unwrap_or(job.created_at)),
                    config,
                    message,
                    last_check: clock::to_rfc3339(now),
                    last_update: clock::to_rfc3339(updated),
                },
            );
        }
        Ok(out)
    }

    /// The backup a caller names: a full volume id, or a bare file name found on `node`
    /// (any of its storages unless `storage` is given). Two storages holding that name → 409
    /// listing them.
    async fn find(&self, actor: &Actor, node: &str, name: &str, storage: Option<&str>) -> Result<Found> {
        let client = self.cluster.client()?;
        // A fresh read: a delete or protect must not act on what was there 10 s ago.
        self.catalogue.invalidate();
        let listing = self.catalogue.get(client).await?;
        let file = filename_of(name);
        let on_node = |f: &&Found| {
            f.node == node || (f.shared && listing.storages.iter().any(|(n, s)| n == node && s.storage == f.storage))
        };
        let matches: Vec<&Found> = listing
            .volumes
            .iter()
            .filter(on_node)
            .filter(|f| if name.contains(':') { f.volume.volid == name } else { filename_of(&f.volume.volid) == file })
            .filter(|f| storage.is_none_or(|s| s.is_empty() || f.storage == s))
            .collect();
        let found = match matches.as_slice() {
            [] => return Err(Error::NotFound(format!("no backup {name:?} on node {node}"))),
            [one] => (*one).clone(),
            many => {
                let where_: Vec<&str> = many.iter().map(|f| f.storage.as_str()).collect();
                return Err(Error::Conflict(format!(
                    "{name:?} is on more than one storage of {node} ({}); say which with `storage`",
                    where_.join(", ")
                )));
            }
        };
        let servers = self.servers_by_vmid(actor).await?;
        if !actor.has(Permission::ViewAll) && volume_of(&found, &servers).server.is_none() {
            return Err(Error::NotFound(format!("no backup {name:?} on node {node}")));
        }
        Ok(found)
    }

    /// Deletes a backup (waits for Proxmox's task). A protected backup → 409.
    pub async fn delete(&self, actor: &Actor, node: &str, name: &str, storage: Option<&str>) -> Result<BackupVolume> {
        actor.require(Permission::BackupManagement)?;
        let found = self.find(actor, node, name, storage).await?;
        let client = self.cluster.client()?;
        let volid = found.volume.volid.clone();
        let attrs = client.volume(&found.node, &found.storage, &volid).await.map_err(from_pve)?;
        if attrs.protected {
            return Err(Error::Conflict(format!("{volid} is protected; remove the protection first")));
        }
        let upid = client.delete_volume(&found.node, &found.storage, &volid).await.map_err(from_pve)?;
        if let Some(upid) = upid {
            let status =
                client.wait_task(&upid, self.limits.task_timeout, self.limits.polling).await.map_err(from_pve)?;
            if let Some(Err(e)) = status.outcome() {
                let err = if e.contains("protected") {
                    Error::Conflict(e)
                } else {
                    Error::Upstream(format!("Proxmox VE: {e}"))
                };
                self.audit_change(actor, "backup.delete", &volid, false, &err.to_string()).await?;
                return Err(err);
            }
        }
        self.catalogue.invalidate();
        self.audit_change(actor, "backup.delete", &volid, true, &format!("on {}", found.node)).await?;
        let servers = self.servers_by_vmid(actor).await?;
        Ok(volume_of(&found, &servers))
    }

    /// Sets a backup's notes and/or protection.
    pub async fn update_volume(&self, actor: &Actor, u: &VolumeUpdate) -> Result<BackupVolume> {
        actor.require(Permission::BackupManagement)?;
        if let Some(n) = &u.notes {
            check_notes("notes", n)?;
        }
        if u.notes.is_none() && u.protected.is_none() {
            return Err(Error::validation("notes", "nothing to change: give notes, protected or both"));
        }
        let found = self.find(actor, &u.node, &u.volid, None).await?;
        let client = self.cluster.client()?;
        let volid = &found.volume.volid;
        client
            .set_volume(&found.node, &found.storage, volid, u.notes.as_deref(), u.protected)
            .await
            .map_err(from_pve)?;
        self.catalogue.invalidate();
        let mut what = Vec::new();
        if let Some(p) = u.protected {
            what.push(if p { "protected" } else { "unprotected" }.to_owned());
        }
        if u.notes.is_some() {
            what.push("notes changed".into());
        }
        self.audit_change(actor, "backup.update", volid, true, &what.join(", ")).await?;
        let mut found = found;
        if let Some(n) = &u.notes {
            found.volume.notes = (!n.is_empty()).then(|| n.clone());
        }
        if let Some(p) = u.protected {
            found.volume.protected = p;
        }
        let servers = self.servers_by_vmid(actor).await?;
        Ok(volume_of(&found, &servers))
    }

    async fn audit_change(&self, actor: &Actor, action: &str, target: &str, success: bool, detail: &str) -> Result<()> {
        self.audit
            .record(Record {
                actor: Some(&actor.username),
                action,
                target: Some(target),
                source_ip: actor.source_ip.as_deref(),
                success,
                detail: detail.to_owned(),
            })
            .await
    }
}

/// A listed volume as the wire shows it, with the server that has its vmid.
fn volume_of(f: &Found, servers: &BTreeMap<u32, Server>) -> BackupVolume {
    let vmid = f.volume.vmid.and_then(|v| u32::try_from(v).ok());
    BackupVolume {
        filename: filename_of(&f.volume.volid).to_owned(),
        volid: f.volume.volid.clone(),
        node: f.node.clone(),
        storage: f.storage.clone(),
        shared: f.shared,
        vmid,
        server: vmid.and_then(|v| servers.get(&v)).map(|s| s.name.clone()),
        ctime: i64::try_from(f.volume.ctime.unwrap_or(0)).unwrap_or(0),
        size: f.volume.size,
        format: f.volume.format.clone(),
        notes: f.volume.notes.clone(),
        protected: f.volume.protected,
    }
}
