//! Storages, vzdump, restore and volume deletion through the client and the simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::time::Duration;

use pve::api::storage::{self, BackupOptions, RestoreOptions};
use pve::{contract, ErrorKind, Polling, PveClient, PveConfig, TlsMode};
use pvesim::{Layout, Profile};

const WAIT: Duration = Duration::from_secs(10);

fn fast() -> Polling {
    Polling { first: Duration::from_millis(5), max: Duration::from_millis(20) }
}

async fn sim(profile: Profile) -> (pvesim::Running, PveClient) {
    let layout = Layout { nodes: 2, seed: 5, vms: 3, shared_storage: true };
    let running = pvesim::start("127.0.0.1:0".parse().unwrap(), &layout, profile, "tok", "pw").await.unwrap();
    let client = PveClient::new(PveConfig::new(&running.url, running.auth(), TlsMode::System)).unwrap();
    (running, client)
}

#[tokio::test]
async fn storages_report_capacity_and_content() {
    let (_s, c) = sim(Profile::Instant).await;
    let all = c.storages("pve1", None).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|s| s.storage.as_str()).collect();
    assert_eq!(ids, ["local", "local-lvm", "shared-nfs"]);
    assert!(all.iter().find(|s| s.storage == "shared-nfs").unwrap().shared);
    let for_backups = c.storages("pve1", Some("backup")).await.unwrap();
    assert!(for_backups.iter().all(|s| s.holds("backup")) && !for_backups.is_empty());
    let lvm = c.storage_status("pve1", "local-lvm").await.unwrap();
    assert_eq!(lvm.kind, "lvmthin");
    let disks = c.storage_content("pve1", "local-lvm", Some("images"), None).await.unwrap();
    assert!(disks.iter().any(|v| v.volid == "local-lvm:base-9000-disk-0"));
    let missing = c.storage_status("pve1", "nope").await.unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound);
    for req in [
        storage::storages("pve1", None),
        storage::status("pve1", "local"),
        storage::content("pve1", "local-lvm", None, None),
    ] {
        let data = c.call_value(&req).await.unwrap();
        assert!(contract::check_response(req.method.as_str(), req.template, &data).is_empty(), "{}", req.template);
    }
}

#[tokio::test]
async fn back_up_restore_and_delete() {
    let (_s, c) = sim(Profile::Fast).await;
    let before = c.storage_status("pve1", "local").await.unwrap().used.unwrap();
    let options = BackupOptions {
        storage: "local".into(),
        notes_template: Some("{{guestname}} nightly".into()),
        protected: false,
    };
    let task = c.vzdump("pve1", 100, &options).await.unwrap();
    // While the backup runs the VM is locked: other changes are refused.
    let busy = c.vm_update_config("pve1", 100, &pve::ConfigUpdate::new().cores(3)).await.unwrap_err();
    assert_eq!((busy.kind, busy.message.as_str()), (ErrorKind::Locked, "VM is locked (backup)"));
    c.wait_task(&task, WAIT, fast()).await.unwrap();
    let log = c.task_log(&task, 0, 50).await.unwrap();
    assert!(log.iter().any(|l| l.t.starts_with("creating vzdump archive 'local:backup/vzdump-qemu-100-")));
    let backup = c.latest_backup("pve1", "local", 100).await.unwrap().expect("a backup volume");
    assert!(
        backup.volid.starts_with("local:backup/vzdump-qemu-100-") && backup.volid.ends_with(".vma.zst"),
        "{}",
        backup.volid
    );
    assert_eq!(backup.notes.as_deref(), Some("web-01 nightly"));
    assert!(c.storage_status("pve1", "local").await.unwrap().used.unwrap() > before, "capacity is accounted");

    // Restore next to the original, then over it (it must be stopped and forced).
    let copy =
        c.restore("pve1", 300, &backup.volid, &RestoreOptions { unique: true, ..Default::default() }).await.unwrap();
    c.wait_task(&copy, WAIT, fast()).await.unwrap();
    let restored = c.vm_config("pve1", 300).await.unwrap();
    assert_eq!(restored.get("name"), Some("web-01"));
    assert!(restored.get("scsi0").unwrap().starts_with("local-lvm:vm-300-disk-0"));
    let exists = c.restore("pve1", 300, &backup.volid, &RestoreOptions::default()).await.unwrap_err();
    assert_eq!(exists.message, "unable to restore VM 300 - VM 300 already exists on node 'pve1'");
    let forced =
        c.restore("pve1", 300, &backup.volid, &RestoreOptions { force: true, ..Default::default() }).await.unwrap();
    c.wait_task(&forced, WAIT, fast()).await.unwrap();

    let del = c.delete_volume("pve1", "local", &backup.volid).await.unwrap().expect("a task");
    c.wait_task(&del, WAIT, fast()).await.unwrap();
    assert!(c.latest_backup("pve1", "local", 100).await.unwrap().is_none());
    let again = c.delete_volume("pve1", "local", &backup.volid).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::NotFound);

    let protected = BackupOptions { protected: true, ..options };
    let t = c.vzdump("pve1", 102, &protected).await.unwrap();
    c.wait_task(&t, WAIT, fast()).await.unwrap();
    let kept = c.latest_backup("pve1", "local", 102).await.unwrap().unwrap();
    assert!(kept.protected);
    let refused = c.delete_volume("pve1", "local", &kept.volid).await.unwrap_err();
    assert_eq!(refused.message, "cannot remove protected volume");
}
