//! Observability: a request id and one log line per request (method, route, status, latency,
//! actor), Prometheus metrics at `/metrics`, and the health probes `/healthz` and `/readyz`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use super::extract::ActorSlot;

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

/// Counters the server keeps in memory (they restart from zero with the process, as Prometheus
/// counters may).
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    runs: Mutex<BTreeMap<String, u64>>,
    fuel: AtomicU64,
    next_request: AtomicU64,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_string()).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if seconds <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += seconds;
            h.total += 1;
        }
    }

    /// Count a finished run (or submission) by outcome, with its fuel.
    pub fn run_finished(&self, outcome: &str, fuel: u64) {
        if let Ok(mut r) = self.runs.lock() {
            *r.entry(outcome.to_string()).or_default() += 1;
        }
        self.fuel.fetch_add(fuel, Ordering::Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, queued: i64, active: usize) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP sieve_http_requests_total HTTP requests by method, route and status.");
        let _ = writeln!(out, "# TYPE sieve_http_requests_total counter");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "sieve_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let _ = writeln!(out, "# HELP sieve_http_request_duration_seconds Request latency by route.");
        let _ = writeln!(out, "# TYPE sieve_http_request_duration_seconds histogram");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "sieve_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "sieve_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.total
                );
                let _ =
                    writeln!(out, "sieve_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", h.sum);
                let _ = writeln!(
                    out,
                    "sieve_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.total
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP sieve_runs_total Runs and submissions finished by this server, by outcome."
        );
        let _ = writeln!(out, "# TYPE sieve_runs_total counter");
        if let Ok(r) = self.runs.lock() {
            for (outcome, n) in r.iter() {
                let _ = writeln!(out, "sieve_runs_total{{outcome=\"{outcome}\"}} {n}");
            }
        }
        let _ =
            writeln!(out, "# HELP sieve_fuel_consumed_total Fuel consumed by the runs this server finished.");
        let _ = writeln!(out, "# TYPE sieve_fuel_consumed_total counter");
        let _ = writeln!(out, "sieve_fuel_consumed_total {}", self.fuel.load(Ordering::Relaxed));
        let _ =
            writeln!(out, "# HELP sieve_queue_depth Runs and submissions waiting in the registry's queue.");
        let _ = writeln!(out, "# TYPE sieve_queue_depth gauge");
        let _ = writeln!(out, "sieve_queue_depth {queued}");
        let _ = writeln!(out, "# HELP sieve_active_runs Runs executing on this server's workers now.");
        let _ = writeln!(out, "# TYPE sieve_active_runs gauge");
        let _ = writeln!(out, "sieve_active_runs {active}");
        out
    }
}

/// The middleware: give the request an id (echoed as `x-request-id`), time it, count it by its
/// route pattern (never the raw path: ids would make the metric unbounded), and log one line.
pub async fn track(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = state.metrics.next_request.fetch_add(1, Ordering::Relaxed) + 1;
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let slot = ActorSlot::default();
    request.extensions_mut().insert(slot.clone());
    let started = Instant::now();
    let writes = request.method() != axum::http::Method::GET;
    let mut response = next.run(request).await;
    // Anything but a read may have appended audit events (refusals included): sign them now.
    if writes {
        super::seal(&state.registry, &state.audit_key).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.observe(&method, &route, status, seconds);
    let actor = slot.0.lock().ok().and_then(|a| a.clone()).unwrap_or_else(|| "-".into());
    tracing::info!(request_id = id, %method, %route, status, latency_ms = seconds * 1e3, %actor, "request");
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and its migrations are this binary's, and the server is not
/// draining.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "ready"), (status = 503, description = "not ready", body = super::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    if state.queue.draining() {
        return Err(ApiError::unavailable("the server is shutting down"));
    }
    crate::storage::migrations_current(&state.registry.db)
        .await
        .map_err(|e| ApiError::unavailable(format!("the database is not ready: {e}")))?;
    Ok("ready")
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let queued = state.registry.queue_depth().await.unwrap_or(-1);
    let body = state.metrics.render(queued, state.queue.active());
    (StatusCode::OK, [("content-type", "text/plain; version=0.0.4")], body).into_response()
}
