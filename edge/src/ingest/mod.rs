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
//! - `farmco_village::ingest::{catalog, payload}`: pure parsing and checking (typed errors,
//!   property-tested). The validated `[mqtt]` settings are `crate::config::ingest`.
//! - [`mqtt`]: the task that owns the MQTT connection; it awaits queue capacity before reading
//!   the next packet, so a slow writer stops the reading and the broker keeps the messages.
//! - [`writer`]: batches up to `batch_rows_max` rows or `batch_wait_ms`, commits readings and
//!   dead letters in one transaction, then acknowledges every publish of the batch.
//! - [`broker`]: the embedded broker with per-sensor logins from the registry.
//! - [`linking`]: which farm a sensor's position lies in.
//! - [`retention`]: the periodic raw → hourly rollup sweep.

pub mod broker;
pub mod linking;
pub mod mqtt;
pub mod retention;
pub mod writer;

pub use crate::config::ingest::{Broker, IngestConfig};

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
                let b = broker::start(
                    ingest.embedded_listen,
                    deps.store.clone(),
                    &ingest.client_id,
                )?;
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
