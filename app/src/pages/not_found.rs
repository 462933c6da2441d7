use leptos::prelude::*;

use crate::i18n::{t, Key};
use crate::PageHeader;

#[component]
pub fn NotFound() -> impl IntoView {
    // The page is friendly, but the status must still say 404 to browsers, crawlers and tests.
    #[cfg(feature = "ssr")]
    if let Some(resp) = use_context::<leptos_axum::ResponseOptions>() {
        resp.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <PageHeader title=Key::NotfoundTitle />
        <section class="card empty-state" data-testid="not-found">
            <p class="lead">{t(Key::NotfoundBody)}</p>
            <a class="button" href="/">
                {t(Key::NotfoundHome)}
            </a>
        </section>
    }
}
