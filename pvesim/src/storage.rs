//! Storages with capacity accounting, their content (VM disks and backups), vzdump (the VM is
//! locked `backup` while it runs; the volume appears at the end), restore and volume delete.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::SimError;
use crate::sim::{int, now_s, req, Effect, Sim, TaskSpec};
use crate::state::{Cluster, Vm, GIB};
use crate::timing::Work;

/// A backup volume (`local:backup/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst`).
#[derive(Debug, Clone)]
pub struct Backup {
    pub volid: String,
    pub storage: String,
    /// The node whose storage holds it (`None` on shared storage).
    pub node: Option<String>,
    pub vmid: u32,
    /// Unix seconds.
    pub ctime: u64,
    pub size: u64,
    /// `vma`, `vma.zst`, … (from `compress`).
    pub format: String,
    /// The whole text (listings show its first line).
    pub notes: Option<String>,
    pub protected: bool,
    /// The VM's config at backup time, for restore.
    pub config: BTreeMap<String, String>,
}

fn used_by_images(c: &Cluster, node: &str, storage: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for vm in c.vms.values().filter(|vm| vm.node == node || c.storage(node, storage).is_some_and(|s| s.node.is_none()))
    {
        for d in vm.disks().into_iter().filter(|d| d.storage == storage) {
            out.push(json!({"volid": d.volume, "content": "images", "format": "raw", "size": d.size, "vmid": vm.vmid}));
        }
    }
    out
}

impl Sim {
    pub fn storages(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let c = self.lock();
        c.node(&node)?;
        let wanted = p.get("content");
        Ok(Value::Array(
            c.storages
                .iter()
                .filter(|s| s.on(&node))
                .filter(|s| wanted.is_none_or(|w| s.content.split(',').any(|c| c == w)))
                .filter(|s| p.get("storage").is_none_or(|id| *id == s.id))
                .map(|s| {
                    json!({"storage": s.id, "type": s.kind, "content": s.content, "active": 1, "enabled": 1,
                        "shared": u8::from(s.node.is_none()), "total": s.total, "used": s.used, "avail": s.total - s.used,
                        "used_fraction": s.used as f64 / s.total.max(1) as f64})
                })
                .collect(),
        ))
    }

    pub fn storage_status(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let id = req(p, "storage")?;
        let c = self.lock();
        c.node(&node)?;
        let s = c.storage(&node, &id).ok_or_else(|| SimError::die(format!("storage '{id}' does not exist")))?;
        Ok(
            json!({"type": s.kind, "content": s.content, "active": 1, "enabled": 1, "shared": u8::from(s.node.is_none()),
            "total": s.total, "used": s.used, "avail": s.total - s.used}),
        )
    }

    pub fn storage_content(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let id = req(p, "storage")?;
        let c = self.lock();
        c.node(&node)?;
        c.storage(&node, &id).ok_or_else(|| SimError::die(format!("storage '{id}' does not exist")))?;
        let vmid = p.get("vmid").and_then(|v| v.parse::<u32>().ok());
        let mut out: Vec<Value> = c
            .backups
            .iter()
            .filter(|b| b.storage == id && b.node.as_deref().is_none_or(|n| n == node))
            .map(|b| {
                let mut v = json!({"volid": b.volid, "content": "backup", "format": b.format, "size": b.size,
                    "ctime": b.ctime, "vmid": b.vmid, "subtype": "qemu"});
                if let Some(n) = &b.notes {
                    v["notes"] = json!(n.lines().next().unwrap_or(""));
                }
                if b.protected {
                    v["protected"] = json!(1);
                }
                v
            })
            .collect();
        out.extend(used_by_images(&c, &node, &id));
        out.retain(|v| p.get("content").is_none_or(|want| v["content"] == *want));
        out.retain(|v| vmid.is_none_or(|id| v["vmid"] == id));
        out.sort_by_key(|v| v["volid"].as_str().unwrap_or("").to_lowercase());
        Ok(Value::Array(out))
    }

