//! The REST API under `/api`, in the seed API's envelope. Handlers are thin: parse, call one
//! `domain::Services` method, wrap the result.

pub mod backups;
pub mod docs;
pub mod encoding;
pub mod envelope;
pub mod error;
pub mod events;
pub mod extract;
pub mod firewall;
pub mod ip_pools;
pub mod jobs;
pub mod notifications;
pub mod openapi;
pub mod ops;
pub mod routes;
pub mod server_settings;
pub mod servers;
pub mod session;
pub mod system;
pub mod tokens;
pub mod users;

use axum::routing::{delete, get, post, put};
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
        .route("/session/check", get(session::check))
        .route("/session/refresh", post(session::refresh))
        .route("/current-user", get(session::current_user))
        .route("/profile", get(session::profile))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", delete(tokens::revoke))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{username}", delete(users::delete))
        .route("/users/{username}/password", post(users::reset_password))
        .route("/users/{username}/activate", post(users::activate))
        .route("/users/{username}/deactivate", post(users::deactivate))
        .route("/iam/data", get(users::iam_data))
        .route("/iam/{username}/permissions", post(users::set_permissions))
        .route("/iam/{username}/role", post(users::set_role))
        .route("/admin/iam/{username}/permissions", post(users::admin_set_permissions))
        .route("/admin/iam/{username}/role", post(users::admin_set_role))
        .route("/admin/", get(users::admin_overview))
        .route("/admin/users", get(users::admin_users))
        .route("/admin/iam", get(users::admin_iam))
        .route("/debug/user-info", get(users::debug_user_info))
        .route("/audit", get(users::audit))
        .route("/tasks/status", get(jobs::tasks_status))
        .route("/tasks/config", get(jobs::tasks_config))
        .route("/tasks/{task_id}/status", get(jobs::task_status))
        .route("/celery/status", get(jobs::queue_status))
        .route("/test/simple", post(jobs::test_simple))
        .route("/test/error", post(jobs::test_error))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/events", get(events::events))
        .route("/notifications/stream", get(events::notifications))
        .route("/notifications", get(notifications::list))
        .route("/notifications/latest", get(notifications::latest))
        .route("/notifications/unread-count", get(notifications::unread_count))
        .route("/notifications/clear-all", post(notifications::clear_all))
        .route("/notifications/{id}", get(notifications::get).delete(notifications::delete))
        .route("/notifications/{id}/read", post(notifications::read))
        .route("/test/notification", post(notifications::test))
        .route("/servers", get(servers::list).post(servers::create))
        .route("/servers/async", post(servers::create_async))
        .route("/servers/brief", get(servers::brief))
        .route("/servers/bulk_action", post(servers::bulk_action))
        .route("/servers/bulk_action/async", post(servers::bulk_action_async))
        .route("/servers/{name}/start", post(servers::start))
        .route("/servers/{name}/stop", post(servers::stop))
        .route("/servers/{name}/reboot", post(servers::reboot))
        .route("/servers/{name}/delete", post(servers::delete))
        .route("/create_servers_bulk", post(servers::create_bulk))
        .route("/all_server_status", get(servers::all_status))
        .route("/server_status/{name}", get(servers::one_status))
        .route("/sync_servers", post(servers::sync))
        .route("/server/config/{name}", get(server_settings::get_config).put(server_settings::put_config))
        .route("/server/disk/{name}", post(server_settings::add_disk))
        .route("/server/disk/{name}/{device}", delete(server_settings::delete_disk))
        .route("/server/logs/{name}", get(server_settings::logs))
        .route("/server/logs/{name}/task", get(server_settings::task_log))
        .route("/datastores", get(server_settings::datastores))
        .route("/datastores/refresh", post(server_settings::refresh))
        .route("/datastores/default", post(server_settings::set_defaults))
        .route("/proxmox_storage", get(server_settings::proxmox_storage))
        .route("/cleanup/status/{name}", get(server_settings::cleanup_status))
        .route("/cleanup/failed-servers", get(server_settings::failed_servers))
        .route("/cleanup/orphans", get(server_settings::orphans))
        .route("/cleanup/clean/{name}", post(server_settings::clean))
        .route("/cleanup/bulk-clean", post(server_settings::bulk_clean))
        .route("/backups", post(backups::back_up_many))
        .route("/backups/nodes", get(backups::all))
        .route("/backups/nodes/{node}", get(backups::of_node))
        .route("/backups/delete", post(backups::delete))
        .route("/backups/volume", put(backups::update_volume))
        .route("/server/backups/{server}", get(backups::of_server))
        .route("/server/backup/status", get(backups::status_all))
        .route("/server/backup/status/{server}", get(backups::status_of))
        .route("/server/backup/{server}", post(backups::back_up_one))
        .route("/server/backup/{server}/status", get(backups::status_of_compat))
        .route("/firewall/groups", get(firewall::list).post(firewall::create))
        .route("/firewall/groups/{group}", get(firewall::get).put(firewall::update).delete(firewall::delete))
        .route("/firewall/groups/{group}/copy", post(firewall::copy))
        .route("/firewall/groups/{group}/rules", post(firewall::add_rule).put(firewall::replace_rules))
        .route("/firewall/groups/{group}/rules/{pos}", put(firewall::update_rule).delete(firewall::delete_rule))
        .route("/firewall/groups/{group}/rules/{pos}/move", post(firewall::move_rule))
        .route("/firewall/macros", get(firewall::macros))
        .route("/firewall/refs", get(firewall::refs))
        .route("/firewall/status", get(firewall::status))
        .route("/firewall/settings", get(firewall::settings).put(firewall::set_settings))
        .route("/firewall/ipsets", get(firewall::ipsets).post(firewall::create_ipset))
        .route("/firewall/ipsets/{name}", get(firewall::ipset).delete(firewall::delete_ipset))
        .route("/firewall/ipsets/{name}/entries", post(firewall::add_ipset_entry))
        .route("/firewall/ipsets/{name}/entries/{cidr}", delete(firewall::remove_ipset_entry))
        .route("/firewall/aliases", get(firewall::aliases).post(firewall::create_alias))
        .route("/firewall/aliases/{name}", put(firewall::update_alias).delete(firewall::delete_alias))
        .route("/servers/{name}/firewall", get(firewall::server_firewall))
        .route("/servers/{name}/firewall/options", put(firewall::set_server_options))
        .route("/firewall/assign", post(firewall::assign))
        .route("/firewall/assign_bulk", post(firewall::assign_bulk))
        .route("/apply_security_group/{server}", post(firewall::apply))
        .route("/assign_firewall_group/{server}", post(firewall::assign_one))
        .route("/remove_firewall_group/{server}", post(firewall::remove))
        .route("/ip-pools", get(ip_pools::list).post(ip_pools::create))
        .route("/ip-pools/{name}", get(ip_pools::get).put(ip_pools::update).delete(ip_pools::delete))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
}

/// Session routes at the root, where the old tool had them.
pub fn session_router() -> Router<AppState> {
    Router::new()
        .route("/login", post(session::login).get(crate::site::static_file_or_page))
        .route("/logout", get(session::logout_link).post(session::logout))
        .route("/change-password", post(session::change_password).get(crate::site::static_file_or_page))
        .route("/session/check", get(session::check_compat))
        .route("/session/refresh", post(session::refresh_compat))
}

/// Operational routes at the root: health and metrics for load balancers and Prometheus.
pub fn ops_router() -> Router<AppState> {
    Router::new().route("/healthz", get(ops::healthz)).route("/metrics", get(ops::metrics))
}
