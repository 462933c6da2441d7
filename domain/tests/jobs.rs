//! Durable jobs on SQLite and PostgreSQL: outcomes, cancel, retry of failed items, resumption
//! after a crash (exactly once), and two runners sharing one queue.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::jobs::{
    wait_finished, FnHandler, JobRunner, JobStatus, JobStore, KeyedLimits, NewJob, RunnerConfig, StepOutcome, Stop,
};
use domain::testing::fresh_databases;
use serde_json::json;
use tokio::sync::Notify;

const WAIT: Duration = Duration::from_secs(20);

fn config(instance: &str) -> RunnerConfig {
    RunnerConfig {
        instance: instance.into(),
        seat: None,
        workers: 2,
        lease: Duration::from_millis(400),
        poll: Duration::from_millis(20),
        max_attempts: 3,
    }
}

fn job(kind: &str, items: &[&str]) -> NewJob {
    NewJob {
        kind: kind.into(),
        params: json!({}),
        owner: "kim".into(),
        items: items.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

#[tokio::test]
async fn steps_items_and_outcomes() {
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let runner = JobRunner::new(store.clone(), config("a"), KeyedLimits::new())
            .register(FnHandler::new("test.ok", |ctx| {
                Box::pin(async move {
                    ctx.plan(3);
                    for s in ["prepare", "work", "finish"] {
                        ctx.step(s, || async { Ok(()) }).await?;
                    }
                    Ok(StepOutcome { result: Some(json!({"answer": 42})) })
                })
            }))
            .register(FnHandler::new("test.fail", |ctx| {
                Box::pin(async move {
                    ctx.plan(3);
                    ctx.step("prepare", || async { Ok(()) }).await?;
                    ctx.step("explode", || async { Err("disk full on local-lvm".to_owned()) }).await?;
                    ctx.step("never", || async { Ok(()) }).await?;
                    Ok(StepOutcome::default())
                })
            }))
            .register(FnHandler::new("test.items", |ctx| {
                Box::pin(async move {
                    let items: Vec<(i64, String)> =
                        ctx.items().await?.into_iter().map(|i| (i.position, i.name)).collect();
                    ctx.plan(items.len());
                    for (pos, name) in items {
                        let failing = name.starts_with("bad");
                        ctx.step(&format!("server {name}"), || async { Ok(()) }).await?;
                        if failing {
                            ctx.item_failed(pos, "clone failed: VM is locked (clone)").await?;
                        } else {
                            ctx.item_ok(pos, Some(&json!({"vmid": 100 + pos}))).await?;
                        }
                    }
                    Ok(StepOutcome::default())
                })
            }));
        let _workers = runner.start();

        let ok = store.enqueue(&job("test.ok", &[])).await.unwrap();
        runner.wake();
        let ok = wait_finished(&store, ok.id, WAIT).await.unwrap();
        assert_eq!(
            (ok.status, ok.progress, ok.steps_done, ok.attempts),
            (JobStatus::Succeeded, 100, 3, 1),
            "{:?}",
            db.backend()
        );
        assert_eq!(ok.result, Some(json!({"answer": 42})));
        let lines: Vec<String> = store.logs(ok.id).await.unwrap().into_iter().map(|l| l.line).collect();
        assert_eq!(lines, ["step 1: prepare", "step 2: work", "step 3: finish", "finished: succeeded"]);

        let failed = store.enqueue(&job("test.fail", &[])).await.unwrap();
        let failed = wait_finished(&store, failed.id, WAIT).await.unwrap();
        assert_eq!(
            (failed.status, failed.error.as_deref(), failed.steps_done),
            (JobStatus::Failed, Some("disk full on local-lvm"), 1)
        );

        let names = ["web-1", "bad-2", "web-3"];
        let bulk = store.enqueue(&job("test.items", &names)).await.unwrap();
        let bulk = wait_finished(&store, bulk.id, WAIT).await.unwrap();
        assert_eq!((bulk.status, bulk.error.as_deref()), (JobStatus::PartiallyFailed, Some("1 of 3 items failed")));
        let items = store.items(bulk.id).await.unwrap();
        assert_eq!(items.iter().map(|i| i.status.as_str()).collect::<Vec<_>>(), ["succeeded", "failed", "succeeded"]);
        assert_eq!(items[0].result, Some(json!({"vmid": 100})));
        assert_eq!(items[1].error.as_deref(), Some("clone failed: VM is locked (clone)"));

        // Retry the failed items only, as a new job linked to the old one.
        let retry = store.retry_failed_items(bulk.id, None, "kim").await.unwrap();
        assert_eq!((retry.retry_of, retry.kind.as_str()), (Some(bulk.id), "test.items"));
        assert_eq!(store.items(retry.id).await.unwrap().iter().map(|i| i.name.as_str()).collect::<Vec<_>>(), ["bad-2"]);
        assert!(
            store.retry_failed_items(ok.id, None, "kim").await.is_err(),
            "nothing to retry in a job that succeeded"
        );
        let retried = wait_finished(&store, retry.id, WAIT).await.unwrap();
        assert_eq!((retried.status, retried.error.as_deref()), (JobStatus::Failed, Some("every item failed")));

        let (queued, running, failed_recently) = store.counts(0).await.unwrap();
        assert_eq!((queued, running, failed_recently), (0, 0, 3));
    }
}

#[tokio::test]
async fn cancel_a_queued_job_at_once_and_a_running_one_at_a_step_boundary() {
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let gate = Arc::new(Notify::new());
        let entered = Arc::new(Notify::new());
        let later_steps = Arc::new(AtomicUsize::new(0));
        let (g, e, l) = (gate.clone(), entered.clone(), later_steps.clone());
        let runner = JobRunner::new(store.clone(), RunnerConfig { workers: 1, ..config("a") }, KeyedLimits::new())
            .register(FnHandler::new("test.slow", move |ctx| {
                let (g, e, l) = (g.clone(), e.clone(), l.clone());
                Box::pin(async move {
                    ctx.plan(2);
                    ctx.step("wait", || async move {
                        e.notify_one();
                        g.notified().await;
                        Ok(())
                    })
                    .await?;
                    ctx.step("after", || async move {
                        l.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .await?;
                    Ok(StepOutcome::default())
                })
            }));
        let queued = store.enqueue(&job("test.slow", &["a"])).await.unwrap();
        assert!(store.request_cancel(queued.id).await.unwrap());
        assert_eq!(store.get(queued.id).await.unwrap().unwrap().status, JobStatus::Cancelled);
        assert_eq!(store.items(queued.id).await.unwrap()[0].status, "cancelled");

        let _workers = runner.start();
        let running = store.enqueue(&job("test.slow", &[])).await.unwrap();
        runner.wake();
        entered.notified().await;
        assert!(store.request_cancel(running.id).await.unwrap());
        gate.notify_one();
        let done = wait_finished(&store, running.id, WAIT).await.unwrap();
        assert_eq!(done.status, JobStatus::Cancelled);
        assert_eq!(later_steps.load(Ordering::SeqCst), 0, "the next step never started");
        assert!(!store.request_cancel(running.id).await.unwrap(), "a finished job cannot be cancelled");
    }
}

#[tokio::test]
async fn a_job_whose_instance_died_is_resumed_and_finishes_exactly_once() {
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let runs: Arc<Mutex<HashMap<&'static str, usize>>> = Arc::default();
        let entered = Arc::new(Notify::new());
        let make = |instance: &str, hang: bool| {
            let (runs, entered) = (runs.clone(), entered.clone());
            JobRunner::new(store.clone(), RunnerConfig { workers: 1, ..config(instance) }, KeyedLimits::new()).register(
                FnHandler::new("test.crash", move |ctx| {
                    let (runs, entered) = (runs.clone(), entered.clone());
                    Box::pin(async move {
                        ctx.plan(3);
                        for step in ["one", "two", "three"] {
                            let (runs, entered) = (runs.clone(), entered.clone());
                            ctx.step(step, || async move {
                                *runs.lock().unwrap().entry(step).or_default() += 1;
                                if hang && step == "two" {
                                    entered.notify_one();
                                    std::future::pending::<()>().await;
                                }
                                Ok(())
                            })
                            .await?;
                        }
                        Ok(StepOutcome::default())
                    })
                }),
            )
        };
        let a = make("instance-a", true);
        let workers_a = a.start();
        let id = store.enqueue(&job("test.crash", &[])).await.unwrap().id;
        a.wake();
        entered.notified().await;
        // Instance A dies in the middle of step two.
        workers_a.abort();
        drop(workers_a);
        let b = make("instance-b", false);
        let _workers_b = b.start();
        let done = wait_finished(&store, id, WAIT).await.unwrap();
        assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2), "{:?}", db.backend());
        let runs = runs.lock().unwrap().clone();
        assert_eq!(runs.get("one"), Some(&1), "a finished step is not repeated");
        assert_eq!(runs.get("two"), Some(&2), "the interrupted step runs again");
        assert_eq!(runs.get("three"), Some(&1));
        let lines: Vec<String> = store.logs(id).await.unwrap().into_iter().map(|l| l.line).collect();
        assert!(
            lines.iter().any(|l| l.starts_with("resumed after an interrupted run (attempt 2), after step 1")),
            "{lines:?}"
        );
    }
}

