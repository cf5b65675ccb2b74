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

use est_ca_handler::api::ProblemKind;
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
    pub fn enrollment(&self, outcome: Outcome) {
        self.enrollments
            .get_or_create(&OutcomeLabels {
                outcome: outcome.label(),
            })
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

/// What became of an enrollment (`POST /enroll` or `/poll`) that reached
/// the handler, as the `outcome` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `200`: a certificate.
    Issued,
    /// `202`: the CA will decide later.
    Pending,
    /// `403` from `/poll`: the CA rejected the pending request.
    RejectedByCa,
    /// A problem answer of this kind.
    Problem(ProblemKind),
    /// Any other answer: an error status without a kind the host knows.
    Other,
}

impl Outcome {
    /// The `outcome` label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Issued => "issued",
            Self::Pending => "pending",
            Self::RejectedByCa => "rejected-by-ca",
            Self::Problem(kind) => kind.name(),
            Self::Other => "other",
        }
    }

    /// Every outcome an answer can have: the labels the metric can show.
    pub fn all() -> impl Iterator<Item = Self> {
        [Self::Issued, Self::Pending, Self::RejectedByCa, Self::Other]
            .into_iter()
            .chain(
                ProblemKind::ALL
                    .into_iter()
                    .filter(|kind| !refuses_the_caller(*kind))
                    .map(Self::Problem),
            )
    }
}

/// Whether a problem of `kind` is always the API's refusal of its caller
/// before the handler (no or a broken `api_auth`, a wrong method or route,
/// the host's own `503` and `408`).
fn refuses_the_caller(kind: ProblemKind) -> bool {
    match kind {
        ProblemKind::ApiAuthUnconfigured
        | ProblemKind::ApiAuthInvalid
        | ProblemKind::MethodNotAllowed
        | ProblemKind::NotFound
        | ProblemKind::Overloaded
        | ProblemKind::BodyTimeout => true,
        ProblemKind::Config
        | ProblemKind::BadCsr
        | ProblemKind::BadRequest
        | ProblemKind::Unauthorized
        | ProblemKind::Rejected
        | ProblemKind::ServerError
        | ProblemKind::Transport
        | ProblemKind::Timeout
        | ProblemKind::MalformedAnswer
        | ProblemKind::CertificateMismatch
        | ProblemKind::NotSupported
        | ProblemKind::TooLarge
        | ProblemKind::Host => false,
    }
}

/// The outcome of an enrollment answered with `status` and, for a problem
/// answer, the `kind` its [`kind::HEADER`] names (read from the head,
/// never from the body). `None` for the API's refusals before the
/// handler: a missing or wrong token (the API's own `401`; the EST
/// server's refusal of the handler's credentials is a `502` of the same
/// kind) and the kinds that always refuse the caller. Those are counted in
/// `http_requests_total` by status (and `refused_total`), not as
/// enrollments.
///
/// [`kind::HEADER`]: est_ca_handler::api::kind::HEADER
pub fn outcome_of(status: u16, kind: Option<ProblemKind>) -> Option<Outcome> {
    match (status, kind) {
        (200, _) => Some(Outcome::Issued),
        (202, _) => Some(Outcome::Pending),
        (401, Some(ProblemKind::Unauthorized)) => None,
        (_, Some(kind)) if refuses_the_caller(kind) => None,
        (403, Some(ProblemKind::Rejected)) => Some(Outcome::RejectedByCa),
        (_, Some(kind)) => Some(Outcome::Problem(kind)),
        (_, None) => Some(Outcome::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_come_from_the_status_and_the_problem_kind_only() {
        let outcome = |status, kind| outcome_of(status, kind).map(Outcome::label);
        assert_eq!(outcome(200, None), Some("issued"));
        assert_eq!(outcome(202, None), Some("pending"));
        assert_eq!(
            outcome(502, Some(ProblemKind::Transport)),
            Some("transport")
        );
        assert_eq!(
            outcome(403, Some(ProblemKind::Rejected)),
            Some("rejected-by-ca")
        );
        // The EST server refusing the handler is an outcome...
        assert_eq!(
            outcome(502, Some(ProblemKind::Unauthorized)),
            Some("unauthorized")
        );
        // ...the API refusing its caller is not: it never reached the handler.
        for (status, kind) in [
            (401, ProblemKind::Unauthorized),
            (503, ProblemKind::ApiAuthUnconfigured),
            (500, ProblemKind::ApiAuthInvalid),
            (405, ProblemKind::MethodNotAllowed),
            (404, ProblemKind::NotFound),
            (503, ProblemKind::Overloaded),
            (408, ProblemKind::BodyTimeout),
        ] {
            assert_eq!(outcome(status, Some(kind)), None, "{kind}");
        }
        // An error without a kind the host knows is not a new label.
        assert_eq!(outcome(500, None), Some("other"));
    }

    #[test]
    fn every_outcome_has_one_label_and_every_kind_that_reaches_the_handler_is_one() {
        let labels: Vec<&str> = Outcome::all().map(Outcome::label).collect();
        let mut unique = labels.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), labels.len(), "{labels:?}");
        for kind in ProblemKind::ALL {
            let counted = outcome_of(502, Some(kind));
            assert_eq!(
                counted.is_some(),
                labels.contains(&kind.name()),
                "{kind}: {counted:?}"
            );
        }
    }

    #[test]
    fn the_documented_outcome_labels_are_the_outcomes() {
        // docs/http-api.md lists the labels in the metric's row.
        let docs = include_str!("../../../docs/http-api.md");
        let row = docs
            .lines()
            .find(|line| line.starts_with("| `ca_handler_enrollments_total`"))
            .expect("the enrollments row");
        let labels_cell = row.split('|').nth(2).expect("the labels cell");
        let mut documented: Vec<&str> = labels_cell
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|word| !["outcome", "problem-kind"].contains(word))
            .collect();
        documented.sort_unstable();
        let mut labels: Vec<&str> = Outcome::all().map(Outcome::label).collect();
        labels.sort_unstable();
        assert_eq!(documented, labels);
    }

    #[test]
    fn the_exposition_counts_and_never_takes_labels_from_callers() {
        let metrics = Metrics::new();
        metrics.request("/enroll", 200);
        metrics.request("/enroll", 200);
        metrics.request("/../../etc/passwd", 404);
        metrics.enrollment(Outcome::Issued);
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
