//! Who a request comes from, resolved once per request: a session cookie or an
//! `Authorization: Bearer` API token. The result is a [`Caller`] in the request extensions;
//! the route table (`api::routes::enforce`), handlers and pages all read that one value.
//!
//! Also here: the session cookie itself and the CSRF rule for cookie-authenticated writes.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;

use domain::auth::sessions::Session;
use domain::auth::Actor;

use crate::api::ApiError;
use crate::AppState;

pub const SESSION_COOKIE: &str = "pf_session";
/// Scripts that authenticate with the session cookie (not a token) send this header with the
/// session's CSRF token on every write.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The request's caller; `actor` is `None` for anonymous requests. (No `Debug`: it holds the
/// raw session cookie.)
#[derive(Clone, Default)]
pub struct Caller {
    pub actor: Option<Actor>,
    /// The session behind a cookie login, with the raw cookie value (for logout).
    pub session: Option<(Session, String)>,
    pub ip: Option<String>,
}

/// Middleware on every request: resolves the caller and stores it in the extensions.
pub async fn identify(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let ip = client_ip(peer, req.headers(), state.behind_proxy);
    let caller = match resolve(&state, req.headers(), ip.clone()).await {
        Ok(c) => c,
        Err(e) => return axum::response::IntoResponse::into_response(ApiError::from(e)),
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The client's address: the TCP peer, or behind a trusted proxy the last `X-Forwarded-For`
/// entry (the one our proxy appended; earlier entries are whatever the client claimed).
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, behind_proxy: bool) -> Option<String> {
    if behind_proxy {
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = forwarded {
            return Some(ip.to_string());
        }
    }
    peer.map(|p| p.to_string())
}

async fn resolve(state: &AppState, headers: &HeaderMap, ip: Option<String>) -> domain::Result<Caller> {
    let auth = &state.services.auth;
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        // A presented but bad token makes the caller anonymous, never falls back to a cookie:
        // a script must learn its token is dead.
        let token = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
        let actor = match token {
            Some(t) => auth.authenticate_token(t, ip.clone()).await?,
            None => None,
        };
        return Ok(Caller { actor, session: None, ip });
    }
    if let Some(secret) = cookie(headers, SESSION_COOKIE) {
        if let Some((actor, session)) = auth.authenticate_session(&secret, ip.clone()).await? {
            return Ok(Caller { actor: Some(actor), session: Some((session, secret)), ip });
        }
    }
    Ok(Caller { actor: None, session: None, ip })
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// True when the request reached us over HTTPS (directly or via a proxy that says so): the
/// session cookie then carries `Secure`.
fn is_https(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for a new session. HttpOnly (no script reads it), SameSite=Lax (not sent on
/// cross-site writes), no Max-Age (ends with the browser; the server enforces the timeouts).
pub fn session_cookie(secret: &str, headers: &HeaderMap) -> HeaderValue {
    let secure = if is_https(headers) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Lax{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("pf_session=; Path=/; Max-Age=0"))
}

pub fn clear_session_cookie() -> HeaderValue {
    HeaderValue::from_static("pf_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// The CSRF rule. A write (not GET/HEAD/OPTIONS) is refused when:
/// - it carries an `Origin` of another site (whatever its credentials: this also stops login
///   CSRF), or
/// - it is authenticated by the session cookie and proves neither same origin (an `Origin`
///   header matching our host — browsers send it on every POST) nor knowledge of the
///   session's CSRF token (the `X-CSRF-Token` header, for cookie-using scripts).
///
/// Bearer-token requests need no proof: a browser never attaches them by itself.
pub fn check_csrf(method: &Method, headers: &HeaderMap, caller: &Caller) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refuse = || ApiError::new(axum::http::StatusCode::FORBIDDEN, "cross-site request refused (CSRF check failed)");
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let same_origin = match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        Some(origin) => {
            let authority = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
            if authority.is_none() || authority != host {
                return Err(refuse());
            }
            true
        }
        None => false,
    };
    if let Some((session, _)) = &caller.session {
        let token_ok = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| constant_time_eq(t.as_bytes(), session.csrf_token.as_bytes()));
        if !same_origin && !token_ok {
            return Err(refuse());
        }
    }
    Ok(())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Handler argument: the authenticated caller. The route table has already refused anonymous
/// callers on routes that need one; this answers 401 if a route forgot to.
pub struct CurrentActor(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for CurrentActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .and_then(|c| c.actor.clone())
            .map(CurrentActor)
            .ok_or_else(|| ApiError::from(domain::Error::Unauthenticated))
    }
}

/// Handler argument: the whole caller (anonymous allowed).
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Caller>().cloned().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("")));
        }
        h
    }

    fn cookie_caller() -> Caller {
        let session = Session { user_id: 1, csrf_token: "tok".into(), created_at: 0, last_seen_at: 0, expires_at: 1 };
        Caller { actor: None, session: Some((session, "secret".into())), ip: None }
    }

    #[test]
    fn csrf_rule() {
        let post = Method::POST;
        let anon = Caller::default();
        let ok = |h: &[(&'static str, &str)], c: &Caller| check_csrf(&post, &headers(h), c).is_ok();
        assert!(ok(&[("host", "a:1"), ("origin", "http://a:1")], &cookie_caller()));
        assert!(!ok(&[("host", "a:1"), ("origin", "http://evil:1")], &cookie_caller()));
        assert!(!ok(&[("host", "a:1"), ("origin", "null")], &cookie_caller()));
        assert!(!ok(&[("host", "a:1")], &cookie_caller()), "a cookie write without any proof");
        assert!(ok(&[("host", "a:1"), ("x-csrf-token", "tok")], &cookie_caller()));
        assert!(!ok(&[("host", "a:1"), ("x-csrf-token", "tox")], &cookie_caller()));
        assert!(ok(&[("host", "a:1")], &anon), "no cookie, nothing to forge");
        assert!(!ok(&[("host", "a:1"), ("origin", "https://evil")], &anon), "login CSRF");
        assert!(check_csrf(&Method::GET, &headers(&[("origin", "https://evil")]), &cookie_caller()).is_ok());
    }

    #[test]
    fn the_client_address_comes_from_the_proxy_only_when_trusted() {
        let peer = Some(IpAddr::from([10, 0, 0, 1]));
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9")]);
        assert_eq!(client_ip(peer, &h, false).as_deref(), Some("10.0.0.1"), "a client cannot choose its address");
        assert_eq!(
            client_ip(peer, &h, true).as_deref(),
            Some("203.0.113.9"),
            "the proxy's entry, not the client's claim"
        );
        assert_eq!(client_ip(peer, &headers(&[("x-forwarded-for", "junk")]), true).as_deref(), Some("10.0.0.1"));
    }

    #[test]
    fn reads_cookies_among_others() {
        let h = headers(&[("cookie", "theme=dark; pf_session=abc"), ("cookie", "x=1")]);
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "nope"), None);
    }
}
