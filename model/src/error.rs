//! Errors as they cross the wire.
//!
//! - [`Invalid`]: what a parse in this crate returns (the field and why); the domain turns it
//!   into its validation error, so both doors answer it as a 400 naming the field.
//! - [`AppError`]: a failed call as the page receives it — the HTTP status, the message, and
//!   the field and details REST callers also get. Server functions return it, so a form can
//!   highlight the input that was wrong instead of showing a bare string.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Bad input found while parsing a wire value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

impl Invalid {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Invalid { field: field.into(), message: message.into() }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Invalid {}

/// A failed call, as the page sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppError {
    /// The HTTP status the REST door gives the same error (400, 403, 404, 409, 502…).
    pub status: u16,
    pub message: String,
    /// The input to fix, for a validation error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// More about it: the per-server errors of a bulk request, … Kept as JSON text, parsed
    /// where it is used (a `Value` parser in every page would cost a few per cent of the WASM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<RawValue>>,
}

impl PartialEq for AppError {
    fn eq(&self, other: &Self) -> bool {
        let details = |e: &AppError| e.details.as_ref().map(|d| d.get().to_owned());
        (self.status, &self.message, &self.field) == (other.status, &other.message, &other.field)
            && details(self) == details(other)
    }
}

impl AppError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        AppError { status, message: message.into(), field: None, details: None }
    }

    /// Whether this error is about `field` (a bulk request names `servers[0].name` for the
    /// first server's name, which is also about `name`).
    pub fn is_about(&self, field: &str) -> bool {
        self.field.as_deref().is_some_and(|f| f == field || f.ends_with(&format!(".{field}")))
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl From<Invalid> for AppError {
    fn from(e: Invalid) -> Self {
        AppError { status: 400, message: e.message, field: Some(e.field), details: None }
    }
}

#[cfg(feature = "server-fn")]
mod server_fn_error {
    use server_fn::codec::JsonEncoding;
    use server_fn::error::{FromServerFnError, ServerFnErrorErr};

    use super::AppError;

    /// Failures of the call itself (the network, a body that does not decode, no such
    /// function) become an `AppError` with the status they would have had.
    impl FromServerFnError for AppError {
        type Encoder = JsonEncoding;

        fn from_server_fn_error(e: ServerFnErrorErr) -> Self {
            let status = match &e {
                ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => 400,
                // On the server this is a request body that does not decode (bad input); in the
                // browser, an answer that does not (the server or a proxy in between is wrong).
                ServerFnErrorErr::Deserialization(_) if cfg!(target_arch = "wasm32") => 502,
                ServerFnErrorErr::Deserialization(_) => 400,
                ServerFnErrorErr::Registration(_) => 404,
                ServerFnErrorErr::Request(_) | ServerFnErrorErr::Response(_) => 503,
                _ => 500,
            };
            AppError::new(status, e.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_about_its_field_and_the_same_field_of_one_server() {
        let e = AppError { field: Some("servers[0].name".into()), ..AppError::new(400, "bad") };
        assert!(e.is_about("name"));
        assert!(!e.is_about("cores"));
        assert!(AppError::from(Invalid::new("name", "x")).is_about("name"));
        assert!(!AppError::new(500, "x").is_about("name"));
    }
}
