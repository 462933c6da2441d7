//! Backups: the list, "back up now", and changes to one backup (protect, notes, delete).
//! The forms post plain fields, so each works without JavaScript too (the page reloads).

use leptos::prelude::*;
use model::backups::{BackupList, BackupQuery};
use model::AppError;

#[cfg(feature = "ssr")]
use crate::functions::door;

/// One page (50) of the backups matching `q`, with totals over all matches.
#[server(prefix = "/sfn", endpoint = "list_backups")]
pub async fn list_backups(q: BackupQuery, page: u32) -> Result<BackupList, AppError> {
    door::services()?.backups.list(&door::actor()?, &q, Some((page.max(1), 50))).await.map_err(door::fail)
}

/// The storages of a server's node that take backups, `local` first (for the back-up form).
#[server(prefix = "/sfn", endpoint = "backup_storages")]
pub async fn backup_storages(name: String) -> Result<Vec<String>, AppError> {
    let (services, actor) = (door::services()?, door::actor()?);
    let server = services.servers.get(&actor, &name).await.map_err(door::fail)?;
    let Some(node) = server.node else { return Ok(Vec::new()) };
    let list = services.backups.storages(&actor, &node).await.map_err(door::fail)?;
    let mut ids: Vec<String> = list.into_iter().map(|s| s.storage).collect();
    ids.sort_by_key(|s| (s != "local", s.clone()));
    Ok(ids)
}

/// Starts a backup of one server; returns the job id.
#[server(prefix = "/sfn", endpoint = "back_up_server")]
pub async fn back_up_server(
    name: String,
    storage: String,
    mode: String,
    compress: String,
    description: String,
    protected: Option<String>,
) -> Result<i64, AppError> {
    let req = model::backups::BackupRequest {
        storage: Some(storage).filter(|s| !s.is_empty()),
        mode: Some(mode),
        compress: Some(compress),
        description: Some(description),
        protected: protected.is_some(),
    };
    let (job, _) = door::services()?.backups.back_up(&door::actor()?, &[name], &req).await.map_err(door::fail)?;
    Ok(job.id)
}

/// Backs up several servers (the servers table's bulk action) with the defaults: each node's
/// `local` storage (else its first backup storage), snapshot mode, zstd. Returns the job id.
#[server(prefix = "/sfn", endpoint = "back_up_servers")]
pub async fn back_up_servers(names: Vec<String>) -> Result<i64, AppError> {
    let req = model::backups::BackupRequest::default();
    let (job, _) = door::services()?.backups.back_up(&door::actor()?, &names, &req).await.map_err(door::fail)?;
    Ok(job.id)
}

/// Protects or unprotects a backup.
#[server(prefix = "/sfn", endpoint = "protect_backup")]
pub async fn protect_backup(node: String, volid: String, protected: bool) -> Result<(), AppError> {
    let u = model::backups::VolumeUpdate { node, volid, notes: None, protected: Some(protected) };
    door::services()?.backups.update_volume(&door::actor()?, &u).await.map(|_| ()).map_err(door::fail)
}

/// Deletes a backup (refused while protected).
#[server(prefix = "/sfn", endpoint = "delete_backup")]
pub async fn delete_backup(node: String, volid: String) -> Result<(), AppError> {
    door::services()?.backups.delete(&door::actor()?, &node, &volid, None).await.map(|_| ()).map_err(door::fail)
}

/// A server's running or recent backup: `(job id, progress, status, message)`.
#[server(prefix = "/sfn", endpoint = "server_backup_status")]
pub async fn server_backup_status(name: String) -> Result<Option<(i64, i64, String, String)>, AppError> {
    let all = door::services()?.backups.status(&door::actor()?, Some(&name)).await.map_err(door::fail)?;
    Ok(all.get(&name).map(|s| (s.job_id, s.progress, s.status.to_owned(), s.message.clone())))
}
