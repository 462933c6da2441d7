//! Reads are retried while the cluster is unreachable; writes are sent exactly once; errors
//! reach the caller classified.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers may fail loudly

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use pve::{Auth, ErrorKind, PveClient, PveConfig, TlsMode};

/// A stand-in answering 503 for the first `failures` calls of each route, counting calls.
async fn flaky(failures: usize) -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let reads = Arc::new(AtomicUsize::new(0));
    let writes = Arc::new(AtomicUsize::new(0));
    let (r, w) = (reads.clone(), writes.clone());
    let app = Router::new()
        .route(
            "/api2/json/version",
            get(move || {
                let n = r.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < failures {
                        (StatusCode::SERVICE_UNAVAILABLE, "{\"data\":null}").into_response_parts()
                    } else {
                        (StatusCode::OK, "{\"data\":{\"version\":\"9.1.1\",\"release\":\"9.1\",\"repoid\":\"abc\"}}")
                            .into_response_parts()
                    }
                }
            }),
        )
        .route(
            "/api2/json/nodes/{node}/qemu/{vmid}/status/start",
            post(move || {
                w.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::SERVICE_UNAVAILABLE, "{\"data\":null}").into_response_parts() }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, reads, writes)
}

trait Parts {
    fn into_response_parts(self) -> axum::response::Response;
}

impl Parts for (StatusCode, &'static str) {
    fn into_response_parts(self) -> axum::response::Response {
        use axum::response::IntoResponse;
        (self.0, [("content-type", "application/json")], self.1).into_response()
    }
}

fn client(url: &str) -> PveClient {
    let mut config = PveConfig::new(
        url,
        Auth::Token { user: "root@pam".into(), token_id: "t".into(), secret: "s".into() },
        TlsMode::System,
    );
    config.backoff = Duration::from_millis(1);
    config.read_retries = 3;
    PveClient::new(config).unwrap()
}

#[tokio::test]
async fn reads_are_retried_until_the_cluster_answers() {
    let (url, reads, _) = flaky(2).await;
    assert_eq!(client(&url).version().await.unwrap().version, "9.1.1");
    assert_eq!(reads.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn reads_give_up_after_the_retries_with_a_classified_error() {
    let (url, reads, _) = flaky(100).await;
    let e = client(&url).version().await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Unreachable, 503));
    assert_eq!(reads.load(Ordering::SeqCst), 4, "one call and three retries");
}

#[tokio::test]
async fn writes_are_never_repeated() {
    let (url, _, writes) = flaky(100).await;
    let e = client(&url).vm_power("pve1", 100, pve::Power::Start).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert_eq!(writes.load(Ordering::SeqCst), 1, "a start that may have happened is not sent again");
}

#[tokio::test]
async fn a_dead_address_is_unreachable() {
    // Bind and drop: nothing listens there any more.
    let addr = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let e = client(&format!("http://{addr}")).nodes().await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Unreachable, 0));
}
