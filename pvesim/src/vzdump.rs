//! `POST /nodes/{node}/vzdump` for one VM, as pve-manager's `VZDump.pm` runs it (see
//! `docs/research/pve-backups.md` §1): the call only checks its parameters and returns a UPID;
//! storage, lock and retention problems fail the task. The task queues behind the node's
//! global vzdump lock, logs the real `INFO:` lines (progress lines while it runs), changes the
//! VM's power state for `suspend` and `stop` modes and restores it, and writes the archive at
//! the end (named from `compress`, stamped at the start), with notes, protection and pruning.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::calendar::{log_time, stamp};
use crate::error::SimError;
use crate::prune::{marks, Keep, Mark};
use crate::sim::{now_ms, now_s, req, Effect, Failure, Sim, Stage, TaskSpec};
use crate::state::{format_size, Cluster, Vm, GIB, MIB};
use crate::storage::{dump_dir, Backup};
use crate::timing::Work;

/// The variables a notes template may use.
const NOTES_VARS: [&str; 4] = ["cluster", "guestname", "node", "vmid"];

/// PVE's `$verify_notes_template`: one line, `\n` and `\\` the only escapes, known variables.
pub fn check_notes_template(t: &str) -> Result<(), String> {
    if t.contains('\n') {
        return Err("contains a line feed".into());
    }
    let chars: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            match chars.get(i + 1) {
                Some('n') | Some('\\') => i += 2,
                other => {
                    let seq: String = other.map(|c| format!("\\{c}")).unwrap_or_else(|| "\\".into());
                    return Err(format!("found unknown: escape sequence '{seq}' at char {i}"));
                }
            }
            continue;
        }
        if chars[i] == '{' && chars.get(i + 1) == Some(&'{') {
            let rest: String = chars[i + 2..].iter().collect();
            if let Some(end) = rest.find("}}") {
                let name = rest[..end].trim();
                if !NOTES_VARS.contains(&name) {
                    return Err(format!("found unknown: variable '{name}' at char {i}"));
                }
                i += 2 + rest[..end].chars().count() + 2;
                continue;
            }
        }
        i += 1;
    }
    Ok(())
}

/// The notes a template gives for a VM (`{{guestname}}` falls back to `VM <vmid>`).
pub fn render_notes(t: &str, vm: &Vm, node: &str) -> String {
    t.replace("{{guestname}}", &vm.name())
        .replace("{{vmid}}", &vm.vmid.to_string())
        .replace("{{node}}", node)
        .replace("{{cluster}}", "pvesim")
        .replace("\\n", "\n")
        .replace("\\\\", "\\")
}

/// pve-common `render_bytes(x, 1)`: `3.9 GiB`.
fn render_bytes(bytes: f64) -> String {
    let mut v = bytes;
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
        if v < 1024.0 || unit == "TiB" {
            return format!("{v:.1} {unit}");
        }
        v /= 1024.0;
    }
    format!("{v:.1} PiB")
}

/// vzdump's own `format_size` for `archive file size:` (`2.31GB`, `540MB`).
fn archive_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 * 1024.0 {
        format!("{}KB", bytes / 1024)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{}MB", bytes / MIB)
    } else if b < 1024f64.powi(4) {
        format!("{:.2}GB", b / GIB as f64)
    } else {
        format!("{:.2}TB", b / 1024f64.powi(4))
    }
}

/// `compress` → the archive's extension and content `format`.
fn extension(compress: &str) -> &'static str {
    match compress {
        "1" | "lzo" => "vma.lzo",
        "gzip" => "vma.gz",
        "zstd" => "vma.zst",
        _ => "vma",
    }
}

fn quote(v: &str) -> String {
    if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_.,:=/@".contains(c)) {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', "'\\''"))
    }
}

fn job_errors(lines: Vec<String>) -> Failure {
    let mut lines = lines;
    lines.push("INFO: Backup job finished with errors".into());
    Failure { lines, status: "job errors".into() }
}

