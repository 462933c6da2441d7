//! The simulated cluster's state: nodes, storages, VMs (with config, runtime status and locks)
//! and tasks. Everything here is plain data changed under one mutex, never across an await.

use std::collections::{BTreeMap, HashMap};

use pve_schema::Upid;
use sha2::{Digest, Sha256};

use crate::error::SimError;

pub const GIB: u64 = 1024 * 1024 * 1024;
pub const MIB: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub cpus: u32,
    pub memory: u64,
    pub online: bool,
    /// Unix seconds.
    pub booted_at: u64,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub id: String,
    /// `None`: shared by every node.
    pub node: Option<String>,
    /// `dir`, `lvmthin`, `nfs`.
    pub kind: &'static str,
    pub content: &'static str,
    pub total: u64,
    pub used: u64,
}

impl Storage {
    pub fn on(&self, node: &str) -> bool {
        self.node.as_deref().is_none_or(|n| n == node)
    }

    pub fn holds_images(&self) -> bool {
        self.content.split(',').any(|c| c == "images")
    }
}

#[derive(Debug, Clone)]
pub struct Vm {
    pub vmid: u32,
    pub node: String,
    /// Config keys in PVE's stored form (property strings), sorted.
    pub config: BTreeMap<String, String>,
    pub running: bool,
    /// Unix seconds of the last start.
    pub started_at: Option<u64>,
    pub lock: Option<String>,
    /// Unix milliseconds from when the guest agent answers (set at start).
    pub agent_ready_at: Option<u64>,
    /// A running VM's QEMU state when not `running`: `paused` (suspend-mode backup) or
    /// `prelaunch` (a stopped VM started only for its backup).
    pub paused: Option<&'static str>,
}

impl Vm {
    pub fn is_template(&self) -> bool {
        self.config.get("template").is_some_and(|t| t == "1")
    }

    pub fn name(&self) -> String {
        self.config.get("name").cloned().unwrap_or_else(|| format!("VM {}", self.vmid))
    }

    pub fn memory_mib(&self) -> u64 {
        self.config
            .get("memory")
            .and_then(|m| m.trim_start_matches("current=").split(',').next().and_then(|v| v.parse().ok()))
            .unwrap_or(512)
    }

    pub fn cpus(&self) -> u64 {
        let n = |k: &str| self.config.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(1);
        n("cores") * n("sockets")
    }

    /// Disk keys (`scsi0`, `virtio1`, …) with their volume, storage and size in bytes.
    pub fn disks(&self) -> Vec<Disk> {
        self.config
            .iter()
            .filter(|(k, _)| is_disk_key(k))
            .filter(|(_, v)| !v.contains("media=cdrom"))
            .filter_map(|(k, v)| Disk::parse(k, v))
            .collect()
    }

    pub fn boot_disk_size(&self) -> u64 {
        self.disks().first().map_or(0, |d| d.size)
    }

    /// SHA-256 of the serialised config, cut to the 40 hex characters PVE's SHA-1 digest has.
    pub fn digest(&self) -> String {
        let mut h = Sha256::new();
        for (k, v) in &self.config {
            h.update(k.as_bytes());
            h.update(b": ");
            h.update(v.as_bytes());
            h.update(b"\n");
        }
        h.finalize().iter().take(20).map(|b| format!("{b:02x}")).collect()
    }
}

