//! Passwords, session ids and API tokens never reach the logs, even at the most verbose
//! level. Its own test binary: it installs a global log subscriber that captures everything.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{client, spawn};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_appears_in_the_logs_at_trace_level() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let srv = spawn().await;
    let otp = srv.services.auth.ensure_first_admin(None).await.unwrap().unwrap();
    let c = client();
    let login = c.post(srv.at("/login")).json(&json!({"username": "admin", "password": otp})).send().await.unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let new_password = "very secret new passphrase";
    let changed = c
        .post(srv.at("/change-password"))
        .header("cookie", &cookie)
        .header("origin", &srv.url)
        .json(&json!({"current_password": otp, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    let fresh = changed.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let token: serde_json::Value = c
        .post(srv.at("/api/tokens"))
        .header("cookie", &fresh)
        .header("origin", &srv.url)
        .json(&json!({"name": "ci"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = token["data"]["secret"].as_str().unwrap().to_owned();
    let me = c.get(srv.at("/api/current-user?token=x")).bearer_auth(&secret).send().await.unwrap();
    assert_eq!(me.status(), 200);
    // A failed login with a password-like username and password.
    c.post(srv.at("/login")).json(&json!({"username": "admin", "password": "guess-hunter2"})).send().await.unwrap();

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("request"), "the capture works: {logs}");
    let session_secret = fresh.trim_start_matches("pf_session=");
    for (what, secret) in [
        ("one-time password", otp.as_str()),
        ("new password", new_password),
        ("session id", session_secret),
        ("API token", secret.as_str()),
        ("failed password", "guess-hunter2"),
    ] {
        assert!(!logs.contains(secret), "the {what} reached the log");
    }
}
