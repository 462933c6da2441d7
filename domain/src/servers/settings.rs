//! A server's settings and disks: read from Proxmox, changed with the config's digest (so a
//! change made elsewhere meanwhile is refused, not overwritten), and recorded.

use std::collections::BTreeMap;

use pve::ConfigUpdate;
use serde::{Deserialize, Serialize};

use super::marker;
use super::service::ServerService;
use super::spec::{parse_device, BUSES};
use super::store::{Disk, ServerStatus};
use crate::auth::{Actor, Permission};
use crate::cluster::from_pve;
use crate::{Error, Result};

pub use model::servers::ServerSettings;

/// What may change; absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SettingsChange {
    /// vCPU cores (old name: `cpu`).
    #[serde(default, alias = "cpu")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 128))]
    pub cores: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 4))]
    pub sockets: Option<u32>,
    /// MB.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 256, maximum = 4194304))]
    pub memory: Option<u64>,
    /// Minimum memory in MB with ballooning, at most `memory`; 0 turns ballooning off.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 4194304))]
    pub balloon: Option<u64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 8192))]
    pub description: Option<String>,
    /// Letters, digits, `-`, `_` and `.`; at most 32 characters each.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 32))]
    pub tags: Option<Vec<String>>,
    /// The security group the server gets instead of its current ones (`""` or `none`: no
    /// group; old name `firewall_group`): a `firewall.assign` job, whose `task_id` the answer
    /// gives. Needs `assign_firewall_groups` (or `remove_firewall_groups` to remove).
    #[serde(default, alias = "firewall_group")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub security_group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsResult {
    pub settings: ServerSettings,
    /// CPU or memory changed on a running VM: it applies at the next reboot.
    pub needs_reboot: bool,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewDisk {
    /// scsi (default), virtio, sata
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(scsi|virtio|sata|ide)$"))]
    pub bus: Option<String>,
    /// Default: the next free index on the bus.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(maximum = 30))]
    pub index: Option<u32>,
    /// Default: the default HDD datastore (old names: `datastore_id`, `datastore`).
    #[serde(default, alias = "datastore_id", alias = "datastore")]
    pub storage: Option<String>,
    /// GB (old name: `size`).
    #[serde(alias = "size")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 65536))]
    pub size_gb: u64,
}

/// A config's disks (not CD drives), by device.
pub(super) fn disks_of(config: &pve::VmConfig) -> Vec<Disk> {
    let mut out: Vec<Disk> = config
        .values
        .iter()
        .filter(|(k, v)| parse_device(k).is_some() && !v.contains("media=cdrom"))
        .map(|(k, v)| Disk {
            device: k.clone(),
            storage: v.split(':').next().unwrap_or_default().to_owned(),
            size_gb: super::inventory::volume_size_gb(v),
        })
        .collect();
    out.sort_by(|a, b| a.device.cmp(&b.device));
    out
}

fn next_free(config: &pve::VmConfig) -> BTreeMap<String, u32> {
    BUSES
        .iter()
        .filter_map(|(bus, max)| {
            (0..=*max)
                .find(|i| !(config.values.contains_key(&format!("{bus}{i}")) || *bus == "ide" && *i == 2))
                .map(|i| ((*bus).to_owned(), i))
        })
        .collect()
}

impl ServerService {
    async fn located(&self, actor: &Actor, name: &str) -> Result<(super::Server, String, u32)> {
        let server = self.get(actor, name).await?;
        match (server.node.clone(), server.vmid) {
            (Some(node), Some(vmid)) if server.status != ServerStatus::Missing => Ok((server, node, vmid)),
            _ => Err(Error::Conflict(format!("{name} has no VM on the cluster (status {})", server.status))),
        }
    }

    /// The server's settings as Proxmox has them (one config read).
    pub async fn settings(&self, actor: &Actor, name: &str) -> Result<ServerSettings> {
        Ok(self.settings_and_marker(actor, name).await?.0)
    }

    /// The settings, and whether the VM carries proxfleet's marker (`marker.rs`), which the
    /// description shown leaves out and a changed one keeps.
    async fn settings_and_marker(&self, actor: &Actor, name: &str) -> Result<(ServerSettings, bool)> {
        let (server, node, vmid) = self.located(actor, name).await?;
        let client = self.cluster_client()?;
        let config = client.vm_config(&node, vmid).await.map_err(from_pve)?;
        let status = client.vm_status(&node, vmid).await.map_err(from_pve)?;
        let num = |k: &str, d: u64| config.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(d);
        let is_marked = marker::is_marked(config.get("description"));
        let settings = ServerSettings {
            name: server.name,
            cores: u32::try_from(num("cores", 1)).unwrap_or(1),
            sockets: u32::try_from(num("sockets", 1)).unwrap_or(1),
            memory_mb: num("memory", 512),
            balloon_mb: config.get("balloon").and_then(|v| v.parse::<u64>().ok()).filter(|b| *b > 0),
            description: marker::unmarked(config.get("description").unwrap_or_default()),
            tags: config
                .get("tags")
                .unwrap_or_default()
                .split([';', ','])
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            running: status.status == "running",
            disks: disks_of(&config),
            next_free: next_free(&config),
        };
        Ok((settings, is_marked))
    }

