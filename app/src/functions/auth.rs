//! Server functions for the signed-in user, user administration, API tokens and the audit log.
//! Each one takes the acting user from the request (put in context by the server) and hands it
//! to the domain service, which checks the permission: the pages hide what a user may not do,
//! the services refuse it anyway.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// The signed-in user, as the UI needs it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CurrentUser {
    pub username: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub created_at: i64,
    pub last_login: Option<i64>,
}

impl CurrentUser {
    pub fn can(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub username: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub active: bool,
    pub must_change_password: bool,
    pub last_login: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PermissionRow {
    pub name: String,
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IamView {
    pub users: Vec<UserRow>,
    pub permissions: Vec<PermissionRow>,
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub at: i64,
    pub actor: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub source_ip: Option<String>,
    pub success: bool,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditRow>,
    pub page: u32,
    pub pages: u32,
    pub total: i64,
}

pub const AUDIT_PER_PAGE: u32 = 50;

#[cfg(feature = "ssr")]
mod door {
    pub use crate::functions::door::{actor, fail, services, signed_in};

    pub fn user_row(u: domain::users::User) -> super::UserRow {
        super::UserRow {
            username: u.username,
            name: u.name,
            email: u.email,
            role: u.role,
            permissions: u.permissions,
            active: u.active,
            must_change_password: u.must_change_password,
            last_login: u.last_login_at,
        }
    }
}

/// The signed-in user, or `None` (the login page).
#[server(prefix = "/sfn", endpoint = "current_user")]
pub async fn fetch_current_user() -> Result<Option<CurrentUser>, ServerFnError> {
    let Some(actor) = door::signed_in() else { return Ok(None) };
    let u = door::services()?.auth.me(&actor).await.map_err(door::fail)?;
    Ok(Some(CurrentUser {
        username: u.username,
        name: u.name,
        email: u.email,
        role: u.role,
        permissions: u.permissions,
        created_at: u.created_at,
        last_login: u.last_login_at,
    }))
}

/// Loaded once per page load and shared through context: navigation and pages read it.
#[derive(Clone, Copy)]
pub struct CurrentUserResource(pub Resource<Result<Option<CurrentUser>, ServerFnError>>);

impl CurrentUserResource {
    pub fn new() -> Self {
        CurrentUserResource(Resource::new(|| (), |_| fetch_current_user()))
    }
}

impl Default for CurrentUserResource {
    fn default() -> Self {
        Self::new()
    }
}

#[server(prefix = "/sfn", endpoint = "list_users")]
pub async fn list_users() -> Result<Vec<UserRow>, ServerFnError> {
    let users = door::services()?.iam.list(&door::actor()?).await.map_err(door::fail)?;
    Ok(users.into_iter().map(door::user_row).collect())
}

#[server(prefix = "/sfn", endpoint = "create_user")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
    name: String,
    email: String,
) -> Result<String, ServerFnError> {
    let new = domain::iam::CreateUser { username, password, role: Some(role), permissions: None, name, email };
    let user = door::services()?.iam.create(&door::actor()?, new).await.map_err(door::fail)?;
    Ok(user.username)
}

#[server(prefix = "/sfn", endpoint = "delete_user")]
pub async fn delete_user(username: String) -> Result<(), ServerFnError> {
    door::services()?.iam.delete(&door::actor()?, &username).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "reset_user_password")]
pub async fn reset_user_password(username: String, new_password: String) -> Result<(), ServerFnError> {
    door::services()?.iam.reset_password(&door::actor()?, &username, &new_password, None).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "set_user_active")]
pub async fn set_user_active(username: String, active: bool) -> Result<(), ServerFnError> {
    door::services()?.iam.set_active(&door::actor()?, &username, active).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "iam_view")]
pub async fn load_iam() -> Result<IamView, ServerFnError> {
    let data = door::services()?.iam.iam_data(&door::actor()?).await.map_err(door::fail)?;
    Ok(IamView {
        users: data.users.into_iter().map(door::user_row).collect(),
        permissions: data
            .permissions
            .into_iter()
            .map(|p| PermissionRow { name: p.name, description: p.description })
            .collect(),
        roles: data.roles.into_iter().map(|r| r.name).collect(),
    })
}

/// Sets a role; the user gets the role's default permissions.
#[server(prefix = "/sfn", endpoint = "set_user_role")]
pub async fn set_user_role(username: String, role: String) -> Result<(), ServerFnError> {
    door::services()?.iam.set_role(&door::actor()?, &username, &role, None).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "set_user_permissions")]
pub async fn set_user_permissions(username: String, permissions: Vec<String>) -> Result<(), ServerFnError> {
    door::services()?
        .iam
        .set_permissions(&door::actor()?, &username, &permissions)
        .await
        .map(|_| ())
        .map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "audit_page")]
pub async fn load_audit(page: u32, user: String, action: String) -> Result<AuditPage, ServerFnError> {
    let filter = domain::audit::AuditFilter {
        actor: Some(user).filter(|u| !u.is_empty()),
        action: Some(action).filter(|a| !a.is_empty()),
        ..Default::default()
    };
    let page = page.max(1);
    let (entries, total) =
        door::services()?.iam.audit_log(&door::actor()?, &filter, page, AUDIT_PER_PAGE).await.map_err(door::fail)?;
    Ok(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditRow {
                at: e.at,
                actor: e.actor,
                action: e.action,
                target: e.target,
                source_ip: e.source_ip,
                success: e.success,
                detail: e.detail,
            })
            .collect(),
        page,
        pages: u32::try_from(total.max(0)).unwrap_or(u32::MAX).div_ceil(AUDIT_PER_PAGE),
        total,
    })
}

#[server(prefix = "/sfn", endpoint = "my_tokens")]
pub async fn my_tokens() -> Result<Vec<TokenRow>, ServerFnError> {
    let tokens = door::services()?.auth.list_tokens(&door::actor()?).await.map_err(door::fail)?;
    let now = domain::clock::now_ms();
    Ok(tokens
        .into_iter()
        .map(|t| TokenRow {
            active: t.is_usable(now),
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
        })
        .collect())
}

/// Creates a token for the caller and returns its secret, shown once. (The service allows
/// this from browser sessions only, whichever door the call came through.)
#[server(prefix = "/sfn", endpoint = "create_token")]
pub async fn create_token(name: String, expires_in_days: Option<u32>) -> Result<String, ServerFnError> {
    let actor = door::actor()?;
    let expires_at = match expires_in_days {
        None | Some(0) => None,
        Some(d @ 1..=3650) => Some(domain::clock::now_ms() + i64::from(d) * 24 * 60 * 60 * 1000),
        Some(_) => return Err(door::fail(domain::Error::validation("expires_in_days", "expiry is 1 to 3650 days"))),
    };
    let new = door::services()?.auth.create_token(&actor, &name, expires_at).await.map_err(door::fail)?;
    Ok(new.secret)
}

#[server(prefix = "/sfn", endpoint = "revoke_token")]
pub async fn revoke_token(id: i64) -> Result<(), ServerFnError> {
    let actor = door::actor()?;
    door::services()?.auth.revoke_token(&actor, id).await.map(|_| ()).map_err(door::fail)
}
