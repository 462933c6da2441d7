//! The domain's one error type. The HTTP layer maps each variant to a status exactly once
//! (`server::api::error`), so a handler never chooses a status code by hand.

use serde_json::Value;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input; `field` names what to fix (400).
    #[error("{message}")]
    Validation { field: Option<String>, message: String, details: Option<Value> },
    /// Not logged in, or credentials no longer valid (401).
    #[error("authentication required")]
    Unauthenticated,
    /// Any failed login (401). One message whatever the cause — unknown user, wrong password,
    /// deactivated account, lockout — so the answer never tells which usernames exist.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// Logged in but not allowed (403).
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with existing state: duplicates, locks, in-use objects (409).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but semantically impossible (422).
    #[error("{0}")]
    Unprocessable(String),
    /// Proxmox (or another upstream) failed or is unreachable (502).
    #[error("{0}")]
    Upstream(String),
    /// We cannot serve right now: database down, shutting down, over capacity (503).
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure. The message is logged; callers see a generic text.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation { field: Some(field.into()), message: message.into(), details: None }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Error::NotFound("record not found".into()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable("database unavailable".into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Error::Conflict("already exists".into())
            }
            _ => Error::Internal(format!("database: {err}")),
        }
    }
}