pub fn is_disk_key(key: &str) -> bool {
    ["scsi", "virtio", "sata", "ide"]
        .iter()
        .any(|bus| key.strip_prefix(bus).is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Disk {
    pub key: String,
    pub volume: String,
    pub storage: String,
    pub size: u64,
}

impl Disk {
    pub fn parse(key: &str, value: &str) -> Option<Disk> {
        let mut parts = value.split(',');
        let volume = parts.next()?.trim_start_matches("file=").to_owned();
        let storage = volume.split(':').next()?.to_owned();
        let size = parts.find_map(|p| p.strip_prefix("size=")).and_then(parse_size).unwrap_or(0);
        Some(Disk { key: key.to_owned(), volume, storage, size })
    }
}

/// `32G`, `512M`, `1T`, `+10G` (sign ignored) → bytes.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim_start_matches('+');
    let (num, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let n: f64 = num.parse().ok()?;
    let mult = match unit {
        "" => 1.0,
        "K" => 1024.0,
        "M" => MIB as f64,
        "G" => GIB as f64,
        "T" => GIB as f64 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

/// Bytes in the largest exact unit, as PVE prints sizes (`512M`, `32G`).
pub fn format_size(bytes: u64) -> String {
    for (unit, mult) in [("T", GIB * 1024), ("G", GIB), ("M", MIB), ("K", 1024)] {
        if bytes >= mult && bytes.is_multiple_of(mult) {
            return format!("{}{unit}", bytes / mult);
        }
    }
    bytes.to_string()
}

#[derive(Debug, Clone)]
pub enum TaskState {
    Running,
    /// `OK`, `WARNINGS: n`, or the error message.
    Stopped(String),
}

#[derive(Debug, Clone)]
pub struct Task {
    pub upid: Upid,
    pub state: TaskState,
    pub log: Vec<String>,
    pub endtime: Option<u64>,
}

/// A small deterministic random source (xorshift64*): the same seed gives the same cluster.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Hash-based noise in [0, 1) for (a, b): stable over time windows, no state.
pub fn noise(a: u64, b: u64) -> f64 {
    let mut r = Rng::new(a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0xD1B5_4A32_D192_ED03));
    r.next_u64();
    r.unit()
}

#[derive(Debug)]
pub struct Cluster {
    pub nodes: BTreeMap<String, Node>,
    /// Cluster security groups by name.
    pub groups: BTreeMap<String, crate::firewall::Group>,
    /// Cluster IP sets by name, and aliases by lower-case name.
    pub ipsets: BTreeMap<String, crate::fw_sets::IpSet>,
    pub aliases: BTreeMap<String, crate::fw_sets::Alias>,
    /// The datacenter firewall's options (`/etc/pve/firewall/cluster.fw` `[OPTIONS]`).
    pub cluster_firewall: BTreeMap<String, String>,
    /// Per-VM firewall options and rules (`/etc/pve/firewall/<vmid>.fw`).
    pub vm_firewalls: HashMap<u32, crate::firewall::VmFirewall>,
    /// Backup volumes on the storages.
    pub backups: Vec<crate::storage::Backup>,
    pub storages: Vec<Storage>,
    pub vms: BTreeMap<u32, Vm>,
    pub tasks: HashMap<String, Task>,
    pub rng: Rng,
    /// Bumped on every (possibly mutating) access; keys the `/cluster/resources` cache.
    pub version: u64,
    next_pid: u32,
}

impl Cluster {
    pub fn new(seed: u64) -> Cluster {
        Cluster {
            nodes: BTreeMap::new(),
            groups: BTreeMap::new(),
            ipsets: BTreeMap::new(),
            aliases: BTreeMap::new(),
            cluster_firewall: BTreeMap::new(),
            vm_firewalls: HashMap::new(),
            backups: Vec::new(),
            storages: Vec::new(),
            vms: BTreeMap::new(),
            tasks: HashMap::new(),
            rng: Rng::new(seed),
            version: 0,
            next_pid: 0x1000,
        }
    }

    /// The real "does not exist" message for a VM that is not on `node`.
    pub fn vm(&self, node: &str, vmid: u32) -> Result<&Vm, SimError> {
        self.node(node)?;
        self.vms.get(&vmid).filter(|vm| vm.node == node).ok_or_else(|| missing_vm(node, vmid))
    }

    pub fn vm_mut(&mut self, node: &str, vmid: u32) -> Result<&mut Vm, SimError> {
        self.node(node)?;
        self.vms.get_mut(&vmid).filter(|vm| vm.node == node).ok_or_else(|| missing_vm(node, vmid))
    }

    pub fn node(&self, node: &str) -> Result<&Node, SimError> {
        // A real cluster fails the hostname lookup for an unknown node.
        self.nodes.get(node).ok_or_else(|| {
            SimError::die(format!(
                "hostname lookup '{node}' failed - failed to get address info for: {node}: Name or service not known"
            ))
        })
    }

    pub fn storage(&self, node: &str, id: &str) -> Option<&Storage> {
        self.storages.iter().find(|s| s.id == id && s.on(node))
    }

    pub fn storage_mut(&mut self, node: &str, id: &str) -> Option<&mut Storage> {
        self.storages.iter_mut().find(|s| s.id == id && s.on(node))
    }

    /// Smallest free id ≥ 100.
    pub fn next_free_vmid(&self) -> u32 {
        let mut id = 100;
        while self.vms.contains_key(&id) {
            id += 1;
        }
        id
    }

    /// A new UPID (fake, increasing pid; fixed pstart).
    pub fn new_upid(&mut self, node: &str, kind: &str, id: &str, user: &str, now: u64) -> Upid {
        self.next_pid += 1;
        Upid::new(node, self.next_pid, 0x0123_4567, u32::try_from(now).unwrap_or(u32::MAX), kind, id, user)
    }

    /// A Proxmox-style MAC (`BC:24:11:…`).
    pub fn new_mac(&mut self) -> String {
        let r = self.rng.next_u64();
        format!("BC:24:11:{:02X}:{:02X}:{:02X}", (r >> 16) & 0xff, (r >> 8) & 0xff, r & 0xff)
    }

    /// Allocates `size` on a storage, or fails like PVE when it is full.
    pub fn allocate(&mut self, node: &str, storage: &str, size: u64) -> Result<(), String> {
        let s = self.storage_mut(node, storage).ok_or_else(|| format!("storage '{storage}' does not exist"))?;
        if s.used + size > s.total {
            return Err(format!(
                "not enough space on storage '{storage}' (requested {}, available {})",
                format_size(size),
                format_size(s.total - s.used)
            ));
        }
        s.used += size;
        Ok(())
    }

    pub fn release(&mut self, node: &str, storage: &str, size: u64) {
        if let Some(s) = self.storage_mut(node, storage) {
            s.used = s.used.saturating_sub(size);
        }
    }
}

pub fn missing_vm(node: &str, vmid: u32) -> SimError {
    SimError::die(format!("Configuration file 'nodes/{node}/qemu-server/{vmid}.conf' does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print_like_pve() {
        assert_eq!(parse_size("32G"), Some(32 * GIB));
        assert_eq!(parse_size("+10G"), Some(10 * GIB));
        assert_eq!(parse_size("512M"), Some(512 * MIB));
        assert_eq!(format_size(32 * GIB), "32G");
        assert_eq!(format_size(1536 * MIB), "1536M");
        assert_eq!(parse_size("12Q"), None);
        let d = Disk::parse("scsi0", "local-lvm:vm-100-disk-0,iothread=1,size=32G").unwrap_or_else(|| panic!());
        assert_eq!((d.storage.as_str(), d.size), ("local-lvm", 32 * GIB));
        assert!(is_disk_key("scsi0") && is_disk_key("virtio15") && !is_disk_key("scsihw") && !is_disk_key("net0"));
    }

    #[test]
    fn the_random_source_is_deterministic() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!((a.next_u64(), a.next_u64()), (b.next_u64(), b.next_u64()));
        assert!((0.0..1.0).contains(&noise(100, 5)));
        assert_eq!(noise(100, 5), noise(100, 5));
    }
}
