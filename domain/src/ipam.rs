//! IP address management: pools (an IPv4 network with gateway, DNS, bridge, VLAN and reserved
//! ranges) and allocations. An address is a primary key in `ip_allocations`, so it cannot be
//! handed out twice — not by two concurrent bulk creates, not by two instances on PostgreSQL:
//! the loser of a race gets a unique violation and takes the next address.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit::AuditLog;
use crate::auth::{Actor, Permission};
use crate::clock::now_ms;
use crate::db::Database;
use crate::limits::{self, shown};
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
        let network: Ipv4Addr = addr.parse().map_err(|_| format!("{} is not an IPv4 address", shown(addr)))?;
        let prefix: u8 = prefix.parse().map_err(|_| format!("{} is not a prefix length", shown(prefix)))?;
        if !(8..=30).contains(&prefix) {
            return Err("the prefix must be between /8 (the largest pool: 16,777,214 addresses) and /30".into());
        }
        let cidr = Cidr { network, prefix };
        if u32::from(network) & !cidr.mask() != 0 {
            return Err(format!(
                "{text} has host bits set; the network is {}/{prefix}",
                Ipv4Addr::from(u32::from(network) & cidr.mask())
            ));
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
        let a: Ipv4Addr = a.trim().parse().map_err(|_| format!("{} is not an IPv4 address", shown(a)))?;
        let b: Ipv4Addr = b.trim().parse().map_err(|_| format!("{} is not an IPv4 address", shown(b)))?;
        if u32::from(a) > u32::from(b) {
            return Err(format!("range {item} ends before it starts"));
        }
        out.push((a, b));
    }
    Ok(out)
}

pub use model::ipam::{IpPool, PoolInput};

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
    /// Pool changes are audited (`ip_pool.create`, `.update`, `.delete`).
    audit: AuditLog,
}

const POOL_COLUMNS: &str = "id, name, cidr, gateway, dns, bridge, vlan, reserved, description, created_at, updated_at";

/// Checked pool settings: the parsed network and the addresses never handed out.
///
/// Everything is counted in ranges, never address by address: a /8 holds 16 million
/// addresses, and walking them took seconds per request.
struct Plan {
    cidr: Cidr,
    /// First and last usable host address.
    hosts: (u32, u32),
    /// Reserved ranges and the gateway inside `hosts`: sorted, merged, inclusive.
    excluded: Vec<(u32, u32)>,
}

impl Plan {
    fn of(input: &PoolInput) -> Result<Plan> {
        let cidr = Cidr::parse(&input.cidr).map_err(|m| Error::validation("cidr", m))?;
        let mut ranges: Vec<(u32, u32)> = parse_ranges(&input.reserved)
            .map_err(|m| Error::validation("reserved", m))?
            .into_iter()
            .map(|(a, b)| (u32::from(a), u32::from(b)))
            .collect();
        if let Some(g) = input.gateway.as_deref().filter(|g| !g.is_empty()) {
            let gw: Ipv4Addr =
                g.parse().map_err(|_| Error::validation("gateway", format!("{} is not an IPv4 address", shown(g))))?;
            if !cidr.contains(gw) {
                return Err(Error::validation("gateway", format!("gateway {gw} is outside {cidr}")));
            }
            ranges.push((u32::from(gw), u32::from(gw)));
        }
        let hosts = (u32::from(cidr.network) + 1, (u32::from(cidr.network) | !cidr.mask()) - 1);
        Ok(Plan { cidr, hosts, excluded: merge(ranges, hosts) })
    }

    /// Addresses that can be handed out at all.
    fn size(&self) -> i64 {
        let span = |(a, b): (u32, u32)| i64::from(b) - i64::from(a) + 1;
        span(self.hosts) - self.excluded.iter().copied().map(span).sum::<i64>()
    }

    fn is_candidate(&self, ip: u32) -> bool {
        let (first, last) = self.hosts;
        // The last excluded range starting at or before `ip` is the only one that can hold it.
        let before = self.excluded.partition_point(|(a, _)| *a <= ip);
        (first..=last).contains(&ip) && !(before > 0 && self.excluded[before - 1].1 >= ip)
    }

