//! Storages, their content, backups (vzdump), restore and volume deletion.

use serde::{Deserialize, Serialize};

use super::seg;
use crate::client::PveClient;
use crate::de;
use crate::error::{ErrorKind, PveError};
use crate::params::{Method, Params, Request};
use crate::upid::Upid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageInfo {
    pub storage: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub content: String,
    #[serde(default, deserialize_with = "de::bool")]
    pub shared: bool,
    #[serde(default, deserialize_with = "de::bool")]
    pub active: bool,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
}

impl StorageInfo {
    pub fn holds(&self, content: &str) -> bool {
        self.content.split(',').any(|c| c == content)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StorageStatus {
    #[serde(rename = "type")]
    pub kind: String,
    pub content: String,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub total: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub used: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub avail: Option<u64>,
}

/// A volume on a storage: a VM disk or a backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub volid: String,
    pub content: String,
    pub format: String,
    #[serde(deserialize_with = "de::u64")]
    pub size: u64,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub ctime: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "de::bool")]
    pub protected: bool,
}

/// A backup of one VM. proxfleet always sends `remove=0`: PVE deletes nothing unasked
/// (retention runs as its own, logged, prune call).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupOptions {
    pub storage: String,
    /// `snapshot` (default), `suspend` or `stop`.
    pub mode: Option<String>,
    /// `0` (none), `lzo`, `gzip` or `zstd`; PVE's default is none.
    pub compress: Option<String>,
    /// `{{guestname}}`, `{{vmid}}`, `{{node}}`, `{{cluster}}` are filled in by PVE.
    pub notes_template: Option<String>,
    pub protected: bool,
}

/// One backup volume's attributes (`GET …/content/{volume}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VolumeAttributes {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub size: Option<u64>,
    #[serde(default)]
    pub format: Option<String>,
    /// The whole text; `""` without notes.
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default, deserialize_with = "de::bool")]
    pub protected: bool,
}

/// What a retention would do to one backup (`GET …/prunebackups`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneMark {
    pub volid: String,
    #[serde(deserialize_with = "de::u64")]
    pub ctime: u64,
    /// `keep`, `remove`, `protected` or `renamed`.
    pub mark: String,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub vmid: Option<u64>,
}

/// A backup job configured in PVE itself (`GET /cluster/backup`); proxfleet only shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PveBackupJob {
    pub id: String,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(default = "enabled_default", deserialize_with = "de::bool")]
    pub enabled: bool,
    #[serde(default, rename = "next-run", deserialize_with = "de::opt_u64")]
    pub next_run: Option<u64>,
    /// `"100,101"`.
    #[serde(default, deserialize_with = "de::opt_string")]
    pub vmid: Option<String>,
    #[serde(default, deserialize_with = "de::bool")]
    pub all: bool,
    #[serde(default, deserialize_with = "de::opt_string")]
    pub exclude: Option<String>,
    #[serde(default)]
    pub pool: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub storage: Option<String>,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// An object on reads (`{"keep-last": 3}`), its values numbers or strings.
    #[serde(default, rename = "prune-backups")]
    pub prune_backups: Option<serde_json::Value>,
}

fn enabled_default() -> bool {
    true
}

impl PveBackupJob {
    /// Whether the job backs up this guest (a disabled job still "covers" it, as PVE counts).
    pub fn covers(&self, vmid: u32, node: &str, pools: &[String]) -> bool {
        if self.node.as_deref().is_some_and(|n| n != node) {
            return false;
        }
        let listed = |list: &Option<String>| {
            list.as_deref().is_some_and(|l| l.split([',', ' ', ';']).any(|v| v.trim() == vmid.to_string()))
        };
        if self.all {
            return !listed(&self.exclude);
        }
        if let Some(pool) = &self.pool {
            return pools.iter().any(|p| p == pool);
        }
        listed(&self.vmid)
    }
}

/// Restoring a backup into a VM id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RestoreOptions {
    /// Overwrite the VM if it exists (it must be stopped).
    pub force: bool,
    /// New MAC addresses (for a copy next to the original).
    pub unique: bool,
    /// Target storage for the disks (default: where they were).
    pub storage: Option<String>,
}

fn node_params(node: &str) -> Params {
    Params::new().str("node", node)
}

