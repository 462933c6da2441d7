//! Creating servers at the domain level, with no HTTP door in between: the plan refuses a bad
//! request whole (nothing recorded, no job), the create job builds every server through its
//! steps and records it, and a step that fails rolls the server back (no VM, no record, no
//! address held). Against the simulated cluster, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::collections::HashSet;
use std::time::Duration;

use domain::auth::{Actor, AuthMethod};
use domain::ipam::PoolInput;
use domain::jobs::{wait_finished, JobRunner, JobStatus, KeyedLimits, RunnerConfig, RunnerHandle};
use domain::servers::{CreateLimits, ServerRequest, ServerStatus};
use domain::testing::fresh_databases;
use domain::{Error, Services};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

struct Lab {
    services: Services,
    sim: pvesim::Running,
    admin: Actor,
    _runner: RunnerHandle,
}

/// Services on `db` against a fresh simulated cluster, with a running job runner and a pool
/// `lab` of 253 addresses.
async fn lab(db: domain::Database) -> Lab {
    let layout = pvesim::Layout { vms: 0, ..Default::default() };
    let sim =
        pvesim::start("127.0.0.1:0".parse().unwrap(), &layout, pvesim::Profile::Instant, "t", "pw").await.unwrap();
    let client = pve::PveClient::new(pve::PveConfig::new(sim.url.clone(), sim.auth(), pve::TlsMode::System)).unwrap();
    let limits = CreateLimits {
        agent_timeout: Duration::from_secs(5),
        polling: pve::Polling { first: Duration::from_millis(5), max: Duration::from_millis(50) },
        ..Default::default()
    };
    let services = Services::new(db, true).with_cluster(client).with_create_limits(limits);
    let config = RunnerConfig { poll: Duration::from_millis(20), ..Default::default() };
    let keyed = KeyedLimits::shared(services.db.clone(), &config.instance);
    let runner = JobRunner::new(services.jobs.store().clone(), config, keyed).with_wake(services.jobs.waker());
    let runner = services.servers.register_jobs(runner).start();
    services.auth.ensure_first_admin(Some("correct horse battery")).await.unwrap();
    let user = services.users.by_username("admin").await.unwrap().unwrap();
    let admin = Actor::from_user(&user, AuthMethod::Session, None);
    let pool =
        PoolInput { name: "lab".into(), cidr: "10.50.0.0/24".into(), bridge: "vmbr0".into(), ..Default::default() };
    services.ipam.create_pool(&admin, &pool).await.unwrap();
    Lab { services, sim, admin, _runner: runner }
}

fn request(name: &str, template: u32) -> ServerRequest {
    serde_json::from_value(json!({
        "name": name, "template_vm_id": template, "disks": [{"size": 40}], "network_devices": [{"ip_pool": "lab"}],
    }))
    .unwrap()
}

async fn vm_names(lab: &Lab) -> HashSet<String> {
    lab.sim.sim.lock().vms.values().map(|vm| vm.name()).collect()
}

#[tokio::test]
async fn a_request_with_any_bad_server_is_refused_whole_naming_each() {
    for db in fresh_databases().await {
        let lab = lab(db).await;
        let servers = &lab.services.servers;
        let requests = vec![request("ok-1", 9000), request("bad-1", 4242), request("ok-1", 9000)];
        let err = servers.create(&lab.admin, requests).await.unwrap_err();
        let Error::Validation { field, details, .. } = &err else { panic!("{err:?}") };
        assert_eq!(field.as_deref(), Some("servers[1] (bad-1).template"), "{err}");
        let listed: Vec<String> = details.as_ref().unwrap()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(listed, ["servers[1] (bad-1).template", "servers[2] (ok-1).name"], "{details:?}");
        // Nothing happened: no record, no job, no address, no VM.
        assert!(servers.store.by_name("ok-1").await.unwrap().is_none());
        assert_eq!(lab.services.jobs.store().list(&Default::default(), 1, 10).await.unwrap().1, 0);
        assert_eq!(lab.services.ipam.pool("lab").await.unwrap().used, 0);
        assert!(!vm_names(&lab).await.contains("ok-1"));
    }
}

#[tokio::test]
async fn the_create_job_builds_and_records_every_server() {
    for db in fresh_databases().await {
        let lab = lab(db).await;
        let servers = &lab.services.servers;
        let job = servers.create(&lab.admin, vec![request("web-1", 9000), request("web-2", 9001)]).await.unwrap();
        let done = wait_finished(lab.services.jobs.store(), job.id, WAIT).await.unwrap();
        assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.error);
        let mut addresses = HashSet::new();
        for name in ["web-1", "web-2"] {
            let s = servers.store.by_name(name).await.unwrap().unwrap();
            assert_eq!(s.status, ServerStatus::Running, "{name}");
            assert!(s.vmid.is_some() && s.node.is_some(), "{s:?}");
            // The boot disk grew to the size asked for; the NIC has a pool address and a MAC.
            assert_eq!(s.disks[0].size_gb, 40, "{s:?}");
            let nic = &s.nics[0];
            assert!(nic.ip.as_deref().is_some_and(|ip| ip.starts_with("10.50.0.")), "{nic:?}");
            assert!(nic.mac.is_some(), "{nic:?}");
            assert!(addresses.insert(nic.ip.clone()), "addresses are not shared");
        }
        assert!(vm_names(&lab).await.is_superset(&HashSet::from(["web-1".to_owned(), "web-2".to_owned()])));
        assert_eq!(lab.services.ipam.pool("lab").await.unwrap().used, 2);
    }
}

#[tokio::test]
async fn a_failing_step_rolls_the_server_back() {
    for db in fresh_databases().await {
        let lab = lab(db).await;
        // Every Proxmox task fails midway from now on: the clone of this server fails after
        // its record, address and vmid were taken.
        lab.sim.sim.faults.set(pvesim::Faults { task_failure_rate: 1.0, ..Default::default() }).unwrap();
        let job = lab.services.servers.create(&lab.admin, vec![request("doomed-1", 9000)]).await.unwrap();
        let done = wait_finished(lab.services.jobs.store(), job.id, WAIT).await.unwrap();
        assert_eq!(done.status, JobStatus::Failed);
        let items = lab.services.jobs.store().items(job.id).await.unwrap();
        assert!(items[0].error.as_deref().is_some_and(|e| e.contains("clone")), "{items:?}");
        assert!(lab.services.servers.store.by_name("doomed-1").await.unwrap().is_none(), "the record is gone");
        assert!(!vm_names(&lab).await.contains("doomed-1"), "no VM is left behind");
        assert_eq!(lab.services.ipam.pool("lab").await.unwrap().used, 0, "its address was released");
    }
}
