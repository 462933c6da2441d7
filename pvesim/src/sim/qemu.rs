//! VM operations (`/nodes/{node}/qemu/...`): clone, power, config, resize, destroy, template,
//! the guest agent, and the VM reads.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::params::{int, req};
use super::{now_ms, now_s, Effect, Sim, TaskSpec};
use crate::error::SimError;
use crate::state::{format_size, is_disk_key, noise, parse_size, Vm, GIB, MIB};
use crate::timing::Work;

impl Sim {
    pub fn clone_vm(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let newid = int(p, "newid")?;
        let mut c = self.lock();
        let source = c.vm(&node, vmid)?.clone();
        if let Some(lock) = &source.lock {
            return Err(SimError::die(format!("VM is locked ({lock})")));
        }
        if c.vms.contains_key(&newid) {
            return Err(SimError::die(format!("unable to create VM {newid}: config file already exists")));
        }
        let full = p.get("full").map_or(!source.is_template(), |v| v == "1");
        if p.contains_key("storage") && !full {
            return Err(SimError::die("parameter 'storage' not allowed for linked clones"));
        }
        let target = p.get("target").cloned().unwrap_or_else(|| node.clone());
        c.node(&target)?;
        let disks = source.disks();
        if target != node && disks.iter().any(|d| c.storage(&node, &d.storage).is_some_and(|s| s.node.is_some())) {
            return Err(SimError::die(format!("can't clone VM to node '{target}' (VM uses local storage)")));
        }
        if let Some(st) = p.get("storage") {
            match c.storage(&target, st) {
                None => return Err(SimError::param("storage", format!("storage '{st}' does not exist"))),
                Some(s) if !s.holds_images() => {
                    return Err(SimError::param("storage", format!("storage '{st}' does not support vm images")))
                }
                Some(_) => {}
            }
        }
        // The new VM exists at once, locked, with new MACs and renamed disks.
        let mut config = source.config.clone();
        config.remove("template");
        let default_name =
            format!("Copy-of-VM-{}", source.config.get("name").cloned().unwrap_or_else(|| vmid.to_string()));
        config.insert("name".into(), p.get("name").cloned().unwrap_or(default_name));
        if let Some(d) = p.get("description") {
            config.insert("description".into(), d.clone());
        }
        let mut allocated = Vec::new();
        for (i, d) in disks.iter().enumerate() {
            let storage =
                if full { p.get("storage").cloned().unwrap_or_else(|| d.storage.clone()) } else { d.storage.clone() };
            if full {
                c.allocate(&target, &storage, d.size).map_err(SimError::die)?;
                allocated.push((storage.clone(), d.size));
            }
            let rest: Vec<&str> = source.config[&d.key].split(',').skip(1).collect();
            config.insert(
                d.key.clone(),
                format!("{storage}:vm-{newid}-disk-{i},{}", rest.join(",")).trim_end_matches(',').to_owned(),
            );
        }
        let nets: Vec<String> = config.keys().filter(|k| k.starts_with("net")).cloned().collect();
        for k in nets {
            let mac = c.new_mac();
            let v = config[&k].clone();
            let (model, rest) = v.split_once(',').unwrap_or((&v, ""));
            let model = model.split('=').next().unwrap_or("virtio");
            config.insert(k, if rest.is_empty() { format!("{model}={mac}") } else { format!("{model}={mac},{rest}") });
        }
        if let Some(ci) = config.get("ide2").cloned().filter(|v| v.contains("cloudinit")) {
            let storage = ci.split(':').next().unwrap_or("local-lvm").to_owned();
            config.insert("ide2".into(), format!("{storage}:vm-{newid}-cloudinit,media=cdrom"));
        }
        // Like qemu-server, the new config is made (locked) on the source node and moved to
        // the target node when the clone is done; until then it is a temporary file that holds
        // only the lock (no name, no description): the real config is written at the end.
        c.vms.insert(
            newid,
            Vm {
                vmid: newid,
                node: node.clone(),
                config: BTreeMap::new(),
                running: false,
                started_at: None,
                lock: Some("clone".into()),
                agent_ready_at: None,
                paused: None,
            },
        );
        // The VM firewall file is copied with the VM.
        if let Some(fw) = c.vm_firewalls.get(&vmid).cloned() {
            c.vm_firewalls.insert(newid, fw);
        }
        // Full clones hold the source's file lock and share the target storage's bandwidth.
        let work = self.profile.duration(Work::Clone { full });
        let mut keys = vec![format!("flock:{vmid}")];
        if full {
            keys.extend(allocated.iter().map(|(s, _)| format!("storage:{target}:{s}")));
        }
        // A full clone that would wait longer than the lock's timeout gives up then, having
        // held nothing.
        let lock_timeout = self.profile.duration(Work::Start) * 7;
        let give_up = (full && !lock_timeout.is_zero()).then_some(lock_timeout);
        let (timed_out, wait) = match self.queue(&keys, work, give_up) {
            Some(wait) => (false, wait),
            None => (true, lock_timeout),
        };
        let effect: Effect = Box::new(move |c, aborted| {
            if aborted || timed_out {
                c.vms.remove(&newid);
                c.vm_firewalls.remove(&newid);
                for (s, size) in &allocated {
                    c.release(&target, s, *size);
                }
                return Err(if aborted {
                    "interrupted by signal".into()
                } else {
                    format!("can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout").into()
                });
            }
            if let Some(vm) = c.vms.get_mut(&newid) {
                vm.config = config;
                vm.lock = None;
                vm.node = target.clone();
            }
            Ok(vec![format!("create {} clone of drive scsi0", if full { "full" } else { "linked" })])
        });
        let upid = self.spawn_task(
            &mut c,
            TaskSpec { wait, ..TaskSpec::vm(&node, "qmclone", vmid, user, Work::Clone { full }) },
            effect,
        );
        Ok(json!(upid.as_str()))
    }

