//! The audit log: who did what to what, when, from where, and whether it worked. Written by
//! the services as they act (never by the HTTP layer), read by admins.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::auth::Actor;
use crate::{clock, Database, Error, Result};

pub use model::auth::AuditEntry;

/// What to record; `at` and `id` are filled in.
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    pub actor: Option<&'a str>,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub success: bool,
    pub detail: String,
}

impl<'a> Record<'a> {
    /// An action by `actor` on `target` with the outcome of `result`: its error text becomes
    /// the detail of a failure.
    pub fn of<T>(
        actor: &'a Actor,
        action: &'a str,
        target: Option<&'a str>,
        result: &Result<T>,
        detail: String,
    ) -> Self {
        let (success, detail) = match result {
            Ok(_) => (true, detail),
            Err(e) => (false, if detail.is_empty() { e.to_string() } else { format!("{detail}: {e}") }),
        };
        Record { actor: Some(&actor.username), action, target, source_ip: actor.source_ip.as_deref(), success, detail }
    }
}

/// Filters for the audit page and `GET /api/audit`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    /// Exact action, or a prefix ending in `.` (`user.` = every user change).
    pub action: Option<String>,
    pub since: Option<i64>,
    pub until: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    db: Database,
}

impl AuditLog {
    pub fn new(db: Database) -> Self {
        AuditLog { db }
    }

    /// Records an entry. A failure to write the audit log fails the caller: an action that
    /// cannot be audited should be noticed, not silently unrecorded.
    pub async fn record(&self, r: Record<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, target, source_ip, success, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(clock::now_ms())
        .bind(r.actor)
        .bind(r.action)
        .bind(r.target)
        .bind(r.source_ip)
        .bind(i64::from(r.success))
        .bind(r.detail)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Records the outcome of `actor`'s `action` on `target` — the one helper every service
    /// uses for its changes. The target is cut to 128 characters (a refused name may be long);
    /// a failure's error text becomes its detail.
    pub async fn outcome<T>(
        &self,
        actor: &Actor,
        action: &str,
        target: &str,
        result: &Result<T>,
        detail: String,
    ) -> Result<()> {
        let target: String = target.chars().take(128).collect();
        self.record(Record::of(actor, action, Some(&target), result, detail)).await
    }

    /// One page of entries, newest first, and the total matching the filter.
    pub async fn list(&self, filter: &AuditFilter, page: u32, per_page: u32) -> Result<(Vec<AuditEntry>, i64)> {
        let mut clauses = Vec::new();
        let mut binds: Vec<BindValue> = Vec::new();
        if let Some(a) = filter.actor.as_deref().filter(|a| !a.is_empty()) {
            binds.push(BindValue::Text(a.to_owned()));
            clauses.push(format!("actor = ${}", binds.len()));
        }
        if let Some(a) = filter.action.as_deref().filter(|a| !a.is_empty()) {
            if let Some(prefix) = a.strip_suffix('.') {
                binds.push(BindValue::Text(format!("{prefix}.%")));
                clauses.push(format!("action LIKE ${}", binds.len()));
            } else {
                binds.push(BindValue::Text(a.to_owned()));
                clauses.push(format!("action = ${}", binds.len()));
            }
        }
        if let Some(s) = filter.since {
            binds.push(BindValue::Int(s));
            clauses.push(format!("at >= ${}", binds.len()));
        }
        if let Some(u) = filter.until {
            binds.push(BindValue::Int(u));
            clauses.push(format!("at < ${}", binds.len()));
        }
        if let (Some(s), Some(u)) = (filter.since, filter.until) {
            if s > u {
                return Err(Error::validation("since", "since must not be after until"));
            }
        }
        let filter_sql = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };

        let count_sql = format!("SELECT COUNT(*) FROM audit_log{filter_sql}");
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql);
        for b in &binds {
            count = b.bind_scalar(count);
        }
        let total = count.fetch_one(self.db.pool()).await?;

        let limit = i64::from(per_page);
        let offset = i64::from(page.saturating_sub(1)) * limit;
        let sql = format!(
            "SELECT id, at, actor, action, target, source_ip, success, detail FROM audit_log{filter_sql} \
             ORDER BY at DESC, id DESC LIMIT {limit} OFFSET {offset}"
        );
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = b.bind(query);
        }
        let rows = query.fetch_all(self.db.pool()).await?;
        Ok((rows.iter().map(from_row).collect::<Result<_>>()?, total))
    }
}

/// Filter values, bound as parameters (never spliced into the SQL text).
enum BindValue {
    Text(String),
    Int(i64),
}

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;
type AnyScalar<'q> = sqlx::query::QueryScalar<'q, sqlx::Any, i64, sqlx::any::AnyArguments<'q>>;

impl BindValue {
    fn bind<'q>(&self, q: AnyQuery<'q>) -> AnyQuery<'q> {
        match self {
            BindValue::Text(s) => q.bind(s.clone()),
            BindValue::Int(i) => q.bind(*i),
        }
    }

    fn bind_scalar<'q>(&self, q: AnyScalar<'q>) -> AnyScalar<'q> {
        match self {
            BindValue::Text(s) => q.bind(s.clone()),
            BindValue::Int(i) => q.bind(*i),
        }
    }
}

fn from_row(row: &AnyRow) -> Result<AuditEntry> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        source_ip: row.try_get("source_ip")?,
        success: row.try_get::<i64, _>("success")? != 0,
        detail: row.try_get("detail")?,
    })
}
