//! Retention: old notifications, live events and finished jobs (with their items and logs) are
//! pruned by age and count. The limits are settings (`retention.*`), with defaults; the server
//! runs `prune` periodically.

use crate::settings::SettingsStore;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    pub notification_days: i64,
    pub notifications_per_user: i64,
    pub event_days: i64,
    pub job_days: i64,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy { notification_days: 90, notifications_per_user: 1000, event_days: 7, job_days: 90 }
    }
}

/// What one pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub notifications: u64,
    pub events: u64,
    pub jobs: u64,
}

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

impl RetentionPolicy {
    /// The policy from settings; a missing or invalid value keeps its default.
    pub async fn from_settings(settings: &SettingsStore) -> Result<Self> {
        let d = RetentionPolicy::default();
        let get = |v: Option<serde_json::Value>, default: i64| {
            v.and_then(|v| v.as_i64()).filter(|n| *n > 0).unwrap_or(default)
        };
        Ok(RetentionPolicy {
            notification_days: get(settings.get("retention.notification_days").await?, d.notification_days),
            notifications_per_user: get(
                settings.get("retention.notifications_per_user").await?,
                d.notifications_per_user,
            ),
            event_days: get(settings.get("retention.event_days").await?, d.event_days),
            job_days: get(settings.get("retention.job_days").await?, d.job_days),
        })
    }
}

/// One pass over everything retention covers.
pub async fn prune(services: &crate::Services) -> Result<Pruned> {
    let p = RetentionPolicy::from_settings(&services.settings).await?;
    Ok(Pruned {
        notifications: services.notifications.prune(p.notification_days * DAY_MS, p.notifications_per_user).await?,
        events: services.events.prune(p.event_days * DAY_MS).await?,
        jobs: services.jobs.store().prune_finished(p.job_days * DAY_MS).await?,
    })
}
