//! The demo cluster a new simulator starts with: nodes, storages, the old tool's templates and
//! ordinary VMs spread over the nodes, all from one seed so every run is the same.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use super::{now_s, Layout, Sim};
use crate::state::{Cluster, Node, Storage, Vm, GIB};
use crate::timing::Profile;

/// The templates the old tool's scripts use, at their vmids.
pub const TEMPLATES: [(u32, &str, &str); 4] = [
    (8000, "rocky-9-template", "l26"),
    (8001, "centos-stream-9-template", "l26"),
    (9000, "ubuntu-2404-template", "l26"),
    (9001, "debian-12-template", "l26"),
];

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
                    paused: None,
                },
            );
        }
        // The datacenter firewall on, as the demo shows enforcement (PVE's default is off).
        c.cluster_firewall.insert("enable".into(), "1".into());
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
                    paused: None,
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
