//! The cloud side of `POST /api/v1/sync` (docs/sync-protocol.md): verify the signed envelope,
//! refuse unknown, revoked, forged, misaddressed and replayed senders (audited; bytes kept in
//! quarantine only once the sender is authenticated — before that only their hash and size,
//! and a client address with too many such refusals is answered 429 with no database work),
//! answer a retried envelope from the replay cache, and otherwise apply the request
//! and build the signed response — all in ONE transaction, so an acknowledgement is durable
//! exactly when what it acknowledges is.

use farmco_sync::doc::FarmerDoc;
use farmco_sync::protocol::envelope::{
    EnvelopeError, EnvelopeKind, ReplayState, ReplayVerdict, SignedEnvelope, check_replay,
};
use farmco_sync::protocol::heads::{compare_anti_entropy_page, doc_sync_step};
use farmco_sync::protocol::keys::{NodeId, NodeSecretKey};
use farmco_sync::protocol::readings::decode_readings;
use farmco_sync::protocol::wire::{
    self, AdvisoryWire, DocDigest, DocSyncMessage, DownBatch, DownChange, Rejection, SyncResponse,
};
use uuid::Uuid;

use crate::store::audit::{self, AuditEvent, unix_ms};
use crate::store::documents::{DOWN_CHANGES_PER_BATCH_MAX, apply_changes_in, changes_after_in};
use crate::store::nodes::{Acks, Replay, lock_node_in};
use crate::store::quarantine::{self, Keep};
use crate::store::{Store, StoreError, now};

/// Advisories sent down per response at most.
pub const ADVISORIES_PER_RESPONSE_MAX: usize = 100;
/// Documents repaired (automerge sync messages answered) per request at most.
pub const DOC_SYNC_PER_REQUEST_MAX: usize = 64;
/// Largest request body accepted (an envelope at its payload limit plus framing).
pub const SYNC_BODY_BYTES_MAX: usize =
    farmco_sync::protocol::envelope::ENVELOPE_PAYLOAD_BYTES_MAX + 1024;

/// Refusals before authentication (malformed, unknown, revoked, misaddressed, badly signed)
/// one client address may cause per [`SYNC_REFUSAL_WINDOW`]; beyond, its requests are answered
/// 429 without touching the database (review 2026-12, finding 3). A real node that lost its
/// enrollment retries once per sync interval (minutes), far below this.
pub const SYNC_REFUSALS_PER_ADDRESS_MAX: usize = 30;
/// The sliding window of [`SYNC_REFUSALS_PER_ADDRESS_MAX`].
pub const SYNC_REFUSAL_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// Client addresses the refusal counter tracks at most (the oldest is forgotten first).
pub const SYNC_REFUSAL_ADDRESSES_MAX: usize = 10_000;

/// Why a request was refused (mapped to an HTTP status by the route).
#[derive(Debug, thiserror::Error)]
pub enum SyncRefusal {
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("unknown sender: this node is not enrolled")]
    UnknownSender,
    #[error("this node has been revoked")]
    Revoked,
    #[error("signature does not verify")]
    BadSignature,
    #[error("envelope is addressed to another recipient")]
    WrongRecipient,
    #[error("replayed envelope (sequence {seq} is not newer than {last})")]
    Replayed { seq: u64, last: u64 },
    #[error("too many refused requests from this address; try again later")]
    RateLimited,
    #[error("internal error")]
    Internal(#[from] StoreError),
}

impl SyncRefusal {
    pub fn status(&self) -> u16 {
        match self {
            SyncRefusal::Malformed(_) => 400,
            SyncRefusal::BadSignature => 401,
            SyncRefusal::UnknownSender | SyncRefusal::Revoked | SyncRefusal::WrongRecipient => 403,
            SyncRefusal::Replayed { .. } => 409,
            SyncRefusal::RateLimited => 429,
            SyncRefusal::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            SyncRefusal::Malformed(_) => "malformed_envelope",
            SyncRefusal::UnknownSender => "unknown_sender",
            SyncRefusal::Revoked => "revoked",
            SyncRefusal::BadSignature => "bad_signature",
            SyncRefusal::WrongRecipient => "wrong_recipient",
            SyncRefusal::Replayed { .. } => "replayed",
            SyncRefusal::RateLimited => "rate_limited",
            SyncRefusal::Internal(_) => "internal",
        }
    }
}

