//! Servers as they cross the wire: the record (`Server` with its disks and NICs), its status,
//! the lifecycle actions, the list query and page, the create form's choices, settings, the
//! dashboard's figures and a server's history. The create request is in `request`.

pub mod orphans;
pub mod request;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Invalid;
use crate::limits::shown;
use crate::Page;

pub use orphans::{OrphanAddress, OrphanRecord, OrphanVm, Orphans};
pub use request::{BulkRequest, DiskRequest, NicRequest, ServerRequest, TemplateRef, MAX_BULK};

/// What proxfleet knows about a server's state: Proxmox's power state once it exists, and
/// proxfleet's own for the time it is being made or removed. Travels as the lowercase word.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerStatus {
    /// The create job has claimed the name; the VM may not exist yet.
    Creating,
    Running,
    Stopped,
    Paused,
    /// The record's VM is gone from Proxmox.
    Missing,
    /// The create job failed after recording it.
    Failed,
    /// The delete job is removing it.
    Deleting,
    /// Proxmox reported a state proxfleet does not know.
    #[default]
    #[serde(other)]
    Unknown,
}

impl ServerStatus {
    /// Every status, in the order the servers page offers them (`Unknown` last).
    pub const ALL: [ServerStatus; 8] = [
        ServerStatus::Running,
        ServerStatus::Stopped,
        ServerStatus::Creating,
        ServerStatus::Deleting,
        ServerStatus::Missing,
        ServerStatus::Failed,
        ServerStatus::Paused,
        ServerStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ServerStatus::Creating => "creating",
            ServerStatus::Running => "running",
            ServerStatus::Stopped => "stopped",
            ServerStatus::Paused => "paused",
            ServerStatus::Missing => "missing",
            ServerStatus::Failed => "failed",
            ServerStatus::Deleting => "deleting",
            ServerStatus::Unknown => "unknown",
        }
    }

    /// A stored or reported state; anything else is `Unknown`.
    pub fn parse(text: &str) -> ServerStatus {
        ServerStatus::ALL.into_iter().find(|s| s.as_str() == text).unwrap_or(ServerStatus::Unknown)
    }

    /// A job is creating or deleting it: no other action may start.
    pub fn is_busy(self) -> bool {
        matches!(self, ServerStatus::Creating | ServerStatus::Deleting)
    }

    /// Whether `action` makes sense now (the pages disable the rest; the jobs check again).
    pub fn allows(self, action: Action) -> bool {
        match action {
            Action::Start => self == ServerStatus::Stopped,
            Action::Stop | Action::Reboot => self == ServerStatus::Running,
            Action::Delete => !self.is_busy(),
        }
    }
}

impl fmt::Display for ServerStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disk {
    pub device: String,
    pub storage: String,
    pub size_gb: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nic {
    pub index: u32,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub mac: Option<String>,
    pub ip: Option<String>,
    pub prefix: Option<u8>,
    pub gateway: Option<String>,
    pub pool: Option<String>,
}

/// A managed server as recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Server {
    #[serde(skip_deserializing)]
    pub id: i64,
    pub name: String,
    pub vmid: Option<u32>,
    pub node: Option<String>,
    pub status: ServerStatus,
    pub cores: u32,
    pub sockets: u32,
    pub memory_mb: u64,
    pub disks: Vec<Disk>,
    pub nics: Vec<Nic>,
    pub role: String,
    pub security_group: String,
    #[serde(skip_deserializing)]
    pub os_type: String,
    #[serde(skip_deserializing)]
    pub template_vmid: Option<u32>,
    #[serde(skip_deserializing)]
    pub owner_id: Option<i64>,
    #[serde(skip_deserializing)]
    pub owner: String,
    pub tags: Vec<String>,
    #[serde(skip_deserializing)]
    pub description: String,
    /// Fields Proxmox reports differently: name → [recorded, actual]. Read back (in the
    /// browser), only the names are kept: see `drift_names`.
    #[serde(deserialize_with = "drift_names")]
    pub drift: Value,
    /// CPU load as PVE's fraction (0–1 per core set).
    #[serde(skip_deserializing)]
    pub cpu: f64,
    #[serde(skip_deserializing)]
    pub mem_used: u64,
    #[serde(skip_deserializing)]
    pub uptime: u64,
    #[serde(skip_deserializing)]
    pub synced_at: Option<i64>,
    #[serde(skip_deserializing)]
    pub created_at: i64,
    #[serde(skip_deserializing)]
    pub updated_at: i64,
}

