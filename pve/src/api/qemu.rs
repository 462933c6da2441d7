//! QEMU VMs: list, status, power actions, clone, config, resize, delete, template, guest agent,
//! rrd data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::seg;
use crate::client::PveClient;
use crate::de;
use crate::error::{ErrorKind, PveError};
use crate::params::{Method, Params, Request};
use crate::upid::Upid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmStatus {
    #[serde(deserialize_with = "de::u64")]
    pub vmid: u64,
    /// `running` or `stopped`.
    pub status: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub qmpstatus: Option<String>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub cpus: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub mem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxmem: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub maxdisk: Option<u64>,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub uptime: Option<u64>,
    #[serde(default)]
    pub lock: Option<String>,
    #[serde(default, deserialize_with = "de::bool")]
    pub template: bool,
    #[serde(default)]
    pub tags: Option<String>,
    /// Agent enabled in the config (status/current only).
    #[serde(default, deserialize_with = "de::bool")]
    pub agent: bool,
}

/// Options of a clone (`POST /nodes/{node}/qemu/{vmid}/clone`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CloneOptions {
    pub name: Option<String>,
    /// `None`: PVE's default (full for VMs, linked for templates).
    pub full: Option<bool>,
    pub target_node: Option<String>,
    /// Full clones only.
    pub target_storage: Option<String>,
    pub description: Option<String>,
    pub pool: Option<String>,
}

/// A config change: keys to set (already in PVE's property-string form) and keys to delete.
/// Typed helpers cover what proxfleet sets; `set` takes anything else.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigUpdate {
    pub set: BTreeMap<String, String>,
    pub delete: Vec<String>,
    /// Refuse the change if the config changed since it was read.
    pub digest: Option<String>,
}

impl ConfigUpdate {
    pub fn new() -> ConfigUpdate {
        ConfigUpdate::default()
    }

    pub fn set(mut self, key: &str, value: impl Into<String>) -> ConfigUpdate {
        self.set.insert(key.to_owned(), value.into());
        self
    }

    pub fn cores(self, n: u32) -> ConfigUpdate {
        self.set("cores", n.to_string())
    }

    pub fn sockets(self, n: u32) -> ConfigUpdate {
        self.set("sockets", n.to_string())
    }

    /// MiB.
    pub fn memory(self, mib: u64) -> ConfigUpdate {
        self.set("memory", mib.to_string())
    }

    pub fn ciuser(self, user: &str) -> ConfigUpdate {
        self.set("ciuser", user)
    }

    pub fn cipassword(self, password: &str) -> ConfigUpdate {
        self.set("cipassword", password)
    }

    /// OpenSSH public keys, encoded as PVE stores them (see `params::encode_sshkeys`).
    pub fn sshkeys(self, keys: &[&str]) -> ConfigUpdate {
        self.set("sshkeys", crate::params::encode_sshkeys(keys))
    }

    /// `ip=10.0.0.5/24,gw=10.0.0.1` or `ip=dhcp` on NIC `index`.
    pub fn ipconfig(self, index: u8, ip_cidr: &str, gateway: Option<&str>) -> ConfigUpdate {
        let value = match gateway {
            Some(gw) => format!("ip={ip_cidr},gw={gw}"),
            None => format!("ip={ip_cidr}"),
        };
        self.set(&format!("ipconfig{index}"), value)
    }

    /// `virtio,bridge=vmbr0[,tag=N],firewall=1` on NIC `index` (a new MAC is generated).
    pub fn net(self, index: u8, bridge: &str, vlan: Option<u16>, firewall: bool) -> ConfigUpdate {
        let mut value = format!("virtio,bridge={bridge}");
        if let Some(tag) = vlan {
            value.push_str(&format!(",tag={tag}"));
        }
        value.push_str(if firewall { ",firewall=1" } else { ",firewall=0" });
        self.set(&format!("net{index}"), value)
    }

