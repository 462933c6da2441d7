//! Logging in and out, resolving who a request comes from, a user's own password and API
//! tokens, and the first administrator.

use std::sync::{Arc, OnceLock};

use super::actor::{check, Access, Actor, AuthMethod};
use super::api_tokens::{ApiToken, NewToken, TokenStore};
use super::lockout::{Attempt, LoginLimiter};
use super::password;
use super::sessions::{NewSession, Session, SessionStore};
use super::tokens::random_secret;
use super::{Permission, Role};
use crate::audit::{AuditLog, Record};
use crate::notifications::{Notification, Notifications, Severity};
use crate::users::{NewUser, User, UserStore};
use crate::{clock, Error, Result};

#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    pub session: NewSession,
}

#[derive(Debug, Clone)]
pub struct AuthService {
    users: UserStore,
    sessions: SessionStore,
    tokens: TokenStore,
    audit: AuditLog,
    limiter: Arc<LoginLimiter>,
    notifications: Notifications,
}

/// Where a login comes from, for the lockout, the session record and the audit log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// Verified against when the user does not exist, so unknown names cost as much time as
/// known ones and timing does not reveal which accounts exist.
fn dummy_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| password::hash(&random_secret()).unwrap_or_default())
}

impl AuthService {
    pub fn new(
        users: UserStore,
        sessions: SessionStore,
        tokens: TokenStore,
        audit: AuditLog,
        limiter: Arc<LoginLimiter>,
        notifications: Notifications,
    ) -> Self {
        AuthService { users, sessions, tokens, audit, limiter, notifications }
    }

