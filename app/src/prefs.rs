//! Per-browser preferences (theme, language) kept in cookies, so the server renders the page
//! the way the person left it: no flash of the wrong theme, no language flip after hydration.

use crate::i18n::Locale;

pub const THEME_COOKIE: &str = "pf_theme";
pub const LANG_COOKIE: &str = "pf_lang";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
}

impl Theme {
    pub fn code(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
        }
    }

    pub fn from_code(code: &str) -> Option<Theme> {
        match code {
            "light" => Some(Theme::Light),
            "dark" => Some(Theme::Dark),
            _ => None,
        }
    }

    pub fn toggled(self) -> Theme {
        match self {
            Theme::Light => Theme::Dark,
            Theme::Dark => Theme::Light,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Prefs {
    /// `None` until the person picks one: the CSS then follows `prefers-color-scheme`.
    pub theme: Option<Theme>,
    pub locale: Locale,
}

/// Reads one cookie's value from a `Cookie` header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

impl Prefs {
    pub fn from_headers(cookie: Option<&str>, accept_language: Option<&str>) -> Prefs {
        let cookie = cookie.unwrap_or("");
        Prefs {
            theme: cookie_value(cookie, THEME_COOKIE).and_then(Theme::from_code),
            locale: Locale::negotiate(cookie_value(cookie, LANG_COOKIE), accept_language),
        }
    }

    /// On the server: from the request being rendered.
    #[cfg(feature = "ssr")]
    pub fn from_request() -> Prefs {
        use leptos::prelude::use_context;
        let Some(parts) = use_context::<http::request::Parts>() else {
            return Prefs::default();
        };
        let header = |name: http::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
        Prefs::from_headers(header(http::header::COOKIE), header(http::header::ACCEPT_LANGUAGE))
    }

    /// In the browser: from what the server wrote on `<html>`, so hydration starts from the
    /// exact state the server rendered.
    #[cfg(feature = "hydrate")]
    pub fn from_document() -> Prefs {
        let root = web_sys::window().and_then(|w| w.document()).and_then(|d| d.document_element());
        let attr = |name: &str| root.as_ref().and_then(|r| r.get_attribute(name));
        Prefs {
            theme: attr("data-theme").as_deref().and_then(Theme::from_code),
            locale: attr("lang").as_deref().and_then(Locale::from_code).unwrap_or_default(),
        }
    }

    pub fn current() -> Prefs {
        #[cfg(feature = "ssr")]
        {
            Prefs::from_request()
        }
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        {
            Prefs::from_document()
        }
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        {
            Prefs::default()
        }
    }
}

/// Saves a preference for a year and reflects it on `<html>` at once.
#[cfg(feature = "hydrate")]
pub fn save(cookie: &str, value: &str, html_attr: &str) {
    use wasm_bindgen::JsCast;
    let Some(doc) = web_sys::window().and_then(|w| w.document()) else { return };
    if let Some(root) = doc.document_element() {
        let _ = root.set_attribute(html_attr, value);
    }
    if let Ok(html_doc) = doc.dyn_into::<web_sys::HtmlDocument>() {
        let _ = html_doc.set_cookie(&format!("{cookie}={value}; Path=/; Max-Age=31536000; SameSite=Lax"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_theme_and_language_from_cookies() {
        let p = Prefs::from_headers(Some("a=b; pf_theme=dark; pf_lang=ko"), Some("en"));
        assert_eq!(p, Prefs { theme: Some(Theme::Dark), locale: Locale::Ko });
    }

    #[test]
    fn falls_back_to_accept_language_and_system_theme() {
        let p = Prefs::from_headers(Some("pf_theme=purple"), Some("ko-KR,ko;q=0.9"));
        assert_eq!(p, Prefs { theme: None, locale: Locale::Ko });
        assert_eq!(Prefs::from_headers(None, None), Prefs::default());
    }
}
