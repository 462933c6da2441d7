//! Cleanup: records that no longer stand for a healthy VM — a create or delete that never
//! finished (its instance died and the job gave up), a VM that vanished behind proxfleet's back,
//! a rollback that could not destroy its VM — and removing them with whatever VM is left.

use serde::{Deserialize, Serialize};

use super::actions::{Action, ActionParams, ACTION};
use super::service::ServerService;
use super::ServerStatus;
use crate::auth::{Actor, Permission};
use crate::clock::now_ms;
use crate::jobs::Job;
use crate::{Error, Result};

/// A `creating`/`deleting` record untouched this long has lost its job.
const STUCK_AFTER_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CleanupStatus {
    pub name: String,
    pub status: ServerStatus,
    pub vmid: Option<u32>,
    pub node: Option<String>,
    /// Whether Proxmox still has a VM of that id and name.
    pub vm_exists: bool,
    pub addresses: Vec<String>,
    /// Why it needs cleaning, if it does.
    pub reason: Option<String>,
}

fn reason(status: ServerStatus, updated_at: i64, now: i64) -> Option<String> {
    match status {
        ServerStatus::Failed => Some("a create or rollback failed; the record was kept for cleanup".into()),
        ServerStatus::Missing => Some("its VM is gone from Proxmox".into()),
        ServerStatus::Creating | ServerStatus::Deleting if now - updated_at > STUCK_AFTER_MS => {
            Some(format!("{status} for over an hour: its job was lost"))
        }
        _ => None,
    }
}

impl ServerService {
    /// One server's cleanup view (`view_all` or its owner).
    pub async fn cleanup_status(&self, actor: &Actor, name: &str) -> Result<CleanupStatus> {
        let s = self.get(actor, name).await?;
        let vm_exists = match (&s.node, s.vmid) {
            (Some(node), Some(vmid)) => self
                .cluster_client()?
                .vm_status(node, vmid)
                .await
                .is_ok_and(|v| v.name.as_deref() == Some(s.name.as_str())),
            _ => false,
        };
        Ok(CleanupStatus {
            reason: reason(s.status, s.updated_at, now_ms()),
            addresses: self.ipam.addresses_of(&s.name).await?,
            name: s.name,
            status: s.status,
            vmid: s.vmid,
            node: s.node,
            vm_exists,
        })
    }

    /// Every record that needs cleaning.
    pub async fn failed_servers(&self, actor: &Actor) -> Result<Vec<CleanupStatus>> {
        let (all, _) = self.list(actor, &super::ServerQuery::default(), 1, u32::MAX).await?;
        let now = now_ms();
        let mut out = Vec::new();
        for s in all.into_iter().filter(|s| reason(s.status, s.updated_at, now).is_some()) {
            out.push(self.cleanup_status(actor, &s.name).await?);
        }
        Ok(out)
    }

    /// Removes the named records (all that need it when `names` is empty) with what is left
    /// of their VMs and addresses: one job, like a delete (`delete_server`).
    pub async fn clean(&self, actor: &Actor, names: &[String]) -> Result<Job> {
        actor.require(Permission::DeleteServer)?;
        let candidates = self.failed_servers(actor).await?;
        let chosen: Vec<String> = if names.is_empty() {
            candidates.iter().map(|c| c.name.clone()).collect()
        } else {
            for n in names {
                if !candidates.iter().any(|c| &c.name == n) {
                    let s = self.get(actor, n).await?;
                    return Err(Error::Conflict(format!(
                        "{n} is {} and needs no cleanup; delete it instead",
                        s.status
                    )));
                }
            }
            names.to_vec()
        };
        if chosen.is_empty() {
            return Err(Error::Conflict("nothing needs cleaning".into()));
        }
        // Stuck records are taken over by the cleanup job.
        for n in &chosen {
            self.store.set_status(n, ServerStatus::Failed).await?;
        }
        let params = serde_json::to_value(ActionParams { action: Action::Delete, grace_secs: 0 })
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.enqueue_job(actor, ACTION, params, chosen).await
    }
}
