//! The OpenAPI document, generated from the handlers' annotations. Every REST route is listed
//! here; a test fails when a mounted `/api` route is missing from it.

use axum::Json;
use utoipa::OpenApi;

use super::{events, ip_pools, jobs, notifications, ops, server_settings, servers, session, system, tokens, users};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "proxfleet API",
        description = "REST API of proxfleet, compatible with the seed API's paths and envelope: \
                       `{\"success\":true,\"data\":…,\"message\":…}` on success, \
                       `{\"success\":false,\"error\":…,\"details\":…}` on failure, \
                       `pagination` on lists."
    ),
    paths(
        system::info, ops::healthz, ops::metrics, spec, super::docs::page,
        session::login, session::logout, session::logout_link, session::change_password, session::check, session::check_compat,
        session::refresh, session::refresh_compat, session::current_user, session::profile,
        tokens::list, tokens::create, tokens::revoke,
        users::list, users::create, users::delete, users::reset_password, users::activate, users::deactivate,
        users::iam_data, users::set_permissions, users::set_role, users::admin_set_permissions, users::admin_set_role,
        users::debug_user_info, users::admin_overview, users::admin_users, users::admin_iam, users::audit,
        jobs::task_status, jobs::tasks_status, jobs::tasks_config, jobs::queue_status, jobs::test_simple, jobs::test_error,
        jobs::list, jobs::get, jobs::cancel, jobs::retry,
        servers::list, servers::create, servers::create_async, servers::create_bulk, servers::brief, servers::bulk_action,
        servers::bulk_action_async, servers::start, servers::stop, servers::reboot, servers::delete, servers::all_status,
        servers::one_status, servers::sync,
        server_settings::get_config, server_settings::put_config, server_settings::add_disk, server_settings::delete_disk,
        server_settings::logs, server_settings::task_log, server_settings::datastores, server_settings::refresh, server_settings::set_defaults,
        server_settings::proxmox_storage, server_settings::cleanup_status, server_settings::failed_servers,
        server_settings::clean, server_settings::bulk_clean,
        ip_pools::list, ip_pools::create, ip_pools::get, ip_pools::update, ip_pools::delete,
        notifications::list, notifications::latest, notifications::unread_count, notifications::get, notifications::read,
        notifications::delete, notifications::clear_all, notifications::test, events::events, events::notifications,
    ),
    modifiers(&Security),
    tags(
        (name = "session", description = "Login, logout, own password, session state. Cookie sessions send \
            `X-CSRF-Token` (or a same-site `Origin`) on writes; API tokens go in `Authorization: Bearer`"),
        (name = "tokens", description = "Your own API tokens (browser sessions only)"),
        (name = "users", description = "User administration (manage_users)"),
        (name = "iam", description = "Roles, permissions and the audit log (manage_users)"),
        (name = "notifications", description = "Your notifications and broadcasts, read and cleared per user"),
        (name = "jobs", description = "Durable jobs, and the old tool's task endpoints its scripts poll"),
        (name = "servers", description = "Managed servers: inventory synced with Proxmox, create one or many (the old tool's \
            field names and ours), start/stop/reboot/delete as jobs"),
        (name = "datastores", description = "Datastores per node, and the default HDD/SSD datastores for new disks"),
        (name = "ip-pools", description = "IP address management: pools and their free addresses (writes need manage_network)"),
        (name = "system", description = "This proxfleet instance"),
        (name = "operations", description = "Health, metrics and API documentation"),
    )
)]
pub struct ApiDoc;

/// Declares the two ways to authenticate.
struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("pf_session"))));
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("pft_… API token")).build()),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn spec() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
