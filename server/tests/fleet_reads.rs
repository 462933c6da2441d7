//! Whole-fleet reads (`/api/all_server_status`, `/api/servers/brief`, the list) on SQLite and
//! PostgreSQL: readers share one `/cluster/resources` call, a read writes nothing yet shows
//! what Proxmox says now, the background sync brings the records along within its interval,
//! proxfleet's own changes show at once, and each reader sees only the servers it may.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{spawn_with_cluster_configured, Login, TestServer};
use domain::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::Config;

const RESOURCES: &str = "GET /cluster/resources";

async fn get_json(who: &Login, srv: &TestServer, path: &str) -> Value {
    let resp = who.get(&srv.at(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.unwrap()
}

async fn post_json(who: &Login, srv: &TestServer, path: &str, body: Value) -> Value {
    let resp = who.post(&srv.at(path)).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.unwrap()
}

fn sim(srv: &TestServer) -> &pvesim::Running {
    srv.simulator.as_ref().unwrap()
}

fn set_latency(srv: &TestServer, ms: u64) {
    sim(srv).sim.faults.set(pvesim::faults::Faults { latency_ms: ms, ..Default::default() }).unwrap();
}

/// A server over `vms` simulated VMs whose background sync stays out of the way (one pass at
/// start, the next in an hour) unless `configure` says otherwise.
async fn servers(vms: usize, configure: fn(Config) -> Config) -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let layout = pvesim::Layout { nodes: 2, seed: 5, vms, shared_storage: true };
        out.extend(spawn_with_cluster_configured(backend, layout, configure).await);
    }
    out
}

fn quiet(c: Config) -> Config {
    Config { sync_interval: Duration::from_secs(3600), ..c }
}

/// Every record's name, status and write times, as the database holds them.
async fn records(srv: &TestServer) -> Vec<(String, String, i64, Option<i64>)> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT name, status, updated_at, synced_at FROM servers ORDER BY name")
        .fetch_all(srv.services.db.pool())
        .await
        .unwrap();
    rows.iter().map(|r| (r.get("name"), r.get("status"), r.get("updated_at"), r.get("synced_at"))).collect()
}

#[tokio::test]
async fn concurrent_readers_share_one_cluster_call() {
    for srv in servers(12, quiet).await {
        let admin = srv.login_as("admin").await;
        post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        // No snapshot is fresh enough for a reader that arrives after this (bound 0), and the
        // call takes 400 ms: every reader of the burst arrives while the first one's call is
        // in flight, and they must all be served by it.
        srv.services.cluster.set_snapshot_max_age(Duration::ZERO);
        set_latency(&srv, 400);
        for round in 0..2 {
            let before = sim(&srv).sim.faults.calls(RESOURCES);
            let burst = (0..16).map(|_| get_json(&admin, &srv, "/api/all_server_status"));
            let answers = futures_util::future::join_all(burst).await;
            let after = sim(&srv).sim.faults.calls(RESOURCES);
            assert_eq!(after - before, 1, "round {round}: 16 readers, one call ({})", srv.backend());
            for a in &answers {
                assert_eq!(a["servers"].as_object().unwrap().len(), 12);
                assert_eq!(a["data"]["stats"]["total_servers"], 12);
            }
        }
        // Within the freshness bound, readers are served from the snapshot: no call at all.
        set_latency(&srv, 0);
        srv.services.cluster.set_snapshot_max_age(Duration::from_secs(600));
        get_json(&admin, &srv, "/api/all_server_status").await;
        let before = sim(&srv).sim.faults.calls(RESOURCES);
        for _ in 0..5 {
            get_json(&admin, &srv, "/api/all_server_status").await;
        }
        assert_eq!(sim(&srv).sim.faults.calls(RESOURCES), before, "{}", srv.backend());
    }
}

