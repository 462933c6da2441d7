//! What the instance says about itself (the dashboard, the top bar, `/api/system/info`).

use serde::{Deserialize, Serialize};

/// The database behind the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemInfo {
    pub version: String,
    pub database: Backend,
    pub schema_version: i64,
    /// UTC unix milliseconds.
    pub started_at: i64,
    /// True when proxfleet talks to its built-in simulated Proxmox cluster (demo mode).
    pub simulated_cluster: bool,
}
