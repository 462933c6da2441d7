//! Wiring: configuration → services → router → listener, and graceful shutdown.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::middleware::from_fn_with_state;
use axum::routing::post;
use axum::Router;
use tokio::net::TcpListener;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use domain::{Database, Services};

use crate::config::{redact_url, Config};
use crate::http_metrics::{self, HttpMetrics};
use crate::render_pool::RenderPool;
use crate::{api, identity, prefs, security_headers, site, AppState};

/// How often old notifications, events and finished jobs are pruned.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// A configured instance, ready to serve.
pub struct Instance {
    pub state: AppState,
    /// The built-in simulated cluster, when no real one is configured; it stops when dropped.
    pub simulator: Option<pvesim::Running>,
}

/// The demo cluster of the default mode: 3 nodes, the four templates, 30 VMs, real timings.
pub fn demo_layout() -> pvesim::Layout {
    pvesim::Layout { nodes: 3, seed: 42, vms: 30, shared_storage: true }
}

impl Instance {
    /// Opens (and migrates) the database, connects the Proxmox client (to the configured
    /// cluster, or to a simulator started here, over HTTP like a real one) and prepares the
    /// services.
    pub async fn start(config: &Config) -> Result<Instance, String> {
        tracing::info!(database = %redact_url(&config.database_url), "opening database");
        let db = Database::open(&config.database_url).await.map_err(|e| e.to_string())?;
        let (pve_config, simulator) = match (&config.pve_url, &config.pve_auth) {
            (Some(url), Some(auth)) => (pve::PveConfig::new(url.clone(), auth.clone(), config.pve_tls.clone()), None),
            _ => {
                let secret = domain::auth::tokens::random_secret();
                let running = pvesim::start(
                    std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
                    &demo_layout(),
                    config.sim_profile,
                    &secret,
                    &domain::auth::tokens::random_secret(),
                )
                .await
                .map_err(|e| format!("cannot start the simulated cluster: {e}"))?;
                // Ten days of nightly backups, so the backups pages have something to show.
                running.sim.seed_backups(10);
                tracing::info!(url = %running.url, "started the built-in simulated Proxmox VE cluster (demo mode)");
                (pve::PveConfig::new(running.url.clone(), running.auth(), pve::TlsMode::System), Some(running))
            }
        };
        let client = pve::PveClient::new(pve_config)?;
        let services = Services::new(db, config.simulated_cluster()).with_cluster(client);
        if simulator.is_some() {
            // The demo starts with a pool on the simulated cluster's bridge, clear of the
            // addresses its sample VMs use.
            let pool = domain::ipam::PoolInput {
                name: "default".into(),
                cidr: "10.10.0.0/24".into(),
                gateway: Some("10.10.0.1".into()),
                dns: vec!["10.10.0.1".into()],
                bridge: "vmbr0".into(),
                reserved: "10.10.0.1-10.10.0.99".into(),
                description: "Demo pool of the built-in simulated cluster".into(),
                ..Default::default()
            };
            services
                .ipam
                .ensure_default_pool(&pool)
                .await
                .map_err(|e| format!("cannot create the default IP pool: {e}"))?;
        }
        let mut instance = Self::with_services(services, config)?;
        instance.simulator = simulator;
        Ok(instance)
    }

