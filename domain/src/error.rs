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
    /// The object changed since the caller read it (409): `details` carries what it is now
    /// (`field: "digest"`, `current_digest`, the current list), so the caller can show both.
    #[error("{message}")]
    Stale { message: String, details: Value },
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

/// A wire value that does not parse is bad input naming its field.
impl From<model::Invalid> for Error {
    fn from(e: model::Invalid) -> Self {
        Error::Validation { field: Some(e.field), message: e.message, details: None }
    }
}

impl Error {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation { field: Some(field.into()), message: message.into(), details: None }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Error::Validation { .. } => Kind::Validation,
            Error::Unauthenticated | Error::InvalidCredentials => Kind::Unauthenticated,
            Error::Forbidden(_) => Kind::Forbidden,
            Error::NotFound(_) => Kind::NotFound,
            Error::Conflict(_) | Error::Stale { .. } => Kind::Conflict,
            Error::Unprocessable(_) => Kind::Unprocessable,
            Error::Upstream(_) => Kind::Upstream,
            Error::Unavailable(_) => Kind::Unavailable,
            Error::Internal(_) => Kind::Internal,
        }
    }

    /// The HTTP status every door answers this error with.
    pub fn status(&self) -> u16 {
        self.kind().status()
    }
}

/// The kinds of failure, each with the one HTTP status both doors (REST and server functions)
/// answer it with, and what the OpenAPI document says about it. The route table
/// (`server::api::routes`) lists, per route, which kinds its service can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Validation,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    Unprocessable,
    Upstream,
    Unavailable,
    Internal,
}

impl Kind {
    pub const fn status(self) -> u16 {
        match self {
            Kind::Validation => 400,
            Kind::Unauthenticated => 401,
            Kind::Forbidden => 403,
            Kind::NotFound => 404,
            Kind::Conflict => 409,
            Kind::Unprocessable => 422,
            Kind::Upstream => 502,
            Kind::Unavailable => 503,
            Kind::Internal => 500,
        }
    }

    /// What the status means here, for the API reference.
    pub const fn meaning(self) -> &'static str {
        match self {
            Kind::Validation => "Bad input: `error` says what is wrong, `details.field` names the field",
            Kind::Unauthenticated => "Not signed in (no session or API token, or it expired)",
            Kind::Forbidden => "Signed in without the permission this needs (or a cookie write without CSRF proof)",
            Kind::NotFound => "No such object (or not one you may see)",
            Kind::Conflict => "Conflicts with the current state: a duplicate, an object in use, a lock",
            Kind::Unprocessable => "Well-formed, but impossible with what exists (e.g. a template without a boot disk)",
            Kind::Upstream => "Proxmox VE refused or failed the request",
            Kind::Unavailable => "The database or Proxmox VE cannot be reached right now",
            Kind::Internal => "A bug: the cause is in the server log",
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::RowNotFound => Error::NotFound("record not found".into()),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Error::Unavailable("database unavailable".into())
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => Error::Conflict("already exists".into()),
            _ => Error::Internal(format!("database: {err}")),
        }
    }
}
