//! The servers page's bulk "Security groups…" dialog.

use leptos::prelude::*;

use crate::functions::firewall::list_groups;
use crate::i18n::{t, Key};
use crate::pages::firewall_preview::PreviewOutcome;

/// The bulk dialog's state, kept by the servers page so that a live refresh of the list (which
/// renders the bar again) neither closes the dialog nor loses the job it started.
#[derive(Clone, Copy)]
pub struct BulkGroupsState {
    open: RwSignal<bool>,
    mode: RwSignal<String>,
    chosen: RwSignal<String>,
    assign: ServerAction<crate::functions::firewall::AssignGroups>,
    preview: ServerAction<crate::functions::firewall::PreviewAssign>,
    /// What the preview shown was asked for: mode, group, servers.
    asked: RwSignal<Option<(String, String, Vec<String>)>>,
}

impl Default for BulkGroupsState {
    fn default() -> Self {
        Self::new()
    }
}

impl BulkGroupsState {
    pub fn new() -> Self {
        BulkGroupsState {
            open: RwSignal::new(false),
            mode: RwSignal::new("attach".to_owned()),
            chosen: RwSignal::new(String::new()),
            assign: ServerAction::new(),
            preview: ServerAction::new(),
            asked: RwSignal::new(None),
        }
    }
}

/// The servers page's bulk "Security groups…": attach, detach or set one group on the selected
/// servers. Preview first (per server: what changes, and warnings such as SSH being dropped),
/// then Apply starts one job and links to it.
#[component]
pub fn BulkGroups(selected: RwSignal<std::collections::BTreeSet<String>>, state: BulkGroupsState) -> impl IntoView {
    use crate::functions::firewall::{AssignGroups, PreviewAssign};
    let BulkGroupsState { open, mode, chosen, assign, preview, asked } = state;
    let groups = Resource::new(
        move || open.get(),
        |o| async move {
            if o {
                list_groups().await
            } else {
                Ok(Vec::new())
            }
        },
    );
    let current = move || {
        let g = chosen.get();
        (mode.get(), g, selected.get().into_iter().collect::<Vec<String>>())
    };
    // The preview shown is for what is chosen now, and came back.
    let previewed = move || {
        asked.get().as_ref() == Some(&current())
            && !preview.pending().get()
            && preview.value().with(|v| matches!(v, Some(Ok(_))))
    };
    let ask = move |_| {
        let (m, g, names) = current();
        let groups = if g.is_empty() { Vec::new() } else { vec![g.clone()] };
        asked.set(Some((m.clone(), g, names.clone())));
        preview.dispatch(PreviewAssign { names, mode: m, groups });
    };
    let run = move |_| {
        let (m, g, names) = current();
        let groups = if g.is_empty() { Vec::new() } else { vec![g] };
        assign.dispatch(AssignGroups { names, mode: m, groups });
        open.set(false);
        asked.set(None);
    };
    view! {
        <button type="button" class="button" data-testid="bulk-groups" on:click=move |_| open.update(|o| *o = !*o)>
            {t(Key::NavSecurityGroups)}
            "…"
        </button>
        {move || {
            assign
                .value()
                .get()
                .map(|r| match r {
                    Ok(id) => {
                        view! {
                            <a href=format!("/jobs/{id}") data-testid="groups-job">
                                {t(Key::ServersJobStarted)}
                                " #"
                                {id}
                            </a>
                        }
                            .into_any()
                    }
                    Err(e) => {
                        view! {
                            <span class="error" role="alert" data-testid="groups-error">
                                {e.message}
                            </span>
                        }
                            .into_any()
                    }
                })
        }}
        <Show when=move || open.get()>
            <div class="card section-gap" role="group" data-testid="bulk-groups-panel">
                <div class="toolbar">
                    <select
                        aria-label=t(Key::RulesAction)
                        data-testid="bulk-groups-mode"
                        on:change=move |e| mode.set(event_target_value(&e))
                    >
                        <option value="attach">"attach"</option>
                        <option value="detach">"detach"</option>
                        <option value="replace">"replace"</option>
                    </select>
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            let list = groups.await.unwrap_or_default();
                            if let Some(first) = list.first() {
                                if chosen.get_untracked().is_empty() {
                                    chosen.set(first.name.clone());
                                }
                            }
                            view! {
                                <select
                                    aria-label=t(Key::NavSecurityGroups)
                                    data-testid="bulk-groups-group"
                                    on:change=move |e| chosen.set(event_target_value(&e))
                                >
                                    {list
                                        .into_iter()
                                        .map(|g| view! { <option value=g.name.clone()>{g.name.clone()}</option> })
                                        .collect_view()}
                                </select>
                            }
                        })}
                    </Suspense>
                    <span data-testid="bulk-groups-summary">
                        {move || {
                            format!(
                                "{} {} → {}",
                                mode.get(),
                                chosen.get(),
                                selected.get().into_iter().collect::<Vec<_>>().join(", "),
                            )
                        }}
                    </span>
                    <button
                        type="button"
                        class="button"
                        data-testid="bulk-groups-preview"
                        disabled=move || preview.pending().get()
                        on:click=ask
                    >
                        {t(Key::PreviewRun)}
                    </button>
                    <button
                        type="button"
                        class="button button-primary"
                        data-testid="bulk-groups-confirm"
                        disabled=move || !previewed()
                        title=t(Key::PreviewFirst)
                        on:click=run
                    >
                        {t(Key::DraftApply)}
                    </button>
                    <button type="button" class="button" on:click=move |_| open.set(false)>
                        {t(Key::ConfirmCancel)}
                    </button>
                </div>
                {move || {
                    if asked.get().as_ref() != Some(&current()) {
                        return None;
                    }
                    preview
                        .value()
                        .get()
                        .map(|r| view! { <PreviewOutcome result=r error_id="bulk-groups-preview-error" /> })
                }}
            </div>
        </Show>
    }
}
