//! Every UI text goes through here. Keys are generated from `locales/*.json` (see `build.rs`);
//! the active locale is a signal in context, so switching language re-renders text in place.

use leptos::prelude::*;

include!(concat!(env!("OUT_DIR"), "/i18n_keys.rs"));

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    En,
    Ko,
}

impl Locale {
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ko];

    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ko => "ko",
        }
    }

    pub fn from_code(code: &str) -> Option<Locale> {
        let primary = code.trim().split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Locale::En),
            "ko" => Some(Locale::Ko),
            _ => None,
        }
    }

    pub fn text(self, key: Key) -> &'static str {
        match self {
            Locale::En => text_en(key),
            Locale::Ko => text_ko(key),
        }
    }

    pub fn other(self) -> Locale {
        match self {
            Locale::En => Locale::Ko,
            Locale::Ko => Locale::En,
        }
    }

    /// The saved choice (cookie) wins; otherwise the browser's `Accept-Language`, honouring
    /// q-values; otherwise English.
    pub fn negotiate(saved: Option<&str>, accept_language: Option<&str>) -> Locale {
        if let Some(l) = saved.and_then(Locale::from_code) {
            return l;
        }
        let mut best: Option<(f32, Locale)> = None;
        for part in accept_language.unwrap_or("").split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("");
            let q = pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse::<f32>().ok())).unwrap_or(1.0);
            if let Some(l) = Locale::from_code(tag) {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, l));
                }
            }
        }
        best.map_or(Locale::En, |(_, l)| l)
    }
}

/// Provided once by `App`. A reference-counted signal, not an arena one: texts are also read
/// outside the render's reactive arena (leptos_meta evaluates `<Title>` after the app has
/// rendered), where an arena-backed signal panics.
#[derive(Clone)]
pub struct I18n(pub ArcRwSignal<Locale>);

pub fn use_locale() -> ArcRwSignal<Locale> {
    // `App` always provides it; a missing context only happens in isolated component tests,
    // where English is the right answer.
    use_context::<I18n>().map_or_else(|| ArcRwSignal::new(Locale::En), |i| i.0)
}

/// A reactive text: `{t(Key::NavServers)}` in a view, or `attr:title=t(..)`.
pub fn t(key: Key) -> impl Fn() -> &'static str + Clone + Send + Sync + 'static {
    let locale = use_locale();
    move || locale.get().text(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_text_in_every_locale() {
        assert!(
            MISSING.is_empty(),
            "keys missing a translation (locale, key): {MISSING:?} — add them to app/locales/*.json"
        );
        for key in Key::ALL {
            for locale in Locale::ALL {
                assert!(!locale.text(*key).trim().is_empty(), "{} is empty in {}", key.id(), locale.code());
            }
        }
    }

    #[test]
    fn korean_is_really_translated() {
        // Guards against copying the English file over the Korean one.
        let same = Key::ALL
            .iter()
            .filter(|k| Locale::En.text(**k) == Locale::Ko.text(**k))
            .map(|k| k.id())
            .collect::<Vec<_>>();
        assert!(same.len() <= 3, "identical in en and ko: {same:?}");
    }

    #[test]
    fn negotiation_prefers_saved_then_accept_language() {
        assert_eq!(Locale::negotiate(Some("ko"), Some("en-US")), Locale::Ko);
        assert_eq!(Locale::negotiate(Some("fr"), Some("ko-KR,ko;q=0.9,en;q=0.8")), Locale::Ko);
        assert_eq!(Locale::negotiate(None, Some("fr-FR, en;q=0.5, ko;q=0.7")), Locale::Ko);
        assert_eq!(Locale::negotiate(None, Some("de, en-GB;q=0.3")), Locale::En);
        assert_eq!(Locale::negotiate(None, Some("ko;q=0")), Locale::En);
        assert_eq!(Locale::negotiate(None, None), Locale::En);
        assert_eq!(Locale::negotiate(None, Some(";;,,q=x")), Locale::En);
    }
}
