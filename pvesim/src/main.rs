//! `pvesim --listen 127.0.0.1:8006 --token SECRET`: a simulated Proxmox VE cluster.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;

/// A simulated Proxmox VE cluster speaking /api2/json.
#[derive(Debug, Parser)]
#[command(name = "pvesim", version, about)]
struct Cli {
    #[arg(long, default_value = "127.0.0.1:8006")]
    listen: SocketAddr,
    /// Secret of the API token root@pam!proxfleet.
    #[arg(long, env = "PVESIM_TOKEN", hide_env_values = true)]
    token: String,
    /// Password of root@pam for ticket logins.
    #[arg(long, env = "PVESIM_PASSWORD", hide_env_values = true, default_value = "")]
    password: String,
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Ordinary VMs besides the four templates.
    #[arg(long, default_value_t = 24)]
    vms: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// instant, fast, realistic or realistic:<factor>.
    #[arg(long, default_value = "realistic")]
    profile: String,
    /// Fault injection: probability (0–1) that a read answers 503.
    #[arg(long, default_value_t = 0.0)]
    fault_read_error_rate: f64,
    /// Fault injection: probability that a write answers 500.
    #[arg(long, default_value_t = 0.0)]
    fault_write_error_rate: f64,
    /// Fault injection: probability that a write is turned away busy (503 or a lock timeout), nothing done.
    #[arg(long, default_value_t = 0.0)]
    fault_busy_write_rate: f64,
    /// Fault injection: probability that a write is done but its answer lost (596).
    #[arg(long, default_value_t = 0.0)]
    fault_lost_answer_rate: f64,
    /// Fault injection: milliseconds added to every answer.
    #[arg(long, default_value_t = 0)]
    fault_latency_ms: u64,
    /// Fault injection: a node that stops answering (repeatable).
    #[arg(long)]
    fault_node_down: Vec<String>,
    /// Fault injection: probability that a task fails midway.
    #[arg(long, default_value_t = 0.0)]
    fault_task_failure_rate: f64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let profile = match pvesim::Profile::parse(&cli.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("pvesim: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("pvesim: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let layout = pvesim::Layout { nodes: cli.nodes, seed: cli.seed, vms: cli.vms, shared_storage: true };
        match pvesim::start(cli.listen, &layout, profile, &cli.token, &cli.password).await {
            Ok(running) => {
                running.sim.seed_backups(10);
                let faults = pvesim::Faults {
                    read_error_rate: cli.fault_read_error_rate,
                    write_error_rate: cli.fault_write_error_rate,
                    busy_write_rate: cli.fault_busy_write_rate,
                    lost_answer_rate: cli.fault_lost_answer_rate,
                    latency_ms: cli.fault_latency_ms,
                    down_nodes: cli.fault_node_down.clone(),
                    task_failure_rate: cli.fault_task_failure_rate,
                    ..Default::default()
                };
                if let Err(e) = running.sim.faults.set(faults) {
                    eprintln!("pvesim: {e}");
                    return ExitCode::from(2);
                }
                println!("pvesim is serving a {}-node cluster at {}/api2/json", cli.nodes, running.url);
                let _ = tokio::signal::ctrl_c().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("pvesim: cannot listen on {}: {e}", cli.listen);
                ExitCode::FAILURE
            }
        }
    })
}
