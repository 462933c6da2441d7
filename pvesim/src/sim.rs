//! The simulator's behaviour: the task engine and every VM operation, with PVE's own errors
//! at the moment PVE raises them (synchronously as HTTP errors, or inside the task).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pve::Upid;
use serde_json::{json, Value};

use crate::error::SimError;
use crate::state::{
    format_size, is_disk_key, noise, parse_size, Cluster, Node, Storage, Task, TaskState, Vm, GIB, MIB,
};
use crate::timing::{Profile, Work};

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn now_s() -> u64 {
    now_ms() / 1000
}

/// What a task does when its time is up: `Ok(log lines)` or `Err(task error)`. `aborted` is
/// true when the task was stopped (DELETE) before; the effect then undoes what it started.
pub(crate) type Effect = Box<dyn FnOnce(&mut Cluster, bool) -> Result<Vec<String>, String> + Send>;

/// A cluster plus its clock-driven behaviour. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    cluster: Arc<Mutex<Cluster>>,
    pub profile: Profile,
    /// `busy_until` per lock key (ms): full clones hold the source's file lock and serialise
    /// per storage, as on a real cluster.
    busy: Arc<Mutex<HashMap<String, u64>>>,
    aborted: Arc<Mutex<std::collections::HashSet<String>>>,
    pub faults: crate::faults::FaultState,
}

/// The cluster layout to start with.
#[derive(Debug, Clone)]
pub struct Layout {
    pub nodes: usize,
    pub seed: u64,
    /// Ordinary VMs besides the templates, spread over the nodes.
    pub vms: usize,
    pub shared_storage: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout { nodes: 3, seed: 42, vms: 24, shared_storage: true }
    }
}

/// The templates the old tool's scripts use, at their vmids.
pub const TEMPLATES: [(u32, &str, &str); 4] = [
    (8000, "rocky-9-template", "l26"),
    (8001, "centos-stream-9-template", "l26"),
    (9000, "ubuntu-2404-template", "l26"),
    (9001, "debian-12-template", "l26"),
];

/// What a task is: where it runs, its type and id (the UPID's), who started it, what work it
/// stands for and how long it queues first.
pub(crate) struct TaskSpec<'a> {
    pub node: &'a str,
    pub kind: &'a str,
    pub id: String,
    pub user: &'a str,
    pub work: Work,
    pub wait: Duration,
}

impl<'a> TaskSpec<'a> {
    pub(crate) fn vm(node: &'a str, kind: &'a str, vmid: u32, user: &'a str, work: Work) -> Self {
        TaskSpec { node, kind, id: vmid.to_string(), user, work, wait: Duration::ZERO }
    }
}

