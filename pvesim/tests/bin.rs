//! The `pvesim` binary: starts, prints where it serves, answers with its token, refuses others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use pve::{Auth, ErrorKind, PveClient, PveConfig, TlsMode};

#[tokio::test]
async fn the_binary_serves_a_cluster_with_its_token() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pvesim"))
        .args(["--listen", "127.0.0.1:0", "--nodes", "2", "--vms", "3", "--profile", "instant"])
        .env("PVESIM_TOKEN", "bin-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url =
        line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().trim_end_matches("/api2/json").to_owned();
    let token =
        |secret: &str| Auth::Token { user: "root@pam".into(), token_id: "proxfleet".into(), secret: secret.into() };
    let good = PveClient::new(PveConfig::new(&url, token("bin-secret"), TlsMode::System)).unwrap();
    assert_eq!(good.nodes().await.unwrap().len(), 2);
    let bad = PveClient::new(PveConfig::new(&url, token("nope"), TlsMode::System)).unwrap();
    assert_eq!(bad.nodes().await.unwrap_err().kind, ErrorKind::Auth);
    child.kill().unwrap();
    child.wait().unwrap();

    let refused =
        Command::new(env!("CARGO_BIN_EXE_pvesim")).args(["--token", "x", "--profile", "sometimes"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("unknown timing profile"));
}
