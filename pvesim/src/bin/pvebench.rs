//! `pvebench`: load-tests a `pvesim` running in its own process (started here unless `--url`
//! is given) and measures the `pve` client's overhead per call. Run on demand:
//!
//!   cargo build --release -p pvesim && target/release/pvebench --vms 1000 --seconds 10
//!
//! The load generator is a plain HTTP/1.1 keep-alive client over raw sockets (like wrk): it
//! sends `Accept-Encoding: gzip` as real clients do and does not decompress, so its own cost
//! stays small. A baseline (`GET /version`, a tiny answer) runs in the same process against the
//! same server, so the figures can be compared.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
#[command(name = "pvebench", about = "Load-test pvesim and measure the pve client's overhead")]
struct Cli {
    /// An already running simulator (http://host:port); otherwise one is started.
    #[arg(long)]
    url: Option<String>,
    #[arg(long, default_value_t = 1000)]
    vms: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Threads of the load generator (the simulator gets the rest of the machine).
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

const TOKEN: &str = "bench-token";

struct Server {
    child: Option<Child>,
    addr: SocketAddr,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn start_server(vms: usize) -> Result<Server, String> {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let sim = exe.with_file_name("pvesim");
    let child = Command::new(&sim)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--token",
            TOKEN,
            "--vms",
            &vms.to_string(),
            "--profile",
            "instant",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e} (build it with cargo build --release -p pvesim)", sim.display()))?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    for _ in 0..200 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(Server { child: Some(child), addr });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err("the simulator did not start listening".into())
}

/// One keep-alive connection sending `path` until `stop`; returns latencies in microseconds.
async fn connection(
    addr: SocketAddr,
    path: String,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
) -> Vec<u32> {
    let mut lat = Vec::new();
    let Ok(mut s) = TcpStream::connect(addr).await else { return lat };
    let _ = s.set_nodelay(true);
    let req = format!(
        "GET /api2/json{path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: PVEAPIToken=root@pam!proxfleet={TOKEN}\r\nAccept-Encoding: gzip\r\n\r\n"
    );
    let mut buf = vec![0u8; 1 << 20];
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        if s.write_all(req.as_bytes()).await.is_err() {
            break;
        }
        // Read the head, then exactly Content-Length bytes of body.
        let mut have = 0;
        let (head_end, length) = loop {
            match s.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => return lat,
                Ok(n) => have += n,
            }
            if let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                break (end + 4, len);
            }
        };
        let mut body = have - head_end;
        while body < length {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return lat,
                Ok(n) => body += n,
            }
        }
        bytes.fetch_add(length as u64, Ordering::Relaxed);
        done.fetch_add(1, Ordering::Relaxed);
        lat.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    lat
}

struct Run {
    rps: f64,
    p50_us: u32,
    p99_us: u32,
    mean_bytes: u64,
}

async fn load(addr: SocketAddr, path: &str, connections: usize, seconds: u64) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(connection(addr, path.to_owned(), stop.clone(), done.clone(), bytes.clone())));
    }
    // Warm up one second, then measure.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (n0, t0) = (done.load(Ordering::Relaxed), Instant::now());
    let b0 = bytes.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let (n1, elapsed) = (done.load(Ordering::Relaxed), t0.elapsed());
    let b1 = bytes.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let mut lat: Vec<u32> = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap_or_default());
    }
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0);
    let n = n1 - n0;
    Run {
        rps: n as f64 / elapsed.as_secs_f64(),
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        mean_bytes: (b1 - b0).checked_div(n).unwrap_or(0),
    }
}

/// Mean time of `calls` sequential calls of `f`.
async fn mean<F, Fut>(calls: u32, mut f: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t = Instant::now();
    for _ in 0..calls {
        f().await;
    }
    t.elapsed() / calls
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let server = match &cli.url {
        Some(url) => {
            let addr = url.trim_start_matches("http://").trim_end_matches('/').parse::<SocketAddr>();
            match addr {
                Ok(addr) => Server { child: None, addr },
                Err(e) => {
                    eprintln!("pvebench: --url must be http://IP:PORT ({e})");
                    return std::process::ExitCode::from(2);
                }
            }
        }
        None => match start_server(cli.vms) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("pvebench: {e}");
                return std::process::ExitCode::FAILURE;
            }
        },
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(cli.threads.max(1)).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pvebench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    rt.block_on(async {
        let addr = server.addr;
        println!("pvebench: simulator at http://{addr} with {} VMs; {} connections, {} s per run", cli.vms, cli.connections, cli.seconds);
        for (label, path) in [("baseline GET /version", "/version"), ("GET /cluster/resources", "/cluster/resources")] {
            let r = load(addr, path, cli.connections, cli.seconds).await;
            println!(
                "{label:<28} {:>9.0} req/s   p50 {:>6} µs   p99 {:>6} µs   {:>7} bytes/answer (gzip)",
                r.rps, r.p50_us, r.p99_us, r.mean_bytes
            );
        }
        // The client's own overhead: the typed call (TLS-less HTTP, gzip, JSON decode into
        // Resource structs) against a raw request that only reads the bytes.
        let client = pve::PveClient::new(pve::PveConfig::new(
            format!("http://{addr}"),
            pve::Auth::Token { user: "root@pam".into(), token_id: "proxfleet".into(), secret: TOKEN.into() },
            pve::TlsMode::System,
        ));
        let Ok(client) = client else { return };
        let raw = reqwest::Client::new();
        let url = format!("http://{addr}/api2/json/cluster/resources");
        let calls = 200;
        let typed = mean(calls, || async {
            let _ = client.resources(None).await;
        })
        .await;
        let bare = mean(calls, || async {
            if let Ok(r) = raw.get(&url).header("Authorization", format!("PVEAPIToken=root@pam!proxfleet={TOKEN}")).send().await {
                let _ = r.bytes().await;
            }
        })
        .await;
        let version = mean(calls, || async {
            let _ = client.version().await;
        })
        .await;
        println!(
            "client: resources() {:.2} ms/call vs raw GET {:.2} ms/call (decode overhead {:.2} ms); version() {:.3} ms/call",
            typed.as_secs_f64() * 1e3,
            bare.as_secs_f64() * 1e3,
            (typed.as_secs_f64() - bare.as_secs_f64()) * 1e3,
            version.as_secs_f64() * 1e3
        );
    });
    std::process::ExitCode::SUCCESS
}
