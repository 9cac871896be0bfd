//! Metric pieces both servers register (prometheus-client): the label sets of HTTP requests and
//! of outcomes, the request-latency histogram's buckets, and the mapping of request methods to a
//! fixed label set (every label value is a permanent series, so none may come from the client).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::histogram::Histogram;

/// Labels of the per-request counters and histograms.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    /// One of [`METHOD_LABELS`] (see [`method_label`]), never the raw request method.
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

/// Every value the `method` label can take: a client may send any extension method, and each
/// distinct label value would be a new series kept for the life of the process.
pub const METHOD_LABELS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "other"];

/// The `method` label of a request: its method when it is one of the five the APIs serve,
/// `other` for anything else (HEAD, OPTIONS, extension methods).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn method_labels_are_a_fixed_set() {
        for (m, want) in [
            (Method::GET, "GET"),
            (Method::POST, "POST"),
            (Method::PUT, "PUT"),
            (Method::PATCH, "PATCH"),
            (Method::DELETE, "DELETE"),
            (Method::HEAD, "other"),
            (Method::OPTIONS, "other"),
        ] {
            assert_eq!(method_label(&m), want);
        }
        for raw in ["FOO", "X-RANDOM-1", "get", "PROPFIND"] {
            let m = Method::from_bytes(raw.as_bytes()).unwrap();
            assert_eq!(method_label(&m), "other", "{raw}");
        }
        for raw in ["GET", "X1", "X2"] {
            let m = Method::from_bytes(raw.as_bytes()).unwrap();
            assert!(METHOD_LABELS.contains(&method_label(&m)));
        }
    }
}
