//! IP pools (IPAM) over REST: everyone signed in reads them (the create form offers them);
//! `manage_network` changes them.

use axum::extract::State;
use axum::http::StatusCode;

use domain::ipam::{IpPool, PoolInput};

use super::envelope::ApiOk;
use super::extract::{Json, Path};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// Every pool with its size, used and free addresses.
#[utoipa::path(get, path = "/api/ip-pools", tag = "ip-pools", responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Vec<IpPool>>, ApiError> {
    actor.require_current()?;
    Ok(ApiOk::new(state.services.ipam.pools().await?))
}

/// One pool.
#[utoipa::path(get, path = "/api/ip-pools/{name}", tag = "ip-pools", params(("name" = String, Path)), responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<IpPool>, ApiError> {
    actor.require_current()?;
    Ok(ApiOk::new(state.services.ipam.pool(&name).await?))
}

/// Creates a pool: `{name, cidr, gateway, dns: [...], bridge, vlan, reserved: "a-b,c", description}`.
#[utoipa::path(post, path = "/api/ip-pools", tag = "ip-pools",
    request_body(content = PoolInput, example = json!({"name": "web", "cidr": "10.20.0.0/24", "gateway": "10.20.0.1", "dns": ["10.20.0.1"], "bridge": "vmbr0", "vlan": 20, "reserved": "10.20.0.1-10.20.0.20"})),
    responses((status = 201, body = Envelope<Object>), (status = 400), (status = 409, description = "The name exists")))]
pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<PoolInput>,
) -> Result<ApiOk<IpPool>, ApiError> {
    let pool = state.services.ipam.create_pool(&actor, &body).await?;
    let message = format!("IP pool {} created", pool.name);
    Ok(ApiOk::new(pool).status(StatusCode::CREATED).message(message))
}

/// Changes a pool (all fields, as for create); the network cannot shrink away from addresses in use.
#[utoipa::path(put, path = "/api/ip-pools/{name}", tag = "ip-pools", params(("name" = String, Path)), request_body(content = PoolInput),
    responses((status = 200, body = Envelope<Object>), (status = 400), (status = 404), (status = 409)))]
pub async fn update(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
    Json(body): Json<PoolInput>,
) -> Result<ApiOk<IpPool>, ApiError> {
    Ok(ApiOk::new(state.services.ipam.update_pool(&actor, &name, &body).await?))
}

/// Deletes a pool none of whose addresses is in use.
#[utoipa::path(delete, path = "/api/ip-pools/{name}", tag = "ip-pools", params(("name" = String, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404), (status = 409, description = "Addresses in use")))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(name): Path<String>,
) -> Result<ApiOk<serde_json::Value>, ApiError> {
    state.services.ipam.delete_pool(&actor, &name).await?;
    Ok(ApiOk::new(serde_json::json!({"deleted": name})).message("IP pool deleted"))
}
