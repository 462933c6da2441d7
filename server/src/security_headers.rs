//! Headers that tell browsers how to treat our answers.
//!
//! Every answer: `X-Content-Type-Options: nosniff` (a JSON or text answer is never run as a
//! script or rendered as a page) and `Referrer-Policy: same-origin` (URLs, which may name
//! servers and jobs, never leave for other sites).
//!
//! HTML answers also get a Content-Security-Policy and `X-Frame-Options: DENY`. Pages rendered
//! by the app carry a fresh nonce per answer (`page_policy`): Leptos puts it on its inline
//! hydration script and on the scripts that carry resolved data, so only those run. Other HTML
//! (the API reference) gets the same policy without a nonce (`static_policy`): it has no
//! script at all.

use axum::extract::Request;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The policy of a page whose inline scripts carry `nonce`.
///
/// - `script-src`: our own files, WebAssembly compilation (`'wasm-unsafe-eval'`), and inline
///   scripts with this answer's nonce (Leptos' hydration bootstrap and resolved resources);
/// - `style-src 'self'`: only the stylesheet, no inline styles or `style` attributes (the
///   gauges draw their bars with SVG attributes for this reason);
/// - `connect-src 'self'`: server functions, REST and the SSE stream are all same-origin;
/// - `frame-ancestors 'none'`, `base-uri 'none'`, `form-action 'self'`: no framing
///   (clickjacking), no `<base>` tricks, forms post only here.
pub fn page_policy(nonce: &str, dev_reload: Option<u32>) -> String {
    policy(&format!("'self' 'wasm-unsafe-eval' 'nonce-{nonce}'"), dev_reload)
}

/// The same policy for HTML with no inline script.
pub fn static_policy() -> String {
    policy("'self' 'wasm-unsafe-eval'", None)
}

fn policy(script_src: &str, dev_reload: Option<u32>) -> String {
    // `cargo leptos watch` reloads pages over a WebSocket on its own port.
    let connect = match dev_reload {
        Some(port) => format!("'self' ws://127.0.0.1:{port} ws://localhost:{port}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src {script_src}; style-src 'self'; img-src 'self' data:; \
         connect-src {connect}; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// A fresh nonce for one page: 128 random bits, hex-encoded (valid in a CSP source).
pub fn new_nonce() -> String {
    domain::auth::tokens::random_secret().chars().take(32).collect()
}

/// Middleware on every answer (see the module documentation).
pub async fn add(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let headers = res.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    let html = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|t| t.starts_with("text/html"));
    if html {
        headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        if !headers.contains_key(CONTENT_SECURITY_POLICY) {
            if let Ok(v) = HeaderValue::from_str(&static_policy()) {
                headers.insert(CONTENT_SECURITY_POLICY, v);
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_only_our_files_and_this_answers_nonce() {
        let p = page_policy("abc123", None);
        assert!(p.contains("script-src 'self' 'wasm-unsafe-eval' 'nonce-abc123';"), "{p}");
        for part in [
            "default-src 'self'",
            "style-src 'self';",
            "img-src 'self' data:",
            "connect-src 'self';",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(p.contains(part), "{part} missing from {p}");
        }
        assert!(!p.contains("unsafe-inline") && !static_policy().contains("nonce-"));
        assert_ne!(new_nonce(), new_nonce());
        assert_eq!(new_nonce().len(), 32);
    }
}
