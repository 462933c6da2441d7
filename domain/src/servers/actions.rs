//! The lifecycle job (`server.action`): start, stop, reboot or delete a list of servers, each
//! checked against its Proxmox task's result. Stop is a graceful shutdown that forces the VM
//! off after a timeout; reboot asks the guest and resets the VM if that hangs; delete stops,
//! destroys the VM with its disks, releases its addresses and drops the record. Each rides out
//! a busy cluster like the create job (`cluster::Retry`): a power change whose answer was lost
//! is looked for before it is sent again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use pve::{Power, PveClient};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::create::{destroy_vm, wait_task, CreateLimits};
use super::inventory;
use super::store::{ServerStatus, ServerStore};
use crate::cluster::{ClusterService, Look};
use crate::events::EventBus;
use crate::ipam::Ipam;
use crate::jobs::{HandlerFuture, ItemRecorder, JobContext, JobHandler, StepOutcome, Stop};

pub const ACTION: &str = "server.action";

pub use model::servers::Action;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionParams {
    pub action: Action,
    /// Seconds a guest gets to shut down or reboot before proxfleet forces it.
    pub grace_secs: u32,
}

#[derive(Clone)]
pub struct ActionHandler {
    pub store: ServerStore,
    pub ipam: Ipam,
    pub client: PveClient,
    /// For the sync when the job is done (a snapshot taken after its work).
    pub cluster: ClusterService,
    pub events: EventBus,
    pub limits: CreateLimits,
}

impl JobHandler for ActionHandler {
    fn kind(&self) -> &'static str {
        ACTION
    }

    fn audit_action(&self, job: &crate::jobs::Job) -> Option<String> {
        let action = serde_json::from_value::<ActionParams>(job.params.clone()).map(|p| p.action.as_str());
        Some(format!("server.{}", action.unwrap_or("action")))
    }

    fn run<'a>(&'a self, ctx: &'a mut JobContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let params: ActionParams = serde_json::from_value(ctx.job.params.clone())
                .map_err(|e| Stop::Failed(format!("bad parameters: {e}")))?;
            let items = ctx.items().await?;
            let recorder = ctx.item_recorder();
            let gate = Arc::new(tokio::sync::Semaphore::new(self.limits.parallel.max(1)));
            let mut tasks = tokio::task::JoinSet::new();
            // Actions are idempotent (start a running VM is a no-op), so a resumed job simply
            // runs its unfinished items again.
            for item in items.into_iter().filter(|i| i.status == "queued" || i.status == "running") {
                let (handler, rec, gate, params) = (self.clone(), recorder.clone(), gate.clone(), params.clone());
                tasks.spawn(async move {
                    let _turn = gate.acquire_owned().await;
                    let _ = rec.running(item.position, &Value::Null).await;
                    match handler.one(&rec, &params, &item.name).await {
                        Ok(result) => {
                            let _ = rec.ok(item.position, &result).await;
                        }
                        Err(e) => {
                            let _ = rec.failed(item.position, &item.name, &e).await;
                        }
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a server task of an action job panicked");
                }
            }
            ctx.tally_items().await?;
            inventory::sync_after_job(ctx, &self.store, &self.cluster, &self.events).await?;
            Ok(StepOutcome::default())
        })
    }
}