/// A restarted instance (same seat: host and listen address) takes back at once what its dead
/// run held, its jobs and its concurrency slots, though their leases are long; what another
/// seat holds stays its own.
#[tokio::test]
async fn a_restart_on_the_same_seat_takes_back_its_own_jobs_and_slots_at_once() {
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let entered = Arc::new(Notify::new());
        let make = |seat: &str, hang: bool| {
            let entered = entered.clone();
            let config = RunnerConfig {
                workers: 1,
                lease: Duration::from_secs(600),
                poll: Duration::from_millis(20),
                ..RunnerConfig::seated(seat)
            };
            let limits = KeyedLimits::shared(db.clone(), &config.instance);
            JobRunner::new(store.clone(), config, limits).register(FnHandler::new("test.seat", move |ctx| {
                let entered = entered.clone();
                Box::pin(async move {
                    ctx.step("work", || async move {
                        if hang {
                            entered.notify_one();
                            std::future::pending::<()>().await;
                        }
                        Ok(())
                    })
                    .await?;
                    Ok(StepOutcome::default())
                })
            }))
        };
        let (here, next_door) = ("host-1@127.0.0.1:3000", "host-1@127.0.0.1:30001");
        let first = make(here, true);
        let first_workers = first.start();
        let mine = store.enqueue(&job("test.seat", &[])).await.unwrap().id;
        first.wake();
        entered.notified().await;
        first_workers.abort();
        let other = make(next_door, true);
        let _other_workers = other.start();
        let theirs = store.enqueue(&job("test.seat", &[])).await.unwrap().id;
        other.wake();
        entered.notified().await;
        // Slots the dead run and the live neighbour hold, with leases far from running out.
        for (slot, holder) in [(0, format!("{}#0", first.instance())), (1, format!("{}#0", other.instance()))] {
            sqlx::query("INSERT INTO job_slots (slot_key, slot, holder, lease_until) VALUES ('storage:x', $1, $2, $3)")
                .bind(slot)
                .bind(holder)
                .bind(domain::clock::now_ms() + 600_000)
                .execute(db.pool())
                .await
                .unwrap();
        }

        let again = make(here, false);
        assert_ne!(again.instance(), first.instance(), "each run has its own name");
        let _again_workers = again.start();
        let done = wait_finished(&store, mine, WAIT).await.unwrap();
        assert_eq!((done.status, done.attempts), (JobStatus::Succeeded, 2), "{:?}", db.backend());
        let held = store.get(theirs).await.unwrap().unwrap();
        assert_eq!(
            (held.status, held.lease_owner.as_deref()),
            (JobStatus::Running, Some(other.instance())),
            "the neighbour's job stays its own"
        );
        let holders: Vec<String> = sqlx::query_scalar("SELECT holder FROM job_slots WHERE slot_key = 'storage:x'")
            .fetch_all(db.pool())
            .await
            .unwrap();
        assert_eq!(holders, vec![format!("{}#0", other.instance())], "{:?}", db.backend());
    }
}

