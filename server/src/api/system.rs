//! `GET /api/system/info`: what this instance is.

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::{ApiOk, Envelope};
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct SystemInfo {
    /// proxfleet's version.
    pub version: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    pub schema_version: i64,
    /// When this instance started (RFC 3339, UTC).
    pub started_at: String,
    /// True when proxfleet runs against its built-in simulated Proxmox cluster (demo mode).
    pub simulated_cluster: bool,
}

/// Version, database and mode of this proxfleet instance.
#[utoipa::path(
    get,
    path = "/api/system/info",
    tag = "system",
    responses((status = 200, description = "Instance details", body = Envelope<SystemInfo>))
)]
pub async fn info(State(state): State<AppState>) -> ApiOk<SystemInfo> {
    let i = state.services.system_info();
    ApiOk::new(SystemInfo {
        version: i.version.to_owned(),
        database: i.database.as_str().to_owned(),
        schema_version: i.schema_version,
        started_at: domain::clock::to_rfc3339(i.started_at),
        simulated_cluster: i.simulated_cluster,
    })
}
