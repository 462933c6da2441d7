//! The seed API's response envelope:
//! `{"success":true,"data":…,"message":…,"pagination":{…}}` for success and
//! `{"success":false,"error":…,"details":…}` for failure (see `error.rs`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

/// A successful answer. `data` is any serialisable value.
#[derive(Debug)]
pub struct ApiOk<T> {
    pub status: StatusCode,
    pub data: T,
    pub message: Option<String>,
    pub pagination: Option<Pagination>,
}

impl<T: Serialize> ApiOk<T> {
    pub fn new(data: T) -> Self {
        ApiOk { status: StatusCode::OK, data, message: None, pagination: None }
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    pub fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn paginated(mut self, pagination: Pagination) -> Self {
        self.pagination = Some(pagination);
        self
    }
}

impl<T: Serialize> IntoResponse for ApiOk<T> {
    fn into_response(self) -> Response {
        let mut body = json!({ "success": true, "data": self.data });
        if let Some(m) = self.message {
            body["message"] = json!(m);
        }
        if let Some(p) = self.pagination {
            body["pagination"] = json!(p);
        }
        (self.status, Json(body)).into_response()
    }
}

/// The envelope as documented in the OpenAPI spec.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    /// Always `true` on success.
    pub success: bool,
    pub data: T,
    /// A human-readable summary, when the action has one.
    #[schema(nullable = false)]
    pub message: Option<String>,
}

/// A page of a list: `pages` is the number of pages at this `per_page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Pagination {
    pub page: u32,
    pub per_page: u32,
    pub total: u64,
    pub pages: u64,
}

impl Pagination {
    pub fn new(page: u32, per_page: u32, total: u64) -> Self {
        let per = u64::from(per_page.max(1));
        Pagination { page, per_page, total, pages: total.div_ceil(per) }
    }

    /// Rows to skip for this page.
    pub fn offset(&self) -> u64 {
        u64::from(self.page.saturating_sub(1)) * u64::from(self.per_page)
    }
}

/// The envelope of a failure, as documented in the OpenAPI spec.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false` on failure.
    pub success: bool,
    /// What went wrong, for people.
    pub error: String,
    /// Machine-readable context: the offending `field`, limits, the request id of a 500.
    pub details: Option<serde_json::Value>,
}

/// `{success: true, data, message?, …extra}` with `status`: our envelope with the old tool's
/// top-level fields beside it (`groups`, `backup_status`, `task_id`…).
pub(super) fn answer(
    status: StatusCode,
    data: serde_json::Value,
    message: Option<String>,
    extra: serde_json::Value,
) -> axum::response::Response {
    let mut body = json!({"success": true, "data": data});
    if let Some(m) = message {
        body["message"] = json!(m);
    }
    if let serde_json::Value::Object(more) = extra {
        for (k, v) in more {
            body[k] = v;
        }
    }
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_counts_pages_and_offsets() {
        let p = Pagination::new(3, 20, 101);
        assert_eq!(p.pages, 6);
        assert_eq!(p.offset(), 40);
        assert_eq!(Pagination::new(1, 20, 0).pages, 0);
        assert_eq!(Pagination::new(1, 20, 20).pages, 1);
    }
}
