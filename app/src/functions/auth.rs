//! Server functions for the signed-in user, user administration, API tokens and the audit log.
//! Each one takes the acting user from the request (put in context by the server) and hands it
//! to the domain service, which checks the permission: the pages hide what a user may not do,
//! the services refuse it anyway.

use leptos::prelude::*;

use model::auth::{ApiToken, AuditEntry, IamView, UserView};
use model::{AppError, Page};

/// The signed-in user, as the pages see them (`can(Permission::…)`).
pub type CurrentUser = UserView;

pub const AUDIT_PER_PAGE: u32 = 50;

#[cfg(feature = "ssr")]
use crate::functions::door;

/// The signed-in user, or `None` (the login page).
#[server(prefix = "/sfn", endpoint = "current_user")]
pub async fn fetch_current_user() -> Result<Option<CurrentUser>, AppError> {
    let Some(actor) = door::signed_in() else { return Ok(None) };
    let user = door::services()?.auth.me(&actor).await.map_err(door::fail)?;
    Ok(Some(user.view()))
}

/// Loaded once per page load and shared through context: navigation and pages read it.
#[derive(Clone, Copy)]
pub struct CurrentUserResource(pub Resource<Result<Option<CurrentUser>, AppError>>);

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
pub async fn list_users() -> Result<Vec<UserView>, AppError> {
    let users = door::services()?.iam.list(&door::actor()?).await.map_err(door::fail)?;
    Ok(users.iter().map(|u| u.view()).collect())
}

#[server(prefix = "/sfn", endpoint = "create_user")]
pub async fn create_user(
    username: String,
    password: String,
    role: String,
    name: String,
    email: String,
) -> Result<String, AppError> {
    let new = domain::iam::CreateUser { username, password, role: Some(role), permissions: None, name, email };
    let user = door::services()?.iam.create(&door::actor()?, new).await.map_err(door::fail)?;
    Ok(user.username)
}

#[server(prefix = "/sfn", endpoint = "delete_user")]
pub async fn delete_user(username: String) -> Result<(), AppError> {
    door::services()?.iam.delete(&door::actor()?, &username).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "reset_user_password")]
pub async fn reset_user_password(username: String, new_password: String) -> Result<(), AppError> {
    door::services()?.iam.reset_password(&door::actor()?, &username, &new_password, None).await.map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "set_user_active")]
pub async fn set_user_active(username: String, active: bool) -> Result<(), AppError> {
    door::services()?.iam.set_active(&door::actor()?, &username, active).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "iam_view")]
pub async fn load_iam() -> Result<IamView, AppError> {
    let data = door::services()?.iam.iam_data(&door::actor()?).await.map_err(door::fail)?;
    Ok(IamView {
        users: data.users.iter().map(|u| u.view()).collect(),
        permissions: data.permissions,
        roles: data.roles,
    })
}

/// Sets a role; the user gets the role's default permissions.
#[server(prefix = "/sfn", endpoint = "set_user_role")]
pub async fn set_user_role(username: String, role: String) -> Result<(), AppError> {
    door::services()?.iam.set_role(&door::actor()?, &username, &role, None).await.map(|_| ()).map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "set_user_permissions")]
pub async fn set_user_permissions(username: String, permissions: Vec<String>) -> Result<(), AppError> {
    door::services()?
        .iam
        .set_permissions(&door::actor()?, &username, &permissions)
        .await
        .map(|_| ())
        .map_err(door::fail)
}

#[server(prefix = "/sfn", endpoint = "audit_page")]
pub async fn load_audit(page: u32, user: String, action: String) -> Result<Page<AuditEntry>, AppError> {
    let filter = domain::audit::AuditFilter {
        actor: Some(user).filter(|u| !u.is_empty()),
        action: Some(action).filter(|a| !a.is_empty()),
        ..Default::default()
    };
    let page = page.max(1);
    let (entries, total) =
        door::services()?.iam.audit_log(&door::actor()?, &filter, page, AUDIT_PER_PAGE).await.map_err(door::fail)?;
    Ok(Page::new(entries, u64::try_from(total).unwrap_or(0), page, AUDIT_PER_PAGE))
}

#[server(prefix = "/sfn", endpoint = "my_tokens")]
pub async fn my_tokens() -> Result<Vec<ApiToken>, AppError> {
    door::services()?.auth.list_tokens(&door::actor()?).await.map_err(door::fail)
}

/// Creates a token for the caller and returns its secret, shown once. (The service allows
/// this from browser sessions only, whichever door the call came through.)
#[server(prefix = "/sfn", endpoint = "create_token")]
pub async fn create_token(name: String, expires_in_days: Option<u32>) -> Result<String, AppError> {
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
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let actor = door::actor()?;
    door::services()?.auth.revoke_token(&actor, id).await.map(|_| ()).map_err(door::fail)
}
