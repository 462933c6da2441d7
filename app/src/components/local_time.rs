//! A UTC instant shown in the reader's time zone. The server renders UTC (it cannot know the
//! browser's zone); after hydration the browser rewrites it in local time and language.

use leptos::prelude::*;

use crate::i18n::{t, Key};
use crate::time_fmt::{iso_utc, utc_minutes};

#[component]
pub fn LocalTime(ms: i64) -> impl IntoView {
    let utc = format!("{} {}", utc_minutes(ms), t(Key::TimeUtc)());
    let text = RwSignal::new(utc.clone());

    #[cfg(feature = "hydrate")]
    {
        let locale = crate::i18n::use_locale();
        Effect::new(move |_| {
            let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
            let tag = match locale.get() {
                crate::i18n::Locale::Ko => "ko-KR",
                crate::i18n::Locale::En => "en-GB",
            };
            text.set(String::from(date.to_locale_string(tag, &wasm_bindgen::JsValue::UNDEFINED)));
        });
    }

    view! {
        <time datetime=iso_utc(ms) title=utc data-testid="local-time">
            {move || text.get()}
        </time>
    }
}
