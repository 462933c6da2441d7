//! IP address management: pools (an IPv4 network with gateway, DNS, bridge, VLAN and reserved
//! ranges) and allocations. An address is a primary key in `ip_allocations`, so it cannot be
//! handed out twice — not by two concurrent bulk creates, not by two instances on PostgreSQL:
//! the loser of a race gets a unique violation and takes the next address.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::auth::{Actor, Permission};
use crate::clock::now_ms;
use crate::db::Database;
use crate::{Error, Result};

/// An IPv4 network `address/prefix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/24`; host bits must be zero.
    pub fn parse(text: &str) -> std::result::Result<Cidr, String> {
        let (addr, prefix) = text.trim().split_once('/').ok_or("expected address/prefix, e.g. 10.20.0.0/24")?;
        let network: Ipv4Addr = addr.parse().map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix.parse().map_err(|_| format!("{prefix:?} is not a prefix length"))?;
        if !(8..=30).contains(&prefix) {
            return Err("the prefix must be between /8 and /30".into());
        }
        let cidr = Cidr { network, prefix };
        if u32::from(network) & !cidr.mask() != 0 {
            return Err(format!("{text} has host bits set; the network is {}/{prefix}", Ipv4Addr::from(u32::from(network) & cidr.mask())));
        }
        Ok(cidr)
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    /// Usable host addresses: without the network and broadcast addresses.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 1;
        let last = (u32::from(self.network) | !self.mask()) - 1;
        (first..=last).map(Ipv4Addr::from)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Parses `a.b.c.d` or `a.b.c.d-e.f.g.h` items, comma-separated, into inclusive ranges.
pub fn parse_ranges(text: &str) -> std::result::Result<Vec<(Ipv4Addr, Ipv4Addr)>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (a, b) = item.split_once('-').unwrap_or((item, item));
        let a: Ipv4Addr = a.trim().parse().map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let b: Ipv4Addr = b.trim().parse().map_err(|_| format!("{b:?} is not an IPv4 address"))?;
        if u32::from(a) > u32::from(b) {
            return Err(format!("range {item} ends before it starts"));
        }
        out.push((a, b));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IpPool {
    pub id: i64,
    pub name: String,
    pub cidr: String,
    pub gateway: Option<String>,
    pub dns: Vec<String>,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub reserved: String,
    pub description: String,
    /// Addresses that can be handed out at all (hosts minus gateway and reserved).
    pub size: i64,
    pub used: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl IpPool {
    pub fn free(&self) -> i64 {
        self.size - self.used
    }
}

/// What an operator sends to create or change a pool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolInput {
    pub name: String,
    pub cidr: String,
    #[serde(default)]
    pub gateway: Option<String>,
    /// Resolver addresses.
    #[serde(default)]
    pub dns: Vec<String>,
    pub bridge: String,
    #[serde(default)]
    pub vlan: Option<u16>,
    /// Addresses and ranges never handed out: `10.20.0.1-10.20.0.20,10.20.0.254`.
    #[serde(default)]
    pub reserved: String,
    #[serde(default)]
    pub description: String,
}

/// An address taken for one NIC of a server, with the pool's network settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    pub address: String,
    pub prefix: u8,
    pub gateway: Option<String>,
    pub dns: Vec<String>,
    pub bridge: String,
    pub vlan: Option<u16>,
    pub pool: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Ipam {
    db: Database,
}

const POOL_COLUMNS: &str = "id, name, cidr, gateway, dns, bridge, vlan, reserved, description, created_at, updated_at";

/// Checked pool settings: the parsed network and the addresses never handed out.
struct Plan {
    cidr: Cidr,
    excluded: Vec<(Ipv4Addr, Ipv4Addr)>,
}

impl Plan {
    fn of(input: &PoolInput) -> Result<Plan> {
        let cidr = Cidr::parse(&input.cidr).map_err(|m| Error::validation("cidr", m))?;
        let mut excluded = parse_ranges(&input.reserved).map_err(|m| Error::validation("reserved", m))?;
        if let Some(g) = input.gateway.as_deref().filter(|g| !g.is_empty()) {
            let gw: Ipv4Addr = g.parse().map_err(|_| Error::validation("gateway", format!("{g:?} is not an IPv4 address")))?;
            if !cidr.contains(gw) {
                return Err(Error::validation("gateway", format!("gateway {gw} is outside {cidr}")));
            }
            excluded.push((gw, gw));
        }
        Ok(Plan { cidr, excluded })
    }

    fn excluded(&self, ip: Ipv4Addr) -> bool {
        let n = u32::from(ip);
        self.excluded.iter().any(|(a, b)| (u32::from(*a)..=u32::from(*b)).contains(&n))
    }

    fn candidates(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.cidr.hosts().filter(|ip| !self.excluded(*ip))
    }
}

fn validate(input: &PoolInput) -> Result<Plan> {
    let name = input.name.trim();
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        return Err(Error::validation("name", "pool names are 1–64 letters, digits, '-', '_' or '.'"));
    }
    if input.bridge.is_empty() || !input.bridge.chars().all(|c| c.is_ascii_alphanumeric()) || input.bridge.len() > 15 {
        return Err(Error::validation("bridge", "a bridge name such as vmbr0"));
    }
    if let Some(v) = input.vlan {
        if !(1..=4094).contains(&v) {
            return Err(Error::validation("vlan", "VLAN tags are 1–4094"));
        }
    }
    for d in &input.dns {
        d.parse::<std::net::IpAddr>().map_err(|_| Error::validation("dns", format!("{d:?} is not an IP address")))?;
    }
    Plan::of(input)
}

