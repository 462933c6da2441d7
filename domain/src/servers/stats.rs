//! The dashboard's figures: the managed fleet's counts and each node's load and allocation,
//! from the records and one `/cluster/resources` answer.

use pve::Resource;

use super::{FleetStats, NodeStats, Server, ServerStatus};

pub(super) const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

fn pct(part: f64, whole: f64) -> f64 {
    if whole <= 0.0 {
        0.0
    } else {
        (part / whole * 1000.0).round() / 10.0
    }
}

pub(super) fn stats(servers: &[Server], resources: &[Resource]) -> FleetStats {
    let mut s = FleetStats { total_servers: servers.len(), ..Default::default() };
    s.running_servers = servers.iter().filter(|x| x.status == ServerStatus::Running).count();
    s.stopped_servers = servers.iter().filter(|x| x.status == ServerStatus::Stopped).count();
    let cores = |x: &Server| u64::from(x.cores * x.sockets);
    s.vm_total_cpu = servers.iter().map(cores).sum();
    s.vm_used_cpu = servers.iter().filter(|x| x.status == ServerStatus::Running).map(cores).sum();
    s.vm_total_memory_gb = servers.iter().map(|x| x.memory_mb as f64 / 1024.0).sum();
    s.vm_used_memory_gb =
        servers.iter().filter(|x| x.status == ServerStatus::Running).map(|x| x.memory_mb as f64 / 1024.0).sum();
    let mut cpu_load = 0.0;
    for n in resources.iter().filter(|r| r.kind == "node") {
        let name = n.node.clone().unwrap_or_default();
        let online = n.status.as_deref() == Some("online");
        let cpus = n.maxcpu.unwrap_or(0.0) as u64;
        let mem = n.maxmem.unwrap_or(0) as f64 / GIB;
        let used = n.mem.unwrap_or(0) as f64 / GIB;
        let on_node: Vec<&Server> = servers.iter().filter(|x| x.node.as_deref() == Some(name.as_str())).collect();
        let alloc_cpu: u64 = on_node.iter().map(|x| cores(x)).sum();
        let alloc_mem: f64 = on_node.iter().map(|x| x.memory_mb as f64 / 1024.0).sum();
        if online {
            s.node_total_cpu += cpus;
            s.node_total_memory_gb += mem;
            s.node_used_memory_gb += used;
            cpu_load += n.cpu.unwrap_or(0.0) * cpus as f64;
        }
        s.nodes.push(NodeStats {
            node: name,
            online,
            cpus,
            cpu_usage_percent: pct(n.cpu.unwrap_or(0.0), 1.0),
            memory_gb: mem,
            memory_used_gb: used,
            memory_usage_percent: pct(used, mem),
            cpu_allocation_percent: pct(alloc_cpu as f64, cpus as f64),
            memory_allocation_percent: pct(alloc_mem, mem),
        });
    }
    s.cpu_usage_percent = pct(cpu_load, s.node_total_cpu as f64);
    s.memory_usage_percent = pct(s.node_used_memory_gb, s.node_total_memory_gb);
    s.cpu_allocation_percent = pct(s.vm_total_cpu as f64, s.node_total_cpu as f64);
    s.memory_allocation_percent = pct(s.vm_total_memory_gb, s.node_total_memory_gb);
    s.nodes.sort_by(|a, b| a.node.cmp(&b.node));
    s
}
