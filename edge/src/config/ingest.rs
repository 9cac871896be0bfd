//! The `[mqtt]` and `[[metrics]]` sections validated: where the node's MQTT client connects,
//! batch and queue limits, and the metric catalogue (built-ins plus configured metrics).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use farmco_village::ingest::catalog::{MetricCatalog, MetricSpec};

use super::{RawMetric, RawMqtt};

/// Largest writer batch allowed by config: one transaction of 100k rows holds the writer lock
/// for seconds on a small box, starving the HTTP API.
pub const BATCH_ROWS_MAX_LIMIT: usize = 100_000;
/// Longest batch wait allowed: sensors wait for their PUBACK this long at worst.
pub const BATCH_WAIT_MS_LIMIT: u64 = 10_000;
/// Largest queue between the MQTT task and the writer; each entry holds one payload (≤ 64 KiB).
pub const QUEUE_MESSAGES_LIMIT: usize = 65_536;

/// Where the node's MQTT client connects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broker {
    /// The in-process rumqttd broker.
    Embedded,
    /// An external broker at host:port.
    External { host: String, port: u16 },
}

impl Broker {
    /// `"embedded"` or `mqtt://host:port`.
    pub fn parse(s: &str) -> anyhow::Result<Broker> {
        if s == "embedded" {
            return Ok(Broker::Embedded);
        }
        let Some(rest) = s.strip_prefix("mqtt://") else {
            bail!("mqtt.broker must be \"embedded\" or mqtt://host:port");
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .map(|(h, p)| (h, p.parse::<u16>()))
            .unwrap_or((rest, Ok(1883)));
        let port = port.context("mqtt.broker: bad port")?;
        if host.is_empty() {
            bail!("mqtt.broker: missing host");
        }
        Ok(Broker::External {
            host: host.to_owned(),
            port,
        })
    }
}

/// Validated ingest configuration.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    pub broker: Broker,
    pub embedded_listen: SocketAddr,
    pub client_id: String,
    pub batch_rows_max: usize,
    pub batch_wait: Duration,
    pub queue_messages: usize,
    pub metrics: MetricCatalog,
}

impl IngestConfig {
    pub fn from_raw(raw: &RawMqtt, metrics: &[RawMetric]) -> anyhow::Result<IngestConfig> {
        let broker = Broker::parse(&raw.broker)?;
        let embedded_listen: SocketAddr = raw.embedded_listen.parse().with_context(|| {
            format!(
                "mqtt.embedded_listen: not an address: {:?}",
                raw.embedded_listen
            )
        })?;
        if raw.client_id.is_empty() || raw.client_id.len() > 23 {
            // 23 bytes is the longest client id every MQTT 3.1.1 broker must accept.
            bail!("mqtt.client_id must be 1 to 23 bytes");
        }
        if raw.batch_rows_max == 0 || raw.batch_rows_max > BATCH_ROWS_MAX_LIMIT {
            bail!("mqtt.batch_rows_max must be between 1 and {BATCH_ROWS_MAX_LIMIT}");
        }
        if raw.batch_wait_ms == 0 || raw.batch_wait_ms > BATCH_WAIT_MS_LIMIT {
            bail!("mqtt.batch_wait_ms must be between 1 and {BATCH_WAIT_MS_LIMIT}");
        }
        if raw.queue_messages == 0 || raw.queue_messages > QUEUE_MESSAGES_LIMIT {
            bail!("mqtt.queue_messages must be between 1 and {QUEUE_MESSAGES_LIMIT}");
        }
        let metrics = MetricCatalog::with_extensions(
            metrics
                .iter()
                .map(|m| MetricSpec {
                    name: m.name.clone(),
                    unit: m.unit.clone(),
                    min: m.min,
                    max: m.max,
                })
                .collect(),
        )
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
        Ok(IngestConfig {
            broker,
            embedded_listen,
            client_id: raw.client_id.clone(),
            batch_rows_max: raw.batch_rows_max,
            batch_wait: Duration::from_millis(raw.batch_wait_ms),
            queue_messages: raw.queue_messages,
            metrics,
        })
    }
}
