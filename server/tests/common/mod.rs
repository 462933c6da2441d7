//! Real server instances on free loopback ports, over fresh databases, for HTTP tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::LazyLock;

use axum::Router;
use domain::testing::fresh_url;
use domain::{Backend, Database, Services};
use server::config::Config;
use server::{build_router_with, serve, AppState, Instance};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub url: String,
    pub services: Services,
    /// The simulated cluster behind `services.cluster`, when the test asked for one.
    pub simulator: Option<pvesim::Running>,
    /// Its job workers (servers with a cluster): `abort` stops them mid-step, as a killed
    /// process would, leaving its jobs claimed until their lease runs out.
    pub workers: Option<std::sync::Arc<domain::jobs::RunnerHandle>>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), String>>>,
}

pub fn config(listen: SocketAddr) -> Config {
    Config::local(listen, "sqlite::memory:".into())
}

/// All test servers run on one long-lived multi-threaded runtime, like the real binary, not
/// on each test's own short-lived runtime: work a server spawns must never land on a runtime
/// that another test has already shut down.
static SERVER_RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap());

/// Serves the real router over a fresh database of `backend` (plus `extra` routes, for tests
/// that need a controllable handler); `None` when that backend is not available.
pub async fn spawn_with(backend: Backend, extra: Router) -> Option<TestServer> {
    spawn_inner(backend, extra, Router::new(), Services::new).await
}

/// A server whose services are built by `make` (e.g. with short lockout windows).
pub async fn spawn_with_services(backend: Backend, make: fn(Database, bool) -> Services) -> Option<TestServer> {
    spawn_inner(backend, Router::new(), Router::new(), make).await
}

/// Like `spawn_with`, but `inner` routes sit under the server's own layers (route table
/// enforcement included).
pub async fn spawn_with_inner(inner: Router<AppState>) -> TestServer {
    spawn_inner(Backend::Sqlite, Router::new(), inner, Services::new).await.unwrap()
}

/// Like `spawn_with_services`, behind a (pretend) reverse proxy: the client address is the last
/// `X-Forwarded-For` entry, so a test can speak from many addresses.
pub async fn spawn_behind_proxy(backend: Backend, make: fn(Database, bool) -> Services) -> Option<TestServer> {
    let url = fresh_url(backend).await?;
    Some(spawn_configured(url, Router::new(), Router::new(), make, |c| Config { behind_proxy: true, ..c }).await)
}

async fn spawn_inner(
    backend: Backend,
    extra: Router,
    inner: Router<AppState>,
    make: fn(Database, bool) -> Services,
) -> Option<TestServer> {
    let url = fresh_url(backend).await?;
    Some(spawn_on_url(url, extra, inner, make, None).await)
}

/// Two instances sharing one fresh PostgreSQL database (`None` without PostgreSQL).
pub async fn spawn_pair_on_postgres() -> Option<(TestServer, TestServer)> {
    let url = fresh_url(Backend::Postgres).await?;
    let a = spawn_on_url(url.clone(), Router::new(), Router::new(), Services::new, None).await;
    let b = spawn_on_url(url, Router::new(), Router::new(), Services::new, None).await;
    Some((a, b))
}

/// A server on SQLite that serves the built site from `site_root`.
pub async fn spawn_with_site(site_root: std::path::PathBuf) -> TestServer {
    let url = fresh_url(Backend::Sqlite).await.unwrap();
    spawn_on_url(url, Router::new(), Router::new(), Services::new, Some(site_root)).await
}

async fn spawn_on_url(
    url: String,
    extra: Router,
    inner: Router<AppState>,
    make: fn(Database, bool) -> Services,
    site_root: Option<std::path::PathBuf>,
) -> TestServer {
    spawn_configured(url, extra, inner, make, move |c| Config { site_root, ..c }).await
}

async fn spawn_configured(
    url: String,
    extra: Router,
    inner: Router<AppState>,
    make: fn(Database, bool) -> Services,
    tweak: impl FnOnce(Config) -> Config + Send + 'static,
) -> TestServer {
    let task = SERVER_RUNTIME.spawn(async move {
        let db = Database::open(&url).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let services = make(db, true);
        let instance = Instance::with_services(services.clone(), &tweak(config(addr))).unwrap();
        let router = build_router_with(instance.state, inner).merge(extra);
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(listener, router, async move {
            let _ = rx.await;
        }));
        TestServer {
            url: format!("http://{addr}"),
            services,
            simulator: None,
            workers: None,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    });
    task.await.unwrap()
}

/// A server on SQLite whose Proxmox cluster is a simulator (instant tasks), reached through
/// the real `pve` client over HTTP.
pub async fn spawn_with_cluster() -> TestServer {
    spawn_with_cluster_on(Backend::Sqlite, pvesim::Layout { nodes: 2, seed: 1, vms: 5, shared_storage: true })
        .await
        .unwrap()
}

