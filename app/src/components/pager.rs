//! Previous/next links for a paged list that keep its filters (plain links: they work without
//! JavaScript).

use leptos::prelude::*;

use crate::url::percent_encode;

/// Links to `path?page=N&…` for the page before and after `page` of `pages`, carrying the
/// filters that are set; nothing when there is one page.
pub fn pager(path: &'static str, filters: &[(&str, &Option<String>)], page: u32, pages: u32) -> impl IntoView {
    let kept: Vec<String> =
        filters.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", percent_encode(v)))).collect();
    let href = move |p: u32| {
        let mut q = vec![format!("page={p}")];
        q.extend(kept.iter().cloned());
        format!("{path}?{}", q.join("&"))
    };
    (pages > 1).then(|| {
        view! {
            <nav class="form-row" aria-label="pages" data-testid="pager">
                {(page > 1)
                    .then(|| {
                        view! {
                            <a class="button" href=href(page - 1)>
                                "←"
                            </a>
                        }
                    })}
                <span>{format!("{page} / {pages}")}</span>
                {(page < pages)
                    .then(|| {
                        view! {
                            <a class="button" href=href(page + 1)>
                                "→"
                            </a>
                        }
                    })}
            </nav>
        }
    })
}
