//! The worker pool: claims jobs (with a lease kept alive by a heartbeat), runs the handler for
//! the job's kind, and records the outcome. A job whose instance died is claimed again once its
//! lease expires (at once when the same instance restarts: `RunnerConfig::seat`) and resumes
//! after its last finished step; after too many attempts it fails with a clear reason instead
//! of looping or staying "running" forever. A run whose lease another instance took stops at
//! its next heartbeat.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::limits::KeyedLimits;
use super::store::JobStore;
use super::{Job, JobStatus};
use crate::{Error, Result};

/// How a handler's run ended (when it did not fail or get cancelled).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutcome {
    pub result: Option<Value>,
}

/// Why a run stopped early.
#[derive(Debug)]
pub enum Stop {
    /// Cancelled at a step boundary.
    Cancelled,
    /// The job failed with this message.
    Failed(String),
    /// The database failed under us: the job stays claimed and is resumed later.
    Storage(Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Stop::Storage(e)
    }
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = std::result::Result<StepOutcome, Stop>> + Send + 'a>>;

/// One kind of job. `run` is called again after a crash: write it as `ctx.step` calls, each
/// idempotent, so finished steps are skipped on the second run.
pub trait JobHandler: Send + Sync + 'static {
    fn kind(&self) -> &'static str;
    fn run<'a>(&'a self, ctx: &'a mut JobContext) -> HandlerFuture<'a>;

    /// The audit-log action of this job's changes (`server.delete`), or `None` for a job that
    /// changes nothing worth auditing. When such a job finishes, the runner writes one entry
    /// per item (target: the item's name; outcome: the item's) with the job's owner and id, so
    /// a handler that says what it does is audited without writing a line for it. (Every job
    /// that changes something has items: one per server, pool or role it acts on.)
    fn audit_action(&self, _job: &Job) -> Option<String> {
        None
    }
}

/// What a handler sees while it runs.
pub struct JobContext {
    pub job: Job,
    store: JobStore,
    events: Option<crate::events::EventBus>,
    pub limits: KeyedLimits,
    next_step: i64,
    total_steps: i64,
    failed_items: usize,
    ok_items: usize,
}

impl JobContext {
    /// Declares how many steps the job has, for its progress.
    pub fn plan(&mut self, total_steps: usize) {
        self.total_steps = i64::try_from(total_steps).unwrap_or(1).max(1);
    }

    /// Runs step number N (counted by call order) unless a previous run already finished it.
    /// Checks for cancellation first. A step that fails fails the job.
    pub async fn step<F, Fut>(&mut self, name: &str, f: F) -> std::result::Result<(), Stop>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = std::result::Result<(), String>>,
    {
        let index = self.next_step;
        self.next_step += 1;
        if index < self.job.steps_done {
            return Ok(());
        }
        if self.store.cancel_requested(self.job.id).await? {
            return Err(Stop::Cancelled);
        }
        self.store.set_step(self.job.id, name).await?;
        self.store.log(self.job.id, "info", None, &format!("step {}: {name}", index + 1)).await?;
        f().await.map_err(Stop::Failed)?;
        let done = index + 1;
        let progress = done * 100 / self.total_steps.max(done);
        self.store.step_done(self.job.id, done, progress, name).await?;
        if let Some(bus) = &self.events {
            let payload = serde_json::json!({"type": "job_progress", "job_id": self.job.id, "kind": self.job.kind, "progress": progress, "step": name});
            bus.publish(self.job.owner_id, "job_progress", payload).await?;
        }
        Ok(())
    }

    /// The job's items (the servers of a bulk job), in order.
    pub async fn items(&self) -> std::result::Result<Vec<super::JobItem>, Stop> {
        Ok(self.store.items(self.job.id).await?)
    }

    pub async fn log(&self, line: &str) -> std::result::Result<(), Stop> {
        Ok(self.store.log(self.job.id, "info", None, line).await?)
    }

    /// Records an item's success.
    pub async fn item_ok(&mut self, position: i64, result: Option<&Value>) -> std::result::Result<(), Stop> {
        self.ok_items += 1;
        Ok(self.store.set_item(self.job.id, position, "succeeded", result, None).await?)
    }

