//! What every server function needs from the request: the domain services and the acting
//! user, and domain errors turned into messages for the page.

use leptos::prelude::*;

pub fn services() -> Result<domain::Services, ServerFnError> {
    use_context::<domain::Services>().ok_or_else(|| ServerFnError::new("services are not available"))
}

/// The acting user; "authentication required" when the request has none.
pub fn actor() -> Result<domain::auth::Actor, ServerFnError> {
    use_context::<domain::auth::Actor>().ok_or_else(|| ServerFnError::new(domain::Error::Unauthenticated.to_string()))
}

/// Domain errors reach the page as their message (internal causes stay in the log).
pub fn fail(e: domain::Error) -> ServerFnError {
    if let domain::Error::Internal(cause) = &e {
        tracing::error!(%cause, "internal error in a server function");
        return ServerFnError::new("internal error; see the server log");
    }
    ServerFnError::new(e.to_string())
}