    /// Tells a user about something done with their account (login, password change).
    async fn tell(&self, user_id: i64, kind: &str, title: &str, message: String) -> Result<()> {
        self.notifications
            .create(&Notification {
                user_id: Some(user_id),
                kind: kind.into(),
                title: title.into(),
                message,
                details: String::new(),
                severity: Severity::Info,
                job_id: None,
                ..Default::default()
            })
            .await
            .map(|_| ())
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Checks the credentials and opens a session. Every failure is `InvalidCredentials`; the
    /// audit log (admins only) records the real reason.
    pub async fn login(&self, username: &str, password: &str, origin: Origin<'_>) -> Result<LoggedIn> {
        let now = clock::now_ms();
        // Usernames are attacker-chosen here: anything longer than a valid name is refused
        // before it reaches the limiter (whose memory it would fill) or the database.
        let attempted: String = username.chars().take(64).collect();
        if attempted.len() < username.len() {
            password::verify_blocking(password.to_owned(), dummy_hash().to_owned()).await;
            return Err(Error::InvalidCredentials);
        }
        // Counted before the (slow) verification, so parallel guesses cannot overtake the limit.
        let attempt = self.limiter.begin(username, origin.ip, now);
        let (allowed, slowed) = match attempt {
            Attempt::Locked => (false, String::new()),
            Attempt::Allowed { delay, .. } if delay.is_zero() => (true, String::new()),
            Attempt::Allowed { delay, recent_failures } => {
                // A username under attack: slow every attempt for it, never refuse the real
                // user outright (see `lockout`).
                tokio::time::sleep(delay).await;
                (
                    true,
                    format!(
                        " (slowed by {} ms after {recent_failures} recent failures for this username)",
                        delay.as_millis()
                    ),
                )
            }
        };
        let user = self.users.by_username(username).await?;
        let hash = user.as_ref().map_or_else(|| dummy_hash().to_owned(), |u| u.password_hash.clone());
        // Always pay for one verification, locked or not, known user or not.
        let matches = password::verify_blocking(password.to_owned(), hash).await;
        let refusal = match &user {
            _ if !allowed => Some("locked out: too many failures from this address"),
            None => Some("unknown user"),
            Some(_) if !matches => Some("wrong password"),
            Some(u) if !u.active => Some("account deactivated"),
            Some(_) => None,
        };
        let record = |success: bool, detail: &str| Record {
            actor: success.then_some(attempted.as_str()),
            action: "login",
            target: Some(&attempted),
            source_ip: origin.ip,
            success,
            detail: detail.to_owned(),
        };
        let user = match (user, refusal) {
            (Some(u), None) => u,
            (_, Some(reason)) => {
                self.audit.record(record(false, &format!("{reason}{slowed}"))).await?;
                return Err(Error::InvalidCredentials);
            }
            (None, None) => return Err(Error::InvalidCredentials),
        };
        self.limiter.succeeded(username, origin.ip);
        self.users.record_login(user.id, now).await?;
        let session = self.sessions.create(user.id, origin.ip, origin.user_agent).await?;
        self.audit.record(record(true, slowed.trim_start())).await?;
        self.tell(
            user.id,
            "login",
            "Signed in",
            format!("Signed in from {}", origin.ip.unwrap_or("an unknown address")),
        )
        .await?;
        let user = User { last_login_at: Some(now), ..user };
        Ok(LoggedIn { user, session })
    }

    /// Ends the caller's session.
    pub async fn logout(&self, actor: &Actor, session_secret: &str) -> Result<()> {
        self.sessions.end(session_secret).await?;
        self.audit.record(Record::of(actor, "logout", Some(&actor.username), &Ok(()), String::new())).await
    }

    /// The caller behind a session cookie, if the session is live and its user active.
    pub async fn authenticate_session(&self, secret: &str, ip: Option<String>) -> Result<Option<(Actor, Session)>> {
        let Some(session) = self.sessions.resolve(secret).await? else { return Ok(None) };
        match self.users.by_id(session.user_id).await? {
            Some(user) if user.active => Ok(Some((Actor::from_user(&user, AuthMethod::Session, ip), session))),
            _ => Ok(None),
        }
    }

    /// The caller behind an API token, if the token is live and its user active.
    pub async fn authenticate_token(&self, secret: &str, ip: Option<String>) -> Result<Option<Actor>> {
        let Some(token) = self.tokens.resolve(secret).await? else { return Ok(None) };
        match self.users.by_id(token.user_id).await? {
            Some(user) if user.active => Ok(Some(Actor::from_user(&user, AuthMethod::Token, ip))),
            _ => Ok(None),
        }
    }

    /// The caller's own record.
    pub async fn me(&self, actor: &Actor) -> Result<User> {
        self.users.by_id(actor.user_id).await?.ok_or(Error::Unauthenticated)
    }

    /// Changes the caller's own password. Every session of the user ends; a browser caller
    /// gets a fresh session back so they stay logged in on this device only.
    pub async fn change_own_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        confirm: Option<&str>,
        origin: Origin<'_>,
    ) -> Result<Option<NewSession>> {
        let result = self.change_own_password_inner(actor, current, new, confirm, origin).await;
        self.audit.record(Record::of(actor, "password.change", Some(&actor.username), &result, String::new())).await?;
        result
    }

    async fn change_own_password_inner(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        confirm: Option<&str>,
        origin: Origin<'_>,
    ) -> Result<Option<NewSession>> {
        let user = self.me(actor).await?;
        if confirm.is_some_and(|c| c != new) {
            return Err(Error::validation("confirm_password", "the new password and its confirmation differ"));
        }
        // Guessing the current password with a stolen session is throttled like a login.
        match self.limiter.begin(&user.username, origin.ip, clock::now_ms()) {
            Attempt::Locked => {
                return Err(Error::validation("current_password", "too many wrong passwords; try again later"))
            }
            Attempt::Allowed { delay, .. } => tokio::time::sleep(delay).await,
        }
        if !password::verify_blocking(current.to_owned(), user.password_hash.clone()).await {
            return Err(Error::validation("current_password", "the current password is not correct"));
        }
        self.limiter.succeeded(&user.username, origin.ip);
        if current == new {
            return Err(Error::validation("new_password", "the new password must differ from the current one"));
        }
        password::check_policy_as("new_password", &user.username, new)?;
        let hash = password::hash_blocking(new.to_owned()).await?;
        self.users.set_password_hash(user.id, &hash, false).await?;
        self.sessions.end_all_for_user(user.id).await?;
        self.tell(
            user.id,
            "password",
            "Password changed",
            "Your password was changed; other sessions were signed out.".into(),
        )
        .await?;
        if actor.method == AuthMethod::Session {
            Ok(Some(self.sessions.create(user.id, origin.ip, origin.user_agent).await?))
        } else {
            Ok(None)
        }
    }