impl Sim {
    pub fn new(layout: &Layout, profile: Profile) -> Sim {
        let mut c = Cluster::new(layout.seed);
        let booted = now_s().saturating_sub(86_400 * 12);
        for i in 1..=layout.nodes.max(1) {
            let name = format!("pve{i}");
            c.nodes.insert(
                name.clone(),
                Node { name: name.clone(), cpus: 32, memory: 256 * GIB, online: true, booted_at: booted },
            );
            c.storages.push(Storage {
                id: "local".into(),
                node: Some(name.clone()),
                kind: "dir",
                content: "backup,iso,snippets,vztmpl",
                total: 100 * GIB,
                used: 12 * GIB,
            });
            c.storages.push(Storage {
                id: "local-lvm".into(),
                node: Some(name.clone()),
                kind: "lvmthin",
                content: "images,rootdir",
                total: 4096 * GIB,
                used: 0,
            });
        }
        if layout.shared_storage {
            c.storages.push(Storage {
                id: "shared-nfs".into(),
                node: None,
                kind: "nfs",
                content: "images,backup,iso",
                total: 16384 * GIB,
                used: 0,
            });
        }
        let first = c.nodes.keys().next().cloned().unwrap_or_else(|| "pve1".into());
        for (vmid, name, ostype) in TEMPLATES {
            let mut config = base_config(name, ostype, 2, 2048);
            config.insert("template".into(), "1".into());
            config.insert("scsi0".into(), format!("local-lvm:base-{vmid}-disk-0,size=20G"));
            config.insert("ide2".into(), format!("local-lvm:vm-{vmid}-cloudinit,media=cdrom"));
            let mac = c.new_mac();
            config.insert("net0".into(), format!("virtio={mac},bridge=vmbr0,firewall=1"));
            let _ = c.allocate(&first, "local-lvm", 20 * GIB);
            c.vms.insert(
                vmid,
                Vm {
                    vmid,
                    node: first.clone(),
                    config,
                    running: false,
                    started_at: None,
                    lock: None,
                    agent_ready_at: None,
                },
            );
        }
        // Two security groups like an operator would have.
        for (name, comment, rules) in [
            ("web", "Web servers", vec![("tcp", "80"), ("tcp", "443")]),
            ("db", "Databases", vec![("tcp", "3306"), ("tcp", "5432")]),
        ] {
            let rules = rules
                .into_iter()
                .map(|(proto, port)| {
                    [("type", "in"), ("action", "ACCEPT"), ("enable", "1"), ("proto", proto), ("dport", port)]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect()
                })
                .collect();
            c.groups.insert(name.into(), crate::firewall::Group { comment: Some(comment.into()), rules });
        }
        let nodes: Vec<String> = c.nodes.keys().cloned().collect();
        for i in 0..layout.vms {
            let vmid = 100 + u32::try_from(i).unwrap_or(0);
            let node = nodes[i % nodes.len()].clone();
            let role = ["web", "was", "db", "search", "ftp", "java"][i % 6];
            let (cores, mem) = [(2, 2048), (4, 4096), (8, 16384), (2, 4096)][i % 4];
            let mut config = base_config(&format!("{role}-{:02}", i + 1), "l26", cores, mem);
            let mac = c.new_mac();
            config.insert("net0".into(), format!("virtio={mac},bridge=vmbr0,firewall=1"));
            config.insert("ipconfig0".into(), format!("ip=10.10.{}.{}/24,gw=10.10.0.1", i / 200, 10 + i % 200));
            config.insert("scsi0".into(), format!("local-lvm:vm-{vmid}-disk-0,size=32G"));
            config.insert("tags".into(), format!("demo;{role}"));
            let _ = c.allocate(&node, "local-lvm", 32 * GIB);
            let running = c.rng.unit() < 0.7;
            let started = running.then(|| now_s().saturating_sub(3600 + c.rng.next_u64() % 86_400));
            c.vms.insert(
                vmid,
                Vm {
                    vmid,
                    node,
                    config,
                    running,
                    started_at: started,
                    lock: None,
                    agent_ready_at: running.then_some(0),
                },
            );
        }
        Sim {
            cluster: Arc::new(Mutex::new(c)),
            profile,
            busy: Arc::new(Mutex::new(HashMap::new())),
            aborted: Arc::new(Mutex::new(Default::default())),
            faults: crate::faults::FaultState::new(crate::faults::Faults::default(), layout.seed),
        }
    }

