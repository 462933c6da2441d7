//! The REST API under `/api`, in the seed API's envelope. Handlers are thin: parse, call one
//! `domain::Services` method, wrap the result.

pub mod docs;
pub mod envelope;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod ops;
pub mod routes;
pub mod system;

use axum::routing::get;
use axum::Router;

pub use envelope::{ApiOk, Pagination};
pub use error::ApiError;

use crate::AppState;

/// Routes mounted under `/api`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/system/info", get(system::info))
        .route("/openapi.json", get(openapi::spec))
        .route("/docs", get(docs::page))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
}

/// Operational routes at the root: health and metrics for load balancers and Prometheus.
pub fn ops_router() -> Router<AppState> {
    Router::new().route("/healthz", get(ops::healthz)).route("/metrics", get(ops::metrics))
}
