//! Jobs through REST on SQLite and PostgreSQL: the old tool's task endpoints, the job list and
//! detail, who sees what, cancel and retry.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::time::{Duration, Instant};

use common::{spawn_each_backend, Login, TestServer};
use reqwest::StatusCode;
use serde_json::Value;

async fn json(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Polls the old tool's status endpoint until the task is no longer pending or running.
async fn until_done(srv: &TestServer, who: &Login, task_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) =
            json(who.get(&srv.at(&format!("/api/tasks/{task_id}/status"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if !matches!(body["status"].as_str(), Some("pending" | "running")) {
            return body;
        }
        assert!(Instant::now() < deadline, "task {task_id} never finished: {body}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn test_jobs_run_and_report_in_the_old_tools_shape() {
    for srv in spawn_each_backend().await {
        let admin = srv.login_as("admin").await;
        let (status, started) = json(admin.post(&srv.at("/api/test/simple")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{started}");
        let ok_id = started["data"]["task_id"].as_str().unwrap().to_owned();
        let done = until_done(&srv, &admin, &ok_id).await;
        assert_eq!(
            (done["status"].as_str(), done["progress"].as_i64()),
            (Some("completed"), Some(100)),
            "{}",
            srv.backend()
        );
        assert_eq!(done["result"]["message"], "test job finished");
        assert_eq!(done["data"]["status"], "completed", "also inside the envelope");

        let (_, started) = json(admin.post(&srv.at("/api/test/error")).send().await.unwrap()).await;
        let err_id = started["data"]["task_id"].as_str().unwrap().to_owned();
        let failed = until_done(&srv, &admin, &err_id).await;
        assert_eq!(
            (failed["status"].as_str(), failed["error"].as_str()),
            (Some("failed"), Some("simulated error (test job)"))
        );
        let (_, by_query) =
            json(admin.get(&srv.at(&format!("/api/tasks/status?task_id={err_id}"))).send().await.unwrap()).await;
        assert_eq!(by_query["status"], "failed");
        let (status, _) = json(admin.get(&srv.at("/api/tasks/status?task_id=abc")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        // The full job: items, log, attempts.
        let (_, detail) = json(admin.get(&srv.at(&format!("/api/jobs/{ok_id}"))).send().await.unwrap()).await;
        assert_eq!(
            (detail["data"]["status"].as_str(), detail["data"]["kind"].as_str()),
            (Some("succeeded"), Some("test.simple"))
        );
        let log: Vec<&str> =
            detail["data"]["log"].as_array().unwrap().iter().map(|l| l["line"].as_str().unwrap()).collect();
        assert_eq!(log, ["step 1: prepare", "step 2: work", "step 3: finish", "finished: succeeded"]);

        let (_, list) = json(admin.get(&srv.at("/api/jobs?status=failed")).send().await.unwrap()).await;
        assert_eq!(list["pagination"]["total"], 1);
        assert_eq!(list["data"][0]["id"].as_i64().unwrap().to_string(), err_id);
        let (status, _) = json(admin.get(&srv.at("/api/jobs?status=exploded")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, by_kind) = json(admin.get(&srv.at("/api/jobs?kind=test.simple")).send().await.unwrap()).await;
        assert_eq!(
            (by_kind["pagination"]["total"].as_i64(), by_kind["data"][0]["kind"].as_str()),
            (Some(1), Some("test.simple"))
        );
        let (_, by_owner) =
            json(admin.get(&srv.at("/api/jobs?owner=admin1&kind=test.error")).send().await.unwrap()).await;
        assert_eq!(by_owner["pagination"]["total"], 1);
        let (_, nobodys) = json(admin.get(&srv.at("/api/jobs?owner=operator")).send().await.unwrap()).await;
        assert_eq!(nobodys["pagination"]["total"], 0);

        // Finished jobs cannot be cancelled; a job without failed items has nothing to retry.
        let (status, _) = json(admin.post(&srv.at(&format!("/api/jobs/{ok_id}/cancel"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (status, _) = json(admin.post(&srv.at(&format!("/api/jobs/{ok_id}/retry"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CONFLICT);

        let (_, queue) = json(admin.get(&srv.at("/api/celery/status")).send().await.unwrap()).await;
        assert_eq!((queue["data"]["workers"].as_i64(), queue["data"]["failed_last_hour"].as_i64()), (Some(4), Some(1)));
        let (_, config) = json(admin.get(&srv.at("/api/tasks/config")).send().await.unwrap()).await;
        assert_eq!(config["data"]["config"]["max_concurrent_tasks"], 4);

        // A user without view_all sees only their own jobs; others' look like no job at all.
        let lone = srv.add_user("lone", "viewer").await;
        srv.services.users.set_role_and_permissions(lone.id, "viewer", &[]).await.unwrap();
        let lone = srv.session_for("lone").await;
        let (_, mine) = json(lone.get(&srv.at("/api/jobs")).send().await.unwrap()).await;
        assert_eq!(mine["pagination"]["total"], 0);
        let (status, _) = json(lone.get(&srv.at(&format!("/api/tasks/{ok_id}/status"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = json(lone.post(&srv.at(&format!("/api/jobs/{ok_id}/cancel"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = json(lone.get(&srv.at("/api/celery/status")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn notifications_over_rest() {
    for srv in spawn_each_backend().await {
        let me = srv.login_as("operator").await;
        let other = srv.login_as("viewer").await;
        let (status, created) = json(me.post(&srv.at("/api/test/notification")).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::CREATED);
        let id = created["data"]["id"].as_i64().unwrap();
        let (_, count) = json(me.get(&srv.at("/api/notifications/unread-count")).send().await.unwrap()).await;
        assert_eq!(count["data"]["count"], 1);
        let (_, list) = json(me.get(&srv.at("/api/notifications")).send().await.unwrap()).await;
        assert_eq!((list["data"][0]["type"].as_str(), list["pagination"]["total"].as_i64()), (Some("test"), Some(1)));
        let (_, latest) = json(me.get(&srv.at("/api/notifications/latest")).send().await.unwrap()).await;
        assert_eq!(latest["data"]["id"], id);
        let (status, _) = json(other.get(&srv.at(&format!("/api/notifications/{id}"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "private to its user");
        let (status, _) = json(me.post(&srv.at(&format!("/api/notifications/{id}/read"))).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        let (_, count) = json(me.get(&srv.at("/api/notifications/unread-count")).send().await.unwrap()).await;
        assert_eq!(count["data"]["count"], 0);
        let (status, _) = json(
            me.request(reqwest::Method::DELETE, &srv.at(&format!("/api/notifications/{id}"))).send().await.unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (_, cleared) = json(me.post(&srv.at("/api/notifications/clear-all")).send().await.unwrap()).await;
        assert_eq!(cleared["data"]["cleared"], 0);
    }
}
