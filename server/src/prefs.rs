//! `POST /prefs`: the no-JavaScript path of the theme and language switches. It stores the
//! choice in a cookie and sends the browser back to the page it came from, when that page is
//! on this site (`redirect::same_site_referer`), else to `/`.

use axum::extract::Form;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use app::i18n::Locale;
use app::prefs::{Theme, LANG_COOKIE, THEME_COOKIE};

use crate::redirect::same_site_referer;

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
        .and_then(|r| same_site_referer(r, headers.get(header::HOST).and_then(|h| h.to_str().ok())))
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