pub fn storages(node: &str, content: Option<&str>) -> Request {
    Request::new(Method::Get, "/nodes/{node}/storage", format!("/nodes/{}/storage", seg(node)))
        .with(node_params(node).opt_str("content", content))
}

pub fn status(node: &str, storage: &str) -> Request {
    Request::new(
        Method::Get,
        "/nodes/{node}/storage/{storage}/status",
        format!("/nodes/{}/storage/{}/status", seg(node), seg(storage)),
    )
    .with(node_params(node).str("storage", storage))
}

pub fn content(node: &str, storage: &str, kind: Option<&str>, vmid: Option<u32>) -> Request {
    Request::new(
        Method::Get,
        "/nodes/{node}/storage/{storage}/content",
        format!("/nodes/{}/storage/{}/content", seg(node), seg(storage)),
    )
    .with(node_params(node).str("storage", storage).opt_str("content", kind).opt_int("vmid", vmid.map(i64::from)))
}

/// The volume id is one path segment (its `/` encoded).
pub fn delete_volume(node: &str, storage: &str, volid: &str) -> Request {
    Request::new(
        Method::Delete,
        "/nodes/{node}/storage/{storage}/content/{volume}",
        format!("/nodes/{}/storage/{}/content/{}", seg(node), seg(storage), seg(volid)),
    )
    .with(node_params(node).str("storage", storage).str("volume", volid))
}

pub fn vzdump(node: &str, vmid: u32, o: &BackupOptions) -> Request {
    let p = node_params(node)
        .str("vmid", vmid.to_string())
        .str("storage", o.storage.clone())
        .opt_str("mode", o.mode.clone())
        .opt_str("compress", o.compress.clone())
        .opt_str("notes-template", o.notes_template.clone())
        .bool("protected", o.protected)
        .bool("remove", false);
    Request::new(Method::Post, "/nodes/{node}/vzdump", format!("/nodes/{}/vzdump", seg(node))).with(p)
}

fn volume_path(node: &str, storage: &str, volid: &str) -> String {
    format!("/nodes/{}/storage/{}/content/{}", seg(node), seg(storage), seg(volid))
}

pub fn volume(node: &str, storage: &str, volid: &str) -> Request {
    Request::new(Method::Get, "/nodes/{node}/storage/{storage}/content/{volume}", volume_path(node, storage, volid))
        .with(node_params(node).str("storage", storage).str("volume", volid))
}

/// Sets a backup's notes (`""` removes them) and/or protection.
pub fn set_volume(node: &str, storage: &str, volid: &str, notes: Option<&str>, protected: Option<bool>) -> Request {
    Request::new(Method::Put, "/nodes/{node}/storage/{storage}/content/{volume}", volume_path(node, storage, volid))
        .with(
            node_params(node)
                .str("storage", storage)
                .str("volume", volid)
                .opt_str("notes", notes)
                .opt_bool("protected", protected),
        )
}

/// `keep` is a `prune-backups` property string (`keep-last=3,keep-daily=7`).
fn prune_request(method: Method, node: &str, storage: &str, vmid: u32, keep: &str) -> Request {
    Request::new(
        method,
        "/nodes/{node}/storage/{storage}/prunebackups",
        format!("/nodes/{}/storage/{}/prunebackups", seg(node), seg(storage)),
    )
    .with(
        node_params(node)
            .str("storage", storage)
            .str("prune-backups", keep)
            .str("type", "qemu")
            .int("vmid", i64::from(vmid)),
    )
}

pub fn prune_preview(node: &str, storage: &str, vmid: u32, keep: &str) -> Request {
    prune_request(Method::Get, node, storage, vmid, keep)
}

pub fn prune(node: &str, storage: &str, vmid: u32, keep: &str) -> Request {
    prune_request(Method::Delete, node, storage, vmid, keep)
}

pub fn extract_config(node: &str, volid: &str) -> Request {
    Request::new(
        Method::Get,
        "/nodes/{node}/vzdump/extractconfig",
        format!("/nodes/{}/vzdump/extractconfig", seg(node)),
    )
    .with(node_params(node).str("volume", volid))
}

pub fn backup_jobs() -> Request {
    Request::new(Method::Get, "/cluster/backup", "/cluster/backup".to_owned())
}

