//! The one route table: every HTTP route the server mounts, with who may call it. The
//! `enforce` middleware refuses any matched route missing from this table (fail closed), and a
//! test checks the table against the OpenAPI document and the router in both directions, so a
//! new endpoint cannot ship without declaring its access.

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use domain::auth::Access;
use domain::auth::Permission;

use super::ApiError;
use crate::identity::{check_csrf, Caller};

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

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const DELETE: Method = Method::DELETE;
const PUT: Method = Method::PUT;
const PUBLIC: Access = Access::Public;
const SIGNED_IN: Access = Access::SignedIn;
const AUTHENTICATED: Access = Access::Authenticated;
const BROWSER: Access = Access::BrowserSession;
const MANAGE_USERS: Access = Access::Permission(Permission::ManageUsers);
const CREATE_SERVER: Access = Access::Permission(Permission::CreateServer);
const MANAGE_NETWORK: Access = Access::Permission(Permission::ManageNetwork);

pub const ROUTES: &[RouteSpec] = &[
    // Operations and documentation.
    route(GET, "/healthz", PUBLIC),
    route(GET, "/metrics", PUBLIC),
    route(GET, "/api/system/info", PUBLIC),
    route(GET, "/api/openapi.json", PUBLIC),
    route(GET, "/api/docs", PUBLIC),
    // The no-JavaScript theme/language switch: sets the caller's own cookies only.
    route(POST, "/prefs", PUBLIC),
    // Server functions check access themselves, in the domain services they call.
    route(GET, "/sfn/{*fn_name}", PUBLIC),
    route(POST, "/sfn/{*fn_name}", PUBLIC),
    // Session. The two GETs are pages: page rendering sends anonymous callers to the login
    // page and a user who must change their password to that page (`site::page_redirect`).
    route(GET, "/login", PUBLIC),
    route(POST, "/login", PUBLIC),
    route(GET, "/change-password", PUBLIC),
    route(GET, "/logout", SIGNED_IN),
    route(POST, "/logout", SIGNED_IN),
    route(POST, "/change-password", SIGNED_IN),
    route(GET, "/api/session/check", SIGNED_IN),
    route(GET, "/session/check", SIGNED_IN),
    route(POST, "/api/session/refresh", SIGNED_IN),
    route(POST, "/session/refresh", SIGNED_IN),
    route(GET, "/api/current-user", SIGNED_IN),
    route(GET, "/api/profile", SIGNED_IN),
    // The caller's own API tokens.
    route(GET, "/api/tokens", BROWSER),
    route(POST, "/api/tokens", BROWSER),
    route(DELETE, "/api/tokens/{id}", BROWSER),
    // Users, IAM, audit.
    route(GET, "/api/users", MANAGE_USERS),
    route(POST, "/api/users", MANAGE_USERS),
    route(DELETE, "/api/users/{username}", MANAGE_USERS),
    route(POST, "/api/users/{username}/password", MANAGE_USERS),
    route(POST, "/api/users/{username}/activate", MANAGE_USERS),
    route(POST, "/api/users/{username}/deactivate", MANAGE_USERS),
    route(GET, "/api/iam/data", MANAGE_USERS),
    route(POST, "/api/iam/{username}/permissions", MANAGE_USERS),
    route(POST, "/api/iam/{username}/role", MANAGE_USERS),
    route(POST, "/api/admin/iam/{username}/permissions", MANAGE_USERS),
    route(POST, "/api/admin/iam/{username}/role", MANAGE_USERS),
    route(GET, "/api/debug/user-info", MANAGE_USERS),
    route(GET, "/api/admin/", MANAGE_USERS),
    route(GET, "/api/admin/users", MANAGE_USERS),
    route(GET, "/api/admin/iam", MANAGE_USERS),
    route(GET, "/api/audit", MANAGE_USERS),
    // Jobs. Everyone sees their own jobs (view_all: everyone's); the service decides.
    route(GET, "/api/tasks/status", AUTHENTICATED),
    route(GET, "/api/tasks/config", AUTHENTICATED),
    route(GET, "/api/tasks/{task_id}/status", AUTHENTICATED),
    route(GET, "/api/celery/status", Access::Permission(Permission::ViewAll)),
    route(POST, "/api/test/simple", MANAGE_USERS),
    route(POST, "/api/test/error", MANAGE_USERS),
    route(GET, "/api/jobs", AUTHENTICATED),
    route(GET, "/api/jobs/{id}", AUTHENTICATED),
    route(POST, "/api/jobs/{id}/cancel", AUTHENTICATED),
    route(POST, "/api/jobs/{id}/retry", AUTHENTICATED),
    // Servers. Reads are filtered by the service (view_all: everyone's, else your own); each
    // action's permission (start/stop/reboot/delete_server) is checked by the service too.
    route(GET, "/api/servers", AUTHENTICATED),
    route(POST, "/api/servers", CREATE_SERVER),
    route(POST, "/api/servers/async", CREATE_SERVER),
    route(POST, "/api/create_servers_bulk", CREATE_SERVER),
    route(GET, "/api/servers/brief", AUTHENTICATED),
    route(POST, "/api/servers/bulk_action", AUTHENTICATED),
    route(POST, "/api/servers/bulk_action/async", AUTHENTICATED),
    route(POST, "/api/servers/{name}/start", Access::Permission(Permission::StartServer)),
    route(POST, "/api/servers/{name}/stop", Access::Permission(Permission::StopServer)),
    route(POST, "/api/servers/{name}/reboot", Access::Permission(Permission::RebootServer)),
    route(POST, "/api/servers/{name}/delete", Access::Permission(Permission::DeleteServer)),
    route(GET, "/api/all_server_status", AUTHENTICATED),
    route(GET, "/api/server_status/{name}", AUTHENTICATED),
    route(POST, "/api/sync_servers", CREATE_SERVER),
    route(GET, "/api/server/config/{name}", AUTHENTICATED),
    route(PUT, "/api/server/config/{name}", Access::Permission(Permission::ManageServer)),
    route(POST, "/api/server/disk/{name}", Access::Permission(Permission::ManageServer)),
    route(DELETE, "/api/server/disk/{name}/{device}", Access::Permission(Permission::ManageServer)),
    route(GET, "/api/server/logs/{name}", AUTHENTICATED),
    route(GET, "/api/server/logs/{name}/task", AUTHENTICATED),
    route(GET, "/api/cleanup/status/{name}", AUTHENTICATED),
    route(GET, "/api/cleanup/failed-servers", AUTHENTICATED),
    route(POST, "/api/cleanup/clean/{name}", Access::Permission(Permission::DeleteServer)),
    route(POST, "/api/cleanup/bulk-clean", Access::Permission(Permission::DeleteServer)),
    // Datastores: everyone signed in reads them; defaults need manage_storage.
    route(GET, "/api/datastores", AUTHENTICATED),
    route(POST, "/api/datastores/refresh", AUTHENTICATED),
    route(POST, "/api/datastores/default", Access::Permission(Permission::ManageStorage)),
    route(GET, "/api/proxmox_storage", AUTHENTICATED),
    // IP pools: readable by everyone signed in (the create form offers them).
    route(GET, "/api/ip-pools", AUTHENTICATED),
    route(POST, "/api/ip-pools", MANAGE_NETWORK),
    route(GET, "/api/ip-pools/{name}", AUTHENTICATED),
    route(PUT, "/api/ip-pools/{name}", MANAGE_NETWORK),
    route(DELETE, "/api/ip-pools/{name}", MANAGE_NETWORK),
    // Notifications: each caller's own view.
    route(GET, "/api/events", AUTHENTICATED),
    route(GET, "/api/notifications/stream", AUTHENTICATED),
    route(GET, "/api/notifications", AUTHENTICATED),
    route(GET, "/api/notifications/latest", AUTHENTICATED),
    route(GET, "/api/notifications/unread-count", AUTHENTICATED),
    route(POST, "/api/notifications/clear-all", AUTHENTICATED),
    route(GET, "/api/notifications/{id}", AUTHENTICATED),
    route(DELETE, "/api/notifications/{id}", AUTHENTICATED),
    route(POST, "/api/notifications/{id}/read", AUTHENTICATED),
    route(POST, "/api/test/notification", AUTHENTICATED),
];

