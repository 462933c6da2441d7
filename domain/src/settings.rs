//! Key/value settings stored as JSON text (default datastores, retention, monitoring URLs…).
//! Later features own their keys; this module only stores and validates them.

use serde_json::Value;
use sqlx::Row;

use crate::{clock, Database, Error, Result};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Setting {
    pub key: String,
    pub value: Value,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct SettingsStore {
    db: Database,
}

const MAX_KEY_LEN: usize = 128;

impl SettingsStore {
    pub fn new(db: Database) -> Self {
        SettingsStore { db }
    }

    pub async fn get(&self, key: &str) -> Result<Option<Value>> {
        let row =
            sqlx::query("SELECT value FROM settings WHERE key = $1").bind(key).fetch_optional(self.db.pool()).await?;
        match row {
            None => Ok(None),
            Some(row) => {
                let text: String = row.try_get("value")?;
                serde_json::from_str(&text)
                    .map(Some)
                    .map_err(|e| Error::Internal(format!("setting {key} holds invalid JSON: {e}")))
            }
        }
    }

    pub async fn set(&self, key: &str, value: &Value) -> Result<()> {
        validate_key(key)?;
        sqlx::query(
            "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value.to_string())
        .bind(clock::now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Removes a setting; `false` when there was none.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM settings WHERE key = $1").bind(key).execute(self.db.pool()).await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn list(&self) -> Result<Vec<Setting>> {
        let rows =
            sqlx::query("SELECT key, value, updated_at FROM settings ORDER BY key").fetch_all(self.db.pool()).await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("key")?;
                let text: String = row.try_get("value")?;
                let value = serde_json::from_str(&text)
                    .map_err(|e| Error::Internal(format!("setting {key} holds invalid JSON: {e}")))?;
                Ok(Setting { key, value, updated_at: row.try_get("updated_at")? })
            })
            .collect()
    }
}

fn validate_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "key",
            format!("setting keys are 1–{MAX_KEY_LEN} characters of a-z, 0-9, '.', '_' or '-'"),
        ))
    }
}
