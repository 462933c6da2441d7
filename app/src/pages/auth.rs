//! The login and password-change pages. Both are plain HTML forms posting to the server's
//! `/login` and `/change-password`, so they work with JavaScript off; errors come back as a
//! redirect with `?error=`.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::i18n::{t, Key};
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || {
        query.with(|q| match q.get("error").as_deref() {
            Some("invalid") => Some(Key::LoginInvalid),
            Some("missing") => Some(Key::LoginMissing),
            _ => None,
        })
    };
    let next = move || query.with(|q| q.get("next").unwrap_or_else(|| "/".into()));
    view! {
        <Title text=t(Key::LoginTitle) />
        <section class="card auth-card" aria-labelledby="login-heading">
            <h1 id="login-heading">{t(Key::LoginTitle)}</h1>
            <p class="muted">{t(Key::LoginIntro)}</p>
            {move || {
                error()
                    .map(|k| {
                        view! {
                            <div class="alert alert-error" role="alert" data-testid="login-error">
                                {t(k)}
                            </div>
                        }
                    })
            }}
            <form method="post" action="/login" class="form-stack">
                <input type="hidden" name="next" value=next />
                <label for="login-username">{t(Key::LoginUsername)}</label>
                <input id="login-username" name="username" autocomplete="username" required autofocus />
                <label for="login-password">{t(Key::LoginPassword)}</label>
                <input id="login-password" name="password" type="password" autocomplete="current-password" required />
                <button type="submit" class="button button-primary">
                    {t(Key::LoginSubmit)}
                </button>
            </form>
        </section>
    }
}

/// The password form, shared by the forced change and the profile page.
#[component]
pub fn ChangePasswordForm() -> impl IntoView {
    view! {
        <form method="post" action="/change-password" class="form-stack" data-testid="change-password-form">
            <label for="pw-current">{t(Key::PasswordCurrent)}</label>
            <input id="pw-current" name="current_password" type="password" autocomplete="current-password" required />
            <label for="pw-new">{t(Key::PasswordNew)}</label>
            <input
                id="pw-new"
                name="new_password"
                type="password"
                autocomplete="new-password"
                minlength="10"
                required
                aria-describedby="pw-rules"
            />
            <p id="pw-rules" class="muted small">
                {t(Key::PasswordRules)}
            </p>
            <label for="pw-confirm">{t(Key::PasswordConfirm)}</label>
            <input
                id="pw-confirm"
                name="confirm_password"
                type="password"
                autocomplete="new-password"
                minlength="10"
                required
            />
            <button type="submit" class="button button-primary">
                {t(Key::PasswordSubmit)}
            </button>
        </form>
    }
}

#[component]
pub fn ChangePasswordPage() -> impl IntoView {
    let query = use_query_map();
    let error = move || query.with(|q| q.get("error"));
    view! {
        <Title text=t(Key::PasswordTitle) />
        <section class="card auth-card" aria-labelledby="pw-heading">
            <h1 id="pw-heading">{t(Key::PasswordTitle)}</h1>
            <p class="muted">{t(Key::PasswordIntro)}</p>
            {move || {
                error()
                    .map(|e| {
                        view! {
                            <div class="alert alert-error" role="alert" data-testid="password-error">
                                {e}
                            </div>
                        }
                    })
            }}
            <ChangePasswordForm />
            <form method="post" action="/logout" class="small">
                <button type="submit" class="button" data-testid="logout">
                    {t(Key::UserLogout)}
                </button>
            </form>
        </section>
    }
}
