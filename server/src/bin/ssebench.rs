//! `ssebench`: live-event fan-out and job throughput, on demand:
//!
//!   cargo build --release -p server --bin ssebench && $CARGO_TARGET_DIR/release/ssebench --streams 1000
//!   (add --database-url postgres://… to measure PostgreSQL)
//!
//! Starts the real router on a loopback port over a fresh database, opens N SSE streams as one
//! user (raw keep-alive sockets), publishes events and measures publish-to-receipt latency on
//! every stream, and the process's memory per open stream (server and client sides together),
//! then the client side alone against a socket-holding listener as a baseline in the same run,
//! so the difference is the server's share. Then runs trivial jobs and reports jobs per second.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Cli {
    #[arg(long, default_value_t = 1000)]
    streams: usize,
    #[arg(long, default_value_t = 50)]
    events: usize,
    #[arg(long, default_value_t = 500)]
    jobs: usize,
    /// Default: a fresh SQLite file under the temp dir.
    #[arg(long)]
    database_url: Option<String>,
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn now_ms() -> i64 {
    domain::clock::now_ms()
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The stream limit per user does not apply to the benchmark's single user.
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ssebench: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssebench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let url = cli
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/ssebench-{}.db", std::env::temp_dir().display(), std::process::id()));
    let db = domain::Database::open(&url).await.map_err(|e| e.to_string())?;
    let services = domain::Services::new(db, true);
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let config = server::config::Config::local(addr, url.clone());
    let instance = server::Instance::with_services(services.clone(), &config)?;
    let router = server::build_router(instance.state);
    tokio::spawn(async move {
        let _ = server::serve(listener, router, std::future::pending()).await;
    });

    // One session per stream: the per-user cap counts streams, so use a user per 8 streams.
    let per_user = server::api::events::MAX_STREAMS_PER_USER;
    let mut cookies = Vec::new();
    let mut users = vec![user.id];
    for i in 0..cli.streams {
        if i > 0 && i % per_user == 0 {
            let u = services
                .users
                .create(domain::users::NewUser {
                    username: &format!("bench{i}"),
                    password_hash: &hash,
                    role: "viewer",
                    permissions: &[],
                    ..Default::default()
                })
                .await
                .map_err(|e| e.to_string())?;
            users.push(u.id);
        }
        let uid = *users.last().unwrap_or(&user.id);
        let s = services.auth.sessions().create(uid, None, None).await.map_err(|e| e.to_string())?;
        cookies.push(s.secret);
    }

    let before = rss_kib();
    let latencies = Arc::new(Mutex::new(Vec::<i64>::new()));
    let ready = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for secret in cookies {
        let (lat, ready) = (latencies.clone(), ready.clone());
        let events = cli.events;
        tasks.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else { return };
            let req = format!(
                "GET /api/notifications/stream HTTP/1.1\r\nHost: {addr}\r\nCookie: pf_session={secret}\r\n\r\n"
            );
            if s.write_all(req.as_bytes()).await.is_err() {
                return;
            }
            let mut buf = vec![0u8; 4096];
            let mut text = String::new();
            let mut seen = 0;
            let mut counted_ready = false;
            while seen < events {
                let n = match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                text.push_str(&String::from_utf8_lossy(&buf[..n]));
                if !counted_ready && text.contains("\r\n\r\n") {
                    counted_ready = true;
                    ready.fetch_add(1, Ordering::SeqCst);
                }
                while let Some(i) = text.find("\"sent_at\":") {
                    let rest = &text[i + 10..];
                    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
                    if end == rest.len() {
                        break;
                    }
                    if let Ok(sent) = rest[..end].parse::<i64>() {
                        lat.lock().unwrap_or_else(|p| p.into_inner()).push(now_ms() - sent);
                        seen += 1;
                    }
                    text = rest[end..].to_owned();
                }
            }
        }));
    }
    let t = Instant::now();
    while ready.load(Ordering::SeqCst) < cli.streams {
        if t.elapsed() > Duration::from_secs(60) {
            return Err(format!("only {} of {} streams opened", ready.load(Ordering::SeqCst), cli.streams));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = rss_kib();
    let total = after.saturating_sub(before) as f64 / cli.streams as f64;
    println!(
        "ssebench: {} SSE streams open in {:.1} s; memory {:.1} KiB per stream (server + client)",
        cli.streams,
        t.elapsed().as_secs_f64(),
        total
    );
    // Baseline in the same run, with the SSE streams still open so no freed memory is reused:
    // the same client tasks against a listener that only holds its sockets. What the SSE run
    // costs beyond it is the server's share of a stream.
    let client_side = baseline_kib_per_socket(cli.streams).await?;
    println!("baseline: {client_side:.1} KiB per plain held socket (client task + accepted socket); server share of an SSE stream ≈ {:.1} KiB",
        total - client_side);

    // Broadcast notifications carry their publish time; every stream receives every one.
    for i in 0..cli.events {
        let payload = serde_json::json!({"type": "notification", "title": format!("bench {i}"), "sent_at": now_ms()});
        services.events.publish(None, "notification", payload).await.map_err(|e| e.to_string())?;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    let mut lat = latencies.lock().unwrap_or_else(|p| p.into_inner()).clone();
    lat.sort_unstable();
    let pct = |p: f64| lat.get(((lat.len().max(1) - 1) as f64 * p) as usize).copied().unwrap_or(-1);
    println!(
        "fan-out: {} deliveries ({} events × {} streams): p50 {} ms, p99 {} ms, max {} ms",
        lat.len(),
        cli.events,
        cli.streams,
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );

    // Job throughput: trivial jobs through the real runner (4 workers).
    let admin = domain::auth::Actor::from_user(&user, domain::auth::AuthMethod::Session, None);
    let t = Instant::now();
    let mut last = 0;
    for _ in 0..cli.jobs {
        last = services
            .jobs
            .enqueue(&admin, "test.error", serde_json::json!({}), Vec::new())
            .await
            .map_err(|e| e.to_string())?
            .id;
    }
    domain::jobs::wait_finished(services.jobs.store(), last, Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let (queued, running, _) = services.jobs.store().counts(0).await.map_err(|e| e.to_string())?;
        if queued == 0 && running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "jobs: {} trivial two-step jobs in {:.2} s = {:.0} jobs/s ({})",
        cli.jobs,
        t.elapsed().as_secs_f64(),
        cli.jobs as f64 / t.elapsed().as_secs_f64(),
        services.db.backend().as_str()
    );
    Ok(())
}

/// Memory per connection of the benchmark's own client side: N tasks like the SSE readers
/// (connect, send a request, wait on a 4 KiB read buffer) against a listener that accepts and
/// holds the sockets without answering.
async fn baseline_kib_per_socket(n: usize) -> Result<f64, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let before = rss_kib();
    let holder = tokio::spawn(async move {
        let mut held = Vec::with_capacity(n);
        while held.len() < n {
            match listener.accept().await {
                Ok((s, _)) => held.push(s),
                Err(_) => break,
            }
        }
        held
    });
    let waiting = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let waiting = waiting.clone();
        clients.push(tokio::spawn(async move {
            let Ok(mut s) = TcpStream::connect(addr).await else { return };
            let _ = s.write_all(b"GET /api/notifications/stream HTTP/1.1\r\nHost: x\r\n\r\n").await;
            let mut buf = vec![0u8; 4096];
            waiting.fetch_add(1, Ordering::SeqCst);
            let _ = s.read(&mut buf).await;
        }));
    }
    let held = tokio::time::timeout(Duration::from_secs(60), holder)
        .await
        .map_err(|_| "baseline sockets did not connect".to_owned())?;
    let held = held.map_err(|e| e.to_string())?;
    let t = Instant::now();
    while waiting.load(Ordering::SeqCst) < n {
        if t.elapsed() > Duration::from_secs(60) {
            return Err("baseline clients did not reach their read".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let per = rss_kib().saturating_sub(before) as f64 / n as f64;
    drop(held);
    for c in clients {
        let _ = c.await;
    }
    Ok(per)
}
