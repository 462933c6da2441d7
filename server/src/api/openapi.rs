//! The OpenAPI document, generated from the handlers' annotations. Every REST route is listed
//! here; a test fails when a mounted `/api` route is missing from it.

use std::collections::BTreeMap;

use axum::response::{IntoResponse, Response};
use utoipa::openapi::Response as ApiResponse;
use utoipa::OpenApi;

use super::envelope::ErrorEnvelope;
use super::routes::{self, Access};

use super::{
    backups, events, firewall, ip_pools, jobs, notifications, ops, server_settings, servers, session, system, tokens,
    users,
};

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
        server_settings::proxmox_storage, server_settings::cleanup_status, server_settings::failed_servers, server_settings::orphans,
        server_settings::clean, server_settings::bulk_clean,
        firewall::list, firewall::create, firewall::get, firewall::update, firewall::copy, firewall::delete,
        firewall::add_rule, firewall::replace_rules, firewall::update_rule, firewall::move_rule, firewall::delete_rule, firewall::macros, firewall::refs, firewall::status,
        firewall::ipsets, firewall::create_ipset, firewall::ipset, firewall::delete_ipset, firewall::add_ipset_entry,
        firewall::remove_ipset_entry, firewall::aliases, firewall::create_alias, firewall::update_alias, firewall::delete_alias,
        firewall::assign, firewall::settings, firewall::set_settings, firewall::server_firewall, firewall::set_server_options, firewall::apply, firewall::assign_one, firewall::remove, firewall::assign_bulk,
        backups::all, backups::of_node, backups::of_server, backups::back_up_one, backups::back_up_many,
        backups::status_all, backups::status_of, backups::status_of_compat, backups::delete, backups::update_volume,
        ip_pools::list, ip_pools::create, ip_pools::get, ip_pools::update, ip_pools::delete,
        notifications::list, notifications::latest, notifications::unread_count, notifications::get, notifications::read,
        notifications::delete, notifications::clear_all, notifications::test, events::events, events::notifications,
    ),
    modifiers(&Security, &ErrorResponses, &OldFieldNames),
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
        (name = "backups", description = "Backups (Proxmox VE vzdump archives): list, back up now as a job, \
            notes, protection, delete (backup_management)"),
        (name = "firewall", description = "Security groups (Proxmox VE cluster firewall groups) and their rules, and \
            attaching them to servers. Writes carry the digest you read (body, `?digest=` or `If-Match`); a stale one is a 409 \
            with the current list"),
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
        components
            .add_security_scheme("session", SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("pf_session"))));
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("pft_… API token")).build(),
            ),
        );
    }
}

/// Every failure a route can answer with, listed on its operation with the failure envelope:
/// derived from the route table (who may call it, and `RouteSpec::fails`: what its service can
/// fail with) and from the operation's own input (parameters, a body). One place decides; a
/// handler's annotation only adds a more specific description where it has one.
struct ErrorResponses;

impl utoipa::Modify for ErrorResponses {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::HttpMethod;
        use utoipa::{PartialSchema, ToSchema};
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.insert(ErrorEnvelope::name().into_owned(), ErrorEnvelope::schema());
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
            ];
            for (method, op) in ops {
                let Some(op) = op.as_mut() else { continue };
                let Some(route) = routes::ROUTES
                    .iter()
                    .find(|r| r.path == path.as_str() && r.method.as_str() == method_name(&method))
                else {
                    continue;
                };
                for (status, meaning) in error_statuses(route, op) {
                    let entry = op.responses.responses.entry(status.to_string());
                    let response = entry.or_insert_with(|| utoipa::openapi::RefOr::T(ApiResponse::new(meaning)));
                    if let utoipa::openapi::RefOr::T(r) = response {
                        r.content.entry("application/json".into()).or_insert_with(|| {
                            utoipa::openapi::ContentBuilder::new()
                                .schema(Some(utoipa::openapi::Ref::from_schema_name(ErrorEnvelope::name())))
                                .build()
                        });
                    }
                }
            }
        }
    }
}

/// The old tool's field names that request bodies accept beside ours (serde aliases, which the
/// schema derive does not see): `(schema, old name, our name)`.
const OLD_NAMES: &[(&str, &str, &str)] = &[
    ("ServerRequest", "cpu", "cores"),
    ("ServerRequest", "memory_mb", "memory"),
    ("ServerRequest", "template_vm_id", "template"),
    ("ServerRequest", "template_vmid", "template"),
    ("ServerRequest", "network_devices", "nics"),
    ("ServerRequest", "vm_username", "ci_user"),
    ("ServerRequest", "vm_password", "ci_password"),
    ("ServerRequest", "firewall_group", "security_group"),
    ("DiskRequest", "size", "size_gb"),
    ("DiskRequest", "datastore_id", "storage"),
    ("DiskRequest", "datastore", "storage"),
    ("DiskRequest", "disk_type", "type"),
    ("NicRequest", "ip_address", "ip"),
    ("NicRequest", "subnet", "prefix"),
    ("NicRequest", "pool", "ip_pool"),
    ("SettingsChange", "cpu", "cores"),
    ("NewDisk", "size", "size_gb"),
    ("NewDisk", "datastore_id", "storage"),
    ("NewDisk", "datastore", "storage"),
];

