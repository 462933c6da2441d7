//! `ServerService`: what both doors call for servers — reads, sync and import, create (one or
//! many), and lifecycle actions. Every method checks the actor's permission; everything that
//! touches a VM runs as a job.

use std::collections::{BTreeMap, HashMap, HashSet};

use pve::{Resource, ResourceKind};
use serde_json::{json, Value};

use super::actions::{Action, ActionHandler, ActionParams, ACTION};
use super::create::{CreateHandler, CreateLimits, CreateParams, PlannedServer, CREATE};
use super::inventory::{self, SyncReport};
use super::logs::{self, LogKind, ServerLogs};
use super::spec::{self, NicAddress, ServerRequest, TemplateRef};
use super::store::{ListFilter, Server, ServerStore};
use super::{
    CreateOptions, DatastoreChoice, FleetStats, NodeStats, PoolChoice, ServerQuery, ServerStatus, TemplateChoice,
};
use crate::audit::AuditLog;
use crate::auth::{Actor, Permission};
use crate::cluster::{from_pve, ClusterService};
use crate::events::EventBus;
use crate::ipam::Ipam;
use crate::jobs::{Job, JobRunner, JobService};
use crate::settings::SettingsStore;
use crate::{Error, Result};

/// Settings keys.
pub const DEFAULT_HDD: &str = "datastores.default_hdd";
pub const DEFAULT_SSD: &str = "datastores.default_ssd";
pub const DEFAULT_SSH_KEY: &str = "servers.default_ssh_key";
const FALLBACK_DATASTORE: &str = "local-lvm";

#[derive(Debug, Clone)]
pub struct ServerService {
    pub store: ServerStore,
    pub ipam: Ipam,
    cluster: ClusterService,
    jobs: JobService,
    events: EventBus,
    settings: SettingsStore,
    limits: CreateLimits,
    /// Changes made here and by the server jobs are audited (`server.*`).
    pub(super) audit: AuditLog,
}

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn pct(part: f64, whole: f64) -> f64 {
    if whole <= 0.0 {
        0.0
    } else {
        (part / whole * 1000.0).round() / 10.0
    }
}

impl ServerService {
    pub fn new(
        store: ServerStore,
        ipam: Ipam,
        cluster: ClusterService,
        jobs: JobService,
        events: EventBus,
        settings: SettingsStore,
        audit: AuditLog,
    ) -> Self {
        ServerService { store, ipam, cluster, jobs, events, settings, limits: CreateLimits::default(), audit }
    }

    /// Paces creates differently (tests use short agent waits and fast polling).
    pub fn with_limits(mut self, limits: CreateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Registers the create and action job handlers (only when a cluster is configured).
    pub fn register_jobs(&self, runner: JobRunner) -> JobRunner {
        let Ok(client) = self.cluster.client() else { return runner };
        let create = CreateHandler {
            store: self.store.clone(),
            ipam: self.ipam.clone(),
            client: client.clone(),
            events: self.events.clone(),
            limits: self.limits.clone(),
        };
        let action = ActionHandler {
            store: self.store.clone(),
            ipam: self.ipam.clone(),
            client: client.clone(),
            events: self.events.clone(),
            limits: self.limits.clone(),
        };
        runner.register(create).register(action)
    }

    pub(super) fn cluster_client(&self) -> Result<&pve::PveClient> {
        self.cluster.client()
    }

    pub(super) async fn enqueue_job(
        &self,
        actor: &Actor,
        kind: &str,
        params: Value,
        items: Vec<String>,
    ) -> Result<Job> {
        self.jobs.enqueue(actor, kind, params, items).await
    }

    pub(super) async fn default_datastore(&self) -> Result<String> {
        Ok(self.setting_text(DEFAULT_HDD).await?.unwrap_or_else(|| FALLBACK_DATASTORE.into()))
    }

    fn visible(actor: &Actor, s: &Server) -> bool {
        actor.has(Permission::ViewAll) || s.owner_id == Some(actor.user_id)
    }

    /// Servers the actor may see (everyone's with `view_all`, else their own), filtered and
    /// sorted; `(page, total)`.
    pub async fn list(&self, actor: &Actor, q: &ServerQuery, page: u32, per_page: u32) -> Result<(Vec<Server>, usize)> {
        actor.require_current()?;
        let sort = q.sort.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "name".into());
        if !["name", "status", "node", "cores", "memory", "created"].contains(&sort.as_str()) {
            return Err(Error::validation(
                "sort",
                format!("{sort:?}: sort by name, status, node, cores, memory or created"),
            ));
        }
        let filter = ListFilter {
            owner_id: (!actor.has(Permission::ViewAll)).then_some(actor.user_id),
            status: q.status.clone(),
            role: q.role.clone(),
            node: q.node.clone(),
            tag: q.tag.clone(),
            search: q.search.clone(),
            sort,
            desc: q.desc,
        };
        self.store.query(&filter, page, per_page).await
    }

