//! The create job (`server.create`). Each server goes through the named steps of [`Build`]:
//! record (claims the name) → allocate addresses → clone the template into a new vmid (under the
//! per-template and per-storage limits, so Proxmox never times out on its locks) → configure
//! CPU/memory/cloud-init/network → disks (resize the boot disk, add the others) → start → wait
//! for the guest agent to report the address (bounded) → record the result. Servers of one job
//! run side by side; a server that fails is rolled back (VM destroyed, IPs released) and the
//! others go on.
//!
//! Where bulk create lives: the request is checked in `spec.rs`, planned (template, node, boot
//! disk, datastores, addresses) in `plan.rs`, and built here.
//!
//! Faults: every call to Proxmox rides out a busy cluster (`cluster::Retry`): transient errors
//! are tried again within a budget, and a write whose answer was lost is looked for before it
//! is sent again (the clone looks for its VM by vmid, name and proxfleet's marker), so a lost
//! answer never makes a second VM.
//!
//! Resumption: an item found `running` after a crash goes on from where it was when its VM
//! exists and is ours (marker and name): the steps after the clone look before they act. Else
//! what it had made is rolled back and it is built again from the start (its state names the
//! vmid it had taken). Either way no VM, record or address is left behind or made twice.

use std::sync::Arc;
use std::time::Duration;

use pve::{CloneOptions, ConfigUpdate, ErrorKind, Polling, Power, PveClient, PveError, Upid, VmConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::inventory;
use super::marker;
use super::spec::{NicAddress, ServerSpec};
use super::store::{Disk, Nic, Server, ServerStatus, ServerStore};
use crate::cluster::{ClusterService, Freshness, Look, Retry};
use crate::events::EventBus;
use crate::ipam::Ipam;
use crate::jobs::{HandlerFuture, ItemRecorder, JobContext, JobHandler, KeyedLimits, Permit, StepOutcome, Stop};

pub const CREATE: &str = "server.create";

/// How the create job paces itself.
#[derive(Debug, Clone)]
pub struct CreateLimits {
    /// Full clones running at once from one template (PVE holds the source's lock).
    pub per_template: usize,
    /// Full clones writing to one storage at once.
    pub per_storage: usize,
    /// Servers of one job in flight at once.
    pub parallel: usize,
    /// How long to wait for one Proxmox task.
    pub task_timeout: Duration,
    /// How long to wait for the guest agent to report the address after start.
    pub agent_timeout: Duration,
    pub polling: Polling,
    /// How each step rides out a busy cluster (transient errors, lost answers).
    pub retry: Retry,
}

impl Default for CreateLimits {
    fn default() -> Self {
        CreateLimits {
            per_template: 2,
            per_storage: 2,
            parallel: 16,
            task_timeout: Duration::from_secs(1800),
            agent_timeout: Duration::from_secs(180),
            polling: Polling::default(),
            retry: Retry::default(),
        }
    }
}

/// One server of the job, as planned by the service: its spec plus where it will be made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedServer {
    pub spec: ServerSpec,
    pub template_vmid: u32,
    pub node: String,
    /// The template's boot disk (`scsi0`) and its size (its copies' are the same): the first
    /// disk resizes it.
    pub boot_device: String,
    pub boot_gb: u64,
    /// Storage the template's disks are on (linked clones stay there).
    pub template_storage: String,
    /// The template's node, where the clone is asked for (empty in jobs planned before
    /// servers were spread over nodes: `node`).
    #[serde(default)]
    pub template_node: String,
    /// Other nodes this server may be made on if `node` stops answering before its clone
    /// (the template's disks are on shared storage, or the node has a copy of it).
    #[serde(default)]
    pub spare_nodes: Vec<String>,
    /// Copies of the template (same name, same boot disk) on other nodes, for a template asked
    /// for by name: a server made on such a node is cloned from its copy there.
    #[serde(default)]
    pub copies: Vec<TemplateCopy>,
}

/// A template of the same name on another node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateCopy {
    pub node: String,
    pub vmid: u32,
}

impl PlannedServer {
    pub fn template_node(&self) -> &str {
        if self.template_node.is_empty() {
            &self.node
        } else {
            &self.template_node
        }
    }

    /// What a server made on `node` is cloned from: the copy on that node, if there is one,
    /// else the template (node, vmid).
    pub fn source(&self, node: &str) -> (&str, u32) {
        match self.copies.iter().find(|c| c.node == node) {
            Some(c) => (&c.node, c.vmid),
            None => (self.template_node(), self.template_vmid),
        }
    }

