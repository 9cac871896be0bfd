//! The edge's sync client: one round = request/response exchanges with the cloud until both
//! directions are caught up (docs/sync-protocol.md).
//!
//! Every request is built and stored in the `sync_outbox` **before** it is sent, in the same
//! transaction that advances the request sequence; after a cut connection the very same bytes are
//! sent again and the cloud answers them from its replay cache, so an acknowledged batch is never
//! resent and a half-finished transfer resumes from the last acknowledged batch. A response is
//! applied in one transaction (acks, down changes, advisories, cursors, clearing the outbox).
//!
//! [`spawn`] runs rounds on an interval and on demand (a bounded mailbox), with exponential
//! backoff with jitter and a circuit breaker; it never blocks the local API (store work runs on the
//! blocking pool and holds the writer only per transaction).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use farmco_sync::protocol::envelope::{EnvelopeKind, SignedEnvelope};
use farmco_sync::protocol::heads::{doc_sync_step, heads_digest};
use farmco_sync::protocol::keys::{NodeId, NodeSecretKey};
use farmco_sync::protocol::plan::ANTI_ENTROPY_DOCS_PER_PAGE;
use farmco_sync::protocol::plan::{DOWN_CHANGES_PER_BATCH_MAX, take_within_budget};
use farmco_sync::protocol::readings::{
    READINGS_PER_BATCH_MAX, Reading, encode_readings_within_budget, wire_size,
};
use farmco_sync::protocol::wire::{
    self, AntiEntropyRequest, DocDigest, DocSyncMessage, Heartbeat, ReadingsBatch, SyncRequest,
    SyncResponse, UpChange, WIRE_VERSION,
};
use farmco_sync::{FarmerId, VillageCode};
use rusqlite::params;
use tokio::sync::{mpsc, oneshot};

use crate::config::SyncConfig;
use crate::store::farmers::{RemoteApply, apply_remote_changes};
use crate::store::sync_state::{self, Cursors, Enrollment, PendingRequest};
use crate::store::{Store, StoreError, now_ms, readings};

/// Most request/response exchanges in one round (a long-offline node catches up over rounds).
pub const ROUND_EXCHANGES_MAX: usize = 10_000;
/// Capacity of the sync task's mailbox.
pub const SYNC_MAILBOX_CAPACITY: usize = 8;
/// How often a node compares all its documents with the cloud (anti-entropy pass).
pub const ANTI_ENTROPY_INTERVAL_MS: i64 = 24 * 3_600_000;
/// Documents in anti-entropy repair carried by one request at most.
pub const DOC_SYNC_PER_REQUEST_MAX: usize = 64;
/// Largest response body accepted from the cloud: an envelope payload (8 MiB) with room to
/// spare. Enforced while the body streams in, never after buffering it.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest error body read from a refusal (only its message is shown).
pub const ERROR_BODY_BYTES_MAX: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("this node is not enrolled; run `farmco-edge enroll --cloud URL --token T`")]
    NotEnrolled,
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("network: {0}")]
    Network(String),
    #[error("{0}")]
    Uplink(#[from] crate::uplink::UplinkError),
    #[error("the cloud refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("invalid response from the cloud: {0}")]
    BadResponse(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// What a round (or one exchange) moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundSummary {
    pub exchanges: usize,
    pub bytes_up: usize,
    pub bytes_down: usize,
    pub changes_up: usize,
    pub changes_down: usize,
    pub documents_down: usize,
    pub readings_up: usize,
    pub advisories: usize,
    pub rejected: usize,
    pub quarantined: usize,
}

impl RoundSummary {
    fn add(&mut self, o: &RoundSummary) {
        self.exchanges += o.exchanges;
        self.bytes_up += o.bytes_up;
        self.bytes_down += o.bytes_down;
        self.changes_up += o.changes_up;
        self.changes_down += o.changes_down;
        self.documents_down += o.documents_down;
        self.readings_up += o.readings_up;
        self.advisories += o.advisories;
        self.rejected += o.rejected;
        self.quarantined += o.quarantined;
    }
}

impl std::fmt::Display for RoundSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sync ok: {} batches, {} bytes up, {} bytes down, {} changes up, {} changes down \
             ({} documents), {} readings up, {} advisories, {} rejected",
            self.exchanges,
            self.bytes_up,
            self.bytes_down,
            self.changes_up,
            self.changes_down,
            self.documents_down,
            self.readings_up,
            self.advisories,
            self.rejected
        )
    }
}