/// Sliding-window count of unauthenticated refusals per client address.
#[derive(Debug, Default)]
struct RefusalCounter {
    by_address: std::sync::Mutex<
        std::collections::HashMap<std::net::IpAddr, std::collections::VecDeque<std::time::Instant>>,
    >,
}

impl RefusalCounter {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<std::net::IpAddr, std::collections::VecDeque<std::time::Instant>>,
    > {
        self.by_address.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Is this address over its limit now?
    fn blocked(&self, addr: std::net::IpAddr, now: std::time::Instant) -> bool {
        let mut map = self.lock();
        let Some(times) = map.get_mut(&addr) else {
            return false;
        };
        while times
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= SYNC_REFUSAL_WINDOW)
        {
            times.pop_front();
        }
        if times.is_empty() {
            map.remove(&addr);
            return false;
        }
        times.len() >= SYNC_REFUSALS_PER_ADDRESS_MAX
    }

    fn record(&self, addr: std::net::IpAddr, now: std::time::Instant) {
        let mut map = self.lock();
        if !map.contains_key(&addr) && map.len() >= SYNC_REFUSAL_ADDRESSES_MAX {
            let oldest = map
                .iter()
                .min_by_key(|(_, t)| t.back().copied())
                .map(|(a, _)| *a);
            if let Some(a) = oldest {
                map.remove(&a);
            }
        }
        let times = map.entry(addr).or_default();
        times.push_back(now);
        while times.len() > SYNC_REFUSALS_PER_ADDRESS_MAX {
            times.pop_front();
        }
    }
}

/// The sync endpoint's state: the store and the cloud's signing key.
pub struct SyncService {
    store: std::sync::Arc<Store>,
    key: NodeSecretKey,
    me: NodeId,
    batch_budget_bytes: usize,
    refusals: RefusalCounter,
    /// At most one heartbeat history point per node per this interval (`[fleet]`).
    heartbeat_history_interval: std::time::Duration,
}

