//! The API's one error type, mapped to a status and the failure envelope exactly once.

use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::OriginalUri;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), details: None }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
}

/// A wire value that does not parse: a 400 naming its field, like any bad input.
impl From<model::Invalid> for ApiError {
    fn from(err: model::Invalid) -> Self {
        domain::Error::from(err).into()
    }
}

impl From<domain::Error> for ApiError {
    fn from(err: domain::Error) -> Self {
        use domain::Error as E;
        let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match err {
            E::Validation { field, message, details } => {
                let mut d = details.unwrap_or_else(|| json!({}));
                if let (Some(f), Some(obj)) = (field, d.as_object_mut()) {
                    obj.insert("field".into(), json!(f));
                }
                ApiError::new(status, message).with_details(d)
            }
            // `authenticated: false` is what the old tool's session check answered; its
            // scripts look for it.
            E::Unauthenticated => {
                ApiError::new(status, "authentication required").with_details(json!({ "authenticated": false }))
            }
            E::InvalidCredentials => ApiError::new(status, "invalid username or password"),
            E::Stale { message, details } => ApiError::new(status, message).with_details(details),
            E::Forbidden(m)
            | E::NotFound(m)
            | E::Conflict(m)
            | E::Unprocessable(m)
            | E::Upstream(m)
            | E::Unavailable(m) => ApiError::new(status, m),
            E::Internal(m) => {
                // The cause goes to the log, never to the client: it may name tables, paths or
                // worse. The request id in the log line ties the two together.
                tracing::error!(cause = %m, "internal error");
                ApiError::new(status, "internal error; see the server log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "success": false, "error": self.message, "details": self.details });
        (self.status, Json(body)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            // Valid JSON of the wrong shape: the seed API's clients expect 400 for that too,
            // and the message says which field.
            JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => StatusCode::BAD_REQUEST,
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => r.status(),
        };
        ApiError::new(status, format!("invalid JSON body: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid query string: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid path parameter: {}", r.body_text()))
    }
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, format!("invalid form body: {}", r.body_text()))
    }
}

/// Unknown `/api/...` paths answer in the envelope, not with the app's HTML 404 page.
pub async fn not_found(OriginalUri(uri): OriginalUri) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("no API endpoint at {}", uri.path()))
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this endpoint does not accept that method")
}
