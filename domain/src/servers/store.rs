//! The `servers` table: one row per server proxfleet manages.

use serde::Serialize;
use serde_json::Value;
use sqlx::Row;

use crate::clock::now_ms;
use crate::db::Database;
use crate::{Error, Result};

pub use model::servers::{Disk, Nic, Server, ServerStatus};

const COLUMNS: &str = "id, name, vmid, node, status, cores, sockets, memory_mb, disks, nics, role, security_group, os_type, \
     template_vmid, owner_id, owner, tags, description, drift, cpu_permille, mem_used, uptime, synced_at, created_at, updated_at";

fn from_row(r: &sqlx::any::AnyRow) -> Result<Server> {
    let json = |col: &str| -> Result<Value> {
        let text: String = r.try_get(col)?;
        serde_json::from_str(&text).map_err(|e| Error::Internal(format!("servers.{col}: {e}")))
    };
    let vmid: Option<i64> = r.try_get("vmid")?;
    let template: Option<i64> = r.try_get("template_vmid")?;
    let tags: String = r.try_get("tags")?;
    let cpu: i64 = r.try_get("cpu_permille")?;
    Ok(Server {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        vmid: vmid.and_then(|v| u32::try_from(v).ok()),
        node: r.try_get("node")?,
        status: ServerStatus::parse(r.try_get("status")?),
        cores: u32::try_from(r.try_get::<i64, _>("cores")?).unwrap_or(1),
        sockets: u32::try_from(r.try_get::<i64, _>("sockets")?).unwrap_or(1),
        memory_mb: u64::try_from(r.try_get::<i64, _>("memory_mb")?).unwrap_or(0),
        disks: serde_json::from_value(json("disks")?).unwrap_or_default(),
        nics: serde_json::from_value(json("nics")?).unwrap_or_default(),
        role: r.try_get("role")?,
        security_group: r.try_get("security_group")?,
        os_type: r.try_get("os_type")?,
        template_vmid: template.and_then(|v| u32::try_from(v).ok()),
        owner_id: r.try_get("owner_id")?,
        owner: r.try_get("owner")?,
        tags: tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
        description: r.try_get("description")?,
        drift: json("drift")?,
        cpu: cpu as f64 / 1000.0,
        mem_used: u64::try_from(r.try_get::<i64, _>("mem_used")?).unwrap_or(0),
        uptime: u64::try_from(r.try_get::<i64, _>("uptime")?).unwrap_or(0),
        synced_at: r.try_get("synced_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// What the list asks for.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// Only this owner's servers (`None`: everyone's).
    pub owner_id: Option<i64>,
    pub status: Option<String>,
    pub role: Option<String>,
    pub node: Option<String>,
    pub tag: Option<String>,
    pub search: Option<String>,
    /// name, status, node, cores, memory, created
    pub sort: String,
    pub desc: bool,
}

/// A statement with its text binds; when the list is limited to an owner, the first bind is
/// that owner's id, bound as the number the column holds.
fn bound<'q>(
    sql: &'q str,
    binds: &'q [String],
    owner: Option<i64>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for (i, b) in binds.iter().enumerate() {
        q = match owner {
            Some(o) if i == 0 => q.bind(o),
            _ => q.bind(b.as_str()),
        };
    }
    q
}

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[derive(Debug, Clone)]
pub struct ServerStore {
    db: Database,
}

/// Live figures from one `/cluster/resources` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub status: ServerStatus,
    pub node: String,
    pub cpu: f64,
    pub mem_used: u64,
    pub uptime: u64,
    pub drift: Value,
}

impl ServerStore {
    pub fn new(db: Database) -> Self {
        ServerStore { db }
    }

    pub async fn all(&self) -> Result<Vec<Server>> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM servers ORDER BY name")).fetch_all(self.db.pool()).await?;
        rows.iter().map(from_row).collect()
    }

    /// One page of the records matching `f`, filtered, sorted and paged by the database (only
    /// the page is decoded), and how many match in all.
    pub async fn query(&self, f: &ListFilter, page: u32, per_page: u32) -> Result<(Vec<Server>, usize)> {
        let mut clauses: Vec<String> = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        let mut bind = |v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(owner) = f.owner_id {
            clauses.push(format!("owner_id = {}", bind(owner.to_string())));
        }
        for (col, value) in [("status", &f.status), ("role", &f.role), ("node", &f.node)] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                clauses.push(format!("{col} = {}", bind(v.to_owned())));
            }
        }
        if let Some(t) = f.tag.as_deref().filter(|t| !t.is_empty()) {
            clauses.push(format!("(',' || tags || ',') LIKE {} ESCAPE '\\'", bind(format!("%,{},%", like_escape(t)))));
        }
        if let Some(n) = f.search.as_deref().map(|n| n.trim().to_lowercase()).filter(|n| !n.is_empty()) {
            let p = bind(format!("%{}%", like_escape(&n)));
            clauses.push(format!(
                "(LOWER(name) LIKE {p} ESCAPE '\\' OR nics LIKE {p} ESCAPE '\\' OR role LIKE {p} ESCAPE '\\' OR os_type LIKE {p} ESCAPE '\\' \
                 OR tags LIKE {p} ESCAPE '\\' OR LOWER(description) LIKE {p} ESCAPE '\\')"
            ));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let dir = if f.desc { "DESC" } else { "ASC" };
        let order = match f.sort.as_str() {
            "status" => format!("status {dir}, name {dir}"),
            "node" => format!("node {dir}, name {dir}"),
            "cores" => format!("cores * sockets {dir}, name {dir}"),
            "memory" => format!("memory_mb {dir}, name {dir}"),
            "created" => format!("created_at {dir}, name {dir}"),
            _ => format!("name {dir}"),
        };
        let count_sql = format!("SELECT COUNT(*) AS n FROM servers{filter}");
        let total: i64 = bound(&count_sql, &binds, f.owner_id).fetch_one(self.db.pool()).await?.try_get("n")?;
        let limit = i64::from(per_page.max(1));
        let offset = i64::from(page.max(1) - 1) * limit;
        let page_sql = format!("SELECT {COLUMNS} FROM servers{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
        let rows = bound(&page_sql, &binds, f.owner_id).fetch_all(self.db.pool()).await?;
        let servers = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok((servers, usize::try_from(total).unwrap_or(0)))
    }

    /// Distinct values for the list's filters among the records `owner_id` may see:
    /// (nodes, roles, tags).
    pub async fn choices(&self, owner_id: Option<i64>) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
        let (filter, owner) = match owner_id {
            Some(o) => (" WHERE owner_id = $1", Some(o)),
            None => ("", None),
        };
        let mut out: Vec<Vec<String>> = Vec::new();
        for col in ["node", "role", "tags"] {
            let sql = format!("SELECT DISTINCT {col} FROM servers{filter}");
            let mut q = sqlx::query_scalar::<_, Option<String>>(&sql);
            if let Some(o) = owner {
                q = q.bind(o);
            }
            let mut values: Vec<String> = q
                .fetch_all(self.db.pool())
                .await?
                .into_iter()
                .flatten()
                .flat_map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
                .filter(|v| !v.is_empty())
                .collect();
            values.sort();
            values.dedup();
            out.push(values);
        }
        let tags = out.pop().unwrap_or_default();
        let roles = out.pop().unwrap_or_default();
        let nodes = out.pop().unwrap_or_default();
        Ok((nodes, roles, tags))
    }

    pub async fn by_name(&self, name: &str) -> Result<Option<Server>> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM servers WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Inserts a row from what a new server starts with (its name, placement, shape, labels
    /// and owner; live figures, drift and times are the store's); a taken name is a conflict
    /// naming it.
    pub async fn insert(&self, s: &Server) -> Result<Server> {
        let now = now_ms();
        sqlx::query(
            "INSERT INTO servers (name, vmid, node, status, cores, sockets, memory_mb, disks, nics, role, security_group, os_type, \
             template_vmid, owner_id, owner, tags, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)",
        )
        .bind(&s.name)
        .bind(s.vmid.map(i64::from))
        .bind(s.node.clone())
        .bind(s.status.as_str())
        .bind(i64::from(s.cores))
        .bind(i64::from(s.sockets))
        .bind(i64::try_from(s.memory_mb).unwrap_or(i64::MAX))
        .bind(to_json(&s.disks))
        .bind(to_json(&s.nics))
        .bind(&s.role)
        .bind(&s.security_group)
        .bind(&s.os_type)
        .bind(s.template_vmid.map(i64::from))
        .bind(s.owner_id)
        .bind(&s.owner)
        .bind(s.tags.join(","))
        .bind(&s.description)
        .bind(now)
        .execute(self.db.pool())
        .await
        .map_err(|e| match Error::from(e) {
            Error::Conflict(_) => Error::Conflict(format!("a server named {:?} (or with vmid {:?}) already exists", s.name, s.vmid)),
            other => other,
        })?;
        self.by_name(&s.name).await?.ok_or_else(|| Error::Internal("inserted server vanished".into()))
    }

    pub async fn set_vmid(&self, name: &str, vmid: u32, node: &str) -> Result<()> {
        sqlx::query("UPDATE servers SET vmid = $1, node = $2, updated_at = $3 WHERE name = $4")
            .bind(i64::from(vmid))
            .bind(node)
            .bind(now_ms())
            .bind(name)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_status(&self, name: &str, status: ServerStatus) -> Result<()> {
        sqlx::query("UPDATE servers SET status = $1, updated_at = $2 WHERE name = $3")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(name)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The settings proxfleet changed (after a create or a settings change).
    pub async fn set_shape(
        &self,
        name: &str,
        cores: u32,
        sockets: u32,
        memory_mb: u64,
        disks: &[Disk],
        nics: &[Nic],
    ) -> Result<()> {
        sqlx::query("UPDATE servers SET cores = $1, sockets = $2, memory_mb = $3, disks = $4, nics = $5, updated_at = $6 WHERE name = $7")
            .bind(i64::from(cores))
            .bind(i64::from(sockets))
            .bind(i64::try_from(memory_mb).unwrap_or(i64::MAX))
            .bind(to_json(&disks))
            .bind(to_json(&nics))
            .bind(now_ms())
            .bind(name)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    pub async fn set_details(&self, name: &str, description: &str, tags: &[String]) -> Result<()> {
        sqlx::query("UPDATE servers SET description = $1, tags = $2, updated_at = $3 WHERE name = $4")
            .bind(description)
            .bind(tags.join(","))
            .bind(now_ms())
            .bind(name)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Records what Proxmox reported for the server (one UPDATE; the caller compares statuses).
    pub async fn observe(&self, name: &str, o: &Observed) -> Result<()> {
        sqlx::query(
            "UPDATE servers SET status = $1, node = $2, cpu_permille = $3, mem_used = $4, uptime = $5, drift = $6, synced_at = $7 WHERE name = $8",
        )
        .bind(o.status.as_str())
        .bind(&o.node)
        .bind((o.cpu * 1000.0).round() as i64)
        .bind(i64::try_from(o.mem_used).unwrap_or(i64::MAX))
        .bind(i64::try_from(o.uptime).unwrap_or(i64::MAX))
        .bind(o.drift.to_string())
        .bind(now_ms())
        .bind(name)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query("DELETE FROM servers WHERE name = $1").bind(name).execute(self.db.pool()).await?.rows_affected()
            > 0)
    }
}