    /// A new disk of `size_gib` on `storage` at `bus` + `index` (e.g. `scsi`, 1).
    pub fn new_disk(self, bus: &str, index: u8, storage: &str, size_gib: u64) -> ConfigUpdate {
        self.set(&format!("{bus}{index}"), format!("{storage}:{size_gib}"))
    }

    pub fn nameserver(self, servers: &str) -> ConfigUpdate {
        self.set("nameserver", servers)
    }

    pub fn searchdomain(self, domain: &str) -> ConfigUpdate {
        self.set("searchdomain", domain)
    }

    pub fn description(self, text: &str) -> ConfigUpdate {
        self.set("description", text)
    }

    /// `;`-separated in PVE.
    pub fn tags(self, tags: &[&str]) -> ConfigUpdate {
        self.set("tags", tags.join(";"))
    }

    pub fn delete(mut self, key: &str) -> ConfigUpdate {
        self.delete.push(key.to_owned());
        self
    }

    pub fn digest(mut self, digest: &str) -> ConfigUpdate {
        self.digest = Some(digest.to_owned());
        self
    }

    fn params(&self, node: &str, vmid: u32) -> Params {
        let mut p = Params::new().str("node", node).int("vmid", i64::from(vmid));
        for (k, v) in &self.set {
            p = p.str(k, v.clone());
        }
        if !self.delete.is_empty() {
            p = p.str("delete", self.delete.join(","));
        }
        p.opt_str("digest", self.digest.clone())
    }
}

/// A VM's config as PVE returns it: flat keys, values as strings (numbers rendered), plus its
/// `digest`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VmConfig {
    pub values: BTreeMap<String, String>,
    pub digest: String,
}

impl VmConfig {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    fn from_value(v: Value) -> Result<VmConfig, PveError> {
        let Value::Object(map) = v else {
            return Err(PveError::new(ErrorKind::Rejected, 200, "VM config is not an object"));
        };
        let mut values = BTreeMap::new();
        let mut digest = String::new();
        for (k, v) in map {
            let text = match v {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if k == "digest" {
                digest = text;
            } else {
                values.insert(k, text);
            }
        }
        Ok(VmConfig { values, digest })
    }
}

/// One interface reported by the guest agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestInterface {
    pub name: String,
    #[serde(rename = "hardware-address", default)]
    pub hardware_address: Option<String>,
    #[serde(rename = "ip-addresses", default)]
    pub ip_addresses: Vec<GuestIp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuestIp {
    #[serde(rename = "ip-address")]
    pub ip_address: String,
    #[serde(rename = "ip-address-type")]
    pub ip_address_type: String,
    #[serde(default, deserialize_with = "de::opt_u64")]
    pub prefix: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeframe {
    Hour,
    Day,
    Week,
    Month,
    Year,
}

impl Timeframe {
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::Hour => "hour",
            Timeframe::Day => "day",
            Timeframe::Week => "week",
            Timeframe::Month => "month",
            Timeframe::Year => "year",
        }
    }
}

/// One rrd point; undefined values are absent (a stopped VM has only `time` and `max*`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RrdPoint {
    #[serde(deserialize_with = "de::u64")]
    pub time: u64,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub cpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxcpu: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub mem: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub maxmem: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub netin: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub netout: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub diskread: Option<f64>,
    #[serde(default, deserialize_with = "de::opt_f64")]
    pub diskwrite: Option<f64>,
}

/// The power actions. All return a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Power {
    Start,
    /// Graceful (ACPI) with a timeout in seconds; `force_stop` stops the VM if it does not
    /// shut down in time.
    Shutdown {
        timeout: Option<u32>,
        force_stop: bool,
    },
    /// Hard stop.
    Stop,
    Reboot {
        timeout: Option<u32>,
    },
    Reset,
}

fn vm_path(node: &str, vmid: u32, rest: &str) -> String {
    format!("/nodes/{}/qemu/{vmid}{rest}", seg(node))
}

