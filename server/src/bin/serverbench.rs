//! `serverbench`: the servers feature's figures, on demand (not part of the test run):
//!
//!   cargo leptos build --release --precompress   # the site, for the transfer sizes
//!   cargo build --release -p server --bin serverbench
//!   $CARGO_TARGET_DIR/release/serverbench [--vms 1000] [--create 100] [--factor 0.1] [--faults]
//!
//! 1. The whole-fleet reads (`all_server_status`, `servers/brief`, `servers?per_page=500`) and
//!    the default page with N managed VMs (a simulator of N VMs, all imported): p50/p99 one
//!    request at a time, req/s with 8 in parallel, plain and compressed; the Proxmox calls and
//!    database writes they caused; the `Any` driver against the typed one; compression levels.
//! 2. Server-side rendering of `/servers` with those N VMs: p50/p99 of the whole response.
//! 3. What the browser downloads to run `/servers`: every `/pkg/` script and WASM module the
//!    rendered page names (its module preloads and preloads), fetched as the server sends them
//!    with `Accept-Encoding: br`.
//! 4. A bulk create of M VMs on a 3-node simulator in the realistic profile (durations scaled by
//!    `--factor`; polling scaled the same way): wall time against the lower bound the clone
//!    locks imply (Proxmox serialises clones of one template), and lock-timeout failures.
//! 5. With `--faults`, instead of 4: that bulk create from a template on shared storage (servers spread over
//!    the 3 nodes), fault-free, then through 10 % read errors, 10 % write faults (busy or
//!    answer lost) and a node dropping out after 30 % of the clones, then the same with the
//!    instance in a process of its own, killed with SIGKILL at 50 % and restarted: wall time
//!    against the clone-lock bound for the servers placed, duplicate VMs, orphans, failures by
//!    cause, Proxmox calls per server against the fault-free run, and how soon after the restart
//!    the job went on.
//!
//! 6. With `--backups N`, instead of everything else: `GET /api/backups/nodes` over N backups
//!    (N/10 VMs on 3 nodes with ten nightly backups each on the shared storage, plus weekly ones
//!    on `local`): p50/p95 one at a time and 8 at a time, a page of 50, the content calls the
//!    run caused per node × storage per 10 s, and the same reads with the shared listing
//!    dropped before each one (every read asks Proxmox) as the baseline.
//!
//! Reads go over keep-alive loopback connections, as a polling dashboard or script holds them;
//! the transfer sizes are fetched one connection each.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Cli {
    /// VMs in the simulator for the read and render figures.
    #[arg(long, default_value_t = 1000)]
    vms: usize,
    /// Requests per read figure.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// VMs in the bulk create (0 skips it).
    #[arg(long, default_value_t = 100)]
    create: usize,
    /// Time scale of the realistic profile for the bulk create (1.0 = real durations).
    #[arg(long, default_value_t = 0.1)]
    factor: f64,
    /// Instead of the bulk create, the same from a template on shared storage: fault-free,
    /// through faults (read/write errors, lost answers, a node dropping out), and with the
    /// instance killed midway.
    #[arg(long)]
    faults: bool,
    /// Instead of everything else: the backups list over this many backups (see 6 above).
    #[arg(long)]
    backups: Option<usize>,
    /// Only this read, 8 at a time, `--requests` times (for profiling one path, e.g. under
    /// `perf record`), after the setup.
    #[arg(long, value_name = "PATH")]
    only: Option<String>,
    /// The built site (default: what the server uses, `target/site` of the workspace, where
    /// `cargo leptos build` writes it; run from the workspace root).
    #[arg(long)]
    site_root: Option<PathBuf>,
    /// Internal: serve as the instance that the `--faults` kill run kills and restarts (the
    /// benchmark starts itself this way), on this database.
    #[arg(long, hide = true, requires_all = ["instance_listen", "instance_pve_url"])]
    instance_db: Option<String>,
    #[arg(long, hide = true)]
    instance_listen: Option<SocketAddr>,
    /// (Its token, `USER@REALM!TOKENID=SECRET`, comes in `PROXFLEET_PVE_TOKEN`.)
    #[arg(long, hide = true)]
    instance_pve_url: Option<String>,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("serverbench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = if cli.instance_db.is_some() { rt.block_on(serve_instance(cli)) } else { rt.block_on(run(cli)) };
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serverbench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

struct Bench {
    addr: SocketAddr,
    cookie: String,
    services: domain::Services,
    sim: pvesim::Running,
    db_url: String,
}

/// How the bulk create paces itself in the realistic profile scaled by `factor`: task polls and
/// the guest agent's wait scaled the same way.
fn scaled_limits(factor: f64) -> domain::servers::CreateLimits {
    let scaled = |ms: f64| Duration::from_secs_f64(ms * factor / 1000.0);
    domain::servers::CreateLimits {
        polling: pve::Polling { first: scaled(100.0), max: scaled(1000.0) },
        agent_timeout: scaled(180_000.0),
        ..Default::default()
    }
}

/// A fresh SQLite database (`tag` names it), a simulator of `vms` VMs with `profile`, the bench
/// user, and a server over them: in this process when `here`, else only its address is chosen
/// (a `Process` serves it).
async fn start(
    tag: &str,
    vms: usize,
    profile: pvesim::Profile,
    site_root: Option<PathBuf>,
    limits: domain::servers::CreateLimits,
    here: bool,
) -> Result<Bench, String> {
    let layout = pvesim::Layout { nodes: 3, seed: 11, vms, shared_storage: true };
    let sim = pvesim::start("127.0.0.1:0".parse().map_err(|e| format!("{e}"))?, &layout, profile, "bench-token", "pw")
        .await
        .map_err(|e| e.to_string())?;
    let client = pve::PveClient::new(pve::PveConfig::new(sim.url.clone(), sim.auth(), pve::TlsMode::System))?;
    let url = format!("sqlite://{}/serverbench-{}-{tag}.db", std::env::temp_dir().display(), std::process::id());
    let db = domain::Database::open(&url).await.map_err(|e| e.to_string())?;
    let services = domain::Services::new(db, true).with_cluster(client).with_create_limits(limits);
    let hash = domain::auth::password::hash("benchmark password").map_err(|e| e.to_string())?;
    let perms: Vec<String> =
        domain::auth::Role::Admin.default_permissions().iter().map(|p| p.as_str().to_owned()).collect();
    let user = services
        .users
        .create(domain::users::NewUser {
            username: "bench",
            password_hash: &hash,
            role: "admin",
            permissions: &perms,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())?;
    let session = services.auth.sessions().create(user.id, None, None).await.map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    if !here {
        // Let go: the process started next takes this address (and keeps it on restart).
        drop(listener);
        return Ok(Bench { addr, cookie: session.secret, services, sim, db_url: url });
    }
    // No background sync during the read run: what it writes is not what the reads cause.
    let config = server::config::Config {
        site_root,
        sim_profile: profile,
        sync_interval: Duration::from_secs(24 * 3600),
        ..server::config::Config::local(addr, url.clone())
    };
    let instance = server::Instance::with_services(services.clone(), &config)?;
    let router = server::build_router(instance.state);
    tokio::spawn(async move {
        let _ = server::serve(listener, router, std::future::pending()).await;
    });
    Ok(Bench { addr, cookie: session.secret, services, sim, db_url: url })
}

/// The instance the kill run kills: this program started again with `--instance-db`, serving
/// the bench's database and simulator with the same create limits: the real `Instance`, job
/// workers and router, in a process of its own, so `kill -9` is the real thing.
struct Process(std::process::Child);

impl Process {
    /// Starts it at `b.addr` and returns once it serves.
    fn start(b: &Bench, factor: f64) -> Result<Process, String> {
        use std::io::BufRead as _;
        let exe = std::env::current_exe().map_err(|e| format!("cannot find serverbench itself: {e}"))?;
        let token = format!("{}={}", b.sim.token_id, b.sim.token_secret);
        let mut child = std::process::Command::new(exe)
            .args(["--instance-db", &b.db_url, "--instance-listen", &b.addr.to_string()])
            .args(["--instance-pve-url", &b.sim.url])
            .env("PROXFLEET_PVE_TOKEN", token)
            .args(["--factor", &factor.to_string()])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the instance process: {e}"))?;
        let mut line = String::new();
        let stdout = child.stdout.take().ok_or("no stdout of the instance process")?;
        std::io::BufReader::new(stdout).read_line(&mut line).map_err(|e| e.to_string())?;
        if !line.starts_with("serving") {
            return Err(format!("the instance process did not start: {line:?}"));
        }
        Ok(Process(child))
    }

    /// SIGKILL: no shutdown, leases and slots left as they were.
    fn kill(mut self) -> Result<(), String> {
        self.0.kill().map_err(|e| e.to_string())?;
        self.0.wait().map(drop).map_err(|e| e.to_string())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `--instance-db`: serve until killed (see `Process`).
async fn serve_instance(cli: Cli) -> Result<(), String> {
    let (Some(url), Some(listen), Some(pve_url), Ok(token)) =
        (cli.instance_db, cli.instance_listen, cli.instance_pve_url, std::env::var("PROXFLEET_PVE_TOKEN"))
    else {
        return Err("--instance-db needs --instance-listen, --instance-pve-url and PROXFLEET_PVE_TOKEN".into());
    };
    let (id, secret) = token.rsplit_once('=').ok_or("the token is USER@REALM!TOKENID=SECRET")?;
    let (user, token_id) = id.split_once('!').ok_or("the token is USER@REALM!TOKENID=SECRET")?;
    let auth = pve::Auth::Token { user: user.into(), token_id: token_id.into(), secret: secret.into() };
    let client = pve::PveClient::new(pve::PveConfig::new(pve_url, auth, pve::TlsMode::System))?;
    let db = domain::Database::open(&url).await.map_err(|e| e.to_string())?;
    let services = domain::Services::new(db, true).with_cluster(client).with_create_limits(scaled_limits(cli.factor));
    let listener =
        tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let config = server::config::Config {
        sync_interval: Duration::from_secs(24 * 3600),
        ..server::config::Config::local(listen, url.clone())
    };
    let instance = server::Instance::with_services(services, &config)?;
    let router = server::build_router(instance.state);
    println!("serving");
    use std::io::Write as _;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    server::serve(listener, router, std::future::pending()).await
}

impl Bench {
    /// The bench user, as the services see a signed-in admin.
    async fn admin(&self) -> Result<domain::auth::Actor, String> {
        let user = self.services.users.by_username("bench").await.map_err(|e| e.to_string())?.ok_or("no bench user")?;
        Ok(domain::auth::Actor::from_user(&user, domain::auth::AuthMethod::Session, None))
    }

    /// The pool `default` and `n` create requests `bench-1…` from `template`, one NIC from the
    /// pool and the boot disk `disk`.
    async fn bulk_requests(
        &self,
        admin: &domain::auth::Actor,
        n: usize,
        template: u32,
        disk: serde_json::Value,
    ) -> Result<Vec<domain::servers::ServerRequest>, String> {
        let pool = domain::ipam::PoolInput {
            name: "default".into(),
            cidr: "10.50.0.0/23".into(),
            bridge: "vmbr0".into(),
            ..Default::default()
        };
        self.services.ipam.create_pool(admin, &pool).await.map_err(|e| e.to_string())?;
        (1..=n)
            .map(|i| {
                serde_json::from_value(serde_json::json!({
                    "name": format!("bench-{i}"), "template_vm_id": template, "cpu": 1, "memory": 1024,
                    "disks": [disk], "network_devices": [{"ip_pool": "default"}]
                }))
                .map_err(|e| e.to_string())
            })
            .collect()
    }
}

/// The least a bulk create of `n` full clones of one template can take: Proxmox runs them one
/// after another (its lock on the source); after the last clone, that server still needs its
/// start and its guest agent.
fn clone_bound(profile: pvesim::Profile, n: usize) -> f64 {
    let d = |w| profile.duration(w).as_secs_f64();
    n as f64 * d(pvesim::timing::Work::Clone { full: true })
        + d(pvesim::timing::Work::Start)
        + d(pvesim::timing::Work::AgentBoot)
}

/// One GET; returns (status line, head, body as it came over the wire).
async fn get_body(
    addr: SocketAddr,
    path: &str,
    cookie: &str,
    extra: &str,
) -> Result<(String, String, Vec<u8>), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: pf_session={cookie}\r\nConnection: close\r\n{extra}\r\n"
    );
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(64 * 1024);
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.lines().next().unwrap_or("").to_owned();
    Ok((status, head, buf.split_off(head_end)))
}

/// The body of a `Transfer-Encoding: chunked` response, without the chunk framing.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|n| *n > 0) else { break };
        let start = eol + 2;
        let end = (start + size).min(raw.len());
        out.extend_from_slice(&raw[start..end]);
        raw = raw.get(end + 2..).unwrap_or(&[]);
    }
    out
}

