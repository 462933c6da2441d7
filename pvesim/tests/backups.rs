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

fn lines(log: &[pve::api::tasks::LogLine]) -> Vec<&str> {
    log.iter().map(|l| l.t.as_str()).collect()
}

#[tokio::test]
async fn back_up_restore_and_delete() {
    let (_s, c) = sim(Profile::Fast).await;
    let before = c.storage_status("pve1", "local").await.unwrap().used.unwrap();
    let options = BackupOptions {
        storage: "local".into(),
        compress: Some("zstd".into()),
        notes_template: Some("{{guestname}} nightly\\nsecond line".into()),
        ..Default::default()
    };
    let task = c.vzdump("pve1", 100, &options).await.unwrap().expect("a task");
    // While the backup runs the VM is locked: other changes are refused.
    let busy = c.vm_update_config("pve1", 100, &pve::ConfigUpdate::new().cores(3)).await.unwrap_err();
    assert_eq!((busy.kind, busy.message.as_str()), (ErrorKind::Locked, "VM is locked (backup)"));
    c.wait_task(&task, WAIT, fast()).await.unwrap();
    let log = c.task_log(&task, 0, 100).await.unwrap();
    let log = lines(&log);
    assert!(log[0].starts_with("INFO: starting new backup job: vzdump 100 "), "{log:?}");
    assert!(log.contains(&"INFO: backup mode: snapshot") && log.contains(&"INFO: status = running"), "{log:?}");
    let archive = log.iter().find_map(|l| l.strip_prefix("INFO: creating vzdump archive '")).unwrap();
    assert!(archive.starts_with("/var/lib/vz/dump/vzdump-qemu-100-") && archive.ends_with(".vma.zst'"), "{archive}");
    assert!(log.iter().any(|l| l.starts_with("INFO:  49% (")), "progress lines: {log:?}");
    assert!(log.iter().any(|l| l.starts_with("INFO: 100% (")), "{log:?}");
    assert_eq!(&log[log.len() - 2..], ["INFO: Backup job finished successfully", "TASK OK"]);
    let backup = c.latest_backup("pve1", "local", 100).await.unwrap().expect("a backup volume");
    assert_eq!(
        archive.trim_end_matches('\''),
        format!("/var/lib/vz/dump/{}", backup.volid.trim_start_matches("local:backup/"))
    );
    assert_eq!(backup.format, "vma.zst");
    // Listings show the first line of the notes; the volume itself all of them.
    assert_eq!(backup.notes.as_deref(), Some("web-01 nightly"));
    let attrs = c.volume("pve1", "local", &backup.volid).await.unwrap();
    assert_eq!(attrs.notes.as_deref(), Some("web-01 nightly\nsecond line"));
    assert!(!attrs.protected);
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
    assert_eq!(lines(&c.task_log(&del, 0, 10).await.unwrap())[0], format!("Removed volume '{}'", backup.volid));
    assert!(c.latest_backup("pve1", "local", 100).await.unwrap().is_none());
    let again = c.delete_volume("pve1", "local", &backup.volid).await.unwrap_err();
    assert_eq!(again.kind, ErrorKind::NotFound);

    // A protected backup: PVE accepts the delete and fails its task.
    let protected = BackupOptions { protected: true, ..options };
    let t = c.vzdump("pve1", 102, &protected).await.unwrap().unwrap();
    c.wait_task(&t, WAIT, fast()).await.unwrap();
    let kept = c.latest_backup("pve1", "local", 102).await.unwrap().unwrap();
    assert!(kept.protected);
    let refused = c.delete_volume("pve1", "local", &kept.volid).await.unwrap().unwrap();
    let err = c.wait_task(&refused, WAIT, fast()).await.unwrap_err();
    let name = kept.volid.trim_start_matches("local:");
    assert_eq!(err.message, format!("cannot remove protected volume '{name}' on 'local'"));
    c.set_volume("pve1", "local", &kept.volid, Some(""), Some(false)).await.unwrap();
    let attrs = c.volume("pve1", "local", &kept.volid).await.unwrap();
    assert_eq!((attrs.notes.as_deref(), attrs.protected), (Some(""), false));
    let del = c.delete_volume("pve1", "local", &kept.volid).await.unwrap().unwrap();
    c.wait_task(&del, WAIT, fast()).await.unwrap();
}

