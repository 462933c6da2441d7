//! Request counts and latencies by route, in Prometheus' text format, for `GET /metrics`.
//!
//! Routes are labelled by their pattern (`/api/users/{username}`), never by the raw path, and
//! methods outside HTTP's own set share the label `other`, so the number of series stays
//! bounded whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Series {
    by_status: BTreeMap<u16, u64>,
    /// Cumulative counts per bucket, like Prometheus wants them.
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_seconds: f64,
}

pub struct HttpMetrics {
    series: Mutex<BTreeMap<(String, String), Series>>,
    started: std::time::SystemTime,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics { series: Mutex::new(BTreeMap::new()), started: std::time::SystemTime::now() }
    }
}

impl HttpMetrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        // A poisoned lock only means another request panicked mid-update; the counters are
        // still usable, so keep counting rather than lose metrics for good.
        let mut map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry((method.to_owned(), route.to_owned())).or_default();
        *s.by_status.entry(status).or_default() += 1;
        s.count += 1;
        s.sum_seconds += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP proxfleet_build_info Build information.");
        let _ = writeln!(out, "# TYPE proxfleet_build_info gauge");
        let _ = writeln!(out, "proxfleet_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
        let started = self.started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        let _ = writeln!(out, "# HELP process_start_time_seconds Start time of the process since the unix epoch.");
        let _ = writeln!(out, "# TYPE process_start_time_seconds gauge");
        let _ = writeln!(out, "process_start_time_seconds {started:.3}");

        let map = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(out, "# HELP proxfleet_http_requests_total HTTP requests by route and status.");
        let _ = writeln!(out, "# TYPE proxfleet_http_requests_total counter");
        for ((method, route), s) in map.iter() {
            for (status, n) in &s.by_status {
                let _ = writeln!(
                    out,
                    "proxfleet_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        let _ = writeln!(out, "# HELP proxfleet_http_request_duration_seconds HTTP request latency by route.");
        let _ = writeln!(out, "# TYPE proxfleet_http_request_duration_seconds histogram");
        for ((method, route), s) in map.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "proxfleet_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(out, "proxfleet_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "proxfleet_http_request_duration_seconds_sum{{{labels}}} {:.6}", s.sum_seconds);
            let _ = writeln!(out, "proxfleet_http_request_duration_seconds_count{{{labels}}} {}", s.count);
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The method label: the methods HTTP defines, and `other` for the rest. Clients may send any
/// token as a method (`FOO1`, `FOO2`, …); each must not become a series of its own.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// The route label: the matched pattern, or one of three fixed labels for requests no route
/// matched (raw paths would let any client create unbounded series).
fn route_label(req: &Request) -> String {
    match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None if req.uri().path().starts_with("/pkg/") => "/pkg/{file}".to_owned(),
        None if req.method() == Method::GET && !req.uri().path().starts_with("/api/") => "page".to_owned(),
        None => "unmatched".to_owned(),
    }
}

/// Middleware: times every request and records it under its method and route labels.
pub async fn track(State(metrics): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let route = route_label(&req);
    let start = Instant::now();
    let response = next.run(req).await;
    metrics.observe(method, &route, response.status().as_u16(), start.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = HttpMetrics::default();
        m.observe("GET", "/healthz", 200, 0.003);
        m.observe("GET", "/healthz", 200, 0.2);
        m.observe("GET", "/healthz", 503, 0.0005);
        let text = m.render();
        assert!(
            text.contains("proxfleet_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(text.contains("proxfleet_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"503\"} 1"));
        assert!(text.contains("route=\"/healthz\",le=\"0.001\"} 1"));
        assert!(text.contains("route=\"/healthz\",le=\"0.005\"} 2"));
        assert!(text.contains("route=\"/healthz\",le=\"0.25\"} 3"));
        assert!(text.contains("route=\"/healthz\",le=\"+Inf\"} 3"));
        assert!(text.contains("proxfleet_http_request_duration_seconds_count{method=\"GET\",route=\"/healthz\"} 3"));
        assert!(text.contains("proxfleet_build_info{version=\""));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        for made_up in ["FOO1", "FOO2", "PROPFIND"] {
            let m = Method::from_bytes(made_up.as_bytes()).unwrap_or_default();
            assert_eq!(method_label(&m), "other", "{made_up}");
        }
        assert_eq!(method_label(&Method::DELETE), "DELETE");
    }
}
