//! Where the built site (WASM, JS, CSS, assets) lives and how Leptos is told about it.
//!
//! Precedence: `--site-root`, then `LEPTOS_*` variables (cargo-leptos sets them during
//! `cargo leptos watch`), then `Leptos.toml` in the working directory, then defaults.

use std::net::SocketAddr;
use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use domain::auth::Actor;
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use serde::Deserialize;
use tower::ServiceExt;
use tower_http::services::ServeDir;

use crate::identity::Caller;
use crate::AppState;

/// The subset of `Leptos.toml` the server needs; keep it in step with Cargo.toml's
/// `[[workspace.metadata.leptos]]` (a test checks it).
#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct LeptosToml {
    pub output_name: String,
    pub site_root: String,
    pub site_pkg_dir: String,
    pub site_addr: Option<String>,
    pub reload_port: Option<u32>,
}

impl Default for LeptosToml {
    fn default() -> Self {
        LeptosToml {
            output_name: "proxfleet".into(),
            site_root: "target/site".into(),
            site_pkg_dir: "pkg".into(),
            site_addr: None,
            reload_port: None,
        }
    }
}

pub fn read_leptos_toml(path: &Path) -> Result<LeptosToml, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => toml::from_str(&text).map_err(|e| format!("{} is not valid: {}", path.display(), e.message())),
        Err(_) => Ok(LeptosToml::default()),
    }
}

pub fn leptos_options(site_root: Option<&Path>, listen: SocketAddr) -> Result<LeptosOptions, String> {
    let file = read_leptos_toml(Path::new("Leptos.toml"))?;
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let root = site_root.map(|p| p.display().to_string()).or_else(|| env("LEPTOS_SITE_ROOT")).unwrap_or(file.site_root);
    let reload_port = env("LEPTOS_RELOAD_PORT").and_then(|p| p.parse().ok()).or(file.reload_port).unwrap_or(3001);
    Ok(LeptosOptions::builder()
        .output_name(env("LEPTOS_OUTPUT_NAME").unwrap_or(file.output_name))
        .site_root(root)
        .site_pkg_dir(env("LEPTOS_SITE_PKG_DIR").unwrap_or(file.site_pkg_dir))
        .site_addr(listen)
        .reload_port(reload_port)
        .env(if env("LEPTOS_WATCH").is_some() { Env::DEV } else { Env::PROD })
        .build())
}

/// Which compressed siblings of `path` (`.br`, `.gz`, written by `cargo leptos build --release
/// -P`: brotli quality 11, gzip) are at least as new as the file itself. Only those are served:
/// a later build without `-P` must never leave a stale `.wasm.br` beside a new `.wasm`.
async fn fresh_precompressed(root: &Path, path: &str) -> (bool, bool) {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() || rel.split('/').any(|seg| seg == ".." || seg.is_empty()) {
        return (false, false);
    }
    let file = root.join(rel);
    let modified = |m: std::io::Result<std::fs::Metadata>| m.and_then(|m| m.modified()).ok();
    let Some(original) = modified(tokio::fs::metadata(&file).await) else { return (false, false) };
    let fresh = |ext: &'static str| {
        let mut sibling = file.clone().into_os_string();
        sibling.push(".");
        sibling.push(ext);
        async move { modified(tokio::fs::metadata(&sibling).await).is_some_and(|compressed| compressed >= original) }
    };
    (fresh("br").await, fresh("gz").await)
}