#[tokio::test]
async fn modes_change_power_and_compress_names_the_archive() {
    let (s, c) = sim(Profile::Instant).await;
    let vm = |vmid| c.vm_status("pve1", vmid);
    if vm(100).await.unwrap().status != "running" {
        let t = c.vm_power("pve1", 100, pve::Power::Start).await.unwrap();
        c.wait_task(&t, WAIT, fast()).await.unwrap();
    }
    for (mode, compress, ext) in
        [("snapshot", "0", ".vma"), ("suspend", "lzo", ".vma.lzo"), ("stop", "gzip", ".vma.gz")]
    {
        let uptime_before = vm(100).await.unwrap().uptime.unwrap_or(0);
        let o = BackupOptions {
            storage: "shared-nfs".into(),
            mode: Some(mode.into()),
            compress: Some(compress.into()),
            ..Default::default()
        };
        let t = c.vzdump("pve1", 100, &o).await.unwrap().unwrap();
        c.wait_task(&t, WAIT, fast()).await.unwrap();
        let log = c.task_log(&t, 0, 100).await.unwrap();
        let log = lines(&log);
        assert!(log.contains(&format!("INFO: backup mode: {mode}").as_str()), "{log:?}");
        let archive = log.iter().find_map(|l| l.strip_prefix("INFO: creating vzdump archive '")).unwrap();
        assert!(archive.starts_with("/mnt/pve/shared-nfs/dump/") && archive.ends_with(&format!("{ext}'")), "{archive}");
        let after = vm(100).await.unwrap();
        assert_eq!(after.status, "running", "{mode} puts the VM back");
        match mode {
            "suspend" => {
                assert!(log.contains(&"INFO: suspending guest") && log.contains(&"INFO: resume vm"), "{log:?}")
            }
            "stop" => {
                assert!(log.contains(&"INFO: stopping virtual guest"), "{log:?}");
                assert!(after.uptime.unwrap_or(0) <= uptime_before, "the guest was restarted");
            }
            _ => assert!(!log.iter().any(|l| l.contains("suspending") || l.contains("stopping")), "{log:?}"),
        }
    }
    // A stopped VM is backed up in stop mode and left stopped.
    if vm(102).await.unwrap().status == "running" {
        let t = c.vm_power("pve1", 102, pve::Power::Stop).await.unwrap();
        c.wait_task(&t, WAIT, fast()).await.unwrap();
    }
    let t =
        c.vzdump("pve1", 102, &BackupOptions { storage: "local".into(), ..Default::default() }).await.unwrap().unwrap();
    c.wait_task(&t, WAIT, fast()).await.unwrap();
    let log = c.task_log(&t, 0, 100).await.unwrap();
    let log = lines(&log);
    assert!(
        log.contains(&"INFO: backup mode: stop") && log.contains(&"INFO: stopping kvm after backup task"),
        "{log:?}"
    );
    assert_eq!(vm(102).await.unwrap().status, "stopped");
    // A VM on another node: nothing started, PVE answers "OK".
    assert!(c
        .vzdump("pve2", 100, &BackupOptions { storage: "local".into(), ..Default::default() })
        .await
        .unwrap()
        .is_none());
    drop(s);
}

#[tokio::test]
async fn failures_end_the_task_like_pve() {
    let (s, c) = sim(Profile::Instant).await;
    let on = |storage: &str| BackupOptions { storage: storage.into(), ..Default::default() };
    let fails = |storage: &'static str, vmid: u32| {
        let c = c.clone();
        async move {
            let t = c.vzdump("pve1", vmid, &on(storage)).await.unwrap().unwrap();
            let err = c.wait_task(&t, WAIT, fast()).await.unwrap_err();
            (
                err.message,
                lines(&c.task_log(&t, 0, 100).await.unwrap()).iter().map(|l| l.to_string()).collect::<Vec<_>>(),
            )
        }
    };
    let (msg, _) = fails("local-lvm", 100).await;
    assert_eq!(msg, "could not get storage information for 'local-lvm': can't use storage 'local-lvm' for backups - wrong content type");
    let (msg, _) = fails("nope", 100).await;
    assert!(msg.starts_with("could not activate storage 'nope'"), "{msg}");
    let (msg, log) = fails("local", 999).await;
    assert_eq!(msg, "job errors");
    assert!(log.contains(&"ERROR: Backup of VM 999 failed - unable to find VM '999'".to_owned()), "{log:?}");
    s.sim.set_storage_free("local", 1024);
    let (msg, log) = fails("local", 100).await;
    assert_eq!(msg, "job errors");
    assert!(log.iter().any(|l| l.contains("No space left on device")), "{log:?}");
    assert!(log.contains(&"ERROR: Backup of VM 100 failed - vma_queue_write: write error - Broken pipe".to_owned()));
    assert_eq!(c.vm_status("pve1", 100).await.unwrap().lock, None, "the lock is released");
    // Bad parameters are 400s, nothing started.
    let bad = BackupOptions { notes_template: Some("{{owner}}".into()), ..on("local") };
    let err = c.vzdump("pve1", 100, &bad).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Rejected);
    assert!(err.message.contains("found unknown: variable 'owner'"), "{}", err.message);
}

