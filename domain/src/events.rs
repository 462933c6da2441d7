//! The live event bus: notifications, job progress, job results (and, later, server state
//! changes). Every event is stored first — its id orders it and lets a reconnecting client
//! replay what it missed — then fanned out to this instance's subscribers.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::Row;
use tokio::sync::broadcast;

use crate::auth::Actor;
use crate::{clock, Backend, Database, Result};

/// The PostgreSQL NOTIFY channel events are announced on.
const CHANNEL: &str = "proxfleet_events";

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub id: i64,
    pub at: i64,
    /// `None`: any signed-in user may see it.
    pub user_id: Option<i64>,
    /// `notification`, `job_progress`, `job_finished`, …
    pub kind: String,
    pub payload: Value,
}

impl Event {
    /// A user sees their own events and public ones, never another user's.
    pub fn visible_to(&self, actor: &Actor) -> bool {
        self.user_id.is_none_or(|u| u == actor.user_id)
    }
}

#[derive(Debug, Clone)]
pub struct EventBus {
    db: Database,
    tx: broadcast::Sender<Event>,
    /// PostgreSQL: true while the LISTEN connection is up.
    listening: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl EventBus {
    pub fn new(db: Database) -> Self {
        // Subscribers that fall this far behind are told they lagged and re-read from the
        // database, so nothing is lost.
        let (tx, _) = broadcast::channel(1024);
        EventBus { db, tx, listening: Default::default() }
    }

    /// Stores and announces an event to this instance's subscribers and, on PostgreSQL, through
    /// `NOTIFY` to every other instance (streams drop the echo of their own by id).
    pub async fn publish(&self, user_id: Option<i64>, kind: &str, payload: Value) -> Result<Event> {
        let at = clock::now_ms();
        let id: i64 =
            sqlx::query_scalar("INSERT INTO events (at, user_id, kind, payload) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(at)
                .bind(user_id)
                .bind(kind)
                .bind(payload.to_string())
                .fetch_one(self.db.pool())
                .await?;
        let event = Event { id, at, user_id, kind: kind.to_owned(), payload };
        // No subscribers is fine.
        let _ = self.tx.send(event.clone());
        if self.db.backend() == Backend::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(id.to_string()).execute(self.db.pool()).await?;
        }
        Ok(event)
    }

    /// PostgreSQL: listens for events published by any instance and hands them to this
    /// instance's subscribers; reconnects if the connection drops. A no-op on SQLite.
    pub fn start_listener(&self) -> Option<tokio::task::JoinHandle<()>> {
        if self.db.backend() != Backend::Postgres {
            return None;
        }
        let bus = self.clone();
        Some(tokio::spawn(async move {
            loop {
                if let Err(e) = bus.listen().await {
                    tracing::warn!(error = %e, "event listener lost its connection; reconnecting");
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        }))
    }

    /// Whether events of other instances are being received (always false on SQLite).
    pub fn listening(&self) -> bool {
        self.listening.load(std::sync::atomic::Ordering::SeqCst)
    }

    async fn listen(&self) -> std::result::Result<(), sqlx::Error> {
        let mut listener = sqlx::postgres::PgListener::connect(self.db.url()).await?;
        listener.listen(CHANNEL).await?;
        self.listening.store(true, std::sync::atomic::Ordering::SeqCst);
        loop {
            let n = match listener.recv().await {
                Ok(n) => n,
                Err(e) => {
                    self.listening.store(false, std::sync::atomic::Ordering::SeqCst);
                    return Err(e);
                }
            };
            let Ok(id) = n.payload().parse::<i64>() else { continue };
            let row = sqlx::query("SELECT id, at, user_id, kind, payload FROM events WHERE id = $1")
                .bind(id)
                .fetch_optional(self.db.pool())
                .await?;
            if let Some(event) = row.as_ref().and_then(|r| from_row(r).ok()) {
                let _ = self.tx.send(event);
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Events after `after` that the actor may see, oldest first (at most `limit`).
    pub async fn since(&self, actor: &Actor, after: i64, limit: i64) -> Result<Vec<Event>> {
        let rows = sqlx::query(&format!(
            "SELECT id, at, user_id, kind, payload FROM events WHERE id > $1 AND (user_id IS NULL OR user_id = $2) ORDER BY id LIMIT {limit}"
        ))
        .bind(after)
        .bind(actor.user_id)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The newest event id (a fresh subscriber without Last-Event-ID starts after it).
    pub async fn last_id(&self) -> Result<i64> {
        Ok(sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(id) FROM events")
            .fetch_one(self.db.pool())
            .await?
            .unwrap_or(0))
    }

    /// Drops events older than `max_age_ms`.
    pub async fn prune(&self, max_age_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(clock::now_ms() - max_age_ms)
            .execute(self.db.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

fn from_row(row: &AnyRow) -> Result<Event> {
    let payload: String = row.try_get("payload")?;
    Ok(Event {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        user_id: row.try_get("user_id")?,
        kind: row.try_get("kind")?,
        payload: serde_json::from_str(&payload).unwrap_or(Value::Null),
    })
}