    /// Changes CPU, memory, balloon, description or tags (`manage_server`).
    pub async fn change_settings(&self, actor: &Actor, name: &str, change: &SettingsChange) -> Result<SettingsResult> {
        actor.require(Permission::ManageServer)?;
        let result = self.change_settings_checked(actor, name, change).await;
        let detail = match &result {
            Ok(r) if r.changed.is_empty() => "nothing changed".to_owned(),
            Ok(r) => format!("changed {}", r.changed.join(", ")),
            Err(_) => String::new(),
        };
        self.audit.outcome(actor, "server.settings", name, &result, detail).await?;
        result
    }

    async fn change_settings_checked(
        &self,
        actor: &Actor,
        name: &str,
        change: &SettingsChange,
    ) -> Result<SettingsResult> {
        let (before, is_marked) = self.settings_and_marker(actor, name).await?;
        let (_, node, vmid) = self.located(actor, name).await?;
        let mut update = ConfigUpdate::new();
        let mut changed = Vec::new();
        if let Some(c) = change.cores.filter(|c| *c != before.cores) {
            if !(1..=128).contains(&c) {
                return Err(Error::validation("cores", "cores must be 1–128"));
            }
            update = update.cores(c);
            changed.push("cores".to_owned());
        }
        if let Some(s) = change.sockets.filter(|s| *s != before.sockets) {
            if !(1..=4).contains(&s) {
                return Err(Error::validation("sockets", "sockets must be 1–4"));
            }
            update = update.sockets(s);
            changed.push("sockets".to_owned());
        }
        let memory = change.memory.unwrap_or(before.memory_mb);
        if change.memory.is_some_and(|m| m != before.memory_mb) {
            if !(256..=4 * 1024 * 1024).contains(&memory) {
                return Err(Error::validation("memory", "memory (MB) must be 256–4194304"));
            }
            update = update.memory(memory);
            changed.push("memory".to_owned());
        }
        if let Some(b) = change.balloon.filter(|b| Some(*b) != before.balloon_mb) {
            if b > memory {
                return Err(Error::validation(
                    "balloon",
                    format!("the balloon minimum ({b} MB) cannot exceed the memory ({memory} MB)"),
                ));
            }
            update = update.set("balloon", b.to_string());
            changed.push("balloon".to_owned());
        }
        if let Some(d) = change.description.as_ref().filter(|d| **d != before.description) {
            crate::limits::text("description", d, crate::limits::DESCRIPTION)?;
            update = update.description(&if is_marked { marker::marked(d) } else { d.clone() });
            changed.push("description".to_owned());
        }
        let tags: Option<Vec<String>> =
            change.tags.as_ref().map(|t| t.iter().map(|x| x.trim().to_lowercase()).filter(|x| !x.is_empty()).collect());
        if let Some(t) = tags.as_ref().filter(|t| **t != before.tags) {
            crate::limits::items("tags", t, crate::limits::TAGS)?;
            if let Some(bad) = t.iter().find(|x| {
                x.chars().nth(crate::limits::TAG).is_some()
                    || !x.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            }) {
                return Err(Error::validation(
                    "tags",
                    format!(
                        "{}: tags are letters, digits, '-', '_' and '.' (at most {} each)",
                        crate::limits::shown(bad),
                        crate::limits::TAG
                    ),
                ));
            }
            let refs: Vec<&str> = t.iter().map(String::as_str).collect();
            update = update.tags(&refs);
            changed.push("tags".to_owned());
        }
        if changed.is_empty() {
            return Ok(SettingsResult { settings: before, needs_reboot: false, changed });
        }
        // Refused if the config changed since we read it.
        let config = self.cluster_client()?.vm_config(&node, vmid).await.map_err(from_pve)?;
        update = update.digest(&config.digest);
        self.cluster_client()?.vm_update_config(&node, vmid, &update).await.map_err(from_pve)?;
        let after = self.settings(actor, name).await?;
        let record = self.store.by_name(name).await?.ok_or_else(|| Error::NotFound(format!("no server {name:?}")))?;
        self.store.set_shape(name, after.cores, after.sockets, after.memory_mb, &after.disks, &record.nics).await?;
        self.store.set_details(name, &after.description, &after.tags).await?;
        let needs_reboot =
            before.running && changed.iter().any(|c| matches!(c.as_str(), "cores" | "sockets" | "memory"));
        Ok(SettingsResult { settings: after, needs_reboot, changed })
    }

