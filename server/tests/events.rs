//! Live events over SSE: live delivery, resume with Last-Event-ID, privacy, job progress,
//! headers and the per-user cap.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::time::Duration;

use common::{spawn, spawn_pair_on_postgres, Login, TestServer};
use domain::notifications::{Notification, Severity};
use reqwest::StatusCode;
use serde_json::Value;

/// One parsed SSE event.
#[derive(Debug)]
struct Sse {
    id: i64,
    event: String,
    data: Value,
    retry: Option<u64>,
}

/// Reads events from a stream response as they arrive.
struct Reader {
    resp: reqwest::Response,
    buf: String,
}

impl Reader {
    async fn next(&mut self) -> Sse {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut e = Sse { id: 0, event: String::new(), data: Value::Null, retry: None };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ").or_else(|| line.strip_prefix("id:")) {
                        e.id = v.trim().parse().unwrap();
                    } else if let Some(v) = line.strip_prefix("event: ").or_else(|| line.strip_prefix("event:")) {
                        e.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("retry: ").or_else(|| line.strip_prefix("retry:")) {
                        e.retry = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data: ").or_else(|| line.strip_prefix("data:")) {
                        e.data = serde_json::from_str(v.trim()).unwrap_or(Value::String(v.to_owned()));
                    }
                }
                // Heartbeats are comments; skip them.
                if e.id > 0 {
                    return e;
                }
                continue;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("an event within 10 s")
                .unwrap()
                .expect("stream open");
            self.buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

async fn open(srv: &TestServer, who: &Login, path: &str, last: Option<i64>) -> reqwest::Response {
    let mut req = who.get(&srv.at(path));
    if let Some(id) = last {
        req = req.header("last-event-id", id.to_string());
    }
    req.send().await.unwrap()
}

fn reader(resp: reqwest::Response) -> Reader {
    Reader { resp, buf: String::new() }
}

fn note(user: Option<i64>, title: &str) -> Notification {
    Notification {
        user_id: user,
        kind: "test".into(),
        title: title.into(),
        message: "m".into(),
        details: String::new(),
        severity: Severity::Info,
        job_id: None,
        ..Default::default()
    }
}

#[tokio::test]
async fn notifications_arrive_live_in_the_seed_format_with_ids() {
    let srv = spawn().await;
    let me = srv.login_as("operator").await;
    let resp = open(&srv, &me, "/api/notifications/stream", None).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    assert_eq!(resp.headers()["x-accel-buffering"], "no");
    assert_eq!(resp.headers()["cache-control"], "no-cache");
    let mut stream = reader(resp);
    me.post(&srv.at("/api/test/notification")).send().await.unwrap();
    let e = stream.next().await;
    assert_eq!(e.event, "notification");
    assert_eq!((e.data["type"].as_str(), e.data["title"].as_str()), (Some("notification"), Some("Test notification")));
    assert_eq!(e.retry, Some(3000), "a reconnect hint for EventSource");
    assert!(e.id > 0);
}

#[tokio::test]
async fn a_reconnecting_client_gets_what_it_missed_and_nothing_private_of_others() {
    let srv = spawn().await;
    let me = srv.login_as("operator").await;
    let other = srv.login_as("viewer").await;
    let me_id = srv.services.users.by_username("operator1").await.unwrap().unwrap().id;
    let n = &srv.services.notifications;
    n.create(&note(Some(me_id), "one")).await.unwrap();
    n.create(&note(Some(me_id), "two")).await.unwrap();
    n.create(&note(None, "three (everyone)")).await.unwrap();
    let first = srv
        .services
        .events
        .since(
            &domain::auth::Actor::from_user(
                &srv.services.users.by_username("operator1").await.unwrap().unwrap(),
                domain::auth::AuthMethod::Session,
                None,
            ),
            0,
            10,
        )
        .await
        .unwrap()[0]
        .id;

    // Resume after "one": "two" and "three" are replayed from the database, in order.
    let mut mine = reader(open(&srv, &me, "/api/notifications/stream", Some(first)).await);
    let (a, b) = (mine.next().await, mine.next().await);
    assert_eq!((a.data["title"].as_str(), b.data["title"].as_str()), (Some("two"), Some("three (everyone)")));
    assert!(a.id > first && b.id > a.id);

    // The other user's replay from the start holds only the public one.
    let mut theirs = reader(open(&srv, &other, "/api/notifications/stream", Some(0)).await);
    let e = theirs.next().await;
    assert_eq!(e.data["title"], "three (everyone)");
    // Live: a private notification for me, then a public one; the other user sees only the second.
    n.create(&note(Some(me_id), "private")).await.unwrap();
    n.create(&note(None, "public")).await.unwrap();
    assert_eq!(theirs.next().await.data["title"], "public");
    assert_eq!(mine.next().await.data["title"], "private");
}

#[tokio::test]
async fn job_progress_and_results_stream_to_their_owner() {
    let srv = spawn().await;
    let admin = srv.login_as("admin").await;
    let mut events = reader(open(&srv, &admin, "/api/events", None).await);
    let started: Value = admin.post(&srv.at("/api/test/simple")).send().await.unwrap().json().await.unwrap();
    let job_id: i64 = started["data"]["task_id"].as_str().unwrap().parse().unwrap();
    let mut progress = Vec::new();
    loop {
        let e = events.next().await;
        match e.event.as_str() {
            "job_progress" => progress.push(e.data["progress"].as_i64().unwrap()),
            "job_finished" => {
                assert_eq!((e.data["job_id"].as_i64(), e.data["status"].as_str()), (Some(job_id), Some("succeeded")));
                break;
            }
            _ => {}
        }
    }
    assert_eq!(progress, [33, 66, 100]);
    // The job's notification follows.
    let e = events.next().await;
    assert_eq!((e.event.as_str(), e.data["job_id"].as_i64()), ("notification", Some(job_id)));
}

#[tokio::test]
async fn streams_per_user_are_capped() {
    let srv = spawn().await;
    let me = srv.login_as("viewer").await;
    let mut open_streams = Vec::new();
    for _ in 0..server::api::events::MAX_STREAMS_PER_USER {
        let resp = open(&srv, &me, "/api/events", None).await;
        assert_eq!(resp.status(), StatusCode::OK);
        open_streams.push(resp);
    }
    let refused = open(&srv, &me, "/api/events", None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let other = srv.login_as("operator").await;
    assert_eq!(open(&srv, &other, "/api/events", None).await.status(), StatusCode::OK, "per user, not global");
}

#[tokio::test]
async fn two_instances_on_one_postgres_share_events_and_jobs() {
    let Some((a, b)) = spawn_pair_on_postgres().await else { return };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.services.events.listening() {
        assert!(std::time::Instant::now() < deadline, "B never started listening");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let on_a = a.login_as("admin").await;
    // The same user (same database), listening on instance B.
    let on_b = b.session_for("admin1").await;
    let mut stream = reader(open(&b, &on_b, "/api/events", None).await);
    let created: Value = on_a.post(&a.at("/api/test/notification")).send().await.unwrap().json().await.unwrap();
    let id = created["data"]["id"].as_i64().unwrap();
    let e = stream.next().await;
    assert_eq!((e.event.as_str(), e.data["id"].as_i64()), ("notification", Some(id)), "published on A, heard on B");

    // A job enqueued on A runs exactly once, on whichever instance claims it.
    let started: Value = on_a.post(&a.at("/api/test/simple")).send().await.unwrap().json().await.unwrap();
    let job: i64 = started["data"]["task_id"].as_str().unwrap().parse().unwrap();
    loop {
        let e = stream.next().await;
        if e.event == "job_finished" && e.data["job_id"].as_i64() == Some(job) {
            assert_eq!(e.data["status"], "succeeded");
            break;
        }
    }
    let detail: Value = on_b.get(&b.at(&format!("/api/jobs/{job}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(detail["data"]["attempts"], 1, "claimed once");
    let finished =
        detail["data"]["log"].as_array().unwrap().iter().filter(|l| l["line"] == "finished: succeeded").count();
    assert_eq!(finished, 1, "ran once");
}
