//! Servers through REST against the simulated cluster, on SQLite and PostgreSQL: create one
//! (the old tool's field names) and drive it through its lifecycle, bulk create with pool
//! addresses and one server that fails (rolled back, the others fine), concurrent bulk creates
//! never sharing an address, validation that names the server and field, IP pools, sync and
//! import.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{spawn_with_cluster_on, Login, TestServer};
use domain::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn servers_on_each_backend(vms: usize) -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        out.extend(
            spawn_with_cluster_on(backend, pvesim::Layout { nodes: 2, seed: 7, vms, shared_storage: true }).await,
        );
    }
    out
}

/// Waits for a job through the full job endpoint; returns it.
async fn finished(srv: &TestServer, who: &Login, task_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = json_of(who.get(&srv.at(&format!("/api/jobs/{task_id}"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let job = body["data"].clone();
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {task_id} never finished: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn post(who: &Login, srv: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    json_of(who.post(&srv.at(path)).json(&body).send().await.unwrap()).await
}

async fn pool(srv: &TestServer, admin: &Login, name: &str, cidr: &str, reserved: &str) {
    let network = cidr.split('/').next().unwrap();
    let gateway = format!("{}.1", network.rsplit_once('.').unwrap().0);
    let (status, body) = post(admin, srv, "/api/ip-pools", json!({"name": name, "cidr": cidr, "gateway": gateway, "dns": ["1.1.1.1"], "bridge": "vmbr0", "reserved": reserved})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn server(srv: &TestServer, who: &Login, name: &str) -> Value {
    let (status, body) = json_of(who.get(&srv.at(&format!("/api/server_status/{name}"))).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

async fn vm_names(srv: &TestServer) -> HashSet<String> {
    let client = srv.services.cluster.client().unwrap();
    client.resources(Some(pve::ResourceKind::Vm)).await.unwrap().into_iter().filter_map(|r| r.name).collect()
}

fn old_tool_spec(name: &str, ip: &str) -> Value {
    json!({
        "name": name, "cpu": 2, "memory": 4096,
        "disks": [{"size": 40, "interface": "scsi0", "datastore_id": "local-lvm"}, {"size": 10, "interface": "scsi1", "datastore_id": "shared-nfs"}],
        "network_devices": [{"bridge": "vmbr0", "ip_address": ip, "subnet": "24", "gateway": "10.30.0.1"}],
        "template_vm_id": 9000, "role": "web", "os_type": "ubuntu", "firewall_group": "web",
        "vm_username": "ubuntu", "vm_password": "not-in-any-log", "disk": 40
    })
}

#[tokio::test]
async fn one_server_from_the_old_tools_body_through_its_lifecycle() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "lab", "10.30.0.0/24", "10.30.0.1-10.30.0.9").await;
        let (status, queued) = post(&admin, &srv, "/api/servers/async", old_tool_spec("web-1", "10.30.0.50")).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
        assert_eq!(queued["status"], "queued");
        let task = queued["task_id"].as_str().unwrap().to_owned();
        let job = finished(&srv, &admin, &task).await;
        assert_eq!(job["status"], "succeeded", "{} {job}", srv.backend());
        assert_eq!(job["params"]["servers"][0]["spec"]["ci_password"], "********", "the password is never shown");
        let (_, old_shape) =
            json_of(admin.get(&srv.at(&format!("/api/tasks/{task}/status"))).send().await.unwrap()).await;
        assert_eq!(old_shape["status"], "completed");

        let s = server(&srv, &admin, "web-1").await;
        assert_eq!(
            (s["status"].as_str(), s["cpu"].as_u64(), s["memory"].as_u64()),
            (Some("running"), Some(2), Some(4096))
        );
        assert_eq!(s["ip_addresses"], json!(["10.30.0.50"]));
        assert_eq!((s["firewall_group"].as_str(), s["role"].as_str()), (Some("web"), Some("web")));
        assert_eq!(s["disks"].as_array().unwrap().len(), 2);
        // What Proxmox holds matches the request.
        let (node, vmid) =
            (s["node"].as_str().unwrap().to_owned(), u32::try_from(s["vmid"].as_u64().unwrap()).unwrap());
        let client = srv.services.cluster.client().unwrap();
        let config = client.vm_config(&node, vmid).await.unwrap();
        assert_eq!(
            (config.get("cores"), config.get("memory"), config.get("name")),
            (Some("2"), Some("4096"), Some("web-1"))
        );
        assert_eq!(config.get("ipconfig0"), Some("ip=10.30.0.50/24,gw=10.30.0.1"));
        assert!(config.get("scsi0").unwrap().contains("size=40G"), "{:?}", config.get("scsi0"));
        assert!(config.get("scsi1").unwrap().starts_with("shared-nfs:"), "{:?}", config.get("scsi1"));
        assert_eq!(config.get("ciuser"), Some("ubuntu"));
        // Its security group is on the VM, with the VM firewall and the NIC flag on.
        let rules = client.vm_firewall_rules(&node, vmid).await.unwrap();
        let groups: Vec<(&str, &str)> = rules.iter().map(|r| (r.kind.as_str(), r.action.as_str())).collect();
        assert_eq!(groups, [("group", "web")]);
        assert!(client.vm_firewall_options(&node, vmid).await.unwrap().enable);
        assert!(config.get("net0").unwrap().contains("firewall=1"), "{:?}", config.get("net0"));
        let (_, pools) = json_of(admin.get(&srv.at("/api/ip-pools/lab")).send().await.unwrap()).await;
        assert_eq!(pools["data"]["used"], 1, "the static address inside the pool is counted as used");

        // Stop, start, reboot: each a job checked against Proxmox.
        for (action, expect) in [("stop", "stopped"), ("start", "running"), ("reboot", "running")] {
            let (status, q) = post(&admin, &srv, &format!("/api/servers/web-1/{action}"), json!({})).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{q}");
            let job = finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
            assert_eq!(job["status"], "succeeded", "{action}: {job}");
            assert_eq!(server(&srv, &admin, "web-1").await["status"], expect);
            assert_eq!(
                client.vm_status(&node, vmid).await.unwrap().status,
                if expect == "stopped" { "stopped" } else { "running" }
            );
        }

        // Delete: the VM and its disks go, the address is free again, the record is gone.
        let (status, q) = post(&admin, &srv, "/api/servers/web-1/delete", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");
        assert!(!vm_names(&srv).await.contains("web-1"));
        let (status, _) = json_of(admin.get(&srv.at("/api/server_status/web-1")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, pools) = json_of(admin.get(&srv.at("/api/ip-pools/lab")).send().await.unwrap()).await;
        assert_eq!(pools["data"]["used"], 0, "delete releases the address");
    }
}

#[tokio::test]
async fn bulk_create_of_twenty_with_pool_addresses_and_one_failure() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "default", "10.40.0.0/24", "10.40.0.1-10.40.0.9").await;
        let mut list: Vec<Value> = (1..=20)
            .map(|n| json!({"name": format!("app-{n}"), "template_vm_id": 9001, "cpu": 1, "memory": 1024, "disks": [{"size": 20, "interface": "scsi0"}], "network_devices": [{"ip_pool": "default"}]}))
            .collect();
        // Valid on paper, but its second disk does not fit on the storage: Proxmox refuses it
        // after the clone, so this server must be rolled back while the others carry on.
        list[6]["disks"] = json!([{"size": 20, "interface": "scsi0"}, {"size": 60000, "interface": "scsi1", "datastore_id": "local-lvm"}]);
        let (status, q) = post(&admin, &srv, "/api/create_servers_bulk", json!({"servers": list})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        let job = finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "partially_failed", "{} {job}", srv.backend());
        let items = job["items"].as_array().unwrap();
        let failed: Vec<&Value> = items.iter().filter(|i| i["status"] == "failed").collect();
        assert_eq!(failed.len(), 1, "{items:?}");
        assert_eq!(failed[0]["name"], "app-7");
        assert!(failed[0]["error"].as_str().unwrap().contains("not enough space"), "{}", failed[0]["error"]);
        assert!(
            job["log"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["line"].as_str().unwrap().contains("app-7: rolled back: VM")),
            "the log shows the rollback"
        );

        let (_, list) = json_of(admin.get(&srv.at("/api/servers?per_page=100")).send().await.unwrap()).await;
        assert_eq!(list["pagination"]["total"], 19);
        let ips: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ip_addresses"][0].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ips.iter().collect::<HashSet<_>>().len(), 19, "no address twice: {ips:?}");
        assert!(
            ips.iter()
                .all(|ip| ip.starts_with("10.40.0.") && ip.rsplit('.').next().unwrap().parse::<u8>().unwrap() >= 10),
            "{ips:?}"
        );
        let vms = vm_names(&srv).await;
        assert!(!vms.contains("app-7"), "the failed server's VM was destroyed");
        assert_eq!((1..=20).filter(|n| vms.contains(&format!("app-{n}"))).count(), 19);
        let (_, p) = json_of(admin.get(&srv.at("/api/ip-pools/default")).send().await.unwrap()).await;
        assert_eq!(p["data"]["used"], 19, "the failed server's address was released");
        assert!(list["data"].as_array().unwrap().iter().all(|s| s["status"] == "running"));

        // Retry of the failed item is a new job linked to this one (it fails again the same way).
        let (status, retry) = post(&admin, &srv, &format!("/api/jobs/{}/retry", job["id"]), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{retry}");
        let again = finished(&srv, &admin, &retry["data"]["id"].to_string()).await;
        assert_eq!((again["status"].as_str(), again["items"].as_array().unwrap().len()), (Some("failed"), 1));
    }
}

#[tokio::test]
async fn concurrent_bulk_creates_never_share_an_address() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "default", "10.50.0.0/24", "").await;
        let spec = json!({"template_vm_id": 9000, "cpu": 1, "memory": 512, "disks": [{"size": 20, "interface": "scsi0"}], "network_devices": [{"ip_pool": "default"}], "clone": "linked"});
        let (a, b) = tokio::join!(
            post(&admin, &srv, "/api/create_servers_bulk", json!({"name_pattern": "a-{n}", "count": 6, "spec": spec})),
            post(&admin, &srv, "/api/create_servers_bulk", json!({"name_pattern": "b-{n}", "count": 6, "spec": spec})),
        );
        for (status, q) in [&a, &b] {
            assert_eq!(*status, StatusCode::ACCEPTED, "{q}");
            assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");
        }
        let (_, list) = json_of(admin.get(&srv.at("/api/servers?per_page=100")).send().await.unwrap()).await;
        let ips: Vec<String> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ip_addresses"][0].as_str().unwrap().to_owned())
            .collect();
        assert_eq!((ips.len(), ips.iter().collect::<HashSet<_>>().len()), (12, 12), "{} {ips:?}", srv.backend());
        assert!(!ips.contains(&"10.50.0.1".to_owned()), "the gateway is never handed out");
    }
}

#[tokio::test]
async fn validation_names_the_server_and_field_and_changes_nothing() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "tiny", "10.60.0.0/29", "10.60.0.2-10.60.0.5").await; // one free address: .6
        let (_, q) = post(&admin, &srv, "/api/servers", old_tool_spec("taken", "10.30.0.77")).await;
        finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
        let base = |name: &str| old_tool_spec(name, "10.30.0.60");
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                json!({"servers": [base("x-1"), {"template_vm_id": 12345, "name": "x-2", "cpu": 1, "memory": 512, "disks": [{"size": 20}]}]}),
                "servers[1] (x-2).template",
                "no template 12345",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "cpu": 1, "memory": 512, "disks": [{"size": 20, "datastore_id": "nowhere"}]}]}),
                "servers[0] (x-1).disks[0].datastore_id",
                "no datastore",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "cpu": 1, "memory": 512, "disks": [{"size": 20, "datastore_id": "local"}]}]}),
                "servers[0] (x-1).disks[0].datastore_id",
                "no datastore \"local\"",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "cpu": 1, "memory": 512, "disks": [{"size": 5}]}]}),
                "servers[0] (x-1).disks[0].size",
                "cannot shrink",
            ),
            (json!({"servers": [base("x-1"), base("x-1")]}), "servers[1] (x-1).name", "appears twice"),
            (json!({"servers": [base("taken")]}), "servers[0] (taken).name", "already exists"),
            (
                json!({"servers": [old_tool_spec("x-1", "10.30.0.77")]}),
                "servers[0] (x-1).network_devices[0].ip_address",
                "already in use by taken",
            ),
            (
                json!({"servers": [base("x-1"), old_tool_spec("x-2", "10.30.0.60")]}),
                "servers[1] (x-2).network_devices[0].ip_address",
                "also given to x-1",
            ),
            (
                json!({"name_pattern": "p-{n}", "count": 2, "spec": {"template_vm_id": 9000, "disks": [{"size": 20}], "network_devices": [{"ip_pool": "tiny"}]}}),
                "servers[0] (p-1).network_devices[0].ip_pool",
                "1 free address",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "disks": [{"size": 20}], "network_devices": [{"ip_pool": "nope"}]}]}),
                "servers[0] (x-1).network_devices[0].ip_pool",
                "no IP pool",
            ),
            (
                json!({"servers": [{"name": "Bad_Name", "template_vm_id": 9000, "disks": [{"size": 20}]}]}),
                "servers[0] (Bad_Name).name",
                "not a valid server name",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "memory": 64, "disks": [{"size": 20}]}]}),
                "servers[0] (x-1).memory",
                "256",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "disks": []}]}),
                "servers[0] (x-1).disks",
                "at least one disk",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "disks": [{"size": 20, "interface": "nvme0"}]}]}),
                "servers[0] (x-1).disks[0].interface",
                "not a disk device",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "disks": [{"size": 20}], "network_devices": [{"ip_address": "10.1.1.5", "bridge": "vmbr0", "subnet": 24, "gateway": "10.2.2.1"}]}]}),
                "servers[0] (x-1).network_devices[0].gateway",
                "not in 10.1.1.5/24",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "disks": [{"size": 20}], "clone": "thin"}]}),
                "servers[0] (x-1).clone",
                "full or linked",
            ),
            (
                json!({"servers": [{"name": "x-1", "template_vm_id": 9000, "disks": [{"size": 20}], "ssh_keys": ["hello"]}]}),
                "servers[0] (x-1).ssh_keys[0]",
                "OpenSSH",
            ),
            (json!({"name_pattern": "web", "count": 2, "spec": {}}), "name_pattern", "{n}"),
            (json!({"servers": []}), "servers", "empty"),
        ];
        let jobs_before = srv.services.jobs.store().counts(0).await.unwrap();
        for (body, field, text) in cases {
            let (status, err) = post(&admin, &srv, "/api/create_servers_bulk", body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body} → {err}");
            assert_eq!(err["details"]["field"], field, "{body} → {err}");
            assert!(err["error"].as_str().unwrap().contains(text), "{body} → {err}");
        }
        // All problems at once.
        let (_, err) = post(&admin, &srv, "/api/create_servers_bulk", json!({"servers": [{"name": "-a", "template_vm_id": 9000, "disks": [{"size": 20}]}, {"name": "b", "cpu": 0, "template_vm_id": 9000, "disks": [{"size": 20}]}]})).await;
        assert_eq!(err["details"]["errors"].as_array().unwrap().len(), 2, "{err}");
        let (status, err) = post(&admin, &srv, "/api/servers", json!({"name": "x", "cpus": 2})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused: {err}");
        assert_eq!(srv.services.jobs.store().counts(0).await.unwrap(), jobs_before, "no job was started");
        let (_, list) = json_of(admin.get(&srv.at("/api/servers")).send().await.unwrap()).await;
        assert_eq!(list["pagination"]["total"], 1, "only the server made before");

        // Permissions: a viewer cannot create; an operator cannot delete.
        let viewer = srv.login_as("viewer").await;
        let (status, _) = post(&viewer, &srv, "/api/servers", base("v-1")).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let operator = srv.login_as("operator").await;
        let (status, _) =
            post(&operator, &srv, "/api/servers/bulk_action", json!({"server_names": ["taken"], "action": "delete"}))
                .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, err) =
            post(&admin, &srv, "/api/servers/bulk_action", json!({"server_names": ["taken"], "action": "explode"}))
                .await;
        assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("action")));
        assert_eq!(err["error"], "action \"explode\": start, stop, reboot or delete");
        let (status, _) =
            post(&admin, &srv, "/api/servers/bulk_action", json!({"server_names": ["ghost"], "action": "start"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn ip_pools_crud_and_their_rules() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "web", "10.70.0.0/24", "10.70.0.1-10.70.0.20").await;
        let (_, p) = json_of(admin.get(&srv.at("/api/ip-pools/web")).send().await.unwrap()).await;
        assert_eq!(
            (p["data"]["size"].as_i64(), p["data"]["used"].as_i64()),
            (Some(234), Some(0)),
            "254 hosts minus .1–.20"
        );
        for (body, field) in [
            (json!({"name": "a", "cidr": "10.0.0.1/24", "bridge": "vmbr0"}), "cidr"),
            (json!({"name": "a", "cidr": "10.0.0.0/24", "bridge": "vmbr0", "gateway": "10.9.9.1"}), "gateway"),
            (json!({"name": "a", "cidr": "10.0.0.0/24", "bridge": "vmbr0", "vlan": 5000}), "vlan"),
            (
                json!({"name": "a", "cidr": "10.0.0.0/24", "bridge": "vmbr0", "reserved": "10.0.0.9-10.0.0.1"}),
                "reserved",
            ),
            (json!({"name": "a b", "cidr": "10.0.0.0/24", "bridge": "vmbr0"}), "name"),
        ] {
            let (status, err) = post(&admin, &srv, "/api/ip-pools", body.clone()).await;
            assert_eq!(
                (status, err["details"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(field)),
                "{body} → {err}"
            );
        }
        let (status, _) =
            post(&admin, &srv, "/api/ip-pools", json!({"name": "web", "cidr": "10.71.0.0/24", "bridge": "vmbr0"}))
                .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let operator = srv.login_as("operator").await;
        let (status, _) =
            post(&operator, &srv, "/api/ip-pools", json!({"name": "mine", "cidr": "10.72.0.0/24", "bridge": "vmbr0"}))
                .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "manage_network is needed");
        let (status, _) = json_of(operator.get(&srv.at("/api/ip-pools")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "everyone may read pools");

        // In use: cannot be deleted, cannot shrink away from the address.
        let (_, q) = post(&admin, &srv, "/api/servers", json!({"name": "w-1", "template_vm_id": 9000, "disks": [{"size": 20}], "network_devices": [{"ip_pool": "web"}], "clone": "linked"})).await;
        assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");
        assert_eq!(
            server(&srv, &admin, "w-1").await["ip_addresses"],
            json!(["10.70.0.21"]),
            "the first free address after the reserved range"
        );
        let (status, _) =
            json_of(admin.request(reqwest::Method::DELETE, &srv.at("/api/ip-pools/web")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = json_of(
            admin
                .request(reqwest::Method::PUT, &srv.at("/api/ip-pools/web"))
                .json(&json!({"name": "web", "cidr": "10.99.0.0/24", "bridge": "vmbr0"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, p) = json_of(
            admin
                .request(reqwest::Method::PUT, &srv.at("/api/ip-pools/web"))
                .json(&json!({"name": "web", "cidr": "10.70.0.0/24", "bridge": "vmbr1", "vlan": 70}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!((status, p["data"]["vlan"].as_i64()), (StatusCode::OK, Some(70)), "{p}");
        let (_, q) = post(&admin, &srv, "/api/servers/w-1/delete", json!({})).await;
        finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
        let (status, _) =
            json_of(admin.request(reqwest::Method::DELETE, &srv.at("/api/ip-pools/web")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn sync_reports_imports_and_marks_missing_servers() {
    for srv in servers_on_each_backend(4).await {
        let admin = srv.login_as("admin").await;
        let (status, report) = post(&admin, &srv, "/api/sync_servers", json!({})).await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["data"]["unmanaged"].as_array().unwrap().len(), 4);
        let first = report["data"]["unmanaged"][0]["name"].as_str().unwrap().to_owned();
        let (_, report) = post(&admin, &srv, "/api/sync_servers", json!({"names": [first]})).await;
        assert_eq!(report["data"]["imported"], json!([first]));
        let (_, report) = post(&admin, &srv, "/api/sync_servers", json!({"import_all": true})).await;
        assert_eq!(report["data"]["imported"].as_array().unwrap().len(), 3);
        let (_, all) = json_of(admin.get(&srv.at("/api/all_server_status")).send().await.unwrap()).await;
        assert_eq!(all["stats"]["total_servers"], 4, "{all}");
        assert!(all["stats"]["node_total_cpu"].as_u64().unwrap() > 0);
        assert_eq!(all["servers"].as_object().unwrap().len(), 4);
        let imported = server(&srv, &admin, &first).await;
        assert!(!imported["ip_addresses"].as_array().unwrap().is_empty(), "addresses read from cloud-init: {imported}");

        // A VM removed behind proxfleet's back is marked missing, not silently dropped.
        let (node, vmid) =
            (imported["node"].as_str().unwrap().to_owned(), u32::try_from(imported["vmid"].as_u64().unwrap()).unwrap());
        let client = srv.services.cluster.client().unwrap();
        if client.vm_status(&node, vmid).await.unwrap().status == "running" {
            let upid = client.vm_power(&node, vmid, pve::Power::Stop).await.unwrap();
            client.wait_task(&upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        }
        let upid = client.vm_destroy(&node, vmid).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        // Any job syncs the inventory when its servers are done: an action on another server
        // marks this one missing without waiting for the background pass (30 s away).
        let other = report["data"]["imported"][0].as_str().unwrap().to_owned();
        assert_ne!(other, first);
        let (status, queued) = post(&admin, &srv, &format!("/api/servers/{other}/start"), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
        finished(&srv, &admin, queued["task_id"].as_str().unwrap()).await;
        assert_eq!(server(&srv, &admin, &first).await["status"], "missing", "synced after the job");
        let (_, report) = post(&admin, &srv, "/api/sync_servers", json!({})).await;
        assert_eq!(report["data"]["missing"], json!([first]));
        assert_eq!(server(&srv, &admin, &first).await["status"], "missing");

        // Filters and sort of the list.
        let (_, by_status) = json_of(admin.get(&srv.at("/api/servers?status=missing")).send().await.unwrap()).await;
        assert_eq!(by_status["pagination"]["total"], 1);
        let (_, sorted) = json_of(admin.get(&srv.at("/api/servers?sort=name&order=desc")).send().await.unwrap()).await;
        let names: Vec<&str> = sorted["data"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
        let mut expected = names.clone();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(names, expected);
        let (status, _) = json_of(admin.get(&srv.at("/api/servers?sort=shoe")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, brief) =
            json_of(admin.get(&srv.at(&format!("/api/servers/brief?names={first}"))).send().await.unwrap()).await;
        assert_eq!(brief["servers"].as_object().unwrap().keys().collect::<Vec<_>>(), vec![&first]);
    }
}

#[tokio::test]
async fn settings_disks_logs_and_datastores() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "default", "10.80.0.0/24", "").await;
        let (_, q) = post(
            &admin,
            &srv,
            "/api/servers",
            json!({"name": "db-1", "template_vm_id": 9001, "cpu": 2, "memory": 2048, "disks": [{"size": 20}]}),
        )
        .await;
        assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");

        let (status, cfg) = json_of(admin.get(&srv.at("/api/server/config/db-1")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{cfg}");
        assert_eq!(
            (cfg["data"]["cores"].as_u64(), cfg["data"]["memory_mb"].as_u64(), cfg["data"]["running"].as_bool()),
            (Some(2), Some(2048), Some(true))
        );
        assert_eq!(cfg["data"]["next_free"]["scsi"], 1);

        // A running VM gets CPU/memory at its next reboot; the answer says so.
        let put =
            |body: Value| admin.request(reqwest::Method::PUT, &srv.at("/api/server/config/db-1")).json(&body).send();
        let (status, changed) = json_of(
            put(json!({"cores": 4, "memory": 4096, "description": "primary", "tags": ["db", "Prod"]})).await.unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["data"]["needs_reboot"], true);
        assert!(changed["message"].as_str().unwrap().contains("reboot"), "{changed}");
        let s = server(&srv, &admin, "db-1").await;
        assert_eq!(
            (s["cores"].as_u64(), s["memory"].as_u64(), s["tags"].clone()),
            (Some(4), Some(4096), json!(["db", "prod"]))
        );
        for (body, field) in [
            (json!({"cores": 0}), "cores"),
            (json!({"memory": 4096, "balloon": 9000}), "balloon"),
            (json!({"tags": ["a b"]}), "tags"),
        ] {
            let (status, err) = json_of(put(body.clone()).await.unwrap()).await;
            assert_eq!(
                (status, err["details"]["field"].as_str()),
                (StatusCode::BAD_REQUEST, Some(field)),
                "{body} → {err}"
            );
        }
        let (status, err) = json_of(put(json!({"cpus": 4})).await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");

        // Disks: add at the suggested slot, refuse a taken slot and the boot disk, remove.
        let (status, added) =
            post(&admin, &srv, "/api/server/disk/db-1", json!({"size_gb": 50, "storage": "shared-nfs"})).await;
        assert_eq!(status, StatusCode::CREATED, "{added}");
        let devices: Vec<&str> =
            added["data"]["disks"].as_array().unwrap().iter().map(|d| d["device"].as_str().unwrap()).collect();
        assert_eq!(devices, ["scsi0", "scsi1"]);
        let (status, _) =
            post(&admin, &srv, "/api/server/disk/db-1", json!({"size_gb": 5, "bus": "scsi", "index": 1})).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, err) =
            post(&admin, &srv, "/api/server/disk/db-1", json!({"size_gb": 5, "storage": "local"})).await;
        assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("storage")), "{err}");
        let del =
            |dev: &str| admin.request(reqwest::Method::DELETE, &srv.at(&format!("/api/server/disk/db-1/{dev}"))).send();
        assert_eq!(del("scsi0").await.unwrap().status(), StatusCode::CONFLICT, "the boot disk stays");
        let (status, after) = json_of(del("scsi1").await.unwrap()).await;
        assert_eq!((status, after["data"]["disks"].as_array().unwrap().len()), (StatusCode::OK, 1), "{after}");
        let (node, vmid) =
            (s["node"].as_str().unwrap().to_owned(), u32::try_from(s["vmid"].as_u64().unwrap()).unwrap());
        let config = srv.services.cluster.client().unwrap().vm_config(&node, vmid).await.unwrap();
        assert!(
            config.get("scsi1").is_none() && config.get("unused0").is_none(),
            "destroyed, not left unused: {:?}",
            config.values
        );
        let operator = srv.login_as("viewer").await;
        let (status, _) = post(&operator, &srv, "/api/server/disk/db-1", json!({"size_gb": 5})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // The server's history: its Proxmox tasks (newest first) and what its create job logged,
        // in the old tool's fields too.
        let (status, logs) = json_of(admin.get(&srv.at("/api/server/logs/db-1")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{logs}");
        let data = &logs["data"];
        assert_eq!(
            (data["server_name"].as_str(), data["log_type"].as_str(), data["tasks_error"].clone()),
            (Some("db-1"), Some("all"), Value::Null),
            "{data}"
        );
        let lines: Vec<&str> = data["jobs"].as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap()).collect();
        assert!(lines.iter().any(|l| l.contains("cloning template 9001")), "{lines:?}");
        let tasks = data["tasks"].as_array().unwrap();
        let kinds: Vec<&str> = tasks.iter().map(|t| t["kind"].as_str().unwrap()).collect();
        assert!(
            kinds.contains(&"qmstart") && !kinds.contains(&"qmclone"),
            "the VM's own tasks only (the clone is the template's): {kinds:?}"
        );
        let starts: Vec<u64> = tasks.iter().map(|t| t["starttime"].as_u64().unwrap()).collect();
        assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first: {starts:?}");
        assert_eq!(data["lines"].as_u64(), Some((tasks.len() + lines.len()) as u64));
        assert!(
            data["content"].as_str().unwrap().contains("qmstart")
                && data["content"].as_str().unwrap().contains("cloning template 9001")
        );
        let start = tasks.iter().find(|t| t["kind"] == "qmstart").unwrap();
        assert_eq!((start["status"].as_str(), start["ok"].as_bool()), (Some("OK"), Some(true)), "{start}");
        // One task's own log, by its UPID; only the server's own tasks can be read through it.
        let task_log = |upid: &str| admin.get(&srv.at("/api/server/logs/db-1/task")).query(&[("upid", upid)]).send();
        let (status, log) = json_of(task_log(start["upid"].as_str().unwrap()).await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{log}");
        assert_eq!(log["data"]["lines"].as_array().unwrap().last().and_then(Value::as_str), Some("TASK OK"), "{log}");
        let text = admin
            .get(&srv.at("/api/server/logs/db-1/task"))
            .query(&[("upid", start["upid"].as_str().unwrap()), ("format", "text")])
            .send()
            .await
            .unwrap();
        assert!(text.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
        assert!(text.text().await.unwrap().trim_end().ends_with("TASK OK"));
        let clone = pve::Upid::new(&node, 1, 1, 1, "qmclone", "9001", "root@pam");
        assert_eq!(task_log(clone.as_str()).await.unwrap().status(), StatusCode::NOT_FOUND, "another guest's task");
        let (status, err) = json_of(task_log("not-a-upid").await.unwrap()).await;
        assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("upid")), "{err}");
        // Only one part when asked; an unknown type is refused.
        let (_, jobs_only) = json_of(admin.get(&srv.at("/api/server/logs/db-1?type=jobs")).send().await.unwrap()).await;
        assert_eq!(
            (jobs_only["data"]["tasks"].as_array().map(Vec::len), jobs_only["data"]["jobs"].as_array().map(Vec::len)),
            (Some(0), Some(lines.len()))
        );
        let (status, err) =
            json_of(admin.get(&srv.at("/api/server/logs/db-1?type=monitor")).send().await.unwrap()).await;
        assert_eq!((status, err["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("type")), "{err}");
        assert_eq!(admin.get(&srv.at("/api/server/logs/nope")).send().await.unwrap().status(), StatusCode::NOT_FOUND);

        // Datastores and defaults.
        let (_, ds) = json_of(admin.get(&srv.at("/api/datastores")).send().await.unwrap()).await;
        assert_eq!(ds["default_hdd"], "local-lvm");
        assert!(ds["datastores"].as_array().unwrap().iter().any(|d| d["id"] == "shared-nfs" && d["shared"] == true));
        let (status, _) = post(
            &admin,
            &srv,
            "/api/datastores/default",
            json!({"hdd_datastore_id": "local", "ssd_datastore_id": "local-lvm"}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "local holds no VM disks");
        let (status, _) = post(
            &admin,
            &srv,
            "/api/datastores/default",
            json!({"hdd_datastore_id": "nope", "ssd_datastore_id": "local-lvm"}),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, ds) = post(
            &admin,
            &srv,
            "/api/datastores/default",
            json!({"hdd_datastore_id": "shared-nfs", "ssd_datastore_id": "local-lvm"}),
        )
        .await;
        assert_eq!((status, ds["default_hdd"].as_str()), (StatusCode::OK, Some("shared-nfs")), "{ds}");
        let (status, _) = post(
            &operator,
            &srv,
            "/api/datastores/default",
            json!({"hdd_datastore_id": "local-lvm", "ssd_datastore_id": "local-lvm"}),
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (_, storage) = json_of(admin.get(&srv.at("/api/proxmox_storage")).send().await.unwrap()).await;
        assert!(storage["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["storage"] == "local" && s["content"].as_str().unwrap().contains("backup")));
        // New disks now land on the new default.
        let (_, added) = post(&admin, &srv, "/api/server/disk/db-1", json!({"size_gb": 8})).await;
        assert_eq!(added["data"]["disks"][1]["storage"], "shared-nfs", "{added}");
    }
}

#[tokio::test]
async fn cleanup_finds_and_removes_records_whose_vm_is_gone() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "default", "10.90.0.0/24", "").await;
        for name in ["c-1", "c-2"] {
            let (_, q) = post(
                &admin,
                &srv,
                "/api/servers",
                json!({"name": name, "template_vm_id": 9000, "disks": [{"size": 20}], "clone": "linked"}),
            )
            .await;
            assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");
        }
        let (status, _) = post(&admin, &srv, "/api/cleanup/clean/c-1", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "a healthy server needs no cleanup");

        // c-1's VM is destroyed behind proxfleet's back.
        let s = server(&srv, &admin, "c-1").await;
        let (node, vmid) =
            (s["node"].as_str().unwrap().to_owned(), u32::try_from(s["vmid"].as_u64().unwrap()).unwrap());
        let client = srv.services.cluster.client().unwrap();
        let upid = client.vm_power(&node, vmid, pve::Power::Stop).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        let upid = client.vm_destroy(&node, vmid).await.unwrap();
        client.wait_task(&upid, Duration::from_secs(10), pve::Polling::default()).await.unwrap();
        post(&admin, &srv, "/api/sync_servers", json!({})).await;

        let (_, failed) = json_of(admin.get(&srv.at("/api/cleanup/failed-servers")).send().await.unwrap()).await;
        let names: Vec<&str> = failed["data"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["c-1"]);
        let (_, st) = json_of(admin.get(&srv.at("/api/cleanup/status/c-1")).send().await.unwrap()).await;
        assert_eq!(
            (st["data"]["vm_exists"].as_bool(), st["data"]["addresses"].as_array().unwrap().len()),
            (Some(false), 1),
            "{st}"
        );
        let (status, q) = post(&admin, &srv, "/api/cleanup/bulk-clean", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");
        let (status, _) = json_of(admin.get(&srv.at("/api/server_status/c-1")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, p) = json_of(admin.get(&srv.at("/api/ip-pools/default")).send().await.unwrap()).await;
        assert_eq!(p["data"]["used"], 1, "c-1's address was released; c-2 keeps its own");
        assert_eq!(server(&srv, &admin, "c-2").await["status"], "running");
        let (status, _) = post(&admin, &srv, "/api/cleanup/bulk-clean", json!({})).await;
        assert_eq!(status, StatusCode::CONFLICT, "nothing left to clean");
    }
}

#[tokio::test]
async fn a_server_function_refuses_bad_input_with_a_4xx_not_a_server_error() {
    let srv = common::spawn_with_cluster().await;
    let admin = srv.login_as("admin").await;
    let body = json!({"request": {"servers": [{"name": "Bad_Name", "template_vm_id": 9000, "disks": [{"size": 20}]}]}});
    let resp = admin.post(&srv.at("/sfn/create_servers")).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // The page gets the field, not only a message: the wizard marks that input.
    let error: Value = resp.json().await.unwrap();
    assert_eq!(error["field"], "servers[0] (Bad_Name).name", "{error}");
    assert!(error["message"].as_str().unwrap().contains("servers[0] (Bad_Name).name"), "{error}");
    assert_eq!(error["status"], 400);

    // Arguments that do not decode never reach the function: still a 400, not a server error.
    let resp =
        admin.post(&srv.at("/sfn/create_servers")).json(&json!({"request": {"servers": 7}})).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = admin
        .post(&srv.at("/sfn/act_on_servers"))
        .form(&[("names[0]", "x"), ("action", "explode")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let (_, list) = json_of(admin.get(&srv.at("/api/servers")).send().await.unwrap()).await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "nothing was created: {list}");
}

/// The audit entries for `action` (exact, or a prefix ending in `.`), oldest first.
async fn audit(srv: &TestServer, admin: &Login, action: &str) -> Vec<Value> {
    let (status, log) =
        json_of(admin.get(&srv.at(&format!("/api/audit?action={action}&per_page=100"))).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let mut entries = log["data"].as_array().unwrap().clone();
    entries.reverse();
    entries
}

#[tokio::test]
async fn server_and_pool_changes_are_audited_with_who_what_and_the_job() {
    for srv in servers_on_each_backend(0).await {
        let admin = srv.login_as("admin").await;
        pool(&srv, &admin, "lab", "10.50.0.0/24", "").await;
        let spec = |name: &str| json!({"name": name, "template_vm_id": 9001, "disks": [{"size": 20}], "network_devices": [{"ip_pool": "lab"}]});
        let (status, q) =
            post(&admin, &srv, "/api/create_servers_bulk", json!({"servers": [spec("aud-1"), spec("aud-2")]})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        let create_job = q["task_id"].as_str().unwrap().to_owned();
        assert_eq!(finished(&srv, &admin, &create_job).await["status"], "succeeded");

        let (status, q) = post(
            &admin,
            &srv,
            "/api/servers/bulk_action",
            json!({"server_names": ["aud-1", "aud-2"], "action": "delete"}),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        let delete_job = q["task_id"].as_str().unwrap().to_owned();
        assert_eq!(finished(&srv, &admin, &delete_job).await["status"], "succeeded");

        // Two deletes, one entry per server, with who, the outcome and the job.
        let deletes = audit(&srv, &admin, "server.delete").await;
        let mut targets: Vec<&str> = deletes.iter().map(|e| e["target"].as_str().unwrap()).collect();
        targets.sort_unstable();
        assert_eq!(targets, ["aud-1", "aud-2"], "{} {deletes:?}", srv.backend());
        for e in &deletes {
            assert_eq!(e["actor"], admin.username);
            assert_eq!(e["success"], true);
            assert_eq!(e["detail"], format!("job {delete_job}"), "{e}");
        }
        // The prefix filter finds every server change: the two creates and the two deletes.
        let all = audit(&srv, &admin, "server.").await;
        let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.iter().filter(|a| **a == "server.create").count(), 2, "{actions:?}");
        assert_eq!(actions.iter().filter(|a| **a == "server.delete").count(), 2, "{actions:?}");
        assert!(actions.iter().all(|a| a.starts_with("server.")), "{actions:?}");

        // Pools: a change that works and one that is refused, both with their outcome.
        let (status, _) =
            json_of(admin.request(reqwest::Method::DELETE, &srv.at("/api/ip-pools/lab")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) =
            post(&admin, &srv, "/api/ip-pools", json!({"name": "bad", "cidr": "10.0.0.0/7", "bridge": "vmbr0"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let pools = audit(&srv, &admin, "ip_pool.").await;
        let summary: Vec<(String, String, bool)> = pools
            .iter()
            .map(|e| (e["action"].as_str().unwrap().into(), e["target"].as_str().unwrap().into(), e["success"] == true))
            .collect();
        assert_eq!(
            summary,
            [
                ("ip_pool.create".into(), "lab".into(), true),
                ("ip_pool.delete".into(), "lab".into(), true),
                ("ip_pool.create".into(), "bad".into(), false)
            ],
            "{pools:?}"
        );
        assert!(pools[2]["detail"].as_str().unwrap().contains("/8"), "a refusal says why: {}", pools[2]);
    }
}