/// The same on `backend` (`None` when it is not available), with `layout`; creates poll fast.
pub async fn spawn_with_cluster_on(backend: Backend, layout: pvesim::Layout) -> Option<TestServer> {
    spawn_with_cluster_configured(backend, layout, |c| c).await
}

/// The same, with the configuration changed by `configure` (sync interval, snapshot age…).
pub async fn spawn_with_cluster_configured(
    backend: Backend,
    layout: pvesim::Layout,
    configure: fn(Config) -> Config,
) -> Option<TestServer> {
    spawn_with_cluster_timed(backend, layout, pvesim::Profile::Instant, configure).await
}

/// The same, with tasks that take the time `profile` gives them.
pub async fn spawn_with_cluster_timed(
    backend: Backend,
    layout: pvesim::Layout,
    profile: pvesim::Profile,
    configure: fn(Config) -> Config,
) -> Option<TestServer> {
    let url = fresh_url(backend).await?;
    let sim = start_simulator_timed(layout, profile).await;
    Some(spawn_on_cluster(url, (sim.url.clone(), sim.auth()), Some(sim), configure).await)
}

/// A simulated cluster with instant tasks, on the shared runtime.
pub async fn start_simulator(layout: pvesim::Layout) -> pvesim::Running {
    start_simulator_timed(layout, pvesim::Profile::Instant).await
}

async fn start_simulator_timed(layout: pvesim::Layout, profile: pvesim::Profile) -> pvesim::Running {
    SERVER_RUNTIME
        .spawn(async move {
            pvesim::start("127.0.0.1:0".parse().unwrap(), &layout, profile, "test-token", "pw").await.unwrap()
        })
        .await
        .unwrap()
}

/// Two instances on one fresh PostgreSQL database and one simulated cluster (`None` without
/// PostgreSQL): the first holds the simulator.
pub async fn spawn_pair_with_cluster_on_postgres(
    layout: pvesim::Layout,
    configure: fn(Config) -> Config,
) -> Option<(TestServer, TestServer)> {
    let url = fresh_url(Backend::Postgres).await?;
    let sim = start_simulator(layout).await;
    let reach = (sim.url.clone(), sim.auth());
    let a = spawn_on_cluster(url.clone(), reach.clone(), Some(sim), configure).await;
    let b = spawn_on_cluster(url, reach, None, configure).await;
    Some((a, b))
}

/// How the create and action jobs pace themselves in tests: fast polls, quick retries.
pub fn test_create_limits() -> domain::servers::CreateLimits {
    use std::time::Duration;
    domain::servers::CreateLimits {
        agent_timeout: Duration::from_secs(5),
        polling: pve::Polling { first: Duration::from_millis(5), max: Duration::from_millis(50) },
        retry: domain::cluster::Retry {
            budget: Duration::from_secs(5),
            first: Duration::from_millis(5),
            max: Duration::from_millis(50),
            node_budget: Duration::from_secs(1),
        },
        ..Default::default()
    }
}

async fn spawn_on_cluster(
    url: String,
    (sim_url, sim_auth): (String, pve::Auth),
    simulator: Option<pvesim::Running>,
    configure: fn(Config) -> Config,
) -> TestServer {
    let task = SERVER_RUNTIME.spawn(async move {
        let mut pve_config = pve::PveConfig::new(sim_url, sim_auth, pve::TlsMode::System);
        pve_config.backoff = std::time::Duration::from_millis(5);
        let client = pve::PveClient::new(pve_config).unwrap();
        let db = Database::open(&url).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let services = Services::new(db, true).with_cluster(client).with_create_limits(test_create_limits());
        let instance = Instance::with_services(services.clone(), &configure(config(addr))).unwrap();
        let workers = Some(instance.state.job_workers.clone());
        let router = build_router_with(instance.state, Router::new());
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(serve(listener, router, async move {
            let _ = rx.await;
        }));
        TestServer {
            url: format!("http://{addr}"),
            services,
            simulator,
            workers,
            shutdown: Some(tx),
            handle: Some(handle),
        }
    });
    task.await.unwrap()
}

/// The real `proxfleet` binary, started on `database_url` and the simulated cluster `sim`,
/// listening on `listen`: what an operator runs, for tests that kill and restart it.
pub struct Process {
    child: std::process::Child,
    /// Its log (stderr), kept in a file so a test can read what it said.
    pub log: std::path::PathBuf,
}

