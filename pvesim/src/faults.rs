//! Fault injection, so reliability tests can make the "cluster" misbehave: errors per class of
//! call, added latency, nodes that stop answering, tasks that fail midway. Set at start (flags)
//! or at run time (`PUT /pvesim/faults`, JSON).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::state::Rng;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Probability (0–1) that a read (GET) answers 503, as a busy or restarting pveproxy does.
    pub read_error_rate: f64,
    /// Probability that a write (POST/PUT/DELETE) answers 500 "simulated failure", a
    /// permanent refusal (nothing done).
    pub write_error_rate: f64,
    /// Probability that a write is turned away as a busy cluster does, nothing done: in turn
    /// 503 (pveproxy restarting) and 500 "can't lock file … - got timeout" (a config lock held
    /// too long). Worth trying again.
    pub busy_write_rate: f64,
    /// Probability that a write is carried out but its answer is lost: the caller sees 596
    /// "Connection timed out", as when pveproxy gives up on the node's daemon after it acted.
    pub lost_answer_rate: f64,
    /// When not empty, only writes whose path ends with one of these (e.g. `/clone`) lose
    /// their answers.
    pub lost_answer_only: Vec<String>,
    /// Added before every answer.
    pub latency_ms: u64,
    /// Nodes that stop answering: their calls get 595 (the proxy cannot reach them), they show
    /// `offline` and their VMs `unknown`.
    pub down_nodes: Vec<String>,
    /// When above 0, `down_nodes` go down only once this many clones were asked for (a node
    /// dropping out in the middle of a bulk create).
    pub down_after_clones: u64,
    /// Probability that a task fails midway (its work is rolled back).
    pub task_failure_rate: f64,
}

impl Faults {
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("read_error_rate", self.read_error_rate),
            ("write_error_rate", self.write_error_rate),
            ("busy_write_rate", self.busy_write_rate),
            ("lost_answer_rate", self.lost_answer_rate),
            ("task_failure_rate", self.task_failure_rate),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("{name} must be between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// The live fault settings plus what the simulator received (for tests to assert on).
#[derive(Debug, Clone)]
pub struct FaultState {
    settings: Arc<Mutex<(Faults, Rng)>>,
    pub reads: Arc<AtomicU64>,
    pub writes: Arc<AtomicU64>,
    /// Tickets issued by `/access/ticket` (logins and renewals).
    pub tickets: Arc<AtomicU64>,
    /// Of those, renewals (the current ticket given as the password).
    pub renewals: Arc<AtomicU64>,
    /// Calls received per `METHOD /path` (the concrete path, without `/api2/json`), so tests
    /// can assert how often proxfleet asked for something, e.g. `/cluster/resources`.
    calls: Arc<Mutex<BTreeMap<String, u64>>>,
    busy_turns: Arc<AtomicU64>,
    lost_answers: Arc<AtomicU64>,
    /// Clones asked for so far (for `down_after_clones`).
    clones: Arc<AtomicU64>,
}

impl FaultState {
    pub fn new(faults: Faults, seed: u64) -> FaultState {
        FaultState {
            settings: Arc::new(Mutex::new((faults, Rng::new(seed ^ 0xFA17)))),
            reads: Arc::new(AtomicU64::new(0)),
            writes: Arc::new(AtomicU64::new(0)),
            tickets: Arc::new(AtomicU64::new(0)),
            renewals: Arc::new(AtomicU64::new(0)),
            calls: Arc::default(),
            busy_turns: Arc::default(),
            lost_answers: Arc::default(),
            clones: Arc::default(),
        }
    }

    pub fn get(&self) -> Faults {
        self.settings.lock().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    pub fn set(&self, faults: Faults) -> Result<(), String> {
        faults.validate()?;
        self.settings.lock().unwrap_or_else(|p| p.into_inner()).0 = faults;
        Ok(())
    }

    /// Draws against a probability with the seeded source (deterministic per seed).
    pub fn hit(&self, pick: impl Fn(&Faults) -> f64) -> bool {
        let mut s = self.settings.lock().unwrap_or_else(|p| p.into_inner());
        let p = pick(&s.0);
        p > 0.0 && s.1.unit() < p
    }

    /// Whether a write to `path` may lose its answer (drawn against `lost_answer_rate`).
    pub fn loses_answer(&self, path: &str) -> bool {
        let applies = {
            let only = &self.settings.lock().unwrap_or_else(|p| p.into_inner()).0.lost_answer_only;
            only.is_empty() || only.iter().any(|o| path.ends_with(o.as_str()))
        };
        let lost = applies && self.hit(|f| f.lost_answer_rate);
        if lost {
            self.lost_answers.fetch_add(1, Ordering::Relaxed);
        }
        lost
    }

    /// Alternates true/false: which of the two busy answers a turned-away write gets.
    pub fn busy_turn(&self) -> bool {
        self.busy_turns.fetch_add(1, Ordering::Relaxed).is_multiple_of(2)
    }

    /// How many writes were turned away busy and how many lost their answers so far (for
    /// tests to show the faults were met).
    pub fn injected(&self) -> (u64, u64) {
        (self.busy_turns.load(Ordering::Relaxed), self.lost_answers.load(Ordering::Relaxed))
    }

    pub fn node_down(&self, node: &str) -> bool {
        let s = self.settings.lock().unwrap_or_else(|p| p.into_inner());
        s.0.down_nodes.iter().any(|n| n == node) && self.clones.load(Ordering::Relaxed) >= s.0.down_after_clones
    }

    pub fn count(&self, method: &str, path: &str) {
        let write = method != "GET";
        if write { &self.writes } else { &self.reads }.fetch_add(1, Ordering::Relaxed);
        if method == "POST" && path.ends_with("/clone") {
            self.clones.fetch_add(1, Ordering::Relaxed);
        }
        *self.calls.lock().unwrap_or_else(|p| p.into_inner()).entry(format!("{method} {path}")).or_default() += 1;
    }

    /// How many calls of `METHOD /path` were received so far.
    pub fn calls(&self, method_path: &str) -> u64 {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).get(method_path).copied().unwrap_or(0)
    }

    /// Every `METHOD /path` received so far, with its count.
    pub fn all_calls(&self) -> BTreeMap<String, u64> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
