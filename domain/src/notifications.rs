//! Notifications: to one user or to everyone (broadcast), with read and hidden state kept per
//! user — one user reading or clearing a broadcast changes nothing for the others, and a user's
//! private notifications are never shown to anyone else (the old tool turned a deleted user's
//! notifications into broadcasts; here they go with the user).

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::auth::Actor;
use crate::events::EventBus;
use crate::{clock, Database, Error, Result};

pub use model::jobs::{Notification, Severity};

#[derive(Debug, Clone)]
pub struct Notifications {
    db: Database,
    events: EventBus,
}

/// What a reader sees: their own and broadcasts, minus what they hid, with their read state.
const VISIBLE: &str =
    "FROM notifications n LEFT JOIN notification_states s ON s.notification_id = n.id AND s.user_id = $1 \
     WHERE (n.user_id = $1 OR n.user_id IS NULL) AND COALESCE(s.hidden, 0) = 0";
const COLUMNS: &str =
    "n.id, n.user_id, n.kind, n.title, n.message, n.details, n.severity, n.job_id, n.created_at, s.read_at";

impl Notifications {
    pub fn new(db: Database, events: EventBus) -> Self {
        Notifications { db, events }
    }

    /// Stores a notification (`id`, `created_at` and `is_read` are the store's) and announces it.
    pub async fn create(&self, new: &Notification) -> Result<i64> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO notifications (user_id, kind, title, message, details, severity, job_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(new.user_id)
        .bind(&new.kind)
        .bind(&new.title)
        .bind(&new.message)
        .bind(&new.details)
        .bind(new.severity.as_str())
        .bind(new.job_id)
        .bind(clock::now_ms())
        .fetch_one(self.db.pool())
        .await?;
        // Live, in the seed's stream format (`{"type":"notification","title":…,"message":…}`).
        let payload = serde_json::json!({
            "type": "notification", "id": id, "kind": new.kind, "title": new.title, "message": new.message,
            "severity": new.severity.as_str(), "job_id": new.job_id,
        });
        self.events.publish(new.user_id, "notification", payload).await?;
        Ok(id)
    }

    pub async fn list(&self, actor: &Actor, page: u32, per_page: u32) -> Result<(Vec<Notification>, i64)> {
        let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {VISIBLE}"))
            .bind(actor.user_id)
            .fetch_one(self.db.pool())
            .await?;
        let limit = i64::from(per_page);
        let offset = i64::from(page.saturating_sub(1)) * limit;
        let rows = sqlx::query(&format!("SELECT {COLUMNS} {VISIBLE} ORDER BY n.id DESC LIMIT {limit} OFFSET {offset}"))
            .bind(actor.user_id)
            .fetch_all(self.db.pool())
            .await?;
        Ok((rows.iter().map(from_row).collect::<Result<_>>()?, total))
    }

    pub async fn latest(&self, actor: &Actor) -> Result<Option<Notification>> {
        Ok(self.list(actor, 1, 1).await?.0.into_iter().next())
    }

    pub async fn unread_count(&self, actor: &Actor) -> Result<i64> {
        Ok(sqlx::query_scalar(&format!("SELECT COUNT(*) {VISIBLE} AND s.read_at IS NULL"))
            .bind(actor.user_id)
            .fetch_one(self.db.pool())
            .await?)
    }

    /// One notification the actor may see; anyone else's is "not found".
    pub async fn get(&self, actor: &Actor, id: i64) -> Result<Notification> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} {VISIBLE} AND n.id = $2"))
            .bind(actor.user_id)
            .bind(id)
            .fetch_optional(self.db.pool())
            .await?;
        row.as_ref().map(from_row).transpose()?.ok_or_else(|| Error::NotFound(format!("no notification {id}")))
    }

    async fn set_state(&self, actor: &Actor, id: i64, read: bool, hide: bool) -> Result<()> {
        let now = clock::now_ms();
        sqlx::query(
            "INSERT INTO notification_states (notification_id, user_id, read_at, hidden) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (notification_id, user_id) DO UPDATE SET \
             read_at = COALESCE(notification_states.read_at, EXCLUDED.read_at), \
             hidden = CASE WHEN EXCLUDED.hidden = 1 THEN 1 ELSE notification_states.hidden END",
        )
        .bind(id)
        .bind(actor.user_id)
        .bind(read.then_some(now))
        .bind(i64::from(hide))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    pub async fn mark_read(&self, actor: &Actor, id: i64) -> Result<()> {
        self.get(actor, id).await?;
        self.set_state(actor, id, true, false).await
    }

    /// Removes a notification from the actor's view (a broadcast stays for everyone else).
    pub async fn delete(&self, actor: &Actor, id: i64) -> Result<()> {
        self.get(actor, id).await?;
        self.set_state(actor, id, true, true).await
    }

    /// Clears the actor's view; returns how many were cleared.
    pub async fn clear_all(&self, actor: &Actor) -> Result<usize> {
        let ids: Vec<i64> =
            sqlx::query_scalar(&format!("SELECT n.id {VISIBLE}")).bind(actor.user_id).fetch_all(self.db.pool()).await?;
        for id in &ids {
            self.set_state(actor, *id, true, true).await?;
        }
        Ok(ids.len())
    }

    /// Deletes notifications older than `max_age_ms` and keeps at most `keep` per user
    /// (broadcasts counted apart); returns how many went.
    pub async fn prune(&self, max_age_ms: i64, keep: i64) -> Result<u64> {
        let old = sqlx::query("DELETE FROM notifications WHERE created_at < $1")
            .bind(clock::now_ms() - max_age_ms)
            .execute(self.db.pool())
            .await?;
        let extra = sqlx::query(
            "DELETE FROM notifications WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER \
             (PARTITION BY COALESCE(user_id, -1) ORDER BY id DESC) AS rank FROM notifications) ranked WHERE rank > $1)",
        )
        .bind(keep)
        .execute(self.db.pool())
        .await?;
        Ok(old.rows_affected() + extra.rows_affected())
    }
}

fn from_row(row: &AnyRow) -> Result<Notification> {
    let severity: String = row.try_get("severity")?;
    let read_at: Option<i64> = row.try_get("read_at")?;
    Ok(Notification {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        kind: row.try_get("kind")?,
        title: row.try_get("title")?,
        message: row.try_get("message")?,
        details: row.try_get("details")?,
        severity: Severity::parse(&severity),
        job_id: row.try_get("job_id")?,
        created_at: row.try_get("created_at")?,
        is_read: read_at.is_some(),
    })
}
