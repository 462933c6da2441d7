//! `/healthz` for load balancers and `/metrics` for Prometheus.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::envelope::{ApiOk, Envelope, ErrorEnvelope};
use super::ApiError;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` when every dependency answers.
    pub status: String,
    /// The database backend that answered.
    pub database: String,
}

/// Health: 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = Envelope<Health>),
        (status = 503, description = "A dependency is down", body = ErrorEnvelope),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> Result<ApiOk<Health>, ApiError> {
    state.services.health().await?;
    Ok(ApiOk::new(Health { status: "ok".into(), database: state.services.db.backend().as_str().into() }))
}

/// Prometheus metrics: request counts and latencies by route, build info.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
        .into_response()
}
