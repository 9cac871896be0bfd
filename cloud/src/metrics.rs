//! Prometheus metrics of the cloud (prometheus-client), served as text at `/metrics`.
//!
//! Counters are updated on the request path (a hash-map lookup and an atomic add); gauges that
//! need the database (farmers, change-log length) are refreshed when `/metrics` is scraped. The
//! sync counters are for the sync endpoint to feed from `ApplyOutcome` and `ReadingsOutcome`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use farmco_shell::metrics::{HttpLabels, OutcomeLabels, latency_histogram};

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_request_seconds: Family<HttpLabels, Histogram>,
    pub logins: Family<OutcomeLabels, Counter>,
    pub enrollments: Family<OutcomeLabels, Counter>,
    /// Document changes accepted from edges (new or already known).
    pub changes_applied: Counter,
    /// Document changes refused and quarantined.
    pub changes_rejected: Counter,
    pub readings_inserted: Counter,
    pub readings_duplicates: Counter,
    /// Batches that hit a unique violation and took the temp-table fallback.
    pub readings_copy_fallbacks: Counter,
    pub partitions_created: Counter,
    pub farmers: Gauge,
    pub change_log_entries: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("farmco_cloud");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            http_requests.clone(),
        );
        let http_request_seconds = Family::<HttpLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "http_request_seconds",
            "HTTP request latency",
            http_request_seconds.clone(),
        );
        let logins = Family::<OutcomeLabels, Counter>::default();
        registry.register("logins", "Login attempts by outcome", logins.clone());
        let enrollments = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "enrollments",
            "Device enrollments by outcome",
            enrollments.clone(),
        );
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let changes_applied = counter(
            &mut registry,
            "changes_applied",
            "Document changes accepted from edges",
        );
        let changes_rejected = counter(
            &mut registry,
            "changes_rejected",
            "Document changes refused and quarantined",
        );
        let readings_inserted = counter(&mut registry, "readings_inserted", "Readings stored");
        let readings_duplicates = counter(
            &mut registry,
            "readings_duplicates",
            "Readings skipped as already stored",
        );
        let readings_copy_fallbacks = counter(
            &mut registry,
            "readings_copy_fallbacks",
            "Readings batches that fell back to INSERT ON CONFLICT",
        );
        let partitions_created = counter(
            &mut registry,
            "partitions_created",
            "Readings partitions created",
        );
        let farmers = Gauge::default();
        registry.register("farmers", "Farmers in the projection", farmers.clone());
        let change_log_entries = Gauge::default();
        registry.register(
            "change_log_entries",
            "Entries in the change log",
            change_log_entries.clone(),
        );
        Metrics {
            registry,
            http_requests,
            http_request_seconds,
            logins,
            enrollments,
            changes_applied,
            changes_rejected,
            readings_inserted,
            readings_duplicates,
            readings_copy_fallbacks,
            partitions_created,
            farmers,
            change_log_entries,
        }
    }

    pub fn login(&self, outcome: &str) {
        self.logins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    pub fn enrollment(&self, outcome: &str) {
        self.enrollments
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}
