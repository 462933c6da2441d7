//! The `pve` client against the simulator, over real HTTP: every call, the errors PVE raises,
//! locks, task failures, and the responses checked against the PVE 9.1 schema.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::time::{Duration, Instant};

use pve::api::qemu::Timeframe;
use pve::{
    contract, Auth, CloneOptions, ConfigUpdate, ErrorKind, Polling, Power, PveClient, PveConfig, Request, TlsMode,
};
use pvesim::{Layout, Profile, Running};

async fn sim(profile: Profile) -> (Running, PveClient) {
    let layout = Layout { nodes: 2, seed: 7, vms: 6, shared_storage: true };
    let running =
        pvesim::start("127.0.0.1:0".parse().unwrap(), &layout, profile, "s3cret-token", "root-password").await.unwrap();
    let client = PveClient::new(PveConfig::new(&running.url, running.auth(), TlsMode::System)).unwrap();
    (running, client)
}

const WAIT: Duration = Duration::from_secs(10);

fn fast() -> Polling {
    Polling { first: Duration::from_millis(5), max: Duration::from_millis(20) }
}

/// Sends a request and checks the answer against the schema's `returns`.
async fn checked(client: &PveClient, req: &Request) -> serde_json::Value {
    let data = client.call_value(req).await.unwrap_or_else(|e| panic!("{} {}: {e}", req.method.as_str(), req.path));
    let problems = contract::check_response(req.method.as_str(), req.template, &data);
    assert!(problems.is_empty(), "{} {}: {problems:?}", req.method.as_str(), req.template);
    data
}