    /// Around services that already exist (tests hand in fresh databases this way).
    /// `config.listen` must be the address already bound (or port 0): it is the instance's seat.
    pub fn with_services(services: Services, config: &Config) -> Result<Instance, String> {
        let leptos_options = site::leptos_options(config.site_root.as_deref(), config.listen)?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let render_pool = RenderPool::new(threads).map_err(|e| format!("cannot start the render threads: {e}"))?;
        // The job workers: every job kind's handler, sharing one set of concurrency limits
        // with every other instance on this database. `config.listen` is bound by now, so the
        // seat is ours alone: a restart takes back what the previous run left at once.
        let seated = match crate::seat::of(config.listen) {
            Some(seat) => {
                tracing::info!(seat, "jobs held by an earlier run of this seat are taken back at start");
                domain::jobs::RunnerConfig::seated(&seat)
            }
            None => Default::default(),
        };
        let runner_config =
            domain::jobs::RunnerConfig { workers: services.jobs.workers(), lease: config.job_lease, ..seated };
        let limits = domain::jobs::KeyedLimits::shared(services.db.clone(), &runner_config.instance);
        let runner = domain::jobs::JobRunner::new(services.jobs.store().clone(), runner_config, limits)
            .with_wake(services.jobs.waker())
            .with_notifications(services.notifications.clone())
            .with_events(services.events.clone())
            .with_audit(services.audit.clone());
        let runner = services.firewall.register_jobs(services.servers.register_jobs(runner));
        let runner = services.backups.register_jobs(runner);
        let job_workers = domain::jobs::service::register_test_jobs(runner).start();
        // Housekeeping: the server records follow Proxmox every `sync_interval` (30 s; from
        // the shared cluster snapshot); old notifications, events and finished jobs are pruned
        // every ten minutes.
        services.cluster.set_snapshot_max_age(config.cluster_snapshot_max_age);
        let sync_interval = config.sync_interval;
        let housekeeping = {
            let services = services.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(sync_interval);
                let mut pruned_at: Option<std::time::Instant> = None;
                loop {
                    every.tick().await;
                    if services.cluster.client().is_ok() {
                        let sync = domain::servers::inventory::sync(
                            &services.servers.store,
                            &services.cluster,
                            &services.events,
                            domain::cluster::Freshness::Recent,
                        );
                        if let Err(e) = sync.await {
                            tracing::warn!(error = %e, "inventory sync failed");
                        }
                    }
                    if pruned_at.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
                        pruned_at = Some(std::time::Instant::now());
                        match domain::retention::prune(&services).await {
                            Ok(p) if p != domain::retention::Pruned::default() => {
                                tracing::info!(?p, "retention pruned old records")
                            }
                            Ok(_) => {}
                            Err(e) => tracing::warn!(error = %e, "retention pass failed"),
                        }
                    }
                }
            })
        };
        // PostgreSQL: hear the events other instances publish (NOTIFY).
        let event_listener = crate::state::AbortOnDrop(services.events.start_listener());
        Ok(Instance {
            simulator: None,
            state: AppState {
                services,
                leptos_options,
                metrics: Arc::new(HttpMetrics::default()),
                render_pool: Arc::new(render_pool),
                job_workers: Arc::new(job_workers),
                event_streams: Default::default(),
                event_listener: Arc::new(event_listener),
                housekeeping: Arc::new(crate::state::AbortOnDrop(Some(housekeeping))),
                behind_proxy: config.behind_proxy,
            },
        })
    }
}

/// The whole HTTP surface: REST, operations, preferences, server functions, SSR, static files.
pub fn build_router(state: AppState) -> Router {
    build_router_with(state, Router::new())
}

/// The same, with `extra` routes mounted under the same layers (route-table enforcement
/// included): for tests that need a route of their own.
pub fn build_router_with(state: AppState, extra: Router<AppState>) -> Router {
    // Pages are not mounted one by one: every GET that no route above claims goes to the
    // fallback, which serves a site file or renders the app, whose own router picks the page
    // (or the 404 page). Server functions need their routes, under their own prefix.
    Router::new()
        .nest("/api", api::router())
        .merge(api::ops_router())
        .merge(api::session_router())
        .route("/prefs", post(prefs::save))
        .route("/sfn/{*fn_name}", post(site::server_function).get(site::server_function))
        .merge(extra)
        .fallback(site::static_file_or_page)
        .route_layer(axum::middleware::from_fn(api::routes::enforce))
        // Runs before the route table's check: resolves who is calling, for every request.
        .layer(from_fn_with_state(state.clone(), identity::identify))
        .layer(from_fn_with_state(state.metrics.clone(), http_metrics::track))
        .layer(axum::middleware::from_fn(security_headers::add))
        // Brotli (quality 4) to clients that take it; gzip at its fastest level to the rest
        // (python-requests and most scripts): on the 750 KiB 500-server page gzip 6 took
        // 4.5 ms for 33 KiB, gzip 1 0.7 ms for 53 KiB, brotli 4 1.9 ms for 14 KiB
        // (serverbench). Responses already encoded (the whole-fleet answer) pass untouched.
        .layer(CompressionLayer::new().no_gzip())
        .layer(CompressionLayer::new().no_br().quality(CompressionLevel::Fastest))
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

/// A future that resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed now, not
/// when the future is first polled: a signal that arrives right after start-up must still mean
/// "shut down gracefully", not the default "die at once".
#[cfg(unix)]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutdown requested: finishing in-flight requests");
    })
}

#[cfg(not(unix))]
pub fn shutdown_signal() -> Result<impl Future<Output = ()> + Send + 'static, String> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutdown requested: finishing in-flight requests");
    })
}