/// Every `/pkg/…` JS or WASM file a rendered page names (its module preloads and preloads,
/// which include the hydration script's module and WASM), in order, each once.
fn page_assets(html: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for part in html.split("\"/pkg/").skip(1) {
        let Some(name) = part.split('"').next() else { continue };
        let path = format!("/pkg/{name}");
        if (path.ends_with(".wasm") || path.ends_with(".js")) && !found.contains(&path) {
            found.push(path);
        }
    }
    found
}

/// One keep-alive HTTP/1.1 connection, as a polling script or dashboard holds one.
struct KeepAlive {
    reader: tokio::io::BufReader<TcpStream>,
}

impl KeepAlive {
    async fn open(addr: SocketAddr) -> Result<KeepAlive, String> {
        let s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(KeepAlive { reader: tokio::io::BufReader::with_capacity(256 * 1024, s) })
    }

    /// One GET on the connection; (status code, body bytes as they came over the wire).
    async fn get(&mut self, addr: SocketAddr, path: &str, cookie: &str, extra: &str) -> Result<(u16, usize), String> {
        use tokio::io::AsyncBufReadExt;
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: pf_session={cookie}\r\n{extra}\r\n");
        self.reader.get_mut().write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut line = String::new();
        self.reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
        let status: u16 =
            line.split(' ').nth(1).and_then(|c| c.parse().ok()).ok_or(format!("{path}: bad status line {line:?}"))?;
        let (mut length, mut chunked) = (None, false);
        loop {
            line.clear();
            self.reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
            let header = line.trim_end().to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if let Some(v) = header.strip_prefix("content-length:") {
                length = v.trim().parse::<usize>().ok();
            }
            chunked |= header.starts_with("transfer-encoding:") && header.contains("chunked");
        }
        // The body is read and dropped through one small buffer, as a streaming client would:
        // allocating (and zeroing) a fresh buffer the size of a 15 MiB answer per request cost
        // the client more than the server's send, and more at some sizes than others (the
        // allocator's mmap threshold), which made the server's figure noisy.
        let mut received = 0;
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).await.map_err(|e| e.to_string())?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| format!("{path}: bad chunk size {line:?}"))?;
                self.skip(size + 2).await?;
                received += size;
                if size == 0 {
                    break;
                }
            }
        } else {
            received = length.unwrap_or(0);
            self.skip(received).await?;
        }
        Ok((status, received))
    }

    /// Reads and drops the next `n` bytes.
    async fn skip(&mut self, mut n: usize) -> Result<(), String> {
        use tokio::io::AsyncBufReadExt;
        while n > 0 {
            let got = self.reader.fill_buf().await.map_err(|e| e.to_string())?.len().min(n);
            if got == 0 {
                return Err("connection closed inside an answer".into());
            }
            self.reader.consume(got);
            n -= got;
        }
        Ok(())
    }
}

