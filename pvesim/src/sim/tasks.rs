//! The task engine: a task is registered before its UPID is returned, queues behind the locks
//! it needs, and finishes after the profile's time with its effect; plus the task reads.

use std::collections::BTreeMap;
use std::time::Duration;

use pve_schema::Upid;
use serde_json::{json, Value};

use super::params::req;
use super::{now_ms, now_s, Effect, Failure, Sim, TaskSpec};
use crate::error::SimError;
use crate::state::{Cluster, Task, TaskState};

impl Sim {
    /// Registers a running task (before its UPID is returned, so the first poll finds it) and
    /// finishes it after `wait` + the profile's duration for `work`.
    pub(crate) fn spawn_task(&self, c: &mut Cluster, spec: TaskSpec<'_>, effect: Effect) -> Upid {
        let TaskSpec { node, kind, id, user, work, wait, log, mut stages } = spec;
        let upid = c.new_upid(node, kind, &id, user, now_s());
        let log = log.unwrap_or_else(|| vec![format!("starting {kind} {id}")]);
        let task = Task { upid: upid.clone(), state: TaskState::Running, log, endtime: None };
        c.tasks.insert(upid.as_str().to_owned(), task);
        let duration = wait + self.profile.duration(work);
        // Fault injection: this task will fail midway (its work rolled back).
        let fail = self.faults.hit(|f| f.task_failure_rate);
        let effect: Effect = if fail {
            Box::new(move |c, _| {
                let _ = effect(c, true);
                Err("simulated task failure (fault injection)".into())
            })
        } else {
            effect
        };
        stages.sort_by(|a, b| a.0.total_cmp(&b.0));
        if duration.is_zero() {
            for (_, stage) in stages {
                let lines = stage(c);
                append(c, &upid, lines);
            }
            finish(c, &upid, effect, false);
        } else {
            let sim = self.clone();
            let key = upid.as_str().to_owned();
            let u = upid.clone();
            tokio::spawn(async move {
                // Stages at their moment (after the queueing wait); a stop ends the task at the
                // next one instead of after its whole duration.
                let mut elapsed = Duration::ZERO;
                let mut aborted = false;
                for (at, stage) in stages {
                    let when = wait + self_scaled(duration.saturating_sub(wait), at);
                    tokio::time::sleep(when.saturating_sub(elapsed)).await;
                    elapsed = elapsed.max(when);
                    aborted = sim.aborted.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                    if aborted {
                        break;
                    }
                    let mut c = sim.lock();
                    let lines = stage(&mut c);
                    append(&mut c, &u, lines);
                }
                if !aborted {
                    tokio::time::sleep(duration.saturating_sub(elapsed)).await;
                    aborted = sim.aborted.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
                }
                let mut c = sim.lock();
                finish(&mut c, &u, effect, aborted);
            });
        }
        upid
    }

    /// `DELETE /nodes/{node}/tasks/{upid}`: the task stops with "received interrupt".
    pub fn stop_task(&self, upid: &str) -> Result<(), SimError> {
        let c = self.lock();
        match c.tasks.get(upid) {
            Some(t) if matches!(t.state, TaskState::Running) => {
                self.aborted.lock().unwrap_or_else(|p| p.into_inner()).insert(upid.to_owned());
                Ok(())
            }
            Some(_) => Ok(()),
            None => Err(SimError::param("upid", "no such task")),
        }
    }

    /// How long a new job on `keys` must wait for earlier ones; marks the keys busy until it
    /// is done. A waiter that gives up after `give_up` (a file lock's timeout) and would wait
    /// longer reserves nothing (it never held the keys): `None`.
    pub(crate) fn queue(&self, keys: &[String], work: Duration, give_up: Option<Duration>) -> Option<Duration> {
        let now = now_ms();
        let mut busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        let start = keys.iter().filter_map(|k| busy.get(k)).copied().max().unwrap_or(now).max(now);
        if give_up.is_some_and(|g| Duration::from_millis(start - now) > g) {
            return None;
        }
        let end = start + u64::try_from(work.as_millis()).unwrap_or(0);
        for k in keys {
            busy.insert(k.clone(), end);
        }
        Some(Duration::from_millis(start - now))
    }

    pub fn task_status(&self, p: &BTreeMap<String, String>) -> Result<Value, SimError> {
        let c = self.lock();
        let raw = req(p, "upid")?;
        let upid = Upid::parse(&raw).ok_or_else(|| SimError::param("upid", "unable to parse worker upid"))?;
        let task = c.tasks.get(&raw).ok_or_else(|| SimError::param("upid", "no such task"))?;
        let mut v = json!({
            "upid": raw, "node": upid.node, "pid": upid.pid, "pstart": upid.pstart, "starttime": upid.starttime,
            "type": upid.kind, "id": upid.id, "user": upid.user,
            "status": if matches!(task.state, TaskState::Running) { "running" } else { "stopped" },
        });
        if let TaskState::Stopped(exit) = &task.state {
            v["exitstatus"] = json!(exit);
        }
        Ok(v)
    }