pub fn access_for(method: &Method, path: &str) -> Option<Access> {
    // HEAD is answered by GET routes.
    let method = if method == Method::HEAD { &Method::GET } else { method };
    ROUTES.iter().find(|r| r.method == *method && r.path == path).map(|r| r.access)
}

/// Middleware on matched routes: the route must be declared in `ROUTES`, the caller (resolved
/// by `identity::identify`) must pass its access and, for writes, the CSRF rule. Unmatched
/// requests (pages, static files, the API's 404) pass through to the fallback.
pub async fn enforce(req: Request, next: Next) -> Response {
    let Some(path) = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(req).await;
    };
    let access = match access_for(req.method(), &path) {
        Some(a) => a,
        // A declared path asked with an undeclared method: refused here, never passed on, so
        // a method added to a route later cannot skip the checks.
        None if ROUTES.iter().any(|r| r.path == path) => {
            return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not accept that method").into_response();
        }
        None => {
            tracing::error!(method = %req.method(), %path, "route is missing from the route table");
            return ApiError::new(StatusCode::FORBIDDEN, "this endpoint has no declared access and is refused")
                .into_response();
        }
    };
    let caller = req.extensions().get::<Caller>().cloned().unwrap_or_default();
    if let Err(e) = domain::auth::actor::check(access, caller.actor.as_ref()) {
        return ApiError::from(e).into_response();
    }
    if let Err(e) = check_csrf(req.method(), req.headers(), &caller) {
        return e.into_response();
    }
    next.run(req).await
}