/// Called with the farms of every farmer document that changed by sync, so the HTTP server can
/// refresh its spatial index.
pub type FarmsChanged = Arc<dyn Fn(&[(FarmerId, Vec<farmco_sync::Farm>)]) + Send + Sync>;

pub struct SyncClient {
    store: Arc<Store>,
    key: Arc<NodeSecretKey>,
    http: reqwest::Client,
    config: SyncConfig,
    on_farms_changed: Option<FarmsChanged>,
    cloud_url_override: Option<String>,
    /// Where the heartbeat's health report comes from (none: the report is left out).
    health: Option<crate::sync_health::HealthSource>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("node_id", &self.key.node_id())
            .finish_non_exhaustive()
    }
}

struct Prepared {
    pending: PendingRequest,
    enrollment: Enrollment,
    changes_up: usize,
    readings_up: usize,
}

/// Outcome of applying one response.
struct Applied {
    summary: RoundSummary,
    more: bool,
    farms: Vec<(FarmerId, Vec<farmco_sync::Farm>)>,
}

impl SyncClient {
    pub fn new(
        store: Arc<Store>,
        key: Arc<NodeSecretKey>,
        config: SyncConfig,
        on_farms_changed: Option<FarmsChanged>,
    ) -> Result<SyncClient, SyncError> {
        crate::uplink::warn_if_insecure(&config);
        let http = crate::uplink::http_client(&config)?;
        Ok(SyncClient {
            store,
            key,
            http,
            config,
            on_farms_changed,
            cloud_url_override: None,
            health: None,
        })
    }

    /// Send the node's health (modem, SMS, alerts, delivery, advisories, sensors) with every
    /// request (`sync_health`).
    pub fn set_health_source(&mut self, source: crate::sync_health::HealthSource) {
        self.health = Some(source);
    }

    /// Talk to this URL instead of the enrolled one.
    pub fn set_cloud_url_override(&mut self, url: Option<String>) {
        self.cloud_url_override = url;
    }

    /// Run exchanges until up and down are both caught up.
    pub async fn round(&self) -> Result<RoundSummary, SyncError> {
        let mut total = RoundSummary::default();
        for _ in 0..ROUND_EXCHANGES_MAX {
            let (summary, more) = self.exchange().await?;
            total.add(&summary);
            if !more {
                break;
            }
        }
        Ok(total)
    }

