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
use domain::error::Kind;

use super::ApiError;
use crate::identity::{check_csrf, Caller};

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    /// The axum route pattern, as `MatchedPath` reports it.
    pub path: &'static str,
    pub access: Access,
    /// What the route's service can fail with, besides what its access and its input shape
    /// already imply (401/403, and 400/404/413/415 for routes with parameters or a body). The
    /// OpenAPI document lists exactly these (`openapi::ErrorResponses`).
    pub fails: &'static [Kind],
}

const fn route(method: Method, path: &'static str, access: Access, fails: &'static [Kind]) -> RouteSpec {
    RouteSpec { method, path, access, fails }
}

/// Answers from this instance alone (no database, no cluster).
const NONE: &[Kind] = &[];
/// Reads and writes of the database.
const READS: &[Kind] = &[Kind::Unavailable];
/// The same, with input the service checks.
const INPUT: &[Kind] = &[Kind::Validation, Kind::Unavailable];
/// One object by its id or name.
const LOOKUP: &[Kind] = &[Kind::NotFound, Kind::Unavailable];
/// Changes to objects that may clash with others (names, the last admin, a job's state).
const CHANGES: &[Kind] = &[Kind::Validation, Kind::NotFound, Kind::Conflict, Kind::Unavailable];
/// Reads that ask Proxmox VE.
const CLUSTER_READ: &[Kind] = &[Kind::Validation, Kind::NotFound, Kind::Conflict, Kind::Upstream, Kind::Unavailable];
/// Changes made on Proxmox VE.
const CLUSTER: &[Kind] = &[Kind::Validation, Kind::NotFound, Kind::Conflict, Kind::Upstream, Kind::Unavailable];
/// Creating servers: also templates that cannot be cloned as asked.
const CREATE: &[Kind] =
    &[Kind::Validation, Kind::NotFound, Kind::Conflict, Kind::Unprocessable, Kind::Upstream, Kind::Unavailable];

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const DELETE: Method = Method::DELETE;
const PUT: Method = Method::PUT;
const PUBLIC: Access = Access::Public;
const SIGNED_IN: Access = Access::SignedIn;
const AUTHENTICATED: Access = Access::Authenticated;
const BROWSER: Access = Access::BrowserSession;
const MANAGE_USERS: Access = Access::Permission(Permission::ManageUsers);
const BACKUPS: Access = Access::Permission(Permission::BackupManagement);
const CREATE_SERVER: Access = Access::Permission(Permission::CreateServer);
const MANAGE_NETWORK: Access = Access::Permission(Permission::ManageNetwork);
const MANAGE_FIREWALL: Access = Access::Permission(Permission::ManageFirewallGroups);

