//! `fwbench`: what attaching a security group to many servers costs, on demand (not part of
//! the test run):
//!
//!   cargo build --release -p server --bin fwbench
//!   $CARGO_TARGET_DIR/release/fwbench [--servers 100] [--rules 20] [--latency-ms 20]
//!
//! A simulated cluster of N VMs (all imported as servers), every Proxmox call answered after
//! `--latency-ms`. Four runs of the `firewall.assign` job, each timed and counted by the
//! simulator (reads = GET, writes = the rest):
//!
//! 1. attach a group of `--rules` rules to VMs whose firewall and NIC flags are off ("fresh");
//! 2. the same again (already there: nothing to write);
//! 3. detach with `keep_enabled`, then attach again to VMs whose firewall is on ("on");
//! 4. attach a one-rule group to the same VMs ("on"), to show the rule count does not matter.
//!
//! The floor per server is 3 reads + 1 write with the firewall on, +2 writes when fresh; the
//! floor time is calls × latency / 4 (four calls in flight: pvedaemon's three workers and
//! one queued).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use domain::firewall::AssignMode;

#[derive(Debug, Parser)]
struct Cli {
    /// Servers to attach the group to.
    #[arg(long, default_value_t = 100)]
    servers: usize,
    /// Rules in the group.
    #[arg(long, default_value_t = 20)]
    rules: usize,
    /// Added before every Proxmox answer.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("fwbench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fwbench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Bench {
    services: domain::Services,
    sim: pvesim::Running,
    actor: domain::auth::Actor,
    names: Vec<String>,
    _instance: server::Instance,
}

async fn setup(cli: &Cli) -> Result<Bench, String> {
    let layout = pvesim::Layout { nodes: 3, seed: 17, vms: cli.servers, shared_storage: true };
    let addr = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let sim =
        pvesim::start(addr, &layout, pvesim::Profile::Instant, "bench-token", "pw").await.map_err(|e| e.to_string())?;
    let client = pve::PveClient::new(pve::PveConfig::new(sim.url.clone(), sim.auth(), pve::TlsMode::System))?;
    let url = format!("sqlite://{}/fwbench-{}.db", std::env::temp_dir().display(), std::process::id());
    let db = domain::Database::open(&url).await.map_err(|e| e.to_string())?;
    let services = domain::Services::new(db, true).with_cluster(client.clone());
    let perms: Vec<String> =
        domain::auth::Role::Admin.default_permissions().iter().map(|p| p.as_str().to_owned()).collect();
    let user = services
        .users
        .create(domain::users::NewUser {
            username: "bench",
            password_hash: "unused",
            role: "admin",
            permissions: &perms,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let actor = domain::auth::Actor::from_user(&user, domain::auth::AuthMethod::Session, None);
    // The job workers run in the instance.
    let listen = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    let config = server::config::Config {
        sync_interval: Duration::from_secs(24 * 3600),
        ..server::config::Config::local(listen, url.clone())
    };
    let instance = server::Instance::with_services(services.clone(), &config)?;
    let report = services.servers.import(&actor, None).await.map_err(|e| e.to_string())?;
    let mut names = report.imported.clone();
    names.sort();
    // Every VM fresh: firewall off, NIC flags off.
    for s in services.servers.store.visible(None).await.map_err(|e| e.to_string())? {
        let (Some(node), Some(vmid)) = (s.node.clone(), s.vmid) else { continue };
        client.set_vm_firewall(&node, vmid, false, None).await.map_err(|e| e.to_string())?;
        let config = client.vm_config(&node, vmid).await.map_err(|e| e.to_string())?;
        if let Some(net0) = config.get("net0") {
            let off = domain::firewall::assign::with_flag(net0, false);
            client
                .vm_update_config(&node, vmid, &pve::ConfigUpdate::new().set("net0", off))
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    for (group, rules) in [("bench", cli.rules), ("one", 1)] {
        client.create_security_group(group, None).await.map_err(|e| e.to_string())?;
        for i in 0..rules {
            let rule = pve::RuleSpec {
                kind: "in".into(),
                action: "ACCEPT".into(),
                enable: true,
                proto: Some("tcp".into()),
                dport: Some((10_000 + i).to_string()),
                ..Default::default()
            };
            client.add_security_group_rule(group, &rule).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(Bench { services, sim, actor, names, _instance: instance })
}

struct Run {
    wall: Duration,
    reads: u64,
    writes: u64,
    failed: usize,
}

async fn assign(b: &Bench, mode: AssignMode, groups: &[&str], keep_enabled: bool) -> Result<Run, String> {
    let faults = &b.sim.sim.faults;
    let (r0, w0) = (faults.reads.load(Ordering::Relaxed), faults.writes.load(Ordering::Relaxed));
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let t = Instant::now();
    let job =
        b.services.firewall.assign(&b.actor, &b.names, mode, &groups, keep_enabled).await.map_err(|e| e.to_string())?;
    let done = domain::jobs::wait_finished(b.services.jobs.store(), job.id, Duration::from_secs(3600))
        .await
        .map_err(|e| e.to_string())?;
    let wall = t.elapsed();
    let items = b.services.jobs.store().items(done.id).await.map_err(|e| e.to_string())?;
    Ok(Run {
        wall,
        reads: faults.reads.load(Ordering::Relaxed) - r0,
        writes: faults.writes.load(Ordering::Relaxed) - w0,
        failed: items.iter().filter(|i| i.status != "succeeded").count(),
    })
}

fn report(label: &str, run: &Run, servers: usize, floor_calls: f64, latency_ms: u64) {
    let n = servers as f64;
    let calls = (run.reads + run.writes) as f64;
    let floor_ms = floor_calls * n * latency_ms as f64 / 4.0;
    let wall_ms = run.wall.as_secs_f64() * 1000.0;
    println!(
        "{label:<38} wall {wall_ms:>7.0} ms  floor {floor_ms:>6.0} ms  ×{:>4.2}  calls/server {:>4.2} (reads {:.2}, writes {:.2})  failed {}",
        wall_ms / floor_ms.max(1.0),
        calls / n,
        run.reads as f64 / n,
        run.writes as f64 / n,
        run.failed,
    );
}

async fn run(cli: Cli) -> Result<(), String> {
    let b = setup(&cli).await?;
    let faults = pvesim::Faults { latency_ms: cli.latency_ms, ..Default::default() };
    b.sim.sim.faults.set(faults).map_err(|e| e.to_string())?;
    println!(
        "fwbench: {} servers, a group of {} rules, {} ms per Proxmox call, 4 servers at a time\n",
        b.names.len(),
        cli.rules,
        cli.latency_ms
    );
    let n = b.names.len();
    let fresh = assign(&b, AssignMode::Attach, &["bench"], false).await?;
    report("1. attach, fresh (floor 3 reads + 3 writes)", &fresh, n, 6.0, cli.latency_ms);
    let again = assign(&b, AssignMode::Attach, &["bench"], false).await?;
    report("2. attach again (floor 3 reads)", &again, n, 3.0, cli.latency_ms);
    assign(&b, AssignMode::Detach, &["bench"], true).await?;
    let on = assign(&b, AssignMode::Attach, &["bench"], false).await?;
    report("3. attach, firewall on (floor 3 + 1)", &on, n, 4.0, cli.latency_ms);
    assign(&b, AssignMode::Detach, &["bench"], true).await?;
    let one = assign(&b, AssignMode::Attach, &["one"], false).await?;
    report("4. attach a 1-rule group, on (floor 3 + 1)", &one, n, 4.0, cli.latency_ms);
    Ok(())
}
