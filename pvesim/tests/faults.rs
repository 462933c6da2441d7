//! Fault injection: the client retries reads through a flaky cluster, never repeats a write,
//! surfaces classified errors, and tasks that fail midway are rolled back.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use pve::{CloneOptions, ErrorKind, Polling, Power, PveClient, PveConfig, TlsMode};
use pvesim::{Faults, Layout, Profile};

async fn sim() -> (pvesim::Running, PveClient) {
    let layout = Layout { nodes: 2, seed: 11, vms: 4, shared_storage: true };
    let running = pvesim::start("127.0.0.1:0".parse().unwrap(), &layout, Profile::Instant, "tok", "pw").await.unwrap();
    let mut config = PveConfig::new(&running.url, running.auth(), TlsMode::System);
    config.backoff = Duration::from_millis(1);
    (running, PveClient::new(config).unwrap())
}

fn reads(s: &pvesim::Running) -> u64 {
    s.sim.faults.reads.load(Ordering::SeqCst)
}

fn writes(s: &pvesim::Running) -> u64 {
    s.sim.faults.writes.load(Ordering::SeqCst)
}

#[tokio::test]
async fn reads_are_retried_through_errors_and_give_up_classified() {
    let (s, c) = sim().await;
    s.sim.faults.set(Faults { read_error_rate: 1.0, ..Default::default() }).unwrap();
    let before = reads(&s);
    let e = c.nodes().await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Unreachable, 503));
    assert_eq!(reads(&s) - before, 4, "one try and three retries");

    // Half the reads fail: with enough retries every call still succeeds.
    let mut config = PveConfig::new(&s.url, s.auth(), TlsMode::System);
    config.backoff = Duration::from_millis(1);
    config.read_retries = 12;
    let patient = PveClient::new(config).unwrap();
    s.sim.faults.set(Faults { read_error_rate: 0.5, ..Default::default() }).unwrap();
    let before = reads(&s);
    for _ in 0..20 {
        patient.vm_status("pve1", 100).await.unwrap();
    }
    assert!(reads(&s) - before > 20, "some reads needed retries");
}

#[tokio::test]
async fn a_failed_write_is_reported_and_never_repeated() {
    let (s, c) = sim().await;
    s.sim.faults.set(Faults { write_error_rate: 1.0, ..Default::default() }).unwrap();
    let before = writes(&s);
    let e = c.vm_power("pve1", 100, Power::Stop).await.unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (ErrorKind::Rejected, "simulated failure (fault injection)"));
    assert_eq!(writes(&s) - before, 1);
}

#[tokio::test]
async fn a_busy_write_does_nothing_and_a_lost_answer_hides_a_done_write() {
    let (s, c) = sim().await;
    s.sim.faults.set(Faults { busy_write_rate: 1.0, ..Default::default() }).unwrap();
    let mut seen = Vec::new();
    for _ in 0..2 {
        let e = c.vm_clone("pve1", 9000, 600, &CloneOptions::default()).await.unwrap_err();
        assert!(e.is_transient(), "{e:?}");
        seen.push((e.status, e.message));
    }
    assert_eq!(seen[0].0, 503);
    assert_eq!(seen[1], (500, "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout".to_owned()));
    assert_eq!(c.vm_status("pve1", 600).await.unwrap_err().kind, ErrorKind::NotFound, "nothing was done");

    s.sim
        .faults
        .set(Faults { lost_answer_rate: 1.0, lost_answer_only: vec!["/clone".into()], ..Default::default() })
        .unwrap();
    let e = c.vm_clone("pve1", 9000, 600, &CloneOptions::default()).await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Unreachable, 596));
    assert!(c.vm_status("pve1", 600).await.is_ok(), "the clone was carried out all the same");
    c.vm_power("pve1", 100, Power::Start).await.unwrap();
}

#[tokio::test]
async fn latency_and_a_node_that_stops_answering() {
    let (s, c) = sim().await;
    s.sim.faults.set(Faults { latency_ms: 60, ..Default::default() }).unwrap();
    let t = Instant::now();
    c.version().await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(60));

    s.sim.faults.set(Faults { down_nodes: vec!["pve2".into()], ..Default::default() }).unwrap();
    let e = c.vm_status("pve2", 101).await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Unreachable, 595));
    let nodes = c.nodes().await.unwrap();
    assert_eq!(nodes.iter().find(|n| n.node == "pve2").unwrap().status, "offline");
    let vms = c.resources(Some(pve::ResourceKind::Vm)).await.unwrap();
    assert!(vms.iter().filter(|v| v.node.as_deref() == Some("pve2")).all(|v| v.status.as_deref() == Some("unknown")));
    assert!(c.vm_status("pve1", 100).await.is_ok(), "the other node still answers");
}

#[tokio::test]
async fn a_task_failing_midway_is_rolled_back() {
    let (s, c) = sim().await;
    s.sim.faults.set(Faults { task_failure_rate: 1.0, ..Default::default() }).unwrap();
    let upid = c.vm_clone("pve1", 9000, 500, &CloneOptions::default()).await.unwrap();
    let e = c.wait_task(&upid, Duration::from_secs(5), Polling::default()).await.unwrap_err();
    assert_eq!(e.message, "simulated task failure (fault injection)");
    assert_eq!(c.vm_status("pve1", 500).await.unwrap_err().kind, ErrorKind::NotFound, "no half-made VM");
}

#[tokio::test]
async fn faults_are_set_at_run_time_with_the_api_token() {
    let (s, _) = sim().await;
    let http = reqwest::Client::new();
    let url = format!("{}/pvesim/faults", s.url);
    let anon = http.put(&url).body(r#"{"latency_ms": 5}"#).send().await.unwrap();
    assert_eq!(anon.status(), 401);
    let auth = format!("PVEAPIToken={}={}", s.token_id, s.token_secret);
    let ok = http
        .put(&url)
        .header("Authorization", &auth)
        .body(r#"{"latency_ms": 5, "down_nodes": ["pve2"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(s.sim.faults.get().down_nodes, vec!["pve2".to_owned()]);
    let bad = http.put(&url).header("Authorization", &auth).body(r#"{"read_error_rate": 2}"#).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let typo = http.put(&url).header("Authorization", &auth).body(r#"{"latnecy_ms": 5}"#).send().await.unwrap();
    assert_eq!(typo.status(), 400, "unknown settings are refused");
}
