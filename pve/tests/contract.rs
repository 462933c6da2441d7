//! Every request the client can build, checked against the PVE 9.1 schema: method and path
//! exist, parameter names are known, values have the declared type (booleans `0`/`1`,
//! integers in range, enums), required parameters are present.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use pve::api::firewall::{self, RuleSpec};
use pve::api::qemu::{self, Timeframe};
use pve::api::storage::{self, BackupOptions, RestoreOptions};
use pve::api::{access, cluster, tasks};
use pve::{contract, CloneOptions, ConfigUpdate, Power, Request, ResourceKind, Upid};

fn all_requests() -> Vec<Request> {
    let upid = Upid::new("pve1", 42, 7, 0x6763E1A0, "qmclone", "9000", "root@pam!proxfleet");
    let full = CloneOptions {
        name: Some("web-1".into()),
        full: Some(true),
        target_node: Some("pve2".into()),
        target_storage: Some("local-lvm".into()),
        description: Some("made by proxfleet".into()),
        pool: Some("prod".into()),
    };
    let everything = ConfigUpdate::new()
        .cores(4)
        .sockets(1)
        .memory(4096)
        .ciuser("rocky")
        .cipassword("a long password")
        .sshkeys(&["ssh-ed25519 AAAAC3Nza kim@host"])
        .ipconfig(0, "10.0.0.5/24", Some("10.0.0.1"))
        .ipconfig(1, "dhcp", None)
        .net(0, "vmbr0", Some(120), true)
        .net(1, "vmbr1", None, false)
        .new_disk("scsi", 1, "local-lvm", 50)
        .new_disk("virtio", 2, "local-lvm", 10)
        .new_disk("sata", 0, "local-lvm", 5)
        .set("ide2", "local-lvm:cloudinit")
        .nameserver("1.1.1.1 8.8.8.8")
        .searchdomain("example.org")
        .description("web server")
        .tags(&["prod", "web"])
        .delete("scsi3")
        .delete("net2")
        .digest("0123456789abcdef0123456789abcdef01234567");
    let mut out = vec![
        access::ticket("root@pam", "secret"),
        cluster::version(),
        cluster::nodes(),
        cluster::node_status("pve1"),
        cluster::resources(None),
        cluster::resources(Some(ResourceKind::Vm)),
        cluster::resources(Some(ResourceKind::Node)),
        cluster::resources(Some(ResourceKind::Storage)),
        cluster::next_id(None),
        cluster::next_id(Some(4242)),
        qemu::list("pve1"),
        qemu::status("pve1", 100),
        qemu::clone_vm("pve1", 9000, 101, &CloneOptions::default()),
        qemu::clone_vm("pve1", 9000, 101, &full),
        qemu::config("pve1", 100),
        qemu::update_config("pve1", 100, &everything),
        qemu::update_config_async("pve1", 100, &everything),
        qemu::resize("pve1", 100, "scsi0", "+10G"),
        qemu::resize("pve1", 100, "virtio1", "50G"),
        qemu::destroy("pve1", 100),
        qemu::template("pve1", 100),
        qemu::agent_interfaces("pve1", 100),
        tasks::status(&upid),
        tasks::log(&upid, 0, 500),
        tasks::stop(&upid),
        tasks::list("pve1", Some(130), pve::TaskSource::All, 0, 50),
        tasks::list("pve1", None, pve::TaskSource::Archive, 10, 1),
    ];
    let rule = RuleSpec {
        kind: "in".into(),
        action: "ACCEPT".into(),
        enable: true,
        macro_name: None,
        proto: Some("tcp".into()),
        dport: Some("80:85".into()),
        sport: Some("1024".into()),
        source: Some("10.0.0.0/24".into()),
        dest: Some("+dc/web".into()),
        iface: Some("net0".into()),
        log: Some("info".into()),
        icmp_type: None,
        comment: Some("web".into()),
        delete: vec![],
    };
    // Clearing fields is for updates only (PVE's create has no `delete`).
    let change = RuleSpec { delete: vec!["sport".into(), "icmp-type".into()], ..rule.clone() };
    let ping = RuleSpec {
        proto: Some("icmp".into()),
        icmp_type: Some("echo-request".into()),
        dport: None,
        sport: None,
        ..rule.clone()
    };
    out.extend([
        firewall::groups(),
        firewall::cluster_options(),
        firewall::ipsets(),
        firewall::refs(None),
        firewall::refs(Some("alias")),
        firewall::create_ipset("mgmt", Some("admins"), None),
        firewall::create_ipset("mgmt2", None, Some("mgmt")),
        firewall::delete_ipset("mgmt", true),
        firewall::ipset_entries("mgmt"),
        firewall::add_ipset_entry("mgmt", "10.0.0.0/24", true, Some("office")),
        firewall::remove_ipset_entry("mgmt", "10.0.0.0/24"),
        firewall::aliases(),
        firewall::create_alias("office", "192.168.1.0/24", Some("HQ")),
        firewall::update_alias("office", "192.168.2.0/24", None, Some("hq")),
        firewall::delete_alias("office"),
        firewall::create_group("web", Some("Web servers")),
        firewall::update_group_comment("web", "Public web", Some("0123456789abcdef0123456789abcdef01234567")),
        firewall::delete_group("web"),
        firewall::group_rules("web"),
        firewall::group_rule("web", 2),
        firewall::add_group_rule("web", &rule),
        firewall::update_group_rule("web", 0, &change, None),
        firewall::add_group_rule("web", &ping),
        firewall::move_group_rule("web", 3, 0, Some("0123456789abcdef0123456789abcdef01234567")),
        firewall::delete_group_rule("web", 1, None),
        firewall::vm_options("pve1", 100),
        firewall::set_vm_options("pve1", 100, true, Some("DROP")),
        firewall::update_vm_options(
            "pve1",
            100,
            &pve::VmOptionsUpdate {
                enable: Some(true),
                policy_in: Some("DROP".into()),
                policy_out: Some("ACCEPT".into()),
                log_level_in: Some("info".into()),
                log_level_out: Some("nolog".into()),
                macfilter: Some(true),
                ipfilter: Some(false),
                dhcp: Some(true),
                ndp: Some(true),
            },
            Some("0123456789abcdef0123456789abcdef01234567"),
        ),
        firewall::vm_rules("pve1", 100),
        firewall::add_vm_group_rule("pve1", 100, "web", Some("Security group: web")),
        firewall::delete_vm_rule("pve1", 100, 0, None),
        firewall::move_vm_rule("pve1", 100, 2, 0, Some("0123456789abcdef0123456789abcdef01234567")),
        firewall::enable_vm_rule("pve1", 100, 1, true, None),
    ]);
    out.extend([
        storage::storages("pve1", None),
        storage::storages("pve1", Some("backup")),
        storage::status("pve1", "local"),
        storage::content("pve1", "local", Some("backup"), Some(100)),
        storage::delete_volume("pve1", "local", "local:backup/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst"),
        storage::vzdump(
            "pve1",
            100,
            &BackupOptions {
                storage: "local".into(),
                mode: Some("suspend".into()),
                compress: Some("zstd".into()),
                notes_template: Some("{{guestname}}".into()),
                protected: true,
            },
        ),
        storage::vzdump("pve1", 100, &BackupOptions { storage: "local".into(), ..Default::default() }),
        storage::volume("pve1", "local", "local:backup/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst"),
        storage::set_volume("pve1", "local", "local:backup/x.vma.zst", Some("nightly"), Some(true)),
        storage::set_volume("pve1", "local", "local:backup/x.vma.zst", Some(""), None),
        storage::prune_preview("pve1", "local", 100, "keep-last=3,keep-daily=7"),
        storage::prune("pve1", "shared-nfs", 100, "keep-weekly=2"),
        storage::extract_config("pve1", "local:backup/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst"),
        storage::backup_jobs(),
        storage::restore(
            "pve1",
            100,
            "local:backup/vzdump-qemu-100-2026_01_15-10_00_00.vma.zst",
            &RestoreOptions { force: true, unique: true, storage: Some("local-lvm".into()) },
        ),
    ]);
    for tf in [Timeframe::Hour, Timeframe::Day, Timeframe::Week, Timeframe::Month, Timeframe::Year] {
        out.push(qemu::rrddata("pve1", 100, tf));
    }
    for action in [
        Power::Start,
        Power::Stop,
        Power::Shutdown { timeout: Some(120), force_stop: true },
        Power::Shutdown { timeout: None, force_stop: false },
        Power::Reboot { timeout: Some(60) },
        Power::Reset,
    ] {
        out.push(qemu::power("pve1", 100, action));
    }
    out
}