    /// Records an item's failure; the job goes on with the others.
    pub async fn item_failed(&mut self, position: i64, error: &str) -> std::result::Result<(), Stop> {
        self.failed_items += 1;
        self.store.log(self.job.id, "error", None, &format!("item {position}: {error}")).await?;
        Ok(self.store.set_item(self.job.id, position, "failed", None, Some(error)).await?)
    }
    /// A handle that concurrent tasks of this job use to record their items (a bulk create
    /// runs servers side by side). Call `tally_items` when they are done.
    pub fn item_recorder(&self) -> ItemRecorder {
        ItemRecorder {
            store: self.store.clone(),
            events: self.events.clone(),
            job_id: self.job.id,
            owner_id: self.job.owner_id,
            kind: self.job.kind.clone(),
        }
    }

    /// Takes the item counts for the job's outcome from the stored item states (which also
    /// covers items finished before a resume).
    pub async fn tally_items(&mut self) -> std::result::Result<(), Stop> {
        let items = self.items().await?;
        self.ok_items = items.iter().filter(|i| i.status == "succeeded").count();
        self.failed_items = items.iter().filter(|i| i.status == "failed" || i.status == "cancelled").count();
        Ok(())
    }
}

/// Records items, log lines and progress of one job from tasks running side by side.
#[derive(Clone)]
pub struct ItemRecorder {
    store: JobStore,
    events: Option<crate::events::EventBus>,
    pub job_id: i64,
    owner_id: Option<i64>,
    kind: String,
}

impl ItemRecorder {
    pub async fn log(&self, item: &str, level: &str, line: &str) -> Result<()> {
        self.store.log(self.job_id, level, Some(item), &format!("{item}: {line}")).await
    }

    /// An item in progress, with what it has done so far (read back after a resume).
    pub async fn running(&self, position: i64, state: &Value) -> Result<()> {
        self.store.set_item(self.job_id, position, "running", Some(state), None).await
    }

    pub async fn ok(&self, position: i64, result: &Value) -> Result<()> {
        self.store.set_item(self.job_id, position, "succeeded", Some(result), None).await?;
        self.progress().await
    }

    pub async fn failed(&self, position: i64, item: &str, error: &str) -> Result<()> {
        self.store.log(self.job_id, "error", Some(item), &format!("{item}: {error}")).await?;
        self.store.set_item(self.job_id, position, "failed", None, Some(error)).await?;
        self.progress().await
    }

    pub async fn cancel_requested(&self) -> Result<bool> {
        self.store.cancel_requested(self.job_id).await
    }

    /// Progress inside one item (a backup's `37%`): the job's progress counts it as that part
    /// of one item; published as a `job_progress` event with `step`.
    pub async fn item_progress(&self, percent: u8, step: &str) -> Result<()> {
        let items = self.store.items(self.job_id).await?;
        let done = items.iter().filter(|i| matches!(i.status.as_str(), "succeeded" | "failed" | "cancelled")).count();
        let total = items.len().max(1);
        let progress = i64::try_from((done * 100 + usize::from(percent.min(100))) / total).unwrap_or(100).min(100);
        self.store.set_progress(self.job_id, progress, step).await?;
        if let Some(bus) = &self.events {
            let payload = serde_json::json!({"type": "job_progress", "job_id": self.job_id, "kind": self.kind, "progress": progress, "step": step});
            bus.publish(self.owner_id, "job_progress", payload).await?;
        }
        Ok(())
    }

    /// Progress = finished items / all items; published as a `job_progress` event.
    async fn progress(&self) -> Result<()> {
        let items = self.store.items(self.job_id).await?;
        let done = items.iter().filter(|i| matches!(i.status.as_str(), "succeeded" | "failed" | "cancelled")).count();
        let total = items.len().max(1);
        let progress = i64::try_from(done * 100 / total).unwrap_or(100);
        let step = format!("{done} of {total} done");
        self.store.set_progress(self.job_id, progress, &step).await?;
        if let Some(bus) = &self.events {
            let payload = serde_json::json!({"type": "job_progress", "job_id": self.job_id, "kind": self.kind, "progress": progress, "step": step});
            bus.publish(self.owner_id, "job_progress", payload).await?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// A name unique per run of an instance (leases are held in its name): `SEAT/BOOT` when
    /// seated, else random.
    pub instance: String,
    /// Where this instance runs, as an opaque digest of e.g. `host-1a2b3c4d@10.0.0.5:3000`
    /// (the host, its network namespace and the address it listens on): something only one
    /// live process holds at a time. On start, jobs and slots still held by an earlier run of
    /// the same seat are freed at once, so a restart after a crash resumes its work without
    /// waiting out the lease. Should two processes ever share a seat, the heartbeat still
    /// fences: a run whose lease was taken stops at its next heartbeat. `None` (no bound
    /// address): only the lease frees them.
    pub seat: Option<String>,
    pub workers: usize,
    /// A claim without a heartbeat for this long is considered dead.
    pub lease: Duration,
    /// How often idle workers look for work (they are also woken on enqueue).
    pub poll: Duration,
    /// Runs (first + resumptions) before a job is failed for good.
    pub max_attempts: i64,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            instance: format!("proxfleet-{}", boot_id()),
            seat: None,
            workers: 4,
            lease: Duration::from_secs(30),
            poll: Duration::from_millis(500),
            max_attempts: 3,
        }
    }
}

