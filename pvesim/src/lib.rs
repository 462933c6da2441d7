//! `pvesim`: a simulated Proxmox VE cluster that speaks the real `/api2/json` wire format —
//! real paths, parameter validation against the PVE 9.1 schema, real error shapes and
//! messages, UPID tasks with durations, locks and logs. proxfleet's default `run` mode and
//! every test talk to it through the same `pve` client and HTTP as to a real cluster.
//!
//! Not simulated (see the issue note): creating a VM from scratch, LXC, snapshots, migration,
//! HA, ipsets and aliases.

pub mod calendar;
pub mod error;
pub mod faults;
pub mod firewall;
pub mod fw_sets;
pub mod http;
pub mod prune;
pub mod sim;
pub mod state;
pub mod storage;
pub mod timing;
pub mod vzdump;

use std::collections::HashMap;
use std::net::SocketAddr;

use tokio::net::TcpListener;

pub use faults::Faults;
pub use http::Access;
pub use sim::{Layout, Sim};
pub use timing::Profile;

/// What `GET /nodes` reports as the certificate fingerprint. The simulator serves plain HTTP
/// (TLS pinning is tested in the client against its own test server).
pub const SIM_FINGERPRINT: &str =
    "5A:1B:00:C3:9E:44:72:18:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

/// The token the demo and tests use unless told otherwise: `root@pam!proxfleet`.
pub const DEFAULT_TOKEN_ID: &str = "root@pam!proxfleet";

/// A simulator serving on a local port.
pub struct Running {
    pub url: String,
    pub addr: SocketAddr,
    pub sim: Sim,
    pub token_id: String,
    pub token_secret: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Running {
    /// An `Authorization` value for the configured token.
    pub fn auth(&self) -> pve_schema::Auth {
        let (user, id) = self.token_id.split_once('!').unwrap_or((&self.token_id, ""));
        pve_schema::Auth::Token { user: user.into(), token_id: id.into(), secret: self.token_secret.clone() }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts a simulator on `listen` (port 0 = any free port) with one API token and, for ticket
/// logins, `root@pam` with `password`.
pub async fn start(
    listen: SocketAddr,
    layout: &Layout,
    profile: Profile,
    token_secret: &str,
    password: &str,
) -> std::io::Result<Running> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let sim = Sim::new(layout, profile);
    let mut tokens = HashMap::new();
    tokens.insert(DEFAULT_TOKEN_ID.to_owned(), token_secret.to_owned());
    let mut users = HashMap::new();
    users.insert("root@pam".to_owned(), password.to_owned());
    let app = http::router(sim.clone(), Access { tokens, users });
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Ok(Running {
        url: format!("http://{addr}"),
        addr,
        sim,
        token_id: DEFAULT_TOKEN_ID.into(),
        token_secret: token_secret.into(),
        shutdown: Some(tx),
    })
}