/// The power state to put back when a backup that changed it ends early.
fn restore_power(c: &mut Cluster, vmid: u32, was_running: bool) {
    if let Some(vm) = c.vms.get_mut(&vmid) {
        vm.lock = None;
        vm.paused = None;
        if vm.running != was_running {
            vm.running = was_running;
            vm.started_at = was_running.then(now_s);
            vm.agent_ready_at = was_running.then(now_ms);
        }
    }
}

impl Sim {
    pub fn vzdump(&self, p: &BTreeMap<String, String>, user: &str) -> Result<Value, SimError> {
        let node = req(p, "node")?;
        if p.contains_key("all") || p.contains_key("pool") {
            return Err(SimError::param("vmid", "only backups of listed guests are simulated"));
        }
        let list = req(p, "vmid")?;
        let ids: Vec<&str> = list.split([',', ';', ' ']).filter(|v| !v.is_empty()).collect();
        let vmid: u32 = match ids.as_slice() {
            [one] => one.parse().map_err(|_| SimError::param("vmid", "value does not look like a valid VM ID list"))?,
            _ => return Err(SimError::param("vmid", "backing up several guests in one task is not simulated")),
        };
        for key in ["notes-template", "protected"] {
            if p.contains_key(key) && !p.contains_key("storage") {
                return Err(SimError::param("storage", format!("missing property required by '{key}'")));
            }
        }
        let template = p.get("notes-template").cloned();
        if let Some(t) = &template {
            check_notes_template(t).map_err(|e| SimError::param("notes-template", e))?;
        }
        let keep = match p.get("prune-backups") {
            Some(text) => Keep::parse(text).map_err(|e| SimError::param("prune-backups", e))?,
            None => Keep { all: true, ..Keep::default() },
        };
        // `remove` defaults to 1 but means nothing while the retention keeps everything.
        let remove = p.get("remove").is_none_or(|r| r != "0") && !keep.all;
        let protected = p.get("protected").is_some_and(|v| v == "1");
        let compress = p.get("compress").cloned().unwrap_or_else(|| "0".into());
        let storage = p.get("storage").cloned().unwrap_or_else(|| "local".into());
        let mut c = self.lock();
        c.node(&node)?;
        // A guest on another node is skipped; with nothing local PVE answers "OK".
        if c.vms.get(&vmid).is_some_and(|vm| vm.node != node) {
            return Ok(json!("OK"));
        }
        let mut cmd = format!("vzdump {vmid}");
        for (k, v) in p.iter().filter(|(k, _)| *k != "vmid") {
            cmd.push_str(&format!(" --{k} {}", quote(v)));
        }
        let now = now_s();
        let start = vec![format!("INFO: starting new backup job: {cmd}")];
        let guest = |vm_running: bool| {
            let mut l = start.clone();
            l.push(format!("INFO: Starting Backup of VM {vmid} (qemu)"));
            l.push(format!("INFO: Backup started at {}", log_time(now)));
            l.push(format!("INFO: status = {}", if vm_running { "running" } else { "stopped" }));
            l
        };
        let fail_at_once = |c: &mut Cluster, log: Vec<String>, failure: Failure| {
            let effect: Effect = Box::new(move |_, _| Err(failure));
            let spec = TaskSpec { log: Some(log), ..TaskSpec::vm(&node, "vzdump", vmid, user, Work::Config) };
            json!(self.spawn_task(c, spec, effect).as_str())
        };
        // Problems PVE finds inside the task, before any archive is written.
        let target = c.storage(&node, &storage).cloned();
        let Some(target) = target else {
            let status = format!(
                "could not activate storage '{storage}': storage '{storage}' does not exist could not get storage \
                 information for '{storage}': storage '{storage}' does not exist"
            );
            return Ok(fail_at_once(&mut c, Vec::new(), status.into()));
        };
        if !target.content.split(',').any(|t| t == "backup") {
            let status = format!(
                "could not get storage information for '{storage}': can't use storage '{storage}' for backups - \
                 wrong content type"
            );
            return Ok(fail_at_once(&mut c, Vec::new(), status.into()));
        }
        let Some(vm) = c.vms.get(&vmid).cloned() else {
            let failure = job_errors(vec![format!("ERROR: Backup of VM {vmid} failed - unable to find VM '{vmid}'")]);
            return Ok(fail_at_once(&mut c, start.clone(), failure));
        };
        if let Some(lock) = &vm.lock {
            let mut lines = vec![format!("ERROR: Backup of VM {vmid} failed - VM is locked ({lock})")];
            lines.push(format!("INFO: Failed at {}", log_time(now)));
            return Ok(fail_at_once(&mut c, guest(vm.running), job_errors(lines)));
        }
        let shared = target.node.is_none();
        let on_storage = |b: &&Backup| {
            b.vmid == vmid && b.storage == storage && (shared || b.node.as_deref() == Some(node.as_str()))
        };
        if !remove && !keep.all {
            let kept = c.backups.iter().filter(on_storage).filter(|b| !b.protected).count();
            if kept >= keep.total() as usize {
                let lines = vec![format!(
                    "ERROR: Backup of VM {vmid} failed - There is a max backup limit of {} enforced by the target \
                     storage or the vzdump parameters. Either increase the limit or delete old backups.",
                    keep.total()
                )];
                return Ok(fail_at_once(&mut c, start.clone(), job_errors(lines)));
            }
        }

        // The backup itself.
        let work = self.profile.duration(Work::Backup);
        let wait = self.queue(&[format!("vzdump:{node}")], work, None).unwrap_or_default();
        let was_running = vm.running;
        let mode =
            if was_running { p.get("mode").cloned().unwrap_or_else(|| "snapshot".into()) } else { "stop".into() };
        let ext = extension(&compress);
        let file = format!("vzdump-qemu-{vmid}-{}.{ext}", stamp(now));
        let volid = format!("{storage}:backup/{file}");
        let path = format!("{}/{file}", dump_dir(&target));
        let disks = vm.disks();
        let total: u64 = disks.iter().map(|d| d.size).sum::<u64>().max(GIB);
        // Compressed size: a sparse guest disk packs to a small part, a little different per VM.
        let size = (total / 12 * (80 + u64::from(vmid % 40)) / 100).max(256 * MIB);
        let notes = template.as_deref().map(|t| render_notes(t, &vm, &node));
        c.vm_mut(&node, vmid)?.lock = Some("backup".into());

        let mut log = Vec::new();
        if !wait.is_zero() {
            log.push("INFO: trying to get global lock - waiting...".into());
        }
        let mut head = guest(was_running);
        if !wait.is_zero() {
            head.insert(1, "INFO: got global lock".into());
        }
        let mut described = vec![];
        if vm.config.contains_key("name") {
            described.push(format!("INFO: VM Name: {}", vm.name()));
        }
        for d in &disks {
            described.push(format!("INFO: include disk '{}' '{}' {}", d.key, d.volume, format_size(d.size)));
        }
        let settings = vec![format!("INFO: backup mode: {mode}"), "INFO: ionice priority: 7".to_owned()];
        if mode == "snapshot" {
            head.extend(described);
            head.extend(settings);
        } else {
            head.extend(settings);
            head.extend(described);
        }
        let agent_boot = self.profile.duration(Work::AgentBoot);
        let m2 = mode.clone();
        let begin: Stage = Box::new(move |c| {
            let mut l = head;
            let vm = c.vms.get_mut(&vmid);
            match (m2.as_str(), vm) {
                ("suspend", Some(vm)) => {
                    l.push("INFO: suspending guest".into());
                    vm.paused = Some("paused");
                }
                ("stop", Some(vm)) if was_running => {
                    l.push("INFO: stopping virtual guest".into());
                    vm.running = true;
                    vm.started_at = Some(now_s());
                    vm.agent_ready_at = None;
                    vm.paused = Some("prelaunch");
                }
                ("stop", Some(vm)) => {
                    vm.running = true;
                    vm.started_at = Some(now_s());
                    vm.paused = Some("prelaunch");
                }
                _ => {}
            }
            l.push(format!("INFO: creating vzdump archive '{path}'"));
            if m2 == "stop" {
                l.push("INFO: starting kvm to execute backup task".into());
            }
            l.push(format!("INFO: started backup task '{:08x}-5f1e-4c2a-9d3b-{:012x}'", now, u64::from(vmid)));
            l
        });
        let m3 = mode.clone();
        let resume: Stage = Box::new(move |c| match (m3.as_str(), c.vms.get_mut(&vmid)) {
            ("suspend", Some(vm)) => {
                vm.paused = None;
                vec!["INFO: resuming VM again after 1 seconds".into()]
            }
            ("stop", Some(vm)) if was_running => {
                vm.paused = None;
                vm.agent_ready_at = Some(now_ms() + u64::try_from(agent_boot.as_millis()).unwrap_or(0));
                vec!["INFO: resuming VM again after 2 seconds".into()]
            }
            _ => vec![],
        });
        let mut stages: Vec<(f64, Stage)> = vec![(0.0, begin), (0.08, resume)];
        let real_secs = 20.0;
        for (at, pct) in [(0.2, 12u64), (0.35, 31), (0.5, 49), (0.65, 66), (0.8, 84), (0.95, 100)] {
            let line = format!(
                "INFO: {pct:>3}% ({} of {}) in {}s, read: {}/s, write: {}/s",
                render_bytes(total as f64 * pct as f64 / 100.0),
                render_bytes(total as f64),
                (at * real_secs) as u64,
                render_bytes(total as f64 / real_secs),
                render_bytes(size as f64 / real_secs),
            );
            let stage: Stage = Box::new(move |_| vec![line]);
            stages.push((at, stage));
        }
        let node2 = node.clone();
        let effect: Effect = Box::new(move |c, aborted| {
            let failed_at = format!("INFO: Failed at {}", log_time(now_s()));
            if aborted {
                restore_power(c, vmid, was_running);
                let lines = vec![format!("ERROR: Backup of VM {vmid} failed - interrupted by signal"), failed_at];
                return Err(Failure { lines, status: "interrupted by signal".into() });
            }
            if c.allocate(&node2, &storage, size).is_err() {
                restore_power(c, vmid, was_running);
                let mut lines = vec![
                    "zstd: error 70 : Write error : cannot write block : No space left on device".to_owned(),
                    "ERROR: vma_queue_write: write error - Broken pipe".into(),
                    "INFO: aborting backup job".into(),
                ];
                if !was_running {
                    lines.push("INFO: stopping kvm after backup task".into());
                }
                lines.push(format!("ERROR: Backup of VM {vmid} failed - vma_queue_write: write error - Broken pipe"));
                lines.push(failed_at);
                return Err(job_errors(lines));
            }
            let config = c.vms.get(&vmid).map(|v| v.config.clone()).unwrap_or_default();
            let ctime = now;
            c.backups.push(Backup {
                volid: volid.clone(),
                storage: storage.clone(),
                node: (!shared).then(|| node2.clone()),
                vmid,
                ctime,
                size,
                format: ext.to_owned(),
                notes: notes.clone(),
                protected,
                config,
            });
            let took = now_s().saturating_sub(now).max(1);
            let mut lines = vec![
                format!("INFO: transferred {:.2} GiB in {took} seconds", total as f64 / GIB as f64),
                format!("INFO: archive file size: {}", archive_size(size)),
            ];
            if notes.is_some() {
                lines.push("INFO: adding notes to backup".into());
            }
            if protected {
                lines.push("INFO: marking backup as protected".into());
            }
            if remove {
                lines.push(format!("INFO: prune older backups with retention: {}", keep.describe()));
                let pruned = c.prune(&node2, &storage, vmid, &keep);
                for v in &pruned {
                    lines.push(format!("INFO: removing backup '{v}'"));
                }
                lines.push(format!("INFO: pruned {} backup(s) not covered by keep-retention policy", pruned.len()));
            }
            if let Some(vm) = c.vms.get_mut(&vmid) {
                vm.lock = None;
                match end_of(&mode, was_running) {
                    End::StopAgain => {
                        lines.push("INFO: stopping kvm after backup task".into());
                        vm.running = false;
                        vm.started_at = None;
                        vm.paused = None;
                    }
                    End::Resume => lines.push("INFO: resume vm".into()),
                    End::Nothing => {}
                }
            }
            let secs = took;
            lines.push(format!(
                "INFO: Finished Backup of VM {vmid} ({:02}:{:02}:{:02})",
                secs / 3600,
                secs % 3600 / 60,
                secs % 60
            ));
            lines.push(format!("INFO: Backup finished at {}", log_time(now_s())));
            lines.push("INFO: Backup job finished successfully".into());
            Ok(lines)
        });
        let spec = TaskSpec { wait, log: Some(log), stages, ..TaskSpec::vm(&node, "vzdump", vmid, user, Work::Backup) };
        Ok(json!(self.spawn_task(&mut c, spec, effect).as_str()))
    }
}

