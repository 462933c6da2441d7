//! What every server function needs from the request: the domain services and the acting
//! user, and domain errors turned into messages for the page.

use leptos::prelude::*;

pub fn services() -> Result<domain::Services, ServerFnError> {
    use_context::<domain::Services>().ok_or_else(|| ServerFnError::new("services are not available"))
}

/// The acting user; "authentication required" (401, like REST) when the request has none.
pub fn actor() -> Result<domain::auth::Actor, ServerFnError> {
    signed_in().ok_or_else(|| fail(domain::Error::Unauthenticated))
}

/// The acting user if there is one, for functions that also answer anonymous callers (with no
/// error status: their answer is a success either way).
pub fn signed_in() -> Option<domain::auth::Actor> {
    use_context::<domain::auth::Actor>()
}

/// Domain errors reach the page as their message (internal causes stay in the log), with the
/// same HTTP status the REST door gives them: bad input is a 4xx here too, not a server error.
pub fn fail(e: domain::Error) -> ServerFnError {
    let status = http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    // Only for a call through `/sfn/…`: during server-side rendering the same function runs
    // inside a page, whose own status must not change because one panel failed.
    let is_call = use_context::<http::request::Parts>().is_some_and(|p| p.uri.path().starts_with("/sfn/"));
    if let (true, Some(response)) = (is_call, use_context::<leptos_axum::ResponseOptions>()) {
        response.set_status(status);
    }
    if let domain::Error::Internal(cause) = &e {
        tracing::error!(%cause, "internal error in a server function");
        return ServerFnError::new("internal error; see the server log");
    }
    ServerFnError::new(e.to_string())
}
