//! What a host has done, as Prometheus metrics (`prometheus-client`, text
//! format 0.0.4): the API's requests by route and status, enrollments by
//! outcome, the EST server's answer times by endpoint, component instances
//! in flight, requests refused for load, and the largest linear memory an
//! instance has had. `ca-handler serve --metrics-listen ADDR` serves them
//! at `GET /metrics` ([`crate::Host::serve_metrics`]).
//!
//! Labels take values from fixed sets only (routes, endpoints, outcome
//! kinds, statuses), never from what a caller sent, so that no client can
//! grow the number of series.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::sync::Arc;
use std::time::Duration;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The API's routes, as the `route` label has them; any other path is `other`.
const ROUTES: [&str; 6] = [
    "/enroll", "/poll", "/cacerts", "/health", "/revoke", "/trigger",
];

/// The EST server's answer-time buckets, in seconds: from a local server's
/// sub-millisecond answers to a CA that takes the whole default timeout.
const EST_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 20.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// A host's metrics; cheap to clone (the clones share the counts).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    enrollments: Family<OutcomeLabels, Counter>,
    est_duration: Family<EndpointLabels, Histogram>,
    instances: Gauge,
    refused: Family<ReasonLabels, Counter>,
    peak_memory: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh metrics, all at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ca_handler");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP API requests answered, by route and status",
            requests.clone(),
        );
        let enrollments = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "enrollments",
            "Enrollments (POST /enroll and /poll) by outcome: issued, pending, rejected-by-ca (poll), or the problem kind",
            enrollments.clone(),
        );
        let est_duration =
            Family::<EndpointLabels, Histogram>::new_with_constructor(|| -> Histogram {
                Histogram::new(EST_BUCKETS)
            });
        registry.register_with_unit(
            "est_request_duration",
            "Time from sending an EST request to the EST server's answer head, by endpoint",
            Unit::Seconds,
            est_duration.clone(),
        );
        let instances = Gauge::default();
        registry.register(
            "instances_in_flight",
            "Component instances alive now",
            instances.clone(),
        );
        let refused = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "refused",
            "Requests and connections refused (503 for load, 408 for a body too slow), by the limit they hit",
            refused.clone(),
        );
        let peak_memory = Gauge::default();
        registry.register_with_unit(
            "instance_memory_peak",
            "The largest linear memory any component instance has had",
            Unit::Bytes,
            peak_memory.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            enrollments,
            est_duration,
            instances,
            refused,
            peak_memory,
        }
    }

    /// Counts an API answer to `path` with `status`.
    pub fn request(&self, path: &str, status: u16) {
        let route = ROUTES
            .into_iter()
            .find(|route| *route == path)
            .unwrap_or("other");
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    /// Counts an enrollment's outcome (see [`outcome_of`]).
    pub fn enrollment(&self, outcome: &'static str) {
        self.enrollments
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Records how long the EST server took to answer a request to `path`.
    pub fn est_request(&self, path: &str, took: Duration) {
        let endpoint = if path.ends_with("/simpleenroll") {
            "simpleenroll"
        } else if path.ends_with("/cacerts") {
            "cacerts"
        } else {
            "other"
        };
        self.est_duration
            .get_or_create(&EndpointLabels { endpoint })
            .observe(took.as_secs_f64());
    }

    /// Counts one instance alive until the guard is dropped.
    pub fn instance(&self) -> InstanceGuard {
        self.instances.inc();
        InstanceGuard(self.instances.clone())
    }

    /// Counts a request refused because the instances are all busy
    /// (`"instances"`) or its body was too slow (`"body-timeout"`), or a
    /// connection refused because too many are open (`"connections"`, or
    /// `"metrics-connections"` on the metrics listener).
    pub fn refused(&self, reason: &'static str) {
        self.refused.get_or_create(&ReasonLabels { reason }).inc();
    }

    /// The metrics in the Prometheus text format, with the peak instance
    /// memory `peak_memory` (bytes).
    pub fn encode(&self, peak_memory: usize) -> String {
        self.peak_memory
            .set(i64::try_from(peak_memory).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry);
        text
    }
}

/// Keeps an instance counted in `instances_in_flight`.
pub struct InstanceGuard(Gauge);

impl Drop for InstanceGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The outcome label of an enrollment answer that reached the handler:
/// `issued` (200), `pending` (202), `rejected-by-ca` (403 from `/poll`),
/// else the problem kind named by the problem document's `type`
/// (`urn:est-ca-handler:problem:<kind>`), or `other` when it names none of
/// the known kinds. `None` for the API's refusals before the handler (a
/// missing or wrong token, no or a broken `api_auth`, a wrong method, and
/// the host's own `503` and `408`): those are counted in
/// `http_requests_total` by status (and `refused_total`), not as
/// enrollments.
pub fn outcome_of(status: u16, problem: &[u8]) -> Option<&'static str> {
    match status {
        200 => return Some("issued"),
        202 => return Some("pending"),
        _ => {}
    }
    let kind = serde_json::from_slice::<serde_json::Value>(problem)
        .ok()
        .and_then(|doc| {
            doc.get("type")
                .and_then(|t| t.as_str())
                .and_then(|t| t.strip_prefix("urn:est-ca-handler:problem:"))
                .map(str::to_owned)
        });
    const REFUSALS: [&str; 6] = [
        "api-auth-unconfigured",
        "api-auth-invalid",
        "method-not-allowed",
        "not-found",
        "overloaded",
        "body-timeout",
    ];
    const KINDS: [&str; 13] = [
        "config",
        "bad-csr",
        "bad-request",
        "unauthorized",
        "rejected",
        "server-error",
        "transport",
        "timeout",
        "malformed-answer",
        "certificate-mismatch",
        "not-supported",
        "too-large",
        "host",
    ];
    match kind.as_deref() {
        // The API's own 401 (the EST server's refusal of the handler's
        // credentials is a 502 of the same kind).
        Some("unauthorized") if status == 401 => None,
        Some(kind) if REFUSALS.contains(&kind) => None,
        Some("rejected") if status == 403 => Some("rejected-by-ca"),
        Some(kind) => Some(KINDS.into_iter().find(|k| *k == kind).unwrap_or("other")),
        None => Some("other"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_come_from_the_status_and_the_problem_type_only() {
        assert_eq!(outcome_of(200, b""), Some("issued"));
        assert_eq!(outcome_of(202, b"{}"), Some("pending"));
        assert_eq!(
            outcome_of(
                502,
                br#"{"type":"urn:est-ca-handler:problem:transport","cause":"dns"}"#
            ),
            Some("transport")
        );
        assert_eq!(
            outcome_of(403, br#"{"type":"urn:est-ca-handler:problem:rejected"}"#),
            Some("rejected-by-ca")
        );
        // The EST server refusing the handler is an outcome...
        assert_eq!(
            outcome_of(
                502,
                br#"{"type":"urn:est-ca-handler:problem:unauthorized"}"#
            ),
            Some("unauthorized")
        );
        // ...the API refusing its caller is not: it never reached the handler.
        for (status, kind) in [
            (401, "unauthorized"),
            (503, "api-auth-unconfigured"),
            (500, "api-auth-invalid"),
            (405, "method-not-allowed"),
            (503, "overloaded"),
            (408, "body-timeout"),
        ] {
            let doc = format!(r#"{{"type":"urn:est-ca-handler:problem:{kind}"}}"#);
            assert_eq!(outcome_of(status, doc.as_bytes()), None, "{kind}");
        }
        // A kind the host does not know, or no document, is not a new label.
        assert_eq!(
            outcome_of(502, br#"{"type":"urn:est-ca-handler:problem:a-new-one"}"#),
            Some("other")
        );
        assert_eq!(outcome_of(500, b"not json"), Some("other"));
    }

    #[test]
    fn the_exposition_counts_and_never_takes_labels_from_callers() {
        let metrics = Metrics::new();
        metrics.request("/enroll", 200);
        metrics.request("/enroll", 200);
        metrics.request("/../../etc/passwd", 404);
        metrics.enrollment("issued");
        metrics.est_request("/.well-known/est/simpleenroll", Duration::from_millis(3));
        metrics.refused("instances");
        let guard = metrics.instance();
        let text = metrics.encode(1 << 20);
        assert!(
            text.contains("ca_handler_http_requests_total{route=\"/enroll\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("ca_handler_http_requests_total{route=\"other\",status=\"404\"} 1"),
            "{text}"
        );
        assert!(!text.contains("passwd"), "{text}");
        assert!(
            text.contains("ca_handler_enrollments_total{outcome=\"issued\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "ca_handler_est_request_duration_seconds_bucket{endpoint=\"simpleenroll\",le=\"0.005\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("ca_handler_instances_in_flight 1"), "{text}");
        assert!(
            text.contains("ca_handler_refused_total{reason=\"instances\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("ca_handler_instance_memory_peak_bytes 1048576"),
            "{text}"
        );
        drop(guard);
        assert!(
            metrics
                .encode(0)
                .contains("ca_handler_instances_in_flight 0")
        );
    }
}
