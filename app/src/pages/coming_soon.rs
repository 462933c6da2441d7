//! Areas of the product that are planned but not built: they say so plainly.

use leptos::prelude::*;

use crate::i18n::{t, Key};
use crate::PageHeader;

#[component]
pub fn ComingSoon(title: Key, body: Key) -> impl IntoView {
    view! {
        <PageHeader title=title>
            <span class="badge badge-muted" data-testid="not-built">
                {t(Key::ComingBadge)}
            </span>
        </PageHeader>
        <section class="card empty-state">
            <p class="lead">{t(body)}</p>
            <p class="muted">{t(Key::ComingBody)}</p>
            <a class="button" href="/api/docs" rel="external">
                {t(Key::NavApiDocs)}
            </a>
        </section>
    }
}