/// Lists the old names as properties of their own (same schema, a description saying whose
/// name they are), so a body in the old tool's names is valid against the document. A field
/// with an old name is no longer `required` under our name alone: either name will do.
struct OldFieldNames;

impl utoipa::Modify for OldFieldNames {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
        use utoipa::openapi::RefOr;
        let Some(components) = doc.components.as_mut() else { return };
        let describe = |schema: &mut RefOr<Schema>, text: String| {
            if let RefOr::T(Schema::Object(o)) = schema {
                o.description = Some(text);
            } else if let RefOr::T(Schema::Array(a)) = schema {
                a.description = Some(text);
            } else if let RefOr::T(Schema::OneOf(o)) = schema {
                o.description = Some(text);
            }
        };
        for (schema, old, ours) in OLD_NAMES {
            let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) else { continue };
            let Some(mut property) = object.properties.get(*ours).cloned() else { continue };
            describe(&mut property, format!("The old tool's name for `{ours}`."));
            object.properties.insert((*old).to_owned(), property);
            object.required.retain(|r| r.as_str() != *ours);
        }
        // The old UI's redundant `disk` beside `disks`: a size, accepted and ignored.
        if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut("ServerRequest") {
            let size = OneOfBuilder::new()
                .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Integer)))
                .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::String)).max_length(Some(32)))
                .item(ObjectBuilder::new().schema_type(SchemaType::new(Type::Null)))
                .description(Some("The old UI's redundant disk size beside `disks`: accepted and ignored."));
            object.properties.insert("disk".into(), size.into());
        }
    }
}

fn method_name(m: &utoipa::openapi::path::HttpMethod) -> &'static str {
    use utoipa::openapi::path::HttpMethod as M;
    match m {
        M::Get => "GET",
        M::Post => "POST",
        M::Put => "PUT",
        M::Delete => "DELETE",
        M::Patch => "PATCH",
        M::Head => "HEAD",
        M::Options => "OPTIONS",
        M::Trace => "TRACE",
    }
}