    /// The ranges of addresses that are not excluded, in order.
    fn free_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        let (first, last) = self.hosts;
        let mut next = Some(first);
        self.excluded.iter().map(Some).chain([None]).filter_map(move |ex| {
            let from = next?;
            match ex {
                Some(&(a, b)) => {
                    next = b.checked_add(1).filter(|n| *n <= last);
                    (a > from).then(|| (from, a - 1))
                }
                None => {
                    next = None;
                    Some((from, last))
                }
            }
        })
    }

    /// The lowest candidate not in `taken`: the first free range with room, skipping only the
    /// taken addresses inside it.
    fn first_free(&self, taken: &BTreeSet<u32>) -> Option<Ipv4Addr> {
        for (lo, hi) in self.free_ranges() {
            let mut candidate = lo;
            for t in taken.range(lo..=hi) {
                if *t != candidate {
                    break;
                }
                candidate += 1;
            }
            if candidate <= hi {
                return Some(Ipv4Addr::from(candidate));
            }
        }
        None
    }
}

/// Sorts ranges, clips them to `within` and merges overlapping or touching ones.
fn merge(mut ranges: Vec<(u32, u32)>, within: (u32, u32)) -> Vec<(u32, u32)> {
    ranges.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
    for (a, b) in ranges {
        let (a, b) = (a.max(within.0), b.min(within.1));
        if a > b {
            continue;
        }
        match out.last_mut() {
            Some(last) if u64::from(a) <= u64::from(last.1) + 1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn validate(input: &PoolInput) -> Result<Plan> {
    let name = input.name.trim();
    if name.is_empty()
        || name.chars().nth(limits::NAME).is_some()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::validation(
            "name",
            format!("pool names are 1–{} letters, digits, '-', '_' or '.'", limits::NAME),
        ));
    }
    if input.bridge.is_empty() || !input.bridge.chars().all(|c| c.is_ascii_alphanumeric()) || input.bridge.len() > 15 {
        return Err(Error::validation("bridge", "a bridge name such as vmbr0"));
    }
    if let Some(v) = input.vlan {
        if !(1..=4094).contains(&v) {
            return Err(Error::validation("vlan", "VLAN tags are 1–4094"));
        }
    }
    limits::items("dns", &input.dns, limits::DNS_SERVERS)?;
    for d in &input.dns {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| Error::validation("dns", format!("{} is not an IP address", shown(d))))?;
    }
    limits::text("description", &input.description, limits::DESCRIPTION)?;
    limits::text("reserved", &input.reserved, limits::RESERVED)?;
    if input.reserved.split(',').filter(|i| !i.trim().is_empty()).nth(limits::RESERVED_ITEMS).is_some() {
        return Err(Error::validation(
            "reserved",
            format!("reserved: at most {} addresses or ranges", limits::RESERVED_ITEMS),
        ));
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
    pub fn new(db: Database, audit: AuditLog) -> Self {
        Ipam { db, audit }
    }

    /// Every pool with its size and use. Anyone signed in may read them (the create form
    /// offers them).
    pub async fn pools(&self) -> Result<Vec<IpPool>> {
        let rows = sqlx::query(&format!("SELECT {POOL_COLUMNS} FROM ip_pools ORDER BY name"))
            .fetch_all(self.db.pool())
            .await?;
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
            .ok_or_else(|| Error::NotFound(format!("no IP pool {}", shown(name))))?;
        let mut p = pool_from_row(&row)?;
        let taken = self.taken().await?;
        self.count(&mut p, &taken);
        Ok(p)
    }

    /// Size and use of a pool: arithmetic on its ranges, plus one look at each address taken
    /// inside its network.
    fn count(&self, p: &mut IpPool, taken: &BTreeSet<u32>) {
        if let Ok(plan) = Plan::of(&Self::plan_input(p)) {
            let (first, last) = plan.hosts;
            p.size = plan.size();
            p.used = taken.range(first..=last).filter(|ip| plan.is_candidate(**ip)).count() as i64;
        }
    }

    fn plan_input(p: &IpPool) -> PoolInput {
        PoolInput {
            cidr: p.cidr.clone(),
            gateway: p.gateway.clone(),
            reserved: p.reserved.clone(),
            ..Default::default()
        }
    }

    async fn taken(&self) -> Result<BTreeSet<u32>> {
        let all: Vec<String> =
            sqlx::query_scalar("SELECT address FROM ip_allocations").fetch_all(self.db.pool()).await?;
        Ok(all.iter().filter_map(|a| a.parse::<Ipv4Addr>().ok()).map(u32::from).collect())
    }

    pub async fn create_pool(&self, actor: &Actor, input: &PoolInput) -> Result<IpPool> {
        actor.require(Permission::ManageNetwork)?;
        let result = self.create_checked(input).await;
        self.audit.outcome(actor, "ip_pool.create", input.name.trim(), &result, String::new()).await?;
        result
    }

    async fn create_checked(&self, input: &PoolInput) -> Result<IpPool> {
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
        let result = self.update_checked(name, input).await;
        let new_name = input.name.trim();
        let detail = if new_name == name { String::new() } else { format!("renamed to {}", shown(new_name)) };
        self.audit.outcome(actor, "ip_pool.update", name, &result, detail).await?;
        result
    }

    async fn update_checked(&self, name: &str, input: &PoolInput) -> Result<IpPool> {
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
        let result = self.delete_checked(name).await;
        self.audit.outcome(actor, "ip_pool.delete", name, &result, String::new()).await?;
        result
    }

    async fn delete_checked(&self, name: &str) -> Result<()> {
        let pool = self.pool(name).await?;
        if pool.used > 0 || !self.addresses_of_pool(pool.id).await?.is_empty() {
            return Err(Error::Conflict(format!("IP pool {name:?} still has addresses in use")));
        }
        sqlx::query("DELETE FROM ip_pools WHERE id = $1").bind(pool.id).execute(self.db.pool()).await?;
        Ok(())
    }

    async fn addresses_of_pool(&self, pool_id: i64) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT address FROM ip_allocations WHERE pool_id = $1")
            .bind(pool_id)
            .fetch_all(self.db.pool())
            .await?)
    }

    /// Takes the next free address of `pool` for `server`. Races with other allocators are
    /// settled by the primary key: on a conflict, the next candidate is tried.
    pub async fn allocate(&self, pool: &str, server: &str, job_id: Option<i64>) -> Result<Lease> {
        let p = self.pool(pool).await?;
        let plan = Plan::of(&Self::plan_input(&p))?;
        loop {
            let taken = self.taken().await?;
            let Some(ip) = plan.first_free(&taken) else {
                return Err(Error::Conflict(format!("IP pool {} has no free address", shown(pool))));
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
        Ok(sqlx::query_scalar("SELECT server_name FROM ip_allocations WHERE address = $1")
            .bind(address)
            .fetch_optional(self.db.pool())
            .await?)
    }

    /// Frees every address of `server`; returns how many.
    pub async fn release_server(&self, server: &str) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM ip_allocations WHERE server_name = $1")
            .bind(server)
            .execute(self.db.pool())
            .await?
            .rows_affected())
    }

    /// Every allocation: (address, the server holding it).
    pub async fn holders(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT address, server_name FROM ip_allocations ORDER BY address")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(|r| Ok((r.try_get("address")?, r.try_get("server_name")?))).collect()
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
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM ip_pools WHERE name = $1")
            .bind(input.name.trim())
            .fetch_optional(self.db.pool())
            .await?;
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

    fn plan(cidr: &str, gateway: Option<&str>, reserved: &str) -> Plan {
        let input = PoolInput {
            cidr: cidr.into(),
            gateway: gateway.map(Into::into),
            reserved: reserved.into(),
            ..Default::default()
        };
        Plan::of(&input).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The arithmetic agrees with walking every address, on pools small enough to walk.
    #[test]
    fn sizes_and_candidates_match_a_walk_of_every_address() {
        for (cidr, gw, reserved) in [
            ("10.20.0.0/24", Some("10.20.0.1"), "10.20.0.1-10.20.0.20,10.20.0.254"),
            ("10.20.0.0/28", None, ""),
            (
                "10.20.0.0/28",
                Some("10.20.0.14"),
                "10.20.0.0-10.20.0.3,10.20.0.2-10.20.0.6,10.20.0.7,10.30.0.0-10.30.0.9",
            ),
            ("10.20.0.0/29", None, "10.20.0.0-10.20.0.255"),
        ] {
            let p = plan(cidr, gw, reserved);
            let walked: Vec<u32> = p
                .cidr
                .hosts()
                .map(u32::from)
                .filter(|ip| {
                    let excluded = parse_ranges(reserved)
                        .unwrap_or_default()
                        .iter()
                        .any(|(a, b)| (u32::from(*a)..=u32::from(*b)).contains(ip))
                        || gw.is_some_and(|g| g.parse::<Ipv4Addr>().map(u32::from) == Ok(*ip));
                    !excluded
                })
                .collect();
            assert_eq!(p.size(), walked.len() as i64, "{cidr} {reserved}");
            let all: Vec<u32> = (u32::from(p.cidr.network)..=(u32::from(p.cidr.network) | !p.cidr.mask())).collect();
            let candidates: Vec<u32> = all.iter().copied().filter(|ip| p.is_candidate(*ip)).collect();
            assert_eq!(candidates, walked, "{cidr} {reserved}");
            let from_ranges: Vec<u32> = p.free_ranges().flat_map(|(a, b)| a..=b).collect();
            assert_eq!(from_ranges, walked, "{cidr} {reserved}");
        }
    }

    #[test]
    fn a_slash_8_with_a_hundred_reserved_ranges_is_counted_without_walking_it() {
        let reserved: Vec<String> = (0..100).map(|i| format!("10.{i}.0.0-10.{i}.255.255")).collect();
        let p = plan("10.0.0.0/8", Some("10.200.0.1"), &reserved.join(","));
        // 16,777,214 hosts; the first 100 /16s (the very first loses its network address) and
        // the gateway are out.
        assert_eq!(p.size(), 16_777_214 - (100 * 65_536 - 1) - 1);
        let first = u32::from(Ipv4Addr::new(10, 100, 0, 0));
        let taken: BTreeSet<u32> = (first..first + 3).chain([first + 4]).collect();
        assert_eq!(p.first_free(&taken), Some(Ipv4Addr::new(10, 100, 0, 3)));
        assert!(!p.is_candidate(u32::from(Ipv4Addr::new(10, 99, 1, 1))));
        assert!(p.is_candidate(u32::from(Ipv4Addr::new(10, 100, 1, 1))));
    }

    #[test]
    fn a_full_pool_has_no_free_address() {
        let p = plan("10.20.0.0/29", None, "10.20.0.4-10.20.0.6");
        let taken: BTreeSet<u32> = (1..=3).map(|i| u32::from(Ipv4Addr::new(10, 20, 0, i))).collect();
        assert_eq!(p.first_free(&taken), None);
        assert_eq!(p.first_free(&BTreeSet::new()), Some(Ipv4Addr::new(10, 20, 0, 1)));
    }

    #[test]
    fn long_or_many_texts_are_refused() {
        let base =
            PoolInput { name: "p".into(), cidr: "10.0.0.0/24".into(), bridge: "vmbr0".into(), ..Default::default() };
        let cases = [
            ("description", PoolInput { description: "x".repeat(limits::DESCRIPTION + 1), ..base.clone() }),
            (
                "reserved",
                PoolInput { reserved: vec!["10.0.0.1"; limits::RESERVED_ITEMS + 1].join(","), ..base.clone() },
            ),
            ("dns", PoolInput { dns: vec!["10.0.0.1".into(); limits::DNS_SERVERS + 1], ..base.clone() }),
            ("name", PoolInput { name: "p".repeat(limits::NAME + 1), ..base.clone() }),
        ];
        for (field, input) in cases {
            let e = validate(&input).err().unwrap_or_else(|| panic!("{field} accepted"));
            assert!(matches!(&e, Error::Validation { field: Some(f), .. } if f == field), "{field}: {e}");
        }
        assert!(validate(&base).is_ok());
    }
}
