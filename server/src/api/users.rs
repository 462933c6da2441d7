//! Users, IAM and the audit log (all `manage_users`; the route table and the `iam` service
//! both check). Paths and field names follow the seed API and the old tool.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use domain::audit::{AuditEntry, AuditFilter};
use domain::auth::Permission;
use domain::iam::{CreateUser, PermissionInfo, RoleInfo};
use domain::users::User;

use super::envelope::{ApiOk, Envelope, Pagination};
use super::extract::{Json, PageParams, Path, Query};
use super::session::UserJson;
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct UserCounts {
    pub total: usize,
    pub active: usize,
    /// Users per role.
    pub by_role: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserJson>,
    pub counts: UserCounts,
}

fn user_list(users: Vec<User>) -> UserList {
    let mut by_role = BTreeMap::new();
    for u in &users {
        *by_role.entry(u.role.clone()).or_insert(0) += 1;
    }
    let counts = UserCounts { total: users.len(), active: users.iter().filter(|u| u.active).count(), by_role };
    UserList { users: users.into_iter().map(UserJson::from).collect(), counts }
}

/// All users, with counts per role.
#[utoipa::path(get, path = "/api/users", tag = "users",
    responses((status = 200, body = Envelope<UserList>), (status = 403, description = "Needs manage_users")))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<UserList>, ApiError> {
    Ok(ApiOk::new(user_list(state.services.iam.list(&actor).await?)))
}

/// The same list, for the admin screens (the old tool's path).
#[utoipa::path(get, path = "/api/admin/users", tag = "users",
    responses((status = 200, body = Envelope<UserList>), (status = 403, description = "Needs manage_users")))]
pub async fn admin_users(state: State<AppState>, actor: CurrentActor) -> Result<ApiOk<UserList>, ApiError> {
    list(state, actor).await
}

/// No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub struct CreateUserBody {
    /// Letters, digits, `.`, `_`, `-`, starting with a letter or digit; unique whatever its case.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    pub username: String,
    /// 10–1024 characters, not containing the username, not a common password.
    #[schema(min_length = 10, max_length = 1024)]
    pub password: String,
    /// admin, developer, operator or viewer [default: developer].
    #[schema(pattern = "^(admin|developer|operator|viewer)$")]
    pub role: Option<String>,
    /// Explicit permissions (catalogue or seed short names); empty = the role's defaults.
    pub permissions: Option<Vec<String>>,
    /// Display name.
    #[schema(max_length = 128)]
    pub name: Option<String>,
    #[schema(max_length = 254)]
    pub email: Option<String>,
}

/// Create a user.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = CreateUserBody,
    responses((status = 201, body = Envelope<UserJson>), (status = 400, description = "Invalid field (named in details.field)"),
        (status = 409, description = "The username exists")))]
pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<CreateUserBody>,
) -> Result<ApiOk<UserJson>, ApiError> {
    let user = state
        .services
        .iam
        .create(
            &actor,
            CreateUser {
                username: body.username,
                password: body.password,
                role: body.role,
                permissions: body.permissions,
                name: body.name.unwrap_or_default(),
                email: body.email.unwrap_or_default(),
            },
        )
        .await?;
    let message = format!("user {} created", user.username);
    Ok(ApiOk::new(UserJson::from(user)).status(StatusCode::CREATED).message(message))
}

/// Delete a user (not yourself, not the last active admin).
#[utoipa::path(delete, path = "/api/users/{username}", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = Envelope<Value>), (status = 404, description = "No such user"),
        (status = 409, description = "Yourself, or the last active admin")))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(username): Path<String>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.iam.delete(&actor, &username).await?;
    Ok(ApiOk::new(json!({})).message(format!("user {username} deleted")))
}

/// No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordBody {
    #[schema(min_length = 10, max_length = 1024)]
    pub new_password: String,
    pub confirm_password: Option<String>,
}

/// Set someone's password. They must change it at their next login; their sessions end now.
#[utoipa::path(post, path = "/api/users/{username}/password", tag = "users",
    params(("username" = String, Path)), request_body = ResetPasswordBody,
    responses((status = 200, body = Envelope<Value>), (status = 400, description = "Policy or confirmation"),
        (status = 404, description = "No such user")))]
