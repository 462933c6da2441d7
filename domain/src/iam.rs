//! User administration: create, delete, reset passwords, activate/deactivate, roles and
//! permissions, and reading the audit log. Every method takes the acting user, checks
//! `manage_users` itself, and records what it did (or failed to do) in the audit log.
//!
//! The rule that keeps an instance manageable: there is always at least one active `admin`
//! holding `manage_users`. Deleting, demoting, deactivating or stripping the last one is
//! refused with a 409.

use std::collections::BTreeSet;

use crate::audit::{AuditEntry, AuditFilter, AuditLog, Record};
use crate::auth::{parse_permissions, Permission, Role};
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::auth::api_tokens::TokenStore;
use crate::auth::sessions::SessionStore;
use crate::auth::{password, Actor};
use crate::users::{NewUser, User, UserStore};
use crate::{Error, Result};

/// A new user as an admin describes it. (No `Debug`: it holds a password.)
#[derive(Clone, Default)]
pub struct CreateUser {
    pub username: String,
    pub password: String,
    /// Defaults to `developer`, as in the old tool.
    pub role: Option<String>,
    /// Explicit permissions; empty or `None` means the role's defaults.
    pub permissions: Option<Vec<String>>,
    pub name: String,
    pub email: String,
}

/// Everything the IAM screen needs in one read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IamData {
    pub users: Vec<User>,
    pub permissions: Vec<PermissionInfo>,
    pub roles: Vec<RoleInfo>,
}

pub use model::auth::{permission_catalogue, role_catalogue, PermissionInfo, RoleInfo};

fn names(set: &BTreeSet<Permission>) -> Vec<String> {
    set.iter().map(|p| p.as_str().to_owned()).collect()
}

fn parse_role(name: &str) -> Result<Role> {
    Role::parse(name.trim()).ok_or_else(|| {
        Error::validation("role", format!("unknown role {name:?}; use admin, developer, operator or viewer"))
    })
}

fn parse_names(list: &[String]) -> Result<Vec<String>> {
    parse_permissions(list).map(|s| names(&s)).map_err(|m| Error::validation("permissions", m))
}

#[derive(Debug, Clone)]
pub struct UserAdmin {
    users: UserStore,
    sessions: SessionStore,
    tokens: TokenStore,
    audit: AuditLog,
    /// Serialises the changes that could remove the last admin (check, then write), so two
    /// admins demoting each other at the same moment cannot both succeed. Per instance: with
    /// several instances on one PostgreSQL the window remains (see the issue note).
    admin_changes: Arc<Mutex<()>>,
}

impl UserAdmin {
    pub fn new(users: UserStore, sessions: SessionStore, tokens: TokenStore, audit: AuditLog) -> Self {
        UserAdmin { users, sessions, tokens, audit, admin_changes: Arc::new(Mutex::new(())) }
    }

    pub async fn list(&self, actor: &Actor) -> Result<Vec<User>> {
        actor.require(Permission::ManageUsers)?;
        self.users.list().await
    }