/// `n` requests of `path` over `parallel` keep-alive connections: (req/s, p50 ms, p99 ms,
/// bytes of the last answer).
async fn measure_keepalive(
    b: &Bench,
    path: &str,
    extra: &str,
    n: usize,
    parallel: usize,
) -> Result<(f64, f64, f64, usize), String> {
    measure_keepalive_p(b, path, extra, n, parallel, 0.99).await
}

/// The same with percentile `p` (0..1) in the third place.
async fn measure_keepalive_p(
    b: &Bench,
    path: &str,
    extra: &str,
    n: usize,
    parallel: usize,
    p: f64,
) -> Result<(f64, f64, f64, usize), String> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let per = n.div_ceil(parallel.max(1));
    for _ in 0..parallel.max(1) {
        let (addr, cookie, path, extra) = (b.addr, b.cookie.clone(), path.to_owned(), extra.to_owned());
        tasks.spawn(async move {
            let mut conn = KeepAlive::open(addr).await?;
            let (mut lat, mut bytes) = (Vec::with_capacity(per), 0);
            for _ in 0..per {
                let t = Instant::now();
                let (status, len) = conn.get(addr, &path, &cookie, &extra).await?;
                if status != 200 {
                    return Err(format!("{path}: HTTP {status}"));
                }
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                bytes = len;
            }
            Ok::<_, String>((lat, bytes))
        });
    }
    let (mut all, mut bytes) = (Vec::new(), 0);
    while let Some(done) = tasks.join_next().await {
        let (lat, len) = done.map_err(|e| e.to_string())??;
        all.extend(lat);
        bytes = len;
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    Ok((all.len() as f64 / secs, pct(&all, 0.5), pct(&all, p), bytes))
}

