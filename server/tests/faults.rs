//! Bulk create and lifecycle jobs through a misbehaving cluster, on SQLite and PostgreSQL,
//! with the simulator's fault injection: a lost clone answer never makes a second VM, a busy
//! cluster (errors on reads and writes, lost answers) still gets every server made once, a
//! killed instance's job is finished by the other instance without duplicates, the real
//! binary killed with SIGKILL and restarted takes its job back at once, and the orphan check
//! finds what is out of step.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{spawn_pair_with_cluster_on_postgres, spawn_with_cluster_configured, Login, TestServer};
use domain::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::config::Config;

fn layout() -> pvesim::Layout {
    pvesim::Layout { nodes: 2, seed: 5, vms: 0, shared_storage: true }
}

/// No background sync: what the tests see is what the jobs did.
fn quiet(c: Config) -> Config {
    Config { sync_interval: Duration::from_secs(3600), job_lease: Duration::from_secs(2), ..c }
}

async fn servers() -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        out.extend(spawn_with_cluster_configured(backend, layout(), quiet).await);
    }
    out
}

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post(who: &Login, srv: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(who.post(&srv.at(path)).json(&body).send().await.unwrap()).await
}

async fn get(who: &Login, srv: &TestServer, path: &str) -> (StatusCode, Value) {
    json_of(who.get(&srv.at(path)).send().await.unwrap()).await
}

