//! Server-sent events: `GET /api/events` (every typed event the caller may see) and
//! `GET /api/notifications/stream` (notifications only, in the seed's format). Both send `id:`
//! lines, honour `Last-Event-ID` (replaying what was missed from the database), send a `retry:`
//! hint and heartbeats, tell proxies not to buffer, and cap connections per user.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use domain::auth::Actor;
use domain::events::{Event, EventBus};

use super::ApiError;
use crate::identity::CurrentActor;
use crate::AppState;

/// Open streams per user; beyond this a new one is refused (429).
pub const MAX_STREAMS_PER_USER: usize = 8;

/// Counts open streams per user.
#[derive(Debug, Clone, Default)]
pub struct StreamCounter(Arc<Mutex<HashMap<i64, usize>>>);

/// Held by an open stream; closing the stream gives the slot back.
struct Slot {
    counter: StreamCounter,
    user: i64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.counter.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n = n.saturating_sub(1);
        }
    }
}

impl StreamCounter {
    fn take(&self, user: i64) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(user).or_insert(0);
        if *n >= MAX_STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(Slot { counter: self.clone(), user })
    }
}

struct Cursor {
    bus: EventBus,
    actor: Actor,
    only: Option<&'static str>,
    rx: tokio::sync::broadcast::Receiver<Event>,
    backlog: VecDeque<Event>,
    /// Everything up to this id was delivered or predates the stream (replay starts here).
    last: i64,
    /// Where the stream started: live events at or below it were replayed or predate it.
    start: i64,
    /// Ids delivered live: with several instances, commit order may differ from id order, so
    /// a live event below `last` is still delivered unless it was seen.
    seen: std::collections::HashSet<i64>,
    _slot: Slot,
}

impl Cursor {
    fn wanted(&self, e: &Event, live: bool) -> bool {
        let new = if live { !self.seen.contains(&e.id) && e.id > self.start } else { e.id > self.last };
        new && e.visible_to(&self.actor) && self.only.is_none_or(|k| k == e.kind)
    }

    fn mark(&mut self, id: i64) {
        self.last = self.last.max(id);
        if self.seen.len() > 4096 {
            self.seen.clear();
        }
        self.seen.insert(id);
    }

    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                if self.wanted(&e, false) && !self.seen.contains(&e.id) {
                    self.mark(e.id);
                    return Some(e);
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(e) if self.wanted(&e, true) => {
                    self.mark(e.id);
                    return Some(e);
                }
                Ok(_) => {}
                // Fell behind the in-memory channel: catch up from the database.
                Err(RecvError::Lagged(_)) => match self.bus.since(&self.actor, self.last, 500).await {
                    Ok(missed) => self.backlog.extend(missed),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot replay events for a lagging stream");
                        return None;
                    }
                },
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

async fn open(
    state: &AppState,
    actor: Actor,
    headers: &HeaderMap,
    only: Option<&'static str>,
) -> Result<Response, ApiError> {
    let Some(slot) = state.event_streams.take(actor.user_id) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("at most {MAX_STREAMS_PER_USER} live streams per user; close one first"),
        ));
    };
    let bus = state.services.events.clone();
    // Subscribe before reading the backlog, so nothing falls between the two; duplicates are
    // dropped by id.
    let rx = bus.subscribe();
    let (last, backlog) = match last_event_id(headers) {
        Some(after) => (after, bus.since(&actor, after, 1000).await?),
        None => (bus.last_id().await?, Vec::new()),
    };
    let cursor = Cursor {
        bus,
        actor,
        only,
        rx,
        backlog: backlog.into(),
        last,
        start: last,
        seen: Default::default(),
        _slot: slot,
    };
    let events = stream::unfold(cursor, |mut c| async move {
        let e = c.next().await?;
        Some((Ok::<_, Infallible>(to_sse(&e)), c))
    });
    let mut res = sse(events).into_response();
    // Reverse proxies (nginx) must not buffer the stream.
    res.headers_mut().insert("x-accel-buffering", HeaderValue::from_static("no"));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(res)
}

fn to_sse(e: &Event) -> SseEvent {
    SseEvent::default()
        .id(e.id.to_string())
        .event(e.kind.clone())
        .data(e.payload.to_string())
        .retry(Duration::from_secs(3))
}

fn sse<S: Stream<Item = Result<SseEvent, Infallible>> + Send + 'static>(s: S) -> impl IntoResponse {
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)).text("heartbeat"))
}

/// Every live event you may see: `notification`, `job_progress`, `job_finished`.
#[utoipa::path(get, path = "/api/events", tag = "notifications",
    responses((status = 200, description = "text/event-stream; send Last-Event-ID to resume"), (status = 429, description = "Too many open streams")))]
pub async fn events(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    open(&state, actor, &headers, None).await
}

/// Your notifications, live (`data: {"type":"notification","title":…,"message":…}`).
#[utoipa::path(get, path = "/api/notifications/stream", tag = "notifications",
    responses((status = 200, description = "text/event-stream; send Last-Event-ID to resume"), (status = 429, description = "Too many open streams")))]
pub async fn notifications(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    open(&state, actor, &headers, Some("notification")).await
}