fn pool_from_row(r: &sqlx::any::AnyRow) -> Result<IpPool> {
    let dns: String = r.try_get("dns")?;
    let vlan: Option<i64> = r.try_get("vlan")?;
    Ok(IpPool {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        cidr: r.try_get("cidr")?,
        gateway: r.try_get("gateway")?,
        dns: dns.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        bridge: r.try_get("bridge")?,
        vlan: vlan.and_then(|v| u16::try_from(v).ok()),
        reserved: r.try_get("reserved")?,
        description: r.try_get("description")?,
        size: 0,
        used: 0,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

impl Ipam {
    pub fn new(db: Database) -> Self {
        Ipam { db }
    }

    /// Every pool with its size and use. Anyone signed in may read them (the create form
    /// offers them).
    pub async fn pools(&self) -> Result<Vec<IpPool>> {
        let rows = sqlx::query(&format!("SELECT {POOL_COLUMNS} FROM ip_pools ORDER BY name")).fetch_all(self.db.pool()).await?;
        let taken = self.taken().await?;
        let mut out = Vec::new();
        for r in &rows {
            let mut p = pool_from_row(r)?;
            self.count(&mut p, &taken);
            out.push(p);
        }
        Ok(out)
    }

    pub async fn pool(&self, name: &str) -> Result<IpPool> {
        let row = sqlx::query(&format!("SELECT {POOL_COLUMNS} FROM ip_pools WHERE name = $1"))
            .bind(name)
            .fetch_optional(self.db.pool())
            .await?
            .ok_or_else(|| Error::NotFound(format!("no IP pool {name:?}")))?;
        let mut p = pool_from_row(&row)?;
        let taken = self.taken().await?;
        self.count(&mut p, &taken);
        Ok(p)
    }

    fn count(&self, p: &mut IpPool, taken: &HashSet<Ipv4Addr>) {
        let input = PoolInput { cidr: p.cidr.clone(), gateway: p.gateway.clone(), reserved: p.reserved.clone(), ..Default::default() };
        if let Ok(plan) = Plan::of(&input) {
            let (mut size, mut used) = (0, 0);
            for ip in plan.candidates() {
                size += 1;
                if taken.contains(&ip) {
                    used += 1;
                }
            }
            (p.size, p.used) = (size, used);
        }
    }

    async fn taken(&self) -> Result<HashSet<Ipv4Addr>> {
        let all: Vec<String> = sqlx::query_scalar("SELECT address FROM ip_allocations").fetch_all(self.db.pool()).await?;
        Ok(all.iter().filter_map(|a| a.parse().ok()).collect())
    }

    pub async fn create_pool(&self, actor: &Actor, input: &PoolInput) -> Result<IpPool> {
        actor.require(Permission::ManageNetwork)?;
        validate(input)?;
        self.insert_pool(input).await.map_err(|e| match e {
            Error::Conflict(_) => Error::Conflict(format!("an IP pool named {:?} already exists", input.name.trim())),
            other => other,
        })?;
        self.pool(input.name.trim()).await
    }

    /// Changes a pool. The network may not shrink away from addresses in use.
    pub async fn update_pool(&self, actor: &Actor, name: &str, input: &PoolInput) -> Result<IpPool> {
        actor.require(Permission::ManageNetwork)?;
        let plan = validate(input)?;
        let old = self.pool(name).await?;
        for a in self.addresses_of_pool(old.id).await? {
            if let Ok(ip) = a.parse::<Ipv4Addr>() {
                if !plan.cidr.contains(ip) {
                    return Err(Error::Conflict(format!("{ip} is in use and would fall outside {}", plan.cidr)));
                }
            }
        }
        sqlx::query(
            "UPDATE ip_pools SET name = $1, cidr = $2, gateway = $3, dns = $4, bridge = $5, vlan = $6, reserved = $7, \
             description = $8, updated_at = $9 WHERE id = $10",
        )
        .bind(input.name.trim())
        .bind(input.cidr.trim())
        .bind(input.gateway.clone().filter(|g| !g.is_empty()))
        .bind(input.dns.join(","))
        .bind(&input.bridge)
        .bind(input.vlan.map(i64::from))
        .bind(input.reserved.trim())
        .bind(&input.description)
        .bind(now_ms())
        .bind(old.id)
        .execute(self.db.pool())
        .await?;
        self.pool(input.name.trim()).await
    }

    /// Deletes a pool no address of which is in use.
    pub async fn delete_pool(&self, actor: &Actor, name: &str) -> Result<()> {
        actor.require(Permission::ManageNetwork)?;
        let pool = self.pool(name).await?;
        if pool.used > 0 || !self.addresses_of_pool(pool.id).await?.is_empty() {
            return Err(Error::Conflict(format!("IP pool {name:?} still has addresses in use")));
        }
        sqlx::query("DELETE FROM ip_pools WHERE id = $1").bind(pool.id).execute(self.db.pool()).await?;
        Ok(())
    }

    async fn addresses_of_pool(&self, pool_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT address FROM ip_allocations WHERE pool_id = $1").bind(pool_id).fetch_all(self.db.pool()).await?)
    }

    /// Takes the next free address of `pool` for `server`. Races with other allocators are
    /// settled by the primary key: on a conflict, the next candidate is tried.
    pub async fn allocate(&self, pool: &str, server: &str, job_id: Option<i64>) -> Result<Lease> {
        let p = self.pool(pool).await?;
        let input = PoolInput { cidr: p.cidr.clone(), gateway: p.gateway.clone(), reserved: p.reserved.clone(), ..Default::default() };
        let plan = Plan::of(&input)?;
        loop {
            let taken = self.taken().await?;
            let Some(ip) = plan.candidates().find(|ip| !taken.contains(ip)) else {
                return Err(Error::Conflict(format!("IP pool {pool:?} has no free address")));
            };
            match self.insert(&ip.to_string(), Some(p.id), server, job_id).await {
                Ok(()) => {
                    return Ok(Lease {
                        address: ip.to_string(),
                        prefix: plan.cidr.prefix,
                        gateway: p.gateway.clone(),
                        dns: p.dns.clone(),
                        bridge: p.bridge.clone(),
                        vlan: p.vlan,
                        pool: Some(p.name.clone()),
                    })
                }
                // Someone took it between our read and our insert: look again.
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Records a static address for `server`; a conflict names who holds it.
    pub async fn claim(&self, address: &str, server: &str, job_id: Option<i64>) -> Result<()> {
        let pool_id = self.pool_containing(address).await?;
        match self.insert(address, pool_id, server, job_id).await {
            Err(Error::Conflict(_)) => {
                let holder = self.holder(address).await?.unwrap_or_default();
                Err(Error::Conflict(format!("{address} is already in use by {holder}")))
            }
            other => other,
        }
    }

    async fn pool_containing(&self, address: &str) -> Result<Option<i64>> {
        let Ok(ip) = address.parse::<Ipv4Addr>() else { return Ok(None) };
        let rows = sqlx::query("SELECT id, cidr FROM ip_pools").fetch_all(self.db.pool()).await?;
        for r in rows {
            let cidr: String = r.try_get("cidr")?;
            if Cidr::parse(&cidr).is_ok_and(|c| c.contains(ip)) {
                return Ok(Some(r.try_get("id")?));
            }
        }
        Ok(None)
    }

    async fn insert(&self, address: &str, pool_id: Option<i64>, server: &str, job_id: Option<i64>) -> Result<()> {
        sqlx::query("INSERT INTO ip_allocations (address, pool_id, server_name, job_id, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(address)
            .bind(pool_id)
            .bind(server)
            .bind(job_id)
            .bind(now_ms())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// The server holding `address`, if any.
    pub async fn holder(&self, address: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT server_name FROM ip_allocations WHERE address = $1").bind(address).fetch_optional(self.db.pool()).await?)
    }

    /// Frees every address of `server`; returns how many.
    pub async fn release_server(&self, server: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM ip_allocations WHERE server_name = $1").bind(server).execute(self.db.pool()).await?.rows_affected())
    }

    /// The addresses `server` holds.
    pub async fn addresses_of(&self, server: &str) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT address FROM ip_allocations WHERE server_name = $1 ORDER BY address")
            .bind(server)
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Ensures the pool `default` exists (the embedded demo starts with it).
    pub async fn ensure_default_pool(&self, input: &PoolInput) -> Result<()> {
        validate(input)?;
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM ip_pools WHERE name = $1").bind(input.name.trim()).fetch_optional(self.db.pool()).await?;
        if exists.is_none() {
            self.insert_pool(input).await?;
        }
        Ok(())
    }

    async fn insert_pool(&self, input: &PoolInput) -> Result<()> {
        sqlx::query(
            "INSERT INTO ip_pools (name, cidr, gateway, dns, bridge, vlan, reserved, description, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(input.name.trim())
        .bind(input.cidr.trim())
        .bind(input.gateway.clone().filter(|g| !g.is_empty()))
        .bind(input.dns.join(","))
        .bind(&input.bridge)
        .bind(input.vlan.map(i64::from))
        .bind(input.reserved.trim())
        .bind(&input.description)
        .bind(now_ms())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_and_ranges() {
        let c = Cidr::parse("10.20.0.0/29").unwrap_or_else(|e| panic!("{e}"));
        let hosts: Vec<String> = c.hosts().map(|h| h.to_string()).collect();
        assert_eq!(hosts, ["10.20.0.1", "10.20.0.2", "10.20.0.3", "10.20.0.4", "10.20.0.5", "10.20.0.6"]);
        assert!(Cidr::parse("10.20.0.1/24").unwrap_err().contains("host bits"));
        assert!(Cidr::parse("10.20.0.0").is_err());
        assert!(Cidr::parse("10.20.0.0/31").is_err());
        assert_eq!(parse_ranges("10.0.0.1-10.0.0.3, 10.0.0.9").map(|r| r.len()), Ok(2));
        assert!(parse_ranges("10.0.0.5-10.0.0.1").is_err());
    }
}