    /// The cluster, for any access that may change it (bumps `version`).
    pub fn lock(&self) -> MutexGuard<'_, Cluster> {
        let mut c = self.cluster.lock().unwrap_or_else(|p| p.into_inner());
        c.version += 1;
        c
    }

    /// The cluster for a read that changes nothing (keeps the resources cache valid).
    pub(crate) fn read(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn version(&self) -> u64 {
        self.read().version
    }

    // ---- tasks ---------------------------------------------------------------------------

    /// Registers a running task (before its UPID is returned, so the first poll finds it) and
    /// finishes it after `wait` + the profile's duration for `work`.
    pub(crate) fn spawn_task(&self, c: &mut Cluster, spec: TaskSpec<'_>, effect: Effect) -> Upid {
        let TaskSpec { node, kind, id, user, work, wait } = spec;
        let upid = c.new_upid(node, kind, &id, user, now_s());
        let task = Task {
            upid: upid.clone(),
            state: TaskState::Running,
            log: vec![format!("starting {kind} {id}")],
            endtime: None,
        };
        c.tasks.insert(upid.as_str().to_owned(), task);
        let duration = wait + self.profile.duration(work);
        // Fault injection: this task will fail midway (its work rolled back).
        let fail = self.faults.hit(|f| f.task_failure_rate);
        let effect: Effect = if fail {
            Box::new(move |c, _| {
                let _ = effect(c, true);
                Err("simulated task failure (fault injection)".into())
            })
        } else {
            effect
        };
        if duration.is_zero() {
            finish(c, &upid, effect, false);
        } else {
            let sim = self.clone();
            let key = upid.as_str().to_owned();
            let u = upid.clone();
            tokio::spawn(async move {
                tokio::time::sleep(duration).await;
                let aborted = sim.aborted.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                let mut c = sim.lock();
                finish(&mut c, &u, effect, aborted);
            });
        }
        upid
    }

    /// `DELETE /nodes/{node}/tasks/{upid}`: the task stops with "received interrupt".
    pub fn stop_task(&self, upid: &str) -> Result<(), SimError> {
        let c = self.lock();
        match c.tasks.get(upid) {
            Some(t) if matches!(t.state, TaskState::Running) => {
                self.aborted.lock().unwrap_or_else(|p| p.into_inner()).insert(upid.to_owned());
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err(SimError::param("upid", "no such task")),
        }
    }

    /// How long a new job on `keys` must wait for earlier ones; marks the keys busy until it
    /// is done.
    fn queue(&self, keys: &[String], work: Duration) -> Duration {
        let now = now_ms();
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let start = keys.iter().filter_map(|k| busy.get(k)).copied().max().unwrap_or(now).max(now);
        let end = start + u64::try_from(work.as_millis()).unwrap_or(0);
        for k in keys {
            busy.insert(k.clone(), end);
        }
        Duration::from_millis(start - now)
    }

    // ---- VM operations -------------------------------------------------------------------

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
        c.vms.insert(
            newid,
            Vm {
                vmid: newid,
                node: target.clone(),
                config,
                running: false,
                started_at: None,
                lock: Some("clone".into()),
                agent_ready_at: None,
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
        let wait = self.queue(&keys, work);
        let lock_timeout = self.profile.duration(Work::Start) * 7;
        let (timed_out, wait) =
            if full && wait > lock_timeout && !lock_timeout.is_zero() { (true, lock_timeout) } else { (false, wait) };
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
                    format!("can't lock file '/var/lock/qemu-server/lock-{vmid}.conf' - got timeout")
                });
            }
            if let Some(vm) = c.vms.get_mut(&newid) {
                vm.lock = None;
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
                return Err(format!("VM is locked ({lock})"));
            }
            let now = now_ms();
            match action.as_str() {
                "start" => {
                    if vm.is_template() {
                        return Err("you can't start a vm if it's a template".into());
                    }
                    if vm.running {
                        return Err(format!("VM {vmid} already running"));
                    }
                    vm.running = true;
                    vm.started_at = Some(now / 1000);
                    vm.agent_ready_at = Some(now + u64::try_from(agent_boot.as_millis()).unwrap_or(0));
                }
                "stop" | "shutdown" => {
                    vm.running = false;
                    vm.started_at = None;
                    vm.agent_ready_at = None;
                }
                _ => {
                    if !vm.running {
                        return Err(format!("VM {vmid} not running"));
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
                return Err(format!("VM is locked ({lock})"));
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

    // ---- reads ---------------------------------------------------------------------------

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
            v["qmpstatus"] = json!("running");
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

    pub fn resources(&self, kind: Option<&str>) -> Value {
        let c = self.read();
        let now = now_s();
        let mut out = Vec::new();
        if kind.is_none_or(|k| k == "node") {
            for n in c.nodes.values() {
                let used: u64 =
                    c.vms.values().filter(|v| v.node == n.name && v.running).map(|v| v.memory_mib() * MIB / 2).sum();
                out.push(json!({
                    "id": format!("node/{}", n.name), "type": "node", "node": n.name,
                    "status": if n.online && !self.faults.node_down(&n.name) { "online" } else { "offline" },
                    "cpu": 0.05 + 0.3 * noise(n.name.len() as u64, now / 60), "maxcpu": n.cpus,
                    "mem": (8 * GIB + used).min(n.memory), "maxmem": n.memory, "disk": 12 * GIB, "maxdisk": 100 * GIB,
                    "uptime": now.saturating_sub(n.booted_at), "level": "", "cgroup-mode": 2,
                }));
            }
        }
        if kind.is_none_or(|k| k == "storage") {
            for n in c.nodes.keys() {
                for s in c.storages.iter().filter(|s| s.on(n)) {
                    out.push(json!({
                        "id": format!("storage/{n}/{}", s.id), "type": "storage", "node": n, "storage": s.id,
                        "status": "available", "disk": s.used, "maxdisk": s.total, "content": s.content,
                        "plugintype": s.kind, "shared": u8::from(s.node.is_none()),
                    }));
                }
            }
        }
        if kind.is_none_or(|k| k == "vm") {
            for vm in c.vms.values() {
                let mut v = Sim::vm_runtime(vm, now);
                let obj = v.as_object_mut();
                if let Some(o) = obj {
                    o.remove("cpus");
                    o.remove("pid");
                    o.remove("qmpstatus");
                    o.insert("id".into(), json!(format!("qemu/{}", vm.vmid)));
                    o.insert("type".into(), json!("qemu"));
                    o.insert("node".into(), json!(vm.node));
                    o.insert("maxcpu".into(), json!(vm.cpus()));
                    o.insert("template".into(), json!(u8::from(vm.is_template())));
                    if self.faults.node_down(&vm.node) {
                        o.insert("status".into(), json!("unknown"));
                    }
                }
                out.push(v);
            }
        }
        Value::Array(out)
    }

    pub fn next_id(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        if let Some(v) = p.get("vmid") {
            let id = v.parse::<u32>().unwrap_or(0);
            if c.vms.contains_key(&id) {
                return Err(SimError::param("vmid", format!("VM {id} already exists")));
            }
            return Ok(json!(id.to_string()));
        }
        // A string, as Perl serialises it.
        Ok(json!(c.next_free_vmid().to_string()))
    }

    pub fn nodes(&self) -> Value {
        let c = self.lock();
        let now = now_s();
        Value::Array(
            c.nodes
                .values()
                .map(|n| {
                    json!({"node": n.name, "status": if n.online && !self.faults.node_down(&n.name) { "online" } else { "offline" }, "id": format!("node/{}", n.name),
                        "type": "node", "cpu": 0.05 + 0.3 * noise(n.name.len() as u64, now / 60), "maxcpu": n.cpus,
                        "mem": 8 * GIB, "maxmem": n.memory, "uptime": now.saturating_sub(n.booted_at), "level": "",
                        "ssl_fingerprint": crate::SIM_FINGERPRINT})
                })
                .collect(),
        )
    }

    pub fn node_status(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let n = c.node(&req(p, "node")?)?;
        let now = now_s();
        Ok(json!({
            "cpu": 0.05 + 0.3 * noise(n.name.len() as u64, now / 60),
            "loadavg": ["0.52", "0.61", "0.58"],
            "memory": {"total": n.memory, "used": 8 * GIB, "free": n.memory - 8 * GIB, "available": n.memory - 8 * GIB},
            "rootfs": {"total": 100 * GIB, "used": 12 * GIB, "free": 88 * GIB, "avail": 88 * GIB},
            "cpuinfo": {"cpus": n.cpus, "cores": n.cpus / 2, "sockets": 1, "model": "Simulated CPU @ 3.0GHz", "mhz": "3000.000", "hvm": "1", "flags": "", "user_hz": 100},
            "pveversion": "pve-manager/9.1.1/pvesim",
            "kversion": "Linux 6.14.8-2-pve #1 SMP PREEMPT_DYNAMIC PMX 6.14.8-2 (simulated)",
            "boot-info": {"mode": "efi", "secureboot": 0},
            "current-kernel": {"sysname": "Linux", "release": "6.14.8-2-pve", "version": "#1 SMP PREEMPT_DYNAMIC", "machine": "x86_64"},
            "uptime": now.saturating_sub(n.booted_at),
            "swap": {"total": 8 * GIB, "used": 0, "free": 8 * GIB},
            "ksm": {"shared": 0},
        }))
    }

    pub fn rrddata(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let vm = c.vm(&req(p, "node")?, int(p, "vmid")?)?;
        let (step, count) = match p.get("timeframe").map(String::as_str) {
            Some("hour") => (60, 60),
            Some("day") => (60, 1440),
            Some("week") => (1800, 336),
            Some("month") => (1800, 1440),
            _ => (21_600, 1440),
        };
        let now = now_s();
        let end = now - now % step;
        let maxmem = vm.memory_mib() * MIB;
        let seed = u64::from(vm.vmid);
        let up_since = vm.started_at.unwrap_or(u64::MAX);
        let points: Vec<Value> = (0..count)
            .map(|i| {
                let t = end - (count - 1 - i) * step;
                let mut pt = json!({"time": t, "maxcpu": vm.cpus(), "maxmem": maxmem, "maxdisk": vm.boot_disk_size()});
                // Undefined points are omitted: only time and max* while the VM was off.
                if vm.running && t >= up_since {
                    pt["cpu"] = json!(0.01 + 0.45 * noise(seed, t / 60));
                    pt["mem"] = json!(maxmem as f64 * (0.25 + 0.5 * noise(seed ^ 0xABC, t / 300)));
                    pt["disk"] = json!(0);
                    pt["netin"] = json!(2_000.0 + 8_000.0 * noise(seed ^ 1, t / 60));
                    pt["netout"] = json!(1_000.0 + 4_000.0 * noise(seed ^ 2, t / 60));
                    pt["diskread"] = json!(500.0 * noise(seed ^ 3, t / 60));
                    pt["diskwrite"] = json!(300.0 * noise(seed ^ 4, t / 60));
                }
                pt
            })
            .collect();
        Ok(Value::Array(points))
    }

    pub fn task_status(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let raw = req(p, "upid")?;
        let upid = Upid::parse(&raw).ok_or_else(|| SimError::param("upid", "unable to parse worker upid"))?;
        let task = c.tasks.get(&raw).ok_or_else(|| SimError::param("upid", "no such task"))?;
        let mut v = json!({
            "upid": raw, "node": upid.node, "pid": upid.pid, "pstart": upid.pstart, "starttime": upid.starttime,
            "type": upid.kind, "id": upid.id, "user": upid.user,
            "status": if matches!(task.state, TaskState::Running) { "running" } else { "stopped" },
        });
        if let TaskState::Stopped(exit) = &task.state {
            v["exitstatus"] = json!(exit);
        }
        Ok(v)
    }

    /// `GET /nodes/{node}/tasks` as pve-manager's `Tasks.pm` answers it: the node's tasks,
    /// `source` archive (finished, the default), active or all (active first), each group newest
    /// first; `vmid`, `typefilter`, `userfilter` (case-insensitive substring), `since`/`until`
    /// (start time) and `errors` (drops only `OK`) narrow it; `start`/`limit` page it. Finished
    /// tasks carry their exit status as `status`, running ones `RUNNING`.
    pub fn node_tasks(&self, p: &BTreeMap<String, String>) -> Result<(Value, usize), SimError> {
        let c = self.read();
        let node = req(p, "node")?;
        if !c.nodes.contains_key(&node) {
            return Err(SimError::param("node", "no such node"));
        }
        if p.contains_key("statusfilter") {
            return Err(SimError::param("statusfilter", "not simulated"));
        }
        let source = p.get("source").map(String::as_str).unwrap_or("archive");
        let vmid = p.get("vmid");
        let kind = p.get("typefilter");
        let user = p.get("userfilter").map(|u| u.to_lowercase());
        let num = |k: &str| p.get(k).and_then(|s| s.parse::<u64>().ok());
        let (since, until) = (num("since"), num("until"));
        let errors_only = p.get("errors").is_some_and(|v| v == "1");
        let start = p.get("start").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
        let limit = p.get("limit").and_then(|s| s.parse::<usize>().ok()).unwrap_or(50);
        let mut tasks: Vec<&Task> = c
            .tasks
            .values()
            .filter(|t| t.upid.node == node)
            .filter(|t| {
                !matches!((&t.state, source), (TaskState::Running, "archive") | (TaskState::Stopped(_), "active"))
            })
            .filter(|t| vmid.is_none_or(|v| &t.upid.id == v))
            .filter(|t| kind.is_none_or(|k| &t.upid.kind == k))
            .filter(|t| user.as_ref().is_none_or(|u| t.upid.user.to_lowercase().contains(u.as_str())))
            .filter(|t| {
                since.is_none_or(|s| u64::from(t.upid.starttime) >= s)
                    && until.is_none_or(|u| u64::from(t.upid.starttime) <= u)
            })
            .filter(|t| !errors_only || !matches!(&t.state, TaskState::Stopped(exit) if exit == "OK"))
            .collect();
        tasks.sort_by_key(|t| {
            (!matches!(t.state, TaskState::Running), std::cmp::Reverse((t.upid.starttime, t.upid.pid)))
        });
        let total = tasks.len();
        let list = tasks
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|t| {
                let u = &t.upid;
                let status = match &t.state {
                    TaskState::Running => "RUNNING",
                    TaskState::Stopped(exit) => exit.as_str(),
                };
                let mut v = json!({
                    "upid": u.as_str(), "node": u.node, "pid": u.pid, "pstart": u.pstart, "starttime": u.starttime,
                    "type": u.kind, "id": u.id, "user": u.user, "status": status,
                });
                if let Some(end) = t.endtime {
                    v["endtime"] = json!(end);
                }
                v
            })
            .collect();
        Ok((Value::Array(list), total))
    }

    pub fn task_log(&self, p: &BTreeMap<String, String>) -> Result<(Value, usize), SimError> {
        let c = self.lock();
        let raw = req(p, "upid")?;
        let task = c.tasks.get(&raw).ok_or_else(|| SimError::param("upid", "no such task"))?;
        let start = p.get("start").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
        let limit = p.get("limit").and_then(|s| s.parse::<usize>().ok()).unwrap_or(50);
        let lines: Vec<Value> =
            task.log.iter().enumerate().skip(start).take(limit).map(|(i, t)| json!({"n": i + 1, "t": t})).collect();
        Ok((Value::Array(lines), task.log.len()))
    }
}

fn finish(c: &mut Cluster, upid: &Upid, effect: Effect, aborted: bool) {
    let result = effect(c, aborted);
    if let Some(task) = c.tasks.get_mut(upid.as_str()) {
        match result {
            Ok(lines) => {
                task.log.extend(lines);
                task.log.push("TASK OK".into());
                task.state = TaskState::Stopped("OK".into());
            }
            Err(e) => {
                task.log.push(format!("TASK ERROR: {e}"));
                task.state = TaskState::Stopped(e);
            }
        }
        task.endtime = Some(now_s());
    }
}

fn base_config(name: &str, ostype: &str, cores: u32, memory: u32) -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    c.insert("name".into(), name.into());
    c.insert("ostype".into(), ostype.into());
    c.insert("cores".into(), cores.to_string());
    c.insert("sockets".into(), "1".into());
    c.insert("memory".into(), memory.to_string());
    c.insert("scsihw".into(), "virtio-scsi-single".into());
    c.insert("agent".into(), "1".into());
    c.insert("boot".into(), "order=scsi0;ide2;net0".into());
    c.insert("ciuser".into(), "rocky".into());
    c
}

/// `local-lvm:32` (allocate a new 32 GiB disk), as opposed to an existing volume.
fn is_new_disk(v: &str) -> bool {
    let first = v.split(',').next().unwrap_or("");
    first.split_once(':').is_some_and(|(_, size)| !size.is_empty() && size.parse::<f64>().is_ok())
}

pub fn req(p: &BTreeMap<String, String>, name: &str) -> Result<String, SimError> {
    p.get(name).cloned().ok_or_else(|| SimError::param(name, "property is missing and it is not optional"))
}

pub fn int(p: &BTreeMap<String, String>, name: &str) -> Result<u32, SimError> {
    let v = req(p, name)?;
    v.parse().map_err(|_| SimError::param(name, format!("type check ('integer') failed - got '{v}'")))
}