    /// Where a VM being made on `node` can be: the node it is cloned from first (Proxmox keeps
    /// a clone there until it is done, then moves it), then `node`.
    pub fn homes<'a>(&'a self, node: &'a str) -> [&'a str; 2] {
        [self.source(node).0, node]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateParams {
    pub servers: Vec<PlannedServer>,
}

#[derive(Clone)]
pub struct CreateHandler {
    pub store: ServerStore,
    pub ipam: Ipam,
    pub client: PveClient,
    /// For the sync when the job is done (a snapshot taken after its work).
    pub cluster: ClusterService,
    pub events: EventBus,
    pub limits: CreateLimits,
}

impl JobHandler for CreateHandler {
    fn kind(&self) -> &'static str {
        CREATE
    }

    fn audit_action(&self, _job: &crate::jobs::Job) -> Option<String> {
        Some(CREATE.to_owned())
    }

    fn run<'a>(&'a self, ctx: &'a mut JobContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let params: CreateParams = serde_json::from_value(ctx.job.params.clone())
                .map_err(|e| Stop::Failed(format!("bad parameters: {e}")))?;
            let items = ctx.items().await?;
            let recorder = ctx.item_recorder();
            let owner = (ctx.job.owner_id, ctx.job.owner.clone());
            // Items still to do: queued ones, and running ones an interrupted run left behind.
            let work: Vec<(i64, PlannedServer, Option<Value>)> = items
                .into_iter()
                .filter(|i| i.status == "queued" || i.status == "running")
                .filter_map(|i| {
                    let plan = params.servers.iter().find(|p| p.spec.name == i.name)?.clone();
                    let leftover = (i.status == "running").then(|| i.result.clone().unwrap_or(Value::Null));
                    Some((i.position, plan, leftover))
                })
                .collect();
            let gate = Arc::new(tokio::sync::Semaphore::new(self.limits.parallel.max(1)));
            let mut tasks = tokio::task::JoinSet::new();
            for (position, plan, leftover) in work {
                let (handler, rec, limits, owner, gate) =
                    (self.clone(), recorder.clone(), ctx.limits.clone(), owner.clone(), gate.clone());
                tasks.spawn(async move {
                    // Never closed, so the permit always comes.
                    let _turn = gate.acquire_owned().await;
                    handler.one(&rec, &limits, &owner, position, &plan, leftover).await;
                });
            }
            while let Some(done) = tasks.join_next().await {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a server task of a create job panicked");
                }
            }
            ctx.tally_items().await?;
            inventory::sync_after_job(ctx, &self.store, &self.cluster, &self.events).await?;
            let items = ctx.items().await?;
            let created: Vec<Value> =
                items.iter().filter(|i| i.status == "succeeded").filter_map(|i| i.result.clone()).collect();
            Ok(StepOutcome { result: Some(json!({ "created": created })) })
        })
    }
}

/// How a clone on one node came out, when it did not.
enum Cloned {
    /// Every try failed to connect to the node (595): Proxmox never got it, nothing was made.
    Undelivered(PveError),
    Failed(String),
}

/// What has been done for one server so far, kept as the item's state.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Progress {
    vmid: Option<u32>,
    node: Option<String>,
}

impl CreateHandler {
    async fn one(
        &self,
        rec: &ItemRecorder,
        limits: &KeyedLimits,
        owner: &(Option<i64>, String),
        position: i64,
        plan: &PlannedServer,
        leftover: Option<Value>,
    ) {
        let name = plan.spec.name.clone();
        let mut progress = Progress::default();
        let mut resumed = None;
        if let Some(state) = leftover {
            // A previous run died with this server half-made: go on with its VM if it is
            // there and ours, else undo what it made and build it again.
            let before: Progress = serde_json::from_value(state).unwrap_or_default();
            let nodes = plan.homes(before.node.as_deref().unwrap_or(""));
            match self.ours(&name, before.vmid, &nodes).await {
                Ok(Some((vmid, _, _))) => {
                    let line =
                        format!("resuming after an interruption with VM {vmid}, which the interrupted attempt made");
                    let _ = rec.log(&name, "warn", &line).await;
                    progress = before;
                    resumed = Some(vmid);
                }
                looked => {
                    let line = "resuming after an interruption: removing what the interrupted attempt made";
                    let _ = rec.log(&name, "warn", line).await;
                    let cleaned = match looked {
                        Err(e) => Err(e),
                        Ok(_) => self.roll_back(rec, &name, before.vmid, &nodes).await,
                    };
                    if let Err(e) = cleaned {
                        // Kept, marked failed, for cleanup once Proxmox can be asked again.
                        let _ = self.store.set_status(&name, ServerStatus::Failed).await;
                        let message = format!("could not clean up the interrupted attempt: {e}");
                        let _ = rec.failed(position, &name, &message).await;
                        return;
                    }
                }
            }
        }
        if rec.cancel_requested().await.unwrap_or(false) {
            let undone = match resumed {
                Some(vmid) => {
                    let nodes = plan.homes(progress.node.as_deref().unwrap_or(""));
                    self.roll_back(rec, &name, Some(vmid), &nodes).await
                }
                None => Ok(()),
            };
            let message = match undone {
                Ok(()) => "cancelled before it started".to_owned(),
                Err(e) => format!("cancelled; rollback incomplete: {e}"),
            };
            let _ = rec.failed(position, &name, &message).await;
            return;
        }
        match self.build(rec, limits, owner, position, plan, &mut progress, resumed).await {
            Ok(result) => {
                let _ = rec.ok(position, &result).await;
            }
            Err(e) => {
                let _ = rec.log(&name, "error", &format!("failed: {e}; rolling back")).await;
                let nodes = plan.homes(progress.node.as_deref().unwrap_or(""));
                let rolled = self.roll_back(rec, &name, progress.vmid, &nodes).await;
                let message = match rolled {
                    Ok(()) => e,
                    Err(r) => format!("{e} (rollback incomplete: {r}; the server is kept as failed for cleanup)"),
                };
                let _ = rec.failed(position, &name, &message).await;
            }
        }
    }