#[tokio::test]
async fn inventory_reads_match_the_schema() {
    let (_s, c) = sim(Profile::Instant).await;
    use pve::api::{cluster, qemu};
    checked(&c, &cluster::version()).await;
    checked(&c, &cluster::nodes()).await;
    checked(&c, &cluster::node_status("pve1")).await;
    let all = checked(&c, &cluster::resources(None)).await;
    let kinds: Vec<&str> = all.as_array().unwrap().iter().map(|r| r["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"node") && kinds.contains(&"storage") && kinds.contains(&"qemu"));
    checked(&c, &qemu::list("pve1")).await;
    checked(&c, &qemu::status("pve1", 9000)).await;
    checked(&c, &qemu::config("pve1", 9000)).await;
    checked(&c, &qemu::rrddata("pve1", 100, Timeframe::Hour)).await;

    // The typed calls decode what the simulator sends, Perl quirks included.
    let vms = c.resources(Some(pve::ResourceKind::Vm)).await.unwrap();
    assert_eq!(vms.iter().filter(|v| v.template).count(), 4, "templates 8000, 8001, 9000, 9001");
    assert!(vms.iter().any(|v| v.vmid == Some(9000) && v.name.as_deref() == Some("ubuntu-2404-template")));
    let raw = c.call_value(&cluster::next_id(None)).await.unwrap();
    assert!(raw.is_string(), "nextid is a string on the wire, as PVE sends it: {raw}");
    assert_eq!(c.next_id(None).await.unwrap(), 106);
    let taken = c.next_id(Some(100)).await.unwrap_err();
    assert_eq!((taken.kind, taken.status), (ErrorKind::AlreadyExists, 400), "{taken}");
    let rrd = c.vm_rrddata("pve1", 9000, Timeframe::Hour).await.unwrap();
    assert_eq!(rrd.len(), 60);
    assert!(rrd.iter().all(|p| p.cpu.is_none()), "a stopped VM has only time and max* points");
    assert_eq!(c.version().await.unwrap().release, "9.1");
}

#[tokio::test]
async fn clone_configure_start_and_read_the_agent_ip() {
    let (_s, c) = sim(Profile::Fast).await;
    let upid = c
        .vm_clone(
            "pve1",
            9000,
            120,
            &CloneOptions { name: Some("web-1".into()), full: Some(true), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!((upid.kind.as_str(), upid.id.as_str(), upid.node.as_str()), ("qmclone", "9000", "pve1"));
    // While the clone runs, the new VM exists and is locked: PVE refuses changes.
    let locked = c.vm_update_config("pve1", 120, &ConfigUpdate::new().cores(4)).await.unwrap_err();
    assert_eq!(locked.kind, ErrorKind::Locked, "{locked}");
    c.wait_task(&upid, WAIT, fast()).await.unwrap();
    let log = c.task_log(&upid, 0, 50).await.unwrap();
    assert_eq!(log.last().unwrap().t, "TASK OK");

    let before = c.vm_config("pve1", 120).await.unwrap();
    assert_eq!(before.get("name"), Some("web-1"));
    assert!(before.get("template").is_none(), "the template flag is dropped");
    assert!(before.get("scsi0").unwrap().starts_with("local-lvm:vm-120-disk-0"));
    let template_mac = c.vm_config("pve1", 9000).await.unwrap().get("net0").unwrap().to_owned();
    assert_ne!(before.get("net0").unwrap(), template_mac, "a clone gets a new MAC");

    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB+x kim@laptop";
    let update = ConfigUpdate::new()
        .cores(4)
        .memory(4096)
        .ciuser("kim")
        .cipassword("hunter2-but-long")
        .sshkeys(&[key])
        .ipconfig(0, "10.20.0.15/24", Some("10.20.0.1"))
        .nameserver("1.1.1.1 8.8.8.8")
        .new_disk("scsi", 1, "local-lvm", 50)
        .digest(&before.digest);
    c.vm_update_config("pve1", 120, &update).await.unwrap();
    let after = c.vm_config("pve1", 120).await.unwrap();
    assert_eq!(after.get("cores"), Some("4"));
    assert_eq!(after.get("memory"), Some("4096"));
    assert_eq!(after.get("cipassword"), Some("**********"), "never read back");
    assert_eq!(
        pve::params::decode_sshkeys(after.get("sshkeys").unwrap()),
        vec![key.to_owned()],
        "stored still encoded"
    );
    assert!(
        after.get("scsi1").unwrap().starts_with("local-lvm:vm-120-disk-1")
            && after.get("scsi1").unwrap().ends_with("size=50G")
    );
    // The old digest no longer matches.
    let stale =
        c.vm_update_config("pve1", 120, &ConfigUpdate::new().cores(2).digest(&before.digest)).await.unwrap_err();
    assert!(stale.message.contains("checksum mismatch"), "{stale}");

    let grow = c.vm_resize("pve1", 120, "scsi0", "+10G").await.unwrap().expect("resize is a task since PVE 8");
    c.wait_task(&grow, WAIT, fast()).await.unwrap();
    assert!(c.vm_config("pve1", 120).await.unwrap().get("scsi0").unwrap().ends_with("size=30G"));
    let shrink = c.vm_resize("pve1", 120, "scsi0", "5G").await.unwrap().unwrap();
    let err = c.wait_task(&shrink, WAIT, fast()).await.unwrap_err();
    assert_eq!(err.message, "shrinking disks is not supported");

    let start = c.vm_power("pve1", 120, Power::Start).await.unwrap();
    c.wait_task(&start, WAIT, fast()).await.unwrap();
    assert_eq!(c.vm_status("pve1", 120).await.unwrap().status, "running");
    // The guest agent answers once the guest has booted, with the configured address.
    let deadline = Instant::now() + WAIT;
    let ifaces = loop {
        match c.vm_agent_interfaces("pve1", 120).await {
            Ok(i) => break i,
            Err(e) if e.message == "QEMU guest agent is not running" && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("{e}"),
        }
    };
    let eth0 = ifaces.iter().find(|i| i.name == "eth0").unwrap();
    assert_eq!(eth0.ip_addresses[0].ip_address, "10.20.0.15");
    assert_eq!(eth0.ip_addresses[0].prefix, Some(24));

    let again = c.vm_power("pve1", 120, Power::Start).await.unwrap();
    assert_eq!(c.wait_task(&again, WAIT, fast()).await.unwrap_err().message, "VM 120 already running");
    let running = c.vm_destroy("pve1", 120).await.unwrap_err();
    assert_eq!(running.message, "VM 120 is running - destroy failed");
    let stop = c.vm_power("pve1", 120, Power::Shutdown { timeout: Some(60), force_stop: true }).await.unwrap();
    c.wait_task(&stop, WAIT, fast()).await.unwrap();
    let gone = c.vm_destroy("pve1", 120).await.unwrap();
    c.wait_task(&gone, WAIT, fast()).await.unwrap();
    let missing = c.vm_status("pve1", 120).await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    assert_eq!(missing.message, "Configuration file 'nodes/pve1/qemu-server/120.conf' does not exist");
}

#[tokio::test]
async fn prechecks_answer_like_pve() {
    let (_s, c) = sim(Profile::Instant).await;
    let r = c.vm_power("pve1", 9000, Power::Reboot { timeout: None }).await.unwrap_err();
    assert_eq!((r.status, r.message.as_str()), (500, "VM 9000 not running"));
    let t = c.vm_power("pve1", 9000, Power::Start).await.unwrap();
    assert_eq!(c.wait_task(&t, WAIT, fast()).await.unwrap_err().message, "you can't start a vm if it's a template");
    let dup = c.vm_clone("pve1", 9000, 8000, &CloneOptions::default()).await.unwrap_err();
    assert_eq!(dup.message, "unable to create VM 8000: config file already exists");
    assert_eq!(dup.kind, ErrorKind::AlreadyExists);
    let linked_storage = c
        .vm_clone(
            "pve1",
            9000,
            130,
            &CloneOptions { full: Some(false), target_storage: Some("local-lvm".into()), ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(linked_storage.message.contains("not allowed for linked clones"));
    let far = c
        .vm_clone("pve1", 9000, 131, &CloneOptions { target_node: Some("pve2".into()), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(far.message, "can't clone VM to node 'pve2' (VM uses local storage)");
    let ghost_node = c.vm_status("nosuchnode", 100).await.unwrap_err();
    assert_eq!(ghost_node.status, 500);
    let empty = c.vm_update_config("pve1", 100, &ConfigUpdate::new()).await.unwrap_err();
    assert_eq!(empty.message, "no options specified");
    let both = c.vm_update_config("pve1", 100, &ConfigUpdate::new().cores(2).delete("cores")).await.unwrap_err();
    assert_eq!(both.status, 400);
    assert!(both.errors["delete"].contains("at the same time"));
    // A request that breaks the schema gets PVE's 400 with per-parameter errors.
    let bad =
        pve::Request::new(pve::Method::Post, "/nodes/{node}/qemu/{vmid}/clone", "/nodes/pve1/qemu/9000/clone".into())
            .with(pve::Params::new().str("newid", "abc").str("full", "true"));
    let e = c.call_value(&bad).await.unwrap_err();
    assert_eq!(e.status, 400);
    assert_eq!(e.errors["full"], "type check ('boolean') failed - got 'true'");
    assert_eq!(e.errors["newid"], "type check ('integer') failed - got 'abc'");
    let unknown = pve::Request::new(pve::Method::Get, "/nodes/{node}/nope", "/nodes/pve1/nope".into());
    let e = c.call_value(&unknown).await.unwrap_err();
    assert_eq!((e.status, e.message.as_str()), (501, "Method 'GET /nodes/pve1/nope' not implemented"));
}

#[tokio::test]
async fn full_clones_of_one_source_queue_and_a_stopped_task_rolls_back() {
    // Real durations at 5 %: a full clone takes 400 ms and the source's file lock is waited
    // for at most 525 ms, so the second clone waits its turn and the third gives up like
    // PVE's flock (with hundreds of milliseconds of margin for a slow machine).
    let (s, c) = sim(Profile::Realistic(0.05)).await;
    let full = CloneOptions { full: Some(true), ..Default::default() };
    let a = c.vm_clone("pve1", 8000, 140, &full).await.unwrap();
    let b = c.vm_clone("pve1", 8000, 141, &full).await.unwrap();
    let third = c.vm_clone("pve1", 8000, 142, &full).await.unwrap();
    let started = Instant::now();
    c.wait_task(&a, WAIT, fast()).await.unwrap();
    let first_done = started.elapsed();
    c.wait_task(&b, WAIT, fast()).await.unwrap();
    assert!(started.elapsed() > first_done, "the second clone finished after the first");
    let e = c.wait_task(&third, WAIT, fast()).await.unwrap_err();
    assert_eq!(e.message, "can't lock file '/var/lock/qemu-server/lock-8000.conf' - got timeout");
    assert_eq!(e.kind, ErrorKind::Locked);
    assert!(c.vm_status("pve1", 142).await.is_err(), "a failed clone leaves no VM behind");

    // DELETE on a running task: it ends "interrupted by signal" and the half-made VM goes.
    let d = c.vm_clone("pve1", 9001, 150, &full).await.unwrap();
    c.task_stop(&d).await.unwrap();
    assert_eq!(c.wait_task(&d, WAIT, fast()).await.unwrap_err().message, "interrupted by signal");
    assert!(!s.sim.lock().vms.contains_key(&150));
}

#[tokio::test]
async fn tickets_with_csrf_and_bad_tokens() {
    let (s, _) = sim(Profile::Instant).await;
    let ticket_client = PveClient::new(PveConfig::new(
        &s.url,
        Auth::Password { username: "root@pam".into(), password: "root-password".into() },
        TlsMode::System,
    ))
    .unwrap();
    assert_eq!(ticket_client.nodes().await.unwrap().len(), 2);
    // Writes carry the CSRF token.
    let upid = ticket_client.vm_clone("pve1", 9000, 160, &CloneOptions::default()).await.unwrap();
    assert_eq!(upid.user, "root@pam");

    let wrong = PveClient::new(PveConfig::new(
        &s.url,
        Auth::Password { username: "root@pam".into(), password: "nope".into() },
        TlsMode::System,
    ))
    .unwrap();
    assert_eq!(wrong.nodes().await.unwrap_err().kind, ErrorKind::Auth);
    let bad_token = PveClient::new(PveConfig::new(
        &s.url,
        Auth::Token { user: "root@pam".into(), token_id: "proxfleet".into(), secret: "guess".into() },
        TlsMode::System,
    ))
    .unwrap();
    let e = bad_token.nodes().await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Auth, 401));
    // The secret never shows in debug output.
    assert!(!format!("{bad_token:?}").contains("guess"));
}

#[tokio::test]
async fn one_ticket_is_shared_by_concurrent_calls_and_renewed_with_itself() {
    use std::sync::atomic::Ordering;
    let (s, _) = sim(Profile::Instant).await;
    let password = Auth::Password { username: "root@pam".into(), password: "root-password".into() };
    let shared = PveClient::new(PveConfig::new(&s.url, password.clone(), TlsMode::System)).unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let c = shared.clone();
        calls.spawn(async move { c.vm_status("pve1", 100).await.is_ok() });
    }
    while let Some(ok) = calls.join_next().await {
        assert!(ok.unwrap());
    }
    assert_eq!(s.sim.faults.tickets.load(Ordering::SeqCst), 1, "one login for all calls, never a ticket per call");

    // A ticket due for renewal is renewed by posting it as the password.
    let mut config = PveConfig::new(&s.url, password, TlsMode::System);
    config.ticket_renew_after = Duration::ZERO;
    let renewing = PveClient::new(config).unwrap();
    renewing.nodes().await.unwrap();
    renewing.nodes().await.unwrap();
    assert_eq!(s.sim.faults.tickets.load(Ordering::SeqCst), 3);
    assert_eq!(s.sim.faults.renewals.load(Ordering::SeqCst), 1, "the second ticket came from renewing the first");
}

#[tokio::test]
async fn async_config_and_converting_to_a_template() {
    let (_s, c) = sim(Profile::Instant).await;
    let clone = c.vm_clone("pve1", 9000, 170, &CloneOptions { full: Some(true), ..Default::default() }).await.unwrap();
    c.wait_task(&clone, WAIT, fast()).await.unwrap();
    let task = c
        .vm_update_config_async("pve1", 170, &ConfigUpdate::new().description("golden image").tags(&["base", "web"]))
        .await
        .unwrap();
    c.wait_task(&task.expect("POST config answers a task"), WAIT, fast()).await.unwrap();
    let cfg = c.vm_config("pve1", 170).await.unwrap();
    assert_eq!((cfg.get("description"), cfg.get("tags")), (Some("golden image"), Some("base;web")));

    let t = c.vm_template("pve1", 170).await.unwrap();
    c.wait_task(&t, WAIT, fast()).await.unwrap();
    let cfg = c.vm_config("pve1", 170).await.unwrap();
    assert_eq!(cfg.get("template"), Some("1"));
    assert!(cfg.get("scsi0").unwrap().starts_with("local-lvm:base-170-disk-0"), "disks become base disks");
    let again = c.vm_template("pve1", 170).await.unwrap_err();
    assert_eq!(again.message, "you can't convert a template to a template");
    assert!(c.vm_status("pve1", 170).await.unwrap().template);
}

#[tokio::test]
async fn task_history_is_newest_first_filtered_by_guest_and_source() {
    use pve::api::tasks;
    use pve::{TaskSource, Upid};
    // A full clone takes 800 ms here, long enough to see it active on a busy machine.
    let (_s, c) = sim(Profile::Realistic(0.1)).await;
    let clone = c
        .vm_clone(
            "pve1",
            9000,
            130,
            &CloneOptions { name: Some("hist-1".into()), full: Some(true), ..Default::default() },
        )
        .await
        .unwrap();
    // While the clone runs it is active, not yet in the archive (PVE's default source).
    let active = c.tasks("pve1", Some(9000), TaskSource::Active, 50).await.unwrap();
    assert!(
        active
            .iter()
            .any(|t| t.upid == clone.as_str() && t.status.as_deref() == Some("RUNNING") && t.succeeded().is_none()),
        "{active:?}"
    );
    assert!(c
        .tasks("pve1", Some(9000), TaskSource::Archive, 50)
        .await
        .unwrap()
        .iter()
        .all(|t| t.upid != clone.as_str()));
    c.wait_task(&clone, WAIT, fast()).await.unwrap();
    let start = c.vm_power("pve1", 130, Power::Start).await.unwrap();
    c.wait_task(&start, WAIT, fast()).await.unwrap();
    let stop = c.vm_power("pve1", 130, Power::Stop).await.unwrap();
    c.wait_task(&stop, WAIT, fast()).await.unwrap();

    let history = checked(&c, &tasks::list("pve1", Some(130), TaskSource::All, 0, 50)).await;
    let kinds: Vec<&str> = history.as_array().unwrap().iter().map(|t| t["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["qmstop", "qmstart"], "only the guest's own tasks (the clone is the template's), newest first");
    let typed = c.tasks("pve1", Some(130), TaskSource::Archive, 1).await.unwrap();
    assert_eq!(typed.len(), 1, "limit is honoured");
    assert_eq!(
        (typed[0].upid.as_str(), typed[0].status.as_deref(), typed[0].succeeded()),
        (stop.as_str(), Some("OK"), Some(true))
    );
    assert!(typed[0].endtime.is_some_and(|e| e >= typed[0].starttime));
    // The UPID in the list parses to the node the task ran on.
    assert_eq!(Upid::parse(&typed[0].upid).unwrap().node, "pve1");
    // A failed task is listed with its error as status.
    let (s, c) = (_s, c);
    s.sim.faults.set(pvesim::Faults { task_failure_rate: 1.0, ..Default::default() }).unwrap();
    let doomed = c.vm_power("pve1", 130, Power::Start).await.unwrap();
    assert!(c.wait_task(&doomed, WAIT, fast()).await.is_err());
    s.sim.faults.set(pvesim::Faults::default()).unwrap();
    let failed = c.tasks("pve1", Some(130), TaskSource::Archive, 50).await.unwrap();
    assert_eq!((failed[0].upid.as_str(), failed[0].succeeded()), (doomed.as_str(), Some(false)), "{failed:?}");
    assert_eq!(failed.len(), 3, "start, stop, the failed start: {failed:?}");
    // Another node's history does not hold this guest's tasks.
    assert!(c.tasks("pve2", Some(130), TaskSource::All, 50).await.unwrap().is_empty());
}
