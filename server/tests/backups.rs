//! Backups through REST against the simulated cluster, on SQLite and PostgreSQL: back up now
//! to `local` and `shared-nfs` in each mode and compression, one backup per server at a time,
//! progress from the task log, cancel, PVE's own failure messages, the cluster-wide list
//! (matched by vmid, filters, pages, totals, one content call per node × storage per 10 s),
//! the old tool's fields, protection and delete, bad input refused before Proxmox is asked,
//! permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{spawn_with_cluster_on, spawn_with_cluster_timed, Login, TestServer};
use domain::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn send(
    who: &Login,
    srv: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = who.request(method, &srv.at(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(who: &Login, srv: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    send(who, srv, reqwest::Method::POST, path, Some(body)).await
}

async fn get(who: &Login, srv: &TestServer, path: &str) -> Value {
    let (status, body) = send(who, srv, reqwest::Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

fn sim(srv: &TestServer) -> &pvesim::Sim {
    &srv.simulator.as_ref().unwrap().sim
}

fn writes(srv: &TestServer) -> u64 {
    sim(srv).faults.writes.load(std::sync::atomic::Ordering::Relaxed)
}

/// Content reads the simulator answered so far (every node and storage).
fn content_calls(srv: &TestServer) -> u64 {
    sim(srv)
        .faults
        .all_calls()
        .iter()
        .filter(|(k, _)| k.starts_with("GET /nodes/") && k.ends_with("/content"))
        .map(|(_, n)| n)
        .sum()
}

fn layout(vms: usize) -> pvesim::Layout {
    pvesim::Layout { nodes: 2, seed: 5, vms, shared_storage: true }
}

async fn each_backend(vms: usize) -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        out.extend(spawn_with_cluster_on(backend, layout(vms)).await);
    }
    out
}

/// Waits for a job through the REST job endpoint; returns it with its items.
async fn finished(srv: &TestServer, who: &Login, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = get(who, srv, &format!("/api/jobs/{id}")).await["data"].clone();
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never finished: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Imports the simulator's VMs as managed servers; `(name, vmid, node)` sorted by vmid.
async fn import(srv: &TestServer, admin: &Login) -> Vec<(String, u32, String)> {
    let (status, r) = post(admin, srv, "/api/sync_servers", json!({"import_all": true})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let mut out = Vec::new();
    for n in r["data"]["imported"].as_array().unwrap() {
        let name = n.as_str().unwrap();
        let s = get(admin, srv, &format!("/api/server_status/{name}")).await["data"].clone();
        out.push((
            name.to_owned(),
            u32::try_from(s["vmid"].as_u64().unwrap()).unwrap(),
            s["node"].as_str().unwrap().to_owned(),
        ));
    }
    out.sort_by_key(|s| s.1);
    out
}

async fn back_up(srv: &TestServer, who: &Login, server: &str, body: Value) -> Value {
    let (status, r) = post(who, srv, &format!("/api/server/backup/{server}"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["data"]["status"], "running");
    assert_eq!(r["data"]["server_name"], server);
    assert_eq!(r["backup_id"], r["task_id"]);
    finished(srv, who, r["task_id"].as_str().unwrap()).await
}

#[tokio::test]
async fn back_up_now_to_each_storage_in_each_mode_and_compression() {
    for srv in each_backend(3).await {
        let admin = srv.login_as("admin").await;
        let servers = import(&srv, &admin).await;
        let (name, vmid, node) = servers[0].clone();
        let cases = [
            ("local", "snapshot", "zstd", ".vma.zst"),
            ("shared-nfs", "suspend", "gzip", ".vma.gz"),
            ("local", "stop", "0", ".vma"),
            ("shared-nfs", "snapshot", "lzo", ".vma.lzo"),
        ];
        let mut made = Vec::new();
        for (storage, mode, compress, ext) in cases {
            let body = json!({"storage": storage, "mode": mode, "compress": compress, "description": "before upgrade"});
            let job = back_up(&srv, &admin, &name, body).await;
            assert_eq!(job["status"], "succeeded", "{}: {job}", srv.backend());
            assert_eq!(job["progress"], 100);
            let result = &job["items"][0]["result"];
            let volid = result["volid"].as_str().unwrap();
            assert!(
                volid.starts_with(&format!("{storage}:backup/vzdump-qemu-{vmid}-")) && volid.ends_with(ext),
                "{volid}"
            );
            assert_eq!(result["storage"], storage);
            assert!(result["size"].as_u64().unwrap() > 0);
            made.push(volid.to_owned());
            // The VM is back as it was, unlocked.
            let vm = sim(&srv).lock().vms.get(&vmid).map(|v| (v.running, v.lock.clone(), v.paused));
            assert_eq!(vm.map(|v| (v.1, v.2)), Some((None, None)), "{mode}");
        }
        // The server's list has exactly them (plus nothing of other guests), with the notes.
        let list = get(&admin, &srv, &format!("/api/server/backups/{name}")).await;
        assert_eq!(list["data"]["server_name"], name.as_str());
        let rows = list["data"]["backups"].as_array().unwrap();
        let mut listed: Vec<&str> = rows.iter().map(|r| r["volid"].as_str().unwrap()).collect();
        listed.sort_unstable();
        made.sort();
        assert_eq!(listed, made);
        assert_eq!(list["data"]["total_count"], 4);
        for r in rows {
            assert_eq!(r["vm_id"], vmid);
            assert_eq!(r["server"], name.as_str());
            assert_eq!(r["notes"], format!("{name} - before upgrade"));
            for field in ["name", "storage", "size", "size_gb", "content", "format", "ctime", "timestamp", "node"] {
                assert!(!r[field].is_null(), "old field {field}: {r}");
            }
        }
        // The local ones are on the server's node.
        assert!(rows.iter().filter(|r| r["storage"] == "local").all(|r| r["node"] == node.as_str()));
        // Status: completed, for five minutes.
        let status = get(&admin, &srv, "/api/server/backup/status").await;
        assert_eq!(status["backup_status"][&name]["status"], "completed", "{status}");
        for path in [format!("/api/server/backup/status/{name}"), format!("/api/server/backup/{name}/status")] {
            let one = get(&admin, &srv, &path).await;
            assert_eq!(one["backup_status"]["status"], "completed");
            assert!(one["backup_status"]["message"].as_str().unwrap().starts_with("backed up to "));
        }
        let other = &servers[1].0;
        assert_eq!(
            get(&admin, &srv, &format!("/api/server/backup/status/{other}")).await["backup_status"],
            Value::Null
        );
        // Each backup is audited; the owner got a backup notification per server.
        let audit = get(&admin, &srv, "/api/audit?action=server.backup&per_page=100").await;
        assert!(audit.to_string().contains(&name), "{audit}");
        let notes = get(&admin, &srv, "/api/notifications").await;
        assert!(notes.to_string().contains(&format!("Backup of {name} done")), "{notes}");
    }
}

#[tokio::test]
async fn one_backup_per_server_with_progress_and_cancel() {
    let Some(srv) = spawn_with_cluster_timed(Backend::Sqlite, layout(3), pvesim::Profile::Realistic(0.1), |c| c).await
    else {
        return;
    };
    let admin = srv.login_as("admin").await;
    let servers = import(&srv, &admin).await;
    let (name, vmid, _) = servers[0].clone();
    let (status, r) = post(&admin, &srv, &format!("/api/server/backup/{name}"), json!({"storage": "local"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let id = r["task_id"].as_str().unwrap().to_owned();
    // A second one for the same server is refused, naming the job.
    let (status, again) = post(&admin, &srv, &format!("/api/server/backup/{name}"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert!(again["error"].as_str().unwrap().contains(&format!("job #{id}")), "{again}");
    // The task log's percentages move the job's progress.
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let job = get(&admin, &srv, &format!("/api/jobs/{id}")).await["data"].clone();
        let p = job["progress"].as_i64().unwrap();
        if p > 0 && p < 100 {
            break job;
        }
        assert!(Instant::now() < deadline && job["status"] == "running", "no progress seen: {job}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(job["step"].as_str().unwrap().starts_with(&format!("{name}: ")), "{job}");
    // Cancel: the Proxmox task is stopped, the VM unlocked, no archive is left.
    let (status, c) = post(&admin, &srv, &format!("/api/jobs/{id}/cancel"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let job = finished(&srv, &admin, &id).await;
    assert_eq!(job["status"], "cancelled", "{job}");
    assert_eq!(job["items"][0]["error"], "interrupted by signal");
    assert_eq!(sim(&srv).lock().vms.get(&vmid).and_then(|v| v.lock.clone()), None);
    let list = get(&admin, &srv, &format!("/api/server/backups/{name}")).await;
    assert_eq!(list["data"]["total_count"], 0, "{list}");
    // Once it is over, a new one may start.
    let job = back_up(&srv, &admin, &name, json!({"storage": "local"})).await;
    assert_eq!(job["status"], "succeeded", "{job}");
}

#[tokio::test]
async fn failures_carry_proxmox_messages() {
    for srv in each_backend(2).await {
        let admin = srv.login_as("admin").await;
        let servers = import(&srv, &admin).await;
        let name = servers[0].0.clone();
        sim(&srv).set_storage_free("local", 1024);
        let job = back_up(&srv, &admin, &name, json!({"storage": "local"})).await;
        assert_eq!(job["status"], "failed");
        let err = job["items"][0]["error"].as_str().unwrap();
        assert!(err.starts_with("no space left on device on storage 'local'"), "{err}");
        sim(&srv).faults.set(pvesim::Faults { task_failure_rate: 1.0, ..Default::default() }).unwrap();
        let job = back_up(&srv, &admin, &name, json!({"storage": "shared-nfs"})).await;
        assert_eq!(job["status"], "failed");
        assert_eq!(job["items"][0]["error"], "simulated task failure (fault injection)");
        let notes = get(&admin, &srv, "/api/notifications").await;
        assert!(notes.to_string().contains(&format!("Backup of {name} failed")), "{notes}");
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_proxmox_is_asked() {
    let srv = spawn_with_cluster_on(Backend::Sqlite, layout(2)).await.unwrap();
    let admin = srv.login_as("admin").await;
    let name = import(&srv, &admin).await[0].0.clone();
    let before = writes(&srv);
    let cases = [
        (json!({"storage": "local-lvm"}), "storage"),
        (json!({"storage": "nope"}), "storage"),
        (json!({"mode": "hot"}), "mode"),
        (json!({"compress": "xz"}), "compress"),
        (json!({"description": "two\nlines"}), "description"),
        (json!({"description": "x".repeat(1025)}), "description"),
    ];
    for (body, field) in cases {
        let (status, r) = post(&admin, &srv, &format!("/api/server/backup/{name}"), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {r}");
        assert_eq!(r["details"]["field"], field, "{body}: {r}");
    }
    let (status, r) = post(&admin, &srv, "/api/server/backup/no-such-server", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
    let (status, r) = post(&admin, &srv, "/api/backups", json!({"server_names": [name, "ghost"]})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
    let (status, r) = send(&admin, &srv, reqwest::Method::GET, "/api/backups/nodes?from=yesterday", None).await;
    assert_eq!((status, r["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("from")), "{r}");
    assert_eq!(writes(&srv), before, "nothing was sent to Proxmox");
    // The old UI's lz4 is taken as lzo, and said so.
    let (status, r) = post(&admin, &srv, &format!("/api/server/backup/{name}"), json!({"compress": "lz4"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert!(r["message"].as_str().unwrap().contains("lzo"), "{r}");
    let job = finished(&srv, &admin, r["task_id"].as_str().unwrap()).await;
    assert!(job["items"][0]["result"]["volid"].as_str().unwrap().ends_with(".vma.lzo"), "{job}");
}

#[tokio::test]
async fn the_list_matches_by_vmid_filters_pages_and_reads_each_storage_once() {
    for srv in each_backend(3).await {
        let admin = srv.login_as("admin").await;
        let servers = import(&srv, &admin).await;
        let (name, vmid, node) = servers[0].clone();
        assert_eq!(vmid, 100);
        sim(&srv).seed_backups(3);
        let day = 86_400;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // A guest that no longer exists, whose id starts like 100's.
        let stray = sim(&srv).add_backup("shared-nfs", None, 1000, now - 5 * day, 1 << 30);
        let calls_before = content_calls(&srv);
        let all = get(&admin, &srv, "/api/backups/nodes").await;
        let read = content_calls(&srv) - calls_before;
        // Two nodes: local on each, shared-nfs once.
        assert_eq!(read, 3, "one content call per node × storage");
        let again = get(&admin, &srv, "/api/backups/nodes?storage=local").await;
        assert_eq!(content_calls(&srv) - calls_before, 3, "served from the 10 s listing");
        let data = &all["data"];
        let rows = data["backups"].as_array().unwrap();
        let total = data["total_count"].as_u64().unwrap();
        assert_eq!(rows.len() as u64, total);
        let in_sim = sim(&srv).lock().backups.len() as u64;
        assert_eq!(total, in_sim, "every backup of the cluster");
        let of_100 = sim(&srv).lock().backups.iter().filter(|b| b.vmid == 100).count();
        let sizes: u64 = rows.iter().map(|r| r["size"].as_u64().unwrap()).sum();
        assert_eq!(data["total_size"], sizes);
        let per_node: u64 =
            data["node_stats"].as_object().unwrap().values().map(|s| s["backup_count"].as_u64().unwrap()).sum();
        assert_eq!(per_node, total);
        let ctimes: Vec<i64> = rows.iter().map(|r| r["ctime"].as_i64().unwrap()).collect();
        assert!(ctimes.windows(2).all(|w| w[0] >= w[1]), "newest first");
        let stray_row = rows.iter().find(|r| r["volid"] == stray.as_str()).unwrap();
        assert_eq!(
            (stray_row["vm_id"].as_u64(), stray_row["vm_name"].as_str(), stray_row["server"].as_str()),
            (Some(1000), Some("VM 1000"), None)
        );
        for field in [
            "name",
            "filename",
            "node",
            "storage",
            "vm_id",
            "vm_name",
            "backup_date",
            "size",
            "size_gb",
            "content",
            "format",
            "ctime",
            "timestamp",
        ] {
            assert!(!stray_row[field].is_null(), "old field {field}");
        }
        assert!(again["data"]["backups"].as_array().unwrap().iter().all(|r| r["storage"] == "local"));
        // 100's backups never include 1000's.
        let mine = get(&admin, &srv, &format!("/api/server/backups/{name}")).await;
        assert!(mine["data"]["backups"].as_array().unwrap().iter().all(|r| r["vm_id"] == 100), "{mine}");
        assert_eq!(mine["data"]["total_count"], of_100);
        // Filters, order and pages.
        let node_only = get(&admin, &srv, &format!("/api/backups/nodes/{node}?server={name}")).await;
        assert_eq!(node_only["data"]["total_count"], of_100);
        let page = get(&admin, &srv, "/api/backups/nodes?page=2&per_page=2&sort=oldest").await;
        assert_eq!(page["data"]["backups"].as_array().unwrap().len(), 2);
        assert_eq!(page["data"]["total_count"], total);
        let oldest = get(&admin, &srv, "/api/backups/nodes?sort=oldest&per_page=1&page=1").await;
        assert_eq!(oldest["data"]["backups"][0]["volid"], stray.as_str());
        let recent = (now - day) as i64;
        let since = domain::clock::to_rfc3339(recent * 1000)[..10].to_owned();
        let dated = get(&admin, &srv, &format!("/api/backups/nodes?from={since}")).await;
        assert!(dated["data"]["backups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ctime"].as_i64().unwrap() >= recent - 86_400));
        let searched = get(&admin, &srv, "/api/backups/nodes?search=1000").await;
        assert_eq!(searched["data"]["total_count"], 1);
        // A user who may manage backups but sees only their own servers sees none of these
        // (they own none), not even the stray one.
        let hash = domain::auth::password::hash(common::PASSWORD).unwrap();
        let perms = ["backup_management".to_owned()];
        let new = domain::users::NewUser {
            username: "backupper",
            password_hash: &hash,
            role: "developer",
            permissions: &perms,
            ..Default::default()
        };
        srv.services.users.create(new).await.unwrap();
        let own = srv.session_for("backupper").await;
        let theirs = get(&own, &srv, "/api/backups/nodes").await;
        assert_eq!(theirs["data"]["total_count"], 0, "{theirs}");
        // A backup job marks the listing stale: the next read sees the new volume.
        let job = back_up(&srv, &admin, &name, json!({"storage": "shared-nfs"})).await;
        let volid = job["items"][0]["result"]["volid"].as_str().unwrap().to_owned();
        let after = get(&admin, &srv, "/api/backups/nodes").await;
        assert!(after["data"]["backups"].as_array().unwrap().iter().any(|r| r["volid"] == volid.as_str()));
    }
}

#[tokio::test]
async fn protected_backups_stay_until_unprotected() {
    for srv in each_backend(2).await {
        let admin = srv.login_as("admin").await;
        let servers = import(&srv, &admin).await;
        let (name, vmid, node) = servers[0].clone();
        let job = back_up(&srv, &admin, &name, json!({"storage": "local", "protected": true})).await;
        let volid = job["items"][0]["result"]["volid"].as_str().unwrap().to_owned();
        let file = volid.trim_start_matches("local:backup/").to_owned();
        let (status, r) = post(&admin, &srv, "/api/backups/delete", json!({"node": node, "filename": file})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{r}");
        assert!(r["error"].as_str().unwrap().contains("protected"), "{r}");
        // Notes and protection through the volume endpoint.
        let (status, r) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            "/api/backups/volume",
            Some(json!({"node": node, "volid": volid, "notes": "keep for audit", "protected": false})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(
            (r["data"]["notes"].as_str(), r["data"]["protected"].as_bool()),
            (Some("keep for audit"), Some(false))
        );
        let (status, r) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            "/api/backups/volume",
            Some(json!({"node": node, "volid": volid, "notes": "a\nb"})),
        )
        .await;
        assert_eq!((status, r["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("notes")), "{r}");
        // The same file name on two storages: which one must be said.
        let ctime = sim(&srv).lock().backups.iter().find(|b| b.volid == volid).map(|b| b.ctime).unwrap();
        let twin = sim(&srv).add_backup("shared-nfs", None, vmid, ctime, 1 << 30);
        assert_eq!(twin.trim_start_matches("shared-nfs:backup/"), file);
        let (status, r) = post(&admin, &srv, "/api/backups/delete", json!({"node": node, "filename": file})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{r}");
        assert!(
            r["error"].as_str().unwrap().contains("local") && r["error"].as_str().unwrap().contains("shared-nfs"),
            "{r}"
        );
        let (status, r) =
            post(&admin, &srv, "/api/backups/delete", json!({"node": node, "filename": file, "storage": "local"}))
                .await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(
            (r["data"]["filename"].as_str(), r["data"]["node"].as_str()),
            (Some(file.as_str()), Some(node.as_str()))
        );
        let (status, r) = post(&admin, &srv, "/api/backups/delete", json!({"node": node, "filename": volid})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
        let list = get(&admin, &srv, &format!("/api/server/backups/{name}")).await;
        let left: Vec<&str> =
            list["data"]["backups"].as_array().unwrap().iter().map(|r| r["volid"].as_str().unwrap()).collect();
        assert_eq!(left, [twin.as_str()]);
        let audit = get(&admin, &srv, "/api/audit?action=backup.delete&per_page=100").await;
        assert!(audit.to_string().contains(&volid), "{audit}");
    }
}

#[tokio::test]
async fn backups_need_backup_management() {
    let srv = spawn_with_cluster_on(Backend::Sqlite, layout(2)).await.unwrap();
    let admin = srv.login_as("admin").await;
    let name = import(&srv, &admin).await[0].0.clone();
    let viewer = srv.login_as("viewer").await;
    for (method, path) in [
        (reqwest::Method::GET, "/api/backups/nodes".to_owned()),
        (reqwest::Method::GET, format!("/api/server/backups/{name}")),
        (reqwest::Method::POST, format!("/api/server/backup/{name}")),
        (reqwest::Method::GET, "/api/server/backup/status".to_owned()),
        (reqwest::Method::POST, "/api/backups/delete".to_owned()),
    ] {
        let (status, r) =
            send(&viewer, &srv, method.clone(), &path, Some(json!({"node": "pve1", "filename": "x"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {r}");
    }
    // An operator may back up any server (view_all + backup_management).
    let op = srv.login_as("operator").await;
    let job = back_up(&srv, &op, &name, json!({})).await;
    assert_eq!(job["status"], "succeeded", "{job}");
}
