//! The hot reads through each dialect's own sqlx driver. `Any` (everything else) converts every
//! value of every row into its own representation first; on the whole-fleet reads that was
//! most of the request: fetching and decoding 1,000 server rows took 15.4 ms through `Any` and
//! 5.6 ms through the SQLite driver (`serverbench`, this machine). The query text stays one
//! per statement (`$n` binds, the same SQL for both dialects); only the driver differs, and
//! rows are decoded through `Columns`, so one decoder serves all three.
//!
//! Reads of many rows go one step further (`read_json_rows`): the database builds the rows as
//! one JSON array and serde parses it once. sqlx's SQLite driver hands each row over from its
//! worker thread as a message of its own, and on a thousand rows the wake-ups, not SQLite,
//! were most of the time (perf: 40% in the kernel's futex and scheduler paths).

use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::Row;

use super::{Backend, Database, DbError};

/// A column of a row that the database builds as a JSON object.
#[derive(Debug, Clone, Copy)]
pub enum Col {
    /// Its value as is (a number, a string, null).
    Value(&'static str),
    /// A TEXT column that holds JSON, embedded as JSON (not as a string of it).
    Json(&'static str),
}

impl Col {
    pub fn name(&self) -> &'static str {
        match self {
            Col::Value(n) | Col::Json(n) => n,
        }
    }
}

/// A value bound to a `$n` of a read.
#[derive(Debug, Clone, Copy)]
pub enum Bind<'q> {
    Int(i64),
    Text(&'q str),
}

/// Column access shared by the drivers' rows (rows of many columns come as one JSON text,
/// `read_json_rows`; these are for the scalars around them).
pub trait Columns {
    fn text(&self, col: &str) -> Result<String, sqlx::Error>;
    fn int(&self, col: &str) -> Result<i64, sqlx::Error>;
}

macro_rules! columns {
    ($row:ty) => {
        impl Columns for $row {
            fn text(&self, col: &str) -> Result<String, sqlx::Error> {
                self.try_get(col)
            }
            fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
                self.try_get(col)
            }
        }
    };
}

columns!(sqlx::any::AnyRow);
columns!(SqliteRow);
columns!(PgRow);

/// The typed pool for the hot reads, beside the `Any` pool.
#[derive(Debug, Clone)]
pub(super) enum ReadPool {
    /// An in-memory SQLite database exists only on the `Any` pool's one connection: its reads
    /// stay there.
    Any,
    /// Connections with `query_only` set: nothing on this pool can write.
    Sqlite(SqlitePool),
    /// Sessions with `default_transaction_read_only`: nothing on this pool can write either.
    Postgres(PgPool),
}

impl ReadPool {
    /// Connections open on first use.
    pub(super) fn open(backend: Backend, url: &str, in_memory: bool) -> Result<ReadPool, DbError> {
        Ok(match backend {
            Backend::Sqlite if in_memory => ReadPool::Any,
            Backend::Sqlite => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(DbError::Connect)?
                    .pragma("query_only", "ON")
                    .busy_timeout(Duration::from_secs(5));
                ReadPool::Sqlite(
                    SqlitePoolOptions::new()
                        .max_connections(4)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_lazy_with(options),
                )
            }
            Backend::Postgres => ReadPool::Postgres(
                PgPoolOptions::new().max_connections(8).acquire_timeout(Duration::from_secs(5)).connect_lazy_with(
                    PgConnectOptions::from_str(url)
                        .map_err(DbError::Connect)?
                        .options([("default_transaction_read_only", "on")]),
                ),
            ),
        })
    }
}

macro_rules! bound {
    ($sql:expr, $binds:expr) => {{
        let mut q = sqlx::query($sql);
        for b in $binds {
            q = match *b {
                Bind::Int(i) => q.bind(i),
                Bind::Text(t) => q.bind(t),
            };
        }
        q
    }};
}

impl Database {
    /// A read on a hot path: `sql` with `binds`, each row decoded by `decode`, through the
    /// dialect's own driver.
    pub async fn read<T, E: From<sqlx::Error>>(
        &self,
        sql: &str,
        binds: &[Bind<'_>],
        decode: impl Fn(&dyn Columns) -> Result<T, E>,
    ) -> Result<Vec<T>, E> {
        match &self.reads {
            ReadPool::Sqlite(pool) => bound!(sql, binds).fetch_all(pool).await?.iter().map(|r| decode(r)).collect(),
            ReadPool::Postgres(pool) => bound!(sql, binds).fetch_all(pool).await?.iter().map(|r| decode(r)).collect(),
            ReadPool::Any => bound!(sql, binds).fetch_all(&self.pool).await?.iter().map(|r| decode(r)).collect(),
        }
    }

    /// Rows as objects keyed by column name, built by the database as one JSON array and
    /// parsed into `T` at once: `SELECT … FROM {from}` with `binds`, in `order` (an ORDER BY
    /// list over `from`'s columns). `from` may be a subquery (`(SELECT … LIMIT …) AS page`).
    pub async fn read_json_rows<T: DeserializeOwned>(
        &self,
        cols: &[Col],
        from: &str,
        order: &str,
        binds: &[Bind<'_>],
    ) -> Result<Vec<T>, sqlx::Error> {
        let fields: Vec<String> = cols
            .iter()
            .map(|c| match (self.backend, c) {
                (_, Col::Value(n)) => format!("'{n}', {n}"),
                (Backend::Sqlite, Col::Json(n)) => format!("'{n}', json({n})"),
                (Backend::Postgres, Col::Json(n)) => format!("'{n}', {n}::json"),
            })
            .collect();
        let fields = fields.join(", ");
        let sql = match self.backend {
            // The rows come in order from an ordered subquery rather than through the
            // aggregate's own ORDER BY: SQLite sorts the latter in a temporary B-tree even when
            // an index (such as the one on `name`) already yields that order, which was the
            // largest cost of a 10,000-row read. An aggregate over an ordered subquery keeps
            // its order (SQLite does not flatten such a subquery into an aggregate); the
            // fleet_reads tests check the order on both backends.
            Backend::Sqlite => {
                let names: Vec<&str> = cols.iter().map(Col::name).collect();
                format!(
                    "SELECT json_group_array(json_object({fields})) AS rows FROM (SELECT {} FROM {from} ORDER BY {order})",
                    names.join(", ")
                )
            }
            Backend::Postgres => format!(
                "SELECT COALESCE(json_agg(json_build_object({fields}) ORDER BY {order}), '[]'::json)::text AS rows FROM {from}"
            ),
        };
        let text = self.read(&sql, binds, |r| r.text("rows")).await?;
        let text = text.first().map_or("[]", String::as_str);
        serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    }
}
