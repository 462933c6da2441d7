//! API tokens for scripts: `Authorization: Bearer pft_…`. The secret is shown once at creation;
//! the database keeps its SHA-256 and a short prefix for recognising it in lists. A token acts
//! with its user's current permissions and stops working the moment it is revoked, expires,
//! or its user is deactivated or deleted.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::tokens::{digest, random_secret};
use crate::{clock, Database, Error, Result};

/// Every token starts with this, so leaked tokens are easy to grep for and scanners can
/// recognise them.
pub const TOKEN_PREFIX: &str = "pft_";
const SHOWN_PREFIX_LEN: usize = TOKEN_PREFIX.len() + 8;

pub use model::auth::ApiToken;

/// A token just made, with its secret (shown once).
#[derive(Clone)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

impl std::fmt::Debug for NewToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewToken").field("token", &self.token).field("secret", &"<redacted>").finish()
    }
}

#[derive(Debug, Clone)]
pub struct TokenStore {
    db: Database,
}

const COLUMNS: &str = "id, user_id, name, prefix, created_at, expires_at, last_used_at, revoked_at";

/// Record `last_used_at` at most this often per token.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

impl TokenStore {
    pub fn new(db: Database) -> Self {
        TokenStore { db }
    }

    pub async fn create(&self, user_id: i64, name: &str, expires_at: Option<i64>) -> Result<NewToken> {
        let name = name.trim();
        if name.is_empty() || name.chars().nth(crate::limits::NAME).is_some() {
            return Err(Error::validation("name", format!("a token name is 1–{} characters", crate::limits::NAME)));
        }
        let now = clock::now_ms();
        if expires_at.is_some_and(|e| e <= now) {
            return Err(Error::validation("expires_at", "the expiry must be in the future"));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_secret());
        let prefix: String = secret.chars().take(SHOWN_PREFIX_LEN).collect();
        let digest = digest(&secret);
        sqlx::query(
            "INSERT INTO api_tokens (user_id, name, prefix, token_digest, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user_id)
        .bind(name)
        .bind(&prefix)
        .bind(&digest)
        .bind(now)
        .bind(expires_at)
        .execute(self.db.pool())
        .await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE token_digest = $1"))
            .bind(&digest)
            .fetch_one(self.db.pool())
            .await?;
        Ok(NewToken { token: from_row(&row)?, secret })
    }

    pub async fn list_for_user(&self, user_id: i64) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC"
        ))
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    pub async fn get(&self, id: i64) -> Result<Option<ApiToken>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Revokes a token; `false` if it was already revoked.
    pub async fn revoke(&self, id: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(clock::now_ms())
            .bind(id)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Revokes every live token of a user (after an admin password reset).
    pub async fn revoke_all_for_user(&self, user_id: i64) -> Result<u64> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(clock::now_ms())
            .bind(user_id)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// The live token for a presented secret (its user is checked by the caller).
    pub async fn resolve(&self, secret: &str) -> Result<Option<ApiToken>> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM api_tokens WHERE token_digest = $1"))
            .bind(digest(secret))
            .fetch_optional(self.db.pool())
            .await?;
        let Some(token) = row.as_ref().map(from_row).transpose()? else { return Ok(None) };
        let now = clock::now_ms();
        if !token.is_usable(now) {
            return Ok(None);
        }
        if token.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(token.id)
                .execute(self.db.pool())
                .await?;
        }
        Ok(Some(token))
    }
}

fn from_row(row: &AnyRow) -> Result<ApiToken> {
    let mut token = ApiToken {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        name: row.try_get("name")?,
        prefix: row.try_get("prefix")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
        active: false,
    };
    token.active = token.is_usable(clock::now_ms());
    Ok(token)
}