    pub async fn get(&self, actor: &Actor, username: &str) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        self.find(username).await
    }

    pub async fn iam_data(&self, actor: &Actor) -> Result<IamData> {
        actor.require(Permission::ManageUsers)?;
        Ok(IamData { users: self.users.list().await?, permissions: permission_catalogue(), roles: role_catalogue() })
    }

    pub async fn audit_log(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
        page: u32,
        per_page: u32,
    ) -> Result<(Vec<AuditEntry>, i64)> {
        actor.require(Permission::ManageUsers)?;
        self.audit.list(filter, page, per_page).await
    }

    pub async fn create(&self, actor: &Actor, new: CreateUser) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        let result = self.create_inner(new.clone()).await;
        let detail = result.as_ref().map(|u| format!("role {}", u.role)).unwrap_or_default();
        self.audit.record(Record::of(actor, "user.create", Some(&new.username), &result, detail)).await?;
        result
    }

    async fn create_inner(&self, new: CreateUser) -> Result<User> {
        crate::users::validate_username(&new.username)?;
        let role = parse_role(new.role.as_deref().unwrap_or("developer"))?;
        let permissions = match new.permissions.as_deref() {
            Some(list) if !list.is_empty() => parse_names(list)?,
            _ => names(&role.default_permissions()),
        };
        crate::limits::text("name", &new.name, crate::limits::PERSON_NAME)?;
        crate::limits::text("email", &new.email, crate::limits::EMAIL)?;
        password::check_policy(&new.username, &new.password)?;
        match self.users.same_name_any_case(&new.username).await? {
            Some(existing) if existing == new.username => {
                return Err(Error::Conflict(format!("user {existing} already exists")))
            }
            Some(existing) => {
                return Err(Error::Conflict(format!(
                    "user {existing} already exists; usernames are unique whatever their case"
                )))
            }
            None => {}
        }
        let hash = password::hash_blocking(new.password.clone()).await?;
        self.users
            .create(NewUser {
                username: &new.username,
                password_hash: &hash,
                role: role.as_str(),
                permissions: &permissions,
                must_change_password: false,
                name: new.name.trim(),
                email: new.email.trim(),
            })
            .await
    }

    pub async fn delete(&self, actor: &Actor, username: &str) -> Result<()> {
        actor.require(Permission::ManageUsers)?;
        let result = self.delete_inner(actor, username).await;
        self.audit.record(Record::of(actor, "user.delete", Some(username), &result, String::new())).await?;
        result
    }

    async fn delete_inner(&self, actor: &Actor, username: &str) -> Result<()> {
        let _serial = self.admin_changes.lock().await;
        let user = self.find(username).await?;
        if user.id == actor.user_id {
            return Err(Error::Conflict("you cannot delete your own account".into()));
        }
        self.ensure_an_admin_remains(&user, |_| None).await?;
        self.users.delete(username).await?;
        Ok(())
    }

    /// Sets a new password for someone else. They must change it at their next login, and
    /// their sessions end now.
    pub async fn reset_password(&self, actor: &Actor, username: &str, new: &str, confirm: Option<&str>) -> Result<()> {
        actor.require(Permission::ManageUsers)?;
        let result = self.reset_password_inner(actor, username, new, confirm).await;
        self.audit.record(Record::of(actor, "password.reset", Some(username), &result, String::new())).await?;
        result
    }

    async fn reset_password_inner(
        &self,
        actor: &Actor,
        username: &str,
        new: &str,
        confirm: Option<&str>,
    ) -> Result<()> {
        let user = self.find(username).await?;
        if user.id == actor.user_id {
            // Otherwise a stolen admin session or token could take over the account without
            // knowing its password.
            return Err(Error::Conflict(
                "to change your own password, use your profile (the current password is needed)".into(),
            ));
        }
        if confirm.is_some_and(|c| c != new) {
            return Err(Error::validation("confirm_password", "the new password and its confirmation differ"));
        }
        password::check_policy_as("new_password", &user.username, new)?;
        let hash = password::hash_blocking(new.to_owned()).await?;
        self.users.set_password_hash(user.id, &hash, true).await?;
        // A reset means the old credentials are not trusted: sessions end and tokens are revoked.
        self.sessions.end_all_for_user(user.id).await?;
        self.tokens.revoke_all_for_user(user.id).await?;
        Ok(())
    }

    /// Sets a role. Without `permissions` the user gets the role's defaults; with them, exactly
    /// those.
    pub async fn set_role(
        &self,
        actor: &Actor,
        username: &str,
        role: &str,
        permissions: Option<&[String]>,
    ) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        let result = self.set_role_inner(username, role, permissions).await;
        let detail = format!("role {}", role.chars().take(32).collect::<String>());
        self.audit.record(Record::of(actor, "user.role", Some(username), &result, detail)).await?;
        result
    }

    async fn set_role_inner(&self, username: &str, role: &str, permissions: Option<&[String]>) -> Result<User> {
        let _serial = self.admin_changes.lock().await;
        let user = self.find(username).await?;
        let role = parse_role(role)?;
        let perms = match permissions {
            Some(list) => parse_names(list)?,
            None => names(&role.default_permissions()),
        };
        self.ensure_an_admin_remains(&user, |u| {
            Some(User { role: role.as_str().into(), permissions: perms.clone(), ..u.clone() })
        })
        .await?;
        self.users.set_role_and_permissions(user.id, role.as_str(), &perms).await?;
        self.find(username).await
    }

    /// Replaces a user's permissions; the role stays.
    pub async fn set_permissions(&self, actor: &Actor, username: &str, permissions: &[String]) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        let result = self.set_permissions_inner(username, permissions).await;
        let detail = result.as_ref().map(|u| u.permissions.join(" ")).unwrap_or_default();
        self.audit.record(Record::of(actor, "user.permissions", Some(username), &result, detail)).await?;
        result
    }

    async fn set_permissions_inner(&self, username: &str, permissions: &[String]) -> Result<User> {
        let _serial = self.admin_changes.lock().await;
        let user = self.find(username).await?;
        let perms = parse_names(permissions)?;
        self.ensure_an_admin_remains(&user, |u| Some(User { permissions: perms.clone(), ..u.clone() })).await?;
        self.users.set_role_and_permissions(user.id, &user.role, &perms).await?;
        self.find(username).await
    }

    /// Activates or deactivates a user; deactivation ends their sessions and stops their
    /// tokens at once.
    pub async fn set_active(&self, actor: &Actor, username: &str, active: bool) -> Result<User> {
        actor.require(Permission::ManageUsers)?;
        let result = self.set_active_inner(actor, username, active).await;
        let action = if active { "user.activate" } else { "user.deactivate" };
        self.audit.record(Record::of(actor, action, Some(username), &result, String::new())).await?;
        result
    }

    async fn set_active_inner(&self, actor: &Actor, username: &str, active: bool) -> Result<User> {
        let _serial = self.admin_changes.lock().await;
        let user = self.find(username).await?;
        if !active {
            if user.id == actor.user_id {
                return Err(Error::Conflict("you cannot deactivate your own account".into()));
            }
            self.ensure_an_admin_remains(&user, |u| Some(User { active: false, ..u.clone() })).await?;
        }
        self.users.set_active(user.id, active).await?;
        if !active {
            self.sessions.end_all_for_user(user.id).await?;
        }
        self.find(username).await
    }

    async fn find(&self, username: &str) -> Result<User> {
        self.users.by_username(username).await?.ok_or_else(|| Error::NotFound(format!("no user named {username}")))
    }

    /// Refuses a change to `target` (`after` gives its new state, `None` = deleted) that would
    /// leave no active admin able to manage users.
    async fn ensure_an_admin_remains(&self, target: &User, after: impl Fn(&User) -> Option<User>) -> Result<()> {
        let can_administer = |u: &User| {
            u.active
                && u.role == Role::Admin.as_str()
                && u.permissions.iter().any(|p| p == Permission::ManageUsers.as_str())
        };
        if !can_administer(target) {
            return Ok(());
        }
        let remaining = self
            .users
            .list()
            .await?
            .iter()
            .filter_map(|u| if u.id == target.id { after(u) } else { Some(u.clone()) })
            .filter(can_administer)
            .count();
        if remaining == 0 {
            return Err(Error::Conflict(format!(
                "{} is the last active admin who can manage users; make another admin first",
                target.username
            )));
        }
        Ok(())
    }
}