impl RunnerConfig {
    /// An instance at `seat` (see the field), named `SEAT/BOOT` with a fresh boot id. The seat
    /// is kept as 16 hex digits of its SHA-256: job answers show the lease holder, and the
    /// host's name and address are not theirs to see.
    pub fn seated(seat: &str) -> Self {
        let seat: String = crate::auth::tokens::digest(seat).chars().take(16).collect();
        RunnerConfig { instance: format!("{seat}/{}", boot_id()), seat: Some(seat), ..Default::default() }
    }
}

/// Eight random hex digits, new on every start.
fn boot_id() -> String {
    crate::auth::tokens::random_secret().get(..8).unwrap_or("x").to_owned()
}

#[derive(Clone)]
pub struct JobRunner {
    notifications: Option<crate::notifications::Notifications>,
    events: Option<crate::events::EventBus>,
    audit: Option<crate::audit::AuditLog>,
    store: JobStore,
    handlers: Arc<HashMap<String, Arc<dyn JobHandler>>>,
    config: RunnerConfig,
    limits: KeyedLimits,
    wake: Arc<Notify>,
}

/// The running workers; aborting them is what a crash looks like to the database.
pub struct RunnerHandle {
    workers: Vec<JoinHandle<()>>,
}

impl RunnerHandle {
    /// Stops every worker at once, mid-step if need be (their jobs keep their leases until
    /// they expire, exactly as when the process dies).
    pub fn abort(&self) {
        for w in &self.workers {
            w.abort();
        }
    }
}

impl Drop for RunnerHandle {
    fn drop(&mut self) {
        self.abort();
    }
}

