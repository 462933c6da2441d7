//! The `servers` table: one row per server proxfleet manages.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sqlx::Row as _;

use crate::clock::now_ms;
use crate::db::{Bind, Col, Database};
use crate::{Error, Result};

pub use model::servers::{Disk, Nic, Server, ServerBrief, ServerStatus};

/// The most names one brief read takes.
pub const MAX_BRIEF_NAMES: usize = 10_000;

/// A server row as the database builds it (`Database::read_json_rows`), column by column.
#[derive(Deserialize)]
struct Row {
    id: i64,
    name: String,
    vmid: Option<i64>,
    node: Option<String>,
    status: String,
    cores: i64,
    sockets: i64,
    memory_mb: i64,
    #[serde(deserialize_with = "lenient")]
    disks: Vec<Disk>,
    #[serde(deserialize_with = "lenient")]
    nics: Vec<Nic>,
    role: String,
    security_group: String,
    os_type: String,
    template_vmid: Option<i64>,
    owner_id: Option<i64>,
    owner: String,
    tags: String,
    description: String,
    drift: Value,
    cpu_permille: i64,
    mem_used: i64,
    uptime: i64,
    synced_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

/// A JSON column of a shape this version does not read (written by hand, or by another
/// version) becomes empty rather than failing the whole read, which would stop every fleet
/// read and the sync over one row.
///
/// The raw text is borrowed from the read's answer, not copied: rows come from
/// `Database::read_json_rows`, which parses one string (`serde_json::from_str`), so every row
/// can point into it; copying each row's column first cost ~15% of a 10,000-row brief read.
fn lenient<'de, D: serde::Deserializer<'de>, T: serde::de::DeserializeOwned + Default>(d: D) -> Result<T, D::Error> {
    let raw = <&serde_json::value::RawValue>::deserialize(d)?;
    Ok(serde_json::from_str(raw.get()).unwrap_or_default())
}

const ROW: &[Col] = &[
    Col::Value("id"),
    Col::Value("name"),
    Col::Value("vmid"),
    Col::Value("node"),
    Col::Value("status"),
    Col::Value("cores"),
    Col::Value("sockets"),
    Col::Value("memory_mb"),
    Col::Json("disks"),
    Col::Json("nics"),
    Col::Value("role"),
    Col::Value("security_group"),
    Col::Value("os_type"),
    Col::Value("template_vmid"),
    Col::Value("owner_id"),
    Col::Value("owner"),
    Col::Value("tags"),
    Col::Value("description"),
    Col::Json("drift"),
    Col::Value("cpu_permille"),
    Col::Value("mem_used"),
    Col::Value("uptime"),
    Col::Value("synced_at"),
    Col::Value("created_at"),
    Col::Value("updated_at"),
];

impl From<Row> for Server {
    fn from(r: Row) -> Server {
        Server {
            id: r.id,
            name: r.name,
            vmid: r.vmid.and_then(|v| u32::try_from(v).ok()),
            node: r.node,
            status: ServerStatus::parse(&r.status),
            cores: u32::try_from(r.cores).unwrap_or(1),
            sockets: u32::try_from(r.sockets).unwrap_or(1),
            memory_mb: u64::try_from(r.memory_mb).unwrap_or(0),
            disks: r.disks,
            nics: r.nics,
            role: r.role,
            security_group: r.security_group,
            os_type: r.os_type,
            template_vmid: r.template_vmid.and_then(|v| u32::try_from(v).ok()),
            owner_id: r.owner_id,
            owner: r.owner,
            tags: r.tags.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect(),
            description: r.description,
            drift: r.drift,
            cpu: r.cpu_permille as f64 / 1000.0,
            mem_used: u64::try_from(r.mem_used).unwrap_or(0),
            uptime: u64::try_from(r.uptime).unwrap_or(0),
            synced_at: r.synced_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
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

fn like_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

#[derive(Debug, Clone)]
pub struct ServerStore {
    db: Database,
    /// Moves with every write through this store (all clones share it), so answers computed
    /// from the records can be kept until they change. Writes by other instances are not
    /// seen here; what is kept is also keyed to the cluster snapshot, which bounds its age.
    version: Arc<AtomicU64>,
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

impl Observed {
    /// The record as it would read after this observation was written.
    pub fn apply_to(&self, s: &mut Server) {
        s.status = self.status;
        if !self.node.is_empty() {
            s.node = Some(self.node.clone());
        }
        s.cpu = (self.cpu * 1000.0).round() / 1000.0;
        s.mem_used = self.mem_used;
        s.uptime = self.uptime;
        s.drift = self.drift.clone();
    }
}

impl ServerStore {
    pub fn new(db: Database) -> Self {
        ServerStore { db, version: Arc::default() }
    }

    /// See `version` on the struct.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Every record `owner_id` may see (all with `None`), by name.
    pub async fn visible(&self, owner_id: Option<i64>) -> Result<Vec<Server>> {
        let rows: Vec<Row> = match owner_id {
            Some(owner) => {
                self.db.read_json_rows(ROW, "servers WHERE owner_id = $1", "name", &[Bind::Int(owner)]).await?
            }
            None => self.db.read_json_rows(ROW, "servers", "name", &[]).await?,
        };
        Ok(rows.into_iter().map(Server::from).collect())
    }

    /// The brief list: the records `owner_id` may see (all with `None`), only those named when
    /// `names` is given, with the six columns it shows.
    pub async fn brief(&self, owner_id: Option<i64>, names: Option<&[String]>) -> Result<Vec<ServerBrief>> {
        /// A NIC's address, the only part of the `nics` column the brief list needs.
        #[derive(Deserialize)]
        struct NicIp {
            ip: Option<String>,
        }
        #[derive(Deserialize)]
        struct BriefRow {
            name: String,
            role: String,
            security_group: String,
            os_type: String,
            #[serde(deserialize_with = "lenient")]
            nics: Vec<NicIp>,
            status: String,
        }
        const BRIEF: &[Col] = &[
            Col::Value("name"),
            Col::Value("role"),
            Col::Value("security_group"),
            Col::Value("os_type"),
            Col::Json("nics"),
            Col::Value("status"),
        ];
        if names.is_some_and(|n| n.len() > MAX_BRIEF_NAMES) {
            return Err(Error::validation("names", format!("at most {MAX_BRIEF_NAMES} names at a time")));
        }
        let mut clauses = Vec::new();
        let mut next = 1;
        if owner_id.is_some() {
            clauses.push("owner_id = $1".to_owned());
            next = 2;
        }
        if let Some(names) = names {
            if names.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = (next..next + names.len()).map(|i| format!("${i}")).collect();
            clauses.push(format!("name IN ({})", list.join(", ")));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) };
        let mut binds: Vec<Bind> = owner_id.map(Bind::Int).into_iter().collect();
        binds.extend(names.unwrap_or_default().iter().map(|n| Bind::Text(n)));
        let rows: Vec<BriefRow> = self.db.read_json_rows(BRIEF, &format!("servers{filter}"), "name", &binds).await?;
        Ok(rows
            .into_iter()
            .map(|r| ServerBrief {
                name: r.name,
                role: r.role,
                security_group: r.security_group,
                os_type: r.os_type,
                ip_addresses: r.nics.into_iter().filter_map(|n| n.ip).collect(),
                status: ServerStatus::parse(&r.status),
            })
            .collect())
    }

    pub async fn all(&self) -> Result<Vec<Server>> {
        self.visible(None).await
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
        // When the list is limited to an owner, the first bind is that owner's id, bound as
        // the number the column holds.
        let binds: Vec<Bind> = binds
            .iter()
            .enumerate()
            .map(|(i, b)| match f.owner_id {
                Some(owner) if i == 0 => Bind::Int(owner),
                _ => Bind::Text(b),
            })
            .collect();
        let total = self.db.read(&count_sql, &binds, |r| r.int("n")).await?.first().copied().unwrap_or(0);
        let limit = i64::from(per_page.max(1));
        let offset = i64::from(page.max(1) - 1) * limit;
        let page = format!("(SELECT * FROM servers{filter} ORDER BY {order} LIMIT {limit} OFFSET {offset}) AS page");
        let rows: Vec<Row> = self.db.read_json_rows(ROW, &page, &order, &binds).await?;
        let servers = rows.into_iter().map(Server::from).collect();
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
        let rows: Vec<Row> =
            self.db.read_json_rows(ROW, "servers WHERE name = $1", "name", &[Bind::Text(name)]).await?;
        Ok(rows.into_iter().next().map(Server::from))
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
        self.changed();
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
        self.changed();
        Ok(())
    }

    pub async fn set_status(&self, name: &str, status: ServerStatus) -> Result<()> {
        sqlx::query("UPDATE servers SET status = $1, updated_at = $2 WHERE name = $3")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(name)
            .execute(self.db.pool())
            .await?;
        self.changed();
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
        self.changed();
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
        self.changed();
        Ok(())
    }

    /// Records what Proxmox reported, all in one transaction (a thousand autocommits would
    /// take a thousand fsyncs). A row is written only if nothing changed it since it was read
    /// (`updated_at` is what every other writer moves), so a job that set a status meanwhile
    /// keeps it; returns, per entry, whether it was written.
    pub async fn observe_all(&self, observed: &[(&Server, Observed)]) -> Result<Vec<bool>> {
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        let mut written = Vec::with_capacity(observed.len());
        for (s, o) in observed {
            let done = sqlx::query(
                "UPDATE servers SET status = $1, node = $2, cpu_permille = $3, mem_used = $4, uptime = $5, drift = $6, synced_at = $7 \
                 WHERE name = $8 AND updated_at = $9",
            )
            .bind(o.status.as_str())
            .bind(&o.node)
            .bind((o.cpu * 1000.0).round() as i64)
            .bind(i64::try_from(o.mem_used).unwrap_or(i64::MAX))
            .bind(i64::try_from(o.uptime).unwrap_or(i64::MAX))
            .bind(o.drift.to_string())
            .bind(now)
            .bind(&s.name)
            .bind(s.updated_at)
            .execute(&mut *tx)
            .await?;
            written.push(done.rows_affected() > 0);
        }
        tx.commit().await?;
        if written.contains(&true) {
            self.changed();
        }
        Ok(written)
    }

    pub async fn delete(&self, name: &str) -> Result<bool> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM server_firewall_groups WHERE server_name = $1").bind(name).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM server_firewall_state WHERE server_name = $1").bind(name).execute(&mut *tx).await?;
        let done = sqlx::query("DELETE FROM servers WHERE name = $1").bind(name).execute(&mut *tx).await?;
        tx.commit().await?;
        self.changed();
        Ok(done.rows_affected() > 0)
    }

    /// Records the security groups attached to the server, in order, and what proxfleet
    /// changed on the VM for them; the record's `security_group` (the old tool's
    /// `firewall_group`) is the first group.
    pub async fn set_firewall(&self, name: &str, fw: &FirewallRecord) -> Result<()> {
        let now = now_ms();
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("DELETE FROM server_firewall_groups WHERE server_name = $1").bind(name).execute(&mut *tx).await?;
        for (position, group) in fw.groups.iter().enumerate() {
            sqlx::query(
                "INSERT INTO server_firewall_groups (server_name, group_name, position, attached_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(name)
            .bind(group)
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM server_firewall_state WHERE server_name = $1").bind(name).execute(&mut *tx).await?;
        if fw.enabled_by_us || !fw.flagged_nics.is_empty() {
            sqlx::query(
                "INSERT INTO server_firewall_state (server_name, enabled_by_us, flagged_nics) VALUES ($1, $2, $3)",
            )
            .bind(name)
            .bind(i64::from(fw.enabled_by_us))
            .bind(fw.flagged_nics.join(","))
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE servers SET security_group = $1, updated_at = $2 WHERE name = $3")
            .bind(fw.groups.first().map(String::as_str).unwrap_or(""))
            .bind(now)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// The server's groups and what proxfleet changed on its VM for them.
    pub async fn firewall(&self, name: &str) -> Result<FirewallRecord> {
        let groups = self.firewall_groups(name).await?;
        let state = sqlx::query("SELECT enabled_by_us, flagged_nics FROM server_firewall_state WHERE server_name = $1")
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?;
        let (enabled_by_us, flagged): (i64, String) = match state {
            Some(r) => (r.try_get("enabled_by_us")?, r.try_get("flagged_nics")?),
            None => (0, String::new()),
        };
        Ok(FirewallRecord {
            groups,
            enabled_by_us: enabled_by_us != 0,
            flagged_nics: flagged.split(',').filter(|n| !n.is_empty()).map(str::to_owned).collect(),
        })
    }

    /// The security groups attached to the server, in order.
    pub async fn firewall_groups(&self, name: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT group_name FROM server_firewall_groups WHERE server_name = $1 ORDER BY position")
            .bind(name)
            .fetch_all(self.db.pool())
            .await?)
    }

    /// The groups proxfleet attached to each of `names` (a page of servers), in order.
    pub async fn firewall_groups_of(&self, names: &[&str]) -> Result<std::collections::BTreeMap<String, Vec<String>>> {
        let mut out: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        if names.is_empty() {
            return Ok(out);
        }
        let list: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT server_name, group_name FROM server_firewall_groups WHERE server_name IN ({}) \
             ORDER BY server_name, position",
            list.join(", ")
        );
        let mut q = sqlx::query(&sql);
        for n in names {
            q = q.bind(*n);
        }
        for r in q.fetch_all(self.db.pool()).await? {
            out.entry(r.try_get("server_name")?).or_default().push(r.try_get("group_name")?);
        }
        Ok(out)
    }

    /// Every attachment: (group, server, the server's owner), by group and server.
    pub async fn firewall_attachments(&self) -> Result<Vec<(String, String, Option<i64>)>> {
        let rows = sqlx::query(
            "SELECT g.group_name, g.server_name, s.owner_id FROM server_firewall_groups g \
             JOIN servers s ON s.name = g.server_name ORDER BY g.group_name, g.server_name",
        )
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(|r| Ok((r.try_get("group_name")?, r.try_get("server_name")?, r.try_get("owner_id")?))).collect()
    }

    /// A group's new name, wherever it is attached.
    pub async fn rename_firewall_group(&self, old: &str, new: &str) -> Result<()> {
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE server_firewall_groups SET group_name = $1 WHERE group_name = $2")
            .bind(new)
            .bind(old)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE servers SET security_group = $1 WHERE security_group = $2")
            .bind(new)
            .bind(old)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }
}

/// The security groups proxfleet attached to a server, in order, and what it changed on the
/// VM for them (so detaching the last one undoes exactly that).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FirewallRecord {
    pub groups: Vec<String>,
    /// proxfleet turned the VM's firewall on.
    pub enabled_by_us: bool,
    /// NICs whose firewall flag proxfleet set.
    pub flagged_nics: Vec<String>,
}
