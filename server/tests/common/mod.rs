//! Real server instances on free loopback ports, over fresh databases, for HTTP tests.

#![allow(dead_code)]

use std::net::SocketAddr;

use axum::Router;
use domain::{Database, Services};
use server::config::{Config, LogFormat};
use server::{build_router, serve, Instance};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub url: String,
    pub services: Services,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), String>>>,
}

pub fn config(listen: SocketAddr) -> Config {
    Config {
        listen,
        database_url: "sqlite::memory:".into(),
        log_format: LogFormat::Human,
        log: "warn".into(),
        site_root: None,
        pve_url: None,
    }
}

/// Serves the real router (plus `extra` routes, for tests that need a controllable handler).
pub async fn spawn_with(db: Database, extra: Router) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let services = Services::new(db, true);
    let instance = Instance::with_services(services.clone(), &config(addr)).unwrap();
    let router = build_router(instance.state).merge(extra);
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(serve(listener, router, async move {
        let _ = rx.await;
    }));
    TestServer { url: format!("http://{addr}"), services, shutdown: Some(tx), handle: Some(handle) }
}

pub async fn spawn(db: Database) -> TestServer {
    spawn_with(db, Router::new()).await
}

impl TestServer {
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Starts a graceful shutdown and returns the serving task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<Result<(), String>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}
