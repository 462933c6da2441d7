//! The caller's own API tokens. Browser sessions only (see `Access::BrowserSession`): a token
//! cannot mint or list tokens.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::envelope::{ApiOk, Envelope};
use super::extract::{Json, Path};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// The listed token (`TokenJson` in the OpenAPI document, its name since the first release).
pub use model::auth::ApiToken as TokenJson;

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTokenBody {
    /// 1–64 characters (blanks at the ends do not count).
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Days until it stops working (1–3650); absent or 0 = no expiry.
    #[schema(maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: TokenJson,
    /// `Authorization: Bearer <secret>`. Shown this once; only its hash is stored.
    pub secret: String,
}

/// The caller's tokens, newest first.
#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = Envelope<Vec<TokenJson>>), (status = 403, description = "Not with an API token")))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Vec<TokenJson>>, ApiError> {
    let tokens = state.services.auth.list_tokens(&actor).await?;
    Ok(ApiOk::new(tokens))
}

/// Create a token; the secret is in this response only.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = CreateTokenBody,
    responses((status = 201, body = Envelope<CreatedToken>), (status = 400, description = "Bad name or expiry")))]
pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Json(body): Json<CreateTokenBody>,
) -> Result<ApiOk<CreatedToken>, ApiError> {
    let expires_at = match body.expires_in_days {
        None => None,
        Some(d @ 1..=3650) => Some(domain::clock::now_ms() + i64::from(d) * 24 * 60 * 60 * 1000),
        Some(_) => return Err(domain::Error::validation("expires_in_days", "expiry is 1 to 3650 days").into()),
    };
    let new = state.services.auth.create_token(&actor, &body.name, expires_at).await?;
    Ok(ApiOk::new(CreatedToken { token: new.token, secret: new.secret })
        .status(StatusCode::CREATED)
        .message("token created; copy the secret now, it is not shown again"))
}

/// Revoke a token: it stops working at once.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = Envelope<TokenJson>), (status = 404, description = "No such token of yours")))]
pub async fn revoke(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<TokenJson>, ApiError> {
    let token = state.services.auth.revoke_token(&actor, id).await?;
    Ok(ApiOk::new(token).message("token revoked"))
}