/// A run whose lease another instance took (its owner changed under it) stops at its next
/// heartbeat, mid-step, and records nothing over the new owner's run.
#[tokio::test]
async fn a_run_whose_lease_was_taken_stops_at_its_next_heartbeat() {
    /// Says when the step that holds it is dropped (the run stopped).
    struct Stopped(Arc<Notify>);
    impl Drop for Stopped {
        fn drop(&mut self) {
            self.0.notify_one();
        }
    }
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let (entered, stopped) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        let (e, s) = (entered.clone(), stopped.clone());
        let runner = JobRunner::new(store.clone(), RunnerConfig { workers: 1, ..config("a") }, KeyedLimits::new())
            .register(FnHandler::new("test.fenced", move |ctx| {
                let (entered, stopped) = (e.clone(), s.clone());
                Box::pin(async move {
                    ctx.step("hang", || async move {
                        let _held = Stopped(stopped);
                        entered.notify_one();
                        std::future::pending::<()>().await;
                        Ok(())
                    })
                    .await?;
                    Ok(StepOutcome::default())
                })
            }));
        let _workers = runner.start();
        let id = store.enqueue(&job("test.fenced", &[])).await.unwrap().id;
        runner.wake();
        entered.notified().await;
        sqlx::query("UPDATE jobs SET lease_owner = 'b' WHERE id = $1").bind(id).execute(db.pool()).await.unwrap();
        tokio::time::timeout(WAIT, stopped.notified()).await.expect("the run stopped at its heartbeat");
        let job = store.get(id).await.unwrap().unwrap();
        assert_eq!((job.status, job.lease_owner.as_deref()), (JobStatus::Running, Some("b")), "{:?}", db.backend());
    }
}

