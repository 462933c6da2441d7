//! The caller's notifications (their own and broadcasts), with per-user read and clear state.

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{json, Value};

use domain::notifications::{Notification, Severity};

use super::envelope::{ApiOk, Pagination};
use super::extract::{PageParams, Path, Query};
use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// Your notifications, newest first.
#[utoipa::path(get, path = "/api/notifications", tag = "notifications", params(PageParams),
    responses((status = 200, body = Envelope<Vec<Object>>)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(pages): Query<PageParams>,
) -> Result<ApiOk<Vec<Notification>>, ApiError> {
    let (page, per_page) = pages.resolve()?;
    let (items, total) = state.services.notifications.list(&actor, page, per_page).await?;
    Ok(ApiOk::new(items).paginated(Pagination::new(page, per_page, u64::try_from(total).unwrap_or(0))))
}

/// The newest one (or null).
#[utoipa::path(get, path = "/api/notifications/latest", tag = "notifications", responses((status = 200, body = Envelope<Object>)))]
pub async fn latest(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Option<Notification>>, ApiError> {
    Ok(ApiOk::new(state.services.notifications.latest(&actor).await?))
}

/// How many you have not read.
#[utoipa::path(get, path = "/api/notifications/unread-count", tag = "notifications", responses((status = 200, body = Envelope<Object>)))]
pub async fn unread_count(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    Ok(ApiOk::new(json!({ "count": state.services.notifications.unread_count(&actor).await? })))
}

/// One of yours (someone else's is 404).
#[utoipa::path(get, path = "/api/notifications/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<Notification>, ApiError> {
    Ok(ApiOk::new(state.services.notifications.get(&actor, id).await?))
}

/// Marks one read (for you only).
#[utoipa::path(post, path = "/api/notifications/{id}/read", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn read(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.notifications.mark_read(&actor, id).await?;
    Ok(ApiOk::new(json!({})).message("marked read"))
}

/// Removes one from your view (a broadcast stays for everyone else).
#[utoipa::path(delete, path = "/api/notifications/{id}", tag = "notifications", params(("id" = i64, Path)),
    responses((status = 200, body = Envelope<Object>), (status = 404)))]
pub async fn delete(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<i64>,
) -> Result<ApiOk<Value>, ApiError> {
    state.services.notifications.delete(&actor, id).await?;
    Ok(ApiOk::new(json!({})).message("deleted"))
}

/// Clears your view.
#[utoipa::path(post, path = "/api/notifications/clear-all", tag = "notifications", responses((status = 200, body = Envelope<Object>)))]
pub async fn clear_all(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiOk<Value>, ApiError> {
    let n = state.services.notifications.clear_all(&actor).await?;
    Ok(ApiOk::new(json!({ "cleared": n })).message(format!("{n} notifications cleared")))
}

/// Sends yourself a test notification.
#[utoipa::path(post, path = "/api/test/notification", tag = "notifications", responses((status = 201, body = Envelope<Object>)))]
pub async fn test(State(state): State<AppState>, CurrentActor(actor): CurrentActor) -> Result<ApiOk<Value>, ApiError> {
    let id = state
        .services
        .notifications
        .create(&Notification {
            user_id: Some(actor.user_id),
            kind: "test".into(),
            title: "Test notification".into(),
            message: "Notifications reach you.".into(),
            details: String::new(),
            severity: Severity::Info,
            job_id: None,
            ..Default::default()
        })
        .await?;
    Ok(ApiOk::new(json!({ "id": id })).status(StatusCode::CREATED))
}
