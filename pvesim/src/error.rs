//! Errors in PVE's wire format: `{"data":null,"message":"…\n"}` (+ `errors` for parameter
//! failures); "not found" and "already exists" are 500s as on a real cluster, never 404/409.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[derive(Debug, Clone, PartialEq)]
pub struct SimError {
    pub status: StatusCode,
    pub message: String,
    pub errors: BTreeMap<String, String>,
}

impl SimError {
    /// A plain Perl `die`: 500 with the message.
    pub fn die(message: impl Into<String>) -> SimError {
        SimError { status: StatusCode::INTERNAL_SERVER_ERROR, message: message.into(), errors: BTreeMap::new() }
    }

    /// An answer with `status` (a number, e.g. pveproxy's own 595/596) and `message`.
    pub fn status(status: u16, message: impl Into<String>) -> SimError {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
        SimError { status, message: message.into(), errors: BTreeMap::new() }
    }

    /// 400 "Parameter verification failed." with per-parameter messages.
    pub fn params(errors: BTreeMap<String, String>) -> SimError {
        SimError { status: StatusCode::BAD_REQUEST, message: "Parameter verification failed.".into(), errors }
    }

    pub fn param(name: &str, message: impl Into<String>) -> SimError {
        let mut errors = BTreeMap::new();
        errors.insert(name.to_owned(), message.into());
        SimError::params(errors)
    }

    pub fn not_implemented(method: &str, path: &str) -> SimError {
        SimError {
            status: StatusCode::NOT_IMPLEMENTED,
            message: format!("Method '{method} {path}' not implemented"),
            errors: BTreeMap::new(),
        }
    }

    /// 401 from the authentication phase: an empty body, as pveproxy sends it.
    pub fn unauthorized(reason: &str) -> SimError {
        SimError { status: StatusCode::UNAUTHORIZED, message: reason.into(), errors: BTreeMap::new() }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            return self.status.into_response();
        }
        let mut body = json!({ "data": null, "message": format!("{}\n", self.message) });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        (self.status, axum::Json(body)).into_response()
    }
}