pub async fn reset_password(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(username): Path<String>,
    Json(body): Json<ResetPasswordBody>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.iam.reset_password(&actor, &username, &body.new_password, body.confirm_password.as_deref()).await?;
    Ok(ApiOk::new(json!({})).message(format!("password of {username} reset; they must change it at next login")))
}

/// Activate a user.
#[utoipa::path(post, path = "/api/users/{username}/activate", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = Envelope<UserJson>), (status = 404, description = "No such user")))]
pub async fn activate(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(username): Path<String>,
) -> Result<ApiOk<UserJson>, ApiError> {
    let user = state.services.iam.set_active(&actor, &username, true).await?;
    Ok(ApiOk::new(UserJson::from(user)).message(format!("{username} activated")))
}

/// Deactivate a user: their sessions end and their API tokens stop at once.
#[utoipa::path(post, path = "/api/users/{username}/deactivate", tag = "users",
    params(("username" = String, Path)),
    responses((status = 200, body = Envelope<UserJson>), (status = 404, description = "No such user"),
        (status = 409, description = "Yourself, or the last active admin")))]
pub async fn deactivate(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(username): Path<String>,
) -> Result<ApiOk<UserJson>, ApiError> {
    let user = state.services.iam.set_active(&actor, &username, false).await?;
    Ok(ApiOk::new(UserJson::from(user)).message(format!("{username} deactivated")))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IamUser {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub is_active: bool,
}

/// The IAM screen's data, in the old tool's shape (without its leaked database URI).
#[derive(Debug, Serialize, ToSchema)]
pub struct IamDataJson {
    pub users: Vec<IamUser>,
    pub users_count: usize,
    pub all_permissions: Vec<String>,
    #[schema(value_type = Vec<Object>)]
    pub permissions_with_descriptions: Vec<PermissionInfo>,
    #[schema(value_type = Vec<Object>)]
    pub roles: Vec<RoleInfo>,
}

async fn iam_json(state: &AppState, actor: &domain::auth::Actor) -> Result<IamDataJson, ApiError> {
    let data = state.services.iam.iam_data(actor).await?;
    Ok(IamDataJson {
        users_count: data.users.len(),
        users: data
            .users
            .into_iter()
            .map(|u| IamUser {
                id: u.id,
                username: u.username,
                email: u.email,
                role: u.role,
                permissions: u.permissions,
                is_active: u.active,
            })
            .collect(),
        all_permissions: data.permissions.iter().map(|p| p.name.clone()).collect(),
        permissions_with_descriptions: data.permissions,
        roles: data.roles,
    })
}

/// Users with roles and permissions, the permission catalogue and the roles' defaults.
#[utoipa::path(get, path = "/api/iam/data", tag = "iam",
    responses((status = 200, body = Envelope<IamDataJson>), (status = 403, description = "Needs manage_users")))]
pub async fn iam_data(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<IamDataJson>, ApiError> {
    Ok(ApiOk::new(iam_json(&state, &actor).await?))
}

/// The same data for the admin IAM screen (the seed's path).
#[utoipa::path(get, path = "/api/admin/iam", tag = "iam",
    responses((status = 200, body = Envelope<IamDataJson>), (status = 403, description = "Needs manage_users")))]
pub async fn admin_iam(state: State<AppState>, actor: CurrentActor) -> Result<ApiOk<IamDataJson>, ApiError> {
    iam_data(state, actor).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PermissionsBody {
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RoleBody {
    #[schema(pattern = "^(admin|developer|operator|viewer)$")]
    pub role: String,
    /// Given: exactly these permissions. Absent: the role's defaults.
    pub permissions: Option<Vec<String>>,
}

/// Replace a user's permissions (unknown names are refused).
#[utoipa::path(post, path = "/api/iam/{username}/permissions", tag = "iam",
    params(("username" = String, Path)), request_body = PermissionsBody,
    responses((status = 200, body = Envelope<UserJson>), (status = 400, description = "Unknown permission"),
        (status = 409, description = "Would leave no admin able to manage users")))]
pub async fn set_permissions(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(username): Path<String>,
    Json(body): Json<PermissionsBody>,
) -> Result<ApiOk<UserJson>, ApiError> {
    let user = state.services.iam.set_permissions(&actor, &username, &body.permissions).await?;
    Ok(ApiOk::new(UserJson::from(user)).message(format!("permissions of {username} updated")))
}

