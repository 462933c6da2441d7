//! Concurrency limits by key: a step asks for a permit on e.g. `storage:pve1/local-lvm` with a
//! limit of 2 and waits while two are out — across every instance on the same database, since
//! "at most 2 clones per storage" protects Proxmox, which does not care which instance asks.
//!
//! Two levels: a semaphore per key inside this instance (waiters queue without touching the
//! database), then a row in `job_slots` (slot 0..limit per key) claimed under a lease that a
//! small task renews while the permit is held. A crashed instance's rows are taken over once
//! their lease ran out (or at once by the same instance restarted: `release_seat`). Without a
//! database (unit tests) only the local level applies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use crate::clock::now_ms;
use crate::db::Database;
use crate::error::Result;

/// How long a slot stays held without renewal; renewed every third of it.
const SLOT_LEASE: Duration = Duration::from_secs(30);
/// How often a waiter looks again when every slot is held by another instance.
const SLOT_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Default)]
pub struct KeyedLimits {
    local: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
    shared: Option<Shared>,
}

#[derive(Debug, Clone)]
struct Shared {
    db: Database,
    instance: String,
    serial: Arc<AtomicU64>,
}

/// A held slot; dropping it frees the slot (the database row a moment later).
#[derive(Debug)]
pub struct Permit {
    local: Option<OwnedSemaphorePermit>,
    row: Option<Row>,
}

#[derive(Debug)]
struct Row {
    db: Database,
    key: String,
    slot: i64,
    holder: String,
    renew: JoinHandle<()>,
}

impl Row {
    async fn delete(&self) {
        let done = sqlx::query("DELETE FROM job_slots WHERE slot_key = $1 AND slot = $2 AND holder = $3")
            .bind(&self.key)
            .bind(self.slot)
            .bind(&self.holder)
            .execute(self.db.pool())
            .await;
        if let Err(e) = done {
            // The lease runs out by itself; the slot is only blocked until then.
            tracing::warn!(key = %self.key, error = %e, "could not free a concurrency slot");
        }
    }
}

impl Permit {
    /// Frees the slot now, waiting for the database (prefer this over a plain drop, so the
    /// next waiter finds the slot free at once).
    pub async fn release(mut self) {
        if let Some(row) = self.row.take() {
            row.renew.abort();
            row.delete().await;
        }
        self.local.take();
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(row) = self.row.take() else { return };
        row.renew.abort();
        let local = self.local.take();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            // The local slot opens only after the row is gone, so a local waiter never finds
            // its own instance's stale row.
            rt.spawn(async move {
                row.delete().await;
                drop(local);
            });
        }
    }
}

impl KeyedLimits {
    /// Limits within this instance only.
    pub fn new() -> Self {
        KeyedLimits::default()
    }

    /// Limits shared by every instance on `db`; `instance` names this one's slots.
    pub fn shared(db: Database, instance: &str) -> Self {
        KeyedLimits {
            local: Arc::default(),
            shared: Some(Shared { db, instance: instance.to_owned(), serial: Arc::default() }),
        }
    }

    /// Waits for a slot under `key`, which allows `limit` at a time. Every caller of a key must
    /// pass the same limit (the first caller in an instance fixes the local one).
    pub async fn acquire(&self, key: &str, limit: usize) -> Result<Permit> {
        let limit = limit.max(1);
        let sem = {
            let mut keys = self.local.lock().unwrap_or_else(|p| p.into_inner());
            keys.entry(key.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(limit))).clone()
        };
        let local = loop {
            // The semaphore is never closed, so this only loops in theory.
            if let Ok(p) = sem.clone().acquire_owned().await {
                break p;
            }
        };
        let Some(shared) = &self.shared else { return Ok(Permit { local: Some(local), row: None }) };
        let holder = format!("{}#{}", shared.instance, shared.serial.fetch_add(1, Ordering::Relaxed));
        loop {
            for slot in 0..i64::try_from(limit).unwrap_or(i64::MAX) {
                if claim(&shared.db, key, slot, &holder).await? {
                    let renew = tokio::spawn(renew(shared.db.clone(), key.to_owned(), slot, holder.clone()));
                    let row = Row { db: shared.db.clone(), key: key.to_owned(), slot, holder, renew };
                    return Ok(Permit { local: Some(local), row: Some(row) });
                }
            }
            tokio::time::sleep(SLOT_POLL).await;
        }
    }

    /// Frees the slots earlier runs of `seat` still hold (see `JobStore::release_seat`);
    /// this run's own (`instance#…`) stay. Returns how many.
    pub async fn release_seat(&self, seat: &str) -> Result<u64> {
        let Some(shared) = &self.shared else { return Ok(0) };
        let (prefix, mine) = (format!("{seat}/"), format!("{}#", shared.instance));
        let done = sqlx::query(
            "DELETE FROM job_slots WHERE substr(holder, 1, length($1)) = $1 AND substr(holder, 1, length($2)) <> $2",
        )
        .bind(&prefix)
        .bind(&mine)
        .execute(shared.db.pool())
        .await?;
        Ok(done.rows_affected())
    }

    /// Slots of `key` free in this instance right now (for tests and status pages).
    pub fn available(&self, key: &str) -> Option<usize> {
        self.local.lock().unwrap_or_else(|p| p.into_inner()).get(key).map(|s| s.available_permits())
    }
}

/// Takes `slot` of `key` if nobody holds it or its holder's lease ran out.
async fn claim(db: &Database, key: &str, slot: i64, holder: &str) -> Result<bool> {
    let now = now_ms();
    let until = now + i64::try_from(SLOT_LEASE.as_millis()).unwrap_or(30_000);
    let done = sqlx::query(
        "INSERT INTO job_slots (slot_key, slot, holder, lease_until) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (slot_key, slot) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until \
         WHERE job_slots.lease_until < $5",
    )
    .bind(key)
    .bind(slot)
    .bind(holder)
    .bind(until)
    .bind(now)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps a held slot's lease fresh until the permit is dropped (which aborts this).
async fn renew(db: Database, key: String, slot: i64, holder: String) {
    let mut every = tokio::time::interval(SLOT_LEASE / 3);
    every.tick().await;
    loop {
        every.tick().await;
        let until = now_ms() + i64::try_from(SLOT_LEASE.as_millis()).unwrap_or(30_000);
        let renewed =
            sqlx::query("UPDATE job_slots SET lease_until = $1 WHERE slot_key = $2 AND slot = $3 AND holder = $4")
                .bind(until)
                .bind(&key)
                .bind(slot)
                .bind(&holder)
                .execute(db.pool())
                .await;
        if let Err(e) = renewed {
            tracing::warn!(key = %key, error = %e, "could not renew a concurrency slot");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_most_limit_holders_per_key() {
        let limits = KeyedLimits::new();
        let a = limits.acquire("storage:local-lvm", 2).await.unwrap_or_else(|e| panic!("{e}"));
        let _b = limits.acquire("storage:local-lvm", 2).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(limits.available("storage:local-lvm"), Some(0));
        let other = limits.acquire("storage:shared", 2).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(limits.available("storage:shared"), Some(1), "keys are independent");
        let l2 = limits.clone();
        let waiter = tokio::spawn(async move { l2.acquire("storage:local-lvm", 2).await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "the third waits");
        drop(a);
        let _c = waiter.await.unwrap_or_else(|e| panic!("{e}"));
        drop(other);
    }
}
