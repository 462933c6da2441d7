//! The one route table: every HTTP route the server mounts, with who may call it. The
//! `enforce` middleware refuses any matched route missing from this table (fail closed), and a
//! test checks the table against the OpenAPI document and the router in both directions, so a
//! new endpoint cannot ship without declaring its access.

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;

/// Who may call a route. Authentication and permissions arrive with the auth issue; until
/// then only public routes exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not: health, metrics, docs, the login form.
    Public,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    /// The axum route pattern, as `MatchedPath` reports it.
    pub path: &'static str,
    pub access: Access,
}

const fn route(method: Method, path: &'static str, access: Access) -> RouteSpec {
    RouteSpec { method, path, access }
}

pub const ROUTES: &[RouteSpec] = &[
    route(Method::GET, "/healthz", Access::Public),
    route(Method::GET, "/metrics", Access::Public),
    route(Method::GET, "/api/system/info", Access::Public),
    route(Method::GET, "/api/openapi.json", Access::Public),
    route(Method::GET, "/api/docs", Access::Public),
    // The no-JavaScript theme/language switch: sets the caller's own cookies only.
    route(Method::POST, "/prefs", Access::Public),
    // Server functions check access themselves, in the domain services they call.
    route(Method::GET, "/sfn/{*fn_name}", Access::Public),
    route(Method::POST, "/sfn/{*fn_name}", Access::Public),
];

pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    // HEAD is answered by GET routes.
    let method = if method == Method::HEAD { &Method::GET } else { method };
    ROUTES.iter().find(|r| r.method == *method && r.path == path).map(|r| r.access)
}

/// Middleware: a matched route must be declared in `ROUTES`. Unmatched requests (pages,
/// static files, the API's 404) pass through to the fallback.
pub async fn enforce(req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(req).await;
    };
    match access_for(req.method(), &path) {
        Some(Access::Public) => next.run(req).await,
        // A declared path asked with another method: the router answers 405 itself.
        None if ROUTES.iter().any(|r| r.path == path) => next.run(req).await,
        None => {
            tracing::error!(method = %req.method(), %path, "route is missing from the route table");
            ApiError::new(StatusCode::FORBIDDEN, "this endpoint has no declared access and is refused").into_response()
        }
    }
}