    /// Nodes, roles and tags among the servers the actor sees (for the list's filters).
    pub async fn filter_choices(&self, actor: &Actor) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
        actor.require_current()?;
        self.store.choices((!actor.has(Permission::ViewAll)).then_some(actor.user_id)).await
    }

    pub async fn get(&self, actor: &Actor, name: &str) -> Result<Server> {
        actor.require_current()?;
        self.store
            .by_name(name)
            .await?
            .filter(|s| Self::visible(actor, s))
            .ok_or_else(|| Error::NotFound(format!("no server {name:?}")))
    }

    /// Servers by name (all visible ones without names).
    pub async fn brief(&self, actor: &Actor, names: Option<&[String]>) -> Result<Vec<Server>> {
        let (all, _) = self.list(actor, &ServerQuery::default(), 1, u32::MAX).await?;
        Ok(match names {
            Some(names) => all.into_iter().filter(|s| names.contains(&s.name)).collect(),
            None => all,
        })
    }

    /// The fleet and node figures alone, from the stored records and one `/cluster/resources`
    /// read (no reconcile: the background sync keeps records current). For the dashboard.
    pub async fn fleet_stats(&self, actor: &Actor) -> Result<FleetStats> {
        actor.require_current()?;
        let resources = self.cluster.client()?.resources(None).await.map_err(from_pve)?;
        let (servers, _) = self.list(actor, &ServerQuery::default(), 1, u32::MAX).await?;
        Ok(stats(&servers, &resources))
    }

    /// Records refreshed from Proxmox, with node and fleet figures — one cluster call.
    pub async fn fleet(&self, actor: &Actor) -> Result<(Vec<Server>, FleetStats)> {
        actor.require_current()?;
        let resources = self.cluster.client()?.resources(None).await.map_err(from_pve)?;
        inventory::reconcile(&self.store, &resources, &self.events).await?;
        let (servers, _) = self.list(actor, &ServerQuery::default(), 1, u32::MAX).await?;
        let stats = stats(&servers, &resources);
        Ok((servers, stats))
    }

    /// Reconciles every record with Proxmox now.
    pub async fn sync(&self, actor: &Actor) -> Result<SyncReport> {
        actor.require(Permission::ViewAll)?;
        inventory::sync(&self.store, self.cluster.client()?, &self.events).await
    }

    /// Imports VMs proxfleet does not manage yet: those named, or all of them.
    pub async fn import(&self, actor: &Actor, names: Option<&[String]>) -> Result<SyncReport> {
        actor.require(Permission::CreateServer)?;
        let client = self.cluster.client()?;
        let mut report = inventory::sync(&self.store, client, &self.events).await?;
        if let Some(names) = names {
            for n in names {
                if !report.unmanaged.iter().any(|u| &u.name == n) {
                    return Err(Error::validation("names", format!("{n:?} is not an unmanaged VM on the cluster")));
                }
            }
        }
        let chosen: Vec<_> =
            report.unmanaged.iter().filter(|u| names.is_none_or(|n| n.contains(&u.name))).cloned().collect();
        for vm in chosen {
            if spec::check_name(&vm.name).is_err() || self.store.by_name(&vm.name).await?.is_some() {
                continue; // A name proxfleet cannot use (or already has): left unmanaged.
            }
            let config = client.vm_config(&vm.node, vm.vmid).await.map_err(from_pve)?;
            let mut record = inventory::record_from_config(&vm, &config);
            record.owner_id = Some(actor.user_id);
            record.owner = actor.username.clone();
            self.store.insert(&record).await?;
            let detail = format!("VM {} on {}", vm.vmid, vm.node);
            self.audit.outcome(actor, "server.import", &record.name, &Ok(()), detail).await?;
            for ip in record.nics.iter().filter_map(|n| n.ip.clone()) {
                // An address already held elsewhere stays with its holder; the import notes it.
                let _ = self.ipam.claim(&ip, &record.name, None).await;
            }
            report.imported.push(vm.name.clone());
        }
        report.unmanaged.retain(|u| !report.imported.contains(&u.name));
        Ok(report)
    }

    /// Validates every server (all errors at once, each naming the server and field), then
    /// starts one create job.
    pub async fn create(&self, actor: &Actor, requests: Vec<ServerRequest>) -> Result<Job> {
        actor.require(Permission::CreateServer)?;
        let planned = self.plan(requests).await?;
        let names = planned.iter().map(|p| p.spec.name.clone()).collect();
        let params =
            serde_json::to_value(CreateParams { servers: planned }).map_err(|e| Error::Internal(e.to_string()))?;
        self.jobs.enqueue(actor, CREATE, params, names).await
    }

    async fn plan(&self, requests: Vec<ServerRequest>) -> Result<Vec<PlannedServer>> {
        if requests.is_empty() {
            return Err(Error::validation("servers", "no servers to create"));
        }
        if requests.len() > spec::MAX_BULK {
            return Err(Error::validation("servers", format!("at most {} servers per request", spec::MAX_BULK)));
        }
        let default_keys: Vec<String> = match self.settings.get(DEFAULT_SSH_KEY).await? {
            Some(Value::String(k)) if !k.is_empty() => vec![k],
            _ => Vec::new(),
        };
        let mut errors = Vec::new();
        let mut specs = Vec::new();
        for (i, r) in requests.into_iter().enumerate() {
            match spec::normalise(i, r, &default_keys) {
                Ok(s) => specs.push((i, s)),
                Err(e) => errors.push(e),
            }
        }
        if let Some(e) = combine(std::mem::take(&mut errors)) {
            return Err(e);
        }

        let client = self.cluster.client()?;
        let resources = client.resources(None).await.map_err(from_pve)?;
        let vm_names: HashSet<&str> =
            resources.iter().filter(|r| r.kind == "qemu").filter_map(|r| r.name.as_deref()).collect();
        let default_hdd = self.setting_text(DEFAULT_HDD).await?.unwrap_or_else(|| FALLBACK_DATASTORE.into());
        let default_ssd = self.setting_text(DEFAULT_SSD).await?.unwrap_or_else(|| default_hdd.clone());
        let mut templates: HashMap<u32, (String, String, u64, String)> = HashMap::new();
        // Datastores that hold VM disks, per node (one call per node involved).
        let mut image_stores: HashMap<String, HashSet<String>> = HashMap::new();
        let mut seen_names = HashSet::new();
        let mut seen_ips: HashMap<String, String> = HashMap::new();
        let mut pool_needs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut planned = Vec::new();
        for (i, mut s) in specs {
            let at = |field: &str| format!("servers[{i}] ({}).{field}", s.name);
            let err = |field: String, message: String| Error::Validation {
                message: format!("{field}: {message}"),
                field: Some(field),
                details: None,
            };
            if !seen_names.insert(s.name.clone()) {
                errors.push(err(at("name"), format!("{:?} appears twice in this request", s.name)));
                continue;
            }
            if self.store.by_name(&s.name).await?.is_some() || vm_names.contains(s.name.as_str()) {
                errors.push(err(at("name"), format!("a server named {:?} already exists", s.name)));
                continue;
            }
            let Some(template) = find_template(&resources, &s.template) else {
                errors.push(err(at("template"), format!("no template {}", template_label(&s.template))));
                continue;
            };
            let vmid = u32::try_from(template.vmid.unwrap_or(0)).unwrap_or(0);
            let node = template.node.clone().unwrap_or_default();
            if let std::collections::hash_map::Entry::Vacant(slot) = templates.entry(vmid) {
                let config = client.vm_config(&node, vmid).await.map_err(from_pve)?;
                let (device, storage, size) = boot_disk(&config)
                    .ok_or_else(|| Error::Unprocessable(format!("template {vmid} has no boot disk")))?;
                slot.insert((node.clone(), device, size, storage));
            }
            let (node, boot_device, boot_gb, template_storage) = templates[&vmid].clone();
            if !image_stores.contains_key(&node) {
                let stores = client.storages(&node, Some("images")).await.map_err(from_pve)?;
                image_stores.insert(
                    node.clone(),
                    stores.into_iter().filter(|st| st.active && st.holds("images")).map(|st| st.storage).collect(),
                );
            }
            s.template = TemplateRef::Id(vmid);
            for (d_index, d) in s.disks.iter_mut().enumerate() {
                if d.storage.is_empty() {
                    d.storage = if d.kind == "ssd" { default_ssd.clone() } else { default_hdd.clone() };
                    if d_index == 0 && !s.full_clone {
                        d.storage = template_storage.clone();
                    }
                }
                if !image_stores.get(&node).is_some_and(|st| st.contains(&d.storage)) {
                    errors.push(err(
                        at(&format!("disks[{d_index}].datastore_id")),
                        format!("no datastore {} for VM disks on node {node}", crate::limits::shown(&d.storage)),
                    ));
                }
            }
            if let Some(boot) = s.disks.first() {
                if boot.device() != boot_device {
                    errors.push(err(
                        at("disks[0].interface"),
                        format!("the first disk is the template's boot disk {boot_device}, not {}", boot.device()),
                    ));
                }
                if boot.size_gb < boot_gb {
                    errors.push(err(
                        at("disks[0].size"),
                        format!("the template's disk is {boot_gb} GB; disks cannot shrink"),
                    ));
                }
                if !s.full_clone && boot.storage != template_storage {
                    errors.push(err(
                        at("disks[0].datastore_id"),
                        format!("a linked clone stays on the template's datastore {template_storage}"),
                    ));
                }
            }
            for (n_index, nic) in s.nics.iter().enumerate() {
                match &nic.address {
                    NicAddress::Static { ip, .. } => {
                        if let Some(other) = seen_ips.insert(ip.clone(), s.name.clone()) {
                            errors.push(err(
                                at(&format!("network_devices[{n_index}].ip_address")),
                                format!("{ip} is also given to {other}"),
                            ));
                        } else if let Some(holder) = self.ipam.holder(ip).await? {
                            errors.push(err(
                                at(&format!("network_devices[{n_index}].ip_address")),
                                format!("{ip} is already in use by {holder}"),
                            ));
                        }
                    }
                    NicAddress::Pool { pool } => pool_needs
                        .entry(pool.clone())
                        .or_default()
                        .push(at(&format!("network_devices[{n_index}].ip_pool"))),
                    NicAddress::Dhcp => {}
                }
            }
            planned.push(PlannedServer { spec: s, template_vmid: vmid, node, boot_device, boot_gb, template_storage });
        }
        for (pool, users) in &pool_needs {
            match self.ipam.pool(pool).await {
                Ok(p) if (p.free() as usize) < users.len() => errors.push(err_field(
                    &users[0],
                    format!(
                        "IP pool {} has {} free address(es); this request needs {}",
                        crate::limits::shown(pool),
                        p.free(),
                        users.len()
                    ),
                )),
                Ok(_) => {}
                Err(Error::NotFound(_)) => {
                    errors.push(err_field(&users[0], format!("no IP pool {}", crate::limits::shown(pool))))
                }
                Err(e) => return Err(e),
            }
        }
        if let Some(e) = combine(errors) {
            return Err(e);
        }
        Ok(planned)
    }

    async fn setting_text(&self, key: &str) -> Result<Option<String>> {
        Ok(match self.settings.get(key).await? {
            Some(Value::String(s)) if !s.is_empty() => Some(s),
            _ => None,
        })
    }

    /// Templates, datastores (of the templates' nodes) and pools for the create form.
    pub async fn create_options(&self, actor: &Actor) -> Result<CreateOptions> {
        actor.require(Permission::CreateServer)?;
        let client = self.cluster.client()?;
        let resources = client.resources(Some(ResourceKind::Vm)).await.map_err(from_pve)?;
        let mut templates: Vec<TemplateChoice> = resources
            .iter()
            .filter(|r| r.kind == "qemu" && r.template)
            .filter_map(|r| {
                Some(TemplateChoice {
                    vmid: u32::try_from(r.vmid?).ok()?,
                    name: r.name.clone().unwrap_or_default(),
                    node: r.node.clone().unwrap_or_default(),
                })
            })
            .collect();
        templates.sort_by(|a, b| (a.vmid, &a.name, &a.node).cmp(&(b.vmid, &b.name, &b.node)));
        let mut nodes: Vec<String> = templates.iter().map(|t| t.node.clone()).collect();
        nodes.sort();
        nodes.dedup();
        let mut datastores = Vec::new();
        for node in nodes {
            for st in client.storages(&node, Some("images")).await.map_err(from_pve)? {
                if st.active && st.holds("images") {
                    datastores.push(DatastoreChoice {
                        storage: st.storage,
                        node: node.clone(),
                        shared: st.shared,
                        free_bytes: st.avail.unwrap_or(0),
                    });
                }
            }
        }
        let pools = self
            .ipam
            .pools()
            .await?
            .into_iter()
            .map(|p| PoolChoice { free: p.free(), name: p.name, cidr: p.cidr })
            .collect();
        let default_hdd = self.setting_text(DEFAULT_HDD).await?.unwrap_or_else(|| FALLBACK_DATASTORE.into());
        let default_ssd = self.setting_text(DEFAULT_SSD).await?.unwrap_or_else(|| default_hdd.clone());
        Ok(CreateOptions { templates, datastores, pools, default_hdd, default_ssd })
    }

    /// proxfleet's job log lines about this server (the newest 500), oldest first.
    /// The server's Proxmox task history and proxfleet's job lines about it.
    pub async fn logs(&self, actor: &Actor, name: &str, kind: LogKind) -> Result<ServerLogs> {
        let server = self.get(actor, name).await?;
        logs::read(self.cluster.client().ok(), self.jobs.store(), &server, kind).await
    }

    /// The lines of one of the server's Proxmox tasks.
    pub async fn task_log(&self, actor: &Actor, name: &str, upid: &str) -> Result<Vec<String>> {
        let server = self.get(actor, name).await?;
        logs::task_log(self.cluster.client()?, &server, upid).await
    }

    /// Starts one job that applies `action` to `names` (each checked: visible, permitted).
    pub async fn act(&self, actor: &Actor, names: &[String], action: Action) -> Result<Job> {
        actor.require(match action {
            Action::Start => Permission::StartServer,
            Action::Stop => Permission::StopServer,
            Action::Reboot => Permission::RebootServer,
            Action::Delete => Permission::DeleteServer,
        })?;
        if names.is_empty() {
            return Err(Error::validation("server_names", "no servers given"));
        }
        let mut unique = Vec::new();
        for n in names {
            let s = self.get(actor, n).await?;
            if s.status.is_busy() {
                return Err(Error::Conflict(format!("{n} is {} right now", s.status)));
            }
            if !unique.contains(n) {
                unique.push(n.clone());
            }
        }
        self.cluster.client()?;
        let params = serde_json::to_value(ActionParams { action, grace_secs: 60 })
            .map_err(|e| Error::Internal(e.to_string()))?;
        self.jobs.enqueue(actor, ACTION, params, unique).await
    }
}

