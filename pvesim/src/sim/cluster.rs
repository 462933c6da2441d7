//! Cluster and node reads: `/cluster/resources`, `/cluster/nextid`, `/nodes`, node status and
//! RRD data.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::params::{int, req};
use super::{now_s, Sim};
use crate::error::SimError;
use crate::state::{noise, GIB, MIB};

impl Sim {
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
}
