//! The browser entry point. Everything else lives in `app`; this crate exists so the WASM build
//! compiles `app` with the `hydrate` feature only (no server crates).

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