fn err_field(field: &str, message: String) -> Error {
    Error::Validation { message: format!("{field}: {message}"), field: Some(field.to_owned()), details: None }
}

/// How many errors one answer lists; the rest are counted (`details.more`), so a request with
/// 200 bad servers still gets a short answer.
const MAX_REPORTED_ERRORS: usize = 20;

/// The first error, with the first `MAX_REPORTED_ERRORS` listed in `details.errors` and how
/// many more there were in `details.more`.
fn combine(errors: Vec<Error>) -> Option<Error> {
    let first = errors.first()?;
    let list: Vec<Value> = errors
        .iter()
        .take(MAX_REPORTED_ERRORS)
        .map(|e| match e {
            Error::Validation { field, message, .. } => json!({"field": field, "message": message}),
            other => json!({"message": other.to_string()}),
        })
        .collect();
    let more = errors.len() - list.len();
    let (field, message) = match first {
        Error::Validation { field, message, .. } => (field.clone(), message.clone()),
        other => (None, other.to_string()),
    };
    let message = if errors.len() > 1 { format!("{message} (and {} more)", errors.len() - 1) } else { message };
    Some(Error::Validation { field, message, details: Some(json!({ "errors": list, "more": more })) })
}

fn template_label(t: &TemplateRef) -> String {
    match t {
        TemplateRef::Id(id) => id.to_string(),
        TemplateRef::Name(n) => crate::limits::shown(n),
    }
}