pub const ROUTES: &[RouteSpec] = &[
    // Operations and documentation.
    route(GET, "/healthz", PUBLIC, NONE),
    route(GET, "/metrics", PUBLIC, NONE),
    route(GET, "/api/system/info", PUBLIC, NONE),
    route(GET, "/api/openapi.json", PUBLIC, NONE),
    route(GET, "/api/docs", PUBLIC, NONE),
    // The no-JavaScript theme/language switch: sets the caller's own cookies only.
    route(POST, "/prefs", PUBLIC, NONE),
    // Server functions check access themselves, in the domain services they call.
    route(GET, "/sfn/{*fn_name}", PUBLIC, NONE),
    route(POST, "/sfn/{*fn_name}", PUBLIC, NONE),
    // Session. The two GETs are pages: page rendering sends anonymous callers to the login
    // page and a user who must change their password to that page (`site::page_redirect`).
    route(GET, "/login", PUBLIC, NONE),
    route(POST, "/login", PUBLIC, INPUT),
    route(GET, "/change-password", PUBLIC, NONE),
    route(GET, "/logout", SIGNED_IN, READS),
    route(POST, "/logout", SIGNED_IN, READS),
    route(POST, "/change-password", SIGNED_IN, INPUT),
    route(GET, "/api/session/check", SIGNED_IN, READS),
    route(GET, "/session/check", SIGNED_IN, READS),
    route(POST, "/api/session/refresh", SIGNED_IN, READS),
    route(POST, "/session/refresh", SIGNED_IN, READS),
    route(GET, "/api/current-user", SIGNED_IN, READS),
    route(GET, "/api/profile", SIGNED_IN, READS),
    // The caller's own API tokens.
    route(GET, "/api/tokens", BROWSER, READS),
    route(POST, "/api/tokens", BROWSER, INPUT),
    route(DELETE, "/api/tokens/{id}", BROWSER, LOOKUP),
    // Users, IAM, audit.
    route(GET, "/api/users", MANAGE_USERS, READS),
    route(POST, "/api/users", MANAGE_USERS, CHANGES),
    route(DELETE, "/api/users/{username}", MANAGE_USERS, CHANGES),
    route(POST, "/api/users/{username}/password", MANAGE_USERS, CHANGES),
    route(POST, "/api/users/{username}/activate", MANAGE_USERS, CHANGES),
    route(POST, "/api/users/{username}/deactivate", MANAGE_USERS, CHANGES),
    route(GET, "/api/iam/data", MANAGE_USERS, READS),
    route(POST, "/api/iam/{username}/permissions", MANAGE_USERS, CHANGES),
    route(POST, "/api/iam/{username}/role", MANAGE_USERS, CHANGES),
    route(POST, "/api/admin/iam/{username}/permissions", MANAGE_USERS, CHANGES),
    route(POST, "/api/admin/iam/{username}/role", MANAGE_USERS, CHANGES),
    route(GET, "/api/debug/user-info", MANAGE_USERS, READS),
    route(GET, "/api/admin/", MANAGE_USERS, READS),
    route(GET, "/api/admin/users", MANAGE_USERS, READS),
    route(GET, "/api/admin/iam", MANAGE_USERS, READS),
    route(GET, "/api/audit", MANAGE_USERS, INPUT),
    // Jobs. Everyone sees their own jobs (view_all: everyone's); the service decides.
    route(GET, "/api/tasks/status", AUTHENTICATED, READS),
    route(GET, "/api/tasks/config", AUTHENTICATED, READS),
    route(GET, "/api/tasks/{task_id}/status", AUTHENTICATED, LOOKUP),
    route(GET, "/api/celery/status", Access::Permission(Permission::ViewAll), READS),
    route(POST, "/api/test/simple", MANAGE_USERS, INPUT),
    route(POST, "/api/test/error", MANAGE_USERS, INPUT),
    route(GET, "/api/jobs", AUTHENTICATED, INPUT),
    route(GET, "/api/jobs/{id}", AUTHENTICATED, LOOKUP),
    route(POST, "/api/jobs/{id}/cancel", AUTHENTICATED, CHANGES),
    route(POST, "/api/jobs/{id}/retry", AUTHENTICATED, CHANGES),
    // Servers. Reads are filtered by the service (view_all: everyone's, else your own); each
    // action's permission (start/stop/reboot/delete_server) is checked by the service too.
    route(GET, "/api/servers", AUTHENTICATED, INPUT),
    route(POST, "/api/servers", CREATE_SERVER, CREATE),
    route(POST, "/api/servers/async", CREATE_SERVER, CREATE),
    route(POST, "/api/create_servers_bulk", CREATE_SERVER, CREATE),
    route(GET, "/api/servers/brief", AUTHENTICATED, READS),
    route(POST, "/api/servers/bulk_action", AUTHENTICATED, CLUSTER),
    route(POST, "/api/servers/bulk_action/async", AUTHENTICATED, CLUSTER),
    route(POST, "/api/servers/{name}/start", Access::Permission(Permission::StartServer), CLUSTER),
    route(POST, "/api/servers/{name}/stop", Access::Permission(Permission::StopServer), CLUSTER),
    route(POST, "/api/servers/{name}/reboot", Access::Permission(Permission::RebootServer), CLUSTER),
    route(POST, "/api/servers/{name}/delete", Access::Permission(Permission::DeleteServer), CLUSTER),
    route(GET, "/api/all_server_status", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/server_status/{name}", AUTHENTICATED, CLUSTER_READ),
    route(POST, "/api/sync_servers", CREATE_SERVER, CLUSTER),
    route(GET, "/api/server/config/{name}", AUTHENTICATED, CLUSTER_READ),
    route(PUT, "/api/server/config/{name}", Access::Permission(Permission::ManageServer), CLUSTER),
    route(POST, "/api/server/disk/{name}", Access::Permission(Permission::ManageServer), CLUSTER),
    route(DELETE, "/api/server/disk/{name}/{device}", Access::Permission(Permission::ManageServer), CLUSTER),
    route(GET, "/api/server/logs/{name}", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/server/logs/{name}/task", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/cleanup/status/{name}", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/cleanup/failed-servers", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/cleanup/orphans", Access::Permission(Permission::ViewAll), CLUSTER_READ),
    route(POST, "/api/cleanup/clean/{name}", Access::Permission(Permission::DeleteServer), CLUSTER),
    route(POST, "/api/cleanup/bulk-clean", Access::Permission(Permission::DeleteServer), CLUSTER),
    // Datastores: everyone signed in reads them; defaults need manage_storage.
    route(GET, "/api/datastores", AUTHENTICATED, CLUSTER_READ),
    route(POST, "/api/datastores/refresh", AUTHENTICATED, CLUSTER_READ),
    route(POST, "/api/datastores/default", Access::Permission(Permission::ManageStorage), CLUSTER),
    route(GET, "/api/proxmox_storage", AUTHENTICATED, CLUSTER_READ),
    // Security groups: everyone signed in reads them; changes need manage_firewall_groups.
    // Attaching needs assign_firewall_groups, detaching remove_firewall_groups: the service
    // decides for the paths that can do either.
    route(GET, "/api/firewall/groups", AUTHENTICATED, CLUSTER_READ),
    route(POST, "/api/firewall/groups", MANAGE_FIREWALL, CLUSTER),
    route(GET, "/api/firewall/groups/{group}", AUTHENTICATED, CLUSTER_READ),
    route(PUT, "/api/firewall/groups/{group}", MANAGE_FIREWALL, CLUSTER),
    route(DELETE, "/api/firewall/groups/{group}", MANAGE_FIREWALL, CLUSTER),
    route(POST, "/api/firewall/groups/{group}/copy", MANAGE_FIREWALL, CLUSTER),
    route(POST, "/api/firewall/groups/{group}/rules", MANAGE_FIREWALL, CLUSTER),
    route(PUT, "/api/firewall/groups/{group}/rules", MANAGE_FIREWALL, CLUSTER),
    route(PUT, "/api/firewall/groups/{group}/rules/{pos}", MANAGE_FIREWALL, CLUSTER),
    route(DELETE, "/api/firewall/groups/{group}/rules/{pos}", MANAGE_FIREWALL, CLUSTER),
    route(POST, "/api/firewall/groups/{group}/rules/{pos}/move", MANAGE_FIREWALL, CLUSTER),
    route(GET, "/api/firewall/macros", AUTHENTICATED, NONE),
    route(GET, "/api/firewall/refs", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/firewall/status", AUTHENTICATED, CLUSTER_READ),
    route(GET, "/api/firewall/settings", AUTHENTICATED, READS),
    route(PUT, "/api/firewall/settings", MANAGE_FIREWALL, INPUT),
    route(GET, "/api/firewall/ipsets", AUTHENTICATED, CLUSTER_READ),
    route(POST, "/api/firewall/ipsets", MANAGE_FIREWALL, CLUSTER),
    route(GET, "/api/firewall/ipsets/{name}", AUTHENTICATED, CLUSTER_READ),
    route(DELETE, "/api/firewall/ipsets/{name}", MANAGE_FIREWALL, CLUSTER),
    route(POST, "/api/firewall/ipsets/{name}/entries", MANAGE_FIREWALL, CLUSTER),
    route(DELETE, "/api/firewall/ipsets/{name}/entries/{cidr}", MANAGE_FIREWALL, CLUSTER),
    route(GET, "/api/firewall/aliases", AUTHENTICATED, CLUSTER_READ),
    route(POST, "/api/firewall/aliases", MANAGE_FIREWALL, CLUSTER),
    route(PUT, "/api/firewall/aliases/{name}", MANAGE_FIREWALL, CLUSTER),
    route(DELETE, "/api/firewall/aliases/{name}", MANAGE_FIREWALL, CLUSTER),
    route(POST, "/api/firewall/assign", AUTHENTICATED, CLUSTER),
    route(GET, "/api/servers/{name}/firewall", AUTHENTICATED, CLUSTER_READ),
    route(PUT, "/api/servers/{name}/firewall/options", MANAGE_FIREWALL, CLUSTER),
    route(POST, "/api/firewall/assign_bulk", AUTHENTICATED, CLUSTER),
    route(POST, "/api/apply_security_group/{server}", AUTHENTICATED, CLUSTER),
    route(POST, "/api/assign_firewall_group/{server}", AUTHENTICATED, CLUSTER),
    route(POST, "/api/remove_firewall_group/{server}", Access::Permission(Permission::RemoveFirewallGroups), CLUSTER),
    // Backups: everything needs backup_management; a caller without view_all sees only its
    // own servers' backups (the service filters).
    route(POST, "/api/backups", BACKUPS, CLUSTER),
    route(GET, "/api/backups/nodes", BACKUPS, CLUSTER_READ),
    route(GET, "/api/backups/nodes/{node}", BACKUPS, CLUSTER_READ),
    route(POST, "/api/backups/delete", BACKUPS, CLUSTER),
    route(PUT, "/api/backups/volume", BACKUPS, CLUSTER),
    route(GET, "/api/server/backups/{server}", BACKUPS, CLUSTER_READ),
    route(GET, "/api/server/backup/status", BACKUPS, READS),
    route(GET, "/api/server/backup/status/{server}", BACKUPS, LOOKUP),
    route(POST, "/api/server/backup/{server}", BACKUPS, CLUSTER),
    route(GET, "/api/server/backup/{server}/status", BACKUPS, LOOKUP),
    // IP pools: readable by everyone signed in (the create form offers them).
    route(GET, "/api/ip-pools", AUTHENTICATED, READS),
    route(POST, "/api/ip-pools", MANAGE_NETWORK, CHANGES),
    route(GET, "/api/ip-pools/{name}", AUTHENTICATED, LOOKUP),
    route(PUT, "/api/ip-pools/{name}", MANAGE_NETWORK, CHANGES),
    route(DELETE, "/api/ip-pools/{name}", MANAGE_NETWORK, CHANGES),
    // Notifications: each caller's own view.
    route(GET, "/api/events", AUTHENTICATED, READS),
    route(GET, "/api/notifications/stream", AUTHENTICATED, READS),
    route(GET, "/api/notifications", AUTHENTICATED, INPUT),
    route(GET, "/api/notifications/latest", AUTHENTICATED, READS),
    route(GET, "/api/notifications/unread-count", AUTHENTICATED, READS),
    route(POST, "/api/notifications/clear-all", AUTHENTICATED, READS),
    route(GET, "/api/notifications/{id}", AUTHENTICATED, LOOKUP),
    route(DELETE, "/api/notifications/{id}", AUTHENTICATED, LOOKUP),
    route(POST, "/api/notifications/{id}/read", AUTHENTICATED, LOOKUP),
    route(POST, "/api/test/notification", AUTHENTICATED, INPUT),
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
            return ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not accept that method")
                .into_response();
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
