//! The HTTP side: one `reqwest` client per cluster, authentication (API token, or a ticket that
//! every call shares and that is renewed before its 2-hour lifetime ends), the `{"data":…}`
//! envelope, error classification, and retries for reads only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Mutex;

use crate::error::{ErrorKind, PveError};
use crate::params::{Method, Request};
use crate::tls::{client_config, TlsMode};

pub use pve_schema::auth::Auth;

#[derive(Debug, Clone)]
pub struct PveConfig {
    /// `https://host:8006` (no `/api2/json`).
    pub base_url: String,
    pub auth: Auth,
    pub tls: TlsMode,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Read retries on transient failures (0 = none); writes are never repeated.
    pub read_retries: u32,
    /// First backoff; doubles per retry (with jitter, at most 16×).
    pub backoff: Duration,
    /// Ticket auth: renew the shared ticket once it is this old (PVE tickets live 2 h).
    pub ticket_renew_after: Duration,
}

impl PveConfig {
    pub fn new(base_url: impl Into<String>, auth: Auth, tls: TlsMode) -> PveConfig {
        PveConfig {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            auth,
            tls,
            timeout: Duration::from_secs(30),
            read_retries: 3,
            backoff: Duration::from_millis(200),
            ticket_renew_after: Duration::from_secs(60 * 60),
        }
    }
}

#[derive(Debug, Clone)]
struct Ticket {
    ticket: String,
    csrf: String,
    issued: Instant,
}

/// A client for one cluster. Cheap to clone; clones share the connection pool and the ticket.
#[derive(Clone)]
pub struct PveClient {
    http: reqwest::Client,
    config: Arc<PveConfig>,
    ticket: Arc<Mutex<Option<Ticket>>>,
}

impl std::fmt::Debug for PveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PveClient").field("base_url", &self.config.base_url).field("auth", &self.config.auth).finish()
    }
}

fn unreachable(e: impl std::fmt::Display) -> PveError {
    PveError::new(ErrorKind::Unreachable, 0, format!("Proxmox VE unreachable: {e}"))
}

impl PveClient {
    pub fn new(config: PveConfig) -> Result<PveClient, String> {
        let tls = client_config(&config.tls)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(PveClient { http, config: Arc::new(config), ticket: Arc::new(Mutex::new(None)) })
    }

    pub fn base_url(&self) -> &str {
        &self.config.base_url
    }

    /// Sends a request and decodes `data` into `T`. Reads are retried with backoff while the
    /// cluster is unreachable; writes are sent once.
    pub async fn call<T: DeserializeOwned>(&self, req: &Request) -> Result<T, PveError> {
        #[derive(serde::Deserialize)]
        struct Envelope<T> {
            data: T,
        }
        // Straight from the bytes into `T` (no intermediate JSON tree: the inventory of a
        // large cluster decodes several times faster this way).
        let body = self.call_bytes(req).await?;
        serde_json::from_slice::<Envelope<T>>(&body).map(|e| e.data).map_err(|e| {
            PveError::new(
                ErrorKind::Rejected,
                200,
                format!("unexpected answer to {} {}: {e}", req.method.as_str(), req.template),
            )
        })
    }

    /// The raw `data` value.
    pub async fn call_value(&self, req: &Request) -> Result<Value, PveError> {
        let body = self.call_bytes(req).await?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok(json.get("data").cloned().unwrap_or(Value::Null))
    }

    /// The body of a successful answer.
    async fn call_bytes(&self, req: &Request) -> Result<bytes::Bytes, PveError> {
        let mut attempt = 0;
        loop {
            match self.send_once(req).await {
                Err(e) if req.method.is_read() && e.is_transient() && attempt < self.config.read_retries => {
                    let wait = crate::backoff::pause(self.config.backoff, self.config.backoff * 16, attempt);
                    tracing::debug!(path = %req.path, attempt, error = %e, "PVE read failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(&self, req: &Request) -> Result<bytes::Bytes, PveError> {
        let url = format!("{}/api2/json{}", self.config.base_url, req.path);
        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.http.request(method, &url);
        // Path parameters are in the path; the schema lists them too, but PVE refuses them
        // repeated in the body with other values, so send only the rest.
        let params: Vec<&(String, String)> =
            req.params.0.iter().filter(|(k, _)| !req.template.contains(&format!("{{{k}}}"))).collect();
        builder = match req.method {
            Method::Get | Method::Delete => builder.query(&params),
            Method::Post | Method::Put => builder.form(&params),
        };
        builder = self.authorize(builder, req.method).await?;
        let resp = builder.send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        if status == 401 {
            // A ticket may have been revoked or expired early: forget it, log in again next time.
            *self.ticket.lock().await = None;
        }
        let reason = resp.status().canonical_reason().unwrap_or("").to_owned();
        let body = resp.bytes().await.map_err(unreachable)?;
        if (200..300).contains(&status) {
            return Ok(body);
        }
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let message = json.get("message").and_then(Value::as_str).map_or(reason, str::to_owned);
        let errors: BTreeMap<String, String> = json
            .get("errors")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            })
            .unwrap_or_default();
        Err(PveError::from_response(status, &message, errors))
    }

    async fn authorize(
        &self,
        builder: reqwest::RequestBuilder,
        method: Method,
    ) -> Result<reqwest::RequestBuilder, PveError> {
        match &self.config.auth {
            Auth::Token { user, token_id, secret } => {
                Ok(builder.header("Authorization", format!("PVEAPIToken={user}!{token_id}={secret}")))
            }
            Auth::Password { .. } => {
                let ticket = self.ticket().await?;
                let builder = builder.header("Cookie", format!("PVEAuthCookie={}", ticket.ticket));
                Ok(if method == Method::Get { builder } else { builder.header("CSRFPreventionToken", ticket.csrf) })
            }
        }
    }

    /// The shared ticket: logged in once, renewed (with the current ticket as the password, as
    /// PVE allows) when it is an hour old. The lock makes concurrent callers wait for one login
    /// instead of each logging in.
    async fn ticket(&self) -> Result<Ticket, PveError> {
        let Auth::Password { username, password } = &self.config.auth else {
            return Err(PveError::new(ErrorKind::Auth, 0, "not using ticket authentication"));
        };
        let mut slot = self.ticket.lock().await;
        if let Some(t) = slot.as_ref().filter(|t| t.issued.elapsed() < self.config.ticket_renew_after) {
            return Ok(t.clone());
        }
        let secret = slot.as_ref().map_or(password.as_str(), |t| t.ticket.as_str()).to_owned();
        let fresh = match self.login(username, &secret).await {
            // A renewal refused (ticket too old): fall back to the password.
            Err(e) if e.kind == ErrorKind::Auth && slot.is_some() => self.login(username, password).await?,
            other => other?,
        };
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    async fn login(&self, username: &str, password: &str) -> Result<Ticket, PveError> {
        let req = crate::api::access::ticket(username, password);
        let url = format!("{}/api2/json{}", self.config.base_url, req.path);
        let resp = self.http.post(&url).form(&req.params.0).send().await.map_err(unreachable)?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(PveError::from_response(status, "authentication failure", BTreeMap::new()));
        }
        let json: Value = resp.json().await.map_err(unreachable)?;
        let data = &json["data"];
        match (data["ticket"].as_str(), data["CSRFPreventionToken"].as_str()) {
            (Some(t), Some(c)) => Ok(Ticket { ticket: t.to_owned(), csrf: c.to_owned(), issued: Instant::now() }),
            _ => Err(PveError::new(ErrorKind::Auth, status, "login answered without a ticket")),
        }
    }
}
