//! The batching writer: takes parsed messages from the MQTT task's bounded queue, commits up to
//! `batch_rows_max` rows (or what arrived within `batch_wait`) in ONE SQLite transaction —
//! readings with `INSERT OR IGNORE` on (sensor, metric, ts), bad messages as dead letters — and
//! only then acknowledges (PUBACK) every publish of the batch.
//!
//! Design constraints:
//! - An acknowledged message is committed: acks are sent strictly after `COMMIT` returned.
//! - A failed commit is retried (with a pause) with the same batch; nothing is acked or dropped.
//! - Messages per batch are bounded too ([`BATCH_MESSAGES_MAX`]); the rumqttc request channel
//!   holds more acks than a session can have packets in flight, so acking never waits on the
//!   MQTT task (see [`super::mqtt`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::metrics::IngestMetrics;
use crate::store::Store;
use crate::store::ingest::{BatchMessage, BatchOutcome};
use crate::store::readings::NewReading;
use farmco_village::ingest::catalog::MetricCatalog;
use farmco_village::ingest::payload;

/// Most messages in one batch; also the capacity reserved for acks in the MQTT request channel.
pub const BATCH_MESSAGES_MAX: usize = 10_000;
/// A batch is also committed when no message arrived for this long: the broker's in-flight
/// window for the node (rumqttd: 100 messages; Mosquitto: `max_inflight_messages`) may be full,
/// and nothing more comes until this batch is acked. Longer than the gap between messages of a
/// busy stream, so busy streams still fill whole batches.
pub const BATCH_IDLE_FLUSH: Duration = Duration::from_millis(15);
/// Pause before retrying a failed commit (disk full, I/O error): long enough not to spin.
const COMMIT_RETRY_PAUSE: Duration = Duration::from_secs(1);

/// What the MQTT task hands to the writer: one received publish.
#[derive(Debug)]
pub struct Received {
    pub topic: String,
    pub payload: bytes::Bytes,
    pub received_ms: i64,
    /// The publish to acknowledge after the commit, with the connection it came on (QoS 0
    /// messages and messages from tests have none).
    pub ack: Option<(rumqttc::Publish, u64)>,
}

/// Sends PUBACKs for committed publishes.
#[derive(Debug, Clone)]
pub struct Acker {
    pub client: rumqttc::AsyncClient,
    /// Incremented by the MQTT task on every new connection. A publish received on an older
    /// connection is not acked: the broker redelivers it on the new one (with possibly the
    /// same packet id reused for another message), and the redelivery is a harmless duplicate.
    pub connection: Arc<AtomicU64>,
}

impl Acker {
    async fn ack(&self, publishes: Vec<(rumqttc::Publish, u64)>) {
        let current = self.connection.load(Ordering::SeqCst);
        for (publish, conn) in publishes {
            if conn != current {
                continue;
            }
            // try_ack first: the request channel outsizes the in-flight packet-id space.
            if let Err(rumqttc::ClientError::TryRequest(_)) = self.client.try_ack(&publish) {
                let _ = self.client.ack(&publish).await;
            }
        }
    }
}

/// Commit one batch on the blocking pool, retrying until it commits.
async fn commit(store: &Arc<Store>, batch: Arc<Vec<BatchMessage>>) -> BatchOutcome {
    loop {
        let (s, b) = (store.clone(), batch.clone());
        let result = tokio::task::spawn_blocking(move || {
            s.write(|tx| crate::store::ingest::commit_batch(tx, &b))
        })
        .await;
        match result {
            Ok(Ok(outcome)) => return outcome,
            Ok(Err(e)) => tracing::error!(error = %e, "ingest batch commit failed; retrying"),
            Err(e) => tracing::error!(error = %e, "ingest batch task failed; retrying"),
        }
        tokio::time::sleep(COMMIT_RETRY_PAUSE).await;
    }
}

/// Parse a received message (pure) into a batch entry.
pub fn prepare(r: &Received, catalog: &MetricCatalog) -> BatchMessage {
    BatchMessage {
        topic: r.topic.clone(),
        payload: r.payload.to_vec(),
        received_ms: r.received_ms,
        parsed: payload::parse_message(&r.topic, &r.payload, catalog, r.received_ms),
    }
}

/// The writer task's inputs.
#[derive(Debug)]
pub struct Writer {
    pub store: Arc<Store>,
    pub catalog: MetricCatalog,
    pub batch_rows_max: usize,
    pub batch_wait: Duration,
    pub acker: Option<Acker>,
    pub metrics: IngestMetrics,
    /// Committed rows go to the alert engine when present (bounded: a slow engine slows ingest).
    pub committed: Option<mpsc::Sender<Vec<NewReading>>>,
}

impl Writer {
    /// Run until the queue closes; every message taken from it is committed and acked.
    pub async fn run(self, mut rx: mpsc::Receiver<Received>) {
        loop {
            let Some(first) = rx.recv().await else { break };
            let deadline = tokio::time::Instant::now() + self.batch_wait;
            let mut batch = Vec::new();
            let mut acks = Vec::new();
            let mut rows = 0usize;
            let mut push = |r: Received, batch: &mut Vec<BatchMessage>| {
                let m = prepare(&r, &self.catalog);
                rows += m.parsed.as_ref().map(|(_, v)| v.len()).unwrap_or(1);
                batch.push(m);
                if let Some(a) = r.ack {
                    acks.push(a);
                }
                rows
            };
            let mut closed = false;
            let mut total = push(first, &mut batch);
            while total < self.batch_rows_max && batch.len() < BATCH_MESSAGES_MAX {
                let idle_deadline = (tokio::time::Instant::now() + BATCH_IDLE_FLUSH).min(deadline);
                match tokio::time::timeout_at(idle_deadline, rx.recv()).await {
                    Ok(Some(r)) => total = push(r, &mut batch),
                    Ok(None) => {
                        closed = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            let messages = batch.len();
            let outcome = commit(&self.store, Arc::new(batch)).await;
            if let Some(acker) = &self.acker {
                acker.ack(acks).await;
            }
            self.metrics.record_batch(messages, &outcome);
            if let Some(tx) = &self.committed
                && !outcome.rows.is_empty()
            {
                let _ = tx.send(outcome.rows).await;
            }
            if closed {
                break;
            }
        }
        tracing::info!("ingest writer stopped");
    }
}
