//! Login, logout, the caller's own password, session check/refresh and the current user.
//! `POST /login` and `POST /change-password` take JSON (scripts, the SPA) or an HTML form
//! (the pages, which work without JavaScript): JSON gets the envelope, a form gets a redirect.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use domain::auth::{AuthMethod, Origin};
use domain::users::User;

use super::envelope::{ApiOk, Envelope};
use super::ApiError;
use crate::identity::{clear_session_cookie, session_cookie, Caller, CurrentActor};
use crate::AppState;

/// A user as the API shows it: the old tool's field names (`is_active`, `last_login`) kept for
/// its scripts. Times are UTC unix milliseconds.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserJson {
    pub id: i64,
    pub username: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub is_active: bool,
    pub must_change_password: bool,
    pub created_at: i64,
    pub last_login: Option<i64>,
}

impl From<User> for UserJson {
    fn from(u: User) -> Self {
        UserJson {
            id: u.id,
            username: u.username,
            name: u.name,
            email: u.email,
            role: u.role,
            permissions: u.permissions,
            is_active: u.active,
            must_change_password: u.must_change_password,
            created_at: u.created_at,
            last_login: u.last_login_at,
        }
    }
}

/// No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    #[schema(required = true, min_length = 1)]
    pub username: Option<String>,
    #[schema(required = true, min_length = 1)]
    pub password: Option<String>,
    /// Form logins only: where to go afterwards (a path on this site).
    pub next: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResult {
    pub user: UserJson,
    /// Send as `X-CSRF-Token` on writes when authenticating with the session cookie outside a
    /// browser.
    pub csrf_token: String,
    pub expires_at: i64,
}

/// Parsed body of a JSON-or-form endpoint, remembering which it was.
enum Body<T> {
    Json(T),
    Form(T),
}

fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes) -> Result<Body<T>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.starts_with("application/json") {
        serde_json::from_slice(bytes)
            .map(Body::Json)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(bytes)
            .map(Body::Form)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid form body: {e}")))
    } else {
        Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "send JSON or an HTML form"))
    }
}

/// Where to go after a form login: `next` when it is a path on this site, else `/`.
fn after_login(next: Option<&str>) -> String {
    next.and_then(crate::redirect::local_path).unwrap_or("/").to_owned()
}

fn with_cookie(mut res: Response, cookie: axum::http::HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, cookie);
    res
}

fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok())
}

/// Log in with a username and password. One answer for every failure.
#[utoipa::path(post, path = "/login", tag = "session",
    request_body(content = LoginBody, description = "JSON, or the same fields as an HTML form (answered with a redirect)"),
    responses(
        (status = 200, description = "Logged in; the session cookie is set", body = Envelope<LoginResult>),
        (status = 303, description = "Form login: to `next` (or `/change-password`), or back to `/login?error=…`"),
        (status = 400, description = "username or password missing"),
        (status = 401, description = "Invalid username or password (whatever the reason)"),
    ))]
pub async fn login(State(state): State<AppState>, caller: Caller, headers: HeaderMap, bytes: Bytes) -> Response {
    let body = match parse_body::<LoginBody>(&headers, &bytes) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let (form, body) = match body {
        Body::Json(b) => (false, b),
        Body::Form(b) => (true, b),
    };
    let next = after_login(body.next.as_deref());
    let back_to_login = |error: &str| {
        let query = serde_urlencoded::to_string([("error", error), ("next", next.as_str())]).unwrap_or_default();
        Redirect::to(&format!("/login?{query}")).into_response()
    };
    let (Some(username), Some(password)) =
        (body.username.filter(|u| !u.is_empty()), body.password.filter(|p| !p.is_empty()))
    else {
        return if form {
            back_to_login("missing")
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "username and password are required").into_response()
        };
    };
    let origin = Origin { ip: caller.ip.as_deref(), user_agent: user_agent(&headers) };
    let logged = match state.services.auth.login(username.trim(), &password, origin).await {
        Ok(l) => l,
        Err(domain::Error::InvalidCredentials) if form => return back_to_login("invalid"),
        Err(e) => return ApiError::from(e).into_response(),
    };
    // A new session id at every login; the one the browser had before (if any) ends, so a
    // planted session id is worthless.
    if let Some((_, old)) = &caller.session {
        if let Err(e) = state.services.auth.sessions().end(old).await {
            return ApiError::from(e).into_response();
        }
    }
    let cookie = session_cookie(&logged.session.secret, &headers);
    let res = if form {
        let to = if logged.user.must_change_password { "/change-password".to_owned() } else { next };
        Redirect::to(&to).into_response()
    } else {
        ApiOk::new(LoginResult {
            csrf_token: logged.session.csrf_token,
            expires_at: logged.session.expires_at,
            user: logged.user.into(),
        })
        .message("logged in")
        .into_response()
    };
    with_cookie(res, cookie)
}

/// Log out (the old tool's GET). A cross-site request (a link or image on another site, as the
/// browser's `Sec-Fetch-Site` reports) does not log anyone out.
#[utoipa::path(get, path = "/logout", tag = "session",
    responses((status = 303, description = "Logged out; redirect to /login")))]
pub async fn logout_link(state: State<AppState>, caller: Caller, actor: CurrentActor, headers: HeaderMap) -> Response {
    let cross_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site");
    if cross_site {
        return Redirect::to("/").into_response();
    }
    logout(state, caller, actor).await
}

/// Log out: ends this session and clears the cookie, then goes to the login page.
#[utoipa::path(post, path = "/logout", tag = "session",
    responses((status = 303, description = "Logged out; redirect to /login")))]
