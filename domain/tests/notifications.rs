//! Notifications on SQLite and PostgreSQL: per-user read and clear state, privacy, retention,
//! and the notifications jobs and logins send.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::time::Duration;

use domain::auth::{Actor, AuthMethod, Origin};
use domain::iam::CreateUser;
use domain::jobs::{wait_finished, JobRunner, KeyedLimits, RunnerConfig};
use domain::notifications::{Notification, Severity};
use domain::testing::fresh_databases;
use domain::{Error, Services};

const PW: &str = "correct horse battery";

fn note(user_id: Option<i64>, title: &str) -> Notification {
    Notification {
        user_id,
        kind: "test".into(),
        title: title.into(),
        message: "m".into(),
        details: String::new(),
        severity: Severity::Info,
        job_id: None,
        ..Default::default()
    }
}

async fn users(s: &Services) -> (Actor, Actor) {
    s.auth.ensure_first_admin(Some(PW)).await.unwrap();
    let admin = Actor::from_user(&s.users.by_username("admin").await.unwrap().unwrap(), AuthMethod::Session, None);
    s.iam
        .create(
            &admin,
            CreateUser {
                username: "kim".into(),
                password: PW.into(),
                role: Some("viewer".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let kim = Actor::from_user(&s.users.by_username("kim").await.unwrap().unwrap(), AuthMethod::Session, None);
    (admin, kim)
}

#[tokio::test]
async fn read_and_cleared_state_is_per_user_and_private_stays_private() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let (admin, kim) = users(&s).await;
        let n = &s.notifications;
        let broadcast = n.create(&note(None, "maintenance tonight")).await.unwrap();
        let private = n.create(&note(Some(admin.user_id), "your backup failed")).await.unwrap();

        assert_eq!(n.unread_count(&admin).await.unwrap(), 2);
        assert_eq!(n.unread_count(&kim).await.unwrap(), 1);
        assert!(matches!(n.get(&kim, private).await, Err(Error::NotFound(_))), "someone else's is invisible");
        assert!(matches!(n.mark_read(&kim, private).await, Err(Error::NotFound(_))));

        n.mark_read(&kim, broadcast).await.unwrap();
        assert_eq!(n.unread_count(&kim).await.unwrap(), 0);
        assert!(
            !n.get(&admin, broadcast).await.unwrap().is_read,
            "a broadcast read by one stays unread for the others"
        );

        n.delete(&kim, broadcast).await.unwrap();
        assert_eq!(n.list(&kim, 1, 20).await.unwrap().1, 0);
        assert_eq!(n.list(&admin, 1, 20).await.unwrap().1, 2, "deleting a broadcast hides it for that user only");

        assert_eq!(n.clear_all(&admin).await.unwrap(), 2);
        assert_eq!(n.list(&admin, 1, 20).await.unwrap().1, 0);
        let later = n.create(&note(None, "after clearing")).await.unwrap();
        assert_eq!(n.latest(&admin).await.unwrap().unwrap().id, later, "new ones appear after a clear");
    }
}

#[tokio::test]
async fn retention_prunes_old_and_surplus_notifications() {
    for db in fresh_databases().await {
        let s = Services::new(db.clone(), true);
        let (admin, _) = users(&s).await;
        for i in 0..5 {
            s.notifications.create(&note(Some(admin.user_id), &format!("n{i}"))).await.unwrap();
        }
        sqlx::query("UPDATE notifications SET created_at = 0 WHERE title = 'n0'").execute(db.pool()).await.unwrap();
        let pruned = s.notifications.prune(86_400_000, 3).await.unwrap();
        assert_eq!(pruned, 2, "one too old, one over the count ({:?})", db.backend());
        let titles: Vec<String> =
            s.notifications.list(&admin, 1, 20).await.unwrap().0.into_iter().map(|n| n.title).collect();
        assert_eq!(titles, ["n4", "n3", "n2"]);
    }
}

#[tokio::test]
async fn finished_jobs_logins_and_password_changes_notify_the_user() {
    for db in fresh_databases().await {
        let s = Services::new(db, true);
        let (admin, kim) = users(&s).await;
        let runner = domain::jobs::service::register_test_jobs(JobRunner::new(
            s.jobs.store().clone(),
            RunnerConfig { workers: 1, poll: Duration::from_millis(20), ..Default::default() },
            KeyedLimits::new(),
        ))
        .with_wake(s.jobs.waker())
        .with_notifications(s.notifications.clone());
        let _workers = runner.start();
        let job = s.jobs.start_test(&admin, true).await.unwrap();
        wait_finished(s.jobs.store(), job.id, Duration::from_secs(20)).await.unwrap();
        // The notification is written right after the job's final state.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let n = loop {
            if let Some(n) = s.notifications.latest(&admin).await.unwrap().filter(|n| n.job_id == Some(job.id)) {
                break n;
            }
            assert!(tokio::time::Instant::now() < deadline, "no notification for the job");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!((n.kind.as_str(), n.severity), ("job", Severity::Error));
        assert!(n.title.contains(&format!("#{}", job.id)) && n.title.ends_with("failed"), "{}", n.title);
        assert!(n.details.contains("simulated error (test job)"), "the log is in the details: {}", n.details);
        assert!(
            s.notifications.list(&kim, 1, 20).await.unwrap().0.iter().all(|x| x.job_id.is_none()),
            "not sent to others"
        );

        s.auth.login("kim", PW, Origin { ip: Some("203.0.113.5"), user_agent: None }).await.unwrap();
        let login = s.notifications.latest(&kim).await.unwrap().unwrap();
        assert_eq!((login.kind.as_str(), login.message.as_str()), ("login", "Signed in from 203.0.113.5"));
        s.auth.change_own_password(&kim, PW, "another good secret", None, Origin::default()).await.unwrap();
        assert_eq!(s.notifications.latest(&kim).await.unwrap().unwrap().kind, "password");
    }
}

#[tokio::test]
async fn retention_follows_its_settings() {
    use domain::jobs::NewJob;
    use domain::retention::{prune, RetentionPolicy};
    for db in fresh_databases().await {
        let s = Services::new(db.clone(), true);
        let (admin, _) = users(&s).await;
        assert_eq!(RetentionPolicy::from_settings(&s.settings).await.unwrap(), RetentionPolicy::default());
        s.settings.set("retention.job_days", &serde_json::json!(1)).await.unwrap();
        s.settings.set("retention.event_days", &serde_json::json!("junk")).await.unwrap();
        let policy = RetentionPolicy::from_settings(&s.settings).await.unwrap();
        assert_eq!((policy.job_days, policy.event_days), (1, 7), "invalid values keep the default");

        let old = s
            .jobs
            .store()
            .enqueue(&NewJob { kind: "x".into(), owner: "admin".into(), ..Default::default() })
            .await
            .unwrap();
        let fresh = s
            .jobs
            .store()
            .enqueue(&NewJob { kind: "x".into(), owner: "admin".into(), ..Default::default() })
            .await
            .unwrap();
        let running = s
            .jobs
            .store()
            .enqueue(&NewJob { kind: "x".into(), owner: "admin".into(), ..Default::default() })
            .await
            .unwrap();
        s.jobs.store().finish(old.id, domain::jobs::JobStatus::Succeeded, None, None).await.unwrap();
        s.jobs.store().finish(fresh.id, domain::jobs::JobStatus::Succeeded, None, None).await.unwrap();
        sqlx::query("UPDATE jobs SET finished_at = 1 WHERE id = $1").bind(old.id).execute(db.pool()).await.unwrap();
        s.notifications.create(&note(Some(admin.user_id), "old")).await.unwrap();
        sqlx::query("UPDATE notifications SET created_at = 1").execute(db.pool()).await.unwrap();
        sqlx::query("UPDATE events SET at = 1").execute(db.pool()).await.unwrap();

        let pruned = prune(&s).await.unwrap();
        assert_eq!((pruned.jobs, pruned.notifications), (1, 1), "{:?}", db.backend());
        assert!(pruned.events >= 1);
        assert!(s.jobs.store().get(old.id).await.unwrap().is_none());
        assert!(s.jobs.store().get(fresh.id).await.unwrap().is_some(), "recent jobs stay");
        assert!(s.jobs.store().get(running.id).await.unwrap().is_some(), "unfinished jobs are never pruned");
    }
}
