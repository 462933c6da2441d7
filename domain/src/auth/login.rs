//! Logging in, and the first administrator.

use std::sync::Arc;

use super::lockout::LoginLimiter;
use super::password;
use super::permissions::Role;
use super::sessions::{NewSession, SessionStore};
use super::tokens::random_secret;
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
    limiter: Arc<LoginLimiter>,
    /// Verified against when the user does not exist, so unknown names cost as much time as
    /// known ones and timing does not reveal which accounts exist.
    dummy_hash: Arc<String>,
}

/// Where a login comes from, for the lockout and the session record.
#[derive(Debug, Clone, Copy, Default)]
pub struct Origin<'a> {
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl AuthService {
    pub fn new(users: UserStore, sessions: SessionStore, limiter: Arc<LoginLimiter>) -> Result<Self> {
        let dummy_hash = Arc::new(password::hash(&random_secret())?);
        Ok(AuthService { users, sessions, limiter, dummy_hash })
    }

    pub fn sessions(&self) -> &SessionStore {
        &self.sessions
    }

    /// Checks the credentials and opens a session. Every failure is `InvalidCredentials`.
    pub async fn login(&self, username: &str, password: &str, origin: Origin<'_>) -> Result<LoggedIn> {
        let now = clock::now_ms();
        let locked = self.limiter.is_locked(username, origin.ip, now);
        let user = self.users.by_username(username).await?;
        let hash = user.as_ref().map_or_else(|| self.dummy_hash.as_str().to_owned(), |u| u.password_hash.clone());
        // Always pay for one verification, locked or not, known user or not.
        let matches = password::verify_blocking(password.to_owned(), hash).await;
        let user = match user {
            Some(u) if matches && u.active && !locked => u,
            _ => {
                self.limiter.record_failure(username, origin.ip, now);
                return Err(Error::InvalidCredentials);
            }
        };
        self.limiter.record_success(username);
        self.users.record_login(user.id, now).await?;
        let session = self.sessions.create(user.id, origin.ip, origin.user_agent).await?;
        let user = User { last_login_at: Some(now), ..user };
        Ok(LoggedIn { user, session })
    }

    /// On first start (no users at all) creates `admin`. With `chosen_password` (the operator's
    /// own, from the environment) it is used as is; otherwise a random one-time password is
    /// generated, returned for printing once, and must be changed at first login.
    pub async fn ensure_first_admin(&self, chosen_password: Option<&str>) -> Result<Option<String>> {
        if self.users.count().await? > 0 {
            return Ok(None);
        }
        let (secret, must_change) = match chosen_password {
            Some(p) if !p.is_empty() => (p.to_owned(), false),
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
            })
            .await;
        match created {
            Ok(_) => Ok(must_change.then_some(secret)),
            // Another instance on the same database won the race: it printed the password.
            Err(Error::Conflict(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
