//! The log viewer: a text in a modal with copy (clipboard, or selection where the page may not
//! use it) and download, shared by notifications, jobs and a server's task history.

use leptos::prelude::*;

use crate::i18n::{t, Key};

/// `data:` URL of a text, so the log downloads without another round trip.
fn text_data_url(text: &str) -> String {
    format!("data:text/plain;charset=utf-8,{}", crate::url::percent_encode(text))
}

/// A text to show in the viewer: its title, the text, and the file name a download gets.
#[derive(Debug, Clone, PartialEq)]
pub struct LogText {
    pub title: String,
    pub text: String,
    pub file: String,
}

/// The text in `log`, in a modal: copy, download, close (×, backdrop, Escape).
#[component]
pub fn LogModal(log: RwSignal<Option<LogText>>) -> impl IntoView {
    let copied = RwSignal::new(false);
    // Focus moves into the dialog when it opens (`autofocus` only acts on page load), so
    // Escape reaches it and keyboard users land on "close".
    // Closing gives focus back to what opened it (the "View log" button), so a keyboard user
    // continues where they were instead of at the top of the page.
    let close_button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    let opener = StoredValue::new_local(None::<web_sys::HtmlElement>);
    Effect::new(move |_| {
        if let Some(button) = close_button.get() {
            #[cfg(feature = "hydrate")]
            {
                use wasm_bindgen::JsCast;
                opener.set_value(document().active_element().and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()));
            }
            let _ = button.focus();
        }
    });
    let close = move || {
        log.set(None);
        copied.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(opener) = opener.get_value() {
            let _ = opener.focus();
        }
    };
    view! {
        {move || {
            log.get()
                .map(|n| {
                    let LogText { title, text, file } = n;
                    let href = text_data_url(&text);
                    let to_copy = text.clone();
                    view! {
                        <div class="modal-backdrop" on:click=move |_| close()>
                            <div
                                class="modal"
                                role="dialog"
                                aria-modal="true"
                                aria-labelledby="log-title"
                                data-testid="log-modal"
                                on:click=|e| e.stop_propagation()
                                on:keydown=move |e| {
                                    if e.key() == "Escape" {
                                        e.stop_propagation();
                                        close();
                                    }
                                }
                            >
                                <div class="modal-head">
                                    <h2 id="log-title">{title}</h2>
                                    <button
                                        type="button"
                                        class="icon-button"
                                        aria-label=t(Key::ModalClose)
                                        autofocus
                                        node_ref=close_button
                                        on:click=move |_| close()
                                    >
                                        "×"
                                    </button>
                                </div>
                                <pre class="log" id="log-text" data-testid="log-text">
                                    {text}
                                </pre>
                                <div class="row-actions">
                                    <button
                                        type="button"
                                        class="button"
                                        data-testid="copy-log"
                                        on:click=move |_| {
                                            copy_text(&to_copy);
                                            copied.set(true);
                                        }
                                    >
                                        {move || if copied.get() { t(Key::ModalCopied)() } else { t(Key::ModalCopy)() }}
                                    </button>
                                    <a class="button" href=href download=file data-testid="download-log">
                                        {t(Key::ModalDownload)}
                                    </a>
                                </div>
                            </div>
                        </div>
                    }
                })
        }}
    }
}

/// Copies to the clipboard where the page may (HTTPS or localhost); elsewhere selects the log
/// text so Ctrl+C copies it.
fn copy_text(text: &str) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsValue;
        let Some(window) = web_sys::window() else { return };
        let navigator = window.navigator();
        let has_clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
            .map(|v| !v.is_undefined())
            .unwrap_or(false);
        if has_clipboard {
            let _ = navigator.clipboard().write_text(text);
        } else if let (Some(doc), Ok(Some(sel))) = (window.document(), window.get_selection()) {
            if let Some(pre) = doc.get_element_by_id("log-text") {
                let _ = sel.select_all_children(&pre);
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}
