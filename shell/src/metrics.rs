//! Metric pieces both servers register (prometheus-client): the label sets of HTTP requests and
//! of outcomes, and the request-latency histogram's buckets.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::histogram::Histogram;

/// Labels of the per-request counters and histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    /// The matched route template (`/api/v1/farmers/{id}`), never the raw path, so label
    /// cardinality stays bounded.
    pub route: String,
    pub status: u16,
}

/// A single `outcome` label (`ok`, `bad_password`, `rate_limited`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

/// Request latency buckets: 0.5 ms doubling to ~1 s, the normal range of both APIs (a route on
/// a Raspberry-Pi-class edge box, or a PostGIS query in the cloud).
pub fn latency_histogram() -> Histogram {
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.000_5, 2.0, 12,
    ))
}