enum End {
    StopAgain,
    Resume,
    Nothing,
}

/// What a successful backup does to the VM at its end.
fn end_of(mode: &str, was_running: bool) -> End {
    match mode {
        "stop" if !was_running => End::StopAgain,
        "suspend" => End::Resume,
        _ => End::Nothing,
    }
}

impl Cluster {
    /// Removes one guest's backups on a storage that `keep` does not cover (protected ones
    /// never); returns their volume ids.
    pub fn prune(&mut self, node: &str, storage: &str, vmid: u32, keep: &Keep) -> Vec<String> {
        let group: Vec<usize> = (0..self.backups.len())
            .filter(|&i| {
                let b = &self.backups[i];
                b.vmid == vmid && b.storage == storage && b.node.as_deref().is_none_or(|n| n == node)
            })
            .collect();
        let list: Vec<(u64, bool)> =
            group.iter().map(|&i| (self.backups[i].ctime, self.backups[i].protected)).collect();
        let doomed: Vec<String> = marks(&list, keep)
            .into_iter()
            .zip(&group)
            .filter(|(m, _)| *m == Mark::Remove)
            .map(|(_, &i)| self.backups[i].volid.clone())
            .collect();
        for volid in &doomed {
            if let Some(i) = self.backups.iter().position(|b| &b.volid == volid) {
                let b = self.backups.remove(i);
                self.release(node, &b.storage, b.size);
            }
        }
        doomed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_templates_are_checked_like_pve() {
        assert!(check_notes_template("{{guestname}} on {{node}} \\n second line \\\\").is_ok());
        assert_eq!(check_notes_template("{{foo}}"), Err("found unknown: variable 'foo' at char 0".into()));
        assert_eq!(check_notes_template("a\\x"), Err("found unknown: escape sequence '\\x' at char 1".into()));
        assert_eq!(check_notes_template("two\nlines"), Err("contains a line feed".into()));
    }

    #[test]
    fn sizes_print_like_vzdump() {
        assert_eq!(render_bytes(3.9 * GIB as f64), "3.9 GiB");
        assert_eq!(render_bytes(512.0), "512.0 B");
        assert_eq!(archive_size(2_480_000_000), "2.31GB");
        assert_eq!(archive_size(540 * MIB), "540MB");
        assert_eq!(extension("0"), "vma");
        assert_eq!(extension("lzo"), "vma.lzo");
    }
}