impl Server {
    pub fn ips(&self) -> Vec<String> {
        self.nics.iter().filter_map(|n| n.ip.clone()).collect()
    }

    /// The names of the fields that drifted from the record.
    pub fn drifted(&self) -> Vec<String> {
        self.drift.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }
}

/// A server in the old UI's brief list (`GET /api/servers/brief`), in its field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerBrief {
    pub name: String,
    pub role: String,
    #[serde(rename = "firewall_group")]
    pub security_group: String,
    pub os_type: String,
    pub ip_addresses: Vec<String>,
    pub status: ServerStatus,
}

/// Reads a drift map keeping only which fields drifted (each value becomes `null`). The pages
/// show the names; the values are for REST callers. Skipping them keeps serde_json's `Value`
/// parser, a few per cent of the WASM, out of the browser build.
fn drift_names<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let names = Option::<BTreeMap<String, serde::de::IgnoredAny>>::deserialize(d)?;
    Ok(Value::Object(names.unwrap_or_default().into_keys().map(|k| (k, Value::Null)).collect()))
}

/// A lifecycle action on servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Start,
    Stop,
    Reboot,
    Delete,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Start, Action::Stop, Action::Reboot, Action::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Reboot => "reboot",
            Action::Delete => "delete",
        }
    }
}

/// The one parse of an action name, for both doors: an unknown name is a 400 naming the
/// `action` field and the four that exist.
impl FromStr for Action {
    type Err = Invalid;

    fn from_str(text: &str) -> Result<Action, Invalid> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| Invalid::new("action", format!("action {}: start, stop, reboot or delete", shown(text))))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Filters and sort of the server list, as the domain reads them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerQuery {
    /// Matches name, IP, role, OS, tags and description.
    pub search: Option<String>,
    pub status: Option<String>,
    pub role: Option<String>,
    pub node: Option<String>,
    pub tag: Option<String>,
    /// name (default), status, node, cores, memory, created
    pub sort: Option<String>,
    pub desc: bool,
}

/// The server list's filters as a URL carries them: the REST door's query parameters and the
/// servers page's address. [`ServerListParams::query`] is the one way from these to a query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
pub struct ServerListParams {
    /// Matches name, IP, role, OS, tags, description.
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    /// name, status, node, cores, memory, created [default: name]
    #[serde(default)]
    pub sort: Option<String>,
    /// asc or desc [default: asc]
    #[serde(default)]
    pub order: Option<String>,
}

impl ServerListParams {
    /// Empty values mean "no filter" (an HTML form sends every field); `order` must be
    /// `asc` or `desc`.
    pub fn query(&self) -> Result<ServerQuery, Invalid> {
        let given = |v: &Option<String>| v.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_owned);
        let desc = match self.order.as_deref().map(str::trim) {
            None | Some("") | Some("asc") => false,
            Some("desc") => true,
            Some(other) => return Err(Invalid::new("order", format!("order {}: asc or desc", shown(other)))),
        };
        Ok(ServerQuery {
            search: given(&self.search),
            status: given(&self.status),
            role: given(&self.role),
            node: given(&self.node),
            tag: given(&self.tag),
            sort: given(&self.sort),
            desc,
        })
    }
}

/// The servers page: a page of servers and the choices its filters offer (from every server
/// the user may see, not only this page's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerList {
    pub servers: Page<Server>,
    /// The security groups proxfleet attached to the page's servers, in order, by server.
    #[serde(default)]
    pub groups: BTreeMap<String, Vec<String>>,
    pub nodes: Vec<String>,
    pub roles: Vec<String>,
    pub tags: Vec<String>,
}

/// A template a server can be cloned from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateChoice {
    pub vmid: u32,
    pub name: String,
    pub node: String,
}

/// A datastore that holds VM disks, on one node (a shared one is listed per node).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatastoreChoice {
    pub storage: String,
    pub node: String,
    pub shared: bool,
    pub free_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolChoice {
    pub name: String,
    pub cidr: String,
    pub free: i64,
}

/// What the create form offers: templates, datastores for VM disks, pools and defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateOptions {
    pub templates: Vec<TemplateChoice>,
    pub datastores: Vec<DatastoreChoice>,
    pub pools: Vec<PoolChoice>,
    pub default_hdd: String,
    pub default_ssd: String,
}

