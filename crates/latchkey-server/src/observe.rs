//! Observability: a request id on every request (taken from `X-Request-Id`
//! when it is sane, else generated) carried by the log span and echoed in the
//! response, and Prometheus metrics at `/metrics`.
//!
//! Metric names (all prefixed `latchkey_`):
//! - `http_requests_total{route,method,status}`, `http_request_duration_seconds{route,method}`
//! - `tokens_issued_total{grant_type}`, `logins_total{outcome}`, `refresh_token_reuse_total`
//! - `login_locks_total{limit}`, `login_throttled_total{limit}` (sign-in limits: account or address)
//! - `store_operation_seconds{op}`, `store_errors_total{backend,kind}`, `store_ping_seconds`
//! - `signing_key_age_seconds{state}`
//! - `cache_lookups_total{cache,result}` (client, user and denylist caches; hit or miss)
//!
//! Labels are routes and codes, never ids or tokens, so series stay few and
//! nothing secret leaves through `/metrics`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// Latency buckets (seconds): a token response is ~1 ms of RSA; a sign-in
/// is ~50 ms of Argon2.
const BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Installs the process-wide recorder; returns the handle `/metrics` renders.
pub fn install_metrics() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .expect("buckets are not empty");
    match builder.install_recorder() {
        Ok(handle) => {
            describe();
            // Histogram samples wait in a buffer until upkeep folds them into
            // the buckets; without it they pile up (170 MiB after a minute at
            // 60k requests/s). Once a second keeps the buffer small.
            let upkeep = handle.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed");
            None
        }
    }
}

fn describe() {
    metrics::describe_counter!("latchkey_http_requests_total", "HTTP requests by route, method and status.");
    metrics::describe_histogram!(
        "latchkey_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time to answer an HTTP request."
    );
    metrics::describe_counter!("latchkey_tokens_issued_total", "Token responses by grant type.");
    metrics::describe_counter!("latchkey_logins_total", "Password sign-ins by outcome.");
    metrics::describe_counter!(
        "latchkey_login_locks_total",
        "Locks set by failed sign-ins, by limit (account, address)."
    );
    metrics::describe_counter!(
        "latchkey_login_throttled_total",
        "Sign-ins refused without a password check, by limit (account, address)."
    );
    metrics::describe_counter!(
        "latchkey_refresh_token_reuse_total",
        "Spent refresh tokens presented again (each revoked its family)."
    );
    metrics::describe_counter!("latchkey_store_errors_total", "Failed store operations by kind.");
    metrics::describe_histogram!(
        "latchkey_store_operation_seconds",
        metrics::Unit::Seconds,
        "Duration of each store operation."
    );
    metrics::describe_histogram!(
        "latchkey_store_ping_seconds",
        metrics::Unit::Seconds,
        "Round trip of the readiness check to the stores."
    );
    metrics::describe_gauge!("latchkey_signing_key_age_seconds", metrics::Unit::Seconds, "Age of each signing key.");
}

/// GET /metrics in the Prometheus text format.
pub async fn metrics_endpoint(State(handle): State<Option<PrometheusHandle>>) -> Response {
    let Some(handle) = handle else {
        return latchkey_http::not_found().await;
    };
    handle.run_upkeep();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))],
        handle.render(),
    )
        .into_response()
}

/// A caller's request id is kept if it is short and plain (it ends up in
/// logs, so no control characters or quotes); otherwise a new one is made.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 128
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'='))
        })
        .map(str::to_string)
        .unwrap_or_else(latchkey_core::random::label)
}

/// Middleware: request id, log span, access log line, request metrics.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    // The route template ("/authorize"), never the raw path: bounded label
    // values, and no query strings (which carry codes) in logs.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |p| p.as_str());
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route);
    let mut res = next.run(req).instrument(span.clone()).await;
    let status = res.status().as_u16();
    let elapsed = started.elapsed();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    span.in_scope(|| {
        tracing::debug!(status, elapsed_ms = elapsed.as_secs_f64() * 1000.0, "request done");
    });
    record_request(route, &method, status, elapsed.as_secs_f64());
    res
}

/// Metric handles of one route, per method (and status).
#[derive(Default)]
struct RouteMetrics {
    requests: Vec<(Method, u16, metrics::Counter)>,
    durations: Vec<(Method, metrics::Histogram)>,
}

thread_local! {
    /// Looking a labelled metric up in the recorder builds its key (three
    /// label strings) and hashes it: 10-20% of a JWKS request's CPU. The
    /// handles are cached per worker thread instead; routes are few.
    static REQUEST_METRICS: RefCell<HashMap<String, RouteMetrics>> = RefCell::new(HashMap::new());
}

fn record_request(route: &str, method: &Method, status: u16, seconds: f64) {
    REQUEST_METRICS.with_borrow_mut(|cache| {
        if !cache.contains_key(route) {
            cache.insert(route.to_string(), RouteMetrics::default());
        }
        let entry = cache.get_mut(route).expect("inserted above");
        let counter = match entry.requests.iter().find(|(m, s, _)| m == method && *s == status) {
            Some((_, _, c)) => c,
            None => {
                let c = metrics::counter!("latchkey_http_requests_total", "route" => route.to_string(), "method" => method.as_str().to_string(), "status" => status.to_string());
                entry.requests.push((method.clone(), status, c));
                &entry.requests.last().expect("pushed").2
            }
        };
        counter.increment(1);
        let histogram = match entry.durations.iter().find(|(m, _)| m == method) {
            Some((_, h)) => h,
            None => {
                let h = metrics::histogram!("latchkey_http_request_duration_seconds", "route" => route.to_string(), "method" => method.as_str().to_string());
                entry.durations.push((method.clone(), h));
                &entry.durations.last().expect("pushed").1
            }
        };
        histogram.record(seconds);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(v: &str) -> Request {
        Request::builder().header(REQUEST_ID, v).body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn request_ids_are_kept_when_plain_and_replaced_otherwise() {
        assert_eq!(request_id(&with_header("abc-123_X.y:z")), "abc-123_X.y:z");
        for bad in ["", "has space", "quote\"", &"x".repeat(129), "new\nline"] {
            let Ok(v) = HeaderValue::from_str(bad) else { continue };
            let req = Request::builder().header(REQUEST_ID, v).body(axum::body::Body::empty()).unwrap();
            let id = request_id(&req);
            assert_ne!(id, bad);
            assert!(id.len() >= 16 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{id}");
        }
    }
}
