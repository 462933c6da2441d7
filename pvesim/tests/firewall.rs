//! Security groups and VM firewall through the client and the simulator: PVE's ordering,
//! defaults, digests and errors.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use pve::api::firewall::{self, RuleSpec};
use pve::{contract, ErrorKind, PveClient, PveConfig, TlsMode};
use pvesim::{Layout, Profile};

async fn sim() -> (pvesim::Running, PveClient) {
    let layout = Layout { nodes: 1, seed: 3, vms: 2, shared_storage: false };
    let running = pvesim::start("127.0.0.1:0".parse().unwrap(), &layout, Profile::Instant, "tok", "pw").await.unwrap();
    let client = PveClient::new(PveConfig::new(&running.url, running.auth(), TlsMode::System)).unwrap();
    (running, client)
}

fn tcp(port: &str, enable: bool) -> RuleSpec {
    RuleSpec {
        kind: "in".into(),
        action: "ACCEPT".into(),
        enable,
        proto: Some("tcp".into()),
        dport: Some(port.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn groups_and_rules_behave_like_pve_firewall() {
    let (_s, c) = sim().await;
    c.create_security_group("app", Some("Application tier")).await.unwrap();
    let dup = c.create_security_group("app", None).await.unwrap_err();
    assert_eq!((dup.status, dup.errors["group"].as_str()), (400, "Security group 'app' already exists"));
    assert_eq!(dup.kind, ErrorKind::AlreadyExists);
    let names: Vec<String> = c.security_groups().await.unwrap().into_iter().map(|g| g.group).collect();
    assert_eq!(names, ["app", "db", "web"], "sorted by name");
    // PVE's name rule: a letter, then letters, digits, '-' or '_'; 2 to 18 characters.
    for (bad, why) in [
        ("a", "value does not match the regex pattern"),
        ("9lives", "value does not match the regex pattern"),
        ("web tier", "value does not match the regex pattern"),
        ("a-very-long-name-19", "value may only be 18 characters long"),
    ] {
        let e = c.create_security_group(bad, None).await.unwrap_err();
        assert_eq!((e.status, e.errors["group"].as_str()), (400, why), "{bad}");
    }
    c.create_security_group("a-long-name-of-18", None).await.unwrap();
    // Renaming: `rename` names the group as it is, `group` as it will be.
    c.rename_security_group("a-long-name-of-18", "tmp", None).await.unwrap();
    let e = c.rename_security_group("a-long-name-of-18", "other", None).await.unwrap_err();
    assert_eq!((e.status, e.errors["group"].as_str()), (400, "Security group 'a-long-name-of-18' does not exist"));
    let e = c.rename_security_group("tmp", "web", None).await.unwrap_err();
    assert_eq!((e.status, e.errors["group"].as_str()), (400, "Security group 'web' does already exist"));
    c.delete_security_group("tmp").await.unwrap();

    // Each new rule goes to the top; rules are disabled unless enabled explicitly.
    c.add_security_group_rule("app", &tcp("8080", true)).await.unwrap();
    c.add_security_group_rule("app", &tcp("8443", false)).await.unwrap();
    let rules = c.security_group_rules("app").await.unwrap();
    assert_eq!(
        rules.iter().map(|r| (r.pos, r.dport.clone().unwrap(), r.enable)).collect::<Vec<_>>(),
        [(0, "8443".into(), false), (1, "8080".into(), true)]
    );

    // PVE's `moveto` is a gap in the list as it was: the rule goes in before the one now at
    // `moveto`. So 1 (just below itself) changes nothing and the digest still holds; the
    // final index 1 is `moveto` 2.
    let digest = rules[0].digest.clone();
    c.move_security_group_rule("app", 0, 1, Some(&digest)).await.unwrap();
    assert_eq!(c.security_group_rules("app").await.unwrap()[0].digest, digest, "nothing moved");
    c.move_security_group_rule("app", 0, firewall::moveto_for(0, 1), Some(&digest)).await.unwrap();
    let stale = c.delete_security_group_rule("app", 0, Some(&digest)).await.unwrap_err();
    assert_eq!(stale.message, "detected modified configuration - file changed by other user? Try again.");
    assert_eq!(c.security_group_rule("app", 1).await.unwrap().dport.as_deref(), Some("8443"));
    let missing = c.security_group_rule("app", 9).await.unwrap_err();
    assert_eq!((missing.status, missing.message.as_str()), (500, "no rule at position 9"));

    let mut ssh = RuleSpec {
        kind: "in".into(),
        action: "ACCEPT".into(),
        enable: true,
        macro_name: Some("ssh".into()),
        ..Default::default()
    };
    c.add_security_group_rule("app", &ssh).await.unwrap();
    assert_eq!(
        c.security_group_rule("app", 0).await.unwrap().macro_name.as_deref(),
        Some("SSH"),
        "stored in preferred case"
    );
    ssh.macro_name = Some("teleport".into());
    let e = c.add_security_group_rule("app", &ssh).await.unwrap_err();
    assert_eq!(e.errors["macro"], "unknown macro 'teleport'");
    let no_proto =
        RuleSpec { kind: "in".into(), action: "ACCEPT".into(), dport: Some("22".into()), ..Default::default() };
    assert_eq!(c.add_security_group_rule("app", &no_proto).await.unwrap_err().status, 400);
    // A port needs a protocol even with a macro, and one that has ports.
    let macro_port = RuleSpec { macro_name: Some("SSH".into()), ..no_proto.clone() };
    let e = c.add_security_group_rule("app", &macro_port).await.unwrap_err();
    assert_eq!(e.errors["proto"], "missing property - 'dport' requires this property");
    let gre_port = RuleSpec { proto: Some("gre".into()), ..no_proto.clone() };
    let e = c.add_security_group_rule("app", &gre_port).await.unwrap_err();
    assert_eq!(e.errors["dport"], "protocol 'gre' does not support ports");

    let not_empty = c.delete_security_group("app").await.unwrap_err();
    assert_eq!(not_empty.message, "Security group 'app' is not empty");
    for _ in 0..3 {
        c.delete_security_group_rule("app", 0, None).await.unwrap();
    }
    c.delete_security_group("app").await.unwrap();
    let gone = c.security_group_rules("app").await.unwrap_err();
    assert_eq!((gone.kind, gone.message.as_str()), (ErrorKind::NotFound, "no such security group 'app'"));
    // Update a rule in place: the comment changes, the rest stays.
    let mut http = c.security_group_rule("web", 0).await.unwrap();
    let spec = RuleSpec {
        kind: http.kind.clone(),
        action: http.action.clone(),
        enable: http.enable,
        proto: http.proto.clone(),
        dport: http.dport.clone(),
        comment: Some("public HTTP".into()),
        ..Default::default()
    };
    c.update_security_group_rule("web", 0, &spec, Some(&http.digest)).await.unwrap();
    let updated = c.security_group_rule("web", 0).await.unwrap();
    http.comment = Some("public HTTP".into());
    assert_eq!((updated.comment, updated.dport, updated.enable), (http.comment, http.dport, http.enable));
    c.update_security_group_comment("web", "Public web tier", None).await.unwrap();
    let web = c.security_groups().await.unwrap().into_iter().find(|g| g.group == "web").unwrap();
    assert_eq!(web.comment.as_deref(), Some("Public web tier"));

    let data = c.call_value(&firewall::group_rules("web")).await.unwrap();
    assert!(contract::check_response("GET", "/cluster/firewall/groups/{group}", &data).is_empty());
}

#[tokio::test]
async fn a_security_group_is_applied_to_a_vm_as_a_group_rule() {
    let (_s, c) = sim().await;
    assert!(!c.vm_firewall_options("pve1", 100).await.unwrap().enable, "off until enabled");
    c.set_vm_firewall("pve1", 100, true, Some("DROP")).await.unwrap();
    let opts = c.vm_firewall_options("pve1", 100).await.unwrap();
    assert!(opts.enable);
    assert_eq!(opts.policy_in.as_deref(), Some("DROP"));
    c.add_vm_security_group("pve1", 100, "web", Some("Security group: web")).await.unwrap();
    let rules = c.vm_firewall_rules("pve1", 100).await.unwrap();
    assert_eq!((rules[0].kind.as_str(), rules[0].action.as_str(), rules[0].enable), ("group", "web", true));
    c.delete_vm_firewall_rule("pve1", 100, 0, Some(&rules[0].digest)).await.unwrap();
    assert!(c.vm_firewall_rules("pve1", 100).await.unwrap().is_empty());
    let missing = c.vm_firewall_rules("pve1", 999).await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    for req in [firewall::vm_options("pve1", 100), firewall::vm_rules("pve1", 100), firewall::groups()] {
        let data = c.call_value(&req).await.unwrap();
        assert!(contract::check_response(req.method.as_str(), req.template, &data).is_empty(), "{}", req.template);
    }
}

#[tokio::test]
async fn digests_are_pve_firewalls_sha1_and_a_stale_one_is_modified() {
    let (_s, c) = sim().await;
    c.create_security_group("digest", None).await.unwrap();
    c.add_security_group_rule("digest", &tcp("22", true)).await.unwrap();
    let rules = c.security_group_rules("digest").await.unwrap();
    // SHA-1 of "action:ACCEPT\ndport:22\nenable:1\nproto:tcp\ntype:in\n" (pve-firewall's
    // copy_list_with_digest over the one rule), as Python's hashlib computes it.
    assert_eq!(rules[0].digest, "82ff54375d64432ed03ad8e1833e6691f1a3af58");
    let old = rules[0].digest.clone();
    c.add_security_group_rule("digest", &tcp("80", true)).await.unwrap();
    let e = c.delete_security_group_rule("digest", 0, Some(&old)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Modified, "{e:?}");
    assert_eq!(c.security_group_rules("digest").await.unwrap().len(), 2, "nothing was deleted");
}