fn find_template<'a>(resources: &'a [Resource], t: &TemplateRef) -> Option<&'a Resource> {
    resources.iter().filter(|r| r.kind == "qemu" && r.template).find(|r| match t {
        TemplateRef::Id(id) => r.vmid == Some(u64::from(*id)),
        TemplateRef::Name(n) => r.name.as_deref() == Some(n.as_str()) || n.parse::<u64>().ok() == r.vmid,
    })
}

/// The template's boot disk: device, storage, size in GB.
fn boot_disk(config: &pve::VmConfig) -> Option<(String, String, u64)> {
    for device in ["scsi0", "virtio0", "sata0", "ide0"] {
        if let Some(v) = config.get(device).filter(|v| !v.contains("media=cdrom")) {
            let storage = v.split(':').next().unwrap_or_default().to_owned();
            let size = v
                .split(',')
                .find_map(|p| p.strip_prefix("size="))
                .map_or(0, |s| s.trim_end_matches('G').parse().unwrap_or(0));
            return Some((device.to_owned(), storage, size));
        }
    }
    None
}

fn stats(servers: &[Server], resources: &[Resource]) -> FleetStats {
    let mut s = FleetStats { total_servers: servers.len(), ..Default::default() };
    s.running_servers = servers.iter().filter(|x| x.status == ServerStatus::Running).count();
    s.stopped_servers = servers.iter().filter(|x| x.status == ServerStatus::Stopped).count();
    let cores = |x: &Server| u64::from(x.cores * x.sockets);
    s.vm_total_cpu = servers.iter().map(cores).sum();
    s.vm_used_cpu = servers.iter().filter(|x| x.status == ServerStatus::Running).map(cores).sum();
    s.vm_total_memory_gb = servers.iter().map(|x| x.memory_mb as f64 / 1024.0).sum();
    s.vm_used_memory_gb =
        servers.iter().filter(|x| x.status == ServerStatus::Running).map(|x| x.memory_mb as f64 / 1024.0).sum();
    let mut cpu_load = 0.0;
    for n in resources.iter().filter(|r| r.kind == "node") {
        let name = n.node.clone().unwrap_or_default();
        let online = n.status.as_deref() == Some("online");
        let cpus = n.maxcpu.unwrap_or(0.0) as u64;
        let mem = n.maxmem.unwrap_or(0) as f64 / GIB;
        let used = n.mem.unwrap_or(0) as f64 / GIB;
        let on_node: Vec<&Server> = servers.iter().filter(|x| x.node.as_deref() == Some(name.as_str())).collect();
        let alloc_cpu: u64 = on_node.iter().map(|x| cores(x)).sum();
        let alloc_mem: f64 = on_node.iter().map(|x| x.memory_mb as f64 / 1024.0).sum();
        if online {
            s.node_total_cpu += cpus;
            s.node_total_memory_gb += mem;
            s.node_used_memory_gb += used;
            cpu_load += n.cpu.unwrap_or(0.0) * cpus as f64;
        }
        s.nodes.push(NodeStats {
            node: name,
            online,
            cpus,
            cpu_usage_percent: pct(n.cpu.unwrap_or(0.0), 1.0),
            memory_gb: mem,
            memory_used_gb: used,
            memory_usage_percent: pct(used, mem),
            cpu_allocation_percent: pct(alloc_cpu as f64, cpus as f64),
            memory_allocation_percent: pct(alloc_mem, mem),
        });
    }
    s.cpu_usage_percent = pct(cpu_load, s.node_total_cpu as f64);
    s.memory_usage_percent = pct(s.node_used_memory_gb, s.node_total_memory_gb);
    s.cpu_allocation_percent = pct(s.vm_total_cpu as f64, s.node_total_cpu as f64);
    s.memory_allocation_percent = pct(s.vm_total_memory_gb, s.node_total_memory_gb);
    s.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    s
}
