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

/// A backup of one VM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupOptions {
    pub storage: String,
    /// `{{guestname}}`, `{{vmid}}`, `{{node}}`, `{{cluster}}` are filled in by PVE.
    pub notes_template: Option<String>,
    pub protected: bool,
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
        .str("mode", "snapshot")
        .str("compress", "zstd")
        .opt_str("notes-template", o.notes_template.clone())
        .bool("protected", o.protected);
    Request::new(Method::Post, "/nodes/{node}/vzdump", format!("/nodes/{}/vzdump", seg(node))).with(p)
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

    pub async fn vzdump(&self, node: &str, vmid: u32, options: &BackupOptions) -> Result<Upid, PveError> {
        upid(self.call_value(&vzdump(node, vmid, options)).await?)
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