    /// `POST /nodes/{node}/qemu` with `archive`: restore a backup into `vmid`.
    pub fn restore(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let Some(archive) = p.get("archive").cloned() else {
            return Err(SimError::die(
                "creating VMs from scratch is not simulated; clone a template or restore a backup",
            ));
        };
        let force = p.get("force").is_some_and(|f| f == "1");
        let mut c = self.lock();
        c.node(&node)?;
        let backup = c
            .backups
            .iter()
            .find(|b| b.volid == archive)
            .cloned()
            .ok_or_else(|| SimError::die(format!("volume '{archive}' does not exist")))?;
        if let Some(existing) = c.vms.get(&vmid) {
            if existing.running {
                return Err(SimError::die(format!("unable to restore VM {vmid} - vm is running")));
            }
            if !force {
                return Err(SimError::die(format!(
                    "unable to restore VM {vmid} - VM {vmid} already exists on node '{}'",
                    existing.node
                )));
            }
            if let Some(lock) = &existing.lock {
                return Err(SimError::die(format!("VM is locked ({lock})")));
            }
        }
        let target_storage = p.get("storage").cloned();
        let mut config = backup.config.clone();
        let keys: Vec<String> = config.keys().filter(|k| crate::state::is_disk_key(k)).cloned().collect();
        for k in keys {
            let v = config[&k].clone();
            if v.contains("media=cdrom") {
                continue;
            }
            let (vol, rest) = v.split_once(',').unwrap_or((&v, ""));
            let storage =
                target_storage.clone().unwrap_or_else(|| vol.split(':').next().unwrap_or("local-lvm").to_owned());
            let disk = vol.rsplit('-').next().unwrap_or("0");
            config.insert(k, format!("{storage}:vm-{vmid}-disk-{disk},{rest}").trim_end_matches(',').to_owned());
        }
        if p.get("unique").is_some_and(|u| u == "1") {
            let nets: Vec<String> = config.keys().filter(|k| k.starts_with("net")).cloned().collect();
            for k in nets {
                let mac = c.new_mac();
                let v = config[&k].clone();
                let (model, rest) = v.split_once(',').unwrap_or((&v, ""));
                let model = model.split('=').next().unwrap_or("virtio").to_owned();
                config.insert(k, format!("{model}={mac},{rest}").trim_end_matches(',').to_owned());
            }
        }
        c.vms.insert(
            vmid,
            Vm {
                vmid,
                node: node.clone(),
                config,
                running: false,
                started_at: None,
                lock: Some("create".into()),
                agent_ready_at: None,
                paused: None,
            },
        );
        let effect: Effect = Box::new(move |c, aborted| {
            if aborted {
                c.vms.remove(&vmid);
                return Err("interrupted by signal".into());
            }
            if let Some(vm) = c.vms.get_mut(&vmid) {
                vm.lock = None;
            }
            Ok(vec![format!("restore vma archive: {archive}")])
        });
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&node, "qmrestore", vmid, user, Work::Restore), effect);
        Ok(json!(upid.as_str()))
    }

    /// `DELETE …/content/{volume}`: a task; a protected backup fails inside it, as on PVE.
    pub fn delete_volume(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let (node, storage, volid) = volume_params(p)?;
        let mut c = self.lock();
        c.node(&node)?;
        let b = find_backup(&c, &node, &storage, &volid)?.clone();
        let n2 = node.clone();
        let effect: Effect = Box::new(move |c, _| {
            if b.protected {
                let name = volid.split_once(':').map_or(volid.as_str(), |(_, n)| n);
                return Err(format!("cannot remove protected volume '{name}' on '{}'", b.storage).into());
            }
            if let Some(i) = c.backups.iter().position(|x| x.volid == volid) {
                let b = c.backups.remove(i);
                c.release(&n2, &b.storage, b.size);
            }
            Ok(vec![format!("Removed volume '{volid}'")])
        });
        let id = format!("{}@{storage}", b.vmid);
        let upid = self.spawn_task(
            &mut c,
            TaskSpec { id, log: Some(Vec::new()), ..TaskSpec::vm(&node, "imgdel", 0, user, Work::Config) },
            effect,
        );
        Ok(json!(upid.as_str()))
    }

    /// `GET …/content/{volume}` of a backup: notes in full (`""` without), protection 0/1.
    pub fn volume_get(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let (node, storage, volid) = volume_params(p)?;
        let c = self.read();
        c.node(&node)?;
        let b = find_backup(&c, &node, &storage, &volid)?;
        let dir = c.storage(&node, &storage).map(dump_dir).unwrap_or_default();
        let file = volid.rsplit('/').next().unwrap_or_default();
        Ok(json!({"path": format!("{dir}/{file}"), "size": b.size, "used": b.size, "format": b.format,
            "notes": b.notes.clone().unwrap_or_default(), "protected": u8::from(b.protected)}))
    }

    /// `PUT …/content/{volume}`: `notes` (`""` deletes them) and/or `protected`.
    pub fn volume_set(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let (node, storage, volid) = volume_params(p)?;
        let mut c = self.lock();
        c.node(&node)?;
        let i = {
            let b = find_backup(&c, &node, &storage, &volid)?;
            c.backups.iter().position(|x| x.volid == b.volid).unwrap_or(0)
        };
        if let Some(notes) = p.get("notes") {
            c.backups[i].notes = (!notes.is_empty()).then(|| notes.clone());
        }
        if let Some(protected) = p.get("protected") {
            c.backups[i].protected = protected == "1";
        }
        Ok(Value::Null)
    }

    /// `GET|DELETE …/prunebackups`: what the retention keeps (dry run), or a task removing the
    /// rest. Without `prune-backups` the storage's own setting is used; ours have none.
    pub fn prune_backups(&self, p: &BTreeMap<String, String>, user: Option<&str>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let storage = req(p, "storage")?;
        let mut c = self.lock();
        c.node(&node)?;
        let s =
            c.storage(&node, &storage).ok_or_else(|| SimError::die(format!("storage '{storage}' does not exist")))?;
        if !s.content.split(',').any(|t| t == "backup") {
            return Err(SimError::die(format!("storage '{storage}' does not support backups")));
        }
        let Some(text) = p.get("prune-backups") else {
            return Err(SimError::die(format!("no prune-backups options configured for storage '{storage}'")));
        };
        let keep = crate::prune::Keep::parse(text).map_err(|e| SimError::param("prune-backups", e))?;
        if p.get("type").is_some_and(|t| t != "qemu") {
            return Ok(if user.is_some() { Value::Null } else { json!([]) });
        }
        let vmid = p.get("vmid").and_then(|v| v.parse::<u32>().ok());
        let Some(user) = user else {
            // Dry run: every guest's group marked, in listing order.
            let on: Vec<&Backup> = c
                .backups
                .iter()
                .filter(|b| b.storage == storage && b.node.as_deref().is_none_or(|n| n == node))
                .filter(|b| vmid.is_none_or(|v| b.vmid == v))
                .collect();
            let mut out = Vec::new();
            let mut guests: Vec<u32> = on.iter().map(|b| b.vmid).collect();
            guests.sort_unstable();
            guests.dedup();
            for g in guests {
                let group: Vec<&&Backup> = on.iter().filter(|b| b.vmid == g).collect();
                let list: Vec<(u64, bool)> = group.iter().map(|b| (b.ctime, b.protected)).collect();
                for (b, m) in group.iter().zip(crate::prune::marks(&list, &keep)) {
                    out.push(
                        json!({"volid": b.volid, "ctime": b.ctime, "mark": m.as_str(), "type": "qemu", "vmid": b.vmid}),
                    );
                }
            }
            out.sort_by_key(|v| v["volid"].as_str().unwrap_or("").to_lowercase());
            return Ok(Value::Array(out));
        };
        let guests: Vec<u32> = match vmid {
            Some(v) => vec![v],
            None => {
                let mut g: Vec<u32> = c.backups.iter().filter(|b| b.storage == storage).map(|b| b.vmid).collect();
                g.sort_unstable();
                g.dedup();
                g
            }
        };
        let n2 = node.clone();
        let s2 = storage.clone();
        let effect: Effect = Box::new(move |c, aborted| {
            if aborted {
                return Err("interrupted by signal".into());
            }
            let mut lines = Vec::new();
            for g in guests {
                lines.extend(c.prune(&n2, &s2, g, &keep).into_iter().map(|v| format!("removing backup '{v}'")));
            }
            Ok(lines)
        });
        let id = vmid.map_or_else(|| storage.clone(), |v| format!("{v}@{storage}"));
        let upid = self.spawn_task(
            &mut c,
            TaskSpec { id, log: Some(Vec::new()), ..TaskSpec::vm(&node, "prunebackups", 0, user, Work::Config) },
            effect,
        );
        Ok(json!(upid.as_str()))
    }

    /// `GET /nodes/{node}/vzdump/extractconfig?volume=`: the backed-up config as text, with
    /// the `#qmdump#map:` lines restore reads.
    pub fn extract_config(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let volid = req(p, "volume")?;
        let c = self.read();
        c.node(&node)?;
        let b = c
            .backups
            .iter()
            .find(|b| b.volid == volid && b.node.as_deref().is_none_or(|n| n == node))
            .ok_or_else(|| SimError::die(format!("volume '{volid}' does not exist")))?;
        let mut text = String::new();
        for (k, v) in &b.config {
            if crate::state::is_disk_key(k) && !v.contains("media=cdrom") {
                let storage = v.split(':').next().unwrap_or("local-lvm");
                text.push_str(&format!("#qmdump#map:{k}:drive-{k}:{storage}:raw:\n"));
            }
        }
        for (k, v) in &b.config {
            text.push_str(&format!("{k}: {v}\n"));
        }
        Ok(json!(text))
    }

    /// `GET /cluster/backup`: the backup jobs configured in PVE itself (one seeded job,
    /// read-only here), with `next-run` computed from now and `prune-backups` as an object.
    pub fn cluster_backup_jobs(&self) -> Value {
        let c = self.read();
        let ids: Vec<String> =
            c.vms.values().filter(|v| !v.is_template()).take(2).map(|v| v.vmid.to_string()).collect();
        if ids.is_empty() {
            return json!([]);
        }
        let now = now_s();
        // Sundays 01:00 (UTC, the simulated nodes' zone).
        let day = now / 86_400 * 86_400;
        let mut next = day + 3600;
        while crate::calendar::weekday(next) != 6 || next <= now {
            next += 86_400;
        }
        json!([{
            "id": "backup-5e1c7a2b-93f4", "type": "vzdump", "schedule": "sun 01:00", "enabled": 1,
            "next-run": next, "vmid": ids.join(","), "storage": "local", "mode": "snapshot", "compress": "zstd",
            "notes-template": "{{guestname}}", "prune-backups": {"keep-last": 3, "keep-weekly": 2},
            "comment": "Weekly (managed in Proxmox VE)",
        }])
    }

    /// Days of nightly backups for the demo: every ordinary VM has one per day on the shared
    /// storage (or its node's `local` without one), the first few also a weekly one on
    /// `local`. Sizes come from the disks, as vzdump's would.
    pub fn seed_backups(&self, days: u32) {
        let mut c = self.lock();
        let now = now_s();
        let vms: Vec<Vm> = c.vms.values().filter(|v| !v.is_template()).cloned().collect();
        let shared = c.storages.iter().any(|s| s.id == "shared-nfs");
        for (n, vm) in vms.iter().enumerate() {
            let disk: u64 = vm.disks().iter().map(|d| d.size).sum::<u64>().max(GIB);
            for day in (1..=u64::from(days)).rev() {
                let ctime = (now - day * 86_400) / 86_400 * 86_400 + 3600 + u64::from(vm.vmid % 50) * 30;
                let mut targets = vec![if shared { "shared-nfs" } else { "local" }];
                if shared && n % 4 == 0 && day % 7 == 1 {
                    targets.push("local");
                }
                for storage in targets {
                    let size = (disk / 14 * (80 + (u64::from(vm.vmid) + day) % 40) / 100).max(256 * 1024 * 1024);
                    if c.allocate(&vm.node, storage, size).is_err() {
                        continue;
                    }
                    let file = format!("vzdump-qemu-{}-{}.vma.zst", vm.vmid, crate::calendar::stamp(ctime));
                    c.backups.push(Backup {
                        volid: format!("{storage}:backup/{file}"),
                        storage: storage.to_owned(),
                        node: (storage == "local").then(|| vm.node.clone()),
                        vmid: vm.vmid,
                        ctime,
                        size,
                        format: "vma.zst".into(),
                        notes: Some(vm.name()),
                        protected: false,
                        config: vm.config.clone(),
                    });
                }
            }
        }
    }
}

