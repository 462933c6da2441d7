//! Light/dark theme: a toggle that works without JavaScript (a form posting to `/prefs`) and,
//! once hydrated, switches in place and remembers the choice in a cookie.

use leptos::prelude::*;

use crate::i18n::{t, Key};
use crate::prefs::Theme;

#[derive(Clone, Copy)]
pub struct ThemeState {
    /// The person's explicit choice; `None` follows the system setting.
    pub chosen: RwSignal<Option<Theme>>,
    /// The system's preference, learnt after hydration (the server cannot know it).
    pub system_dark: RwSignal<bool>,
}

impl ThemeState {
    pub fn new(chosen: Option<Theme>) -> Self {
        ThemeState { chosen: RwSignal::new(chosen), system_dark: RwSignal::new(false) }
    }

    pub fn effective(&self) -> Theme {
        self.chosen.get().unwrap_or(if self.system_dark.get() { Theme::Dark } else { Theme::Light })
    }
}

#[component]
pub fn ThemeToggle() -> impl IntoView {
    let state = expect_context::<ThemeState>();

    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let dark = web_sys::window()
            .and_then(|w| w.match_media("(prefers-color-scheme: dark)").ok().flatten())
            .is_some_and(|m| m.matches());
        state.system_dark.set(dark);
    });

    let next = move || state.effective().toggled();
    let label = move || match next() {
        Theme::Dark => t(Key::ThemeToDark)(),
        Theme::Light => t(Key::ThemeToLight)(),
    };
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let theme = next();
        state.chosen.set(Some(theme));
        #[cfg(feature = "hydrate")]
        crate::prefs::save(crate::prefs::THEME_COOKIE, theme.code(), "data-theme");
    };

    view! {
        <form method="post" action="/prefs" class="inline-form" on:submit=on_submit>
            <input type="hidden" name="theme" value=move || next().code() />
            <button type="submit" class="icon-button" data-testid="theme-toggle" aria-label=label title=label>
                <span aria-hidden="true" class="theme-glyph">
                    {move || if next() == Theme::Dark { "☾" } else { "☀" }}
                </span>
                <span class="icon-button-text">
                    {move || if next() == Theme::Dark { t(Key::ThemeDark)() } else { t(Key::ThemeLight)() }}
                </span>
            </button>
        </form>
    }
}
