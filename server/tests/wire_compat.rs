//! The REST answers as clients see them, compared with recordings in `tests/golden/`: a
//! refactor of the types behind them (wire types, moves between crates) must not change a byte
//! of what the old tool's clients and our OpenAPI document promise.
//!
//! Values that differ run to run (times, generated ids) are masked before the comparison; every
//! key and every other value is compared. To record after an intended change to the API:
//! `PROXFLEET_RECORD_GOLDEN=1 cargo test -p server --test wire_compat`, then review the diff.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::path::PathBuf;

use common::{spawn_with_cluster_on, Login, TestServer};
use domain::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Keys whose values are times, durations or generated ids in the recorded answers: compared
/// by kind only.
const VOLATILE: &[&str] = &["created_at", "updated_at", "synced_at", "uptime", "id"];

fn mask(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if VOLATILE.contains(&key.as_str()) && !value.is_null() && !value.is_object() && !value.is_array() {
                    let kind = match value {
                        Value::Number(_) => "<number>",
                        Value::String(_) => "<string>",
                        _ => "<value>",
                    };
                    *value = json!(kind);
                } else {
                    mask(value);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask),
        _ => {}
    }
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(format!("{name}.json"))
}

/// Compares `actual` (masked) with the recording `name`, or records it when asked to.
fn assert_matches_recording(name: &str, mut actual: Value) {
    mask(&mut actual);
    let text = serde_json::to_string_pretty(&actual).unwrap() + "\n";
    let path = golden_path(name);
    if std::env::var_os("PROXFLEET_RECORD_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
        return;
    }
    let recorded = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{} cannot be read ({e}); record it with PROXFLEET_RECORD_GOLDEN=1", path.display())
    });
    if recorded != text {
        let first_difference = recorded
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(recorded.lines().count().min(text.lines().count()));
        let context =
            |s: &str| s.lines().skip(first_difference.saturating_sub(3)).take(7).collect::<Vec<_>>().join("\n");
        panic!(
            "{name} differs from {} at line {}:\n--- recorded\n{}\n--- now\n{}",
            path.display(),
            first_difference + 1,
            context(&recorded),
            context(&text)
        );
    }
}

async fn get(srv: &TestServer, who: &Login, path: &str) -> Value {
    let resp = who.get(&srv.at(path)).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{path}");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn rest_answers_match_their_recordings() {
    let srv =
        spawn_with_cluster_on(Backend::Sqlite, pvesim::Layout { nodes: 2, seed: 7, vms: 3, shared_storage: true })
            .await
            .unwrap();
    let admin = srv.login_as("admin").await;
    let import = admin.post(&srv.at("/api/sync_servers")).json(&json!({ "import_all": true })).send().await.unwrap();
    assert_eq!(import.status(), StatusCode::OK);

    let servers = get(&srv, &admin, "/api/servers?per_page=100").await;
    let first = servers["data"][0]["name"].as_str().expect("the imported servers are listed").to_owned();
    assert_matches_recording("servers", servers);
    assert_matches_recording("server_status", get(&srv, &admin, &format!("/api/server_status/{first}")).await);
    let pool = json!({
        "name": "web", "cidr": "10.30.0.0/24", "gateway": "10.30.0.1", "dns": ["1.1.1.1"], "bridge": "vmbr0",
        "vlan": 30, "reserved": "10.30.0.2-10.30.0.20,10.30.0.254", "description": "front ends"
    });
    assert_eq!(admin.post(&srv.at("/api/ip-pools")).json(&pool).send().await.unwrap().status(), StatusCode::CREATED);
    assert_matches_recording("ip_pools", get(&srv, &admin, "/api/ip-pools").await);
    assert_matches_recording("openapi", get(&srv, &admin, "/api/openapi.json").await);
}
