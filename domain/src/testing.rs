//! Fresh, isolated databases for tests, on every backend the test run provides.
//!
//! SQLite is always there (a new file under the temp dir). PostgreSQL comes from
//! `PROXFLEET_TEST_POSTGRES_URL` (the test command starts a throwaway server and sets it); each
//! call creates a new database on it so tests never see each other's rows. When the variable is
//! missing, PostgreSQL cases are skipped with a note, unless `PROXFLEET_REQUIRE_POSTGRES=1`
//! (set by the test command), which turns a missing server into a failure.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Backend, Database};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}_{}_{}", std::process::id(), crate::clock::now_ms(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A URL for a new, empty database of `backend`, or `None` if that backend is not available.
///
/// # Panics
/// When PostgreSQL is required but unreachable: a test run that promised both backends must
/// not silently test one.
#[allow(clippy::expect_used)]
pub async fn fresh_url(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("proxfleet-tests");
            Some(format!("sqlite://{}/{}.db", dir.display(), unique_name("t")))
        }
        Backend::Postgres => {
            let Ok(admin_url) = std::env::var("PROXFLEET_TEST_POSTGRES_URL") else {
                assert!(
                    std::env::var("PROXFLEET_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                    "PROXFLEET_REQUIRE_POSTGRES=1 but PROXFLEET_TEST_POSTGRES_URL is not set"
                );
                eprintln!("note: PostgreSQL cases skipped (PROXFLEET_TEST_POSTGRES_URL not set)");
                return None;
            };
            let name = unique_name("pf");
            let admin = Database::connect(&admin_url).await.expect("connect to test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.expect("create test database");
            admin.close().await;
            let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b);
            Some(format!("{base}/{name}"))
        }
    }
}

/// Migrated, empty databases: SQLite always, PostgreSQL when available.
#[allow(clippy::expect_used)]
pub async fn fresh_databases() -> Vec<Database> {
    let mut out = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if let Some(url) = fresh_url(backend).await {
            out.push(Database::open(&url).await.expect("open fresh test database"));
        }
    }
    out
}
