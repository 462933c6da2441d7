//! Reconciling the records with Proxmox: one `/cluster/resources` call per refresh (never a
//! call per VM), config reads only for VMs being imported. Records whose VM vanished are marked
//! `missing`; VMs proxfleet does not manage are offered for import; differences between the
//! record and Proxmox are kept as drift.

use pve::{Resource, VmConfig};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::store::{Disk, Nic, Observed, Server, ServerStatus, ServerStore};
use crate::cluster::{ClusterService, Freshness, Snapshot};
use crate::events::EventBus;
use crate::jobs::{JobContext, Stop};
use crate::Result;

/// A VM on the cluster that proxfleet does not manage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unmanaged {
    pub vmid: u32,
    pub name: String,
    pub node: String,
    pub status: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SyncReport {
    pub checked: usize,
    pub changed: Vec<String>,
    pub missing: Vec<String>,
    pub unmanaged: Vec<Unmanaged>,
    pub imported: Vec<String>,
}

const MIB: u64 = 1024 * 1024;

/// Proxmox's `/cluster/resources` takes a VM's status from pvestatd, which refreshes every
/// 10 s: right after a job started or stopped a VM it may still report the old state. A status
/// proxfleet set this recently is kept (figures are still refreshed; a vanished VM is still
/// marked missing).
const STATUS_SETTLE_MS: i64 = 20_000;

/// Compares one record with its resource entry.
fn observe(server: &Server, r: &Resource, now_ms: i64) -> Observed {
    let mut drift = serde_json::Map::new();
    if let Some(name) = &r.name {
        if *name != server.name {
            drift.insert("name".into(), json!([server.name, name]));
        }
    }
    if let Some(maxcpu) = r.maxcpu {
        let ours = f64::from(server.cores * server.sockets);
        if (maxcpu - ours).abs() > f64::EPSILON {
            drift.insert("cpus".into(), json!([ours, maxcpu]));
        }
    }
    if let Some(maxmem) = r.maxmem {
        if maxmem / MIB != server.memory_mb {
            drift.insert("memory_mb".into(), json!([server.memory_mb, maxmem / MIB]));
        }
    }
    let reported = r.status.as_deref().map_or(ServerStatus::Unknown, ServerStatus::parse);
    let settling = now_ms.saturating_sub(server.updated_at) < STATUS_SETTLE_MS;
    Observed {
        status: if settling && reported != server.status { server.status } else { reported },
        node: r.node.clone().unwrap_or_default(),
        cpu: r.cpu.unwrap_or(0.0),
        mem_used: r.mem.unwrap_or(0),
        uptime: r.uptime.unwrap_or(0),
        drift: Value::Object(drift),
    }
}

/// What the snapshot says about one record now, or `None` when it says nothing the record
/// should take: no VM yet, a job is in the middle of it (the job owns its status), or the
/// record was written after the snapshot was taken (a server just created is not in it yet; a
/// status a job just set is newer than the snapshot's).
fn observed(server: &Server, snapshot: &Snapshot, now_ms: i64) -> Option<Observed> {
    let vmid = u64::from(server.vmid?);
    if server.status.is_busy() || server.updated_at >= snapshot.taken_at_ms {
        return None;
    }
    Some(match snapshot.vm(vmid) {
        Some(r) => observe(server, r, now_ms),
        None => Observed {
            status: ServerStatus::Missing,
            node: server.node.clone().unwrap_or_default(),
            drift: server.drift.clone(),
            ..Default::default()
        },
    })
}

/// The records with the snapshot's live state laid over them in memory — what a sync would
/// write, without writing it, so a read can be as fresh as the snapshot and still change
/// nothing.
pub fn overlay(servers: &mut [Server], snapshot: &Snapshot) {
    let now = crate::clock::now_ms();
    for s in servers.iter_mut() {
        if let Some(o) = observed(s, snapshot, now) {
            o.apply_to(s);
        }
    }
}

/// One refresh: every record against a snapshot fresh enough for `need` (the shared one,
/// unless it is older than that).
pub async fn sync(
    store: &ServerStore,
    cluster: &ClusterService,
    events: &EventBus,
    need: Freshness,
) -> Result<SyncReport> {
    let snapshot = cluster.snapshot(need).await?;
    reconcile(store, &snapshot, events).await
}