    pub fn power(&self, p: &BTreeMap<String, String>, action: &str, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let mut c = self.lock();
        let vm = c.vm(&node, vmid)?;
        // Synchronous prechecks, as PVE raises them before forking.
        if matches!(action, "reboot" | "reset") && !vm.running {
            return Err(SimError::die(format!("VM {vmid} not running")));
        }
        let (kind, work) = match action {
            "start" => ("qmstart", Work::Start),
            "stop" => ("qmstop", Work::Stop),
            "shutdown" => ("qmshutdown", Work::Shutdown),
            "reboot" => ("qmreboot", Work::Reboot),
            _ => ("qmreset", Work::Start),
        };
        let action = action.to_owned();
        let agent_boot = self.profile.duration(Work::AgentBoot);
        let effect: Effect = Box::new(move |c, aborted| {
            if aborted {
                return Err("received interrupt".into());
            }
            let vm = c
                .vms
                .get_mut(&vmid)
                .ok_or_else(|| format!("Configuration file 'nodes/{}/qemu-server/{vmid}.conf' does not exist", node))?;
            if let Some(lock) = &vm.lock {
                return Err(format!("VM is locked ({lock})").into());
            }
            let now = now_ms();
            match action.as_str() {
                "start" => {
                    if vm.is_template() {
                        return Err("you can't start a vm if it's a template".into());
                    }
                    if vm.running {
                        return Err(format!("VM {vmid} already running").into());
                    }
                    vm.running = true;
                    vm.started_at = Some(now / 1000);
                    vm.agent_ready_at = Some(now + u64::try_from(agent_boot.as_millis()).unwrap_or(0));
                }
                "stop" | "shutdown" => {
                    vm.running = false;
                    vm.paused = None;
                    vm.started_at = None;
                    vm.agent_ready_at = None;
                }
                _ => {
                    if !vm.running {
                        return Err(format!("VM {vmid} not running").into());
                    }
                    vm.started_at = Some(now / 1000);
                    vm.agent_ready_at = Some(now + u64::try_from(agent_boot.as_millis()).unwrap_or(0));
                }
            }
            Ok(vec![])
        });
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&p["node"], kind, vmid, user, work), effect);
        Ok(json!(upid.as_str()))
    }

    pub fn config_get(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let vm = c.vm(&req(p, "node")?, int(p, "vmid")?)?;
        let mut out = serde_json::Map::new();
        for (k, v) in &vm.config {
            let value = match k.as_str() {
                // Integer and boolean keys come back as JSON numbers; `memory` (a property
                // string since PVE 8.1) and everything else as strings.
                "cores" | "sockets" | "balloon" | "onboot" | "template" | "protection" | "vcpus" | "numa"
                | "ciupgrade" => v.parse::<i64>().map_or_else(|_| json!(v), |n| json!(n)),
                "cipassword" => json!("**********"),
                _ => json!(v),
            };
            out.insert(k.clone(), value);
        }
        if let Some(lock) = &vm.lock {
            out.insert("lock".into(), json!(lock));
        }
        out.insert("digest".into(), json!(vm.digest()));
        Ok(Value::Object(out))
    }

    /// PUT (sync, answers null) and POST (answers a finished `qmconfig` task).
    pub fn config_set(&self, p: &BTreeMap<String, String>, is_async: bool, user: &str) -> Result<Value, SimError> {
        const CONTROL: [&str; 7] = ["node", "vmid", "digest", "delete", "skiplock", "force", "background_delay"];
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let deletes: Vec<String> = p
            .get("delete")
            .map(|d| d.split([',', ';', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let sets: Vec<(String, String)> =
            p.iter().filter(|(k, _)| !CONTROL.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect();
        if sets.is_empty() && deletes.is_empty() {
            return Err(SimError::die("no options specified"));
        }
        if let Some(both) = deletes.iter().find(|d| p.contains_key(d.as_str())) {
            return Err(SimError::param(
                "delete",
                format!("you can't use '-{both}' and -delete {both}' at the same time"),
            ));
        }
        let mut c = self.lock();
        let vm = c.vm(&node, vmid)?;
        if let Some(d) = p.get("digest") {
            if *d != vm.digest() {
                return Err(SimError::die("checksum mismatch (file change by other user?)"));
            }
        }
        if let Some(lock) = &vm.lock {
            return Err(SimError::die(format!("VM is locked ({lock})")));
        }
        let memory = sets
            .iter()
            .find(|(k, _)| k == "memory")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(vm.memory_mib());
        if let Some((_, b)) = sets.iter().find(|(k, _)| k == "balloon") {
            if b.parse::<u64>().unwrap_or(0) > memory {
                return Err(SimError::die("balloon value too large (must be smaller than assigned memory)"));
            }
        }
        let mut vm = vm.clone();
        let mut disk_index = vm.disks().len();
        for (k, v) in sets {
            let value = if k.starts_with("net") && !v.contains('=')
                || (k.starts_with("net") && !v.split(',').next().unwrap_or("").contains('='))
            {
                let mac = c.new_mac();
                let (model, rest) = v.split_once(',').unwrap_or((&v, ""));
                if rest.is_empty() {
                    format!("{model}={mac}")
                } else {
                    format!("{model}={mac},{rest}")
                }
            } else if is_disk_key(&k) && v.ends_with(":cloudinit") {
                let storage = v.trim_end_matches(":cloudinit");
                format!("{storage}:vm-{vmid}-cloudinit,media=cdrom")
            } else if is_disk_key(&k) && is_new_disk(&v) {
                let (storage, rest) = v.split_once(':').unwrap_or((&v, "0"));
                let (size, opts) = rest.split_once(',').unwrap_or((rest, ""));
                let bytes = size.parse::<f64>().map(|g| (g * GIB as f64) as u64).unwrap_or(0);
                match c.storage(&node, storage) {
                    None => return Err(SimError::die(format!("storage '{storage}' does not exist"))),
                    Some(s) if !s.holds_images() => {
                        return Err(SimError::die(format!("storage '{storage}' does not support vm images")))
                    }
                    Some(_) => {}
                }
                c.allocate(&node, storage, bytes).map_err(SimError::die)?;
                let name = format!("{storage}:vm-{vmid}-disk-{disk_index}");
                disk_index += 1;
                if opts.is_empty() {
                    format!("{name},size={}", format_size(bytes))
                } else {
                    format!("{name},{opts},size={}", format_size(bytes))
                }
            } else if k == "cipassword" {
                // PVE stores a hash; it never reads back.
                format!("$5${}", noise(u64::from(vmid), v.len() as u64).to_bits())
            } else {
                v
            };
            vm.config.insert(k, value);
        }
        let force = p.get("force").is_some_and(|f| f == "1");
        for d in deletes {
            match vm.config.remove(&d) {
                Some(old) if is_disk_key(&d) && !old.contains("media=cdrom") && !force => {
                    let n = (0..).find(|i| !vm.config.contains_key(&format!("unused{i}"))).unwrap_or(0);
                    let volume = old.split(',').next().unwrap_or("").to_owned();
                    vm.config.insert(format!("unused{n}"), volume);
                }
                Some(old) if is_disk_key(&d) || d.starts_with("unused") => {
                    if let Some(disk) = crate::state::Disk::parse(&d, &old) {
                        c.release(&node, &disk.storage, disk.size);
                    }
                }
                _ => {}
            }
        }
        c.vms.insert(vmid, vm);
        if !is_async {
            return Ok(Value::Null);
        }
        let effect: Effect = Box::new(|_, _| Ok(vec!["update VM config".into()]));
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&node, "qmconfig", vmid, user, Work::Config), effect);
        Ok(json!(upid.as_str()))
    }

    pub fn resize(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let disk = req(p, "disk")?;
        let size = req(p, "size")?;
        let mut c = self.lock();
        c.vm(&node, vmid)?;
        let Some(bytes) = parse_size(&size) else {
            return Err(SimError::param("size", "value does not match the regex pattern"));
        };
        let grow = size.starts_with('+');
        let n2 = node.clone();
        let effect: Effect = Box::new(move |c, aborted| {
            if aborted {
                return Err("received interrupt".into());
            }
            let vm = c
                .vms
                .get(&vmid)
                .ok_or_else(|| format!("Configuration file 'nodes/{n2}/qemu-server/{vmid}.conf' does not exist"))?;
            if let Some(lock) = &vm.lock {
                return Err(format!("VM is locked ({lock})").into());
            }
            let value = vm.config.get(&disk).cloned().ok_or_else(|| format!("disk '{disk}' does not exist"))?;
            if value.contains("media=cdrom") {
                return Err("you can't resize a cdrom".into());
            }
            let current =
                crate::state::Disk::parse(&disk, &value).ok_or_else(|| format!("disk '{disk}' does not exist"))?;
            let new = if grow { current.size + bytes } else { bytes };
            if new < current.size {
                return Err("shrinking disks is not supported".into());
            }
            c.allocate(&n2, &current.storage, new - current.size)?;
            let parts: Vec<String> = value.split(',').filter(|p| !p.starts_with("size=")).map(str::to_owned).collect();
            let updated = format!("{},size={}", parts.join(","), format_size(new));
            if let Some(vm) = c.vms.get_mut(&vmid) {
                vm.config.insert(disk.clone(), updated);
            }
            Ok(vec![format!("resize {disk} to {}", format_size(new))])
        });
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&node, "resize", vmid, user, Work::Resize), effect);
        Ok(json!(upid.as_str()))
    }

    pub fn destroy(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let mut c = self.lock();
        let vm = c.vm(&node, vmid)?;
        if vm.running {
            return Err(SimError::die(format!("VM {vmid} is running - destroy failed")));
        }
        if vm.config.get("protection").is_some_and(|v| v == "1") {
            return Err(SimError::die(format!("can't remove VM {vmid} - protection mode enabled")));
        }
        if let Some(lock) = &vm.lock {
            return Err(SimError::die(format!("VM is locked ({lock})")));
        }
        let disks = vm.disks();
        if let Some(vm) = c.vms.get_mut(&vmid) {
            vm.lock = Some("destroyed".into());
        }
        let n2 = node.clone();
        let effect: Effect = Box::new(move |c, _| {
            c.vms.remove(&vmid);
            c.vm_firewalls.remove(&vmid);
            for d in &disks {
                if !d.volume.contains(":base-") || d.volume.contains(&format!("base-{vmid}-")) {
                    c.release(&n2, &d.storage, d.size);
                }
            }
            Ok(vec![format!("destroy VM {vmid}")])
        });
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&node, "qmdestroy", vmid, user, Work::Destroy), effect);
        Ok(json!(upid.as_str()))
    }

    pub fn template(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let vmid = int(p, "vmid")?;
        let mut c = self.lock();
        let vm = c.vm(&node, vmid)?;
        if vm.running {
            return Err(SimError::die("you can't convert a VM to template if VM is running"));
        }
        if vm.is_template() {
            return Err(SimError::die("you can't convert a template to a template"));
        }
        if let Some(lock) = &vm.lock {
            return Err(SimError::die(format!("VM is locked ({lock})")));
        }
        let effect: Effect = Box::new(move |c, _| {
            if let Some(vm) = c.vms.get_mut(&vmid) {
                vm.config.insert("template".into(), "1".into());
                let renamed: Vec<(String, String)> = vm
                    .config
                    .iter()
                    .filter(|(k, v)| is_disk_key(k) && v.contains(&format!("vm-{vmid}-disk-")))
                    .map(|(k, v)| (k.clone(), v.replace(&format!("vm-{vmid}-disk-"), &format!("base-{vmid}-disk-"))))
                    .collect();
                vm.config.extend(renamed);
            }
            Ok(vec![])
        });
        let upid = self.spawn_task(&mut c, TaskSpec::vm(&node, "qmtemplate", vmid, user, Work::Template), effect);
        Ok(json!(upid.as_str()))
    }

    pub fn agent_interfaces(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let vmid = int(p, "vmid")?;
        let vm = c.vm(&req(p, "node")?, vmid)?;
        let agent_on =
            vm.config.get("agent").is_some_and(|a| a == "1" || a.contains("enabled=1") || a.starts_with("1,"));
        if !agent_on {
            return Err(SimError::die("No QEMU guest agent configured"));
        }
        if !vm.running {
            return Err(SimError::die(format!("VM {vmid} is not running")));
        }
        if vm.agent_ready_at.is_some_and(|t| now_ms() < t) {
            return Err(SimError::die("QEMU guest agent is not running"));
        }
        let mac = vm
            .config
            .get("net0")
            .and_then(|n| n.split(',').next())
            .and_then(|m| m.split_once('='))
            .map(|(_, m)| m.to_lowercase());
        let ip = vm
            .config
            .get("ipconfig0")
            .and_then(|c| c.split(',').find_map(|kv| kv.strip_prefix("ip=")))
            .filter(|ip| *ip != "dhcp")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("10.99.{}.{}/24", (vmid / 250) % 250, 2 + vmid % 250));
        let (addr, prefix) = ip.split_once('/').unwrap_or((&ip, "24"));
        let prefix: u64 = prefix.parse().unwrap_or(24);
        Ok(json!({"result": [
            {"name": "lo", "hardware-address": "00:00:00:00:00:00",
             "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}]},
            {"name": "eth0", "hardware-address": mac.unwrap_or_default(),
             "ip-addresses": [{"ip-address": addr, "ip-address-type": "ipv4", "prefix": prefix}],
             "statistics": {"rx-bytes": 1024 * u64::from(vmid), "tx-bytes": 512 * u64::from(vmid), "rx-packets": 10, "tx-packets": 8, "rx-errs": 0, "tx-errs": 0, "rx-dropped": 0, "tx-dropped": 0}}
        ]}))
    }

    /// Runtime figures of a VM now: plausible, stable within a minute, deterministic.
    pub fn vm_runtime(vm: &Vm, now: u64) -> Value {
        let maxmem = vm.memory_mib() * MIB;
        let mut v = json!({
            "vmid": vm.vmid, "name": vm.name(), "status": if vm.running { "running" } else { "stopped" },
            "cpus": vm.cpus(), "maxmem": maxmem, "maxdisk": vm.boot_disk_size(), "disk": 0,
        });
        if vm.running {
            let uptime = now.saturating_sub(vm.started_at.unwrap_or(now));
            let seed = u64::from(vm.vmid);
            v["uptime"] = json!(uptime);
            v["cpu"] = json!(0.01 + 0.45 * noise(seed, now / 60));
            v["mem"] = json!((maxmem as f64 * (0.25 + 0.5 * noise(seed ^ 0xABC, now / 300))) as u64);
            v["netin"] = json!(uptime * (2_000 + seed % 5_000));
            v["netout"] = json!(uptime * (1_000 + seed % 3_000));
            v["diskread"] = json!(uptime * (500 + seed % 900));
            v["diskwrite"] = json!(uptime * (300 + seed % 700));
            v["pid"] = json!(10_000 + vm.vmid);
            v["qmpstatus"] = json!(vm.paused.unwrap_or("running"));
        } else {
            for k in ["uptime", "cpu", "mem", "netin", "netout", "diskread", "diskwrite"] {
                v[k] = json!(0);
            }
            v["qmpstatus"] = json!("stopped");
        }
        if let Some(lock) = &vm.lock {
            v["lock"] = json!(lock);
        }
        if vm.is_template() {
            v["template"] = json!(1);
        }
        if let Some(tags) = vm.config.get("tags") {
            v["tags"] = json!(tags);
        }
        v
    }

    pub fn status_current(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let vm = c.vm(&req(p, "node")?, int(p, "vmid")?)?;
        let mut v = Sim::vm_runtime(vm, now_s());
        v["ha"] = json!({"managed": 0});
        if vm.config.get("agent").is_some_and(|a| a.starts_with('1') || a.contains("enabled=1")) {
            v["agent"] = json!(1);
        }
        Ok(v)
    }

    pub fn vm_list(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        let c = self.lock();
        c.node(&node)?;
        let now = now_s();
        Ok(Value::Array(c.vms.values().filter(|vm| vm.node == node).map(|vm| Sim::vm_runtime(vm, now)).collect()))
    }
}

/// `local-lvm:32` (allocate a new 32 GiB disk), as opposed to an existing volume.
fn is_new_disk(v: &str) -> bool {
    let first = v.split(',').next().unwrap_or("");
    first.split_once(':').is_some_and(|(_, size)| !size.is_empty() && size.parse::<f64>().is_ok())
}