#[test]
fn every_request_the_client_builds_validates_against_the_schema() {
    let requests = all_requests();
    assert!(requests.len() >= 35);
    for req in &requests {
        let result = contract::check_params(req.method.as_str(), req.template, &req.params);
        assert_eq!(result, Ok(()), "{} {} ({}): {:?}", req.method.as_str(), req.template, req.path, req.params);
        // The concrete path is an instance of the template.
        let t: Vec<&str> = req.template.split('/').collect();
        let p: Vec<&str> = req.path.split('/').collect();
        assert_eq!(t.len(), p.len(), "{} vs {}", req.template, req.path);
        for (ts, ps) in t.iter().zip(&p) {
            assert!(ts.starts_with('{') || ts == ps, "{} vs {}", req.template, req.path);
        }
    }
}

#[test]
fn booleans_never_go_out_as_true_or_false() {
    for req in all_requests() {
        for (k, v) in &req.params.0 {
            assert!(v != "true" && v != "false", "{} {k}={v}", req.template);
        }
    }
}

#[test]
fn upids_in_paths_are_encoded_and_tasks_go_to_the_upids_node() {
    let upid = Upid::new("pve2", 42, 7, 0x6763E1A0, "qmclone", "9000", "root@pam!proxfleet");
    let req = tasks::status(&upid);
    assert!(req.path.starts_with("/nodes/pve2/tasks/UPID%3Apve2%3A"), "{}", req.path);
    assert!(req.path.contains("root%40pam%21proxfleet"), "{}", req.path);
}