#[tokio::test]
async fn a_stopped_backup_ends_interrupted_and_puts_the_vm_back() {
    let (_s, c) = sim(Profile::Realistic(0.05)).await;
    let o = BackupOptions { storage: "local".into(), mode: Some("suspend".into()), ..Default::default() };
    let t = c.vzdump("pve1", 100, &o).await.unwrap().unwrap();
    // Wait until it has begun (the VM is paused for the suspend), then stop it.
    let started = async {
        loop {
            if c.task_log(&t, 0, 100).await.unwrap().iter().any(|l| l.t == "INFO: suspending guest") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(WAIT, started).await.expect("the backup begins");
    c.task_stop(&t).await.unwrap();
    let err = c.wait_task(&t, WAIT, fast()).await.unwrap_err();
    assert_eq!(err.message, "interrupted by signal");
    let vm = c.vm_status("pve1", 100).await.unwrap();
    assert_eq!((vm.status.as_str(), vm.lock.as_deref()), ("running", None));
    assert!(c.latest_backup("pve1", "local", 100).await.unwrap().is_none(), "no archive is left");
}

#[tokio::test]
async fn prune_follows_the_retention_and_spares_protected() {
    let (s, c) = sim(Profile::Instant).await;
    s.sim.seed_backups(10);
    let keep = "keep-last=2,keep-weekly=1";
    let preview = c.prune_preview("pve1", "shared-nfs", 100, keep).await.unwrap();
    assert_eq!(preview.len(), 10);
    assert!(preview.iter().all(|m| m.vmid == Some(100)), "vmid 100 only");
    let kept: Vec<&str> = preview.iter().filter(|m| m.mark == "keep").map(|m| m.volid.as_str()).collect();
    assert!(kept.len() >= 2 && kept.len() <= 3, "{kept:?}");
    // Protect one that would go: it stays, and takes no keep slot.
    let doomed = preview.iter().find(|m| m.mark == "remove").unwrap().volid.clone();
    c.set_volume("pve1", "shared-nfs", &doomed, None, Some(true)).await.unwrap();
    let again = c.prune_preview("pve1", "shared-nfs", 100, keep).await.unwrap();
    assert_eq!(again.iter().find(|m| m.volid == doomed).unwrap().mark, "protected");
    assert_eq!(again.iter().filter(|m| m.mark == "keep").count(), kept.len());
    let t = c.prune("pve1", "shared-nfs", 100, keep).await.unwrap();
    c.wait_task(&t, WAIT, fast()).await.unwrap();
    let log = c.task_log(&t, 0, 100).await.unwrap();
    assert_eq!(log.iter().filter(|l| l.t.starts_with("removing backup '")).count(), 10 - kept.len() - 1);
    let left = c.storage_content("pve1", "shared-nfs", Some("backup"), Some(100)).await.unwrap();
    assert_eq!(left.len(), kept.len() + 1);
    // Other guests are untouched; 1000 is not 100.
    assert_eq!(c.storage_content("pve1", "shared-nfs", Some("backup"), Some(101)).await.unwrap().len(), 10);
    assert!(c.storage_content("pve1", "shared-nfs", Some("backup"), Some(1000)).await.unwrap().is_empty());
    for req in [
        storage::prune_preview("pve1", "shared-nfs", 101, keep),
        storage::volume("pve1", "shared-nfs", &left[0].volid),
        storage::content("pve1", "shared-nfs", Some("backup"), None),
        storage::backup_jobs(),
    ] {
        let data = c.call_value(&req).await.unwrap();
        assert!(contract::check_response(req.method.as_str(), req.template, &data).is_empty(), "{}", req.template);
    }
    let jobs = c.backup_jobs().await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert!(jobs[0].covers(100, "pve1", &[]) && !jobs[0].covers(1000, "pve1", &[]));
    let config = c.extract_config("pve1", &left[0].volid).await.unwrap();
    assert!(config.contains("name: web-01") && config.contains("#qmdump#map:scsi0:"), "{config}");
    let unconfigured = c.call_value(&storage::prune_preview("pve1", "local-lvm", 100, keep)).await.unwrap_err();
    assert_eq!(unconfigured.message, "storage 'local-lvm' does not support backups");
}
