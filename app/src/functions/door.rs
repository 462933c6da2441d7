//! What every server function needs from the request: the domain services and the acting
//! user, and domain errors turned into the `AppError` the page receives.

use leptos::prelude::*;
use model::AppError;

pub fn services() -> Result<domain::Services, AppError> {
    use_context::<domain::Services>().ok_or_else(|| AppError::new(503, "services are not available"))
}

/// The acting user; "authentication required" (401, like REST) when the request has none.
pub fn actor() -> Result<domain::auth::Actor, AppError> {
    signed_in().ok_or_else(|| fail(domain::Error::Unauthenticated))
}

/// The acting user if there is one, for functions that also answer anonymous callers (with no
/// error status: their answer is a success either way).
pub fn signed_in() -> Option<domain::auth::Actor> {
    use_context::<domain::auth::Actor>()
}

/// Domain errors reach the page with the status the REST door gives them (`Error::status`),
/// their message, and for bad input the field and details, so a form can mark the input to
/// fix. Internal causes stay in the log. (The server answers a `/sfn/…` call with the error's
/// status: `server::site::with_error_status`.)
pub fn fail(e: domain::Error) -> AppError {
    let status = e.status();
    match e {
        domain::Error::Internal(cause) => {
            tracing::error!(%cause, "internal error in a server function");
            AppError::new(status, "internal error; see the server log")
        }
        domain::Error::Validation { field, message, details } => AppError {
            status,
            message,
            field,
            details: details.and_then(|d| leptos::serde_json::value::to_raw_value(&d).ok()),
        },
        domain::Error::Stale { message, details } => AppError {
            status,
            message,
            field: Some("digest".into()),
            details: leptos::serde_json::value::to_raw_value(&details).ok(),
        },
        other => AppError::new(status, other.to_string()),
    }
}

/// A wire value that did not parse, answered like any bad input.
pub fn invalid(e: model::Invalid) -> AppError {
    fail(e.into())
}