pub async fn logout(State(state): State<AppState>, caller: Caller, CurrentActor(actor): CurrentActor) -> Response {
    if let Some((_, secret)) = &caller.session {
        if let Err(e) = state.services.auth.logout(&actor, secret).await {
            return ApiError::from(e).into_response();
        }
    }
    with_cookie(Redirect::to("/login").into_response(), clear_session_cookie())
}

/// No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    #[schema(required = true, min_length = 1)]
    pub current_password: Option<String>,
    /// 10–1024 characters, not containing the username, not a common password.
    #[schema(required = true, min_length = 10, max_length = 1024)]
    pub new_password: Option<String>,
    pub confirm_password: Option<String>,
}

/// Change the caller's own password. Every session of the user ends; a browser gets a new one.
#[utoipa::path(post, path = "/change-password", tag = "session",
    request_body(content = ChangePasswordBody, description = "JSON, or the same fields as an HTML form"),
    responses(
        (status = 200, description = "Changed", body = Envelope<serde_json::Value>),
        (status = 303, description = "Form: to `/` when changed, back to `/change-password?error=…` when not"),
        (status = 400, description = "Current password wrong, confirmation differs, or the policy refuses the new one; `details.field` says which"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    CurrentActor(actor): CurrentActor,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let (form, body) = match parse_body::<ChangePasswordBody>(&headers, &bytes) {
        Ok(Body::Json(b)) => (false, b),
        Ok(Body::Form(b)) => (true, b),
        Err(e) => return e.into_response(),
    };
    let origin = Origin { ip: caller.ip.as_deref(), user_agent: user_agent(&headers) };
    let result = state
        .services
        .auth
        .change_own_password(
            &actor,
            body.current_password.as_deref().unwrap_or(""),
            body.new_password.as_deref().unwrap_or(""),
            body.confirm_password.as_deref(),
            origin,
        )
        .await;
    let new_session = match result {
        Ok(s) => s,
        Err(domain::Error::Validation { message, .. }) if form => {
            let query = serde_urlencoded::to_string([("error", message.as_str())]).unwrap_or_default();
            return Redirect::to(&format!("/change-password?{query}")).into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let res = if form {
        Redirect::to("/").into_response()
    } else {
        ApiOk::new(json!({})).message("password changed").into_response()
    };
    match new_session {
        Some(session) => with_cookie(res, session_cookie(&session.secret, &headers)),
        None => res,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionState {
    pub authenticated: bool,
    pub user: UserJson,
    /// `session` or `token`.
    pub method: String,
    /// Session logins only: when the session ends at the latest, and the CSRF token for
    /// cookie-authenticated scripts.
    pub expires_at: Option<i64>,
    pub csrf_token: Option<String>,
}

async fn session_state(
    state: &AppState,
    caller: &Caller,
    actor: &domain::auth::Actor,
) -> Result<SessionState, ApiError> {
    let user = state.services.auth.me(actor).await?;
    Ok(SessionState {
        authenticated: true,
        user: user.into(),
        method: match actor.method {
            AuthMethod::Session => "session".into(),
            AuthMethod::Token => "token".into(),
        },
        expires_at: caller.session.as_ref().map(|(s, _)| s.expires_at),
        csrf_token: caller.session.as_ref().map(|(s, _)| s.csrf_token.clone()),
    })
}

/// Is the caller logged in? 401 with `details.authenticated = false` when not.
#[utoipa::path(get, path = "/api/session/check", tag = "session",
    responses((status = 200, body = Envelope<SessionState>), (status = 401, description = "Not logged in")))]
pub async fn check(
    State(state): State<AppState>,
    caller: Caller,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<SessionState>, ApiError> {
    Ok(ApiOk::new(session_state(&state, &caller, &actor).await?))
}

/// The same as `/api/session/check` (the old tool's path).
#[utoipa::path(get, path = "/session/check", tag = "session",
    responses((status = 200, body = Envelope<SessionState>), (status = 401, description = "Not logged in")))]
pub async fn check_compat(
    state: State<AppState>,
    caller: Caller,
    actor: CurrentActor,
) -> Result<ApiOk<SessionState>, ApiError> {
    check(state, caller, actor).await
}

/// Keeps the session alive (resets its idle timer) and returns the caller's current details.
#[utoipa::path(post, path = "/api/session/refresh", tag = "session",
    responses((status = 200, body = Envelope<SessionState>), (status = 401, description = "Not logged in")))]
pub async fn refresh(
    State(state): State<AppState>,
    caller: Caller,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<SessionState>, ApiError> {
    // Resolving the session for this request already moved its idle clock.
    Ok(ApiOk::new(session_state(&state, &caller, &actor).await?).message("session refreshed"))
}

/// The same as `/api/session/refresh` (the old tool's path).
#[utoipa::path(post, path = "/session/refresh", tag = "session",
    responses((status = 200, body = Envelope<SessionState>), (status = 401, description = "Not logged in")))]
pub async fn refresh_compat(
    state: State<AppState>,
    caller: Caller,
    actor: CurrentActor,
) -> Result<ApiOk<SessionState>, ApiError> {
    refresh(state, caller, actor).await
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/current-user", tag = "session",
    responses((status = 200, body = Envelope<UserJson>), (status = 401, description = "Not logged in")))]
pub async fn current_user(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<UserJson>, ApiError> {
    Ok(ApiOk::new(state.services.auth.me(&actor).await?.into()))
}

/// The logged-in user (the old tool's second name for it).
#[utoipa::path(get, path = "/api/profile", tag = "session",
    responses((status = 200, body = Envelope<UserJson>), (status = 401, description = "Not logged in")))]
pub async fn profile(state: State<AppState>, actor: CurrentActor) -> Result<ApiOk<UserJson>, ApiError> {
    current_user(state, actor).await
}