impl JobRunner {
    pub fn new(store: JobStore, config: RunnerConfig, limits: KeyedLimits) -> Self {
        JobRunner {
            notifications: None,
            events: None,
            audit: None,
            store,
            handlers: Arc::new(HashMap::new()),
            config,
            limits,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Job progress and results go out as live events to the job's owner.
    pub fn with_events(mut self, events: crate::events::EventBus) -> Self {
        self.events = Some(events);
        self
    }

    /// Every finished job notifies its owner, with the summary and the log in `details`.
    pub fn with_notifications(mut self, notifications: crate::notifications::Notifications) -> Self {
        self.notifications = Some(notifications);
        self
    }

    /// Finished jobs whose handler names an `audit_action` are written to this audit log.
    pub fn with_audit(mut self, audit: crate::audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Idle workers also wake on this signal (the job service's, so enqueueing wakes them).
    pub fn with_wake(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    pub fn register(mut self, handler: impl JobHandler) -> Self {
        let mut map: HashMap<String, Arc<dyn JobHandler>> = (*self.handlers).clone();
        map.insert(handler.kind().to_owned(), Arc::new(handler));
        self.handlers = Arc::new(map);
        self
    }

    /// Wakes an idle worker (call after enqueueing).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub fn instance(&self) -> &str {
        &self.config.instance
    }

    pub fn start(&self) -> RunnerHandle {
        let seat_freed = Arc::new(tokio::sync::OnceCell::new());
        let workers = (0..self.config.workers.max(1))
            .map(|_| {
                let (me, seat_freed) = (self.clone(), seat_freed.clone());
                tokio::spawn(async move {
                    // Before the first claim: an earlier run's jobs become claimable now.
                    seat_freed.get_or_init(|| me.release_seat()).await;
                    me.work().await
                })
            })
            .collect();
        RunnerHandle { workers }
    }

    /// Frees what an earlier (dead) run of this seat still holds; a failure only means those
    /// jobs wait for their lease, as without a seat.
    async fn release_seat(&self) {
        let Some(seat) = &self.config.seat else { return };
        let jobs = self.store.release_seat(seat, &self.config.instance).await;
        let slots = self.limits.release_seat(seat).await;
        match (jobs, slots) {
            (Ok(0), Ok(0)) => {}
            (Ok(jobs), Ok(slots)) => {
                tracing::info!(seat, jobs, slots, "resuming the work of this instance's previous run at once")
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(seat, error = %e, "cannot free the previous run's jobs; they resume when their lease ends")
            }
        }
    }

    async fn work(self) {
        let kinds: Vec<String> = self.handlers.keys().cloned().collect();
        let lease_ms = i64::try_from(self.config.lease.as_millis()).unwrap_or(30_000);
        loop {
            match self.store.claim(&self.config.instance, &kinds, lease_ms).await {
                Ok(Some(job)) => self.run(job, lease_ms).await,
                Ok(None) => {
                    let _ = tokio::time::timeout(self.config.poll, self.wake.notified()).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim jobs; retrying");
                    tokio::time::sleep(self.config.poll).await;
                }
            }
        }
    }

    async fn run(&self, job: Job, lease_ms: i64) {
        let id = job.id;
        if job.attempts > self.config.max_attempts {
            let msg = format!(
                "gave up after {} attempts: the instance running this job stopped each time before it finished",
                job.attempts - 1
            );
            let _ = self.store.log(id, "error", None, &msg).await;
            let _ = self.store.finish(id, JobStatus::Failed, None, Some(&msg)).await;
            return;
        }
        if job.attempts > 1 {
            let _ = self
                .store
                .log(
                    id,
                    "warn",
                    None,
                    &format!(
                        "resumed after an interrupted run (attempt {}), after step {}",
                        job.attempts, job.steps_done
                    ),
                )
                .await;
        }
        let Some(handler) = self.handlers.get(&job.kind).cloned() else { return };
        let (owner_id, kind) = (job.owner_id, job.kind.clone());
        let mut ctx = JobContext {
            job,
            store: self.store.clone(),
            events: self.events.clone(),
            limits: self.limits.clone(),
            next_step: 0,
            total_steps: 1,
            failed_items: 0,
            ok_items: 0,
        };
        // The heartbeat runs in this same task, beside the handler: if the worker dies, the
        // lease stops being renewed with it (a separate task could outlive it).
        let every = self.config.lease / 3;
        let outcome = {
            let run = handler.run(&mut ctx);
            tokio::pin!(run);
            loop {
                tokio::select! {
                    out = &mut run => break out,
                    _ = tokio::time::sleep(every) => {
                        match self.store.heartbeat(id, &self.config.instance, lease_ms).await {
                            Ok(true) => {}
                            // Taken over (our lease was freed or ran out): the other instance
                            // runs it now, so this one stops where it is and records nothing.
                            Ok(false) => {
                                tracing::warn!(job = id, "another instance took this job over; stopping it here");
                                return;
                            }
                            Err(e) => tracing::warn!(job = id, error = %e, "cannot renew a job lease"),
                        }
                    }
                }
            }
        };
        let (status, result, error) = match outcome {
            Ok(out) if ctx.failed_items > 0 && ctx.ok_items == 0 => {
                (JobStatus::Failed, out.result, Some("every item failed".to_owned()))
            }
            Ok(out) if ctx.failed_items > 0 => (
                JobStatus::PartiallyFailed,
                out.result,
                Some(format!("{} of {} items failed", ctx.failed_items, ctx.failed_items + ctx.ok_items)),
            ),
            Ok(out) => (JobStatus::Succeeded, out.result, None),
            Err(Stop::Cancelled) => (JobStatus::Cancelled, None, Some("cancelled".to_owned())),
            Err(Stop::Failed(m)) => (JobStatus::Failed, None, Some(m)),
            Err(Stop::Storage(e)) => {
                // Leave it claimed: the lease expires and the job is resumed.
                tracing::error!(job = id, error = %e, "database failure while running a job");
                return;
            }
        };
        let line = match (&status, &error) {
            (JobStatus::Succeeded, _) => "finished: succeeded".to_owned(),
            (s, Some(e)) => format!("finished: {} — {e}", s.as_str()),
            (s, None) => format!("finished: {}", s.as_str()),
        };
        let _ = self.store.log(id, if status == JobStatus::Succeeded { "info" } else { "error" }, None, &line).await;
        if let Err(e) = self.store.finish(id, status, result.as_ref(), error.as_deref()).await {
            tracing::error!(job = id, error = %e, "cannot record a finished job");
            return;
        }
        if let (Some(audit), Some(action)) = (&self.audit, handler.audit_action(&ctx.job)) {
            if let Err(e) = self.audit_items(audit, &ctx.job, &action).await {
                tracing::error!(job = id, error = %e, "cannot write a finished job to the audit log");
            }
        }
        if let Some(bus) = &self.events {
            let payload = serde_json::json!({"type": "job_finished", "job_id": id, "kind": kind, "status": status.as_str(), "error": error});
            if let Err(e) = bus.publish(owner_id, "job_finished", payload).await {
                tracing::warn!(job = id, error = %e, "cannot publish a job's result");
            }
        }
        if let (Some(n), Some(owner)) = (&self.notifications, owner_id) {
            if let Err(e) = self.notify(n, owner, id, &kind, status, &line).await {
                tracing::warn!(job = id, error = %e, "cannot notify the job's owner");
            }
        }
    }

    /// One audit entry per item of a finished job: the item is the target, its outcome the
    /// entry's, and the detail names the job (and the item's error).
    async fn audit_items(&self, audit: &crate::audit::AuditLog, job: &Job, action: &str) -> Result<()> {
        let id = job.id;
        for item in self.store.items(id).await? {
            let detail = match (item.status.as_str(), item.error.as_deref()) {
                ("succeeded", _) => format!("job {id}"),
                (_, Some(e)) => format!("job {id}: {e}"),
                (other, None) => format!("job {id}: {other}"),
            };
            audit
                .record(crate::audit::Record {
                    actor: Some(&job.owner),
                    action,
                    target: Some(&item.name),
                    source_ip: None,
                    success: item.status == "succeeded",
                    detail,
                })
                .await?;
        }
        Ok(())
    }

    async fn notify(
        &self,
        n: &crate::notifications::Notifications,
        owner: i64,
        id: i64,
        kind: &str,
        status: JobStatus,
        summary: &str,
    ) -> Result<()> {
        use crate::notifications::{Notification, Severity};
        let log = self.store.logs(id).await?;
        let details = log
            .iter()
            .map(|l| format!("{} [{}] {}", crate::clock::to_rfc3339(l.at), l.level, l.line))
            .collect::<Vec<_>>()
            .join("\n");
        let severity = match status {
            JobStatus::Succeeded => Severity::Success,
            JobStatus::PartiallyFailed => Severity::Warning,
            JobStatus::Cancelled => Severity::Info,
            _ => Severity::Error,
        };
        n.create(&Notification {
            user_id: Some(owner),
            kind: "job".into(),
            title: format!("Job #{id} ({kind}) {}", status.as_str().replace('_', " ")),
            message: summary.to_owned(),
            details,
            severity,
            job_id: Some(id),
            ..Default::default()
        })
        .await?;
        Ok(())
    }
}

/// Runs a closure-based handler (for trivial kinds and tests).
pub struct FnHandler<F> {
    kind: &'static str,
    f: F,
}

impl<F> FnHandler<F>
where
    F: for<'a> Fn(&'a mut JobContext) -> HandlerFuture<'a> + Send + Sync + 'static,
{
    pub fn new(kind: &'static str, f: F) -> Self {
        FnHandler { kind, f }
    }
}

impl<F> JobHandler for FnHandler<F>
where
    F: for<'a> Fn(&'a mut JobContext) -> HandlerFuture<'a> + Send + Sync + 'static,
{
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn run<'a>(&'a self, ctx: &'a mut JobContext) -> HandlerFuture<'a> {
        (self.f)(ctx)
    }
}

/// Waits until job `id` has finished (polling the store); for tests and synchronous doors.
pub async fn wait_finished(store: &JobStore, id: i64, timeout: Duration) -> Result<Job> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = store.get(id).await?.ok_or_else(|| Error::NotFound(format!("no job {id}")))?;
        if job.status.is_finished() {
            return Ok(job);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Unavailable(format!("job {id} still {} after {:?}", job.status.as_str(), timeout)));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
