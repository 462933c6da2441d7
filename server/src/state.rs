//! What every handler can reach. Cheap to clone: all fields are shared handles.

use std::sync::Arc;

use axum::extract::FromRef;
use leptos::config::LeptosOptions;

use crate::http_metrics::HttpMetrics;
use crate::render_pool::RenderPool;

#[derive(Clone)]
pub struct AppState {
    pub services: domain::Services,
    pub leptos_options: LeptosOptions,
    pub metrics: Arc<HttpMetrics>,
    pub render_pool: Arc<RenderPool>,
    /// The job workers of this instance; they stop when the last clone of the state goes.
    pub job_workers: Arc<domain::jobs::RunnerHandle>,
    /// Open SSE streams per user (capped).
    pub event_streams: crate::api::events::StreamCounter,
    /// PostgreSQL's LISTEN task for events of other instances.
    pub event_listener: Arc<AbortOnDrop>,
    /// The periodic inventory sync and retention pass.
    pub housekeeping: Arc<AbortOnDrop>,
    /// Trust `X-Forwarded-For` for the client's address (see `Config::behind_proxy`).
    pub behind_proxy: bool,
}

/// A background task that stops with its owner.
pub struct AbortOnDrop(pub Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.abort();
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
