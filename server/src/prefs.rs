//! `POST /prefs`: the no-JavaScript path of the theme and language switches. It stores the
//! choice in a cookie and sends the browser back to the page it came from.

use axum::extract::Form;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use app::i18n::Locale;
use app::prefs::{Theme, LANG_COOKIE, THEME_COOKIE};

#[derive(Debug, Deserialize)]
pub struct PrefsForm {
    theme: Option<String>,
    lang: Option<String>,
}

pub async fn save(headers: HeaderMap, Form(form): Form<PrefsForm>) -> Response {
    let mut cookies = Vec::new();
    if let Some(theme) = form.theme.as_deref() {
        match Theme::from_code(theme) {
            Some(t) => cookies.push(cookie(THEME_COOKIE, t.code())),
            None => return (StatusCode::BAD_REQUEST, "theme must be light or dark").into_response(),
        }
    }
    if let Some(lang) = form.lang.as_deref() {
        match Locale::from_code(lang) {
            Some(l) => cookies.push(cookie(LANG_COOKIE, l.code())),
            None => return (StatusCode::BAD_REQUEST, "lang must be en or ko").into_response(),
        }
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| same_site_path(r, headers.get(header::HOST).and_then(|h| h.to_str().ok())))
        .unwrap_or_else(|| "/".to_owned());
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    response
}

fn cookie(name: &str, value: &str) -> String {
    format!("{name}={value}; Path=/; Max-Age=31536000; SameSite=Lax")
}

/// The path of a Referer on our own host; anything else (another site, a `//` path) is
/// dropped so this endpoint cannot be used as an open redirect.
fn same_site_path(referer: &str, host: Option<&str>) -> Option<String> {
    let rest = referer.strip_prefix("http://").or_else(|| referer.strip_prefix("https://"))?;
    let (authority, path) = rest.split_once('/').map_or((rest, "".into()), |(a, p)| (a, format!("/{p}")));
    if Some(authority) != host || path.starts_with("//") {
        return None;
    }
    Some(if path.is_empty() { "/".into() } else { path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_only_within_our_own_site() {
        assert_eq!(same_site_path("http://127.0.0.1:3000/servers?x=1", Some("127.0.0.1:3000")).as_deref(), Some("/servers?x=1"));
        assert_eq!(same_site_path("http://127.0.0.1:3000", Some("127.0.0.1:3000")).as_deref(), Some("/"));
        assert_eq!(same_site_path("https://evil.example/servers", Some("127.0.0.1:3000")), None);
        assert_eq!(same_site_path("http://127.0.0.1:3000//evil.example", Some("127.0.0.1:3000")), None);
        assert_eq!(same_site_path("javascript:alert(1)", Some("127.0.0.1:3000")), None);
    }
}
