//! `ServerService`: what both doors call for servers — reads, sync and import, create (one or
//! many), and lifecycle actions. Every method checks the actor's permission; everything that
//! touches a VM runs as a job.

use std::sync::Arc;
use std::time::Instant;

use pve::ResourceKind;
use serde_json::Value;

use super::actions::{Action, ActionHandler, ActionParams, ACTION};
use super::create::{CreateHandler, CreateLimits, CreateParams, CREATE};
use super::fleet::{Fleet, FleetCache};
use super::inventory::{self, SyncReport};
use super::logs::{self, LogKind, ServerLogs};
use super::spec::{self, ServerRequest};
use super::stats::stats;
use super::store::{ListFilter, Server, ServerStore};
use super::{CreateOptions, DatastoreChoice, FleetStats, PoolChoice, ServerBrief, ServerQuery, TemplateChoice};
use crate::audit::AuditLog;
use crate::auth::{Actor, Permission};
use crate::cluster::{from_pve, ClusterService, Freshness};
use crate::events::EventBus;
use crate::ipam::Ipam;
use crate::jobs::{Job, JobRunner, JobService};
use crate::settings::SettingsStore;
use crate::{Error, Result};

/// Settings keys.
pub const DEFAULT_HDD: &str = "datastores.default_hdd";
pub const DEFAULT_SSD: &str = "datastores.default_ssd";
pub const DEFAULT_SSH_KEY: &str = "servers.default_ssh_key";
pub(super) const FALLBACK_DATASTORE: &str = "local-lvm";

#[derive(Debug, Clone)]
pub struct ServerService {
    pub store: ServerStore,
    pub ipam: Ipam,
    pub(super) cluster: ClusterService,
    jobs: JobService,
    events: EventBus,
    pub(super) settings: SettingsStore,
    limits: CreateLimits,
    /// Changes made here and by the server jobs are audited (`server.*`).
    pub(super) audit: AuditLog,
    fleet_cache: FleetCache,
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
        ServerService {
            store,
            ipam,
            cluster,
            jobs,
            events,
            settings,
            limits: CreateLimits::default(),
            audit,
            fleet_cache: FleetCache::default(),
        }
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
            cluster: self.cluster.clone(),
            events: self.events.clone(),
            limits: self.limits.clone(),
        };
        let action = ActionHandler {
            store: self.store.clone(),
            ipam: self.ipam.clone(),
            client: client.clone(),
            cluster: self.cluster.clone(),
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

    /// The security groups attached to servers the actor was given (a page of `list`).
    pub async fn firewall_groups_of(&self, rows: &[Server]) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let names: Vec<&str> = rows.iter().map(|s| s.name.as_str()).collect();
        self.store.firewall_groups_of(&names).await
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
            owner_id: Self::owner_scope(actor),
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
        self.store.choices(Self::owner_scope(actor)).await
    }

    pub async fn get(&self, actor: &Actor, name: &str) -> Result<Server> {
        actor.require_current()?;
        self.store
            .by_name(name)
            .await?
            .filter(|s| Self::visible(actor, s))
            .ok_or_else(|| Error::NotFound(format!("no server {name:?}")))
    }

    /// Servers by name (all visible ones without names), with only what the brief list shows;
    /// names and visibility are filtered by the database.
    pub async fn brief(&self, actor: &Actor, names: Option<&[String]>) -> Result<Vec<ServerBrief>> {
        actor.require_current()?;
        self.store.brief(Self::owner_scope(actor), names).await
    }

    /// The owner whose servers the actor sees (`None`: everyone's, with `view_all`).
    fn owner_scope(actor: &Actor) -> Option<i64> {
        (!actor.has(Permission::ViewAll)).then_some(actor.user_id)
    }

    /// The fleet and node figures alone, from the stored records and the shared cluster
    /// snapshot. For the dashboard.
    pub async fn fleet_stats(&self, actor: &Actor) -> Result<FleetStats> {
        Ok(self.fleet(actor).await?.stats.clone())
    }

    /// Every server the actor sees, as fresh as the shared cluster snapshot (laid over the
    /// records in memory: a read writes nothing), with node and fleet figures. The answer is
    /// computed once per snapshot and per change of the records, and shared by every reader
    /// with the same visibility until then.
    pub async fn fleet(&self, actor: &Actor) -> Result<Arc<Fleet>> {
        actor.require_current()?;
        let snapshot = self.cluster.snapshot(Freshness::Recent).await?;
        let owner = Self::owner_scope(actor);
        let version = self.store.version();
        if let Some(hit) = self.fleet_cache.get(owner, snapshot.generation, version) {
            return Ok(hit);
        }
        let mut servers = self.store.visible(owner).await?;
        inventory::overlay(&mut servers, &snapshot);
        let stats = stats(&servers, &snapshot.resources);
        let fleet = Arc::new(Fleet::new(servers, stats));
        self.fleet_cache.put(owner, snapshot.generation, version, fleet.clone());
        Ok(fleet)
    }

    /// Reconciles every record with Proxmox now.
    pub async fn sync(&self, actor: &Actor) -> Result<SyncReport> {
        actor.require(Permission::ViewAll)?;
        inventory::sync(&self.store, &self.cluster, &self.events, Freshness::Since(Instant::now())).await
    }

    /// Imports VMs proxfleet does not manage yet: those named, or all of them.
    pub async fn import(&self, actor: &Actor, names: Option<&[String]>) -> Result<SyncReport> {
        actor.require(Permission::CreateServer)?;
        let client = self.cluster.client()?;
        let mut report =
            inventory::sync(&self.store, &self.cluster, &self.events, Freshness::Since(Instant::now())).await?;
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
        let groups: Vec<Option<String>> = requests.iter().map(|r| r.security_group.clone()).collect();
        let planned = self.plan(requests).await?;
        self.check_security_groups(&groups).await?;
        let names = planned.iter().map(|p| p.spec.name.clone()).collect();
        let params =
            serde_json::to_value(CreateParams { servers: planned }).map_err(|e| Error::Internal(e.to_string()))?;
        self.jobs.enqueue(actor, CREATE, params, names).await
    }

    /// Every security group the servers ask for exists (one read of the group list).
    async fn check_security_groups(&self, asked: &[Option<String>]) -> Result<()> {
        let asked: Vec<(usize, String)> = asked
            .iter()
            .enumerate()
            .map(|(i, g)| (i, g.clone().unwrap_or_default().trim().to_ascii_lowercase()))
            .filter(|(_, g)| !g.is_empty())
            .collect();
        if asked.is_empty() {
            return Ok(());
        }
        let groups = self.cluster.client()?.security_groups().await.map_err(from_pve)?;
        for (i, g) in asked {
            if !groups.iter().any(|x| x.group.eq_ignore_ascii_case(&g)) {
                return Err(Error::validation(
                    format!("servers[{i}].security_group"),
                    format!("no security group {}", crate::limits::shown(&g)),
                ));
            }
        }
        Ok(())
    }

    pub(super) async fn setting_text(&self, key: &str) -> Result<Option<String>> {
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
