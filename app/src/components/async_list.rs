//! The block every list repeats: while loading keep what was shown, then the error, the empty
//! state, or the list.

use leptos::prelude::*;
use model::AppError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::i18n::{t, Key};

/// A list read by a server function. `list` renders a non-empty list; `empty` is the text shown
/// when there is nothing (with `empty_testid` for tests).
#[component]
pub fn AsyncList<T, F, V>(
    items: Resource<Result<Vec<T>, AppError>>,
    empty: Key,
    #[prop(optional)] empty_testid: &'static str,
    list: F,
) -> impl IntoView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
    F: Fn(Vec<T>) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=|| ()>
            {move || {
                let list = list.clone();
                Suspend::new(async move {
                    match items.await {
                        Ok(v) if v.is_empty() => {
                            view! {
                                <p class="muted section-gap" data-testid=empty_testid>
                                    {t(empty)}
                                </p>
                            }
                                .into_any()
                        }
                        Ok(v) => list(v).into_any(),
                        Err(e) => {
                            view! {
                                <div class="alert alert-error" role="alert">
                                    {e.message}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })
            }}
        </Transition>
    }
}
