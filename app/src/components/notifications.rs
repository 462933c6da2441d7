//! Notifications in the page: the bell with its live unread badge and dropdown, one
//! notification's row (shared by the dropdown and the notifications page); a notification's log
//! opens in the shared log viewer.

use leptos::prelude::*;

use crate::components::confirm::ConfirmSubmit;
use crate::components::icons::{Icon, NavIcon};
use crate::components::live::Live;
use crate::components::local_time::LocalTime;
use crate::components::log_modal::{LogModal, LogText};
use crate::functions::jobs::{
    list_notifications, unread_notifications, ClearNotifications, DeleteNotification, ReadNotification,
};
use crate::i18n::{t, Key};
use model::jobs::{Notification, Severity};

/// How many notifications the dropdown shows; the page has the rest.
const DROPDOWN_SIZE: u32 = 8;

pub fn severity_icon(severity: Severity) -> &'static str {
    match severity {
        Severity::Success => "✔",
        Severity::Warning => "⚠",
        Severity::Error => "✖",
        Severity::Info => "ℹ",
    }
}

/// The actions every notification list shares; one set per list so their versions refresh it.
#[derive(Clone, Copy)]
pub struct NoteActions {
    pub read: ServerAction<ReadNotification>,
    pub delete: ServerAction<DeleteNotification>,
    pub clear: ServerAction<ClearNotifications>,
    /// The log open in the viewer.
    pub log: RwSignal<Option<LogText>>,
}

impl NoteActions {
    pub fn new() -> Self {
        NoteActions {
            read: ServerAction::new(),
            delete: ServerAction::new(),
            clear: ServerAction::new(),
            log: RwSignal::new(None),
        }
    }

    /// Changes whenever one of the actions finished: lists reload on it.
    pub fn version(&self) -> (usize, usize, usize) {
        (self.read.version().get(), self.delete.version().get(), self.clear.version().get())
    }
}

impl Default for NoteActions {
    fn default() -> Self {
        Self::new()
    }
}

/// One notification: severity icon, title, time, message, and its actions.
#[component]
pub fn NoteItem(note: Notification, actions: NoteActions) -> impl IntoView {
    let unread = !note.is_read;
    let id = note.id;
    let has_log = !note.details.is_empty();
    let for_log = note.clone();
    view! {
        <li
            class=format!("note note-{}{}", note.severity.as_str(), if unread { " note-unread" } else { "" })
            data-testid="note"
        >
            <div class="note-head">
                <span class="note-icon" aria-label=note.severity.as_str()>
                    {severity_icon(note.severity)}
                </span>
                <strong>{note.title.clone()}</strong>
                <span class="muted small">
                    <LocalTime ms=note.created_at />
                </span>
            </div>
            <p>{note.message.clone()}</p>
            <div class="row-actions">
                <Show when=move || {
                    has_log
                }>
                    {
                        let log = LogText {
                            title: for_log.title.clone(),
                            text: for_log.details.clone(),
                            file: format!("notification-{}.log", for_log.id),
                        };
                        view! {
                            <button
                                type="button"
                                class="button"
                                data-testid="view-log"
                                on:click=move |_| actions.log.set(Some(log.clone()))
                            >
                                {t(Key::NotesLog)}
                            </button>
                        }
                    }
                </Show>
                <Show when=move || unread>
                    <ActionForm action=actions.read attr:class="inline-form">
                        <input type="hidden" name="id" value=id />
                        <button type="submit" class="button" data-testid="mark-read">
                            {t(Key::NotesRead)}
                        </button>
                    </ActionForm>
                </Show>
                <ActionForm action=actions.delete attr:class="inline-form">
                    <input type="hidden" name="id" value=id />
                    <button type="submit" class="button button-danger" data-testid="delete-note">
                        {t(Key::ActionDelete)}
                    </button>
                </ActionForm>
            </div>
        </li>
    }
}

/// The bell in the top bar: live unread count; opens the latest notifications in a dropdown.
/// Without JavaScript it is a plain link to the notifications page.
#[component]
pub fn NotificationBell() -> impl IntoView {
    let live = expect_context::<Live>();
    let open = RwSignal::new(false);
    let actions = NoteActions::new();
    let unread = Resource::new(move || (live.tick.get(), actions.version()), |_| unread_notifications());
    let notes = Resource::new(
        move || (open.get(), live.tick.get(), actions.version()),
        |(open, _, _)| async move {
            if open {
                list_notifications(DROPDOWN_SIZE).await
            } else {
                Ok(Vec::new())
            }
        },
    );
    let wrap = NodeRef::<leptos::html::Div>::new();
    // Escape anywhere, or a click outside the bell, closes the dropdown (the log modal stops
    // its own Escape from getting here).
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let on_key = window_event_listener(leptos::ev::keydown, move |e| {
            if e.key() == "Escape" && open.get_untracked() {
                open.set(false);
            }
        });
        let on_click = window_event_listener(leptos::ev::click, move |e| {
            // The path as it was at dispatch: a clicked button that re-rendered away (the
            // "are you sure?" swap) still counts as inside.
            let inside = wrap.get_untracked().is_none_or(|w| e.composed_path().includes(w.unchecked_ref(), 0));
            if !inside && open.get_untracked() && actions.log.get_untracked().is_none() {
                open.set(false);
            }
        });
        on_cleanup(move || {
            on_key.remove();
            on_click.remove();
        });
    }
    view! {
        <div class="bell-wrap" node_ref=wrap>
            <a
                class="bell"
                href="/notifications"
                aria-label=t(Key::NavNotifications)
                aria-haspopup="true"
                aria-expanded=move || open.get().to_string()
                data-testid="bell"
                on:click=move |e| {
                    e.prevent_default();
                    open.update(|o| *o = !*o);
                }
            >
                <NavIcon icon=Icon::Bell />
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let n = unread.await.unwrap_or(0);
                        (n > 0)
                            .then(|| {
                                view! {
                                    <span class="bell-badge" data-testid="unread-count">
                                        {n}
                                    </span>
                                }
                            })
                    })}
                </Transition>
            </a>
            <Show when=move || open.get()>
                <div
                    class="bell-dropdown"
                    role="region"
                    aria-label=t(Key::NavNotifications)
                    data-testid="bell-dropdown"
                >
                    <div class="bell-dropdown-head">
                        <strong>{t(Key::NavNotifications)}</strong>
                        <ActionForm action=actions.clear attr:class="inline-form">
                            <ConfirmSubmit label=Key::NotesClear confirm=Key::NotesClearConfirm />
                        </ActionForm>
                    </div>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            match notes.await {
                                Ok(list) if list.is_empty() => {
                                    view! {
                                        <p class="muted" data-testid="notes-empty">
                                            {t(Key::NotesEmpty)}
                                        </p>
                                    }
                                        .into_any()
                                }
                                Ok(list) => {
                                    view! {
                                        <ul class="notes notes-compact">
                                            {list
                                                .into_iter()
                                                .map(|n| view! { <NoteItem note=n actions=actions /> })
                                                .collect_view()}
                                        </ul>
                                    }
                                        .into_any()
                                }
                                Err(e) => {
                                    view! {
                                        <div class="alert alert-error" role="alert">
                                            {e.to_string()}
                                        </div>
                                    }
                                        .into_any()
                                }
                            }
                        })}
                    </Transition>
                    <a href="/notifications" class="bell-all" on:click=move |_| open.set(false)>
                        {t(Key::NotesAll)}
                    </a>
                </div>
            </Show>
            <LogModal log=actions.log />
        </div>
    }
}
