//! Who is acting, and the one access decision every door uses.
//!
//! The HTTP route table (`server::api::routes`) declares an [`Access`] per endpoint and calls
//! [`check`] before the handler runs; services also take the [`Actor`] and check the permission
//! of what they do, so a server function or a future caller cannot skip the rule.

use std::collections::BTreeSet;

use super::{parse_permissions, Permission, Role};
use crate::users::User;
use crate::{Error, Result};

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A browser session cookie.
    Session,
    /// `Authorization: Bearer …` with an API token.
    Token,
}

/// An authenticated caller, as resolved once per request.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub permissions: BTreeSet<Permission>,
    pub method: AuthMethod,
    /// Set after a one-time password or an admin reset: until changed, only the password
    /// change and session endpoints answer.
    pub must_change_password: bool,
    /// The caller's address, for the audit log.
    pub source_ip: Option<String>,
}

impl Actor {
    pub fn from_user(user: &User, method: AuthMethod, source_ip: Option<String>) -> Actor {
        // Stored names were validated on the way in; an unknown one (from a newer version,
        // say) grants nothing rather than failing the request.
        let permissions = user.permissions.iter().filter_map(|p| parse_permissions(&[p]).ok()).flatten().collect();
        Actor {
            user_id: user.id,
            username: user.username.clone(),
            role: user.role.clone(),
            permissions,
            method,
            must_change_password: user.must_change_password,
            source_ip,
        }
    }

    pub fn has(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// `Forbidden` naming the missing permission. Nothing that needs a permission is allowed
    /// before a forced password change.
    pub fn require(&self, p: Permission) -> Result<()> {
        if self.must_change_password {
            Err(Error::Forbidden("change your password first (POST /change-password)".into()))
        } else if self.has(p) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("this needs the {p} permission")))
        }
    }

    /// Anything a signed-in user may do once their password is current.
    pub fn require_current(&self) -> Result<()> {
        if self.must_change_password {
            Err(Error::Forbidden("change your password first (POST /change-password)".into()))
        } else {
            Ok(())
        }
    }

    pub fn is_admin(&self) -> bool {
        Role::parse(&self.role) == Some(Role::Admin)
    }
}

/// Who may call an endpoint. Declared once per route in the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not: health, metrics, docs, the login form.
    Public,
    /// Any logged-in caller, even one who must still change their password (the password
    /// change itself, logout, session and current-user reads).
    SignedIn,
    /// Any logged-in caller whose password is current.
    Authenticated,
    /// A logged-in browser session, not an API token: managing tokens with a token would let
    /// a leaked token mint its own successors.
    BrowserSession,
    /// Callers holding this permission.
    Permission(Permission),
}

impl Access {
    /// A short label for the generated permission table and logs.
    pub fn label(self) -> String {
        match self {
            Access::Public => "public".into(),
            Access::SignedIn => "signed in (also before a forced password change)".into(),
            Access::Authenticated => "authenticated".into(),
            Access::BrowserSession => "browser session (not an API token)".into(),
            Access::Permission(p) => format!("permission {p}"),
        }
    }
}

/// The access decision: `Unauthenticated` (401) without a caller, `Forbidden` (403) with the
/// wrong one.
pub fn check(access: Access, actor: Option<&Actor>) -> Result<()> {
    let actor = match (access, actor) {
        (Access::Public, _) => return Ok(()),
        (_, None) => return Err(Error::Unauthenticated),
        (_, Some(a)) => a,
    };
    if access == Access::SignedIn {
        return Ok(());
    }
    if actor.must_change_password {
        return Err(Error::Forbidden("change your password first (POST /change-password)".into()));
    }
    match access {
        Access::Public | Access::SignedIn | Access::Authenticated => Ok(()),
        Access::BrowserSession if actor.method == AuthMethod::Session => Ok(()),
        Access::BrowserSession => {
            Err(Error::Forbidden("API tokens cannot do this; log in with a browser session".into()))
        }
        Access::Permission(p) => actor.require(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(perms: &[Permission], method: AuthMethod, must_change: bool) -> Actor {
        Actor {
            user_id: 1,
            username: "kim".into(),
            role: "operator".into(),
            permissions: perms.iter().copied().collect(),
            method,
            must_change_password: must_change,
            source_ip: None,
        }
    }

    #[test]
    fn the_decision_table() {
        let op = actor(&[Permission::StartServer], AuthMethod::Session, false);
        let token = actor(&[Permission::StartServer], AuthMethod::Token, false);
        let pending = actor(Permission::ALL, AuthMethod::Session, true);
        let status = |access, who: Option<&Actor>| match check(access, who) {
            Ok(()) => 200,
            Err(Error::Unauthenticated) => 401,
            Err(Error::Forbidden(_)) => 403,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(status(Access::Public, None), 200);
        assert_eq!(status(Access::Authenticated, None), 401);
        assert_eq!(status(Access::Permission(Permission::StartServer), None), 401);
        assert_eq!(status(Access::Permission(Permission::StartServer), Some(&op)), 200);
        assert_eq!(status(Access::Permission(Permission::ManageUsers), Some(&op)), 403);
        assert_eq!(status(Access::BrowserSession, Some(&op)), 200);
        assert_eq!(status(Access::BrowserSession, Some(&token)), 403);
        assert_eq!(status(Access::Permission(Permission::StartServer), Some(&token)), 200);
        assert_eq!(status(Access::SignedIn, Some(&pending)), 200);
        assert_eq!(status(Access::Authenticated, Some(&pending)), 403);
        assert_eq!(status(Access::Permission(Permission::ManageUsers), Some(&pending)), 403);
    }
}
