//! The `proxfleet` binary as an operator meets it: help, version, bad configuration, start-up
//! and shutdown on SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_proxfleet");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).env_remove("DATABASE_URL").env_remove("PROXFLEET_CONFIG").output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    for flag in ["--config", "--listen", "--database-url", "--log-format", "DATABASE_URL"] {
        assert!(out.contains(flag), "--help does not mention {flag}:\n{out}");
    }
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("proxfleet {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_configuration_exits_with_a_clear_message_not_a_panic() {
    let cases: &[(&[&str], &str)] = &[
        (&["--listen", "not-an-address"], "--listen"),
        (&["--database-url", "mysql://root:hunter2@db/x"], "DATABASE_URL"),
        (&["--config", "/nonexistent/proxfleet.toml"], "/nonexistent/proxfleet.toml"),
        (&["--log-format", "xml"], "--log-format"),
        (&["--log", "info,[[["], "log filter"),
    ];
    for (args, expected) in cases {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("hunter2"), "a password reached the output: {err}");
    }
}

#[test]
fn an_unreachable_database_fails_start_up_cleanly() {
    let (code, _, err) = run(&["--listen", "127.0.0.1:0", "--database-url", "postgres://nobody:pw@127.0.0.1:1/none"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot connect to the database"), "{err}");
    assert!(!err.contains("panicked") && !err.contains(":pw@"), "{err}");
}

#[test]
fn starts_prints_its_url_and_stops_cleanly_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("pf-cli-{}", std::process::id()));
    let db = format!("sqlite://{}/nested/proxfleet.db", dir.display());
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--database-url", &db, "--log-format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut printed = String::new();
    while !printed.contains("proxfleet is running at") {
        assert!(stdout.read_line(&mut printed).unwrap() > 0, "stdout closed: {printed}");
    }
    assert!(printed.contains("proxfleet is running at http://127.0.0.1:"), "{printed}");
    assert!(dir.join("nested/proxfleet.db").exists(), "the SQLite file and its folder are created");
    // First start: the one-time admin password is printed once, on stdout.
    let otp = printed
        .lines()
        .find_map(|l| l.strip_prefix("First start: created user 'admin' with the one-time password: "))
        .unwrap_or_else(|| panic!("no one-time password printed: {printed}"))
        .trim()
        .to_owned();
    assert!(otp.len() >= 16, "{otp}");

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs = String::from_utf8_lossy(&out.stderr);
    // JSON logs: every line parses, and the clean shutdown is recorded.
    for l in logs.lines().filter(|l| !l.trim().is_empty()) {
        assert!(serde_json::from_str::<serde_json::Value>(l).is_ok(), "not JSON: {l}");
    }
    assert!(logs.contains("shut down cleanly"), "{logs}");
    assert!(!logs.contains(&otp), "the one-time password reached the log");

    // Second start on the same database: no new admin, nothing printed.
    let mut again = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--database-url", &db])
        .env("PROXFLEET_ADMIN_PASSWORD", "ignored on a second start")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(again.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("proxfleet is running at"), "{line}");
    assert!(Command::new("kill").args(["-TERM", &again.id().to_string()]).status().unwrap().success());
    assert_eq!(again.wait().unwrap().code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}