    /// One request/response exchange. Returns whether more is waiting in either direction.
    pub async fn exchange(&self) -> Result<(RoundSummary, bool), SyncError> {
        let store = self.store.clone();
        let key = self.key.clone();
        let budget = self.config.batch_budget_bytes;
        let health = self.health.clone();
        let prepared = run_blocking(move || prepare(&store, &key, budget, health.as_ref())).await?;
        let base = self
            .cloud_url_override
            .as_deref()
            .unwrap_or(&prepared.enrollment.cloud_url);
        // The enrolled URL (or the override) must pass the uplink policy before anything is
        // sent: an http:// enrollment from before this check is refused here too.
        crate::uplink::check_cloud_url(base, self.config.allow_insecure_http)?;
        let url = format!("{}/api/v1/sync", base.trim_end_matches('/'));
        let bytes_up = prepared.pending.envelope.len();
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/octet-stream")
            .body(prepared.pending.envelope.clone())
            .send()
            .await
            .map_err(|e| SyncError::Network(crate::uplink::describe_send_error(&e)))?;
        let status = response.status();
        if !status.is_success() {
            let body = crate::uplink::read_body_limited(response, ERROR_BODY_BYTES_MAX)
                .await
                .unwrap_or_default();
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(SyncError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        let body = crate::uplink::read_body_limited(response, RESPONSE_BYTES_MAX)
            .await
            .map_err(|e| match e {
                crate::uplink::BodyError::TooLarge { .. } => SyncError::BadResponse(e.to_string()),
                crate::uplink::BodyError::Network(m) => SyncError::Network(m),
            })?;
        let store = self.store.clone();
        let key = self.key.clone();
        let applied = run_blocking(move || apply_response(&store, &key, &prepared, &body)).await?;
        if let Some(cb) = &self.on_farms_changed
            && !applied.farms.is_empty()
        {
            cb(&applied.farms);
        }
        let mut summary = applied.summary;
        summary.exchanges = 1;
        summary.bytes_up = bytes_up;
        Ok((summary, applied.more))
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SyncError> + Send + 'static,
) -> Result<T, SyncError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SyncError::Internal(e.to_string()))?
}

fn uuid_bytes(id: &str) -> Result<[u8; 16], SyncError> {
    uuid::Uuid::parse_str(id)
        .map(|u| *u.as_bytes())
        .map_err(|_| SyncError::Store(StoreError::Corrupt(format!("doc id {id:?}"))))
}

/// Free bytes on the file system holding `path` (0 when unknown).
pub fn disk_free_bytes(path: &std::path::Path) -> u64 {
    match nix::sys::statvfs::statvfs(path) {
        Ok(s) => s.blocks_available().saturating_mul(s.fragment_size()),
        Err(_) => 0,
    }
}

/// Build the next request (or return the one still in flight) and store it before sending.
fn prepare(
    store: &Store,
    key: &NodeSecretKey,
    budget: usize,
    health: Option<&crate::sync_health::HealthSource>,
) -> Result<Prepared, SyncError> {
    let actor = *store.actor();
    let data_dir = store
        .path()
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    store
        .write(|tx| {
            let Some(enrollment) = sync_state::enrollment(tx)? else {
                return Ok(Err(SyncError::NotEnrolled));
            };
            if let Some(pending) = sync_state::pending(tx)? {
                return Ok(Ok(Prepared {
                    pending,
                    enrollment,
                    changes_up: 0,
                    readings_up: 0,
                }));
            }
            let mut cursors = sync_state::cursors(tx)?;
            // Documents first (after health, which always rides along).
            let mut stmt = tx.prepare_cached(
                "SELECT seq, doc_id, bytes FROM change_log
                 WHERE origin = 'local' AND seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let candidates = stmt
                .query_map(
                    params![cursors.up_acked as i64, DOWN_CHANGES_PER_BATCH_MAX as i64],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                        ))
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            drop(stmt);
            let mut up_changes = Vec::with_capacity(candidates.len());
            for (seq, doc_id, bytes) in candidates {
                let doc_id = match uuid_bytes(&doc_id) {
                    Ok(d) => d,
                    Err(e) => return Ok(Err(e)),
                };
                up_changes.push(UpChange {
                    local_seq: seq as u64,
                    doc_id,
                    bytes,
                });
            }
            let up = take_within_budget(up_changes, wire::up_change_size, budget);
            let used: usize = up.iter().map(wire::up_change_size).sum();
            let up_to_seq = up.last().map(|c| c.local_seq).unwrap_or(cursors.up_acked);

            // Readings in the budget left (the whole budget when no documents are waiting).
            let limit = if up.is_empty() {
                budget
            } else {
                budget.saturating_sub(used)
            };
            let mut readings_batch = None;
            let mut readings_to_id = cursors.readings_acked;
            let mut readings_up = 0;
            let rows = if limit > 0 {
                readings::after(tx, cursors.readings_acked, READINGS_PER_BATCH_MAX)?
            } else {
                Vec::new()
            };
            if !rows.is_empty() {
                let all: Vec<Reading> = rows
                    .iter()
                    .map(|r| Reading {
                        sensor_id: r.sensor_id.clone(),
                        metric: r.metric.clone(),
                        ts_ms: r.ts_ms,
                        value: r.value,
                    })
                    .collect();
                let (n, data) = match encode_readings_within_budget(&all, limit) {
                    Ok(x) => x,
                    Err(e) => return Ok(Err(SyncError::Internal(e.to_string()))),
                };
                // With documents in the same request, only send readings that fit.
                if n > 0 && (up.is_empty() || wire_size(&data) <= limit) {
                    readings_to_id = rows[n - 1].id;
                    readings_up = n;
                    readings_batch = Some(ReadingsBatch {
                        from_id: rows[0].id,
                        to_id: readings_to_id,
                        data,
                    });
                }
            }
            let used_total = used + readings_batch.as_ref().map_or(0, |b| wire_size(&b.data));
            let (anti_entropy, doc_sync) =
                anti_entropy_request(tx, &actor, budget.saturating_sub(used_total))?;
            let change_backlog: i64 = tx.query_row(
                "SELECT count(*) FROM change_log WHERE origin = 'local' AND seq > ?1",
                [cursors.up_acked as i64],
                |r| r.get(0),
            )?;
            let readings_backlog: i64 = tx.query_row(
                "SELECT count(*) FROM readings WHERE id > ?1",
                [cursors.readings_acked],
                |r| r.get(0),
            )?;
            let request = SyncRequest {
                wire_version: WIRE_VERSION,
                heartbeat: Heartbeat {
                    software_version: env!("CARGO_PKG_VERSION").to_owned(),
                    // What is still waiting once this request is acknowledged.
                    change_backlog: (change_backlog as u64).saturating_sub(up.len() as u64),
                    readings_backlog: (readings_backlog as u64).saturating_sub(readings_up as u64),
                    disk_free_bytes: disk_free_bytes(&data_dir),
                    last_sync_ms: cursors.last_sync_ms,
                    clock_ms: now_ms(),
                    extra: Vec::new(),
                    health: health.and_then(|source| {
                        crate::sync_health::collect(
                            tx,
                            source,
                            &data_dir,
                            cursors.last_sync_ms,
                            now_ms(),
                        )
                        .map_err(|e| tracing::warn!(error = %e, "health report left out"))
                        .ok()
                    }),
                },
                up,
                readings: readings_batch,
                down_cursor: cursors.down_cursor,
                advisory_cursor: cursors.advisory_cursor,
                down_budget_bytes: u32::try_from(budget).unwrap_or(u32::MAX),
                anti_entropy,
                doc_sync,
            };
            let changes_up = request.up.len();
            let payload = match wire::encode_request(&request) {
                Ok(p) => p,
                Err(e) => return Ok(Err(SyncError::Internal(e.to_string()))),
            };
            let cloud: NodeId = match enrollment.cloud_public_key.parse() {
                Ok(id) => id,
                Err(_) => {
                    return Ok(Err(SyncError::Store(StoreError::Corrupt(
                        "sync_state.cloud_public_key".into(),
                    ))));
                }
            };
            // Never below the wall clock in ms: a node restored from a backup must not reuse
            // sequence numbers the cloud has seen (it would refuse them as replays).
            let seq = (cursors.last_request_seq + 1).max(u64::try_from(now_ms()).unwrap_or(0));
            let envelope =
                match SignedEnvelope::seal(key, EnvelopeKind::SyncRequest, cloud, seq, payload) {
                    Ok(e) => e.encode(),
                    Err(e) => return Ok(Err(SyncError::Internal(e.to_string()))),
                };
            let pending = PendingRequest {
                seq,
                envelope,
                up_to_seq,
                readings_to_id,
            };
            sync_state::put_pending(tx, &pending, now_ms())?;
            cursors.last_request_seq = seq;
            sync_state::set_cursors(tx, &cursors)?;
            Ok(Ok(Prepared {
                pending,
                enrollment,
                changes_up,
                readings_up,
            }))
        })
        .map_err(SyncError::from)?
}

/// Verify and apply a response in one transaction.
fn apply_response(
    store: &Store,
    key: &NodeSecretKey,
    prepared: &Prepared,
    body: &[u8],
) -> Result<Applied, SyncError> {
    let envelope =
        SignedEnvelope::decode(body).map_err(|e| SyncError::BadResponse(e.to_string()))?;
    let cloud: NodeId = prepared
        .enrollment
        .cloud_public_key
        .parse()
        .map_err(|_| SyncError::BadResponse("stored cloud key unreadable".into()))?;
    if envelope.sender != cloud {
        return Err(SyncError::BadResponse(
            "response not signed by the enrolled cloud".into(),
        ));
    }
    if envelope.kind != EnvelopeKind::SyncResponse || envelope.seq != prepared.pending.seq {
        return Err(SyncError::BadResponse(format!(
            "expected the response to request {}, got {:?} {}",
            prepared.pending.seq, envelope.kind, envelope.seq
        )));
    }
    let verified = envelope
        .verify(key.node_id())
        .map_err(|e| SyncError::BadResponse(e.to_string()))?;
    let response = wire::decode_response(verified.payload())
        .map_err(|e| SyncError::BadResponse(e.to_string()))?;
    let scope: Vec<VillageCode> = prepared
        .enrollment
        .villages
        .iter()
        .filter_map(|v| VillageCode::parse("villages", v).ok())
        .collect();
    let actor = *store.actor();
    let now = now_ms();
    store
        .write(|tx| {
            let mut cursors: Cursors = sync_state::cursors(tx)?;
            let mut summary = RoundSummary {
                bytes_down: body.len(),
                changes_up: prepared.changes_up,
                readings_up: prepared.readings_up,
                ..RoundSummary::default()
            };
            // Group down changes by document, keeping their order.
            let mut by_doc: BTreeMap<[u8; 16], Vec<Vec<u8>>> = BTreeMap::new();
            let mut order: Vec<[u8; 16]> = Vec::new();
            for c in &response.down.changes {
                if !by_doc.contains_key(&c.doc_id) {
                    order.push(c.doc_id);
                }
                by_doc.entry(c.doc_id).or_default().push(c.bytes.clone());
            }
            let mut farms_changed = Vec::new();
            for doc_id in order {
                let changes = by_doc.remove(&doc_id).unwrap_or_default();
                summary.changes_down += changes.len();
                let id = FarmerId(uuid::Uuid::from_bytes(doc_id));
                match apply_remote_changes(tx, &actor, id, &changes, &scope, now)? {
                    RemoteApply::Applied { farmer_id, farms } => {
                        summary.documents_down += 1;
                        farms_changed.push((farmer_id, farms));
                    }
                    RemoteApply::Quarantined(reason) => {
                        tracing::warn!(%reason, "down changes quarantined");
                        summary.quarantined += 1;
                    }
                }
            }
            for a in &response.advisories {
                tx.execute(
                    "INSERT INTO advisories (id, seq, village_codes, kind, title, body,
                         valid_from_ms, valid_until_ms, created_ms, received_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, title = excluded.title,
                         body = excluded.body, valid_until_ms = excluded.valid_until_ms",
                    params![
                        uuid::Uuid::from_bytes(a.id).to_string(),
                        a.seq as i64,
                        serde_json::Value::from(a.village_codes.clone()).to_string(),
                        a.kind,
                        a.title,
                        a.body_json,
                        a.valid_from_ms,
                        a.valid_until_ms,
                        a.created_ms,
                        now
                    ],
                )?;
                summary.advisories += 1;
            }
            for r in &response.rejected {
                summary.rejected += 1;
                crate::store::audit::append(
                    tx,
                    now,
                    &crate::store::audit::AuditEvent {
                        actor: "cloud",
                        action: "sync.rejected",
                        target: &uuid::Uuid::from_bytes(r.doc_id).to_string(),
                        detail: serde_json::json!({"local_seq": r.local_seq, "reason": r.reason}),
                    },
                )?;
            }
            let sent = SignedEnvelope::decode(&prepared.pending.envelope)
                .ok()
                .and_then(|e| wire::decode_request(&e.payload).ok());
            let repairing = apply_anti_entropy(
                tx,
                &actor,
                &scope,
                sent.as_ref(),
                &response,
                now,
                &mut farms_changed,
                &mut summary,
            )?;
            cursors.up_acked = response.up_acked;
            cursors.readings_acked = response.readings_acked;
            cursors.down_cursor = cursors.down_cursor.max(response.down.next_cursor);
            cursors.advisory_cursor = cursors.advisory_cursor.max(response.advisory_cursor);
            cursors.last_sync_ms = Some(now);
            sync_state::set_cursors(tx, &cursors)?;
            sync_state::clear_pending(tx, prepared.pending.seq)?;
            let more_up: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM change_log WHERE origin = 'local' AND seq > ?1)
                     OR EXISTS (SELECT 1 FROM readings WHERE id > ?2)",
                params![cursors.up_acked as i64, cursors.readings_acked],
                |r| r.get(0),
            )?;
            // Only claim "more" when this exchange made progress, so a cloud that does not
            // acknowledge cannot make a round spin.
            let progressed = response.up_acked >= prepared.pending.up_to_seq
                && response.readings_acked >= prepared.pending.readings_to_id;
            Ok(Applied {
                summary,
                more: response.down.more || (more_up && progressed) || repairing,
                farms: farms_changed,
            })
        })
        .map_err(SyncError::from)
}

