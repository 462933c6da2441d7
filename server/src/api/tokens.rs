//! The caller's own API tokens. Browser sessions only (see `Access::BrowserSession`): a token
//! cannot mint or list tokens.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use domain::auth::api_tokens::ApiToken;

use super::envelope::{ApiOk, Envelope};
use super::extract::{Json, Path};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// A token as listed: never its secret. Times are UTC unix milliseconds.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenJson {
    pub id: i64,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub active: bool,
}

impl From<ApiToken> for TokenJson {
    fn from(t: ApiToken) -> Self {
        TokenJson {
            active: t.is_usable(domain::clock::now_ms()),
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created_at: t.created_at,
            expires_at: t.expires_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

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
    Ok(ApiOk::new(tokens.into_iter().map(TokenJson::from).collect()))
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
    Ok(ApiOk::new(CreatedToken { token: new.token.into(), secret: new.secret })
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
    Ok(ApiOk::new(TokenJson::from(token)).message("token revoked"))
}
