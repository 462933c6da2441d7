//! One database handle for both dialects. We use sqlx's `Any` driver so every query is written
//! once; the schema keeps to types both dialects decode the same way (BIGINT, TEXT). Each
//! dialect has its own migrations folder with the same schema, embedded in the binary. The hot
//! reads go through the dialect's own driver instead (`reads.rs`), with the same query text.

mod reads;

pub use reads::{Bind, Col, Columns};

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

/// The schema version this binary was built for. Every migration that changes the schema
/// bumps `schema_version.version` to its own number; start-up refuses a newer database.
pub const SCHEMA_VERSION: i64 = 9;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

pub use model::system::Backend;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got {0:?})")]
    UnsupportedUrl(String),
    #[error("cannot create the database folder {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(
        "the database has schema version {found}, but this proxfleet understands only up to \
         {expected}; upgrade proxfleet (or point DATABASE_URL at another database)"
    )]
    SchemaTooNew { found: i64, expected: i64 },
    #[error(
        "usernames must be unique whatever their case, but these users differ only by case: {}; \
         rename or delete all but one of each (in the users table), then start proxfleet again",
        .0.iter().map(|names| names.join(" / ")).collect::<Vec<_>>().join(", ")
    )]
    UsernamesDifferOnlyByCase(Vec<Vec<String>>),
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    /// For the hot reads (`Database::read`).
    reads: reads::ReadPool,
    backend: Backend,
    /// The connection URL, for PostgreSQL's LISTEN connection (never printed: it may hold a
    /// password).
    url: std::sync::Arc<str>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("backend", &self.backend).finish_non_exhaustive()
    }
}

impl Database {
    /// Connects (creating an SQLite file and its folder when missing), without migrating.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let backend = backend_of(url)?;
        let mut url = url.to_owned();
        let mut pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        match backend {
            Backend::Sqlite => {
                if let Some(path) = sqlite_file_path(&url) {
                    if let Some(dir) = Path::new(&path).parent().filter(|d| !d.as_os_str().is_empty()) {
                        std::fs::create_dir_all(dir)
                            .map_err(|source| DbError::CreateDir { path: dir.display().to_string(), source })?;
                    }
                    if !url.contains("mode=") {
                        url.push_str(if url.contains('?') { "&mode=rwc" } else { "?mode=rwc" });
                    }
                }
                let in_memory = url.contains(":memory:");
                // An in-memory database lives and dies with its one connection.
                pool = pool.max_connections(if in_memory { 1 } else { 8 }).after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        // WAL lets readers proceed while one writer commits; the busy timeout
                        // makes concurrent writers wait instead of failing with SQLITE_BUSY.
                        if !in_memory {
                            sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        }
                        sqlx::query("PRAGMA busy_timeout = 5000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        Ok(())
                    })
                });
            }
            Backend::Postgres => {
                pool = pool.max_connections(16);
            }
        }
        let options = AnyConnectOptions::from_str(&url).map_err(DbError::Connect)?;
        let pool = pool.connect_with(options).await.map_err(DbError::Connect)?;
        let reads = reads::ReadPool::open(backend, &url, url.contains(":memory:"))?;
        Ok(Database { pool, reads, backend, url: url.as_str().into() })
    }

    /// Connects and brings the schema up to date, refusing a database from a newer proxfleet.
    pub async fn open(url: &str) -> Result<Self, DbError> {
        let db = Self::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        // Check before migrating: sqlx would otherwise fail with a cryptic "migration N was
        // previously applied but is missing" when a newer proxfleet touched this database.
        if let Some(found) = self.schema_version().await? {
            if found > SCHEMA_VERSION {
                return Err(DbError::SchemaTooNew { found, expected: SCHEMA_VERSION });
            }
            // Migration 8 makes usernames unique ignoring case; names that already clash would
            // make it fail with a bare "UNIQUE constraint failed". Say which ones instead.
            if found < 8 {
                let clashes = self.usernames_differing_only_by_case().await?;
                if !clashes.is_empty() {
                    return Err(DbError::UsernamesDifferOnlyByCase(clashes));
                }
            }
        }
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATIONS.run(&self.pool).await?,
            Backend::Postgres => POSTGRES_MIGRATIONS.run(&self.pool).await?,
        }
        match self.schema_version().await? {
            Some(v) if v == SCHEMA_VERSION => Ok(()),
            found => Err(DbError::SchemaTooNew { found: found.unwrap_or(0), expected: SCHEMA_VERSION }),
        }
    }

    /// Groups of usernames that are equal ignoring (ASCII) case, the only letters usernames have.
    async fn usernames_differing_only_by_case(&self) -> Result<Vec<Vec<String>>, DbError> {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT username FROM users ORDER BY username").fetch_all(&self.pool).await?;
        let mut groups: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for n in names {
            groups.entry(n.to_ascii_lowercase()).or_default().push(n);
        }
        // Sorted here, not by the database: PostgreSQL's collation may order `admin` first.
        Ok(groups
            .into_values()
            .filter(|g| g.len() > 1)
            .map(|mut g| {
                g.sort();
                g
            })
            .collect())
    }

    /// The schema version recorded in the database, or `None` before the first migration.
    pub async fn schema_version(&self) -> Result<Option<i64>, DbError> {
        let exists: bool = match self.backend {
            Backend::Sqlite => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                )
                .fetch_one(&self.pool)
                .await?
                    > 0
            }
            Backend::Postgres => {
                sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'schema_version'",
                )
                .fetch_one(&self.pool)
                .await?
                    > 0
            }
        };
        if !exists {
            return Ok(None);
        }
        let v = sqlx::query_scalar::<_, i64>("SELECT version FROM schema_version WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        Ok(v)
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub async fn close(&self) {
        self.pool.close().await;
        match &self.reads {
            reads::ReadPool::Sqlite(pool) => pool.close().await,
            reads::ReadPool::Postgres(pool) => pool.close().await,
            reads::ReadPool::Any => {}
        }
    }
}

fn backend_of(url: &str) -> Result<Backend, DbError> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(DbError::UnsupportedUrl(url.to_owned()))
    }
}

/// The file an SQLite URL points at (`sqlite://data/x.db` → `data/x.db`), `None` for memory.
fn sqlite_file_path(url: &str) -> Option<String> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        None
    } else {
        Some(path.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_backend_from_url() {
        assert_eq!(backend_of("sqlite://data/p.db").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("sqlite::memory:").ok(), Some(Backend::Sqlite));
        assert_eq!(backend_of("postgres://u@h/db").ok(), Some(Backend::Postgres));
        assert_eq!(backend_of("postgresql://u@h/db").ok(), Some(Backend::Postgres));
        assert!(matches!(backend_of("mysql://x"), Err(DbError::UnsupportedUrl(_))));
    }

    #[test]
    fn finds_sqlite_file_path() {
        assert_eq!(sqlite_file_path("sqlite://data/p.db").as_deref(), Some("data/p.db"));
        assert_eq!(sqlite_file_path("sqlite:///var/lib/p.db?mode=rwc").as_deref(), Some("/var/lib/p.db"));
        assert_eq!(sqlite_file_path("sqlite::memory:"), None);
    }
}
