//! A destructive submit button that asks first: the first click turns it into
//! "Are you sure? [confirm] [cancel]" in place, so nothing is deleted by a stray click or key.

use leptos::prelude::*;

use crate::i18n::{t, Key};

/// Put inside the form whose submission it guards. `what` names the thing in the question
/// ("Are you sure? web-01 · 2026-01-15 10:00 UTC").
#[component]
pub fn ConfirmSubmit(label: Key, confirm: Key, #[prop(optional, into)] what: Option<String>) -> impl IntoView {
    let asking = RwSignal::new(false);
    view! {
        <Show
            when=move || asking.get()
            fallback=move || {
                view! {
                    <button type="button" class="button button-danger" on:click=move |_| asking.set(true)>
                        {t(label)}
                    </button>
                }
            }
        >
            <span class="confirm" role="group">
                <span>{t(Key::ConfirmSure)}{what.clone().map(|w| format!(" {w}"))}</span>
                <button type="submit" class="button button-danger">
                    {t(confirm)}
                </button>
                <button type="button" class="button" on:click=move |_| asking.set(false)>
                    {t(Key::ConfirmCancel)}
                </button>
            </span>
        </Show>
    }
}