    /// A new API token for the caller; the secret is in the result and nowhere else.
    pub async fn create_token(&self, actor: &Actor, name: &str, expires_at: Option<i64>) -> Result<NewToken> {
        check(Access::BrowserSession, Some(actor))?;
        let result = self.tokens.create(actor.user_id, name, expires_at).await;
        let detail = format!("token {:?}", name.chars().take(64).collect::<String>());
        self.audit.record(Record::of(actor, "token.create", Some(&actor.username), &result, detail)).await?;
        result
    }

    pub async fn list_tokens(&self, actor: &Actor) -> Result<Vec<ApiToken>> {
        check(Access::BrowserSession, Some(actor))?;
        self.tokens.list_for_user(actor.user_id).await
    }

    /// Revokes one of the caller's tokens (or anyone's, with `manage_users`).
    pub async fn revoke_token(&self, actor: &Actor, id: i64) -> Result<ApiToken> {
        check(Access::BrowserSession, Some(actor))?;
        let result = self.revoke_token_inner(actor, id).await;
        let detail = format!("token #{id}");
        let target = result.as_ref().ok().map(|(_, owner)| owner.clone());
        self.audit.record(Record::of(actor, "token.revoke", target.as_deref(), &result, detail)).await?;
        result.map(|(t, _)| t)
    }

    async fn revoke_token_inner(&self, actor: &Actor, id: i64) -> Result<(ApiToken, String)> {
        let not_found = || Error::NotFound(format!("no API token #{id}"));
        let token = self.tokens.get(id).await?.ok_or_else(not_found)?;
        if token.user_id != actor.user_id && !actor.has(Permission::ManageUsers) {
            // Someone else's token is none of the caller's business: same answer as missing.
            return Err(not_found());
        }
        self.tokens.revoke(id).await?;
        let owner = self.users.by_id(token.user_id).await?.map(|u| u.username).unwrap_or_default();
        let token = self.tokens.get(id).await?.ok_or_else(not_found)?;
        Ok((token, owner))
    }

    /// On first start (no users at all) creates `admin`. With `chosen_password` (the operator's
    /// own, from the environment) it is used as is; otherwise a random one-time password is
    /// generated, returned for printing once, and must be changed at first login.
    pub async fn ensure_first_admin(&self, chosen_password: Option<&str>) -> Result<Option<String>> {
        if self.users.count().await? > 0 {
            return Ok(None);
        }
        let (secret, must_change) = match chosen_password {
            Some(p) if !p.is_empty() => {
                // The operator's own choice is used as is, but a weak one is refused.
                password::check_policy("admin", p)?;
                (p.to_owned(), false)
            }
            _ => (random_secret().chars().take(20).collect::<String>(), true),
        };
        let hash = password::hash_blocking(secret.clone()).await?;
        let permissions: Vec<String> =
            Role::Admin.default_permissions().iter().map(|p| p.as_str().to_owned()).collect();
        let created = self
            .users
            .create(NewUser {
                username: "admin",
                password_hash: &hash,
                role: Role::Admin.as_str(),
                permissions: &permissions,
                must_change_password: must_change,
                name: "Administrator",
                ..Default::default()
            })
            .await;
        match created {
            Ok(_) => {
                let detail = if must_change {
                    "first start, one-time password"
                } else {
                    "first start, password from the environment"
                };
                self.audit
                    .record(Record {
                        action: "user.create",
                        target: Some("admin"),
                        success: true,
                        detail: detail.into(),
                        ..Default::default()
                    })
                    .await?;
                Ok(must_change.then_some(secret))
            }
            // Another instance on the same database won the race: it printed the password.
            Err(Error::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