fn ae_get(tx: &rusqlite::Connection, key: &str) -> Result<Option<String>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(tx
        .query_row("SELECT value FROM sync_state WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

fn ae_set(tx: &rusqlite::Connection, key: &str, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sync_state (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Start an anti-entropy pass with the next round (`farmco-edge sync --once --repair`).
pub fn request_repair(store: &Store) -> Result<(), StoreError> {
    store.write(|tx| {
        ae_set(tx, "ae_active", "1")?;
        ae_set(tx, "ae_after", "")
    })
}

/// What the next request carries for anti-entropy: a page of digests, or automerge sync
/// messages for documents found to differ (within `budget` bytes).
#[allow(clippy::type_complexity)]
fn anti_entropy_request(
    tx: &rusqlite::Connection,
    actor: &[u8],
    budget: usize,
) -> Result<(Option<AntiEntropyRequest>, Vec<DocSyncMessage>), StoreError> {
    let now = now_ms();
    let active = ae_get(tx, "ae_active")?.as_deref() == Some("1");
    if !active {
        let Some(last) = ae_get(tx, "ae_last_ms")?.and_then(|v| v.parse::<i64>().ok()) else {
            // A new node: the down stream brings everything first; the first pass comes later.
            ae_set(tx, "ae_last_ms", &now.to_string())?;
            return Ok((None, Vec::new()));
        };
        if now - last < ANTI_ENTROPY_INTERVAL_MS {
            return Ok((None, Vec::new()));
        }
        ae_set(tx, "ae_active", "1")?;
        ae_set(tx, "ae_after", "")?;
    }
    // Repair documents already found to differ before listing more.
    let mut stmt =
        tx.prepare_cached("SELECT doc_id, message FROM anti_entropy ORDER BY doc_id LIMIT ?1")?;
    let rows = stmt
        .query_map([DOC_SYNC_PER_REQUEST_MAX as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    if !rows.is_empty() {
        let mut out = Vec::new();
        let mut used = 0;
        for (doc_id, message) in rows {
            let Ok(id) = uuid::Uuid::parse_str(&doc_id) else {
                tx.execute("DELETE FROM anti_entropy WHERE doc_id = ?1", [&doc_id])?;
                continue;
            };
            let message = match message {
                Some(m) => m,
                None => {
                    let mut doc = match crate::store::farmers::load_doc(tx, actor, FarmerId(id)) {
                        Ok(d) => d,
                        Err(StoreError::NotFound(_)) => farmco_sync::FarmerDoc::new_empty(actor)?,
                        Err(e) => return Err(e),
                    };
                    match doc_sync_step(&mut doc, None)? {
                        Some(m) => m,
                        None => continue,
                    }
                }
            };
            if !out.is_empty() && used + message.len() > budget {
                break;
            }
            used += message.len();
            out.push(DocSyncMessage {
                doc_id: *id.as_bytes(),
                message,
            });
        }
        return Ok((None, out));
    }
    let after = ae_get(tx, "ae_after")?.unwrap_or_default();
    let mut stmt = tx.prepare_cached(
        "SELECT doc_id, heads FROM documents WHERE doc_id > ?1 ORDER BY doc_id LIMIT ?2",
    )?;
    let docs = stmt
        .query_map(params![after, ANTI_ENTROPY_DOCS_PER_PAGE as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    let complete = docs.len() < ANTI_ENTROPY_DOCS_PER_PAGE;
    let mut page = Vec::with_capacity(docs.len());
    for (doc_id, heads) in docs {
        let Ok(id) = uuid::Uuid::parse_str(&doc_id) else {
            continue;
        };
        let heads: Vec<String> = serde_json::from_str(&heads).unwrap_or_default();
        page.push(DocDigest {
            doc_id: *id.as_bytes(),
            heads_digest: heads_digest(&heads),
        });
    }
    let after_doc = uuid::Uuid::parse_str(&after).ok().map(|u| *u.as_bytes());
    Ok((
        Some(AntiEntropyRequest {
            docs: page,
            after_doc,
            complete,
        }),
        Vec::new(),
    ))
}

/// Apply the anti-entropy parts of a response; returns whether the pass goes on.
#[allow(clippy::too_many_arguments)]
fn apply_anti_entropy(
    tx: &rusqlite::Connection,
    actor: &[u8],
    scope: &[VillageCode],
    sent: Option<&SyncRequest>,
    response: &SyncResponse,
    now: i64,
    farms_changed: &mut Vec<(FarmerId, Vec<farmco_sync::Farm>)>,
    summary: &mut RoundSummary,
) -> Result<bool, StoreError> {
    if let (Some(page), Some(answer)) = (
        sent.and_then(|s| s.anti_entropy.as_ref()),
        response.anti_entropy.as_ref(),
    ) {
        for id in &answer.differing {
            tx.execute(
                "INSERT OR IGNORE INTO anti_entropy (doc_id, message) VALUES (?1, NULL)",
                [uuid::Uuid::from_bytes(*id).to_string()],
            )?;
        }
        if page.complete {
            ae_set(tx, "ae_after", "")?;
            ae_set(tx, "ae_done_listing", "1")?;
        } else if let Some(last) = page.docs.iter().map(|d| d.doc_id).max() {
            ae_set(tx, "ae_after", &uuid::Uuid::from_bytes(last).to_string())?;
        }
    }
    // Documents we sent a sync message for and the cloud found in sync: done.
    let answered: std::collections::BTreeSet<[u8; 16]> =
        response.doc_sync.iter().map(|m| m.doc_id).collect();
    if let Some(sent) = sent {
        for m in &sent.doc_sync {
            if !answered.contains(&m.doc_id) {
                tx.execute(
                    "DELETE FROM anti_entropy WHERE doc_id = ?1",
                    [uuid::Uuid::from_bytes(m.doc_id).to_string()],
                )?;
            }
        }
    }
    for m in &response.doc_sync {
        let id = FarmerId(uuid::Uuid::from_bytes(m.doc_id));
        let mut doc = match crate::store::farmers::load_doc(tx, actor, id) {
            Ok(d) => d,
            Err(StoreError::NotFound(_)) => farmco_sync::FarmerDoc::new_empty(actor)?,
            Err(e) => return Err(e),
        };
        let before = doc.heads_hex();
        let reply = match doc_sync_step(&mut doc, Some(&m.message)) {
            Ok(r) => r,
            Err(e) => {
                sync_state::quarantine(tx, "sync.doc_sync", &e.to_string(), &m.message, now)?;
                tx.execute(
                    "DELETE FROM anti_entropy WHERE doc_id = ?1",
                    [id.to_string()],
                )?;
                continue;
            }
        };
        let new: Vec<Vec<u8>> = doc
            .changes_after(&before)?
            .into_iter()
            .map(|c| c.bytes)
            .collect();
        if !new.is_empty() {
            summary.changes_down += new.len();
            match apply_remote_changes(tx, actor, id, &new, scope, now)? {
                RemoteApply::Applied { farmer_id, farms } => {
                    summary.documents_down += 1;
                    farms_changed.push((farmer_id, farms));
                }
                RemoteApply::Quarantined(_) => summary.quarantined += 1,
            }
        }
        match reply {
            Some(message) => {
                tx.execute(
                    "INSERT INTO anti_entropy (doc_id, message) VALUES (?1, ?2)
                     ON CONFLICT (doc_id) DO UPDATE SET message = excluded.message",
                    params![id.to_string(), message],
                )?;
            }
            None => {
                tx.execute(
                    "DELETE FROM anti_entropy WHERE doc_id = ?1",
                    [id.to_string()],
                )?;
            }
        }
    }
    let remaining: i64 = tx.query_row("SELECT count(*) FROM anti_entropy", [], |r| r.get(0))?;
    let listing_done = ae_get(tx, "ae_done_listing")?.as_deref() == Some("1");
    let active = ae_get(tx, "ae_active")?.as_deref() == Some("1");
    if active && listing_done && remaining == 0 {
        ae_set(tx, "ae_active", "0")?;
        ae_set(tx, "ae_done_listing", "0")?;
        ae_set(tx, "ae_last_ms", &now.to_string())?;
        return Ok(false);
    }
    Ok(active)
}

/// A message to the sync task.
#[derive(Debug)]
pub enum SyncCommand {
    /// Run a round now; the result is sent back if a reply channel is given.
    SyncNow(Option<oneshot::Sender<Result<RoundSummary, String>>>),
    Shutdown,
}

/// Handle to the running sync task.
#[derive(Debug, Clone)]
pub struct SyncHandle {
    tx: mpsc::Sender<SyncCommand>,
}

impl SyncHandle {
    /// Ask for a round now; false when the mailbox is full (a round is already queued).
    pub fn trigger(&self) -> bool {
        self.tx.try_send(SyncCommand::SyncNow(None)).is_ok()
    }

    pub async fn sync_now(&self) -> Result<RoundSummary, String> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(SyncCommand::SyncNow(Some(tx)))
            .await
            .map_err(|_| "sync task stopped".to_owned())?;
        rx.await.map_err(|_| "sync task stopped".to_owned())?
    }

    pub async fn shutdown(&self) {
        let _ = self.tx.send(SyncCommand::Shutdown).await;
    }
}

/// Backoff and circuit breaker state, pure so it can be tested without a clock.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures_to_open: u32,
    open_for: Duration,
    consecutive_failures: u32,
}

impl Backoff {
    pub fn new(config: &SyncConfig) -> Backoff {
        Backoff {
            initial: config.backoff_initial,
            max: config.backoff_max,
            failures_to_open: config.circuit_failures,
            open_for: config.circuit_open,
            consecutive_failures: 0,
        }
    }

    pub fn success(&mut self) {
        self.consecutive_failures = 0;
    }

    /// Record a failure and return how long to wait before the next try; `jitter` in [0, 1)
    /// spreads retries of many nodes (±50%).
    pub fn failure(&mut self, jitter: f64) -> Duration {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures >= self.failures_to_open
            && self
                .consecutive_failures
                .is_multiple_of(self.failures_to_open)
        {
            return self.open_for;
        }
        let exp = self.consecutive_failures.saturating_sub(1).min(20);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        base.mul_f64(0.5 + jitter.clamp(0.0, 1.0))
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.consecutive_failures
    }
}

/// Run sync rounds every `interval` and on demand until shut down.
pub fn spawn(client: SyncClient) -> (SyncHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(SYNC_MAILBOX_CAPACITY);
    let task = tokio::spawn(async move {
        let mut backoff = Backoff::new(&client.config);
        let mut wait = Duration::from_secs(5);
        loop {
            let reply = tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(SyncCommand::SyncNow(reply)) => reply,
                    Some(SyncCommand::Shutdown) | None => break,
                },
                () = tokio::time::sleep(wait) => None,
            };
            let result = client.round().await;
            match &result {
                Ok(summary) => {
                    backoff.success();
                    wait = client.config.interval;
                    if summary.exchanges > 0 {
                        tracing::info!(%summary, "sync round finished");
                    }
                }
                Err(SyncError::NotEnrolled) => {
                    wait = client.config.interval;
                }
                Err(e) => {
                    wait = backoff.failure(rand::random::<f64>());
                    tracing::warn!(error = %e, retry_in_s = wait.as_secs(),
                        failures = backoff.consecutive_failures(), "sync round failed");
                }
            }
            if let Some(reply) = reply {
                let _ = reply.send(result.map_err(|e| e.to_string()));
            }
        }
    });
    (SyncHandle { tx }, task)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SyncConfig {
        SyncConfig {
            interval: Duration::from_secs(300),
            batch_budget_bytes: 32 * 1024,
            request_timeout: Duration::from_secs(60),
            backoff_initial: Duration::from_secs(5),
            backoff_max: Duration::from_secs(900),
            circuit_failures: 5,
            circuit_open: Duration::from_secs(1800),
            allow_insecure_http: false,
            ca_file: None,
            pin_spki_sha256: Vec::new(),
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_caps_and_opens_the_circuit() {
        let mut b = Backoff::new(&config());
        assert_eq!(b.failure(0.5), Duration::from_secs(5));
        assert_eq!(b.failure(0.5), Duration::from_secs(10));
        assert_eq!(b.failure(0.0), Duration::from_secs(10)); // 20 s * 0.5
        assert_eq!(b.failure(0.99).as_secs(), 59); // 40 s * 1.49
        assert_eq!(b.failure(0.5), Duration::from_secs(1800), "circuit opens");
        for _ in 0..3 {
            assert!(b.failure(0.5) <= Duration::from_secs(900));
        }
        b.success();
        assert_eq!(b.failure(0.5), Duration::from_secs(5));
    }
}
