//! Prometheus metrics of the node (prometheus-client), served as text at `/metrics`.
//!
//! Counters are updated on the request path (a hash-map lookup and an atomic add); gauges that
//! need the database (farmers, change-log backlog) are refreshed when `/metrics` is scraped.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use farmco_shell::metrics::{HttpLabels, OutcomeLabels, latency_histogram};

/// Notification attempts by channel and state (voice/notifications, issue #6).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelStateLabels {
    /// `sms` or `voice`.
    pub channel: String,
    /// The attempt's state (`scheduled`, `delivered`, `answered`, `failed`, ...): per-channel
    /// delivery rate = delivered (or answered) / all attempts of the channel.
    pub state: String,
}

/// A notification channel (`sms` or `voice`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabels {
    pub channel: String,
}

/// SMS service events (`received`, `duplicate`, `sent`, `retry`, `failed`, `delivered`, ...).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SmsEventLabels {
    pub event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// The modem's state, profile and operator as an info-style gauge (value 1).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModemInfoLabels {
    pub state: String,
    pub profile: String,
    pub operator: String,
    pub registration: String,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub http_request_seconds: Family<HttpLabels, Histogram>,
    pub logins: Family<OutcomeLabels, Counter>,
    pub farmers: Gauge,
    pub change_log_entries: Gauge,
    pub notification_attempts: Family<ChannelStateLabels, Gauge>,
    /// Delivered (SMS) or answered (voice) over attempts with a final outcome, per channel.
    pub notification_delivery_ratio:
        Family<ChannelLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    // SMS service and modem (refreshed from the driver's health on each scrape).
    pub sms_events: Family<SmsEventLabels, Counter>,
    pub sms_outbox_messages: Family<StateLabels, Gauge>,
    pub modem_info: Family<ModemInfoLabels, Gauge>,
    pub modem_signal_rssi: Gauge,
    pub modem_signal_dbm: Gauge,
    pub modem_registered: Gauge,
    pub modem_sms_parts_sent: Gauge,
    pub modem_resets: Gauge,
    pub ingest: IngestMetrics,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: String,
}

/// MQTT ingest counters (cheap clones sharing the registered metrics).
#[derive(Clone, Debug, Default)]
pub struct IngestMetrics {
    pub messages: Counter,
    pub readings_inserted: Counter,
    pub batches: Counter,
    pub dead_letters: Family<ReasonLabels, Counter>,
    pub alerts_raised: Counter,
}

impl IngestMetrics {
    /// Count one committed writer batch.
    pub fn record_batch(&self, messages: usize, outcome: &crate::store::ingest::BatchOutcome) {
        self.batches.inc();
        self.messages.inc_by(messages as u64);
        self.readings_inserted.inc_by(outcome.inserted as u64);
        for reason in &outcome.dead_letters {
            self.dead_letters
                .get_or_create(&ReasonLabels {
                    reason: (*reason).to_owned(),
                })
                .inc();
        }
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "ingest_messages",
            "MQTT messages committed (readings or dead letters)",
            self.messages.clone(),
        );
        registry.register(
            "ingest_readings_inserted",
            "New readings stored from MQTT",
            self.readings_inserted.clone(),
        );
        registry.register(
            "ingest_batches",
            "Ingest writer transactions",
            self.batches.clone(),
        );
        registry.register(
            "ingest_dead_letters",
            "MQTT messages dead-lettered, by reason",
            self.dead_letters.clone(),
        );
        registry.register(
            "alerts_raised",
            "Alerts raised by the local rule engine",
            self.alerts_raised.clone(),
        );
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("farmco_edge");
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
        let farmers = Gauge::default();
        registry.register(
            "farmers",
            "Farmers registered on this node",
            farmers.clone(),
        );
        let change_log_entries = Gauge::default();
        registry.register(
            "change_log_entries",
            "Entries in the document change log",
            change_log_entries.clone(),
        );
        let notification_attempts = Family::<ChannelStateLabels, Gauge>::default();
        registry.register(
            "notification_attempts",
            "Notification delivery attempts by channel and state (refreshed at scrape)",
            notification_attempts.clone(),
        );
        let notification_delivery_ratio =
            Family::<ChannelLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "notification_delivery_ratio",
            "Per channel: attempts delivered (SMS) or answered (voice) over attempts with a final \
             outcome (delivered, answered, failed, unanswered); refreshed at scrape",
            notification_delivery_ratio.clone(),
        );
        let sms_events = Family::<SmsEventLabels, Counter>::default();
        registry.register(
            "sms_events",
            "SMS service events: received, duplicate, sent, retry, failed, delivered, ...",
            sms_events.clone(),
        );
        let sms_outbox_messages = Family::<StateLabels, Gauge>::default();
        registry.register(
            "sms_outbox_messages",
            "SMS outbox messages by state (queued, sending, sent, delivered, failed)",
            sms_outbox_messages.clone(),
        );
        let modem_info = Family::<ModemInfoLabels, Gauge>::default();
        registry.register(
            "modem_info",
            "The modem's state, profile, operator and registration (value 1)",
            modem_info.clone(),
        );
        let modem_signal_rssi = Gauge::default();
        registry.register(
            "modem_signal_rssi",
            "Modem signal, +CSQ rssi 0..31 (-1: unknown)",
            modem_signal_rssi.clone(),
        );
        let modem_signal_dbm = Gauge::default();
        registry.register(
            "modem_signal_dbm",
            "Modem signal in dBm (0: unknown)",
            modem_signal_dbm.clone(),
        );
        let modem_registered = Gauge::default();
        registry.register(
            "modem_registered",
            "1 when the modem is registered on a network",
            modem_registered.clone(),
        );
        let modem_sms_parts_sent = Gauge::default();
        registry.register(
            "modem_sms_parts_sent",
            "SMS parts the modem accepted since the driver started",
            modem_sms_parts_sent.clone(),
        );
        let modem_resets = Gauge::default();
        registry.register(
            "modem_resets",
            "Modem reset sequences since the driver started",
            modem_resets.clone(),
        );
        let ingest = IngestMetrics::default();
        ingest.register(&mut registry);
        Metrics {
            ingest,
            registry,
            sms_events,
            sms_outbox_messages,
            modem_info,
            modem_signal_rssi,
            modem_signal_dbm,
            modem_registered,
            modem_sms_parts_sent,
            modem_resets,
            http_requests,
            http_request_seconds,
            logins,
            farmers,
            change_log_entries,
            notification_attempts,
            notification_delivery_ratio,
        }
    }

    pub fn login(&self, success: bool) {
        self.logins
            .get_or_create(&OutcomeLabels {
                outcome: if success { "success" } else { "failure" }.to_owned(),
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