fn vm_params(node: &str, vmid: u32) -> Params {
    Params::new().str("node", node).int("vmid", i64::from(vmid))
}

pub fn list(node: &str) -> Request {
    Request::new(Method::Get, "/nodes/{node}/qemu", format!("/nodes/{}/qemu", seg(node)))
        .with(Params::new().str("node", node))
}

pub fn status(node: &str, vmid: u32) -> Request {
    Request::new(Method::Get, "/nodes/{node}/qemu/{vmid}/status/current", vm_path(node, vmid, "/status/current"))
        .with(vm_params(node, vmid))
}

pub fn power(node: &str, vmid: u32, action: Power) -> Request {
    let p = vm_params(node, vmid);
    let (template, rest, p) = match action {
        Power::Start => ("/nodes/{node}/qemu/{vmid}/status/start", "/status/start", p),
        Power::Shutdown { timeout, force_stop } => (
            "/nodes/{node}/qemu/{vmid}/status/shutdown",
            "/status/shutdown",
            p.opt_int("timeout", timeout.map(i64::from)).bool("forceStop", force_stop),
        ),
        Power::Stop => ("/nodes/{node}/qemu/{vmid}/status/stop", "/status/stop", p),
        Power::Reboot { timeout } => {
            ("/nodes/{node}/qemu/{vmid}/status/reboot", "/status/reboot", p.opt_int("timeout", timeout.map(i64::from)))
        }
        Power::Reset => ("/nodes/{node}/qemu/{vmid}/status/reset", "/status/reset", p),
    };
    Request::new(Method::Post, template, vm_path(node, vmid, rest)).with(p)
}

pub fn clone_vm(node: &str, vmid: u32, newid: u32, o: &CloneOptions) -> Request {
    let p = vm_params(node, vmid)
        .int("newid", i64::from(newid))
        .opt_str("name", o.name.clone())
        .opt_bool("full", o.full)
        .opt_str("target", o.target_node.clone())
        .opt_str("storage", o.target_storage.clone())
        .opt_str("description", o.description.clone())
        .opt_str("pool", o.pool.clone());
    Request::new(Method::Post, "/nodes/{node}/qemu/{vmid}/clone", vm_path(node, vmid, "/clone")).with(p)
}

pub fn config(node: &str, vmid: u32) -> Request {
    Request::new(Method::Get, "/nodes/{node}/qemu/{vmid}/config", vm_path(node, vmid, "/config"))
        .with(vm_params(node, vmid))
}

/// Synchronous config change (`PUT`, answers `null`).
pub fn update_config(node: &str, vmid: u32, update: &ConfigUpdate) -> Request {
    Request::new(Method::Put, "/nodes/{node}/qemu/{vmid}/config", vm_path(node, vmid, "/config"))
        .with(update.params(node, vmid))
}

/// Asynchronous config change (`POST`, answers a task): for disk allocation.
pub fn update_config_async(node: &str, vmid: u32, update: &ConfigUpdate) -> Request {
    Request::new(Method::Post, "/nodes/{node}/qemu/{vmid}/config", vm_path(node, vmid, "/config"))
        .with(update.params(node, vmid))
}

/// `size`: `+10G` grows by 10 GiB, `50G` sets the size.
pub fn resize(node: &str, vmid: u32, disk: &str, size: &str) -> Request {
    Request::new(Method::Put, "/nodes/{node}/qemu/{vmid}/resize", vm_path(node, vmid, "/resize"))
        .with(vm_params(node, vmid).str("disk", disk).str("size", size))
}

/// Destroys the VM and its disks (`purge` also drops it from backup jobs, replication, HA).
pub fn destroy(node: &str, vmid: u32) -> Request {
    Request::new(Method::Delete, "/nodes/{node}/qemu/{vmid}", vm_path(node, vmid, ""))
        .with(vm_params(node, vmid).bool("purge", true).bool("destroy-unreferenced-disks", true))
}