    /// Adds a disk (`manage_server`); bus and index default to the next free SCSI slot.
    pub async fn add_disk(&self, actor: &Actor, name: &str, disk: &NewDisk) -> Result<ServerSettings> {
        actor.require(Permission::ManageServer)?;
        let result = self.add_disk_checked(actor, name, disk).await;
        let detail = format!("{} GB", disk.size_gb);
        self.audit.outcome(actor, "server.disk_add", name, &result, detail).await?;
        result
    }

    async fn add_disk_checked(&self, actor: &Actor, name: &str, disk: &NewDisk) -> Result<ServerSettings> {
        let before = self.settings(actor, name).await?;
        let (_, node, vmid) = self.located(actor, name).await?;
        let bus = disk.bus.clone().unwrap_or_else(|| "scsi".into());
        let Some((_, max)) = BUSES.iter().find(|(b, _)| *b == bus) else {
            return Err(Error::validation(
                "bus",
                format!("{}: use scsi, virtio, sata or ide", crate::limits::shown(&bus)),
            ));
        };
        let index = match disk.index {
            Some(i) => i,
            None => *before.next_free.get(&bus).ok_or_else(|| Error::Conflict(format!("no free {bus} slot")))?,
        };
        let device = format!("{bus}{index}");
        if index > *max || device == "ide2" {
            return Err(Error::validation("index", format!("{device} is not a usable slot")));
        }
        if before.disks.iter().any(|d| d.device == device) {
            return Err(Error::Conflict(format!("{device} is already in use")));
        }
        if !(1..=65536).contains(&disk.size_gb) {
            return Err(Error::validation("size_gb", "sizes are 1–65536 GB"));
        }
        let storage = match disk.storage.clone().filter(|s| !s.is_empty()) {
            Some(s) => s,
            None => self.default_datastore().await?,
        };
        let client = self.cluster_client()?;
        let stores = client.storages(&node, Some("images")).await.map_err(from_pve)?;
        if !stores.iter().any(|s| s.storage == storage && s.holds("images")) {
            return Err(Error::validation(
                "storage",
                format!("no datastore {} for VM disks on node {node}", crate::limits::shown(&storage)),
            ));
        }
        let update = ConfigUpdate::new().new_disk(&bus, u8::try_from(index).unwrap_or(0), &storage, disk.size_gb);
        client.vm_update_config(&node, vmid, &update).await.map_err(from_pve)?;
        self.record_disks(actor, name).await
    }

    /// Detaches and destroys a disk (`manage_server`); the boot disk stays.
    pub async fn remove_disk(&self, actor: &Actor, name: &str, device: &str) -> Result<ServerSettings> {
        actor.require(Permission::ManageServer)?;
        let result = self.remove_disk_checked(actor, name, device).await;
        let detail = crate::limits::shown(device);
        self.audit.outcome(actor, "server.disk_remove", name, &result, detail).await?;
        result
    }

    async fn remove_disk_checked(&self, actor: &Actor, name: &str, device: &str) -> Result<ServerSettings> {
        let before = self.settings(actor, name).await?;
        let (_, node, vmid) = self.located(actor, name).await?;
        if !before.disks.iter().any(|d| d.device == device) {
            return Err(Error::NotFound(format!("{name} has no disk {device}")));
        }
        if before.disks.first().is_some_and(|d| d.device == device) {
            return Err(Error::Conflict(format!("{device} is the boot disk; delete the server instead")));
        }
        // `force` destroys the volume instead of leaving it as unusedN.
        let update = ConfigUpdate::new().delete(device).set("force", "1");
        self.cluster_client()?.vm_update_config(&node, vmid, &update).await.map_err(from_pve)?;
        self.record_disks(actor, name).await
    }

    async fn record_disks(&self, actor: &Actor, name: &str) -> Result<ServerSettings> {
        let after = self.settings(actor, name).await?;
        let record = self.store.by_name(name).await?.ok_or_else(|| Error::NotFound(format!("no server {name:?}")))?;
        self.store.set_shape(name, record.cores, record.sockets, record.memory_mb, &after.disks, &record.nics).await?;
        Ok(after)
    }
}
