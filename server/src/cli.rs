//! The `proxfleet` command: parse configuration, start, serve, shut down cleanly.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;

use crate::config::{Cli, Config};
use crate::logging;
use crate::startup::{build_router, serve, shutdown_signal, Instance};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::resolve(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("proxfleet: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = logging::init(config.log_format, &config.log) {
        eprintln!("proxfleet: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("proxfleet: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("proxfleet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(mut config: Config) -> Result<(), String> {
    let listener =
        TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    // With port 0 the OS picks one; everything after this uses the real address.
    config.listen = listener.local_addr().map_err(|e| format!("cannot read the bound address: {e}"))?;
    let Instance { state, simulator } = Instance::start(&config).await?;
    let signal = shutdown_signal()?;
    // The job workers stop as soon as shutdown starts, before the listener closes: from then
    // on a new process may take this address (the same seat) and resumes their jobs, so this
    // one must no longer be running them while its connections drain.
    let workers = state.job_workers.clone();
    let shutdown = async move {
        signal.await;
        workers.abort();
    };
    let services = state.services.clone();
    // First start: an `admin` account. The operator's own password from the environment is
    // used as is; otherwise a one-time password is printed here, once, on stdout (never to the
    // log) and must be changed at first login.
    let chosen = std::env::var("PROXFLEET_ADMIN_PASSWORD").ok().filter(|p| !p.is_empty());
    let first_admin = services.auth.ensure_first_admin(chosen.as_deref()).await.map_err(|e| match e {
        domain::Error::Validation { message, .. } => format!("PROXFLEET_ADMIN_PASSWORD is refused: {message}"),
        e => format!("cannot create the first admin: {e}"),
    })?;
    match first_admin {
        Some(one_time) => {
            tracing::info!("created the first admin account with a one-time password (printed on stdout)");
            println!("First start: created user 'admin' with the one-time password: {one_time}");
            println!("It is shown only now and must be changed at the first login.");
        }
        None if chosen.is_some() => {
            tracing::info!("admin account exists (PROXFLEET_ADMIN_PASSWORD applies only on first start)")
        }
        None => {}
    }
    let mode = if config.simulated_cluster() { "simulated cluster (demo)" } else { "Proxmox VE" };
    tracing::info!(listen = %config.listen, database = services.db.backend().as_str(), mode, "proxfleet started");
    // The one line meant for the person who started us, on stdout (logs go to stderr).
    println!("proxfleet is running at http://{}/", config.listen);
    let _ = std::io::stdout().flush();
    serve(listener, build_router(state), shutdown).await?;
    drop(simulator);
    services.db.close().await;
    tracing::info!("shut down cleanly");
    Ok(())
}