pub fn restore(node: &str, vmid: u32, archive: &str, o: &RestoreOptions) -> Request {
    let p = node_params(node)
        .int("vmid", i64::from(vmid))
        .str("archive", archive)
        .bool("force", o.force)
        .bool("unique", o.unique)
        .opt_str("storage", o.storage.clone());
    Request::new(Method::Post, "/nodes/{node}/qemu", format!("/nodes/{}/qemu", seg(node))).with(p)
}

fn upid(v: serde_json::Value) -> Result<Upid, PveError> {
    v.as_str()
        .and_then(Upid::parse)
        .ok_or_else(|| PveError::new(ErrorKind::Rejected, 200, format!("expected a task id, got {v}")))
}

impl PveClient {
    pub async fn storages(&self, node: &str, content: Option<&str>) -> Result<Vec<StorageInfo>, PveError> {
        self.call(&storages(node, content)).await
    }

    pub async fn storage_status(&self, node: &str, storage: &str) -> Result<StorageStatus, PveError> {
        self.call(&status(node, storage)).await
    }

    pub async fn storage_content(
        &self,
        node: &str,
        storage: &str,
        kind: Option<&str>,
        vmid: Option<u32>,
    ) -> Result<Vec<Volume>, PveError> {
        self.call(&content(node, storage, kind, vmid)).await
    }

    /// Deletes a volume; `None` when PVE answered synchronously.
    pub async fn delete_volume(&self, node: &str, storage: &str, volid: &str) -> Result<Option<Upid>, PveError> {
        let v = self.call_value(&delete_volume(node, storage, volid)).await?;
        if v.is_null() {
            Ok(None)
        } else {
            upid(v).map(Some)
        }
    }

    pub async fn volume(&self, node: &str, storage: &str, volid: &str) -> Result<VolumeAttributes, PveError> {
        self.call(&volume(node, storage, volid)).await
    }

    pub async fn set_volume(
        &self,
        node: &str,
        storage: &str,
        volid: &str,
        notes: Option<&str>,
        protected: Option<bool>,
    ) -> Result<(), PveError> {
        self.call_value(&set_volume(node, storage, volid, notes, protected)).await.map(|_| ())
    }

    /// What `keep` would keep and remove of one VM's backups on a storage.
    pub async fn prune_preview(
        &self,
        node: &str,
        storage: &str,
        vmid: u32,
        keep: &str,
    ) -> Result<Vec<PruneMark>, PveError> {
        self.call(&prune_preview(node, storage, vmid, keep)).await
    }

    /// Removes one VM's backups on a storage that `keep` does not cover (a task).
    pub async fn prune(&self, node: &str, storage: &str, vmid: u32, keep: &str) -> Result<Upid, PveError> {
        upid(self.call_value(&prune(node, storage, vmid, keep)).await?)
    }

    /// The VM config stored in a backup, as text (`key: value` lines).
    pub async fn extract_config(&self, node: &str, volid: &str) -> Result<String, PveError> {
        let v = self.call_value(&extract_config(node, volid)).await?;
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| PveError::new(ErrorKind::Rejected, 200, format!("expected text, got {v}")))
    }

    pub async fn backup_jobs(&self) -> Result<Vec<PveBackupJob>, PveError> {
        self.call(&backup_jobs()).await
    }

    /// Starts a backup; `None` when PVE started nothing because the VM is not on `node`
    /// (vzdump answers `"OK"` then).
    pub async fn vzdump(&self, node: &str, vmid: u32, options: &BackupOptions) -> Result<Option<Upid>, PveError> {
        let v = self.call_value(&vzdump(node, vmid, options)).await?;
        if v.as_str() == Some("OK") {
            return Ok(None);
        }
        upid(v).map(Some)
    }

    /// The newest backup of a VM on a storage (PVE does not return the new volume id).
    pub async fn latest_backup(&self, node: &str, storage: &str, vmid: u32) -> Result<Option<Volume>, PveError> {
        let mut list = self.storage_content(node, storage, Some("backup"), Some(vmid)).await?;
        list.sort_by_key(|v| v.ctime.unwrap_or(0));
        Ok(list.pop())
    }

    pub async fn restore(
        &self,
        node: &str,
        vmid: u32,
        archive: &str,
        options: &RestoreOptions,
    ) -> Result<Upid, PveError> {
        upid(self.call_value(&restore(node, vmid, archive, options)).await?)
    }
}
