//! Sensor ingest over MQTT.
//!
//! ```text
//!  sensors ──MQTT QoS 1──▶ broker (embedded rumqttd, or Mosquitto)
//!                            │  persistent session, fixed client id
//!                            ▼
//!   mqtt task (rumqttc, manual acks) ──bounded queue──▶ writer task ──▶ SQLite (one tx/batch)
//!        ▲                                                  │
//!        └──────────── PUBACK after the commit ◀────────────┘──▶ alert engine (bounded)
//! ```
//!
//! - [`catalog`], [`payload`]: pure parsing and checking (typed errors, property-tested).
//! - [`mqtt`]: the task that owns the MQTT connection; it awaits queue capacity before reading
//!   the next packet, so a slow writer stops the reading and the broker keeps the messages.
//! - [`writer`]: batches up to `batch_rows_max` rows or `batch_wait_ms`, commits readings and
//!   dead letters in one transaction, then acknowledges every publish of the batch.
//! - [`broker`]: the embedded broker with per-sensor logins from the registry.
//! - [`linking`]: which farm a sensor's position lies in.
//! - [`retention`]: the periodic raw → hourly rollup sweep.

pub mod broker;
pub mod catalog;
pub mod linking;
pub mod mqtt;
pub mod payload;
pub mod retention;
pub mod writer;

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};

use self::catalog::{MetricCatalog, MetricSpec};
use crate::config::{RawMetric, RawMqtt};

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

/// The running ingest: broker (when embedded), MQTT task, writer, alert task, retention.
#[derive(Debug)]
pub struct IngestService {
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Where the node's client connects (the embedded broker's actual address when embedded).
    pub broker_addr: String,
    /// True while the MQTT client is connected.
    pub connected: tokio::sync::watch::Receiver<bool>,
}

/// Everything the ingest needs from the process.
#[derive(Debug)]
pub struct IngestDeps {
    pub store: std::sync::Arc<crate::store::Store>,
    pub metrics: crate::metrics::IngestMetrics,
    pub rules: crate::alerts::SharedRules,
    pub hook: Option<tokio::sync::mpsc::Sender<crate::alerts::RaisedAlert>>,
}

impl IngestService {
    /// Start every ingest task (and the embedded broker when configured).
    pub async fn start(
        config: &crate::config::Config,
        deps: IngestDeps,
    ) -> anyhow::Result<IngestService> {
        use tokio::sync::{mpsc, watch};
        let ingest = &config.ingest;
        let conn = match &ingest.broker {
            Broker::Embedded => {
                let b = broker::start(ingest.embedded_listen, deps.store.clone())?;
                // Written, not println!: a parent that stopped reading our stdout must not
                // make the node panic.
                use std::io::Write as _;
                let mut out = std::io::stdout();
                let _ = if ingest.embedded_listen.port() != 0 && b.addr != ingest.embedded_listen {
                    writeln!(
                        out,
                        "embedded MQTT broker: {} is taken, listening on mqtt://{} instead",
                        ingest.embedded_listen, b.addr
                    )
                } else {
                    writeln!(out, "embedded MQTT broker listening on mqtt://{}", b.addr)
                };
                tracing::info!(addr = %b.addr, "embedded MQTT broker started");
                mqtt::Connection {
                    host: b.addr.ip().to_string(),
                    port: b.addr.port(),
                    client_id: ingest.client_id.clone(),
                    credentials: Some((broker::NODE_USERNAME.to_owned(), b.node_password)),
                }
            }
            Broker::External { host, port } => mqtt::Connection {
                host: host.clone(),
                port: *port,
                client_id: ingest.client_id.clone(),
                credentials: None,
            },
        };
        let broker_addr = format!("{}:{}", conn.host, conn.port);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (connected_tx, connected) = watch::channel(false);
        let (alert_tx, alert_rx) = mpsc::channel(crate::alerts::READINGS_QUEUE_BATCHES);
        let (queue_tx, queue_rx) = mpsc::channel(ingest.queue_messages);
        let mut tasks = Vec::new();
        let alert_task = crate::alerts::AlertTask {
            store: deps.store.clone(),
            rules: deps.rules,
            hook: deps.hook,
            metrics: deps.metrics.clone(),
        };
        tasks.push(tokio::spawn(alert_task.run(alert_rx, shutdown_rx.clone())));
        let acker = mqtt::run(conn, queue_tx, shutdown_rx.clone(), Some(connected_tx)).await;
        let writer = writer::Writer {
            store: deps.store.clone(),
            catalog: ingest.metrics.clone(),
            batch_rows_max: ingest.batch_rows_max,
            batch_wait: ingest.batch_wait,
            acker: Some(acker),
            metrics: deps.metrics,
            committed: Some(alert_tx),
        };
        tasks.push(tokio::spawn(writer.run(queue_rx)));
        tasks.push(tokio::spawn(retention::run(
            deps.store,
            config.retention.raw_max_age,
            config.retention.sweep_interval,
            shutdown_rx,
        )));
        Ok(IngestService {
            shutdown,
            tasks,
            broker_addr,
            connected,
        })
    }

    /// Stop reading, let the writer commit and ack what it holds, stop every task.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        assert_eq!(Broker::parse("embedded").unwrap(), Broker::Embedded);
        assert_eq!(
            Broker::parse("mqtt://10.0.0.2:1883").unwrap(),
            Broker::External {
                host: "10.0.0.2".into(),
                port: 1883
            }
        );
        assert_eq!(
            Broker::parse("mqtt://box").unwrap(),
            Broker::External {
                host: "box".into(),
                port: 1883
            }
        );
        assert!(Broker::parse("tcp://x:1").is_err());
        assert!(Broker::parse("mqtt://x:99999").is_err());
    }
}