/// A server's settings and disks as Proxmox has them now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerSettings {
    pub name: String,
    pub cores: u32,
    pub sockets: u32,
    pub memory_mb: u64,
    /// Minimum memory with ballooning; `None` when ballooning is off (`balloon: 0` or unset).
    pub balloon_mb: Option<u64>,
    pub description: String,
    pub tags: Vec<String>,
    pub running: bool,
    pub disks: Vec<Disk>,
    /// The next free index per bus, as a suggestion for a new disk.
    pub next_free: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    pub node: String,
    pub online: bool,
    pub cpus: u64,
    pub cpu_usage_percent: f64,
    pub memory_gb: f64,
    #[serde(skip_deserializing)]
    pub memory_used_gb: f64,
    pub memory_usage_percent: f64,
    /// Cores and memory given to managed servers on it, against its capacity.
    pub cpu_allocation_percent: f64,
    pub memory_allocation_percent: f64,
}

/// The old tool's `stats` object, plus nodes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FleetStats {
    pub total_servers: usize,
    pub running_servers: usize,
    pub stopped_servers: usize,
    #[serde(skip_deserializing)]
    pub node_total_cpu: u64,
    #[serde(skip_deserializing)]
    pub node_total_memory_gb: f64,
    #[serde(skip_deserializing)]
    pub node_used_memory_gb: f64,
    #[serde(skip_deserializing)]
    pub vm_total_cpu: u64,
    #[serde(skip_deserializing)]
    pub vm_total_memory_gb: f64,
    #[serde(skip_deserializing)]
    pub vm_used_cpu: u64,
    #[serde(skip_deserializing)]
    pub vm_used_memory_gb: f64,
    #[serde(skip_deserializing)]
    pub cpu_usage_percent: f64,
    #[serde(skip_deserializing)]
    pub memory_usage_percent: f64,
    #[serde(skip_deserializing)]
    pub cpu_allocation_percent: f64,
    #[serde(skip_deserializing)]
    pub memory_allocation_percent: f64,
    pub nodes: Vec<NodeStats>,
}

/// Counts for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterOverview {
    pub nodes_online: usize,
    pub nodes_total: usize,
    pub vms_running: usize,
    pub vms_total: usize,
    pub templates: usize,
    /// Sum over online nodes.
    pub cpu_cores: u64,
    pub memory_bytes: u64,
    pub memory_used_bytes: u64,
}

/// One Proxmox task about the server, newest first in [`ServerLogs::tasks`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxmoxTask {
    pub upid: String,
    pub node: String,
    /// `qmstart`, `qmshutdown`, `qmclone`, …
    pub kind: String,
    pub user: String,
    /// Unix seconds, as Proxmox reports it.
    pub starttime: u64,
    #[serde(skip_deserializing)]
    pub started_at: String,
    #[serde(skip_deserializing)]
    pub ended_at: Option<String>,
    /// The exit status (`OK`, `WARNINGS: n`, or the error); `running` while it runs.
    pub status: String,
    /// `None` while running.
    pub ok: Option<bool>,
}

/// One line a proxfleet job logged about the server, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobLine {
    pub job_id: i64,
    #[serde(skip_deserializing)]
    pub kind: String,
    pub at: String,
    pub level: String,
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerLogs {
    #[serde(skip_deserializing)]
    pub server_name: String,
    #[serde(skip_deserializing)]
    pub vmid: Option<u32>,
    #[serde(skip_deserializing)]
    pub node: Option<String>,
    pub tasks: Vec<ProxmoxTask>,
    /// Why the task list is missing (node unreachable, no VM yet), if it is.
    pub tasks_error: Option<String>,
    pub jobs: Vec<JobLine>,
}

impl ServerLogs {
    /// The history as plain text, newest task first then the job lines (the old tool's `content`).
    pub fn content(&self) -> String {
        let mut out = String::new();
        for t in &self.tasks {
            out.push_str(&format!("{}  {}  {}  {}  {}\n", t.started_at, t.node, t.kind, t.user, t.status));
        }
        if let Some(e) = &self.tasks_error {
            out.push_str(&format!("(Proxmox task history unavailable: {e})\n"));
        }
        for l in &self.jobs {
            out.push_str(&format!("{}  job {} {}  {}  {}\n", l.at, l.job_id, l.kind, l.level, l.line));
        }
        out
    }
}