/// The error statuses of one route, with what each means there.
pub fn error_statuses(route: &routes::RouteSpec, op: &utoipa::openapi::path::Operation) -> BTreeMap<u16, &'static str> {
    use domain::error::Kind;
    use utoipa::openapi::path::ParameterIn;
    let mut out = BTreeMap::new();
    let mut add = |kind: Kind| {
        out.insert(kind.status(), kind.meaning());
    };
    match route.access {
        Access::Public => {}
        Access::SignedIn => add(Kind::Unauthenticated),
        // `Authenticated` refuses a user who must still change their password (403).
        Access::Authenticated | Access::BrowserSession | Access::Permission(_) => {
            add(Kind::Unauthenticated);
            add(Kind::Forbidden);
        }
    }
    // Writes from another site are refused (CSRF), whoever sends them.
    if route.method != axum::http::Method::GET {
        add(Kind::Forbidden);
    }
    let params = op.parameters.as_deref().unwrap_or_default();
    if !params.is_empty() {
        add(Kind::Validation);
    }
    if params.iter().any(|p| p.parameter_in == ParameterIn::Path) {
        add(Kind::NotFound);
    }
    for kind in route.fails {
        add(*kind);
    }
    if op.request_body.is_some() {
        add(Kind::Validation);
        out.insert(413, "The body is larger than the server accepts (2 MiB)");
        out.insert(415, "The body's Content-Type is not one this endpoint reads");
    }
    out
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document", content_type = "application/json")))]
pub async fn spec() -> Response {
    // Built once: the document is the same for the life of the process, and building it on
    // every anonymous request would be CPU for the taking.
    static BODY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| ApiDoc::openapi().to_json().unwrap_or_default());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], BODY.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn doc() -> Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
    }

    #[test]
    fn every_operation_lists_its_errors_with_the_failure_envelope() {
        let doc = ApiDoc::openapi();
        let mut checked = 0;
        for (path, item) in &doc.paths.paths {
            for (method, op) in [("GET", &item.get), ("POST", &item.post), ("PUT", &item.put), ("DELETE", &item.delete)]
            {
                let Some(op) = op else { continue };
                let route = routes::ROUTES
                    .iter()
                    .find(|r| r.path == path.as_str() && r.method.as_str() == method)
                    .unwrap_or_else(|| panic!("{method} {path} is not in the route table"));
                for status in error_statuses(route, op).keys() {
                    let Some(utoipa::openapi::RefOr::T(r)) = op.responses.responses.get(&status.to_string()) else {
                        panic!("{method} {path} does not list {status}");
                    };
                    assert!(r.content.contains_key("application/json"), "{method} {path} {status} has no JSON body");
                }
                checked += 1;
            }
        }
        assert!(checked > 80, "{checked}");
        // Spot checks of the derivation.
        let json = doc_statuses("/api/users/{username}", "delete");
        assert_eq!(json, ["200", "400", "401", "403", "404", "409", "503"]);
        assert_eq!(doc_statuses("/healthz", "get"), ["200", "503"]);
        // A permission, a path parameter and a Proxmox call.
        assert_eq!(
            doc_statuses("/api/servers/{name}/start", "post"),
            ["202", "400", "401", "403", "404", "409", "502", "503"]
        );
        // Query parameters only, any signed-in caller with a current password.
        assert_eq!(doc_statuses("/api/servers", "get"), ["200", "400", "401", "403", "503"]);
        // A body, a permission, a name that may clash.
        assert_eq!(
            doc_statuses("/api/ip-pools", "post"),
            ["201", "400", "401", "403", "404", "409", "413", "415", "503"]
        );
        // Public, a body, nothing else but its own 401.
        assert_eq!(doc_statuses("/login", "post"), ["200", "303", "400", "401", "403", "413", "415", "503"]);
    }

    fn doc_statuses(path: &str, method: &str) -> Vec<String> {
        let d = doc();
        d["paths"][path][method]["responses"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    }

    /// The limits the domain enforces are the ones the document publishes.
    #[test]
    fn request_schemas_publish_the_domains_limits() {
        use domain::limits as l;
        let d = doc();
        let schemas = &d["components"]["schemas"];
        let prop = |schema: &str, field: &str, key: &str| -> u64 {
            let p = &schemas[schema]["properties"][field];
            p[key].as_u64().unwrap_or_else(|| panic!("{schema}.{field} has no {key}: {p}"))
        };
        let cases: &[(&str, &str, &str, usize)] = &[
            ("PoolInput", "description", "maxLength", l::DESCRIPTION),
            ("PoolInput", "reserved", "maxLength", l::RESERVED),
            ("PoolInput", "dns", "maxItems", l::DNS_SERVERS),
            ("ServerRequest", "description", "maxLength", l::DESCRIPTION),
            ("ServerRequest", "tags", "maxItems", l::TAGS),
            ("ServerRequest", "ssh_keys", "maxItems", l::SSH_KEYS),
            ("ServerRequest", "os_type", "maxLength", l::OS_TYPE),
            ("ServerRequest", "security_group", "maxLength", l::NAME),
            ("ServerRequest", "ci_password", "maxLength", l::CI_PASSWORD),
            ("NicRequest", "dns", "maxItems", l::DNS_SERVERS),
            ("SettingsChange", "description", "maxLength", l::DESCRIPTION),
            ("SettingsChange", "tags", "maxItems", l::TAGS),
            ("CreateUserBody", "name", "maxLength", l::PERSON_NAME),
            ("CreateUserBody", "email", "maxLength", l::EMAIL),
            ("CreateUserBody", "password", "maxLength", domain::auth::password::MAX_LENGTH),
            ("CreateUserBody", "password", "minLength", domain::auth::password::MIN_LENGTH),
            ("CreateTokenBody", "name", "maxLength", l::NAME),
            ("BulkRequest", "servers", "maxItems", domain::servers::spec::MAX_BULK),
            ("BulkRequest", "count", "maximum", domain::servers::spec::MAX_BULK),
        ];
        for (schema, field, key, want) in cases {
            assert_eq!(prop(schema, field, key), *want as u64, "{schema}.{field}.{key}");
        }
        for (schema, old, ours) in OLD_NAMES {
            let props = &schemas[*schema]["properties"];
            assert!(props[*old].is_object(), "{schema}.{old} (old name of {ours}) is not listed");
            assert!(
                !schemas[*schema]["required"].as_array().is_some_and(|r| r.iter().any(|x| x == ours)),
                "{schema}.{ours} is required though {old} may replace it"
            );
        }
        assert!(schemas["ServerRequest"]["properties"]["disk"].is_object());
        let name = &schemas["TemplateRef"]["oneOf"];
        assert!(name.to_string().contains(&format!("\"maxLength\":{}", l::TEMPLATE_NAME)), "{name}");
        assert!(schemas["ErrorEnvelope"].is_object());
    }
}