/// Heartbeat history spacing until [`SyncService::set_heartbeat_history_interval`] is called.
pub const HEARTBEAT_HISTORY_INTERVAL_DEFAULT: std::time::Duration =
    std::time::Duration::from_secs(300);

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncService")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl SyncService {
    pub fn new(
        store: std::sync::Arc<Store>,
        key: NodeSecretKey,
        batch_budget_bytes: usize,
    ) -> SyncService {
        let me = key.node_id();
        SyncService {
            store,
            key,
            me,
            batch_budget_bytes,
            refusals: RefusalCounter::default(),
            heartbeat_history_interval: HEARTBEAT_HISTORY_INTERVAL_DEFAULT,
        }
    }

    /// Space heartbeat history points at least this far apart (the console's node charts).
    pub fn set_heartbeat_history_interval(&mut self, interval: std::time::Duration) {
        self.heartbeat_history_interval = interval;
    }

    /// Refused before the sender was authenticated: count it against the client address, keep
    /// only the hash and size of the bytes, audit.
    async fn refuse_unauthenticated(
        &self,
        addr: Option<std::net::IpAddr>,
        node_id: Option<&str>,
        action: &str,
        refusal: SyncRefusal,
        bytes: &[u8],
    ) -> SyncRefusal {
        if let Some(a) = addr {
            self.refusals.record(a, std::time::Instant::now());
        }
        self.refuse(node_id, action, refusal, bytes, Keep::HashOnly)
            .await
    }

    /// Keep refused bytes (or their hash) and say why, in their own transaction (the request's
    /// is not used).
    async fn refuse(
        &self,
        node_id: Option<&str>,
        action: &str,
        refusal: SyncRefusal,
        bytes: &[u8],
        keep: Keep,
    ) -> SyncRefusal {
        let result: Result<(), StoreError> = async {
            let mut conn = self.store.conn().await?;
            let tx = conn.transaction().await?;
            let t = now();
            quarantine::insert(&*tx, node_id, None, t, &refusal.to_string(), bytes, keep).await?;
            audit::append(
                &tx,
                t,
                &AuditEvent {
                    actor: node_id.unwrap_or("unknown"),
                    action,
                    target: "sync",
                    detail: serde_json::json!({"reason": refusal.to_string(), "bytes": bytes.len()}),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "could not record a refused sync request");
        }
        tracing::warn!(node = node_id.unwrap_or("unknown"), %refusal, "sync request refused");
        refusal
    }

    /// Handle one request body from `addr` (the client address, when known); the Ok bytes are
    /// the signed response envelope.
    pub async fn handle(
        &self,
        body: &[u8],
        addr: Option<std::net::IpAddr>,
    ) -> Result<Vec<u8>, SyncRefusal> {
        // An address that keeps sending refused requests gets no database work at all.
        if addr.is_some_and(|a| self.refusals.blocked(a, std::time::Instant::now())) {
            return Err(SyncRefusal::RateLimited);
        }
        let envelope = match SignedEnvelope::decode(body) {
            Ok(e) => e,
            Err(e) => {
                return Err(self
                    .refuse_unauthenticated(
                        addr,
                        None,
                        "sync.malformed",
                        SyncRefusal::Malformed(e.to_string()),
                        body,
                    )
                    .await);
            }
        };
        let node_id = envelope.sender.to_string();
        let Some(node) = self.store.node(&node_id).await? else {
            return Err(self
                .refuse_unauthenticated(
                    addr,
                    None,
                    "sync.unknown_sender",
                    SyncRefusal::UnknownSender,
                    body,
                )
                .await);
        };
        if node.revoked() {
            return Err(self
                .refuse_unauthenticated(
                    addr,
                    Some(&node_id),
                    "sync.revoked",
                    SyncRefusal::Revoked,
                    body,
                )
                .await);
        }
        if envelope.kind != EnvelopeKind::SyncRequest {
            return Err(self
                .refuse_unauthenticated(
                    addr,
                    Some(&node_id),
                    "sync.malformed",
                    SyncRefusal::Malformed("not a sync request".into()),
                    body,
                )
                .await);
        }
        let digest = envelope.digest();
        let verified = match envelope.verify(self.me) {
            Ok(v) => v,
            Err(EnvelopeError::WrongRecipient) => {
                return Err(self
                    .refuse_unauthenticated(
                        addr,
                        Some(&node_id),
                        "sync.wrong_recipient",
                        SyncRefusal::WrongRecipient,
                        body,
                    )
                    .await);
            }
            Err(_) => {
                return Err(self
                    .refuse_unauthenticated(
                        addr,
                        Some(&node_id),
                        "sync.bad_signature",
                        SyncRefusal::BadSignature,
                        body,
                    )
                    .await);
            }
        };
        let seq = verified.seq();

        let mut conn = self.store.conn().await?;
        let tx = conn.transaction().await.map_err(StoreError::from)?;
        // The replay state is read under the node's row lock, so two copies of one request
        // racing each other cannot both be applied.
        let Some(node) = lock_node_in(&tx, &node_id).await? else {
            return Err(SyncRefusal::UnknownSender);
        };
        if node.revoked() {
            return Err(SyncRefusal::Revoked);
        }
        let replay_state = node.replay.as_ref().map(|r| ReplayState {
            last_seq: r.seq,
            last_digest: r.digest,
        });
        match check_replay(replay_state.as_ref(), seq, &digest) {
            ReplayVerdict::New => {}
            ReplayVerdict::Duplicate => {
                // The same request again (its answer was lost): the same answer, no effect.
                let response = node.replay.map(|r| r.response).unwrap_or_default();
                return Ok(response);
            }
            ReplayVerdict::Replayed => {
                drop(tx);
                let last = replay_state.map(|r| r.last_seq).unwrap_or(0);
                return Err(self
                    .refuse(
                        Some(&node_id),
                        "sync.replayed",
                        SyncRefusal::Replayed { seq, last },
                        body,
                        Keep::Bytes,
                    )
                    .await);
            }
        }
        let request = match wire::decode_request(verified.payload()) {
            Ok(r) => r,
            Err(e) => {
                drop(tx);
                return Err(self
                    .refuse(
                        Some(&node_id),
                        "sync.malformed",
                        SyncRefusal::Malformed(e.to_string()),
                        body,
                        Keep::Bytes,
                    )
                    .await);
            }
        };
        let t = now();
        // The answer speaks the request's wire version (an edge not yet upgraded sends 1).
        let wire_version = request.wire_version;

        // Documents up.
        let local_seqs: Vec<u64> = request.up.iter().map(|c| c.local_seq).collect();
        let changes: Vec<(Uuid, Vec<u8>)> = request
            .up
            .into_iter()
            .map(|c| (Uuid::from_bytes(c.doc_id), c.bytes))
            .collect();
        let outcome = apply_changes_in(
            &tx,
            self.store.actor(),
            Some(&node_id),
            Some(&node.villages),
            changes,
            t,
        )
        .await?;
        let rejected: Vec<Rejection> = outcome
            .rejected
            .iter()
            .map(|r| Rejection {
                local_seq: local_seqs.get(r.index).copied().unwrap_or(0),
                doc_id: *r.doc_id.as_bytes(),
                reason: r.reason.clone(),
            })
            .collect();
        // Rejected changes are acknowledged too (they are quarantined and reported), or one bad
        // change would block the node's log forever.
        let up_acked = local_seqs
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(node.up_acked);

        // Readings up.
        let mut readings_acked = node.readings_acked;
        if let Some(batch) = &request.readings {
            match decode_readings(&batch.data) {
                Ok(readings) => {
                    let rows: Vec<(String, String, i64, f64)> = readings
                        .into_iter()
                        .map(|r| (r.sensor_id, r.metric, r.ts_ms, r.value))
                        .collect();
                    crate::store::readings::insert_readings_in(&tx, Some(&node_id), &rows).await?;
                }
                Err(e) => {
                    quarantine::insert(
                        &*tx,
                        Some(&node_id),
                        None,
                        t,
                        &format!("readings batch: {e}"),
                        &batch.data,
                        Keep::Bytes,
                    )
                    .await?;
                }
            }
            readings_acked = readings_acked.max(u64::try_from(batch.to_id).unwrap_or(0));
        }

        // Down: changes of the node's villages that came from elsewhere.
        let budget = usize::try_from(request.down_budget_bytes)
            .unwrap_or(usize::MAX)
            .clamp(1024, self.batch_budget_bytes.max(1024));
        let down = changes_after_in(
            &*tx,
            request.down_cursor,
            &node.villages,
            Some(&node_id),
            budget,
            DOWN_CHANGES_PER_BATCH_MAX,
        )
        .await?;
        let advisories = crate::store::advisories::advisories_after_in(
            &*tx,
            request.advisory_cursor,
            &node.villages,
            ADVISORIES_PER_RESPONSE_MAX,
        )
        .await?;
        let advisory_cursor = advisories
            .iter()
            .map(|a| a.seq)
            .max()
            .unwrap_or(request.advisory_cursor);

        // Anti-entropy: which of the listed documents differ from ours.
        let anti_entropy = match &request.anti_entropy {
            Some(page) => {
                let ours = crate::store::documents::doc_heads_digests_in(
                    &*tx,
                    &node.villages,
                    page.after_doc.map(Uuid::from_bytes),
                    farmco_sync::protocol::plan::ANTI_ENTROPY_DOCS_PER_PAGE,
                )
                .await?;
                let ours: Vec<DocDigest> = ours
                    .into_iter()
                    .map(|(id, heads_digest)| DocDigest {
                        doc_id: *id.as_bytes(),
                        heads_digest,
                    })
                    .collect();
                Some(compare_anti_entropy_page(page, &ours))
            }
            None => None,
        };

        // Anti-entropy repair: automerge's own sync, one step per document per exchange; what the
        // edge's message brings is applied through the normal (scope-checked) path.
        let mut doc_sync_replies = Vec::new();
        let mut reply_bytes = 0usize;
        for m in request.doc_sync.iter().take(DOC_SYNC_PER_REQUEST_MAX) {
            let doc_id = Uuid::from_bytes(m.doc_id);
            let saved: Option<(Vec<u8>, String)> = tx
                .query_opt(
                    "SELECT saved, village_code FROM documents WHERE doc_id = $1",
                    &[&doc_id],
                )
                .await
                .map_err(StoreError::from)?
                .map(|r| (r.get(0), r.get(1)));
            let mut doc = match &saved {
                Some((_, village)) if !node.villages.contains(village) => continue,
                Some((bytes, _)) => match FarmerDoc::load(self.store.actor(), bytes) {
                    Ok(d) => d,
                    Err(_) => continue,
                },
                None => match FarmerDoc::new_empty(self.store.actor()) {
                    Ok(d) => d,
                    Err(_) => continue,
                },
            };
            let before = doc.heads_hex();
            let reply = match doc_sync_step(&mut doc, Some(&m.message)) {
                Ok(r) => r,
                Err(e) => {
                    quarantine::insert(
                        &*tx,
                        Some(&node_id),
                        Some(doc_id),
                        t,
                        &format!("doc sync: {e}"),
                        &m.message,
                        Keep::Bytes,
                    )
                    .await?;
                    continue;
                }
            };
            let new: Vec<(Uuid, Vec<u8>)> = doc
                .changes_after(&before)
                .map_err(StoreError::from)?
                .into_iter()
                .map(|c| (doc_id, c.bytes))
                .collect();
            if !new.is_empty() {
                apply_changes_in(
                    &tx,
                    self.store.actor(),
                    Some(&node_id),
                    Some(&node.villages),
                    new,
                    t,
                )
                .await?;
            }
            if let Some(message) = reply {
                reply_bytes += message.len();
                doc_sync_replies.push(DocSyncMessage {
                    doc_id: m.doc_id,
                    message,
                });
                if reply_bytes > self.batch_budget_bytes.max(1024) * 4 {
                    break;
                }
            }
        }

        let response = SyncResponse {
            wire_version,
            up_acked,
            readings_acked: i64::try_from(readings_acked).unwrap_or(i64::MAX),
            down: DownBatch {
                changes: down
                    .changes
                    .into_iter()
                    .map(|c| DownChange {
                        cursor: c.cursor,
                        doc_id: *c.doc_id.as_bytes(),
                        bytes: c.bytes,
                    })
                    .collect(),
                next_cursor: down.next_cursor,
                more: down.more,
            },
            advisories: advisories
                .into_iter()
                .map(|a| AdvisoryWire {
                    id: *a.id.as_bytes(),
                    seq: a.seq,
                    village_codes: a.village_codes,
                    kind: a.kind,
                    title: a.title,
                    body_json: a.body.to_string(),
                    valid_from_ms: unix_ms(a.valid_from),
                    valid_until_ms: a.valid_until.map(unix_ms),
                    created_ms: unix_ms(a.created_at),
                })
                .collect(),
            advisory_cursor,
            rejected,
            anti_entropy,
            doc_sync: doc_sync_replies,
        };
        let payload = wire::encode_response(&response)
            .map_err(|e| StoreError::Corrupt(format!("encoding a response: {e}")))?;
        let sealed = SignedEnvelope::seal(
            &self.key,
            EnvelopeKind::SyncResponse,
            verified.sender(),
            seq,
            payload,
        )
        .map_err(|e| StoreError::Corrupt(format!("sealing a response: {e}")))?
        .encode();
        let heartbeat = crate::store::fleet::heartbeat_json(&request.heartbeat);
        crate::store::nodes::set_acks_in(
            &tx,
            &node_id,
            &Acks {
                up_acked,
                readings_acked,
                replay: Replay {
                    seq,
                    digest,
                    response: sealed.clone(),
                },
                heartbeat: Some(heartbeat),
                down_cursor_hint: Some(request.down_cursor),
            },
            t,
        )
        .await?;
        // The console's view of the node: health, history, alerts, delivery, advisories' reach.
        crate::store::fleet::record_health_in(
            &tx,
            &node_id,
            &node.villages,
            &request.heartbeat,
            self.heartbeat_history_interval,
            t,
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(sealed)
    }
}
