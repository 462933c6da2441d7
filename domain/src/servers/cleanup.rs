//! Cleanup: records that no longer stand for a healthy VM — a create or delete that never
//! finished (its instance died and the job gave up), a VM that vanished behind proxfleet's back,
//! a rollback that could not destroy its VM — and removing them with whatever VM is left; and
//! the orphan check (`orphans`): VMs without a record, records without a VM, addresses held by
//! no server.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::actions::{Action, ActionParams, ACTION};
use super::marker;
use super::service::ServerService;
use super::ServerStatus;
use crate::auth::{Actor, Permission};
use crate::clock::now_ms;
use crate::cluster::Freshness;
use crate::jobs::Job;
use crate::{Error, Result};
pub use model::servers::{OrphanAddress, OrphanRecord, OrphanVm, Orphans};

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

/// The most unrecorded VMs whose configs the check reads to find proxfleet's marker.
const MARKER_READS: usize = 500;

impl ServerService {
    /// Everything out of step between Proxmox, the records and the address pools, for an
    /// operator to look at (`view_all`). Reads a fresh cluster snapshot; changes nothing.
    pub async fn orphans(&self, actor: &Actor) -> Result<Orphans> {
        actor.require(Permission::ViewAll)?;
        let snapshot = self.cluster.snapshot(Freshness::Since(std::time::Instant::now())).await?;
        let records = self.store.all().await?;
        let by_name: HashSet<&str> = records.iter().map(|r| r.name.as_str()).collect();
        let recorded: HashSet<u32> = records.iter().filter_map(|r| r.vmid).collect();
        let now = now_ms();

        let mut vms_without_record = Vec::new();
        for r in snapshot.resources.iter().filter(|r| r.kind == "qemu" && !r.template) {
            let Some(vmid) = r.vmid.and_then(|v| u32::try_from(v).ok()) else { continue };
            if recorded.contains(&vmid) {
                continue;
            }
            vms_without_record.push(OrphanVm {
                vmid,
                node: r.node.clone().unwrap_or_default(),
                name: r.name.clone().unwrap_or_default(),
                status: r.status.clone().unwrap_or_default(),
                made_by_proxfleet: None,
                hint: String::new(),
            });
        }
        // Which of them proxfleet made: their configs, a few at a time.
        if vms_without_record.len() <= MARKER_READS {
            let client = self.cluster_client()?;
            let mut reads = tokio::task::JoinSet::new();
            let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
            for (i, vm) in vms_without_record.iter().enumerate() {
                let (client, gate, node, vmid) = (client.clone(), gate.clone(), vm.node.clone(), vm.vmid);
                reads.spawn(async move {
                    let _turn = gate.acquire_owned().await;
                    (i, client.vm_config(&node, vmid).await.ok().map(|c| marker::is_marked(c.get("description"))))
                });
            }
            while let Some(done) = reads.join_next().await {
                if let Ok((i, marked)) = done {
                    if let Some(vm) = vms_without_record.get_mut(i) {
                        vm.made_by_proxfleet = marked;
                    }
                }
            }
        }
        for vm in &mut vms_without_record {
            vm.hint = match vm.made_by_proxfleet {
                Some(true) => "made by proxfleet, its record lost: import it (sync with import) or destroy it".into(),
                _ => "not managed by proxfleet: import it (sync with import) or leave it".into(),
            };
        }

        let mut records_without_vm = Vec::new();
        for r in &records {
            let in_flight = matches!(r.status, ServerStatus::Creating | ServerStatus::Deleting)
                && now - r.updated_at <= STUCK_AFTER_MS;
            if in_flight {
                continue;
            }
            let vm = r.vmid.and_then(|v| snapshot.vm(u64::from(v)));
            let hint = match vm {
                Some(vm) if vm.name.as_deref() == Some(r.name.as_str()) => continue,
                Some(vm) => format!(
                    "VM {} is now {:?}, not this server",
                    vm.vmid.unwrap_or(0),
                    vm.name.clone().unwrap_or_default()
                ),
                None if r.vmid.is_none() => "it never got a VM".into(),
                None => "its VM is gone from Proxmox".into(),
            };
            records_without_vm.push(OrphanRecord {
                name: r.name.clone(),
                vmid: r.vmid,
                node: r.node.clone(),
                status: r.status,
                hint: format!("{hint}: clean it up (POST /api/cleanup/clean/{})", r.name),
            });
        }

        let addresses_without_server: Vec<OrphanAddress> = self
            .ipam
            .holders()
            .await?
            .into_iter()
            .filter(|(_, server)| !by_name.contains(server.as_str()))
            .map(|(address, server_name)| OrphanAddress { address, server_name })
            .collect();
        let total = vms_without_record.len() + records_without_vm.len() + addresses_without_server.len();
        Ok(Orphans { vms_without_record, records_without_vm, addresses_without_server, total })
    }
}
