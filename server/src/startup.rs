//! Wiring: configuration → services → router → listener, and graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use app::{shell, App};
use domain::{Database, Services};

use crate::config::{redact_url, Config};
use crate::http_metrics::{self, HttpMetrics};
use crate::{api, prefs, site, AppState};

/// A configured instance, ready to serve.
pub struct Instance {
    pub state: AppState,
}

impl Instance {
    /// Opens (and migrates) the database and prepares the services.
    pub async fn start(config: &Config) -> Result<Instance, String> {
        tracing::info!(database = %redact_url(&config.database_url), "opening database");
        let db = Database::open(&config.database_url).await.map_err(|e| e.to_string())?;
        Self::with_services(Services::new(db, config.simulated_cluster()), config)
    }

    /// Around services that already exist (tests hand in fresh databases this way).
    pub fn with_services(services: Services, config: &Config) -> Result<Instance, String> {
        let leptos_options = site::leptos_options(config.site_root.as_deref(), config.listen)?;
        Ok(Instance {
            state: AppState { services, leptos_options, metrics: Arc::new(HttpMetrics::default()) },
        })
    }
}

/// The whole HTTP surface: REST, operations, preferences, server functions, SSR, static files.
pub fn build_router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = {
        let services = state.services.clone();
        move || provide_context(services.clone())
    };
    let shell_fn = {
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    };
    Router::new()
        .nest("/api", api::router())
        .merge(api::ops_router())
        .route("/prefs", post(prefs::save))
        .leptos_routes_with_context(&state, routes, context.clone(), shell_fn)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell))
        .layer(from_fn_with_state(state.metrics.clone(), http_metrics::track))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .extensions()
                .get::<RequestId>()
                .and_then(|id| id.header_value().to_str().ok())
                .unwrap_or("-")
                .to_owned();
            // The path only: query strings may carry tokens.
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// Serves until `shutdown` resolves, then stops accepting and lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("server error: {e}"))
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