    /// `GET /nodes/{node}/tasks` as pve-manager's `Tasks.pm` answers it: the node's tasks,
    /// `source` archive (finished, the default), active or all (active first), each group newest
    /// first; `vmid`, `typefilter`, `userfilter` (case-insensitive substring), `since`/`until`
    /// (start time) and `errors` (drops only `OK`) narrow it; `start`/`limit` page it. Finished
    /// tasks carry their exit status as `status`, running ones `RUNNING`.
    pub fn node_tasks(&self, p: &BTreeMap<String, String>) -> Result<(Value, usize), SimError> {
        let c = self.read();
        let node = req(p, "node")?;
        if !c.nodes.contains_key(&node) {
            return Err(SimError::param("node", "no such node"));
        }
        if p.contains_key("statusfilter") {
            return Err(SimError::param("statusfilter", "not simulated"));
        }
        let source = p.get("source").map(String::as_str).unwrap_or("archive");
        let vmid = p.get("vmid");
        let kind = p.get("typefilter");
        let user = p.get("userfilter").map(|u| u.to_lowercase());
        let num = |k: &str| p.get(k).and_then(|s| s.parse::<u64>().ok());
        let (since, until) = (num("since"), num("until"));
        let errors_only = p.get("errors").is_some_and(|v| v == "1");
        let start = p.get("start").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
        let limit = p.get("limit").and_then(|s| s.parse::<usize>().ok()).unwrap_or(50);
        let mut tasks: Vec<&Task> = c
            .tasks
            .values()
            .filter(|t| t.upid.node == node)
            .filter(|t| {
                !matches!((&t.state, source), (TaskState::Running, "archive") | (TaskState::Stopped(_), "active"))
            })
            .filter(|t| vmid.is_none_or(|v| &t.upid.id == v))
            .filter(|t| kind.is_none_or(|k| &t.upid.kind == k))
            .filter(|t| user.as_ref().is_none_or(|u| t.upid.user.to_lowercase().contains(u.as_str())))
            .filter(|t| {
                since.is_none_or(|s| u64::from(t.upid.starttime) >= s)
                    && until.is_none_or(|u| u64::from(t.upid.starttime) <= u)
            })
            .filter(|t| !errors_only || !matches!(&t.state, TaskState::Stopped(exit) if exit == "OK"))
            .collect();
        tasks.sort_by_key(|t| {
            (!matches!(t.state, TaskState::Running), std::cmp::Reverse((t.upid.starttime, t.upid.pid)))
        });
        let total = tasks.len();
        let list = tasks
            .into_iter()
            .skip(start)
            .take(limit)
            .map(|t| {
                let u = &t.upid;
                let status = match &t.state {
                    TaskState::Running => "RUNNING",
                    TaskState::Stopped(exit) => exit.as_str(),
                };
                let mut v = json!({
                    "upid": u.as_str(), "node": u.node, "pid": u.pid, "pstart": u.pstart, "starttime": u.starttime,
                    "type": u.kind, "id": u.id, "user": u.user, "status": status,
                });
                if let Some(end) = t.endtime {
                    v["endtime"] = json!(end);
                }
                v
            })
            .collect();
        Ok((Value::Array(list), total))
    }

    pub fn task_log(&self, p: &BTreeMap<String, String>) -> Result<(Value, usize), SimError> {
        let c = self.lock();
        let raw = req(p, "upid")?;
        let task = c.tasks.get(&raw).ok_or_else(|| SimError::param("upid", "no such task"))?;
        let start = p.get("start").and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
        let limit = p.get("limit").and_then(|s| s.parse::<usize>().ok()).unwrap_or(50);
        let lines: Vec<Value> =
            task.log.iter().enumerate().skip(start).take(limit).map(|(i, t)| json!({"n": i + 1, "t": t})).collect();
        Ok((Value::Array(lines), task.log.len()))
    }
}

/// `fraction` of `d`.
fn self_scaled(d: Duration, fraction: f64) -> Duration {
    d.mul_f64(fraction.clamp(0.0, 1.0))
}

fn append(c: &mut Cluster, upid: &Upid, lines: Vec<String>) {
    if let Some(task) = c.tasks.get_mut(upid.as_str()) {
        task.log.extend(lines);
    }
}

fn finish(c: &mut Cluster, upid: &Upid, effect: Effect, aborted: bool) {
    let result = effect(c, aborted);
    if let Some(task) = c.tasks.get_mut(upid.as_str()) {
        match result {
            Ok(lines) => {
                task.log.extend(lines);
                task.log.push("TASK OK".into());
                task.state = TaskState::Stopped("OK".into());
            }
            Err(Failure { lines, status }) => {
                task.log.extend(lines);
                task.log.push(format!("TASK ERROR: {status}"));
                task.state = TaskState::Stopped(status);
            }
        }
        task.endtime = Some(now_s());
    }
}