/// Everything no route matched: a file of the built site (`/pkg/…`, favicon) if there is one,
/// otherwise the app itself, whose router renders the 404 page with status 404.
///
/// Pages render with async SSR (complete HTML, so they work without JavaScript) on the render
/// pool (see `render_pool`).
pub async fn static_file_or_page(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    if parts.method == axum::http::Method::GET || parts.method == axum::http::Method::HEAD {
        let probe = Request::from_parts(parts.clone(), Body::empty());
        let root = Path::new(&*state.leptos_options.site_root);
        let (br, gz) = fresh_precompressed(root, parts.uri.path()).await;
        let mut dir = ServeDir::new(root);
        if br {
            dir = dir.precompressed_br();
        }
        if gz {
            dir = dir.precompressed_gzip();
        }
        let mut res = match dir.oneshot(probe).await {
            Ok(res) => res,
            Err(never) => match never {},
        };
        if res.status() != StatusCode::NOT_FOUND {
            if br || gz {
                // The body depends on Accept-Encoding: shared caches must key on it.
                res.headers_mut().append(header::VARY, HeaderValue::from_static("accept-encoding"));
            }
            return res.into_response();
        }
    }
    let caller = parts.extensions.get::<Caller>().cloned().unwrap_or_default();
    if let Some(to) = page_redirect(caller.actor.as_ref(), &parts.uri) {
        return Redirect::to(&to).into_response();
    }
    let options = state.leptos_options.clone();
    // One nonce per answer: Leptos puts it on the inline scripts it writes, the policy allows
    // exactly those (see `security_headers`).
    let nonce = crate::security_headers::new_nonce();
    let context = {
        let base = leptos_context(&state, caller.actor);
        let nonce = nonce.clone();
        move || {
            base();
            provide_context(leptos::nonce::Nonce::from_value(nonce.clone()));
        }
    };
    let render = leptos_axum::render_app_async_with_context(context, move || app::shell(options.clone()));
    let req = Request::from_parts(parts, body);
    match state.render_pool.run(render(req)).await {
        Ok(mut res) => {
            let dev_reload = (state.leptos_options.env == Env::DEV).then_some(state.leptos_options.reload_port);
            if let Ok(v) = HeaderValue::from_str(&crate::security_headers::page_policy(&nonce, dev_reload)) {
                res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e, "page render failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// Pages need a login, except the login page; a user who must change their password sees only
/// that page; a logged-in user has no business on the login page.
fn page_redirect(actor: Option<&Actor>, uri: &Uri) -> Option<String> {
    let path = uri.path();
    match actor {
        None if path == "/login" => None,
        None => {
            let next = uri.path_and_query().map_or(path, |p| p.as_str());
            let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
            Some(if path == "/" { "/login".into() } else { format!("/login?{query}") })
        }
        Some(a) if a.must_change_password && path != "/change-password" => Some("/change-password".into()),
        Some(_) if path == "/login" => Some("/".into()),
        Some(_) => None,
    }
}

/// `/sfn/…`: the app's server functions, with the services and the caller in their context.
pub async fn server_function(State(state): State<AppState>, req: Request) -> Response {
    let actor = req.extensions().get::<Caller>().and_then(|c| c.actor.clone());
    let response =
        leptos_axum::handle_server_fns_with_context(leptos_context(&state, actor), req).await.into_response();
    with_error_status(response).await
}

/// The largest error body read back (an `AppError` is a few hundred bytes; a bulk request's
/// details list at most 20 errors).
const MAX_ERROR_BODY: usize = 256 * 1024;

/// A server function's error carries its HTTP status (`model::AppError::status`, the one the
/// REST door gives the same error), but `server_fn` answers every error with 500 — including
/// arguments that do not decode, which never reach our code. The status is taken from the
/// error itself here, so bad input is a 4xx through this door too.
async fn with_error_status(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR || !response.headers().contains_key("serverfnerror") {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_ERROR_BODY).await.unwrap_or_default();
    if let Some(status) = serde_json::from_slice::<model::AppError>(&bytes)
        .ok()
        .and_then(|e| StatusCode::from_u16(e.status).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
    {
        parts.status = status;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// What pages and server functions find in their Leptos context: the domain services and, when
/// logged in, the acting user (`domain::auth::Actor`), which every server function hands to
/// the service it calls.
fn leptos_context(state: &AppState, actor: Option<Actor>) -> impl Fn() + Clone + Send + Sync + 'static {
    let services = state.services.clone();
    move || {
        provide_context(services.clone());
        if let Some(a) = actor.clone() {
            provide_context(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// cargo-leptos reads Cargo.toml, the server reads Leptos.toml: they must agree.
    #[test]
    fn leptos_toml_matches_the_cargo_leptos_metadata() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let ours = read_leptos_toml(&root.join("Leptos.toml")).unwrap_or_else(|e| panic!("{e}"));
        let cargo: toml::Value = std::fs::read_to_string(root.join("Cargo.toml"))
            .ok()
            .and_then(|t| toml::from_str(&t).ok())
            .unwrap_or_else(|| panic!("Cargo.toml unreadable"));
        let meta = &cargo["workspace"]["metadata"]["leptos"][0];
        assert_eq!(meta["name"].as_str(), Some(ours.output_name.as_str()));
        assert_eq!(meta["site-root"].as_str(), Some(ours.site_root.as_str()));
        assert_eq!(meta["site-pkg-dir"].as_str(), Some(ours.site_pkg_dir.as_str()));
        assert_eq!(meta["site-addr"].as_str(), ours.site_addr.as_deref());
        assert_eq!(meta["reload-port"].as_integer(), ours.reload_port.map(i64::from));
    }
}