/// Polls a job until `done` says so (or it finished); returns it.
async fn job_until(srv: &TestServer, who: &Login, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (status, body) = get(who, srv, &format!("/api/jobs/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let job = body["data"].clone();
        if done(&job) || !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never got there: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn finished(srv: &TestServer, who: &Login, id: &str) -> Value {
    job_until(srv, who, id, |_| false).await
}

async fn bulk_create(srv: &TestServer, admin: &Login, prefix: &str, count: usize) -> String {
    let (status, body) = post(admin, srv, "/api/ip-pools", json!({"name": "default", "cidr": "10.50.0.0/24", "gateway": "10.50.0.1", "dns": ["1.1.1.1"], "bridge": "vmbr0", "reserved": "10.50.0.1-10.50.0.9"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let list: Vec<Value> = (1..=count)
        .map(|n| json!({"name": format!("{prefix}-{n}"), "template_vm_id": 9001, "cpu": 1, "memory": 1024, "disks": [{"size": 30, "interface": "scsi0"}, {"size": 5, "interface": "scsi1", "datastore_id": "shared-nfs"}], "network_devices": [{"ip_pool": "default"}]}))
        .collect();
    let (status, q) = post(admin, srv, "/api/create_servers_bulk", json!({"servers": list})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{q}");
    q["task_id"].as_str().unwrap().to_owned()
}

fn sim(srv: &TestServer) -> &pvesim::Running {
    srv.simulator.as_ref().unwrap()
}

/// VMs in the simulator by name (templates aside), with how many carry each name.
async fn vms_by_name(srv: &TestServer) -> HashMap<String, usize> {
    let client = srv.services.cluster.client().unwrap();
    let mut out = HashMap::new();
    for r in client.resources(Some(pve::ResourceKind::Vm)).await.unwrap() {
        if !r.template {
            *out.entry(r.name.unwrap_or_default()).or_default() += 1;
        }
    }
    out
}

/// Clone requests the simulator received.
fn clones_received(srv: &TestServer) -> u64 {
    sim(srv)
        .sim
        .faults
        .all_calls()
        .iter()
        .filter(|(k, _)| k.starts_with("POST ") && k.ends_with("/clone"))
        .map(|(_, n)| n)
        .sum()
}

/// Every server made exactly once, running, with its own address; nothing out of step.
async fn all_made_once(srv: &TestServer, admin: &Login, prefix: &str, count: usize) {
    let vms = vms_by_name(srv).await;
    for n in 1..=count {
        assert_eq!(
            vms.get(&format!("{prefix}-{n}")),
            Some(&1),
            "{prefix}-{n} exactly once ({}): {vms:?}",
            srv.backend()
        );
    }
    assert_eq!(vms.len(), count, "no other VM: {vms:?}");
    let (_, list) = get(admin, srv, "/api/servers?per_page=500").await;
    let rows = list["data"].as_array().unwrap();
    assert_eq!(rows.len(), count, "{list}");
    assert!(rows.iter().all(|s| s["status"] == "running"), "{rows:?}");
    let (_, pool) = get(admin, srv, "/api/ip-pools/default").await;
    assert_eq!(pool["data"]["used"], count, "one address each, none held twice or lost: {pool}");
    let (status, orphans) = get(admin, srv, "/api/cleanup/orphans").await;
    assert_eq!(status, StatusCode::OK, "{orphans}");
    assert_eq!(orphans["data"]["total"], 0, "{orphans}");
}

#[tokio::test]
async fn a_lost_clone_answer_never_makes_a_second_vm() {
    for srv in servers().await {
        let admin = srv.login_as("admin").await;
        // Every clone is carried out but its answer never arrives.
        let faults =
            pvesim::Faults { lost_answer_rate: 1.0, lost_answer_only: vec!["/clone".into()], ..Default::default() };
        sim(&srv).sim.faults.set(faults).unwrap();
        let id = bulk_create(&srv, &admin, "lost", 4).await;
        let job = finished(&srv, &admin, &id).await;
        assert_eq!(job["status"], "succeeded", "{} {job}", srv.backend());
        assert_eq!(clones_received(&srv), 4, "each clone sent once, found after its lost answer, never sent again");
        sim(&srv).sim.faults.set(pvesim::Faults::default()).unwrap();
        all_made_once(&srv, &admin, "lost", 4).await;
        // The marker that recognised them stays out of what operators see.
        let (_, settings) = get(&admin, &srv, "/api/server/config/lost-1").await;
        assert!(!settings.to_string().contains("managed by proxfleet"), "{settings}");
    }
}

#[tokio::test]
async fn a_lost_clone_answer_found_while_the_clone_still_runs_is_waited_for_not_made_again() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // Clones take 400 ms; until one is done Proxmox shows only its temporary config
        // (`lock: clone`, no name, no marker), so whose VM it is cannot be told yet.
        let timed = pvesim::Profile::Realistic(0.05);
        let Some(srv) = common::spawn_with_cluster_timed(backend, layout(), timed, quiet).await else { continue };
        let admin = srv.login_as("admin").await;
        let faults =
            pvesim::Faults { lost_answer_rate: 1.0, lost_answer_only: vec!["/clone".into()], ..Default::default() };
        sim(&srv).sim.faults.set(faults).unwrap();
        let id = bulk_create(&srv, &admin, "slow", 2).await;
        let job = finished(&srv, &admin, &id).await;
        assert_eq!(job["status"], "succeeded", "{} {job}", srv.backend());
        assert_eq!(clones_received(&srv), 2, "each clone sent once, waited for, never sent again");
        sim(&srv).sim.faults.set(pvesim::Faults::default()).unwrap();
        all_made_once(&srv, &admin, "slow", 2).await;
    }
}

#[tokio::test]
async fn a_busy_cluster_still_gets_every_server_made_once_and_driven() {
    for srv in servers().await {
        let admin = srv.login_as("admin").await;
        let flaky =
            pvesim::Faults { read_error_rate: 0.1, busy_write_rate: 0.2, lost_answer_rate: 0.1, ..Default::default() };
        sim(&srv).sim.faults.set(flaky.clone()).unwrap();
        let id = bulk_create(&srv, &admin, "busy", 6).await;
        let job = finished(&srv, &admin, &id).await;
        assert_eq!(job["status"], "succeeded", "{} {job}", srv.backend());

        // Lifecycle through the same faults: stop all, start all, delete two.
        let names: Vec<String> = (1..=6).map(|n| format!("busy-{n}")).collect();
        for action in ["stop", "start"] {
            let (status, q) =
                post(&admin, &srv, "/api/servers/bulk_action/async", json!({"server_names": names, "action": action}))
                    .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{q}");
            let job = finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
            assert_eq!(job["status"], "succeeded", "{action} {} {job}", srv.backend());
        }
        let (status, q) = post(
            &admin,
            &srv,
            "/api/servers/bulk_action/async",
            json!({"server_names": ["busy-5", "busy-6"], "action": "delete"}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        let job = finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "succeeded", "delete {} {job}", srv.backend());
        let (busy, lost) = sim(&srv).sim.faults.injected();
        assert!(busy + lost > 0, "the faults were met and ridden out: {busy} busy, {lost} lost answers");
        sim(&srv).sim.faults.set(pvesim::Faults::default()).unwrap();
        all_made_once(&srv, &admin, "busy", 4).await;
    }
}

#[tokio::test]
async fn a_killed_instances_create_job_is_finished_by_the_other_without_duplicates() {
    let Some((a, b)) = spawn_pair_with_cluster_on_postgres(layout(), quiet).await else { return };
    let admin = a.login_as("admin").await;
    // Slow enough that the job is caught midway.
    sim(&a).sim.faults.set(pvesim::Faults { latency_ms: 15, ..Default::default() }).unwrap();
    let id = bulk_create(&a, &admin, "kill", 8).await;
    let job = job_until(&a, &admin, &id, |j| {
        j["items"].as_array().is_some_and(|items| items.iter().filter(|i| i["status"] == "succeeded").count() >= 2)
    })
    .await;
    assert_eq!(job["status"], "running", "caught midway: {job}");
    // Instance A dies mid-job: its workers stop where they are, its lease runs out.
    a.workers.as_ref().unwrap().abort();
    let resumed = finished(&b, &admin, &id).await;
    assert_eq!((resumed["status"].as_str(), resumed["attempts"].as_i64()), (Some("succeeded"), Some(2)), "{resumed}");
    let log: Vec<String> =
        resumed["log"].as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap_or("").to_owned()).collect();
    assert!(log.iter().any(|l| l.contains("resumed after an interrupted run")), "{log:?}");
    // Servers caught half-made went on with the VM the killed instance had made.
    assert!(log.iter().any(|l| l.contains("resuming after an interruption with VM")), "{log:?}");
    sim(&a).sim.faults.set(pvesim::Faults::default()).unwrap();
    all_made_once(&b, &admin, "kill", 8).await;
}

#[tokio::test]
async fn a_kill_9_mid_job_and_a_restart_resume_it_at_once_without_duplicates() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(url) = domain::testing::fresh_url(backend).await else { continue };
        let cluster = common::start_simulator(layout()).await;
        let listen = common::free_address();
        let first = common::Process::start(&url, &cluster, listen);
        let srv = common::beside(listen, &url, cluster).await;
        let admin = srv.login_as("admin").await;
        // Slow enough that the job is caught midway.
        sim(&srv).sim.faults.set(pvesim::Faults { latency_ms: 15, ..Default::default() }).unwrap();
        let id = bulk_create(&srv, &admin, "nine", 8).await;
        let job = job_until(&srv, &admin, &id, |j| {
            j["items"].as_array().is_some_and(|items| items.iter().filter(|i| i["status"] == "succeeded").count() >= 2)
        })
        .await;
        assert_eq!(job["status"], "running", "caught midway: {job}");
        first.kill();

        // The same instance again (same host, same address): it takes its job back at once,
        // not after the dead run's 30 s lease.
        let restarted_at = domain::clock::now_ms();
        let second = common::Process::start(&url, sim(&srv), listen);
        let resumed = finished(&srv, &admin, &id).await;
        assert_eq!(
            (resumed["status"].as_str(), resumed["attempts"].as_i64()),
            (Some("succeeded"), Some(2)),
            "{} {resumed}",
            srv.backend()
        );
        let back_at = resumed["log"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["line"].as_str().is_some_and(|l| l.contains("resumed after an interrupted run")))
            .and_then(|l| l["at"].as_i64())
            .unwrap_or_else(|| panic!("no resume in the log: {resumed}"));
        assert!(back_at - restarted_at < 10_000, "resumed {} ms after the restart", back_at - restarted_at);
        assert!(second.log_text().contains("resuming the work of this instance's previous run at once"));
        sim(&srv).sim.faults.set(pvesim::Faults::default()).unwrap();
        all_made_once(&srv, &admin, "nine", 8).await;
    }
}

#[tokio::test]
async fn a_clone_that_cannot_get_the_template_lock_in_time_is_sent_again() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        // Tasks take time (a full clone 800 ms; a clone gives up on the template's lock after
        // 1,050 ms), so clones of one template queue behind each other.
        let timed = pvesim::Profile::Realistic(0.1);
        let Some(srv) = common::spawn_with_cluster_timed(backend, layout(), timed, quiet).await else { continue };
        let admin = srv.login_as("admin").await;
        // Two full clones of the template made outside this job (as a killed run leaves them
        // going) hold its lock for 1.6 s: longer than the job's first clone waits for it, if
        // that is sent within 0.55 s.
        let client = srv.services.cluster.client().unwrap();
        let mut outside = Vec::new();
        for vmid in [800, 801] {
            let options =
                pve::CloneOptions { name: Some(format!("outside-{vmid}")), full: Some(true), ..Default::default() };
            outside.push(client.vm_clone("pve1", 9001, vmid, &options).await.unwrap());
        }
        let id = bulk_create(&srv, &admin, "queued", 2).await;
        let job = finished(&srv, &admin, &id).await;
        assert_eq!(job["status"], "succeeded", "{} {job}", srv.backend());
        let log = job["log"].to_string();
        assert!(log.contains("lock-9001.conf' - got timeout; trying again"), "the lock was not got at first: {log}");
        for upid in &outside {
            client.wait_task(upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        }
        let vms = vms_by_name(&srv).await;
        for name in ["queued-1", "queued-2", "outside-800", "outside-801"] {
            assert_eq!(vms.get(name), Some(&1), "{name} once: {vms:?}");
        }
        assert_eq!(vms.len(), 4, "no VM left by a clone that gave up: {vms:?}");
    }
}

#[tokio::test]
async fn the_orphan_check_finds_what_is_out_of_step() {
    for srv in servers().await {
        let admin = srv.login_as("admin").await;
        let id = bulk_create(&srv, &admin, "orph", 2).await;
        assert_eq!(finished(&srv, &admin, &id).await["status"], "succeeded");
        let (_, clean) = get(&admin, &srv, "/api/cleanup/orphans").await;
        assert_eq!(clean["data"]["total"], 0, "{clean}");

        let client = srv.services.cluster.client().unwrap();
        let polling = pve::Polling::default();
        // A VM made behind proxfleet's back, and one server's VM destroyed by hand.
        let options = pve::CloneOptions { name: Some("by-hand".into()), ..Default::default() };
        let upid = client.vm_clone("pve1", 9001, 777, &options).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
        let (_, gone) = get(&admin, &srv, "/api/server_status/orph-2").await;
        let (node, vmid) = (gone["data"]["node"].as_str().unwrap().to_owned(), gone["data"]["vmid"].as_u64().unwrap());
        let vmid = u32::try_from(vmid).unwrap();
        let upid = client.vm_power(&node, vmid, pve::Power::Stop).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
        let upid = client.vm_destroy(&node, vmid).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
        // And an address whose server has no record.
        srv.services.servers.ipam.claim("10.50.0.200", "ghost", None).await.unwrap();

        let (status, found) = get(&admin, &srv, "/api/cleanup/orphans").await;
        assert_eq!(status, StatusCode::OK, "{found}");
        let data = &found["data"];
        assert_eq!(data["total"], 3, "{found}");
        let vm = &data["vms_without_record"][0];
        assert_eq!(
            (vm["vmid"].as_u64(), vm["name"].as_str(), vm["made_by_proxfleet"].as_bool()),
            (Some(777), Some("by-hand"), Some(false)),
            "{vm}"
        );
        let rec = &data["records_without_vm"][0];
        assert_eq!(rec["name"], "orph-2", "{rec}");
        assert!(rec["hint"].as_str().unwrap().contains("gone from Proxmox"), "{rec}");
        assert_eq!(data["addresses_without_server"][0], json!({"address": "10.50.0.200", "server_name": "ghost"}));

        // Signed in only.
        let anonymous = common::client().get(srv.at("/api/cleanup/orphans")).send().await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    }
}

/// A template on shared storage (a full clone of 9001 onto `shared-nfs`, made a template), so
/// servers can be made on any node.
async fn shared_template(srv: &TestServer, vmid: u32) {
    let client = srv.services.cluster.client().unwrap();
    let polling = pve::Polling::default();
    let options = pve::CloneOptions {
        name: Some("debian-12-shared".into()),
        full: Some(true),
        target_storage: Some("shared-nfs".into()),
        ..Default::default()
    };
    let upid = client.vm_clone("pve1", 9001, vmid, &options).await.unwrap();
    client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
    let upid = client.vm_template("pve1", vmid).await.unwrap();
    client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
}

/// The pool `default` on 10.`net`.0.0/24.
async fn pool(srv: &TestServer, admin: &Login, net: u8) {
    let cidr = format!("10.{net}.0.0/24");
    let body = json!({"name": "default", "cidr": cidr, "gateway": format!("10.{net}.0.1"), "bridge": "vmbr0"});
    let (status, body) = post(admin, srv, "/api/ip-pools", body).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A bulk create of `prefix-1…n` from `template` (`{"template_vm_id": …}` or
/// `{"template": name}`), each with a 30 GB boot disk on `datastore` and an address from the
/// pool `default`; the finished job.
async fn create_from(
    srv: &TestServer,
    admin: &Login,
    template: Value,
    datastore: &str,
    prefix: &str,
    n: usize,
) -> Value {
    let list: Vec<Value> = (1..=n)
        .map(|i| {
            let mut server = json!({"name": format!("{prefix}-{i}"), "cpu": 1, "memory": 1024, "disks": [{"size": 30, "interface": "scsi0", "datastore_id": datastore}], "network_devices": [{"ip_pool": "default"}]});
            if let (Some(server), Some(template)) = (server.as_object_mut(), template.as_object()) {
                server.extend(template.clone());
            }
            server
        })
        .collect();
    let (status, q) = post(admin, srv, "/api/create_servers_bulk", json!({"servers": list})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{q}");
    finished(srv, admin, q["task_id"].as_str().unwrap()).await
}

#[tokio::test]
async fn a_node_that_drops_out_mid_job_gets_no_more_servers_and_nothing_waits_forever() {
    let three = pvesim::Layout { nodes: 3, seed: 5, vms: 0, shared_storage: true };
    // Every placement looks at the cluster as it is now.
    let fresh = |c: Config| Config { cluster_snapshot_max_age: Duration::ZERO, ..quiet(c) };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(srv) = spawn_with_cluster_configured(backend, three.clone(), fresh).await else { continue };
        let admin = srv.login_as("admin").await;
        shared_template(&srv, 9100).await;
        // pve3 stops answering once the job asked for two clones (the template's was the first).
        let faults = pvesim::Faults { down_nodes: vec!["pve3".into()], down_after_clones: 3, ..Default::default() };
        sim(&srv).sim.faults.set(faults).unwrap();
        pool(&srv, &admin, 60).await;
        let started = Instant::now();
        let job = create_from(&srv, &admin, json!({"template_vm_id": 9100}), "shared-nfs", "spread", 12).await;
        assert!(started.elapsed() < Duration::from_secs(60), "bounded by the retry budget, not forever");
        let items = job["items"].as_array().unwrap().clone();
        let log: Vec<String> =
            job["log"].as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap_or("").to_owned()).collect();
        let moved = log.iter().filter(|l| l.contains("node pve3 is not answering: made on")).count();
        assert!(moved >= 2, "servers planned on pve3 after it dropped out went elsewhere: {log:?}");
        let mut on_node: HashMap<String, usize> = HashMap::new();
        for item in &items {
            let name = item["name"].as_str().unwrap();
            if item["status"] == "succeeded" {
                let node = item["result"]["node"].as_str().unwrap().to_owned();
                assert_ne!(node, "pve3", "{name} made on the node that dropped out");
                *on_node.entry(node).or_default() += 1;
            } else {
                // Only a server already cloned onto pve3 can fail, and it says why; its record
                // stays (failed) for cleanup once the node is back.
                let error = item["error"].as_str().unwrap_or("");
                assert!(error.contains("pve3"), "{name}: {error}");
                let (_, s) = get(&admin, &srv, &format!("/api/server_status/{name}")).await;
                assert_eq!(s["data"]["status"], "failed", "{s}");
            }
        }
        assert_eq!(on_node.len(), 2, "spread over the nodes that answer: {on_node:?}");
        assert!(on_node.values().sum::<usize>() >= 10, "{items:?}");
        let (_, orphans) = get(&admin, &srv, "/api/cleanup/orphans").await;
        assert_eq!(orphans["data"]["total"], 0, "{orphans}");
    }
}

/// A copy of template `from` (on pve1) named `name`, as `vmid` on `node` on its local disks:
/// made through shared storage (Proxmox clones to another node only from shared disks).
async fn copy_template(srv: &TestServer, from: u32, name: &str, node: &str, vmid: u32) {
    let client = srv.services.cluster.client().unwrap();
    let polling = pve::Polling::default();
    let staging = vmid + 50;
    let options = pve::CloneOptions {
        name: Some("staging".into()),
        full: Some(true),
        target_storage: Some("shared-nfs".into()),
        ..Default::default()
    };
    let upid = client.vm_clone("pve1", from, staging, &options).await.unwrap();
    client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
    let options = pve::CloneOptions {
        name: Some(name.into()),
        full: Some(true),
        target_storage: Some("local-lvm".into()),
        target_node: Some(node.into()),
        ..Default::default()
    };
    let upid = client.vm_clone("pve1", staging, vmid, &options).await.unwrap();
    client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
    let upid = client.vm_template(node, vmid).await.unwrap();
    client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
    let upid = client.vm_destroy("pve1", staging).await.unwrap();
    client.wait_task(&upid, Duration::from_secs(10), polling).await.unwrap();
}

#[tokio::test]
async fn servers_asked_for_by_template_name_use_its_copies_on_other_nodes_also_when_one_drops_out() {
    let three = pvesim::Layout { nodes: 3, seed: 5, vms: 0, shared_storage: true };
    let fresh = |c: Config| Config { cluster_snapshot_max_age: Duration::ZERO, ..quiet(c) };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(srv) = spawn_with_cluster_configured(backend, three.clone(), fresh).await else { continue };
        let admin = srv.login_as("admin").await;
        // debian-12-template (9001) on pve1, and a copy on each other node, all on local disks.
        copy_template(&srv, 9001, "debian-12-template", "pve2", 9201).await;
        copy_template(&srv, 9001, "debian-12-template", "pve3", 9301).await;
        // pve3 stops answering once the job asked for three clones (the copies took four).
        let faults = pvesim::Faults { down_nodes: vec!["pve3".into()], down_after_clones: 7, ..Default::default() };
        sim(&srv).sim.faults.set(faults).unwrap();
        pool(&srv, &admin, 70).await;
        let by_name = json!({"template": "debian-12-template"});
        let job = create_from(&srv, &admin, by_name, "local-lvm", "copy", 12).await;
        let log = job["log"].to_string();
        assert!(log.contains("cloning template 9201 to vmid"), "made on pve2 from its own copy: {log}");
        assert!(log.contains("node pve3 is not answering: made on"), "pve3's servers went elsewhere: {log}");
        let mut on_node: HashMap<String, usize> = HashMap::new();
        for item in job["items"].as_array().unwrap() {
            if item["status"] == "succeeded" {
                *on_node.entry(item["result"]["node"].as_str().unwrap().to_owned()).or_default() += 1;
            } else {
                // Only a server already cloned on pve3 can fail, and it says why.
                assert!(item["error"].as_str().unwrap_or("").contains("pve3"), "{item}");
            }
        }
        assert!(
            on_node.get("pve1").is_some_and(|n| *n >= 4) && on_node.get("pve2").is_some_and(|n| *n >= 4),
            "{on_node:?}"
        );
        assert!(!on_node.contains_key("pve3") || log.contains("cloning template 9301"), "{on_node:?}");

        // Asked for by its id, the template is that one: made on its node only.
        let pinned = create_from(&srv, &admin, json!({"template_vm_id": 9001}), "local-lvm", "pinned", 2).await;
        assert_eq!(pinned["status"], "succeeded", "{pinned}");
        for item in pinned["items"].as_array().unwrap() {
            assert_eq!(item["result"]["node"], "pve1", "{item}");
        }
        let (_, orphans) = get(&admin, &srv, "/api/cleanup/orphans").await;
        assert_eq!(orphans["data"]["total"], 0, "{orphans} {job}");
    }
}

#[tokio::test]
async fn a_clone_its_node_never_got_is_made_on_another_node_with_a_copy() {
    let three = pvesim::Layout { nodes: 3, seed: 5, vms: 0, shared_storage: true };
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(srv) = spawn_with_cluster_configured(backend, three.clone(), quiet).await else { continue };
        let admin = srv.login_as("admin").await;
        copy_template(&srv, 9001, "golden", "pve2", 9201).await;
        copy_template(&srv, 9001, "golden", "pve3", 9301).await;
        // pve3 stops answering with the job's first clone request (the copies took four). The
        // job's view of the cluster is up to 2 s old, so it still sends pve3 its clone.
        let faults = pvesim::Faults { down_nodes: vec!["pve3".into()], down_after_clones: 5, ..Default::default() };
        sim(&srv).sim.faults.set(faults).unwrap();
        pool(&srv, &admin, 80).await;
        let job = create_from(&srv, &admin, json!({"template": "golden"}), "local-lvm", "gold", 2).await;
        assert_eq!(job["status"], "succeeded", "{} {job}", srv.backend());
        let planned: Vec<&str> =
            job["params"]["servers"].as_array().unwrap().iter().map(|p| p["node"].as_str().unwrap()).collect();
        assert_eq!(planned, ["pve2", "pve3"], "spread over the copies: {job}");
        for item in job["items"].as_array().unwrap() {
            assert_eq!(item["result"]["node"], "pve2", "{item}");
        }
        let log = job["log"].to_string();
        assert!(log.contains("clone: node pve3 did not get it"), "{log}");
        assert!(log.contains("node pve3 is not answering: made on pve2 instead"), "{log}");
        assert_eq!(sim(&srv).sim.faults.calls("POST /nodes/pve3/qemu/9301/clone"), 1, "sent to pve3 once, refused");
        let (_, orphans) = get(&admin, &srv, "/api/cleanup/orphans").await;
        assert_eq!(orphans["data"]["total"], 0, "nothing was made on pve3, nothing kept for it: {orphans}");
    }
}
