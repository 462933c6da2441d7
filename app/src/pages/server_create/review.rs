//! The bulk review table: one row per server the pattern makes, each editable or removable
//! before anything is created.

use leptos::prelude::*;

use crate::i18n::{t, Key};

/// One row of the bulk review table.
#[derive(Clone, Copy)]
pub struct ReviewRow {
    pub key: usize,
    pub name: RwSignal<String>,
    pub cores: RwSignal<String>,
    pub memory: RwSignal<String>,
}

#[component]
pub fn ReviewRows(review: RwSignal<Vec<ReviewRow>>, bulk: RwSignal<bool>) -> impl IntoView {
    view! {
        <Show when=move || bulk.get() && !review.get().is_empty()>
            <h2>{t(Key::ServersReview)}</h2>
            <table class="table" data-testid="review">
                <thead>
                    <tr>
                        <th>{t(Key::ServersName)}</th>
                        <th>{t(Key::ServersCores)}</th>
                        <th>{t(Key::ServersMemory)}</th>
                        <th></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || review.get() key=|r| r.key let:r>
                        {
                            view! {
                                <tr>
                                    <td>
                                        <input
                                            aria-label="name"
                                            data-testid="review-name"
                                            prop:value=move || r.name.get()
                                            on:input=move |e| r.name.set(event_target_value(&e))
                                        />
                                    </td>
                                    <td>
                                        <input
                                            aria-label="cores"
                                            size="4"
                                            prop:value=move || r.cores.get()
                                            on:input=move |e| r.cores.set(event_target_value(&e))
                                        />
                                    </td>
                                    <td>
                                        <input
                                            aria-label="memory MB"
                                            size="7"
                                            prop:value=move || r.memory.get()
                                            on:input=move |e| r.memory.set(event_target_value(&e))
                                        />
                                    </td>
                                    <td>
                                        <button
                                            type="button"
                                            class="button"
                                            on:click=move |_| review.update(|v| v.retain(|x| x.key != r.key))
                                        >
                                            {t(Key::ServersRemove)}
                                        </button>
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
        </Show>
    }
}
