//! Security groups through REST against the simulated cluster, on SQLite and PostgreSQL: the
//! old tool's paths and fields, rules added where asked and enabled, bad input refused before
//! Proxmox is asked, stale digests refused with the current list, groups attached to servers
//! as a job (re-applying writes nothing, removing undoes only what proxfleet did), deleting a
//! group in use refused, permissions, audit.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{spawn_with_cluster_on, Login, TestServer};
use domain::Backend;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn json_of(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn each_backend(vms: usize) -> Vec<TestServer> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        out.extend(
            spawn_with_cluster_on(backend, pvesim::Layout { nodes: 2, seed: 5, vms, shared_storage: true }).await,
        );
    }
    out
}

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
    json_of(req.send().await.unwrap()).await
}

async fn post(who: &Login, srv: &TestServer, path: &str, body: Value) -> (StatusCode, Value) {
    send(who, srv, reqwest::Method::POST, path, Some(body)).await
}

async fn get(who: &Login, srv: &TestServer, path: &str) -> Value {
    let (status, body) = send(who, srv, reqwest::Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// Writes the simulator received so far.
fn writes(srv: &TestServer) -> u64 {
    srv.simulator.as_ref().unwrap().sim.faults.writes.load(std::sync::atomic::Ordering::Relaxed)
}

/// Waits for a job through the REST job endpoint; returns it.
async fn finished(srv: &TestServer, who: &Login, task_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = get(who, srv, &format!("/api/jobs/{task_id}")).await["data"].clone();
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {task_id} never finished: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn dports(group: &Value) -> Vec<String> {
    group["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["dport"].as_str().or(r["macro"].as_str()).unwrap_or("-").to_owned())
        .collect()
}

#[tokio::test]
async fn groups_and_rules_through_the_old_tools_paths_and_ours() {
    for srv in each_backend(0).await {
        let admin = srv.login_as("admin").await;
        // Create with the old body; the name is kept in lower case, as Proxmox re-reads it.
        let (status, made) =
            post(&admin, &srv, "/api/firewall/groups", json!({"name": "App-Tier", "description": "apps"})).await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert_eq!(made["group"], json!({"name": "app-tier", "description": "apps", "instance_count": 0}));
        assert!(made["note"].is_string());
        let (status, dup) = post(&admin, &srv, "/api/firewall/groups", json!({"name": "app-tier"})).await;
        assert_eq!(status, StatusCode::CONFLICT, "{dup}");
        let (status, bad) = post(&admin, &srv, "/api/firewall/groups", json!({"name": "a-name-longer-than-18"})).await;
        assert_eq!((status, bad["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("name")), "{bad}");

        // Rules in the old tool's fields: created enabled, each at the top unless placed.
        let g = "/api/firewall/groups/app-tier";
        let (status, r) = post(
            &admin,
            &srv,
            &format!("{g}/rules"),
            json!({"action": "ACCEPT", "macro": "ssh", "source_ip": "10.0.0.0/8", "description": "admins"}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        let (status, r) =
            post(&admin, &srv, &format!("{g}/rules"), json!({"action": "ACCEPT", "protocol": "tcp", "port": 80})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        let digest = r["data"]["digest"].as_str().unwrap().to_owned();
        let (status, r) = post(
            &admin,
            &srv,
            &format!("{g}/rules"),
            json!({"action": "DROP", "dport": "8000:8100", "position": 2, "digest": digest}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        let detail = get(&admin, &srv, g).await;
        let group = &detail["group"];
        assert_eq!(dports(group), ["80", "SSH", "8000:8100"]);
        assert_eq!(group["group_info"], json!({"comment": "apps", "rules_count": 3}));
        let rules = group["rules"].as_array().unwrap();
        assert!(rules.iter().all(|r| r["enable"] == true), "{rules:?}");
        assert_eq!((rules[1]["source"].as_str(), rules[1]["comment"].as_str()), (Some("10.0.0.0/8"), Some("admins")));
        assert_eq!(rules[0]["proto"], "tcp");
        assert_eq!(rules[2]["action"], "DROP");
        let client = srv.services.cluster.client().unwrap();
        let on_pve: Vec<Option<String>> =
            client.security_group_rules("app-tier").await.unwrap().into_iter().map(|r| r.dport).collect();
        assert_eq!(on_pve, [Some("80".into()), None, Some("8000:8100".into())], "what Proxmox holds");

        // Bad input: 400 naming the field as sent, and Proxmox is not asked to write.
        let before = writes(&srv);
        for (body, field) in [
            (json!({"action": "ACCEPT", "port": "99999"}), "port"),
            (json!({"action": "ACCEPT", "dport": "80", "proto": "gre"}), "dport"),
            (json!({"action": "ALLOW"}), "action"),
            (json!({"action": "ACCEPT", "macro": "Redis"}), "macro"),
            (json!({"action": "ACCEPT", "dest_ip": "10.0.0.1,fd00::1"}), "dest_ip"),
            (json!({"action": "ACCEPT", "position": 9}), "position"),
        ] {
            let (status, e) = post(&admin, &srv, &format!("{g}/rules"), body.clone()).await;
            assert_eq!((status, e["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body} {e}");
        }
        assert_eq!(writes(&srv), before, "no write reached Proxmox");

        // A stale digest: 409 with the current list; nothing changed.
        let (status, stale) =
            send(&admin, &srv, reqwest::Method::DELETE, &format!("{g}/rules/0?digest={digest}"), None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{stale}");
        assert_eq!(stale["details"]["field"], "digest");
        let current = stale["details"]["current_digest"].as_str().unwrap().to_owned();
        assert_eq!(current, group["digest"].as_str().unwrap());
        assert_eq!(stale["details"]["rules"].as_array().unwrap().len(), 3);
        let resp = admin
            .request(reqwest::Method::PUT, &srv.at(&format!("{g}/rules/0")))
            .header("if-match", format!("\"{digest}\""))
            .json(&json!({"enable": false}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CONFLICT, "If-Match carries the digest too");
        assert_eq!(dports(&get(&admin, &srv, g).await["group"]), ["80", "SSH", "8000:8100"]);

        // Change, move and delete with the current digest.
        let (status, changed) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            &format!("{g}/rules/0"),
            Some(json!({"enable": false, "comment": "web", "digest": current})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        let r0 = &changed["data"]["rules"][0];
        assert_eq!(
            (r0["enable"].as_bool(), r0["comment"].as_str(), r0["dport"].as_str()),
            (Some(false), Some("web"), Some("80"))
        );
        let d = changed["data"]["digest"].as_str().unwrap().to_owned();
        let (status, moved) = post(&admin, &srv, &format!("{g}/rules/0/move"), json!({"to": 2, "digest": d})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(dports(&moved["data"]), ["SSH", "8000:8100", "80"]);
        let d = moved["data"]["digest"].as_str().unwrap().to_owned();
        let (status, moved) = post(&admin, &srv, &format!("{g}/rules/2/move"), json!({"to": 0, "digest": d})).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(dports(&moved["data"]), ["80", "SSH", "8000:8100"]);
        let (status, deleted) = send(&admin, &srv, reqwest::Method::DELETE, &format!("{g}/rules/1"), None).await;
        assert_eq!(status, StatusCode::OK, "{deleted}");
        assert_eq!(dports(&deleted["data"]), ["80", "8000:8100"]);

        // The whole list at once: reorder, change one, add one, drop one; errors name the rule.
        let g0 = get(&admin, &srv, g).await["group"].clone();
        assert_eq!(dports(&g0), ["80", "8000:8100"]);
        let d = g0["digest"].as_str().unwrap().to_owned();
        let before = writes(&srv);
        let (status, bad) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            &format!("{g}/rules"),
            Some(json!({"digest": d, "rules": [
                {"origin": 1, "action": "DROP", "dport": "8000:8100"}, {"action": "ACCEPT", "dport": "70000"}
            ]})),
        )
        .await;
        assert_eq!(
            (status, bad["details"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some("rules[1].dport")),
            "{bad}"
        );
        assert_eq!(writes(&srv), before);
        let (status, set) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            &format!("{g}/rules"),
            Some(json!({"digest": d, "rules": [
                {"origin": 1, "action": "DROP", "dport": "8000:8100", "comment": "range"},
                {"action": "ACCEPT", "macro": "SSH"},
            ]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(dports(&set["data"]), ["8000:8100", "SSH"]);
        assert_eq!(
            (set["data"]["rules"][0]["comment"].as_str(), set["data"]["rules"][1]["enable"].as_bool()),
            (Some("range"), Some(true))
        );
        let (status, stale) =
            send(&admin, &srv, reqwest::Method::PUT, &format!("{g}/rules"), Some(json!({"digest": d, "rules": []})))
                .await;
        assert_eq!(status, StatusCode::CONFLICT, "{stale}");
        assert_eq!(client.security_group_rules("app-tier").await.unwrap().len(), 2, "a stale list changes nothing");
        let d = set["data"]["digest"].as_str().unwrap().to_owned();
        let (status, back) = send(&admin, &srv, reqwest::Method::PUT, &format!("{g}/rules"), Some(json!({"digest": d, "rules": [
            {"action": "ACCEPT", "dport": "80", "enable": false, "comment": "web"}, {"origin": 0, "action": "DROP", "dport": "8000:8100"},
        ]}))).await;
        assert_eq!(status, StatusCode::OK, "{back}");
        assert_eq!(dports(&back["data"]), ["80", "8000:8100"]);

        // Rename and copy; the list shows both with their rules.
        let (status, renamed) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            g,
            Some(json!({"rename": "apps", "description": "application tier"})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{renamed}");
        assert_eq!(
            (renamed["data"]["name"].as_str(), renamed["data"]["description"].as_str()),
            (Some("apps"), Some("application tier"))
        );
        let (status, copied) =
            post(&admin, &srv, "/api/firewall/groups/apps/copy", json!({"name": "apps-staging"})).await;
        assert_eq!(status, StatusCode::CREATED, "{copied}");
        assert_eq!(dports(&copied["data"]), ["80", "8000:8100"]);
        assert_eq!(copied["data"]["rules"][0]["enable"], false, "a copy keeps each rule's state");
        let list = get(&admin, &srv, "/api/firewall/groups").await;
        let names: Vec<&str> = list["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["apps", "apps-staging", "db", "web"]);
        assert_eq!(list["groups"][0]["rules_count"], 2);
        assert_eq!(list["data"], list["groups"]);

        // Delete with its rules; the audit keeps them.
        let (status, gone) =
            send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/groups/apps-staging", None).await;
        assert_eq!(status, StatusCode::OK, "{gone}");
        assert!(client.security_groups().await.unwrap().iter().all(|g| g.group != "apps-staging"));
        let audit = get(&admin, &srv, "/api/audit?action=firewall.group_delete").await;
        let detail = audit["data"][0]["detail"].as_str().unwrap_or_default().to_owned();
        assert!(detail.contains("8000:8100"), "the deleted rules are in the audit: {audit}");
        let (status, _) = send(&admin, &srv, reqwest::Method::GET, "/api/firewall/groups/apps-staging", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let macros = get(&admin, &srv, "/api/firewall/macros").await;
        assert_eq!(macros["data"].as_array().unwrap().len(), 86);
    }
}

#[tokio::test]
async fn only_firewall_managers_change_groups_and_everyone_reads_them() {
    for srv in each_backend(0).await {
        let viewer = srv.login_as("viewer").await;
        let before = writes(&srv);
        let (status, _) = post(&viewer, &srv, "/api/firewall/groups", json!({"name": "nope"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) =
            post(&viewer, &srv, "/api/firewall/groups/web/rules", json!({"action": "ACCEPT", "dport": "22"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = send(&viewer, &srv, reqwest::Method::DELETE, "/api/firewall/groups/web", None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(writes(&srv), before);
        let list = get(&viewer, &srv, "/api/firewall/groups").await;
        assert_eq!(list["groups"].as_array().unwrap().len(), 2);
    }
}

/// Imports the simulator's VMs as managed servers; returns their names.
async fn import(srv: &TestServer, admin: &Login) -> Vec<String> {
    let (status, r) = post(admin, srv, "/api/sync_servers", json!({"import_all": true})).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let mut names: Vec<String> =
        r["data"]["imported"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect();
    names.sort();
    names
}

/// (node, vmid) of a managed server.
async fn vm_of(srv: &TestServer, admin: &Login, name: &str) -> (String, u32) {
    let s = get(admin, srv, &format!("/api/server_status/{name}")).await["data"].clone();
    (s["node"].as_str().unwrap().to_owned(), u32::try_from(s["vmid"].as_u64().unwrap()).unwrap())
}

#[tokio::test]
async fn attaching_groups_to_servers_enables_the_firewall_and_removing_undoes_only_that() {
    for srv in each_backend(3).await {
        let admin = srv.login_as("admin").await;
        let names = import(&srv, &admin).await;
        let (a, b) = (names[0].clone(), names[1].clone());
        let client = srv.services.cluster.client().unwrap();
        let (node_a, vmid_a) = vm_of(&srv, &admin, &a).await;
        // Server a: firewall off, its NIC without the flag, and a rule of the operator's own.
        let config = client.vm_config(&node_a, vmid_a).await.unwrap();
        let net0 = config.get("net0").unwrap().replace(",firewall=1", "");
        client.vm_update_config(&node_a, vmid_a, &pve::ConfigUpdate::new().set("net0", net0.clone())).await.unwrap();
        client.add_vm_security_group(&node_a, vmid_a, "db", Some("by hand")).await.unwrap();

        // The old bulk path: both get `web`; it waits for the job and answers the old summary.
        let (status, bulk) =
            post(&admin, &srv, "/api/firewall/assign_bulk", json!({"server_names": [a, b], "security_group": "web"}))
                .await;
        assert_eq!(status, StatusCode::OK, "{bulk}");
        assert_eq!(bulk["summary"], json!({"total": 2, "success": 2, "failed": 0}));
        assert_eq!(bulk["failed_servers"], json!([]));
        let opts = client.vm_firewall_options(&node_a, vmid_a).await.unwrap();
        assert!(opts.enable, "the VM firewall is on");
        let config = client.vm_config(&node_a, vmid_a).await.unwrap();
        assert_eq!(config.get("net0").unwrap(), format!("{net0},firewall=1"), "the NIC keeps its MAC and options");
        let rules = client.vm_firewall_rules(&node_a, vmid_a).await.unwrap();
        let shown: Vec<(String, Option<String>)> =
            rules.iter().map(|r| (r.action.clone(), r.comment.clone())).collect();
        assert_eq!(
            shown,
            [("web".into(), Some("proxfleet".into())), ("db".into(), Some("by hand".into()))],
            "ours on top, the operator's kept"
        );
        let s = get(&admin, &srv, &format!("/api/server_status/{a}")).await;
        assert_eq!(s["data"]["firewall_group"], "web");
        let web = get(&admin, &srv, "/api/firewall/groups/web").await;
        assert_eq!(web["group"]["instance_count"], 2);
        assert_eq!(web["group"]["used_by"], json!([a, b]));

        // Applying it again writes nothing.
        let before = writes(&srv);
        let (status, again) =
            post(&admin, &srv, &format!("/api/apply_security_group/{a}"), json!({"security_group": "web"})).await;
        assert_eq!(status, StatusCode::OK, "{again}");
        assert_eq!(writes(&srv), before, "re-applying writes nothing");

        // The server's firewall: groups, rules, no drift; its options change with the digest.
        let fw = get(&admin, &srv, &format!("/api/servers/{a}/firewall")).await["data"].clone();
        assert_eq!((fw["groups"].clone(), fw["drift"].clone()), (json!(["web"]), json!([])), "{fw}");
        assert_eq!(fw["rules"].as_array().unwrap().len(), 2);
        assert_eq!(
            (fw["options"]["enable"].as_bool(), fw["options"]["policy_in"].as_str()),
            (Some(true), Some("DROP"))
        );
        let opts = format!("/api/servers/{a}/firewall/options");
        let (status, e) = send(&admin, &srv, reqwest::Method::PUT, &opts, Some(json!({"policy_in": "ALLOW"}))).await;
        assert_eq!((status, e["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("policy_in")), "{e}");
        let (status, changed) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            &opts,
            Some(json!({"log_level_in": "info", "digest": fw["digest"]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["data"]["options"]["log_level_in"], "info");
        let (status, stale) =
            send(&admin, &srv, reqwest::Method::PUT, &opts, Some(json!({"enable": false, "digest": fw["digest"]})))
                .await;
        assert_eq!(status, StatusCode::CONFLICT, "{stale}");
        let developer = srv.login_as("developer").await;
        let (status, _) = send(&developer, &srv, reqwest::Method::PUT, &opts, Some(json!({"enable": false}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "options need manage_firewall_groups");

        // Attach a second group after the first (our path: a job).
        let (status, q) =
            post(&admin, &srv, "/api/firewall/assign", json!({"server_names": [a], "attach": ["db"]})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        let job = finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        let actions: Vec<(String, String)> = client
            .vm_firewall_rules(&node_a, vmid_a)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.action.clone(), r.comment.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            actions,
            [("web".into(), "proxfleet".into()), ("db".into(), "proxfleet".into()), ("db".into(), "by hand".into())]
        );

        // Removing: our rules go, the firewall and the NIC flag go back off; the operator's
        // own rule stays.
        let (status, removed) = post(&admin, &srv, &format!("/api/remove_firewall_group/{a}"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{removed}");
        let left: Vec<String> = client
            .vm_firewall_rules(&node_a, vmid_a)
            .await
            .unwrap()
            .iter()
            .map(|r| r.comment.clone().unwrap_or_default())
            .collect();
        assert_eq!(left, ["by hand"]);
        assert!(
            !client.vm_firewall_options(&node_a, vmid_a).await.unwrap().enable,
            "turned off: proxfleet turned it on"
        );
        assert_eq!(client.vm_config(&node_a, vmid_a).await.unwrap().get("net0").unwrap(), net0);
        // Server b had its firewall flag already: removing leaves the NIC as it was.
        let (node_b, vmid_b) = vm_of(&srv, &admin, &b).await;
        let (status, _) = post(&admin, &srv, &format!("/api/remove_firewall_group/{b}"), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert!(client.vm_config(&node_b, vmid_b).await.unwrap().get("net0").unwrap().contains("firewall=1"));
        assert_eq!(get(&admin, &srv, "/api/firewall/groups/web").await["group"]["instance_count"], 0);
        let s = get(&admin, &srv, &format!("/api/server_status/{a}")).await;
        assert_eq!(s["data"]["firewall_group"], "");
    }
}

#[tokio::test]
async fn unknown_servers_and_groups_start_nothing_and_a_group_in_use_is_not_deleted() {
    for srv in each_backend(2).await {
        let admin = srv.login_as("admin").await;
        let names = import(&srv, &admin).await;
        let before = writes(&srv);
        let (status, e) =
            post(&admin, &srv, "/api/apply_security_group/nobody", json!({"security_group": "web"})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        let (status, e) =
            post(&admin, &srv, "/api/firewall/assign", json!({"server_names": [names[0]], "attach": ["nope"]})).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
        let (status, e) = post(
            &admin,
            &srv,
            "/api/firewall/assign",
            json!({"server_names": [names[0]], "attach": ["web"], "detach": []}),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert_eq!(writes(&srv), before);
        let (status, e) = post(&admin, &srv, "/api/servers/async", json!({"name": "fw-new", "cpu": 1, "memory": 1024, "template_vm_id": 9000, "disks": [{"size": 20, "interface": "scsi0"}], "network_devices": [{"bridge": "vmbr0", "ip_address": "10.77.0.5", "subnet": "24", "gateway": "10.77.0.1"}], "firewall_group": "nope"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
        assert!(e["details"]["field"].as_str().unwrap().ends_with("security_group"), "{e}");
        let jobs = get(&admin, &srv, "/api/jobs").await;
        assert!(jobs["data"].as_array().unwrap().is_empty(), "no job started: {jobs}");

        let (status, _) =
            post(&admin, &srv, &format!("/api/apply_security_group/{}", names[0]), json!({"security_group": "web"}))
                .await;
        assert_eq!(status, StatusCode::OK);
        let (status, e) = send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/groups/web", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{e}");
        assert!(e["error"].as_str().unwrap().contains(&names[0]), "names the server: {e}");
        assert_eq!(
            srv.services.cluster.client().unwrap().security_group_rules("web").await.unwrap().len(),
            2,
            "rules kept"
        );

        // Only assign_firewall_groups attaches; a viewer may not even detach.
        let viewer = srv.login_as("viewer").await;
        let (status, _) =
            post(&viewer, &srv, "/api/firewall/assign", json!({"server_names": [names[1]], "attach": ["web"]})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = post(&viewer, &srv, &format!("/api/remove_firewall_group/{}", names[0]), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // The old settings path sets the group too, as a job.
        let path = format!("/api/server/config/{}", names[1]);
        let (status, put) =
            send(&admin, &srv, reqwest::Method::PUT, &path, Some(json!({"firewall_group": "db"}))).await;
        assert_eq!(status, StatusCode::OK, "{put}");
        let job = finished(&srv, &admin, put["task_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "succeeded", "{job}");
        assert_eq!(get(&admin, &srv, "/api/firewall/groups/db").await["group"]["used_by"], json!([names[1]]));

        // Forced, a group in use is detached from its servers, then deleted.
        let (status, gone) =
            send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/groups/db?force=true", None).await;
        assert_eq!(status, StatusCode::OK, "{gone}");
        let (node, vmid) = vm_of(&srv, &admin, &names[1]).await;
        let client = srv.services.cluster.client().unwrap();
        assert!(
            client.vm_firewall_rules(&node, vmid).await.unwrap().iter().all(|r| r.action != "db"),
            "detached first"
        );
        assert!(client.security_groups().await.unwrap().iter().all(|g| g.group != "db"));
        assert_eq!(get(&admin, &srv, &format!("/api/server_status/{}", names[1])).await["data"]["firewall_group"], "");
    }
}

#[tokio::test]
async fn a_server_whose_node_is_down_fails_alone_and_its_retry_attaches_it() {
    for srv in each_backend(4).await {
        let admin = srv.login_as("admin").await;
        let names = import(&srv, &admin).await;
        let (node_0, _) = vm_of(&srv, &admin, &names[0]).await;
        let mut on_other: Vec<String> = Vec::new();
        for n in &names {
            if vm_of(&srv, &admin, n).await.0 != node_0 {
                on_other.push(n.clone());
            }
        }
        let down = on_other.first().cloned().expect("the layout spreads VMs over two nodes");
        let node_down = vm_of(&srv, &admin, &down).await.0;
        let sim = &srv.simulator.as_ref().unwrap().sim;
        sim.faults.set(pvesim::Faults { down_nodes: vec![node_down.clone()], ..Default::default() }).unwrap();
        let (status, q) =
            post(&admin, &srv, "/api/firewall/assign", json!({"server_names": [names[0], down], "attach": ["web"]}))
                .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        let job = finished(&srv, &admin, q["task_id"].as_str().unwrap()).await;
        assert_eq!(job["status"], "partially_failed", "{job}");
        let failed: Vec<&str> = job["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["status"] == "failed")
            .map(|i| i["name"].as_str().unwrap())
            .collect();
        assert_eq!(failed, [down.as_str()]);

        // The node is back: the retry does the failed server only.
        sim.faults.set(pvesim::Faults::default()).unwrap();
        let (status, retry) = post(&admin, &srv, &format!("/api/jobs/{}/retry", job["id"]), json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{retry}");
        let again = finished(&srv, &admin, &retry["data"]["id"].to_string()).await;
        assert_eq!(
            (again["status"].as_str(), again["items"].as_array().unwrap().len()),
            (Some("succeeded"), 1),
            "{again}"
        );
        let web = get(&admin, &srv, "/api/firewall/groups/web").await;
        let mut used: Vec<String> = serde_json::from_value(web["group"]["used_by"].clone()).unwrap();
        used.sort();
        let mut want = vec![names[0].clone(), down.clone()];
        want.sort();
        assert_eq!(used, want);
    }
}

#[tokio::test]
async fn ip_sets_and_aliases_are_named_by_rules_and_not_deleted_while_named() {
    for srv in each_backend(0).await {
        let admin = srv.login_as("admin").await;
        let (status, set) =
            post(&admin, &srv, "/api/firewall/ipsets", json!({"name": "mgmt", "comment": "admins"})).await;
        assert_eq!(status, StatusCode::CREATED, "{set}");
        let (status, set) =
            post(&admin, &srv, "/api/firewall/ipsets/mgmt/entries", json!({"cidr": "10.9.0.7/24", "comment": "vpn"}))
                .await;
        assert_eq!(status, StatusCode::CREATED, "{set}");
        assert_eq!(
            set["data"]["entries"],
            json!([{"cidr": "10.9.0.0/24", "nomatch": false, "comment": "vpn"}]),
            "as Proxmox keeps it"
        );
        for (body, why) in
            [(json!({"cidr": "10.9.0.0/24"}), "twice"), (json!({"cidr": "10.0.0.1-10.0.0.5"}), "a range")]
        {
            let (status, e) = post(&admin, &srv, "/api/firewall/ipsets/mgmt/entries", body).await;
            assert_eq!((status, e["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("cidr")), "{why}: {e}");
        }
        let (status, alias) =
            post(&admin, &srv, "/api/firewall/aliases", json!({"name": "office", "cidr": "192.168.10.0/24"})).await;
        assert_eq!(status, StatusCode::CREATED, "{alias}");

        // The editor suggests them as a rule writes them; everyone signed in reads that.
        let viewer = srv.login_as("viewer").await;
        let refs = get(&viewer, &srv, "/api/firewall/refs").await;
        assert_eq!(
            refs["data"],
            json!([
                {"type": "alias", "name": "office", "ref": "office", "comment": ""},
                {"type": "ipset", "name": "mgmt", "ref": "+mgmt", "comment": "admins"},
            ]),
            "{refs}"
        );

        // Rules may name them, and only what exists.
        let (status, e) = post(
            &admin,
            &srv,
            "/api/firewall/groups/web/rules",
            json!({"action": "ACCEPT", "macro": "SSH", "source": "+nope"}),
        )
        .await;
        assert_eq!((status, e["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("source")), "{e}");
        for rule in [
            json!({"action": "ACCEPT", "macro": "SSH", "source": "+mgmt"}),
            json!({"action": "ACCEPT", "dport": "443", "dest": "office"}),
        ] {
            let (status, r) = post(&admin, &srv, "/api/firewall/groups/web/rules", rule).await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
        }
        let sets = get(&admin, &srv, "/api/firewall/ipsets").await;
        assert_eq!(sets["data"][0]["used_by"], json!(["web"]));
        let aliases = get(&admin, &srv, "/api/firewall/aliases").await;
        assert_eq!(aliases["data"][0]["used_by"], json!(["web"]));
        let (status, e) = send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/ipsets/mgmt", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{e}");
        assert!(e["error"].as_str().unwrap().contains("web"), "{e}");
        let (status, _) = send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/aliases/office", None).await;
        assert_eq!(status, StatusCode::CONFLICT);

        // Once no rule names them, they go; an entry is removed by its network.
        for _ in 0..2 {
            let (status, r) =
                send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/groups/web/rules/0", None).await;
            assert_eq!(status, StatusCode::OK, "{r}");
        }
        let (status, set) =
            send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/ipsets/mgmt/entries/10.9.0.0%2F24", None).await;
        assert_eq!(status, StatusCode::OK, "{set}");
        assert_eq!(set["data"]["entries"], json!([]));
        let (status, e) = send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/ipsets/mgmt", None).await;
        assert_eq!(status, StatusCode::OK, "{e}");
        let (status, e) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            "/api/firewall/aliases/office",
            Some(json!({"cidr": "192.168.11.0/24"})),
        )
        .await;
        assert_eq!((status, e["data"]["cidr"].as_str()), (StatusCode::OK, Some("192.168.11.0/24")), "{e}");
        let (status, _) = send(&admin, &srv, reqwest::Method::DELETE, "/api/firewall/aliases/office", None).await;
        assert_eq!(status, StatusCode::OK);
        assert!(get(&admin, &srv, "/api/firewall/ipsets").await["data"].as_array().unwrap().is_empty());
        let (status, _) = post(&viewer, &srv, "/api/firewall/ipsets", json!({"name": "nope"})).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn two_instances_adding_with_one_digest_change_the_group_once() {
    let Some((a, b)) = common::spawn_pair_with_cluster_on_postgres(
        pvesim::Layout { nodes: 1, seed: 5, vms: 0, shared_storage: false },
        |c| c,
    )
    .await
    else {
        return;
    };
    let (admin_a, admin_b) = (a.login_as("admin").await, b.login_as("admin").await);
    let digest = get(&admin_a, &a, "/api/firewall/groups/web").await["group"]["digest"].as_str().unwrap().to_owned();
    let rule = |port: &str| json!({"action": "ACCEPT", "dport": port, "digest": digest});
    let (status, first) = post(&admin_a, &a, "/api/firewall/groups/web/rules", rule("8080")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = post(&admin_b, &b, "/api/firewall/groups/web/rules", rule("9090")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");
    assert_eq!(second["details"]["rules"].as_array().unwrap().len(), 3, "the current list, with the first add");

    // At the same moment: never both, and never a rule the caller was told failed.
    let digest = get(&admin_a, &a, "/api/firewall/groups/web").await["group"]["digest"].as_str().unwrap().to_owned();
    let body = |port: &str| json!({"action": "ACCEPT", "dport": port, "digest": digest});
    let (ra, rb) = tokio::join!(
        post(&admin_a, &a, "/api/firewall/groups/web/rules", body("7070")),
        post(&admin_b, &b, "/api/firewall/groups/web/rules", body("6060"))
    );
    let created = [&ra, &rb].iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    assert!(created <= 1, "{ra:?} {rb:?}");
    let ports: Vec<String> = a
        .services
        .cluster
        .client()
        .unwrap()
        .security_group_rules("web")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|r| r.dport)
        .collect();
    for (resp, port) in [(&ra, "7070"), (&rb, "6060")] {
        assert_eq!(ports.contains(&port.to_owned()), resp.0 == StatusCode::CREATED, "{port}: {ports:?} {resp:?}");
    }
}

/// The rules of a preview's server, one line each (`in ACCEPT tcp dport 80`), origins dropped.
fn chain(server: &Value, side: &str) -> Vec<String> {
    server[side]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let f = |k: &str, label: &str| r[k].as_str().map(|v| format!(" {label}{v}")).unwrap_or_default();
            format!(
                "{} {}{}{}{}",
                r["type"].as_str().unwrap(),
                r["action"].as_str().unwrap(),
                f("proto", ""),
                f("dport", "dport "),
                f("source", "from ")
            )
        })
        .collect()
}

/// The kinds of a list of warnings, in order.
fn kinds(warnings: &Value) -> Vec<&str> {
    warnings.as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect()
}

/// `(server, kind)` of a preview's warnings that the change causes.
fn warned(preview: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = preview["data"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["already"] != true)
        .map(|w| (w["server"].as_str().unwrap().to_owned(), w["kind"].as_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn previews_say_what_each_server_gets_and_warn_before_anything_is_written() {
    for srv in each_backend(2).await {
        let admin = srv.login_as("admin").await;
        let names = import(&srv, &admin).await;
        let (a, b) = (names[0].clone(), names[1].clone());
        let pair = |x: &str, y: &str| vec![(a.clone(), x.to_owned()), (a.clone(), y.to_owned())];
        let client = srv.services.cluster.client().unwrap();
        let written = writes(&srv);

        // Attaching `web` (80, 443): both servers change; nothing lets SSH or the exporter in.
        let (status, p) = post(
            &admin,
            &srv,
            "/api/firewall/assign",
            json!({"server_names": [a, b], "attach": ["web"], "dry_run": true}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["data"]["affected"], json!([a, b]));
        let first = p["data"]["servers"][0].clone();
        assert_eq!(first["groups_after"], json!(["web"]));
        assert_eq!(
            chain(&first, "after"),
            ["in ACCEPT tcp dport 80", "in ACCEPT tcp dport 443", "in DROP", "out ACCEPT"],
            "{first}"
        );
        assert_eq!(first["after"][0]["origin"], "group web, rule 0");
        let mut expect = pair("exporter_dropped", "ssh_dropped");
        expect.extend([(b.clone(), "exporter_dropped".into()), (b.clone(), "ssh_dropped".into())]);
        assert_eq!(warned(&p), expect, "{p}");
        assert_eq!(writes(&srv), written, "a preview writes nothing");
        assert_eq!(get(&admin, &srv, "/api/firewall/groups/web").await["group"]["used_by"], json!([]));

        // The job then does what the preview said: previewing the same again shows it as now.
        let (status, q) =
            post(&admin, &srv, "/api/firewall/assign", json!({"server_names": [a], "attach": ["web"]})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{q}");
        assert_eq!(finished(&srv, &admin, q["task_id"].as_str().unwrap()).await["status"], "succeeded");
        let (_, again) = post(
            &admin,
            &srv,
            "/api/firewall/assign",
            json!({"server_names": [a], "attach": ["web"], "dry_run": true}),
        )
        .await;
        assert_eq!(again["data"]["affected"], json!([]), "re-applying changes nothing: {again}");
        assert_eq!(chain(&again["data"]["servers"][0], "before"), chain(&first, "after"));
        assert_eq!(warned(&again), [], "warnings already so are marked so");
        // The server page's section shows the same rules as enforced now, and the warnings.
        let fw = get(&admin, &srv, &format!("/api/servers/{a}/firewall")).await["data"].clone();
        assert_eq!(chain(&fw, "effective"), chain(&first, "after"));
        assert_eq!(kinds(&fw["warnings"]), ["ssh_dropped", "exporter_dropped"], "{fw}");

        // The management sources: SSH from them only.
        let (status, e) = send(
            &admin,
            &srv,
            reqwest::Method::PUT,
            "/api/firewall/settings",
            Some(json!({"management_sources": ["192.0.2.0/24", "nope"]})),
        )
        .await;
        assert_eq!((status, e["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("management_sources[1]")));
        let developer = srv.login_as("developer").await;
        let body = json!({"management_sources": ["192.0.2.0/24"]});
        let (status, _) =
            send(&developer, &srv, reqwest::Method::PUT, "/api/firewall/settings", Some(body.clone())).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, s) = send(&admin, &srv, reqwest::Method::PUT, "/api/firewall/settings", Some(body)).await;
        assert_eq!(status, StatusCode::OK, "{s}");
        assert_eq!(
            get(&developer, &srv, "/api/firewall/settings").await["data"]["management_sources"],
            json!(["192.0.2.0/24"])
        );

        // A draft of `web` with SSH from the management network, previewed on the server using
        // it: SSH is no longer dropped, the exporter still is; nothing is written.
        let web = get(&admin, &srv, "/api/firewall/groups/web").await["group"].clone();
        let draft = |source: &str| {
            json!({"digest": web["digest"], "dry_run": true, "rules": [
                {"origin": 0, "action": "ACCEPT", "proto": "tcp", "dport": "80"},
                {"origin": 1, "action": "ACCEPT", "proto": "tcp", "dport": "443"},
                {"action": "ACCEPT", "macro": "SSH", "source": source},
            ]})
        };
        let written = writes(&srv);
        let (status, p) =
            send(&admin, &srv, reqwest::Method::PUT, "/api/firewall/groups/web/rules", Some(draft("192.0.2.0/24")))
                .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["data"]["affected"], json!([a]));
        let diff: Vec<String> = p["data"]["servers"][0]["diff"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| format!("{}{}", l["op"].as_str().unwrap(), l["rule"]["dport"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(diff, ["+22"]);
        assert_eq!(warned(&p), []);
        assert_eq!(kinds(&p["data"]["warnings"]), ["exporter_dropped"], "still dropped, as before: {p}");
        // From a network that covers only part of the management sources: some are dropped.
        let (_, p) =
            send(&admin, &srv, reqwest::Method::PUT, "/api/firewall/groups/web/rules", Some(draft("192.0.2.0/25")))
                .await;
        let ssh =
            p["data"]["warnings"].as_array().unwrap().iter().find(|w| w["kind"] == "ssh_dropped").unwrap().clone();
        assert!(ssh["message"].as_str().unwrap().contains("some management sources"), "{ssh}");
        assert_eq!(writes(&srv), written, "a preview writes nothing");
        assert_eq!(get(&admin, &srv, "/api/firewall/groups/web").await["group"]["rules"], web["rules"]);
        // A stale draft is refused as Apply would be.
        let mut stale = draft("192.0.2.0/24");
        stale["digest"] = json!("0000");
        let (status, _) = send(&admin, &srv, reqwest::Method::PUT, "/api/firewall/groups/web/rules", Some(stale)).await;
        assert_eq!(status, StatusCode::CONFLICT);

        // Options: policy ACCEPT lets everything in; the firewall off enforces nothing.
        let opts = format!("/api/servers/{a}/firewall/options");
        let (status, p) =
            send(&admin, &srv, reqwest::Method::PUT, &opts, Some(json!({"policy_in": "accept", "dry_run": true})))
                .await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["data"]["affected"], json!([a]));
        assert_eq!(p["data"]["warnings"], json!([]), "nothing is dropped: {p}");
        let (_, p) =
            send(&admin, &srv, reqwest::Method::PUT, &opts, Some(json!({"enable": false, "dry_run": true}))).await;
        assert_eq!(warned(&p), [(a.clone(), "firewall_off".to_owned())]);
        assert_eq!(p["data"]["servers"][0]["enforced_after"], false);
        let (status, _) =
            send(&developer, &srv, reqwest::Method::PUT, &opts, Some(json!({"enable": false, "dry_run": true}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "previewing options needs what changing them needs");
        assert_eq!(writes(&srv), written, "option previews write nothing");

        // A group attached by hand and one that does not exist are named.
        let (node_b, vmid_b) = vm_of(&srv, &admin, &b).await;
        client.add_vm_security_group(&node_b, vmid_b, "db", Some("by hand")).await.unwrap();
        // A group deleted after a VM named it (Proxmox allows that).
        client.create_security_group("gone", None).await.unwrap();
        client.add_vm_security_group(&node_b, vmid_b, "gone", Some("proxfleet")).await.unwrap();
        client.delete_security_group("gone").await.unwrap();
        let (_, p) = post(
            &admin,
            &srv,
            "/api/firewall/assign",
            json!({"server_names": [b], "replace": ["web"], "dry_run": true}),
        )
        .await;
        let on_b = kinds(&p["data"]["servers"][0]["warnings"]);
        assert!(on_b.contains(&"group_unmanaged") && !on_b.contains(&"group_missing"), "{p}");
        assert_eq!(p["data"]["servers"][0]["groups_before"], json!(["gone"]));
        let (_, p) = post(
            &admin,
            &srv,
            "/api/firewall/assign",
            json!({"server_names": [b], "attach": ["web"], "dry_run": true}),
        )
        .await;
        assert!(kinds(&p["data"]["warnings"]).contains(&"group_missing"), "{p}");
    }
}