/// The sync a job runs when its servers are done: one snapshot taken after the job's work
/// (never a call per VM), so live figures and anything the job changed beyond its own records
/// are current at once instead of at the next background pass. A failure only goes to the
/// job's log.
pub async fn sync_after_job(
    ctx: &JobContext,
    store: &ServerStore,
    cluster: &ClusterService,
    events: &EventBus,
) -> std::result::Result<(), Stop> {
    if let Err(e) = sync(store, cluster, events, Freshness::Since(std::time::Instant::now())).await {
        ctx.log(&format!("inventory sync after the job failed (the background sync will retry): {e}")).await?;
    }
    Ok(())
}

/// Writes what `snapshot` says into the records (one transaction; a record a job changed
/// meanwhile keeps the job's word) and publishes a `server_state` event for each status that
/// changed. Reads never call this: only the background sync, a job's closing sync and an
/// explicit sync/import.
pub async fn reconcile(store: &ServerStore, snapshot: &Snapshot, events: &EventBus) -> Result<SyncReport> {
    let servers = store.all().await?;
    let now = crate::clock::now_ms();
    let mut report = SyncReport { checked: servers.len(), ..Default::default() };
    let mut managed = std::collections::HashSet::new();
    let mut writes = Vec::new();
    for s in &servers {
        if let Some(vmid) = s.vmid {
            managed.insert(u64::from(vmid));
        }
        let Some(observed) = observed(s, snapshot, now) else { continue };
        if observed.status == ServerStatus::Missing {
            report.missing.push(s.name.clone());
        }
        writes.push((s, observed));
    }
    let written = store.observe_all(&writes).await?;
    for ((s, observed), written) in writes.iter().zip(written) {
        if written && observed.status != s.status {
            report.changed.push(s.name.clone());
            let _ = events
                .publish(
                    None,
                    "server_state",
                    json!({"type": "server_state", "name": s.name, "status": observed.status}),
                )
                .await;
        }
    }
    report.unmanaged = snapshot
        .resources
        .iter()
        .filter(|r| r.kind == "qemu" && !r.template)
        .filter_map(|r| {
            let vmid = r.vmid?;
            (!managed.contains(&vmid)).then(|| Unmanaged {
                vmid: u32::try_from(vmid).unwrap_or(0),
                name: r.name.clone().unwrap_or_else(|| format!("vm-{vmid}")),
                node: r.node.clone().unwrap_or_default(),
                status: r.status.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(report)
}

/// A record for an existing VM, read from its config (one call per imported VM).
pub fn record_from_config(vm: &Unmanaged, config: &VmConfig) -> Server {
    let num = |k: &str, default: u64| config.get(k).and_then(|v| v.parse::<u64>().ok()).unwrap_or(default);
    let mut disks = Vec::new();
    let mut nics = Vec::new();
    for (key, value) in &config.values {
        if let Some((bus, index)) = super::spec::parse_device(key) {
            if value.contains("media=cdrom") {
                continue;
            }
            let storage = value.split(':').next().unwrap_or_default().to_owned();
            let size_gb = volume_size_gb(value);
            disks.push(Disk { device: format!("{bus}{index}"), storage, size_gb });
        }
        if let Some(index) = key.strip_prefix("net").and_then(|i| i.parse::<u32>().ok()) {
            let part =
                |name: &str| value.split(',').find_map(|p| p.strip_prefix(&format!("{name}=")).map(str::to_owned));
            let mac = value.split(',').next().and_then(|m| m.split_once('=')).map(|(_, m)| m.to_owned());
            let ipconfig = config.get(&format!("ipconfig{index}")).unwrap_or_default();
            let ip_cidr = ipconfig.split(',').find_map(|p| p.strip_prefix("ip=")).filter(|v| *v != "dhcp");
            let gateway = ipconfig.split(',').find_map(|p| p.strip_prefix("gw=")).map(str::to_owned);
            let (ip, prefix) = match ip_cidr.and_then(|c| c.split_once('/')) {
                Some((ip, p)) => (Some(ip.to_owned()), p.parse().ok()),
                None => (None, None),
            };
            nics.push(Nic {
                index,
                bridge: part("bridge").unwrap_or_default(),
                vlan: part("tag").and_then(|t| t.parse().ok()),
                mac,
                ip,
                prefix,
                gateway,
                pool: None,
            });
        }
    }
    Server {
        name: vm.name.clone(),
        vmid: Some(vm.vmid),
        node: Some(vm.node.clone()),
        status: ServerStatus::parse(&vm.status),
        cores: u32::try_from(num("cores", 1)).unwrap_or(1),
        sockets: u32::try_from(num("sockets", 1)).unwrap_or(1),
        memory_mb: num("memory", 512),
        disks,
        nics,
        os_type: config.get("ostype").unwrap_or_default().to_owned(),
        tags: config
            .get("tags")
            .unwrap_or_default()
            .split([';', ','])
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
        description: super::marker::unmarked(config.get("description").unwrap_or_default()),
        ..Default::default()
    }
}

/// The size of a disk from its config value (`local-lvm:vm-101-disk-0,size=32G`), in GB
/// rounded up; 0 when it has none.
pub(super) fn volume_size_gb(value: &str) -> u64 {
    value.split(',').find_map(|p| p.strip_prefix("size=")).map_or(0, parse_size_gb)
}

/// `32G`, `512M`, `1T` → GB (rounded up).
fn parse_size_gb(text: &str) -> u64 {
    let (num, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len()));
    let n: f64 = num.parse().unwrap_or(0.0);
    let gb = match unit {
        "T" => n * 1024.0,
        "M" => n / 1024.0,
        "K" => n / (1024.0 * 1024.0),
        _ => n,
    };
    gb.ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status: &str, updated_at: i64) -> Server {
        Server {
            id: 1,
            name: "web-1".into(),
            vmid: Some(120),
            node: Some("pve1".into()),
            status: ServerStatus::parse(status),
            cores: 2,
            sockets: 1,
            memory_mb: 2048,
            drift: json!({}),
            updated_at,
            ..Default::default()
        }
    }

    #[test]
    fn a_status_a_job_just_set_outlives_proxmoxs_lagging_report() {
        let r: Resource = serde_json::from_value(
            json!({"id": "qemu/120", "type": "qemu", "vmid": 120, "node": "pve1", "name": "web-1",
            "status": "stopped", "maxcpu": 2, "maxmem": 2147483648u64, "cpu": 0.0, "mem": 0, "uptime": 0}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let now = 1_000_000;
        // Started 3 s ago; pvestatd has not noticed yet.
        assert_eq!(observe(&server("running", now - 3_000), &r, now).status, ServerStatus::Running);
        // A minute later Proxmox's word stands.
        assert_eq!(observe(&server("running", now - 60_000), &r, now).status, ServerStatus::Stopped);
        // Agreeing reports are unaffected.
        assert_eq!(observe(&server("stopped", now - 1_000), &r, now).status, ServerStatus::Stopped);
    }

    #[test]
    fn an_existing_vms_config_becomes_a_record() {
        let mut values = std::collections::BTreeMap::new();
        for (k, v) in [
            ("cores", "4"),
            ("memory", "8192"),
            ("scsi0", "local-lvm:vm-120-disk-0,size=32G"),
            ("scsi1", "shared-nfs:vm-120-disk-1,size=1T"),
            ("ide2", "local-lvm:vm-120-cloudinit,media=cdrom"),
            ("net0", "virtio=BC:24:11:00:00:01,bridge=vmbr0,tag=20,firewall=1"),
            ("ipconfig0", "ip=10.0.0.9/24,gw=10.0.0.1"),
        ] {
            values.insert(k.to_owned(), v.to_owned());
        }
        let vm = Unmanaged { vmid: 120, name: "db-1".into(), node: "pve1".into(), status: "running".into() };
        let r = record_from_config(&vm, &VmConfig { values, digest: String::new() });
        assert_eq!((r.cores, r.memory_mb, r.disks.len()), (4, 8192, 2));
        assert_eq!(r.disks[1].size_gb, 1024);
        assert_eq!((r.nics[0].ip.as_deref(), r.nics[0].prefix, r.nics[0].vlan), (Some("10.0.0.9"), Some(24), Some(20)));
        assert_eq!(r.nics[0].mac.as_deref(), Some("BC:24:11:00:00:01"));
    }
}
