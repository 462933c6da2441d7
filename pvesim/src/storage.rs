//! Storages with capacity accounting, their content (VM disks and backups), vzdump (the VM is
//! locked `backup` while it runs; the volume appears at the end), restore and volume delete.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::error::SimError;
use crate::sim::{int, now_s, req, Effect, Sim, TaskSpec};
use crate::state::{format_size, Cluster, Vm, GIB};
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
    pub notes: Option<String>,
    pub protected: bool,
    /// The VM's config at backup time, for restore.
    pub config: BTreeMap<String, String>,
}

fn stamp(secs: u64) -> String {
    // UTC calendar date from unix seconds (civil-from-days, Howard Hinnant's algorithm).
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}_{m:02}_{d:02}-{:02}_{:02}_{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
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
                let mut v = json!({"volid": b.volid, "content": "backup", "format": "vma.zst", "size": b.size,
                    "ctime": b.ctime, "vmid": b.vmid, "subtype": "qemu"});
                if let Some(n) = &b.notes {
                    v["notes"] = json!(n);
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

    /// `POST /nodes/{node}/vzdump` for one VM (proxfleet backs up one server per call).
    pub fn vzdump(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let list = req(p, "vmid")?;
        let vmid: u32 = list
            .split([',', ';', ' '])
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| SimError::param("vmid", "value does not look like a valid VM ID list"))?;
        let storage = p.get("storage").cloned().unwrap_or_else(|| "local".into());
        let mut c = self.lock();
        let vm = c.vm(&node, vmid)?.clone();
        let target =
            c.storage(&node, &storage).ok_or_else(|| SimError::die(format!("storage '{storage}' does not exist")))?;
        if !target.content.split(',').any(|c| c == "backup") {
            return Err(SimError::die(format!("storage '{storage}' does not support backups")));
        }
        let shared = target.node.is_none();
        if let Some(lock) = &vm.lock {
            return Err(SimError::die(format!("VM is locked ({lock})")));
        }
        if let Some(v) = c.vms.get_mut(&vmid) {
            v.lock = Some("backup".into());
        }
        let notes = p.get("notes-template").map(|t| {
            t.replace("{{guestname}}", &vm.name())
                .replace("{{vmid}}", &vmid.to_string())
                .replace("{{node}}", &node)
                .replace("{{cluster}}", "pvesim")
        });
        let protected = p.get("protected").is_some_and(|v| v == "1");
        // Compressed size: about a third of the allocated disks.
        let size = vm.disks().iter().map(|d| d.size / 3).sum::<u64>().max(GIB / 4);
        let n2 = node.clone();
        let effect: Effect = Box::new(move |c, aborted| {
            if let Some(v) = c.vms.get_mut(&vmid) {
                v.lock = None;
            }
            if aborted {
                return Err("interrupted by signal".into());
            }
            let now = now_s();
            let volid = format!("{storage}:backup/vzdump-qemu-{vmid}-{}.vma.zst", stamp(now));
            c.allocate(&n2, &storage, size)?;
            let config = c.vms.get(&vmid).map(|v| v.config.clone()).unwrap_or_default();
            c.backups.push(Backup {
                volid: volid.clone(),
                storage: storage.clone(),
                node: (!shared).then(|| n2.clone()),
                vmid,
                ctime: now,
                size,
                notes,
                protected,
                config,
            });
            Ok(vec![
                format!("creating vzdump archive '{volid}'"),
                format!("archive file size: {}", format_size(size)),
                format!("Finished Backup of VM {vmid}"),
            ])
        });
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&node, "vzdump", vmid, user, Work::Backup), effect);
        Ok(json!(upid.as_str()))
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

    /// `DELETE …/content/{volume}`: backups (protected ones refused) and unused disks.
    pub fn delete_volume(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let storage = req(p, "storage")?;
        let volume = req(p, "volume")?;
        // The volume may come as `local:backup/…` or as `backup/…` relative to the storage.
        let volid = if volume.contains(':') { volume.clone() } else { format!("{storage}:{volume}") };
        let mut c = self.lock();
        c.node(&node)?;
        let Some(i) = c.backups.iter().position(|b| b.volid == volid) else {
            return Err(SimError::die(format!("volume '{volid}' does not exist")));
        };
        if c.backups[i].protected {
            return Err(SimError::die("cannot remove protected volume"));
        }
        let n2 = node.clone();
        let effect: Effect = Box::new(move |c, _| {
            if let Some(i) = c.backups.iter().position(|b| b.volid == volid) {
                let b = c.backups.remove(i);
                c.release(&n2, &b.storage, b.size);
            }
            Ok(vec![format!("removed volume '{volid}'")])
        });
        let upid = self.spawn_task(
            &mut c,
            TaskSpec { id: storage.clone(), ..TaskSpec::vm(&node, "imgdel", 0, user, Work::Config) },
            effect,
        );
        Ok(json!(upid.as_str()))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backup_names_carry_the_utc_time() {
        assert_eq!(super::stamp(0), "1970_01_01-00_00_00");
        assert_eq!(super::stamp(1_768_471_200), "2026_01_15-10_00_00");
    }
}