/// Set a user's role; their permissions become the role's defaults unless given.
#[utoipa::path(post, path = "/api/iam/{username}/role", tag = "iam",
    params(("username" = String, Path)), request_body = RoleBody,
    responses((status = 200, body = Envelope<UserJson>), (status = 400, description = "Unknown role or permission"),
        (status = 409, description = "Would leave no admin able to manage users")))]
pub async fn set_role(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(username): Path<String>,
    Json(body): Json<RoleBody>,
) -> Result<ApiOk<UserJson>, ApiError> {
    let user = state.services.iam.set_role(&actor, &username, &body.role, body.permissions.as_deref()).await?;
    Ok(ApiOk::new(UserJson::from(user)).message(format!("role of {username} set to {}", body.role)))
}

/// The seed's admin alias of `/api/iam/{username}/permissions`.
#[utoipa::path(post, path = "/api/admin/iam/{username}/permissions", tag = "iam",
    params(("username" = String, Path)), request_body = PermissionsBody,
    responses((status = 200, body = Envelope<UserJson>)))]
pub async fn admin_set_permissions(
    state: State<AppState>,
    actor: CurrentActor,
    username: Path<String>,
    body: Json<PermissionsBody>,
) -> Result<ApiOk<UserJson>, ApiError> {
    set_permissions(state, actor, username, body).await
}

/// The seed's admin alias of `/api/iam/{username}/role`.
#[utoipa::path(post, path = "/api/admin/iam/{username}/role", tag = "iam",
    params(("username" = String, Path)), request_body = RoleBody,
    responses((status = 200, body = Envelope<UserJson>)))]
pub async fn admin_set_role(
    state: State<AppState>,
    actor: CurrentActor,
    username: Path<String>,
    body: Json<RoleBody>,
) -> Result<ApiOk<UserJson>, ApiError> {
    set_role(state, actor, username, body).await
}

/// What the server believes about the caller (never secrets).
#[utoipa::path(get, path = "/api/debug/user-info", tag = "iam",
    responses((status = 200, body = Envelope<Value>)))]
pub async fn debug_user_info(CurrentActor(actor): CurrentActor) -> ApiOk<Value> {
    let permissions: Vec<&str> = actor.permissions.iter().map(|p| p.as_str()).collect();
    ApiOk::new(json!({
        "user_id": actor.user_id,
        "username": actor.username,
        "role": actor.role,
        "is_admin": actor.is_admin(),
        "is_authenticated": true,
        "auth_method": actor.method,
        "permissions_count": permissions.len(),
        "permissions_list": permissions,
        "has_manage_users": actor.has(Permission::ManageUsers),
    }))
}

/// The admin overview: user counts and the latest audit entries.
#[utoipa::path(get, path = "/api/admin/", tag = "iam",
    responses((status = 200, body = Envelope<Value>)))]
pub async fn admin_overview(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    let users = user_list(state.services.iam.list(&actor).await?);
    let (recent, _) = state.services.iam.audit_log(&actor, &AuditFilter::default(), 1, 5).await?;
    Ok(ApiOk::new(json!({ "counts": users.counts, "recent_audit": recent })))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Acting username.
    pub user: Option<String>,
    /// Exact action (`login`), or a prefix ending in `.` (`user.`).
    pub action: Option<String>,
    /// From this time on (UTC unix milliseconds).
    pub since: Option<i64>,
    /// Before this time (UTC unix milliseconds).
    pub until: Option<i64>,
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "iam", params(PageParams, AuditQuery),
    responses((status = 200, body = Envelope<Vec<Object>>), (status = 403, description = "Needs manage_users")))]
pub async fn audit(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(pages): Query<PageParams>,
    Query(q): Query<AuditQuery>,
) -> Result<ApiOk<Vec<AuditEntry>>, ApiError> {
    let (page, per_page) = pages.resolve()?;
    let filter = AuditFilter { actor: q.user, action: q.action, since: q.since, until: q.until };
    let (items, total) = state.services.iam.audit_log(&actor, &filter, page, per_page).await?;
    Ok(ApiOk::new(items).paginated(Pagination::new(page, per_page, u64::try_from(total).unwrap_or(0))))
}
