//! Live events in the browser: one `EventSource` on `/api/events` per page load, shared through
//! context. Components watch `Live::tick` (and `Live::last`) to refresh what the event touches;
//! job results also pop a toast.

use leptos::prelude::*;

/// The newest event: its type (`notification`, `job_progress`, `job_finished`) and JSON data.
#[derive(Clone, Debug, PartialEq)]
pub struct LiveEvent {
    pub kind: String,
    pub data: String,
}

#[derive(Clone, Copy)]
pub struct Live {
    /// Bumped on every event.
    pub tick: RwSignal<u64>,
    pub last: RwSignal<Option<LiveEvent>>,
}

impl Live {
    pub fn new() -> Self {
        Live { tick: RwSignal::new(0), last: RwSignal::new(None) }
    }

    /// Opens the stream (in the browser only, once). EventSource reconnects by itself and sends
    /// `Last-Event-ID`, so nothing is missed across a network hiccup.
    pub fn connect(self) {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::closure::Closure;
            use wasm_bindgen::JsCast;
            thread_local! {
                static OPEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
            }
            if OPEN.with(|o| o.replace(true)) {
                return;
            }
            let Ok(source) = web_sys::EventSource::new("/api/events") else { return };
            for kind in ["notification", "job_progress", "job_finished", "server_state"] {
                let on_event = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
                    let data = e.data().as_string().unwrap_or_default();
                    self.last.set(Some(LiveEvent { kind: kind.to_owned(), data }));
                    self.tick.update(|t| *t += 1);
                });
                let _ = source.add_event_listener_with_callback(kind, on_event.as_ref().unchecked_ref());
                // The page owns the stream for its whole life.
                on_event.forget();
            }
        }
    }

    /// A counter that rises when an event of one of `kinds` arrives after this call, at most
    /// once per `every` (events in between fold into one rise). Resources that read Proxmox key
    /// on it, so a burst of events (a bulk job) costs one reload per page, not one per event,
    /// and mounting a page does not reload it for an event it has already seen.
    pub fn changes(self, kinds: &'static [&'static str], every: std::time::Duration) -> RwSignal<u64> {
        let count = RwSignal::new(0u64);
        let seen = self.tick.get_untracked();
        let pending = StoredValue::new(false);
        Effect::new(move |_| {
            if self.tick.get() <= seen || pending.get_value() {
                return;
            }
            let relevant = self.last.with_untracked(|e| e.as_ref().is_some_and(|e| kinds.contains(&e.kind.as_str())));
            if relevant {
                pending.set_value(true);
                set_timeout(
                    move || {
                        pending.set_value(false);
                        count.update(|c| *c += 1);
                    },
                    every,
                );
            }
        });
        count
    }
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

/// A job the user started has finished: a toast says how, with a link to it.
#[component]
pub fn JobToast() -> impl IntoView {
    let live = expect_context::<Live>();
    let shown = RwSignal::new(None::<(i64, String, String)>);
    Effect::new(move |_| {
        let Some(e) = live.last.get() else { return };
        if e.kind != "job_finished" {
            return;
        }
        let field = |name: &str| {
            e.data
                .split(&format!("\"{name}\":"))
                .nth(1)
                .map(|rest| {
                    rest.trim_start().trim_start_matches('"').split(['"', ',', '}']).next().unwrap_or("").to_owned()
                })
                .unwrap_or_default()
        };
        let id = field("job_id").parse::<i64>().unwrap_or(0);
        shown.set(Some((id, field("kind"), field("status"))));
    });
    view! {
        {move || {
            shown
                .get()
                .map(|(id, kind, status)| {
                    let ok = status == "succeeded";
                    view! {
                        <div
                            class=if ok { "toast toast-ok" } else { "toast toast-fail" }
                            role="status"
                            data-testid="job-toast"
                        >
                            <a href=format!(
                                "/jobs/{id}",
                            )>{format!("Job #{id} ({kind}): {}", status.replace('_', " "))}</a>
                            <button
                                type="button"
                                class="icon-button"
                                aria-label="Dismiss"
                                on:click=move |_| shown.set(None)
                            >
                                "×"
                            </button>
                        </div>
                    }
                })
        }}
    }
}