#[tokio::test]
async fn a_job_that_keeps_dying_fails_with_a_clear_reason() {
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let entered = Arc::new(Notify::new());
        let make = |instance: &str| {
            let entered = entered.clone();
            JobRunner::new(
                store.clone(),
                RunnerConfig { workers: 1, max_attempts: 1, ..config(instance) },
                KeyedLimits::new(),
            )
            .register(FnHandler::new("test.doomed", move |ctx| {
                let entered = entered.clone();
                Box::pin(async move {
                    ctx.step("hang", || async move {
                        entered.notify_one();
                        std::future::pending::<()>().await;
                        Ok(())
                    })
                    .await?;
                    Err(Stop::Failed("unreachable".into()))
                })
            }))
        };
        let a = make("a");
        let wa = a.start();
        let id = store.enqueue(&job("test.doomed", &[])).await.unwrap().id;
        a.wake();
        entered.notified().await;
        wa.abort();
        let _wb = make("b").start();
        let done = wait_finished(&store, id, WAIT).await.unwrap();
        assert_eq!(done.status, JobStatus::Failed);
        assert!(done.error.unwrap().starts_with("gave up after 1 attempts"), "never left running forever");
    }
}

#[tokio::test]
async fn two_runners_share_one_queue_and_every_job_runs_once() {
    for db in fresh_databases().await {
        let store = JobStore::new(db.clone());
        let counts: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
        let make = |instance: &str| {
            let counts = counts.clone();
            JobRunner::new(store.clone(), RunnerConfig { workers: 3, ..config(instance) }, KeyedLimits::new()).register(
                FnHandler::new("test.count", move |ctx| {
                    let counts = counts.clone();
                    Box::pin(async move {
                        let id = ctx.job.id;
                        ctx.step("count", || async move {
                            *counts.lock().unwrap().entry(id).or_default() += 1;
                            Ok(())
                        })
                        .await?;
                        Ok(StepOutcome::default())
                    })
                }),
            )
        };
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(store.enqueue(&job("test.count", &[])).await.unwrap().id);
        }
        let (a, b) = (make("a"), make("b"));
        let (_wa, _wb) = (a.start(), b.start());
        for id in &ids {
            assert_eq!(wait_finished(&store, *id, WAIT).await.unwrap().status, JobStatus::Succeeded);
        }
        let counts = counts.lock().unwrap().clone();
        assert_eq!(counts.len(), 40);
        assert!(counts.values().all(|n| *n == 1), "{:?}: {counts:?}", db.backend());
        // Each job was claimed once, and its lease released when it finished.
        for id in &ids {
            let job = store.get(*id).await.unwrap().unwrap();
            assert_eq!(job.attempts, 1);
            assert!(job.lease_owner.is_none(), "leases are released when jobs finish");
        }
    }
}