/// What the database has written: WAL frames since the last checkpoint, and a fingerprint of
/// the server records' times (any UPDATE of a record changes it).
/// WAL pages written so far, and fingerprints of the server records and of the sessions'
/// last-seen times (which the sign-in check refreshes once a minute by design).
async fn db_writes(db: &domain::Database) -> Result<(i64, (i64, i64, i64)), String> {
    use sqlx::Row;
    let wal = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(db.pool()).await.map_err(|e| e.to_string())?;
    let frames: i64 = wal.try_get(1).map_err(|e| e.to_string())?;
    let row = sqlx::query(
        "SELECT COALESCE(SUM(updated_at), 0) AS u, COALESCE(SUM(COALESCE(synced_at, 0)), 0) AS s, \
         (SELECT COALESCE(SUM(last_seen_at), 0) FROM sessions) AS seen FROM servers",
    )
    .fetch_one(db.pool())
    .await
    .map_err(|e| e.to_string())?;
    let get = |c: &str| row.try_get::<i64, _>(c).map_err(|e| e.to_string());
    Ok((frames, (get("u")?, get("s")?, get("seen")?)))
}

/// p50 of `n` runs of `f` (ms).
async fn p50_of<F, Fut>(n: usize, mut f: F) -> Result<f64, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, String>>,
{
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let rows = f().await?;
        std::hint::black_box(rows);
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    Ok(pct(&lat, 0.5))
}

