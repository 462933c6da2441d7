//! The OpenAPI document, generated from the handlers' annotations. Every REST route is listed
//! here; a test fails when a mounted `/api` route is missing from it.

use axum::Json;
use utoipa::OpenApi;

use super::{ops, system};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "proxfleet API",
        description = "REST API of proxfleet, compatible with the seed API's paths and envelope: \
                       `{\"success\":true,\"data\":…,\"message\":…}` on success, \
                       `{\"success\":false,\"error\":…,\"details\":…}` on failure, \
                       `pagination` on lists."
    ),
    paths(system::info, ops::healthz, ops::metrics, spec, super::docs::page),
    tags(
        (name = "system", description = "This proxfleet instance"),
        (name = "operations", description = "Health, metrics and API documentation"),
    )
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn spec() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