impl Sim {
    /// Tests: a backup file as if an earlier vzdump had written it (of any vmid, also of a
    /// guest that no longer exists); `node` for a node-local storage. Returns its volid.
    pub fn add_backup(&self, storage: &str, node: Option<&str>, vmid: u32, ctime: u64, size: u64) -> String {
        let mut c = self.lock();
        let volid = format!("{storage}:backup/vzdump-qemu-{vmid}-{}.vma.zst", crate::calendar::stamp(ctime));
        let config = c.vms.get(&vmid).map(|v| v.config.clone()).unwrap_or_default();
        c.backups.push(Backup {
            volid: volid.clone(),
            storage: storage.to_owned(),
            node: node.map(str::to_owned),
            vmid,
            ctime,
            size,
            format: "vma.zst".into(),
            notes: None,
            protected: false,
            config,
        });
        volid
    }

    /// Tests: leaves `free` bytes on a storage (a full one fails the next backup).
    pub fn set_storage_free(&self, storage: &str, free: u64) {
        let mut c = self.lock();
        for s in c.storages.iter_mut().filter(|s| s.id == storage) {
            s.used = s.total.saturating_sub(free);
        }
    }
}

/// Where a storage keeps its dumps (`/var/lib/vz/dump`, `/mnt/pve/<id>/dump`).
pub fn dump_dir(s: &crate::state::Storage) -> String {
    if s.id == "local" {
        "/var/lib/vz/dump".into()
    } else {
        format!("/mnt/pve/{}/dump", s.id)
    }
}

/// `node`, `storage` and the volume, which may come as `local:backup/…` or as `backup/…`
/// relative to the storage.
fn volume_params(p: &BTreeMap<String, String>) -> Result<(String, String, String), SimError> {
    let node = req(p, "node")?;
    let volume = req(p, "volume")?;
    let storage = match p.get("storage") {
        Some(s) => s.clone(),
        None => volume
            .split_once(':')
            .map(|(s, _)| s.to_owned())
            .ok_or_else(|| SimError::param("storage", "property is missing and it is not optional"))?,
    };
    let volid = if volume.contains(':') { volume } else { format!("{storage}:{volume}") };
    Ok((node, storage, volid))
}

fn find_backup<'a>(c: &'a Cluster, node: &str, storage: &str, volid: &str) -> Result<&'a Backup, SimError> {
    c.storage(node, storage).ok_or_else(|| SimError::die(format!("storage '{storage}' does not exist")))?;
    c.backups
        .iter()
        .find(|b| b.volid == volid && b.node.as_deref().is_none_or(|n| n == node))
        .ok_or_else(|| SimError::die(format!("volume '{volid}' does not exist")))
}