    /// The steps of one server, in order; each names what failed in its error. `progress`
    /// records the vmid as soon as one is taken, so a failure (or a crash) can roll it back.
    /// `resumed` is the VM an interrupted run made: its record and clone are kept, and the
    /// steps after it look at what the VM already has.
    #[allow(clippy::too_many_arguments)] // one server's whole context, passed once
    async fn build(
        &self,
        rec: &ItemRecorder,
        limits: &KeyedLimits,
        owner: &(Option<i64>, String),
        position: i64,
        plan: &PlannedServer,
        progress: &mut Progress,
        resumed: Option<u32>,
    ) -> Result<Value, String> {
        // A new server's node is settled just before its clone (`Build::clone_template`).
        let node = match (resumed, &progress.node) {
            (Some(_), Some(node)) => node.clone(),
            _ => plan.node.clone(),
        };
        let mut b = Build { h: self, rec, plan, node, resumed: resumed.is_some() };
        let (nics, vmid, storage) = match resumed {
            Some(vmid) => {
                // Its addresses are taken again from the pools: the interrupted run may have
                // held some or all of them.
                self.ipam.release_server(b.name()).await.map_err(fail)?;
                let nics = b.allocate_addresses().await?;
                b.wait_unlocked(vmid).await?;
                (nics, vmid, b.clone_storage())
            }
            None => {
                // Running from here on: a run that dies after the record and before the clone
                // leaves a record (and addresses) that the next run must clean up first.
                let _ = rec.running(position, &serde_json::to_value(&*progress).unwrap_or(Value::Null)).await;
                b.record(owner).await?;
                let nics = b.allocate_addresses().await?;
                let (vmid, storage) = b.clone_template(limits, position, progress).await?;
                (nics, vmid, storage)
            }
        };
        b.configure(vmid, &nics).await?;
        b.security_group(vmid).await?;
        let disks = b.disks(vmid, &storage).await?;
        b.start(vmid).await?;
        b.wait_for_address(vmid, &nics).await;
        b.record_result(vmid, disks, nics).await
    }

    /// The node to make a server on: the planned one if it answers (and so does the node it
    /// is cloned from), else the first spare that does (the template's disks are shared, or
    /// it has a copy); never `avoid`; an error naming the node when none can. Without a fresh
    /// view of the cluster the plan stands (the clone will say).
    async fn place(&self, rec: &ItemRecorder, plan: &PlannedServer, avoid: Option<&str>) -> Result<String, String> {
        let Ok(snapshot) = self.cluster.snapshot(Freshness::Recent).await else {
            return match avoid {
                None => Ok(plan.node.clone()),
                Some(node) => {
                    Err(format!("node {node} is not answering, and the cluster cannot be read to choose another"))
                }
            };
        };
        let online = |node: &str| {
            snapshot
                .resources
                .iter()
                .any(|r| r.kind == "node" && r.node.as_deref() == Some(node) && r.status.as_deref() == Some("online"))
        };
        // A node can take it when it answers and so does the node it is cloned from.
        let online = |node: &str| online(node) && Some(node) != avoid;
        let can_take = |node: &str| online(node) && online(plan.source(node).0);
        if can_take(&plan.node) {
            return Ok(plan.node.clone());
        }
        let template_node = plan.template_node();
        match plan.spare_nodes.iter().find(|n| can_take(n)) {
            Some(spare) => {
                let why = if online(&plan.node) { plan.source(&plan.node).0 } else { &plan.node };
                let line = format!("node {why} is not answering: made on {spare} instead");
                let _ = rec.log(&plan.spec.name, "warn", &line).await;
                Ok(spare.clone())
            }
            None if !online(template_node) && plan.copies.is_empty() => Err(format!(
                "node {template_node}, which holds template {}, is not answering: nothing can be cloned from it",
                plan.template_vmid
            )),
            None if plan.spare_nodes.is_empty() => Err(format!(
                "node {} is not answering, and no other node can take this server (template {}'s disks, or the first disk's datastore, are not shared)",
                plan.node, plan.template_vmid
            )),
            None => Err(format!("node {} is not answering, nor are the others that could take it ({})", plan.node, plan.spare_nodes.join(", "))),
        }
    }