#[tokio::test]
async fn reads_write_nothing_but_show_what_proxmox_says_now() {
    for srv in servers(6, quiet).await {
        let admin = srv.login_as("admin").await;
        let report = post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        assert_eq!(report["data"]["imported"].as_array().unwrap().len(), 6);
        // The records were made a minute ago (a status proxfleet set in the last 20 s would
        // outrank Proxmox's possibly lagging report).
        sqlx::query("UPDATE servers SET updated_at = updated_at - 60000")
            .execute(srv.services.db.pool())
            .await
            .unwrap();
        let list = get_json(&admin, &srv, "/api/servers").await;
        let running = list["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["status"] == "running")
            .expect("a running server in the sample")
            .clone();
        let name = running["name"].as_str().unwrap().to_owned();
        let (node, vmid) =
            (running["node"].as_str().unwrap(), u32::try_from(running["vmid"].as_u64().unwrap()).unwrap());
        // Stopped behind proxfleet's back.
        let client = srv.services.cluster.client().unwrap();
        let upid = client.vm_power(node, vmid, pve::Power::Stop).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        srv.services.cluster.set_snapshot_max_age(Duration::ZERO);

        let before = records(&srv).await;
        let all = get_json(&admin, &srv, "/api/all_server_status").await;
        assert_eq!(all["servers"][&name]["status"], "stopped", "the read shows the cluster now ({})", srv.backend());
        assert_eq!(all["data"]["servers"][&name]["status"], "stopped");
        let stats = &all["stats"];
        assert_eq!(
            (stats["total_servers"].as_u64(), stats["running_servers"].as_u64().map(|r| r < 6)),
            (Some(6), Some(true))
        );
        get_json(&admin, &srv, "/api/servers/brief").await;
        get_json(&admin, &srv, "/api/servers?per_page=500").await;
        get_json(&admin, &srv, &format!("/api/server_status/{name}")).await;
        assert_eq!(records(&srv).await, before, "reads left every record as it was ({})", srv.backend());

        // The sync writes it (and says what changed).
        let report = post_json(&admin, &srv, "/api/sync_servers", json!({})).await;
        assert_eq!(report["data"]["changed"], json!([name]));
        let record = get_json(&admin, &srv, &format!("/api/server_status/{name}")).await;
        assert_eq!(record["data"]["status"], "stopped");
    }
}

#[tokio::test]
async fn the_background_sync_brings_records_along_within_its_interval() {
    fn every_second(c: Config) -> Config {
        Config { sync_interval: Duration::from_secs(1), ..c }
    }
    for srv in servers(4, every_second).await {
        let admin = srv.login_as("admin").await;
        let report = post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        let name = report["data"]["imported"][0].as_str().unwrap().to_owned();
        sqlx::query("UPDATE servers SET updated_at = updated_at - 60000")
            .execute(srv.services.db.pool())
            .await
            .unwrap();
        let record = get_json(&admin, &srv, &format!("/api/server_status/{name}")).await;
        let (node, vmid) = (
            record["data"]["node"].as_str().unwrap().to_owned(),
            u32::try_from(record["data"]["vmid"].as_u64().unwrap()).unwrap(),
        );
        let client = srv.services.cluster.client().unwrap();
        let (power, expected) = match record["data"]["status"].as_str() {
            Some("running") => (pve::Power::Stop, "stopped"),
            _ => (pve::Power::Start, "running"),
        };
        let upid = client.vm_power(&node, vmid, power).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        // The stored record follows within a pass or two of the 1 s interval (the snapshot the
        // pass reads may be up to 2 s old), with nobody reading the fleet.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let record = get_json(&admin, &srv, &format!("/api/server_status/{name}")).await;
            if record["data"]["status"] == expected {
                break;
            }
            assert!(Instant::now() < deadline, "{name} still {} ({})", record["data"]["status"], srv.backend());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn proxfleets_own_changes_show_at_once_and_readers_see_only_their_servers() {
    for srv in servers(5, quiet).await {
        let admin = srv.login_as("admin").await;
        srv.services.cluster.set_snapshot_max_age(Duration::from_secs(600));
        let report = post_json(&admin, &srv, "/api/sync_servers", json!({})).await;
        let unmanaged: Vec<String> = report["data"]["unmanaged"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap().to_owned())
            .collect();
        // A user who sees only their own servers imports one; the admin the rest.
        let perms = vec!["create_server".to_owned(), "manage_server".to_owned()];
        let hash = domain::auth::password::hash(common::PASSWORD).unwrap();
        let new_user = domain::users::NewUser {
            username: "own1",
            password_hash: &hash,
            role: "developer",
            permissions: &perms,
            ..Default::default()
        };
        srv.services.users.create(new_user).await.unwrap();
        let own = srv.session_for("own1").await;
        post_json(&own, &srv, "/api/sync_servers", json!({"names": [unmanaged[0]]})).await;
        post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;

        let mine = get_json(&own, &srv, "/api/all_server_status").await;
        assert_eq!(mine["servers"].as_object().unwrap().keys().collect::<Vec<_>>(), vec![&unmanaged[0]]);
        assert_eq!(mine["stats"]["total_servers"], 1);
        let all = get_json(&admin, &srv, "/api/all_server_status").await;
        assert_eq!(all["servers"].as_object().unwrap().len(), 5, "{}", srv.backend());
        let brief = get_json(&own, &srv, "/api/servers/brief").await;
        assert_eq!(brief["servers"].as_object().unwrap().keys().collect::<Vec<_>>(), vec![&unmanaged[0]]);
        let names = format!("/api/servers/brief?names={},{}", unmanaged[0], unmanaged[1]);
        let brief = get_json(&own, &srv, &names).await;
        assert_eq!(brief["data"].as_object().unwrap().len(), 1, "another owner's server stays hidden");
        let brief = get_json(&admin, &srv, &names).await;
        assert_eq!(brief["servers"].as_object().unwrap().len(), 2);
        let entry = &brief["servers"][&unmanaged[1]];
        assert_eq!(entry["name"], unmanaged[1].as_str());
        for key in ["role", "firewall_group", "os_type", "ip_addresses", "status"] {
            assert!(entry.get(key).is_some(), "brief entries keep the old UI's {key}: {entry}");
        }

        // A change made through proxfleet shows in the next whole-fleet read, though the
        // cluster snapshot (and so the cached answer's snapshot) is the same.
        let calls = sim(&srv).sim.faults.calls(RESOURCES);
        let path = format!("/api/server/config/{}", unmanaged[1]);
        let resp = admin
            .request(reqwest::Method::PUT, &srv.at(&path))
            .json(&json!({"description": "changed just now"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let all = get_json(&admin, &srv, "/api/all_server_status").await;
        assert_eq!(all["servers"][&unmanaged[1]]["description"], "changed just now", "{}", srv.backend());
        assert_eq!(sim(&srv).sim.faults.calls(RESOURCES), calls, "no new cluster call for it");
    }
}

/// The body of `path` as sent with `Accept-Encoding: accept`, and its `Content-Encoding`.
async fn raw_get(who: &Login, srv: &TestServer, path: &str, accept: &str) -> (Option<String>, Vec<u8>) {
    // A client that leaves the body as sent (reqwest would otherwise undo gzip itself).
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let resp =
        client.get(srv.at(path)).header("cookie", &who.cookie).header("accept-encoding", accept).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    let coding = resp.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
    (coding, resp.bytes().await.unwrap().to_vec())
}

fn decoded(coding: Option<&str>, body: &[u8]) -> Value {
    use std::io::Read;
    let mut plain = Vec::new();
    match coding {
        Some("gzip") => {
            flate2::read::GzDecoder::new(body).read_to_end(&mut plain).unwrap();
        }
        Some("br") => brotli::BrotliDecompress(&mut std::io::Cursor::new(body), &mut plain).unwrap(),
        None => plain = body.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    serde_json::from_slice(&plain).unwrap()
}

#[tokio::test]
async fn large_answers_go_compressed_to_clients_that_take_it() {
    for srv in servers(30, quiet).await.into_iter().take(1) {
        let admin = srv.login_as("admin").await;
        post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        srv.services.cluster.set_snapshot_max_age(Duration::from_secs(600));
        for path in ["/api/all_server_status", "/api/servers?per_page=500", "/api/servers/brief"] {
            let (none, plain) = raw_get(&admin, &srv, path, "identity").await;
            assert_eq!(none, None, "{path}");
            let plain = decoded(None, &plain);
            for (accept, coding) in [("gzip, deflate", "gzip"), ("gzip, deflate, br, zstd", "br")] {
                let (got, body) = raw_get(&admin, &srv, path, accept).await;
                assert_eq!(got.as_deref(), Some(coding), "{path} for {accept:?}");
                assert_eq!(decoded(got.as_deref(), &body), plain, "{path} in {coding} is the same answer");
                assert!(body.len() * 4 < serde_json::to_vec(&plain).unwrap().len(), "{path} in {coding} is small");
            }
        }
    }
}

#[tokio::test]
async fn pages_in_any_sort_match_the_whole_list_in_that_sort() {
    for srv in servers(12, quiet).await {
        let admin = srv.login_as("admin").await;
        post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        for (sort, order) in [("memory", "desc"), ("cores", "asc"), ("node", "desc"), ("status", "asc")] {
            let whole = get_json(&admin, &srv, &format!("/api/servers?sort={sort}&order={order}&per_page=500")).await;
            let names = |page: &Value| -> Vec<String> {
                page["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
            };
            let all = names(&whole);
            assert_eq!(all.len(), 12);
            let mut paged = Vec::new();
            for page in 1..=3 {
                let path = format!("/api/servers?sort={sort}&order={order}&per_page=5&page={page}");
                let body = get_json(&admin, &srv, &path).await;
                assert_eq!(body["pagination"]["total"], 12);
                paged.extend(names(&body));
            }
            assert_eq!(paged, all, "{sort} {order}: the pages are the whole list in order ({})", srv.backend());
            let key = |s: &Value| match sort {
                "memory" => s["memory_mb"].as_u64().unwrap().to_string(),
                "cores" => s["cores"].as_u64().unwrap().to_string(),
                other => s[other].as_str().unwrap_or("").to_owned(),
            };
            let keys: Vec<Value> = whole["data"].as_array().unwrap().to_vec();
            for w in keys.windows(2) {
                let (a, b) = (key(&w[0]), key(&w[1]));
                if sort == "memory" || sort == "cores" {
                    let (a, b) = (a.parse::<u64>().unwrap(), b.parse::<u64>().unwrap());
                    assert!(if order == "desc" { a >= b } else { a <= b }, "{sort} {order}: {a} then {b}");
                } else {
                    assert!(if order == "desc" { a >= b } else { a <= b }, "{sort} {order}: {a} then {b}");
                }
            }
        }
    }
}

#[tokio::test]
async fn a_record_newer_than_the_snapshot_keeps_its_own_word() {
    for srv in servers(3, quiet).await {
        let admin = srv.login_as("admin").await;
        srv.services.cluster.set_snapshot_max_age(Duration::from_secs(600));
        post_json(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        get_json(&admin, &srv, "/api/all_server_status").await;
        // Recorded after the snapshot was taken (as a create's VM is): the snapshot cannot
        // know it, so it must not call it missing.
        let record = domain::servers::Server {
            name: "just-made".into(),
            vmid: Some(4242),
            node: Some("pve1".into()),
            status: domain::servers::ServerStatus::Running,
            cores: 1,
            sockets: 1,
            memory_mb: 512,
            drift: json!({}),
            ..Default::default()
        };
        srv.services.servers.store.insert(&record).await.unwrap();
        let all = get_json(&admin, &srv, "/api/all_server_status").await;
        assert_eq!(all["servers"]["just-made"]["status"], "running", "{}", srv.backend());
        assert_eq!(all["stats"]["total_servers"], 4);

        // A row whose JSON columns have a shape this version does not read (edited by hand)
        // costs that row its disks and addresses, not every read of the fleet.
        sqlx::query(
            "UPDATE servers SET nics = '{\"odd\": 1}', disks = '[{\"size\": \"big\"}]' WHERE name = 'just-made'",
        )
        .execute(srv.services.db.pool())
        .await
        .unwrap();
        srv.services.servers.store.set_details("just-made", "edited", &[]).await.unwrap();
        let all = get_json(&admin, &srv, "/api/all_server_status").await;
        assert_eq!(all["servers"]["just-made"]["ip_addresses"], json!([]), "{}", srv.backend());
        assert_eq!(all["servers"]["just-made"]["disks"], json!([]));
        let brief = get_json(&admin, &srv, "/api/servers/brief").await;
        assert_eq!(brief["servers"].as_object().unwrap().len(), 4);
        let report = post_json(&admin, &srv, "/api/sync_servers", json!({})).await;
        assert_eq!(report["data"]["checked"], 4, "the sync still reads every record");
    }
}