pub fn template(node: &str, vmid: u32) -> Request {
    Request::new(Method::Post, "/nodes/{node}/qemu/{vmid}/template", vm_path(node, vmid, "/template"))
        .with(vm_params(node, vmid))
}

pub fn agent_interfaces(node: &str, vmid: u32) -> Request {
    Request::new(
        Method::Get,
        "/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces",
        vm_path(node, vmid, "/agent/network-get-interfaces"),
    )
    .with(vm_params(node, vmid))
}

pub fn rrddata(node: &str, vmid: u32, timeframe: Timeframe) -> Request {
    Request::new(Method::Get, "/nodes/{node}/qemu/{vmid}/rrddata", vm_path(node, vmid, "/rrddata"))
        .with(vm_params(node, vmid).str("timeframe", timeframe.as_str()).str("cf", "AVERAGE"))
}

fn upid(v: Value) -> Result<Upid, PveError> {
    v.as_str()
        .and_then(Upid::parse)
        .ok_or_else(|| PveError::new(ErrorKind::Rejected, 200, format!("expected a task id, got {v}")))
}

/// Resize answers a task since PVE 8.0 and `null` before: `None` then means done.
fn maybe_upid(v: Value) -> Result<Option<Upid>, PveError> {
    if v.is_null() {
        Ok(None)
    } else {
        upid(v).map(Some)
    }
}

impl PveClient {
    pub async fn vms(&self, node: &str) -> Result<Vec<VmStatus>, PveError> {
        self.call(&list(node)).await
    }

    pub async fn vm_status(&self, node: &str, vmid: u32) -> Result<VmStatus, PveError> {
        self.call(&status(node, vmid)).await
    }

    pub async fn vm_power(&self, node: &str, vmid: u32, action: Power) -> Result<Upid, PveError> {
        upid(self.call_value(&power(node, vmid, action)).await?)
    }

    pub async fn vm_clone(&self, node: &str, vmid: u32, newid: u32, options: &CloneOptions) -> Result<Upid, PveError> {
        upid(self.call_value(&clone_vm(node, vmid, newid, options)).await?)
    }

    pub async fn vm_config(&self, node: &str, vmid: u32) -> Result<VmConfig, PveError> {
        VmConfig::from_value(self.call_value(&config(node, vmid)).await?)
    }

    pub async fn vm_update_config(&self, node: &str, vmid: u32, update: &ConfigUpdate) -> Result<(), PveError> {
        self.call_value(&update_config(node, vmid, update)).await.map(|_| ())
    }

    pub async fn vm_update_config_async(
        &self,
        node: &str,
        vmid: u32,
        update: &ConfigUpdate,
    ) -> Result<Option<Upid>, PveError> {
        maybe_upid(self.call_value(&update_config_async(node, vmid, update)).await?)
    }

    pub async fn vm_resize(&self, node: &str, vmid: u32, disk: &str, size: &str) -> Result<Option<Upid>, PveError> {
        maybe_upid(self.call_value(&resize(node, vmid, disk, size)).await?)
    }

    pub async fn vm_destroy(&self, node: &str, vmid: u32) -> Result<Upid, PveError> {
        upid(self.call_value(&destroy(node, vmid)).await?)
    }

    pub async fn vm_template(&self, node: &str, vmid: u32) -> Result<Upid, PveError> {
        upid(self.call_value(&template(node, vmid)).await?)
    }

    pub async fn vm_agent_interfaces(&self, node: &str, vmid: u32) -> Result<Vec<GuestInterface>, PveError> {
        #[derive(Deserialize)]
        struct Wrapped {
            result: Vec<GuestInterface>,
        }
        let w: Wrapped = self.call(&agent_interfaces(node, vmid)).await?;
        Ok(w.result)
    }

    pub async fn vm_rrddata(&self, node: &str, vmid: u32, timeframe: Timeframe) -> Result<Vec<RrdPoint>, PveError> {
        self.call(&rrddata(node, vmid, timeframe)).await
    }
}