/// "At most N per key" holds across instances: a second instance waits for the first's slots,
/// gets one when it is released, and takes over a slot whose holder died (lease ran out).
#[tokio::test]
async fn concurrency_limits_are_shared_between_instances() {
    for db in fresh_databases().await {
        let a = KeyedLimits::shared(db.clone(), "a");
        let b = KeyedLimits::shared(db.clone(), "b");
        let first = a.acquire("storage:pve1/local-lvm", 2).await.unwrap();
        let _second = a.acquire("storage:pve1/local-lvm", 2).await.unwrap();
        assert_eq!(a.available("storage:pve1/local-lvm"), Some(0));
        // B's own semaphore has room, but the database says both slots are A's.
        let (tx, mut got) = tokio::sync::mpsc::channel(1);
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move {
                let permit = b.acquire("storage:pve1/local-lvm", 2).await.unwrap();
                tx.send(()).await.unwrap();
                permit
            })
        };
        // Other keys are independent, also across instances.
        b.acquire("storage:pve2/local-lvm", 2).await.unwrap().release().await;
        // (A bounded look: several of B's polls must pass without it getting a slot.)
        assert!(
            tokio::time::timeout(Duration::from_millis(700), got.recv()).await.is_err(),
            "B must wait while A holds both slots ({:?})",
            db.backend()
        );
        first.release().await;
        tokio::time::timeout(WAIT, got.recv()).await.unwrap().unwrap();
        let held_by_b = waiter.await.unwrap();

        // An instance that died leaves its rows behind; once their lease ran out they are free.
        drop(held_by_b);
        let c = KeyedLimits::shared(db.clone(), "c");
        sqlx::query("UPDATE job_slots SET lease_until = 0 WHERE slot_key = 'storage:pve1/local-lvm'")
            .execute(db.pool())
            .await
            .unwrap();
        let p1 = tokio::time::timeout(WAIT, c.acquire("storage:pve1/local-lvm", 2)).await.unwrap().unwrap();
        let p2 = tokio::time::timeout(WAIT, c.acquire("storage:pve1/local-lvm", 2)).await.unwrap().unwrap();
        let holders: Vec<String> =
            sqlx::query_scalar("SELECT holder FROM job_slots WHERE slot_key = 'storage:pve1/local-lvm' ORDER BY slot")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert!(holders.len() == 2 && holders.iter().all(|h| h.starts_with("c#")), "{holders:?}");
        p1.release().await;
        p2.release().await;
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_slots").fetch_one(db.pool()).await.unwrap();
        assert_eq!(left, 0, "released slots leave no rows");
    }
}