impl Process {
    /// Starts it and returns once it says it is serving.
    pub fn start(database_url: &str, sim: &pvesim::Running, listen: SocketAddr) -> Process {
        use std::io::BufRead as _;
        let log =
            std::env::temp_dir().join(format!("proxfleet-process-{}-{}.log", listen.port(), domain::clock::now_ms()));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_proxfleet"))
            .args(["--listen", &listen.to_string(), "--pve-url", &sim.url, "--sync-interval", "3600", "--log", "info"])
            // Secrets through the environment, not the command line (`ps` shows that).
            .env("DATABASE_URL", database_url)
            .env("PROXFLEET_PVE_TOKEN", format!("{}={}", sim.token_id, sim.token_secret))
            .env("PROXFLEET_ADMIN_PASSWORD", PASSWORD)
            .env_remove("PROXFLEET_CONFIG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut printed = String::new();
        while !printed.contains("proxfleet is running at") {
            let read = stdout.read_line(&mut printed).unwrap();
            let log_text = std::fs::read_to_string(&log).unwrap_or_default();
            assert!(read > 0, "proxfleet exited before serving: {printed}\n{log_text}");
        }
        Process { child, log }
    }

    /// `kill -9`: no shutdown, no cleanup, leases and slots left as they were.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A free loopback address for a process to listen on, and again after a restart: below the
/// range the OS hands out for outgoing connections, so none of those takes it meanwhile.
pub fn free_address() -> SocketAddr {
    let start = 20_000 + u16::try_from(std::process::id() % 10_000).unwrap();
    (0..2_000u16)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 20_000 + (start - 20_000 + i) % 12_000)))
        .find(|a| std::net::TcpListener::bind(a).is_ok())
        .unwrap()
}

/// A `TestServer` view of an instance running elsewhere (a `Process`) at `listen`: the test's
/// own services over the same database and cluster make users and sessions and read Proxmox.
pub async fn beside(listen: SocketAddr, database_url: &str, simulator: pvesim::Running) -> TestServer {
    let client =
        pve::PveClient::new(pve::PveConfig::new(simulator.url.clone(), simulator.auth(), pve::TlsMode::System))
            .unwrap();
    let db = Database::open(database_url).await.unwrap();
    TestServer {
        url: format!("http://{listen}"),
        services: Services::new(db, true).with_cluster(client),
        simulator: Some(simulator),
        workers: None,
        shutdown: None,
        handle: None,
    }
}

/// A server on SQLite.
pub async fn spawn() -> TestServer {
    spawn_with(Backend::Sqlite, Router::new()).await.unwrap()
}

/// One server per available backend: SQLite, and PostgreSQL when the run provides it.
pub async fn spawn_each_backend() -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        out.extend(spawn_with(backend, Router::new()).await);
    }
    out
}

impl TestServer {
    pub fn backend(&self) -> &'static str {
        self.services.db.backend().as_str()
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Starts a graceful shutdown and returns the serving task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<Result<(), String>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// A logged-in browser: its cookie header, CSRF token and the origin to send on writes.
#[derive(Debug, Clone)]
pub struct Login {
    pub username: String,
    pub cookie: String,
    pub csrf: String,
    pub origin: String,
}

impl Login {
    /// A request with this login's cookie and a same-site `Origin`.
    pub fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        client().request(method, url).header("cookie", &self.cookie).header("origin", &self.origin)
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }
}

impl TestServer {
    /// Creates a user with `role`'s default permissions and `PASSWORD` (the domain door, so
    /// tests of other endpoints do not depend on the users API).
    pub async fn add_user(&self, username: &str, role: &str) -> domain::users::User {
        use domain::auth::{password, Role};
        let hash = password::hash(PASSWORD).unwrap();
        let perms: Vec<String> =
            Role::parse(role).unwrap().default_permissions().iter().map(|p| p.as_str().to_owned()).collect();
        self.services
            .users
            .create(domain::users::NewUser {
                username,
                password_hash: &hash,
                role,
                permissions: &perms,
                ..Default::default()
            })
            .await
            .unwrap()
    }

    /// A session for an existing user, made directly in the session store (no argon2 cost).
    pub async fn session_for(&self, username: &str) -> Login {
        let user = self.services.users.by_username(username).await.unwrap().unwrap();
        let s = self.services.auth.sessions().create(user.id, Some("127.0.0.1"), Some("tests")).await.unwrap();
        Login {
            username: username.to_owned(),
            cookie: format!("pf_session={}", s.secret),
            csrf: s.csrf_token,
            origin: self.url.clone(),
        }
    }

    /// A new user of `role` (named after it), logged in.
    pub async fn login_as(&self, role: &str) -> Login {
        let name = format!("{role}1");
        if self.services.users.by_username(&name).await.unwrap().is_none() {
            self.add_user(&name, role).await;
        }
        self.session_for(&name).await
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}
