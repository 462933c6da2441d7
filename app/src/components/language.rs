//! Language switch between Korean and English: a form posting to `/prefs` without JavaScript,
//! an in-place switch (remembered in a cookie) once hydrated.

use leptos::prelude::*;

use crate::i18n::{t, use_locale, Key};

#[component]
pub fn LanguageSwitch() -> impl IntoView {
    let locale = use_locale();
    let (for_value, for_lang) = (locale.clone(), locale.clone());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = locale.get_untracked().other();
        locale.set(next);
        #[cfg(feature = "hydrate")]
        crate::prefs::save(crate::prefs::LANG_COOKIE, next.code(), "lang");
    };
    view! {
        <form method="post" action="/prefs" class="inline-form" on:submit=on_submit>
            <input type="hidden" name="lang" value=move || for_value.get().other().code() />
            <button
                type="submit"
                class="icon-button"
                data-testid="language-switch"
                aria-label=t(Key::LangSwitchHint)
                title=t(Key::LangSwitchHint)
                lang=move || for_lang.get().other().code()
            >
                // A globe, drawn inline: a CJK glyph would need fonts some machines lack.
                <svg
                    aria-hidden="true"
                    viewBox="0 0 24 24"
                    width="15"
                    height="15"
                    fill="none"
                    stroke="currentColor"
                    stroke-width="1.8"
                    stroke-linecap="round"
                >
                    <circle cx="12" cy="12" r="9" />
                    <path d="M3 12h18M12 3c2.5 2.7 3.8 5.7 3.8 9s-1.3 6.3-3.8 9c-2.5-2.7-3.8-5.7-3.8-9s1.3-6.3 3.8-9z" />
                </svg>
                <span class="icon-button-text">{t(Key::LangSwitchTo)}</span>
            </button>
        </form>
    }
}
