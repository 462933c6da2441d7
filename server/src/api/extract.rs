//! Extractors whose rejections answer in the API envelope (plain axum ones answer text/plain).
//! Use these, not `axum::Json`/`Query`/`Path`, in every REST handler.

use axum::extract::FromRequest;
use axum::extract::FromRequestParts;

use super::ApiError;

#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// `?page=&per_page=` as the seed API names them, validated.
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
pub struct PageParams {
    /// 1-based page number [default: 1].
    pub page: Option<u32>,
    /// Items per page, 1–500 [default: 20].
    pub per_page: Option<u32>,
}

impl PageParams {
    pub const MAX_PER_PAGE: u32 = 500;

    /// (page, per_page) or a 400 naming the bad parameter.
    pub fn resolve(self) -> Result<(u32, u32), ApiError> {
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0 {
            return Err(ApiError::new(axum::http::StatusCode::BAD_REQUEST, "page starts at 1")
                .with_details(serde_json::json!({"field": "page"})));
        }
        if per_page == 0 || per_page > Self::MAX_PER_PAGE {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                format!("per_page must be between 1 and {}", Self::MAX_PER_PAGE),
            )
            .with_details(serde_json::json!({"field": "per_page"})));
        }
        Ok((page, per_page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    #[derive(serde::Deserialize)]
    struct Body1 {
        #[allow(dead_code)]
        count: u32,
    }

    async fn echo(Json(b): Json<Body1>) -> String {
        b.count.to_string()
    }

    async fn call(body: &str, content_type: Option<&str>) -> (StatusCode, serde_json::Value) {
        let app = Router::new().route("/x", post(echo));
        let mut req = Request::post("/x");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = app.oneshot(req.body(Body::from(body.to_owned())).unwrap_or_default()).await;
        let resp = resp.unwrap_or_else(|e| match e {});
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap_or_default();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn bad_json_bodies_get_an_enveloped_4xx() {
        for (body, ct, want) in [
            ("{", Some("application/json"), StatusCode::BAD_REQUEST),
            ("{\"count\": -1}", Some("application/json"), StatusCode::BAD_REQUEST),
            ("{\"count\": \"x\"}", Some("application/json"), StatusCode::BAD_REQUEST),
            ("{}", Some("application/json"), StatusCode::BAD_REQUEST),
            ("{\"count\": 1}", None, StatusCode::UNSUPPORTED_MEDIA_TYPE),
        ] {
            let (status, json) = call(body, ct).await;
            assert_eq!(status, want, "{body}");
            assert_eq!(json["success"], false, "{body}: {json}");
            assert!(json["error"].as_str().is_some_and(|e| e.starts_with("invalid JSON body")), "{json}");
        }
        let (status, _) = call("{\"count\": 3}", Some("application/json")).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[test]
    fn page_params_are_bounded() {
        assert_eq!(PageParams { page: None, per_page: None }.resolve().ok(), Some((1, 20)));
        assert!(PageParams { page: Some(0), per_page: None }.resolve().is_err());
        assert!(PageParams { page: Some(1), per_page: Some(501) }.resolve().is_err());
        assert!(PageParams { page: Some(1), per_page: Some(0) }.resolve().is_err());
    }
}