impl ActionHandler {
    async fn one(&self, rec: &ItemRecorder, params: &ActionParams, name: &str) -> Result<Value, String> {
        let server =
            self.store.by_name(name).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no server {name}"))?;
        let (Some(vmid), Some(node)) = (server.vmid, server.node.clone()) else {
            if params.action == Action::Delete {
                // A record that never got a VM (a create that died early): just drop it.
                let released = self.ipam.release_server(name).await.map_err(|e| e.to_string())?;
                self.store.delete(name).await.map_err(|e| e.to_string())?;
                self.state_changed(name, "deleted").await;
                return Ok(json!({"name": name, "deleted": true, "released": released}));
            }
            return Err(format!("{name} has no VM recorded"));
        };
        let (c, retry, node) = (&self.client, &self.limits.retry, node.as_str());
        let wait = |upid: Option<pve::Upid>| async move {
            match upid {
                Some(upid) => wait_task(c, &upid, &self.limits).await.map_err(|e| e.message),
                None => Ok(()),
            }
        };
        let log = |line: String| async move {
            let _ = rec.log(name, "info", &line).await;
        };
        // A power change whose answer was lost is looked for before it is sent again: the VM
        // is already in the state asked for (or, for a reboot, came up after it was asked).
        let power = |action: Power, reached: fn(&pve::VmStatus, Duration) -> bool| async move {
            let asked = Instant::now();
            retry
                .write(
                    || async { c.vm_power(node, vmid, action).await.map(Some) },
                    || async {
                        let now = c.vm_status(node, vmid).await?;
                        Ok(Look::done_if(reached(&now, asked.elapsed()), None))
                    },
                )
                .await
                .map_err(|e| e.message)
        };
        let running = |s: &pve::VmStatus, _: Duration| s.status == "running";
        let stopped = |s: &pve::VmStatus, _: Duration| s.status == "stopped";
        let rebooted = |s: &pve::VmStatus, since: Duration| {
            s.status == "running" && s.uptime.is_some_and(|up| Duration::from_secs(up) <= since)
        };
        let status = match params.action {
            Action::Start => {
                wait(power(Power::Start, running).await?).await?;
                log(format!("started VM {vmid}")).await;
                ServerStatus::Running
            }
            Action::Stop => {
                let shutdown = Power::Shutdown { timeout: Some(params.grace_secs), force_stop: true };
                wait(power(shutdown, stopped).await?).await?;
                log(format!(
                    "shut down VM {vmid} (forced off after {} s if the guest did not stop)",
                    params.grace_secs
                ))
                .await;
                ServerStatus::Stopped
            }
            Action::Reboot => {
                let asked = match power(Power::Reboot { timeout: Some(params.grace_secs) }, rebooted).await {
                    Ok(upid) => wait(upid).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = asked {
                    // The guest did not reboot in time (or refused): reset the VM.
                    let _ = rec.log(name, "warn", &format!("guest reboot failed ({e}); resetting")).await;
                    wait(power(Power::Reset, rebooted).await?).await?;
                }
                log(format!("rebooted VM {vmid}")).await;
                ServerStatus::Running
            }
            Action::Delete => {
                self.store.set_status(name, ServerStatus::Deleting).await.map_err(|e| e.to_string())?;
                self.state_changed(name, "deleting").await;
                match retry.call(|| c.vm_status(node, vmid)).await {
                    // The id may have been reused by another VM since: never destroy that one.
                    Ok(vm) if vm.name.as_deref() != Some(name) => {
                        log(format!("VM {vmid} now belongs to {:?}; left alone", vm.name.unwrap_or_default())).await
                    }
                    Ok(_) => destroy_vm(c, node, vmid, &self.limits).await?,
                    Err(e) if e.kind == pve::ErrorKind::NotFound => log(format!("VM {vmid} was already gone")).await,
                    Err(e) => return Err(e.message),
                }
                let released = self.ipam.release_server(name).await.map_err(|e| e.to_string())?;
                self.store.delete(name).await.map_err(|e| e.to_string())?;
                log(format!("destroyed VM {vmid} with its disks; released {released} address(es)")).await;
                self.state_changed(name, "deleted").await;
                return Ok(json!({"name": name, "vmid": vmid, "deleted": true}));
            }
        };
        self.store.set_status(name, status).await.map_err(|e| e.to_string())?;
        self.state_changed(name, status.as_str()).await;
        Ok(json!({"name": name, "vmid": vmid, "status": status}))
    }

    async fn state_changed(&self, name: &str, status: &str) {
        let _ = self
            .events
            .publish(None, "server_state", json!({"type": "server_state", "name": name, "status": status}))
            .await;
    }
}