/// The hot queries through sqlx's `Any` driver (what the store uses, one query text for both
/// dialects) against the typed SQLite driver on the same file, fetch and decode only.
async fn driver_costs(url: &str, db: &domain::Database) -> Result<(), String> {
    use sqlx::Row;
    const FULL: &str = "SELECT id, name, vmid, node, status, cores, sockets, memory_mb, disks, nics, role, security_group, os_type, \
         template_vmid, owner_id, owner, tags, description, drift, cpu_permille, mem_used, uptime, synced_at, created_at, updated_at \
         FROM servers ORDER BY name";
    const BRIEF: &str = "SELECT name, role, security_group, os_type, nics, status FROM servers ORDER BY name";
    let typed =
        sqlx::sqlite::SqlitePoolOptions::new().max_connections(2).connect(url).await.map_err(|e| e.to_string())?;
    for (label, sql) in [("brief columns", BRIEF), ("all columns", FULL)] {
        let any = p50_of(50, || async {
            let rows = sqlx::query(sql).fetch_all(db.pool()).await.map_err(|e| e.to_string())?;
            let mut n = 0;
            for r in &rows {
                n += r.try_get::<String, _>("name").map_err(|e| e.to_string())?.len();
                n += r.try_get::<String, _>("nics").map_err(|e| e.to_string())?.len();
            }
            Ok(n)
        })
        .await?;
        let sqlite = p50_of(50, || async {
            let rows = sqlx::query(sql).fetch_all(&typed).await.map_err(|e| e.to_string())?;
            let mut n = 0;
            for r in &rows {
                n += r.try_get::<String, _>("name").map_err(|e| e.to_string())?.len();
                n += r.try_get::<String, _>("nics").map_err(|e| e.to_string())?.len();
            }
            Ok(n)
        })
        .await?;
        println!("driver: {label} of every server, fetch + decode p50: Any {any:.2} ms, typed SQLite {sqlite:.2} ms");
    }
    // Throughput with 8 at a time: one row per server through the typed driver (each row is a
    // message from sqlx's SQLite worker thread), against the rows aggregated into one JSON
    // text by SQLite (one message) and parsed once.
    #[derive(serde::Deserialize)]
    struct Brief {
        name: String,
        nics: Vec<serde_json::Value>,
    }
    const AGGREGATED: &str =
        "SELECT json_group_array(json_object('name', name, 'role', role, 'security_group', security_group, \
         'os_type', os_type, 'nics', json(nics), 'status', status) ORDER BY name) AS rows FROM servers";
    for aggregated in [false, true] {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let typed = typed.clone();
            tasks.spawn(async move {
                let mut n = 0usize;
                for _ in 0..40 {
                    if aggregated {
                        let text: String =
                            sqlx::query_scalar(AGGREGATED).fetch_one(&typed).await.map_err(|e| e.to_string())?;
                        let rows: Vec<Brief> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                        n += rows.iter().map(|r| r.name.len() + r.nics.len()).sum::<usize>();
                    } else {
                        for r in sqlx::query(BRIEF).fetch_all(&typed).await.map_err(|e| e.to_string())? {
                            n += r.try_get::<String, _>("name").map_err(|e| e.to_string())?.len();
                            let nics: Vec<serde_json::Value> =
                                serde_json::from_str(&r.try_get::<String, _>("nics").map_err(|e| e.to_string())?)
                                    .map_err(|e| e.to_string())?;
                            n += nics.len();
                        }
                    }
                }
                Ok::<_, String>(n)
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.map_err(|e| e.to_string())??;
        }
        let label = if aggregated { "one JSON row" } else { "a row per server" };
        println!(
            "driver: brief columns, typed SQLite, {label}, 8 at a time: {:.0} queries/s",
            320.0 / started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// What compressing the large answers costs at each level: size and p50 time, in-process (the
/// layer compresses per response; the all-servers answer is compressed once per fleet).
async fn compression_levels(b: &Bench) -> Result<(), String> {
    use std::io::Write;
    for path in ["/api/all_server_status", "/api/servers?per_page=500"] {
        let (status, head, body) = get_body(b.addr, path, &b.cookie, "").await?;
        if !status.contains(" 200 ") {
            return Err(format!("{path}: {status}"));
        }
        let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
        let mut line = format!("compression of {path} ({:.0} KiB):", body.len() as f64 / 1024.0);
        for level in [1, 6, 9] {
            let gzip = || -> Result<usize, String> {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
                gz.write_all(&body).map_err(|e| e.to_string())?;
                Ok(gz.finish().map_err(|e| e.to_string())?.len())
            };
            let size = gzip()?;
            let ms = p50_of(5, || async { gzip() }).await?;
            line.push_str(&format!(" gzip-{level} {:.0} KiB {ms:.1} ms;", size as f64 / 1024.0));
        }
        for quality in [1, 4, 5, 6] {
            let brotli = || -> Result<usize, String> {
                let mut out = Vec::new();
                let params = brotli::enc::BrotliEncoderParams { quality, ..Default::default() };
                brotli::BrotliCompress(&mut std::io::Cursor::new(&body), &mut out, &params)
                    .map_err(|e| e.to_string())?;
                Ok(out.len())
            };
            let size = brotli()?;
            let ms = p50_of(5, || async { brotli() }).await?;
            line.push_str(&format!(" br-{quality} {:.0} KiB {ms:.1} ms;", size as f64 / 1024.0));
        }
        println!("{}", line.trim_end_matches(';'));
    }
    Ok(())
}

/// The whole-fleet reads the old tool's UI and scripts poll, and the default page, over
/// keep-alive connections: p50 one at a time, req/s with 8 at a time; then the large answers
/// compressed. Counts the Proxmox calls and database writes the read run caused.
async fn fleet_reads(b: &Bench, requests: usize) -> Result<(), String> {
    let resources_before = b.sim.sim.faults.calls("GET /cluster/resources");
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(b.services.db.pool()).await.map_err(|e| e.to_string())?;
    let (_, records_before) = db_writes(&b.services.db).await?;
    let started = Instant::now();
    let reads = [
        ("/api/all_server_status", requests / 4),
        ("/api/servers/brief", requests),
        ("/api/servers?per_page=500", requests / 2),
        ("/api/servers", requests * 2),
    ];
    for (path, n) in reads {
        let (_, p50, p99, bytes) = measure_keepalive(b, path, "", n / 4, 1).await?;
        let (rps, p50_8, p99_8, _) = measure_keepalive(b, path, "", n, 8).await?;
        println!(
            "GET {path}: {:.1} KiB; 1 at a time p50 {p50:.2} ms, p99 {p99:.2} ms; 8 at a time {rps:.0} req/s, p50 {p50_8:.2} ms, p99 {p99_8:.2} ms",
            bytes as f64 / 1024.0
        );
    }
    for (path, n) in [("/api/all_server_status", requests / 4), ("/api/servers?per_page=500", requests / 2)] {
        for encoding in ["gzip", "br"] {
            let extra = format!("Accept-Encoding: {encoding}\r\n");
            let (_, p50, _, bytes) = measure_keepalive(b, path, &extra, n / 4, 1).await?;
            let (rps, _, _, _) = measure_keepalive(b, path, &extra, n, 8).await?;
            println!(
                "GET {path} with {encoding}: {:.1} KiB; 1 at a time p50 {p50:.2} ms; 8 at a time {rps:.0} req/s",
                bytes as f64 / 1024.0
            );
        }
    }
    let window = started.elapsed();
    // The cost when nothing is shared: every read makes its own cluster call, reads every
    // record and renders the answer (freshness bound 0, one reader at a time).
    let bound = b.services.cluster.snapshot_max_age();
    b.services.cluster.set_snapshot_max_age(Duration::ZERO);
    let (_, p50, p99, _) = measure_keepalive(b, "/api/all_server_status", "", 20, 1).await?;
    b.services.cluster.set_snapshot_max_age(bound);
    println!("GET /api/all_server_status unshared (a cluster call, the records and the rendering per read): p50 {p50:.1} ms, p99 {p99:.1} ms");
    let calls = b.sim.sim.faults.calls("GET /cluster/resources") - resources_before - 20;
    let (frames, records_after) = db_writes(&b.services.db).await?;
    let servers_same = records_after.0 == records_before.0 && records_after.1 == records_before.1;
    // A run longer than a minute refreshes the bench session's last-seen time (one write a
    // minute per session, by design); say so rather than count it against the reads.
    let session = if records_after.2 == records_before.2 {
        ""
    } else {
        " (including the session's once-a-minute last-seen refresh)"
    };
    println!(
        "read run: {:.1} s, {calls} /cluster/resources calls, {frames} database pages written{session}, server records {}",
        window.as_secs_f64(),
        if servers_same { "unchanged" } else { "CHANGED" }
    );
    Ok(())
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(f64::NAN)
}

/// Bytes on the wire (brotli, as served) of the scripts and WASM the `/servers` page loads.
async fn transfer(b: &Bench) -> Result<(), String> {
    let (status, head, body) = get_body(b.addr, "/servers", &b.cookie, "").await?;
    if !status.contains(" 200 ") {
        return Err(format!("/servers: {status}"));
    }
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let html = String::from_utf8_lossy(&if chunked { dechunk(&body) } else { body }).into_owned();
    let assets = page_assets(&html);
    if assets.is_empty() {
        println!("transfer: /servers names no /pkg/ script or WASM (build the site first: cargo leptos build --release --precompress)");
        return Ok(());
    }
    let (mut wasm, mut js, mut largest) = (0usize, 0usize, (0usize, String::new()));
    for file in &assets {
        let (status, head, body) = get_body(b.addr, file, &b.cookie, "Accept-Encoding: br\r\n").await?;
        let bytes = body.len();
        if !status.contains(" 200 ") {
            println!("transfer: {file}: {status} (build the site first: cargo leptos build --release --precompress)");
            return Ok(());
        }
        if !head.to_ascii_lowercase().contains("content-encoding: br") {
            println!("transfer: {file} was not sent brotli-compressed (built without --precompress?)");
        }
        if file.ends_with(".wasm") {
            wasm += bytes
        } else {
            js += bytes
        }
        if bytes > largest.0 {
            largest = (bytes, file.clone());
        }
    }
    let kib = |n: usize| n as f64 / 1024.0;
    println!(
        "transfer: /servers loads {} files with brotli: WASM {:.1} KiB + JS {:.1} KiB = {:.1} KiB (largest {} {:.1} KiB)",
        assets.len(),
        kib(wasm),
        kib(js),
        kib(wasm + js),
        largest.1,
        kib(largest.0)
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    let site_root = cli.site_root.clone();

    if let Some(n) = cli.backups {
        return backup_reads(n, cli.requests).await;
    }
    // 1–3: reads, render and transfer sizes with N imported VMs.
    let b = start("reads", cli.vms, pvesim::Profile::Instant, site_root.clone(), Default::default(), true).await?;
    let admin = b.admin().await?;
    let t = Instant::now();
    let report = b.services.servers.import(&admin, None).await.map_err(|e| e.to_string())?;
    println!("setup: imported {} VMs in {:.1} s", report.imported.len(), t.elapsed().as_secs_f64());
    driver_costs(&b.db_url, &b.services.db).await?;
    if let Some(path) = &cli.only {
        let (rps, p50, p99, bytes) = measure_keepalive(&b, path, "", cli.requests, 8).await?;
        println!("GET {path}: {bytes} B; 8 at a time {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms");
        return Ok(());
    }
    fleet_reads(&b, cli.requests).await?;
    compression_levels(&b).await?;
    let (_, p50, p99, _) = measure_keepalive(&b, "/servers", "", cli.requests / 10, 1).await?;
    println!(
        "SSR /servers with {} servers, one at a time: p50 {p50:.2} ms, p99 {p99:.2} ms (whole streamed response)",
        report.imported.len()
    );
    transfer(&b).await?;
    drop(b);

    // 4: bulk create in the realistic profile.
    if cli.create == 0 {
        return Ok(());
    }
    let profile = pvesim::Profile::Realistic(cli.factor);
    let limits = scaled_limits(cli.factor);
    // 5 (instead of 4): through faults, with its own fault-free run as the baseline.
    if cli.faults {
        return fault_runs(cli.create, cli.factor, &limits).await;
    }
    let b = start("create", 0, profile, None, limits.clone(), true).await?;
    let admin = b.admin().await?;
    let requests =
        b.bulk_requests(&admin, cli.create, 9000, serde_json::json!({"size": 20, "interface": "scsi0"})).await?;
    let t = Instant::now();
    let job = b.services.servers.create(&admin, requests).await.map_err(|e| e.to_string())?;
    let done = domain::jobs::wait_finished(b.services.jobs.store(), job.id, Duration::from_secs(24 * 3600))
        .await
        .map_err(|e| e.to_string())?;
    let wall = t.elapsed();
    let items = b.services.jobs.store().items(job.id).await.map_err(|e| e.to_string())?;
    let failed: Vec<_> = items.iter().filter(|i| i.status != "succeeded").collect();
    let lock_timeouts = failed.iter().filter(|i| i.error.as_deref().is_some_and(|e| e.contains("got timeout"))).count();
    let bound = clone_bound(profile, cli.create);
    println!(
        "bulk create: {} VMs (full clones of one template, 3 nodes, realistic ×{}): {:.1} s; lower bound {:.1} s; ratio {:.3}; job {}; {} failed, {} lock timeouts",
        cli.create,
        cli.factor,
        wall.as_secs_f64(),
        bound,
        wall.as_secs_f64() / bound,
        done.status.as_str(),
        failed.len(),
        lock_timeouts
    );
    Ok(())
}

/// 6: the backups list over `n` backups, cached listing against none.
async fn backup_reads(n: usize, requests: usize) -> Result<(), String> {
    let vms = n.div_ceil(10).max(1);
    let b = start("backups", vms, pvesim::Profile::Instant, None, Default::default(), true).await?;
    let admin = b.admin().await?;
    b.services.servers.import(&admin, None).await.map_err(|e| e.to_string())?;
    b.sim.sim.seed_backups(10);
    let content_calls = || -> u64 {
        b.sim
            .sim
            .faults
            .all_calls()
            .iter()
            .filter(|(k, _)| k.starts_with("GET /nodes/") && k.ends_with("/content"))
            .map(|(_, c)| c)
            .sum()
    };
    let listed = b.services.backups.list(&admin, &Default::default(), None).await.map_err(|e| e.to_string())?;
    println!("setup: {} backups ({} VMs, 3 nodes)", listed.total_count, vms);
    let before = content_calls();
    let started = Instant::now();
    let path = "/api/backups/nodes";
    let (_, p50, p95, bytes) = measure_keepalive_p(&b, path, "", requests / 4, 1, 0.95).await?;
    let (rps, p50_8, p95_8, _) = measure_keepalive_p(&b, path, "", requests, 8, 0.95).await?;
    let (_, page_p50, page_p95, _) =
        measure_keepalive_p(&b, "/api/backups/nodes?page=1&per_page=50", "", requests / 4, 1, 0.95).await?;
    let window = started.elapsed().as_secs_f64();
    let calls = content_calls() - before;
    // node × storage pairs read: every content path the simulator was asked for.
    let listings =
        b.sim.sim.faults.all_calls().keys().filter(|k| k.starts_with("GET /nodes/") && k.ends_with("/content")).count();
    println!(
        "GET {path} (all {} backups, {:.0} KiB): 1 at a time p50 {p50:.1} ms, p95 {p95:.1} ms; 8 at a time {rps:.0} req/s, p50 {p50_8:.1} ms, p95 {p95_8:.1} ms",
        listed.total_count,
        bytes as f64 / 1024.0
    );
    println!("GET {path}?page=1&per_page=50: p50 {page_p50:.1} ms, p95 {page_p95:.1} ms");
    println!(
        "content calls: {calls} in {window:.1} s for {listings} node × storage listings = {:.2} per listing per 10 s",
        calls as f64 / listings.max(1) as f64 / (window / 10.0).max(1.0)
    );
    // Baseline: no shared listing, every read asks each node's storages.
    let mut times = Vec::new();
    for _ in 0..(requests / 20).max(5) {
        b.services.backups.forget_listing();
        let t = Instant::now();
        let (status, _) = get_status(&b, path).await?;
        if status != 200 {
            return Err(format!("{path}: HTTP {status}"));
        }
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "baseline, listing read for every request: p50 {:.1} ms, p95 {:.1} ms (n={})",
        pct(&times, 0.5),
        pct(&times, 0.95),
        times.len()
    );
    Ok(())
}

/// One GET on a fresh keep-alive connection: (status, body length).
async fn get_status(b: &Bench, path: &str) -> Result<(u16, usize), String> {
    let mut conn = KeepAlive::open(b.addr).await?;
    conn.get(b.addr, path, &b.cookie, "").await
}

/// What one bulk create through faults came to.
struct FaultReport {
    wall: f64,
    bound: f64,
    succeeded: usize,
    /// Failed items by their error, shortened.
    failures: std::collections::BTreeMap<String, usize>,
    /// VMs named like the request's servers that exist more than once.
    duplicates: usize,
    orphans: usize,
    calls_per_server: f64,
    resumed_items: usize,
    /// Kill run: from the restart until the job's log says it resumed, in ms.
    back_after_ms: Option<i64>,
}

/// Runs the bulk create three ways on fresh simulators (3 nodes, a template on shared storage
/// so servers spread over the nodes): fault-free; with 10 % read errors, 10 % write faults
/// (half turned away busy, half done with the answer lost) and node pve3 dropping out after
/// 30 % of the clones; and the same with the instance in a process of its own, killed with
/// SIGKILL at 50 % and restarted.
async fn fault_runs(n: usize, factor: f64, limits: &domain::servers::CreateLimits) -> Result<(), String> {
    let faults = pvesim::Faults {
        read_error_rate: 0.1,
        busy_write_rate: 0.05,
        lost_answer_rate: 0.05,
        down_nodes: vec!["pve3".into()],
        // The template's own clone comes first.
        down_after_clones: 1 + (n as u64 * 3).div_ceil(10),
        ..Default::default()
    };
    let calm = fault_run("calm", n, factor, limits, None, false).await?;
    let faulty = fault_run("faults", n, factor, limits, Some(faults.clone()), false).await?;
    let killed = fault_run("killed", n, factor, limits, Some(faults), true).await?;
    for (label, r) in
        [("fault-free", &calm), ("faults", &faulty), ("faults + process killed (-9) at 50 % and restarted", &killed)]
    {
        println!(
            "bulk create through {label}: {n} VMs, 3 nodes, realistic ×{factor}: {:.1} s; lower bound for the {} placed {:.1} s; ratio {:.3}; \
             {} duplicate VMs; {} orphans; {:.1} PVE calls per server ({:.2}× fault-free); {} items resumed; failed: {:?}",
            r.wall,
            r.succeeded,
            r.bound,
            r.wall / r.bound,
            r.duplicates,
            r.orphans,
            r.calls_per_server,
            r.calls_per_server / calm.calls_per_server,
            r.resumed_items,
            r.failures
        );
        if let Some(ms) = r.back_after_ms {
            println!("  the restarted process took the job back {ms} ms after it started (its lease was 30 s)");
        }
    }
    Ok(())
}

async fn fault_run(
    tag: &str,
    n: usize,
    factor: f64,
    limits: &domain::servers::CreateLimits,
    faults: Option<pvesim::Faults>,
    kill_midway: bool,
) -> Result<FaultReport, String> {
    let err = |e: domain::Error| e.to_string();
    let profile = pvesim::Profile::Realistic(factor);
    let b = start(tag, 0, profile, None, limits.clone(), !kill_midway).await?;
    let admin = b.admin().await?;
    let client = b.services.cluster.client().map_err(err)?.clone();
    // A template on shared storage: a full clone of 9000 onto shared-nfs, made a template.
    let polling = limits.polling;
    let options = pve::CloneOptions {
        name: Some("ubuntu-2404-shared".into()),
        full: Some(true),
        target_storage: Some("shared-nfs".into()),
        ..Default::default()
    };
    let upid = client.vm_clone("pve1", 9000, 9100, &options).await.map_err(|e| e.message)?;
    client.wait_task(&upid, Duration::from_secs(600), polling).await.map_err(|e| e.message)?;
    let upid = client.vm_template("pve1", 9100).await.map_err(|e| e.message)?;
    client.wait_task(&upid, Duration::from_secs(600), polling).await.map_err(|e| e.message)?;
    let disk = serde_json::json!({"size": 20, "interface": "scsi0", "datastore_id": "shared-nfs"});
    let requests = b.bulk_requests(&admin, n, 9100, disk).await?;
    let calls = |sim: &pvesim::Running| sim.sim.faults.all_calls().values().sum::<u64>();
    if let Some(f) = faults.clone() {
        b.sim.sim.faults.set(f)?;
    }
    // The kill run's instance runs in a process of its own, started before the clock.
    let mut process = if kill_midway { Some(Process::start(&b, factor)?) } else { None };
    let before = calls(&b.sim);
    let t = Instant::now();
    let job = b.services.servers.create(&admin, requests).await.map_err(err)?;
    let store = b.services.jobs.store().clone();
    let mut restarted_at = None;
    if let Some(first) = process.take() {
        let deadline = Instant::now() + Duration::from_secs(24 * 3600);
        loop {
            let items = store.items(job.id).await.map_err(err)?;
            if items.iter().filter(|i| i.status == "succeeded").count() * 2 >= n {
                break;
            }
            if Instant::now() > deadline {
                return Err("the job never got halfway".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        first.kill()?;
        restarted_at = Some(domain::clock::now_ms());
        process = Some(Process::start(&b, factor)?);
    }
    domain::jobs::wait_finished(&store, job.id, Duration::from_secs(24 * 3600)).await.map_err(err)?;
    let wall = t.elapsed().as_secs_f64();
    drop(process);
    let made = calls(&b.sim) - before;
    b.sim.sim.faults.set(pvesim::Faults::default())?;
    let items = store.items(job.id).await.map_err(err)?;
    let succeeded = items.iter().filter(|i| i.status == "succeeded").count();
    let mut failures = std::collections::BTreeMap::new();
    for i in items.iter().filter(|i| i.status != "succeeded") {
        let cause: String = i.error.clone().unwrap_or_default().chars().take(60).collect();
        *failures.entry(cause).or_default() += 1;
    }
    let mut names: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for r in client.resources(Some(pve::ResourceKind::Vm)).await.map_err(|e| e.message)? {
        if let Some(name) = r.name.filter(|n| n.starts_with("bench-")) {
            *names.entry(name).or_default() += 1;
        }
    }
    let duplicates = names.values().filter(|c| **c > 1).map(|c| c - 1).sum();
    let orphans = b.services.servers.orphans(&admin).await.map_err(err)?.total;
    let logs = store.logs(job.id).await.map_err(err)?;
    let resumed_items = logs.iter().filter(|l| l.line.contains("resuming after an interruption")).count();
    let back_after_ms = restarted_at
        .and_then(|at| logs.iter().find(|l| l.line.contains("resumed after an interrupted run")).map(|l| l.at - at));
    Ok(FaultReport {
        wall,
        bound: clone_bound(profile, succeeded),
        succeeded,
        failures,
        duplicates,
        orphans,
        calls_per_server: made as f64 / n as f64,
        resumed_items,
        back_after_ms,
    })
}
