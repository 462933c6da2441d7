//! Server-side sessions. The browser holds a random session secret in an HttpOnly cookie; the
//! database holds only its SHA-256. A session ends at an idle timeout, at an absolute timeout,
//! at logout, or when its user's password changes or the user is deactivated.

use sqlx::Row;

use super::tokens::{digest, random_secret};
use crate::{clock, Database, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Ends after this long without a request.
    pub idle_ms: i64,
    /// Ends this long after login, however active.
    pub absolute_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle_ms: 30 * 60 * 1000, absolute_ms: 12 * 60 * 60 * 1000 }
    }
}

/// What the browser gets at login: shown once, never stored in clear.
#[derive(Clone)]
pub struct NewSession {
    pub secret: String,
    pub csrf_token: String,
    pub expires_at: i64,
}

#[derive(Clone, PartialEq)]
pub struct Session {
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

// Secrets stay out of debug output (and so out of any log line that prints these).
impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct SessionStore {
    db: Database,
    policy: SessionPolicy,
}

/// Refresh `last_seen_at` at most this often: one write per minute per session is plenty for
/// an idle timeout measured in minutes, and spares the database a write per request.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

impl SessionStore {
    pub fn new(db: Database, policy: SessionPolicy) -> Self {
        SessionStore { db, policy }
    }

    pub async fn create(&self, user_id: i64, source_ip: Option<&str>, user_agent: Option<&str>) -> Result<NewSession> {
        let now = clock::now_ms();
        let new = NewSession {
            secret: random_secret(),
            csrf_token: random_secret(),
            expires_at: now + self.policy.absolute_ms,
        };
        sqlx::query(
            "INSERT INTO sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at, source_ip, user_agent) \
             VALUES ($1, $2, $3, $4, $4, $5, $6, $7)",
        )
        .bind(digest(&new.secret))
        .bind(user_id)
        .bind(&new.csrf_token)
        .bind(now)
        .bind(new.expires_at)
        .bind(source_ip)
        .bind(user_agent.map(|ua| ua.chars().take(256).collect::<String>()))
        .execute(self.db.pool())
        .await?;
        Ok(new)
    }

    /// The live session for a secret, refreshing its idle clock; expired sessions are removed.
    pub async fn resolve(&self, secret: &str) -> Result<Option<Session>> {
        let id = digest(secret);
        let row =
            sqlx::query("SELECT user_id, csrf_token, created_at, last_seen_at, expires_at FROM sessions WHERE id = $1")
                .bind(&id)
                .fetch_optional(self.db.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let session = Session {
            user_id: row.try_get("user_id")?,
            csrf_token: row.try_get("csrf_token")?,
            created_at: row.try_get("created_at")?,
            last_seen_at: row.try_get("last_seen_at")?,
            expires_at: row.try_get("expires_at")?,
        };
        let now = clock::now_ms();
        if now >= session.expires_at || now - session.last_seen_at >= self.policy.idle_ms {
            sqlx::query("DELETE FROM sessions WHERE id = $1").bind(&id).execute(self.db.pool()).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
                .bind(now)
                .bind(&id)
                .execute(self.db.pool())
                .await?;
        }
        Ok(Some(session))
    }

    /// Logout: `false` when there was no such session.
    pub async fn end(&self, secret: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE id = $1").bind(digest(secret)).execute(self.db.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Ends every session of a user (password change, deactivation); returns how many.
    pub async fn end_all_for_user(&self, user_id: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(self.db.pool()).await?;
        Ok(done.rows_affected())
    }
}