    /// Which of `nodes` has VM `vmid`, with its config. A clone to another node stays on
    /// the node it is cloned from until it is done (Proxmox moves its config at the end), so a
    /// VM being made is looked for on both, that node first (`PlannedServer::homes`): a VM not
    /// there any more has moved before the second look, never between the looks unseen.
    async fn locate(&self, vmid: u32, nodes: &[&str]) -> Result<Option<(String, VmConfig)>, PveError> {
        let mut looked: Vec<&str> = Vec::new();
        for node in nodes.iter().copied().filter(|n| !n.is_empty()) {
            if looked.contains(&node) {
                continue;
            }
            looked.push(node);
            match self.limits.retry.call(|| self.client.vm_config(node, vmid)).await {
                Ok(config) => return Ok(Some((node.to_owned(), config))),
                Err(e) if e.kind == ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// `Some((vmid, node, config))` when the VM an item had taken exists on one of `nodes`
    /// and is ours (its name and proxfleet's marker); `None` when there is none; an error when
    /// Proxmox cannot say.
    async fn ours(
        &self,
        name: &str,
        vmid: Option<u32>,
        nodes: &[&str],
    ) -> Result<Option<(u32, String, VmConfig)>, String> {
        let Some(vmid) = vmid else { return Ok(None) };
        let cannot = |e: PveError| format!("cannot look at VM {vmid}: {}", e.message);
        let mut found = self.locate(vmid, nodes).await.map_err(cannot)?;
        if found.as_ref().is_some_and(|(_, c)| being_cloned(c)) {
            // Whose it is shows only once the clone is done.
            if self.settle(vmid, nodes).await?.is_none() {
                return Ok(None);
            }
            found = self.locate(vmid, nodes).await.map_err(cannot)?;
        }
        Ok(found.filter(|(_, c)| is_ours(c, name)).map(|(node, config)| (vmid, node, config)))
    }

    /// Waits (bounded by the task timeout) until VM `vmid` holds no clone lock; returns the
    /// node it ended on, `None` when it vanished (a failed clone).
    async fn settle(&self, vmid: u32, nodes: &[&str]) -> Result<Option<String>, String> {
        let started = tokio::time::Instant::now();
        let mut every = self.limits.polling.first;
        loop {
            match self.locate(vmid, nodes).await.map_err(|e| e.message)? {
                None => return Ok(None),
                Some((node, c)) if c.get("lock") != Some("clone") => return Ok(Some(node)),
                Some(_) if started.elapsed() >= self.limits.task_timeout => {
                    return Err(format!("VM {vmid} still locked after {} s", self.limits.task_timeout.as_secs()))
                }
                Some(_) => {}
            }
            tokio::time::sleep(every).await;
            every = (every * 2).min(self.limits.polling.max);
        }
    }

    async fn wait_for_agent(&self, node: &str, vmid: u32, want: Option<&str>) -> Option<String> {
        let started = tokio::time::Instant::now();
        let mut every = self.limits.polling.first;
        while started.elapsed() < self.limits.agent_timeout {
            if let Ok(ifaces) = self.client.vm_agent_interfaces(node, vmid).await {
                let ips: Vec<String> = ifaces
                    .iter()
                    .filter(|i| i.name != "lo")
                    .flat_map(|i| i.ip_addresses.iter())
                    .filter(|a| a.ip_address_type == "ipv4")
                    .map(|a| a.ip_address.clone())
                    .collect();
                if let Some(ip) = want.and_then(|w| ips.iter().find(|i| *i == w)).or(ips.first()) {
                    return Some(ip.clone());
                }
            }
            tokio::time::sleep(every).await;
            every = (every * 2).min(self.limits.polling.max);
        }
        None
    }

    /// Undoes a half-made server: stops and destroys the VM (if it exists and is ours),
    /// releases its addresses and drops the record. If the VM cannot be removed the record
    /// stays, marked failed, so cleanup can find it.
    async fn roll_back(&self, rec: &ItemRecorder, name: &str, vmid: Option<u32>, nodes: &[&str]) -> Result<(), String> {
        if let Some(vmid) = vmid {
            // Only a VM with our name and marker is destroyed (once a clone in progress is
            // done); one Proxmox cannot show us is kept with its record, marked failed, for
            // cleanup (never left unrecorded).
            let destroyed = match self.ours(name, Some(vmid), nodes).await {
                Ok(Some((_, node, config))) => {
                    let settled = match config.get("lock") {
                        Some("clone") => self.settle(vmid, nodes).await,
                        _ => Ok(Some(node)),
                    };
                    match settled {
                        Ok(Some(node)) => destroy_vm(&self.client, &node, vmid, &self.limits).await.map(|()| true),
                        Ok(None) => Ok(false),
                        Err(e) => Err(e),
                    }
                }
                Ok(None) => Ok(false),
                Err(e) => Err(e),
            };
            match destroyed {
                Ok(true) => {
                    let _ = rec.log(name, "info", &format!("rolled back: VM {vmid} destroyed")).await;
                }
                Ok(false) => {}
                Err(e) => {
                    let _ = self.store.set_status(name, ServerStatus::Failed).await;
                    return Err(e);
                }
            }
        }
        let released = self.ipam.release_server(name).await.map_err(|e| e.to_string())?;
        if released > 0 {
            let _ = rec.log(name, "info", &format!("rolled back: {released} address(es) released")).await;
        }
        self.store.delete(name).await.map_err(|e| e.to_string())?;
        self.state_changed(name, "deleted").await;
        Ok(())
    }

    async fn state_changed(&self, name: &str, status: &str) {
        let _ = self
            .events
            .publish(None, "server_state", json!({"type": "server_state", "name": name, "status": status}))
            .await;
    }
}

/// One server being built: the handler, the job item's recorder and the plan.
struct Build<'a> {
    h: &'a CreateHandler,
    rec: &'a ItemRecorder,
    plan: &'a PlannedServer,
    /// The node the VM is made on: the planned one, or a spare when that one stopped answering.
    node: String,
    /// Going on with a VM an interrupted run made: look before each change.
    resumed: bool,
}

/// A NIC with the DNS servers its address came with.
type PlannedNic = (Nic, Vec<String>);

fn fail(e: crate::Error) -> String {
    e.to_string()
}

impl Build<'_> {
    fn name(&self) -> &str {
        &self.plan.spec.name
    }

    async fn log(&self, line: String) {
        let _ = self.rec.log(self.name(), "info", &line).await;
    }

    async fn wait(&self, what: &str, upid: &Upid) -> Result<(), String> {
        wait_task(&self.h.client, upid, &self.h.limits).await.map_err(|e| format!("{what}: {}", e.message))
    }

    fn retry(&self) -> &Retry {
        &self.h.limits.retry
    }

    /// The storage the clone's disks are on: the first disk's for a full clone, the
    /// template's for a linked one.
    fn clone_storage(&self) -> String {
        let s = &self.plan.spec;
        if s.full_clone {
            s.disks.first().map(|d| d.storage.clone()).unwrap_or_default()
        } else {
            self.plan.template_storage.clone()
        }
    }

    /// Waits (bounded by the task timeout) until the clone is done: for a clone whose task
    /// id was lost with its answer. A VM that vanishes meanwhile was a failed clone.
    async fn wait_unlocked(&self, vmid: u32) -> Result<(), String> {
        let nodes = self.plan.homes(&self.node);
        match self.h.settle(vmid, &nodes).await.map_err(|e| format!("clone: {e}"))? {
            Some(node) if node == self.node => Ok(()),
            Some(node) => Err(format!("clone: VM {vmid} ended on {node}, not {}", self.node)),
            None => Err(format!("clone: VM {vmid} is gone; the clone failed")),
        }
    }

    /// The VM's config (tried again while the cluster is busy).
    async fn config(&self, vmid: u32) -> Result<VmConfig, PveError> {
        self.retry().call(|| self.h.client.vm_config(&self.node, vmid)).await
    }

    /// The record first: it claims the name and makes the server visible as "creating".
    async fn record(&self, owner: &(Option<i64>, String)) -> Result<(), String> {
        let s = &self.plan.spec;
        let row = Server {
            name: s.name.clone(),
            node: Some(self.node.clone()),
            status: ServerStatus::Creating,
            cores: s.cores,
            sockets: s.sockets,
            memory_mb: s.memory_mb,
            role: s.role.clone(),
            security_group: s.security_group.clone(),
            os_type: s.os_type.clone(),
            template_vmid: Some(self.plan.template_vmid),
            owner_id: owner.0,
            owner: owner.1.clone(),
            tags: s.tags.clone(),
            description: s.description.clone(),
            ..Default::default()
        };
        self.h.store.insert(&row).await.map_err(fail)?;
        self.h.state_changed(self.name(), "creating").await;
        Ok(())
    }

    /// An address per NIC: from its pool, the static one claimed, or none (DHCP).
    async fn allocate_addresses(&self) -> Result<Vec<PlannedNic>, String> {
        let (name, job) = (self.name(), self.rec.job_id);
        let mut nics = Vec::new();
        for nic in &self.plan.spec.nics {
            let (ip, prefix, gateway, bridge, vlan, pool, dns) = match &nic.address {
                NicAddress::Pool { pool } => {
                    let lease = self.h.ipam.allocate(pool, name, Some(job)).await.map_err(fail)?;
                    let bridge = if nic.bridge.is_empty() { lease.bridge.clone() } else { nic.bridge.clone() };
                    let dns = if nic.dns.is_empty() { lease.dns.clone() } else { nic.dns.clone() };
                    (
                        Some(lease.address),
                        Some(lease.prefix),
                        lease.gateway,
                        bridge,
                        nic.vlan.or(lease.vlan),
                        Some(pool.clone()),
                        dns,
                    )
                }
                NicAddress::Static { ip, prefix, gateway } => {
                    self.h.ipam.claim(ip, name, Some(job)).await.map_err(fail)?;
                    (
                        Some(ip.clone()),
                        Some(*prefix),
                        gateway.clone(),
                        nic.bridge.clone(),
                        nic.vlan,
                        None,
                        nic.dns.clone(),
                    )
                }
                NicAddress::Dhcp => (None, None, None, nic.bridge.clone(), nic.vlan, None, nic.dns.clone()),
            };
            let shown = ip.as_deref().map_or("dhcp".to_owned(), |i| format!("{i}/{}", prefix.unwrap_or(24)));
            self.log(format!("net{}: {shown} on {bridge}", nic.index)).await;
            nics.push((Nic { index: nic.index, bridge, vlan, mac: None, ip, prefix, gateway, pool }, dns));
        }
        Ok(nics)
    }

    /// Picks a vmid and clones the template into it, holding the template's (and for a full
    /// clone the target storage's) slot so Proxmox never times out on its locks. Returns the
    /// vmid and the storage the disks are on.
    async fn clone_template(
        &mut self,
        limits: &KeyedLimits,
        position: i64,
        progress: &mut Progress,
    ) -> Result<(u32, String), String> {
        let target_storage = self.clone_storage();
        // A node that never got the clone (it stopped answering after it was chosen) is left
        // out, once: the server is made on another that can take it, or fails saying why.
        let mut avoid: Option<String> = None;
        loop {
            let permits = self.take_turn(limits, &target_storage, avoid.as_deref()).await?;
            let cloned = self.clone_here(&target_storage, position, progress).await;
            for p in permits {
                p.release().await;
            }
            match cloned {
                Ok(vmid) => return Ok((vmid, target_storage)),
                Err(Cloned::Undelivered(e)) if avoid.is_none() => {
                    // Nothing was made: no VM to look for or undo. The request went to the
                    // node cloned from.
                    progress.vmid = None;
                    let asked = self.plan.source(&self.node).0.to_owned();
                    self.log(format!("clone: node {asked} did not get it ({})", e.message)).await;
                    avoid = Some(asked);
                }
                Err(Cloned::Undelivered(e)) => {
                    progress.vmid = None;
                    return Err(format!("clone: {}", e.message));
                }
                Err(Cloned::Failed(message)) => return Err(message),
            }
        }
    }

    /// Waits for this server's turn to clone (the template's, the target storage's slots) and
    /// settles its node then, with the cluster as it is at that moment: a node that stopped
    /// answering while it waited (or `avoid`) gets no new VM.
    async fn take_turn(
        &mut self,
        limits: &KeyedLimits,
        target_storage: &str,
        avoid: Option<&str>,
    ) -> Result<Vec<Permit>, String> {
        let plan = self.plan;
        let per_template = self.h.limits.per_template;
        let template_permit = |vmid: u32| async move {
            let key = format!("template:{vmid}");
            limits.acquire(&key, per_template).await.map_err(fail)
        };
        let planned = plan.source(&plan.node).1;
        let mut permits = vec![template_permit(planned).await?];
        self.node = self.h.place(self.rec, plan, avoid).await?;
        let source_vmid = plan.source(&self.node).1;
        if source_vmid != planned {
            // Made from another copy: that copy's turn.
            if let Some(p) = permits.pop() {
                p.release().await;
            }
            permits.push(template_permit(source_vmid).await?);
        }
        if plan.spec.full_clone {
            let key = format!("storage:{}/{target_storage}", self.node);
            permits.push(limits.acquire(&key, self.h.limits.per_storage).await.map_err(fail)?);
        }
        Ok(permits)
    }

    /// Clones the template (or its copy) onto `self.node` and waits for it: the new vmid.
    async fn clone_here(&self, target_storage: &str, position: i64, progress: &mut Progress) -> Result<u32, Cloned> {
        let (client, retry) = (&self.h.client, self.retry());
        let mut vmid = retry
            .call(|| client.next_id(None))
            .await
            .map_err(|e| Cloned::Failed(format!("next free vmid: {}", e.message)))?;
        let (started, mut tries) = (std::time::Instant::now(), 0);
        loop {
            tries += 1;
            let upid = self.send_clone(&mut vmid, target_storage, position, progress).await?;
            let kind = if self.plan.spec.full_clone { "full" } else { "linked" };
            let source = self.plan.source(&self.node).1;
            self.log(format!("cloning template {source} to vmid {vmid} on {} ({kind})", self.node)).await;
            let Some(upid) = upid else { return self.wait_unlocked(vmid).await.map(|()| vmid).map_err(Cloned::Failed) };
            match wait_task(client, &upid, &self.h.limits).await {
                // The task could not get the template's lock in time (another clone of it, e.g.
                // one an interrupted run left going, holds it) and made nothing: once more. (Any
                // other lock, met midway, may have left something behind: not repeated.)
                Err(e)
                    if e.is_transient()
                        && e.message.contains(&format!("lock-{source}.conf'"))
                        && retry.again(tries, started, &e).await =>
                {
                    self.log(format!("clone: {}; trying again", e.message)).await;
                }
                waited => return waited.map(|()| vmid).map_err(|e| Cloned::Failed(format!("clone: {}", e.message))),
            }
        }
    }

    /// Sends the clone of the template to `vmid` (reserved in the record first; the next free
    /// id if someone outside proxfleet took it): its task id, or `None` when its answer was lost
    /// but the VM was found.
    async fn send_clone(
        &self,
        vmid: &mut u32,
        target_storage: &str,
        position: i64,
        progress: &mut Progress,
    ) -> Result<Option<Upid>, Cloned> {
        let (plan, name, client, retry) = (self.plan, self.name(), &self.h.client, self.retry());
        let (s, (source_node, source_vmid)) = (&plan.spec, plan.source(&self.node));
        let options = CloneOptions {
            name: Some(name.to_owned()),
            full: Some(s.full_clone),
            target_storage: s.full_clone.then(|| target_storage.to_owned()),
            // The marker from the first moment, so a clone whose answer is lost is recognised.
            description: Some(marker::marked(&s.description)),
            target_node: (self.node != source_node).then(|| self.node.clone()),
            ..Default::default()
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let id = *vmid;
            // The unique vmid column reserves the id among our own concurrent creates.
            if let Err(e) = self.h.store.set_vmid(name, id, &self.node).await {
                if attempts < 50 {
                    *vmid += 1;
                    continue;
                }
                return Err(Cloned::Failed(fail(e)));
            }
            progress.vmid = Some(id);
            progress.node = Some(self.node.clone());
            let _ = self.rec.running(position, &serde_json::to_value(&*progress).unwrap_or(Value::Null)).await;
            // Whether any try may have reached the node: all but a connection never made (595).
            let reached = std::sync::atomic::AtomicBool::new(false);
            let sent = retry
                .write(
                    || async {
                        let sent = client.vm_clone(source_node, source_vmid, id, &options).await;
                        if !sent.as_ref().is_err_and(PveError::never_delivered) {
                            reached.store(true, std::sync::atomic::Ordering::Relaxed);
                        }
                        sent.map(Some)
                    },
                    || async {
                        match self.h.locate(id, &plan.homes(&self.node)).await {
                            Ok(Some((_, c))) if is_ours(&c, name) => Ok(Look::Done(None)),
                            // A clone under way shows no name yet: looked at again once done.
                            Ok(Some((_, c))) if being_cloned(&c) => Ok(Look::Pending),
                            Ok(Some(_)) => {
                                Err(PveError::new(ErrorKind::AlreadyExists, 500, format!("VM {id} already exists")))
                            }
                            Ok(None) => Ok(Look::NotDone),
                            Err(e) => Err(e),
                        }
                    },
                )
                .await;
            match sent {
                Ok(upid) => return Ok(upid),
                // Someone outside proxfleet took the id meanwhile: the next one.
                Err(e) if e.kind == ErrorKind::AlreadyExists && attempts < 50 => {
                    progress.vmid = None;
                    *vmid += 1;
                }
                Err(e) if e.kind == ErrorKind::Unreachable && !reached.load(std::sync::atomic::Ordering::Relaxed) => {
                    return Err(Cloned::Undelivered(e))
                }
                // Kept in `progress` (the clone may have been made with an answer that never
                // came): the rollback looks for it.
                Err(e) => return Err(Cloned::Failed(format!("clone: {}", e.message))),
            }
        }
    }

    /// CPU, memory, cloud-init (user, password, keys), NICs with their addresses, DNS, tags.
    async fn configure(&self, vmid: u32, nics: &[PlannedNic]) -> Result<(), String> {
        let s = &self.plan.spec;
        let mut update = ConfigUpdate::new().cores(s.cores).sockets(s.sockets).memory(s.memory_mb);
        if !s.ci_user.is_empty() {
            update = update.ciuser(&s.ci_user);
        }
        if let Some(pw) = &s.ci_password {
            update = update.cipassword(pw);
        }
        if !s.ssh_keys.is_empty() {
            let keys: Vec<&str> = s.ssh_keys.iter().map(String::as_str).collect();
            update = update.sshkeys(&keys);
        }
        let mut dns_all: Vec<String> = Vec::new();
        for (nic, dns) in nics {
            let index = u8::try_from(nic.index).unwrap_or(0);
            update = update.net(index, &nic.bridge, nic.vlan, true);
            update = match &nic.ip {
                Some(ip) => {
                    update.ipconfig(index, &format!("{ip}/{}", nic.prefix.unwrap_or(24)), nic.gateway.as_deref())
                }
                None => update.ipconfig(index, "dhcp", None),
            };
            for d in dns {
                if !dns_all.contains(d) {
                    dns_all.push(d.clone());
                }
            }
        }
        if !dns_all.is_empty() {
            update = update.nameserver(&dns_all.join(" "));
        }
        if !s.tags.is_empty() {
            let tags: Vec<&str> = s.tags.iter().map(String::as_str).collect();
            update = update.tags(&tags);
        }
        // Setting the same values again is harmless: tried again as is.
        self.retry()
            .call(|| self.h.client.vm_update_config(&self.node, vmid, &update))
            .await
            .map_err(|e| format!("configure: {}", e.message))?;
        self.log(format!(
            "set {} cores × {} sockets, {} MB, cloud-init and {} NIC(s)",
            s.cores,
            s.sockets,
            s.memory_mb,
            nics.len()
        ))
        .await;
        Ok(())
    }

    /// The first disk resizes the template's boot disk (never shrinks it); the others are new.
    /// Neither is done twice: a change whose answer was lost is looked for in the config
    /// before it is sent again, and a resumed server skips what its VM already has.
    async fn disks(&self, vmid: u32, target_storage: &str) -> Result<Vec<Disk>, String> {
        let (plan, client) = (self.plan, &self.h.client);
        let had = if self.resumed {
            Some(self.config(vmid).await.map_err(|e| format!("read config: {}", e.message))?)
        } else {
            None
        };
        let size_of = |c: &VmConfig, device: &str| c.get(device).map(inventory::volume_size_gb);
        let mut disks = Vec::new();
        for (i, d) in plan.spec.disks.iter().enumerate() {
            if i == 0 {
                let device = plan.boot_device.as_str();
                let done = had.as_ref().and_then(|c| size_of(c, device)).is_some_and(|gb| gb >= d.size_gb);
                if d.size_gb > plan.boot_gb && !done {
                    let what = format!("resize {device}");
                    let size = format!("{}G", d.size_gb);
                    let resized = self
                        .retry()
                        .write(
                            || client.vm_resize(&self.node, vmid, device, &size),
                            || async {
                                let c = client.vm_config(&self.node, vmid).await?;
                                let grown = size_of(&c, device).is_some_and(|gb| gb >= d.size_gb);
                                Ok(Look::done_if(grown, None))
                            },
                        )
                        .await;
                    if let Some(upid) = resized.map_err(|e| format!("{what}: {}", e.message))? {
                        self.wait(&what, &upid).await?;
                    }
                    self.log(format!("{device} resized to {} GB", d.size_gb)).await;
                }
                disks.push(Disk {
                    device: plan.boot_device.clone(),
                    storage: target_storage.to_owned(),
                    size_gb: d.size_gb.max(plan.boot_gb),
                });
            } else {
                let device = d.device();
                if had.as_ref().is_none_or(|c| c.get(&device).is_none()) {
                    let index = u8::try_from(d.index).unwrap_or(0);
                    let add = ConfigUpdate::new().new_disk(&d.bus, index, &d.storage, d.size_gb);
                    self.retry()
                        .write(
                            || client.vm_update_config(&self.node, vmid, &add),
                            || async {
                                let c = client.vm_config(&self.node, vmid).await?;
                                Ok(Look::done_if(c.get(&device).is_some(), ()))
                            },
                        )
                        .await
                        .map_err(|e| format!("add disk {device}: {}", e.message))?;
                    self.log(format!("added {device} ({} GB on {})", d.size_gb, d.storage)).await;
                }
                disks.push(Disk { device, storage: d.storage.clone(), size_gb: d.size_gb });
            }
        }
        Ok(disks)
    }

    /// Starts the VM, unless (found after a lost answer, or on a resumed server) it runs.
    async fn start(&self, vmid: u32) -> Result<(), String> {
        let (node, client) = (&self.node, &self.h.client);
        let running = || async { client.vm_status(node, vmid).await.map(|s| s.status == "running") };
        if self.resumed && self.retry().call(running).await.unwrap_or(false) {
            return Ok(());
        }
        let upid = self
            .retry()
            .write(
                || async { client.vm_power(node, vmid, Power::Start).await.map(Some) },
                || async { Ok(Look::done_if(running().await?, None)) },
            )
            .await
            .map_err(|e| format!("start: {}", e.message))?;
        if let Some(upid) = upid {
            self.wait("start", &upid).await?;
        }
        self.log("started".into()).await;
        Ok(())
    }

    /// Waits (bounded) for the guest agent to report the address; a silent agent is a warning,
    /// not a failure (the VM runs; some images have no agent).
    async fn wait_for_address(&self, vmid: u32, nics: &[PlannedNic]) {
        let want = nics.iter().find_map(|(n, _)| n.ip.clone());
        let reported = self.h.wait_for_agent(&self.node, vmid, want.as_deref()).await;
        match (&want, &reported) {
            (Some(ip), Some(seen)) => self.log(format!("guest agent reports {seen} (expected {ip})")).await,
            (_, None) => {
                let secs = self.h.limits.agent_timeout.as_secs();
                let line = format!("the guest agent did not report an address within {secs} s");
                let _ = self.rec.log(self.name(), "warn", &line).await;
            }
            _ => {}
        }
    }

    /// Records the result: MACs from the config, the final shape, running.
    /// The security group asked for, attached before the VM first starts, so it never runs
    /// without it (the firewall and NIC flags are turned on as for any attach).
    async fn security_group(&self, vmid: u32) -> Result<(), String> {
        let group = self.plan.spec.security_group.trim().to_ascii_lowercase();
        if group.is_empty() {
            return Ok(());
        }
        let params = crate::firewall::AssignParams {
            mode: crate::firewall::AssignMode::Replace,
            groups: vec![group.clone()],
            keep_enabled: false,
        };
        crate::firewall::assign::set_groups(&self.h.store, &self.h.client, self.name(), &self.node, vmid, &params)
            .await
            .map_err(|e| format!("security group {group}: {e}"))?;
        self.log(format!("attached security group {group}")).await;
        Ok(())
    }

    async fn record_result(&self, vmid: u32, disks: Vec<Disk>, nics: Vec<PlannedNic>) -> Result<Value, String> {
        let (s, node, name) = (&self.plan.spec, &self.node, self.name());
        let config = self.config(vmid).await.map_err(|e| format!("read config: {}", e.message))?;
        let mut recorded = Vec::new();
        for (mut nic, _) in nics {
            nic.mac = config.get(&format!("net{}", nic.index)).and_then(mac_of);
            recorded.push(nic);
        }
        self.h.store.set_shape(name, s.cores, s.sockets, s.memory_mb, &disks, &recorded).await.map_err(fail)?;
        self.h.store.set_status(name, ServerStatus::Running).await.map_err(fail)?;
        self.h.state_changed(name, "running").await;
        let ips: Vec<String> = recorded.iter().filter_map(|n| n.ip.clone()).collect();
        Ok(json!({"name": name, "vmid": vmid, "node": node, "ip_addresses": ips}))
    }
}

/// `virtio=BC:24:11:…,bridge=…` → the MAC.
fn mac_of(net: &str) -> Option<String> {
    net.split(',').next()?.split_once('=').map(|(_, mac)| mac.to_owned())
}

/// Whether a VM's config is one proxfleet made for `name`: its name and proxfleet's marker.
fn is_ours(config: &VmConfig, name: &str) -> bool {
    config.get("name") == Some(name) && marker::is_marked(config.get("description"))
}

/// A clone under way: until it is done, Proxmox shows only a temporary config (`lock: clone`,
/// no name or description), so whose VM it is cannot be told yet.
fn being_cloned(config: &VmConfig) -> bool {
    config.get("lock") == Some("clone") && config.get("name").is_none()
}

/// Waits for a task; polling that fails for want of an answer is tried again (the task runs
/// on regardless), a task that failed is its error.
pub async fn wait_task(client: &PveClient, upid: &Upid, limits: &CreateLimits) -> Result<(), PveError> {
    let unanswered = |e: &PveError| e.kind == ErrorKind::Unreachable;
    limits.retry.call_when(unanswered, || client.wait_task(upid, limits.task_timeout, limits.polling)).await.map(|_| ())
}

/// Stops (hard) a VM if it runs, then destroys it with its disks; waits for both tasks. A
/// stop or destroy whose answer was lost is looked for (the VM stopped? gone?) before it is
/// sent again; a VM already gone is done.
pub async fn destroy_vm(client: &PveClient, node: &str, vmid: u32, limits: &CreateLimits) -> Result<(), String> {
    let retry = &limits.retry;
    let status = || async { client.vm_status(node, vmid).await };
    let status = match retry.call(status).await {
        Err(e) if e.kind == ErrorKind::NotFound => return Ok(()),
        other => other.map_err(|e| e.message)?,
    };
    if status.status == "running" {
        let stopped = retry
            .write(
                || async { client.vm_power(node, vmid, Power::Stop).await.map(Some) },
                || async {
                    let stopped = client.vm_status(node, vmid).await?.status == "stopped";
                    Ok(Look::done_if(stopped, None))
                },
            )
            .await
            .map_err(|e| format!("stop: {}", e.message))?;
        if let Some(upid) = stopped {
            wait_task(client, &upid, limits).await.map_err(|e| format!("stop: {}", e.message))?;
        }
    }
    let destroyed = retry
        .write(
            || async { client.vm_destroy(node, vmid).await.map(Some) },
            || async {
                match client.vm_config(node, vmid).await {
                    Err(e) if e.kind == ErrorKind::NotFound => Ok(Look::Done(None)),
                    // Still there: being destroyed (locked) is waited for, else sent again.
                    Ok(c) if c.get("lock").is_some() => Ok(Look::Pending),
                    Ok(_) => Ok(Look::NotDone),
                    Err(e) => Err(e),
                }
            },
        )
        .await
        .map_err(|e| format!("destroy: {}", e.message))?;
    if let Some(upid) = destroyed {
        wait_task(client, &upid, limits).await.map_err(|e| format!("destroy: {}", e.message))?;
    }
    Ok(())
}
