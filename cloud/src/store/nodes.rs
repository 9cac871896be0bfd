//! The device registry: one-time enrollment tokens, enrolled edge nodes, revocation, and each
//! node's sync state (acknowledged cursors, the replay answer, the last heartbeat).
//!
//! A node id is the hex of the node's ed25519 public key. Tokens are 32 random bytes, shown once
//! and stored as their SHA-256 with the villages they grant and an expiry; using one is a single
//! `UPDATE … WHERE used_at IS NULL AND expires_at > now RETURNING`, so two racing enrollments
//! cannot both succeed. Every enrollment, refusal and revocation is audited.
//!
//! Re-enrollment (review finding 8): an active (unrevoked) node is never re-scoped by an
//! ordinary token, since node ids are public. Only a token an admin made for exactly that node
//! (`farmco-cloud device token --reenroll ID`, [`Store::create_reenrollment_token`]) may replace
//! its villages. A retry of the very enrollment that already succeeded (same token, same key,
//! e.g. after the answer was lost on a 2G link) gets the same answer again.

use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row, Transaction};

use farmco_sync::{ValidationError, VillageCode};

use super::audit::{self, AuditEvent};
use super::{Store, StoreError, StoreResult, to_i64, to_u64};

/// Most villages one node (or one token) may serve: a village box covers a cluster of villages.
pub const VILLAGES_PER_NODE_MAX: usize = 64;
/// Longest node name, in characters.
pub const NODE_NAME_CHARS_MAX: usize = 64;
/// Longest software version string, in characters.
pub const SOFTWARE_VERSION_CHARS_MAX: usize = 64;
/// Shortest node-id prefix the CLI accepts (32 bits: unique in any realistic fleet).
pub const NODE_ID_PREFIX_CHARS_MIN: usize = 8;
/// Largest heartbeat JSON we keep per node.
pub const HEARTBEAT_BYTES_MAX: usize = 16 * 1024;
/// Largest stored replay answer: an envelope payload (8 MiB) plus framing.
pub const REPLAY_RESPONSE_BYTES_MAX: usize = 8 * 1024 * 1024 + 1024;
/// Bytes of randomness in an enrollment token.
pub const ENROLLMENT_TOKEN_BYTES: usize = 32;

/// Why an enrollment was refused (the API answers all of them alike; the audit log knows which).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentRefused {
    UnknownToken,
    TokenUsed,
    TokenExpired,
    NodeRevoked,
    /// The node is enrolled and active; only a re-enrollment token for it may change it.
    NodeActive,
    /// A re-enrollment token used by another node than the one it was made for.
    TokenForOtherNode,
}

impl EnrollmentRefused {
    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentRefused::UnknownToken => "unknown_token",
            EnrollmentRefused::TokenUsed => "token_used",
            EnrollmentRefused::TokenExpired => "token_expired",
            EnrollmentRefused::NodeRevoked => "node_revoked",
            EnrollmentRefused::NodeActive => "node_active",
            EnrollmentRefused::TokenForOtherNode => "token_for_other_node",
        }
    }
}

impl std::fmt::Display for EnrollmentRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to a successful enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledNode {
    pub node_id: String,
    pub villages: Vec<String>,
}

/// The last request a node sent and the answer it got, for duplicate detection.
#[derive(Clone, PartialEq, Eq)]
pub struct Replay {
    /// The envelope's sequence number.
    pub seq: u64,
    /// SHA-256 of the whole accepted envelope.
    pub digest: [u8; 32],
    /// The signed response envelope sent back (answered again, verbatim, to a duplicate).
    pub response: Vec<u8>,
}

impl std::fmt::Debug for Replay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replay")
            .field("seq", &self.seq)
            .field("digest", &hex::encode(self.digest))
            .field("response_bytes", &self.response.len())
            .finish()
    }
}

/// An enrolled node and its sync state.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub node_id: String,
    pub public_key: [u8; 32],
    pub name: String,
    pub villages: Vec<String>,
    pub software_version: String,
    pub enrolled_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub last_seen_at: Option<OffsetDateTime>,
    pub heartbeat: Option<serde_json::Value>,
    /// Highest edge `local_seq` the cloud has durably applied.
    pub up_acked: u64,
    /// Highest edge reading id stored.
    pub readings_acked: u64,
    /// `None` before the first sync, and in [`Store::list_nodes`] (which skips the bytes).
    pub replay: Option<Replay>,
    /// The down cursor the node reported last (informational: the edge owns its cursor).
    pub down_cursor_hint: Option<u64>,
}

impl Node {
    pub fn revoked(&self) -> bool {
        self.revoked_at.is_some()
    }
}

/// What one sync round acknowledges, stored in the round's transaction.
#[derive(Debug, Clone)]
pub struct Acks {
    /// New `up_acked`; the stored value never decreases.
    pub up_acked: u64,
    /// New `readings_acked`; never decreases.
    pub readings_acked: u64,
    /// The request just accepted and the answer about to be sent.
    pub replay: Replay,
    /// The request's heartbeat, if it carried one.
    pub heartbeat: Option<serde_json::Value>,
    pub down_cursor_hint: Option<u64>,
}

const NODE_COLUMNS: &str = "node_id, public_key, name, villages, software_version, enrolled_at,
    revoked_at, last_seen_at, heartbeat, up_acked, readings_acked, replay_seq, replay_digest,
    replay_response, down_cursor_hint";
/// The same columns without the (possibly megabytes of) replay answer.
const NODE_COLUMNS_LIGHT: &str = "node_id, public_key, name, villages, software_version,
    enrolled_at, revoked_at, last_seen_at, heartbeat, up_acked, readings_acked, replay_seq,
    replay_digest, NULL::bytea, down_cursor_hint";

fn node_from_row(r: &Row) -> StoreResult<Node> {
    let public_key: Vec<u8> = r.get(1);
    let public_key: [u8; 32] = public_key
        .try_into()
        .map_err(|_| StoreError::Corrupt("nodes.public_key is not 32 bytes".into()))?;
    let replay_seq: Option<i64> = r.get(11);
    let replay_digest: Option<Vec<u8>> = r.get(12);
    let replay_response: Option<Vec<u8>> = r.get(13);
    let replay = match (replay_seq, replay_digest, replay_response) {
        (Some(seq), Some(digest), Some(response)) => Some(Replay {
            seq: to_u64("nodes.replay_seq", seq)?,
            digest: digest
                .try_into()
                .map_err(|_| StoreError::Corrupt("nodes.replay_digest is not 32 bytes".into()))?,
            response,
        }),
        _ => None,
    };
    Ok(Node {
        node_id: r.get(0),
        public_key,
        name: r.get(2),
        villages: r.get(3),
        software_version: r.get(4),
        enrolled_at: r.get(5),
        revoked_at: r.get(6),
        last_seen_at: r.get(7),
        heartbeat: r.get(8),
        up_acked: to_u64("nodes.up_acked", r.get(9))?,
        readings_acked: to_u64("nodes.readings_acked", r.get(10))?,
        replay,
        down_cursor_hint: r
            .get::<_, Option<i64>>(14)
            .map(|v| to_u64("nodes.down_cursor_hint", v))
            .transpose()?,
    })
}

/// SHA-256 (hex) of an enrollment token: what the table stores.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Parse and de-duplicate village codes (canonical 6-digit strings, sorted).
pub fn parse_villages(field: &str, codes: &[String]) -> Result<Vec<String>, ValidationError> {
    if codes.is_empty() {
        return Err(ValidationError::new(
            field,
            "required",
            "at least one village code is needed",
        ));
    }
    if codes.len() > VILLAGES_PER_NODE_MAX {
        return Err(ValidationError::new(
            field,
            "too_many",
            format!("at most {VILLAGES_PER_NODE_MAX} villages"),
        ));
    }
    let mut out = Vec::with_capacity(codes.len());
    for (i, c) in codes.iter().enumerate() {
        out.push(VillageCode::parse(&format!("{field}[{i}]"), c.trim())?.to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn bounded_label(field: &str, value: &str, max_chars: usize) -> Result<String, ValidationError> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > max_chars || v.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            "invalid",
            format!("{field} must be 1 to {max_chars} printable characters"),
        ));
    }
    Ok(v.to_owned())
}

/// Check a node's public key: a valid, non-weak ed25519 point.
pub fn check_public_key(public_key: &[u8; 32]) -> Result<(), ValidationError> {
    match ed25519_dalek::VerifyingKey::from_bytes(public_key) {
        Ok(key) if !key.is_weak() => Ok(()),
        _ => Err(ValidationError::new(
            "public_key",
            "invalid_public_key",
            "not a valid ed25519 public key",
        )),
    }
}

/// Read a node (any client or transaction).
pub async fn node_in(client: &impl GenericClient, node_id: &str) -> StoreResult<Option<Node>> {
    let row = client
        .query_opt(
            &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE node_id = $1"),
            &[&node_id],
        )
        .await?;
    row.as_ref().map(node_from_row).transpose()
}

/// Read and lock a node's row for the rest of the transaction: the first statement of a sync
/// round, so two rounds of one node (a retry racing the original) run one after the other and
/// the replay check sees the committed state of the first.
pub async fn lock_node_in(tx: &Transaction<'_>, node_id: &str) -> StoreResult<Option<Node>> {
    let row = tx
        .query_opt(
            &format!("SELECT {NODE_COLUMNS} FROM nodes WHERE node_id = $1 FOR UPDATE"),
            &[&node_id],
        )
        .await?;
    row.as_ref().map(node_from_row).transpose()
}

/// Store a round's acknowledgement and replay answer, inside the round's transaction.
/// Cursors only move forward; a replay sequence lower than the stored one is refused
/// (`Conflict`), because it means the caller skipped the replay check.
pub async fn set_acks_in(
    tx: &Transaction<'_>,
    node_id: &str,
    acks: &Acks,
    now: OffsetDateTime,
) -> StoreResult<()> {
    if acks.replay.response.len() > REPLAY_RESPONSE_BYTES_MAX {
        return Err(StoreError::Validation(ValidationError::new(
            "replay.response",
            "too_large",
            format!("a stored response is at most {REPLAY_RESPONSE_BYTES_MAX} bytes"),
        )));
    }
    if let Some(hb) = &acks.heartbeat {
        check_heartbeat(hb)?;
    }
    let up = to_i64("up_acked", acks.up_acked)?;
    let readings = to_i64("readings_acked", acks.readings_acked)?;
    let seq = to_i64("replay.seq", acks.replay.seq)?;
    let hint = acks
        .down_cursor_hint
        .map(|v| to_i64("down_cursor_hint", v))
        .transpose()?;
    let n = tx
        .execute(
            "UPDATE nodes SET up_acked = GREATEST(up_acked, $2),
                 readings_acked = GREATEST(readings_acked, $3),
                 replay_seq = $4, replay_digest = $5, replay_response = $6,
                 heartbeat = COALESCE($7, heartbeat),
                 down_cursor_hint = COALESCE($8, down_cursor_hint),
                 last_seen_at = $9
             WHERE node_id = $1 AND (replay_seq IS NULL OR replay_seq <= $4)",
            &[
                &node_id,
                &up,
                &readings,
                &seq,
                &acks.replay.digest.as_slice(),
                &acks.replay.response,
                &acks.heartbeat,
                &hint,
                &now,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::Conflict {
            field: "replay.seq",
            message: format!(
                "node {node_id} is unknown or already answered a sequence above {}",
                acks.replay.seq
            ),
        });
    }
    Ok(())
}

fn check_heartbeat(hb: &serde_json::Value) -> StoreResult<()> {
    let len = hb.to_string().len();
    if len > HEARTBEAT_BYTES_MAX {
        return Err(StoreError::Validation(ValidationError::new(
            "heartbeat",
            "too_large",
            format!("a heartbeat is at most {HEARTBEAT_BYTES_MAX} bytes of JSON, got {len}"),
        )));
    }
    Ok(())
}

/// Record a heartbeat (and the time) inside the caller's transaction.
pub async fn record_heartbeat_in(
    client: &impl GenericClient,
    node_id: &str,
    heartbeat: &serde_json::Value,
    now: OffsetDateTime,
) -> StoreResult<()> {
    check_heartbeat(heartbeat)?;
    let version = heartbeat
        .get("software_version")
        .and_then(|v| v.as_str())
        .map(|v| {
            v.chars()
                .take(SOFTWARE_VERSION_CHARS_MAX)
                .collect::<String>()
        });
    let n = client
        .execute(
            "UPDATE nodes SET heartbeat = $2, last_seen_at = $3,
                 software_version = COALESCE($4, software_version)
             WHERE node_id = $1",
            &[&node_id, heartbeat, &now, &version],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound("node"));
    }
    Ok(())
}

impl Store {
    /// Create a one-time enrollment token for `villages`, valid for `ttl`; returns the token
    /// (shown once, stored only as its hash). Audited without the token.
    pub async fn create_enrollment_token(
        &self,
        villages: &[String],
        ttl: std::time::Duration,
        actor: &str,
    ) -> StoreResult<String> {
        self.insert_token(villages, ttl, actor, None).await
    }

    /// Create a one-time token that may re-enroll exactly this active node (by id or unique
    /// prefix) with `villages`: the admin's explicit consent to change a live node's scope.
    pub async fn create_reenrollment_token(
        &self,
        node_id_or_prefix: &str,
        villages: &[String],
        ttl: std::time::Duration,
        actor: &str,
    ) -> StoreResult<String> {
        let node_id = self.resolve_node_id(node_id_or_prefix).await?;
        self.insert_token(villages, ttl, actor, Some(&node_id))
            .await
    }

    async fn insert_token(
        &self,
        villages: &[String],
        ttl: std::time::Duration,
        actor: &str,
        reenroll_node_id: Option<&str>,
    ) -> StoreResult<String> {
        let villages = parse_villages("villages", villages)?;
        let now = super::now();
        let expires_at = now + ttl;
        let token = hex::encode(rand::random::<[u8; ENROLLMENT_TOKEN_BYTES]>());
        let hash = token_hash(&token);
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        tx.execute(
            "INSERT INTO enrollment_tokens (token_hash, villages, created_at, expires_at,
                 reenroll_node_id)
             VALUES ($1, $2, $3, $4, $5)",
            &[&hash, &villages, &now, &expires_at, &reenroll_node_id],
        )
        .await?;
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor,
                action: "device.token_create",
                target: &hash[..16],
                detail: json!({"villages": villages, "expires_at_ms": audit::unix_ms(expires_at),
                    "reenroll_node_id": reenroll_node_id}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// Enroll a node with a one-time token. The caller has checked the node's proof of key
    /// possession (`farmco_sync::protocol::enroll::verify_proof`). The token must be unused and
    /// unexpired; a revoked node cannot come back; an active node is re-enrolled (its villages
    /// replaced, its cursors kept) only with a re-enrollment token made for it.
    pub async fn enroll(
        &self,
        token: &str,
        public_key: [u8; 32],
        name: &str,
        software_version: &str,
    ) -> StoreResult<EnrolledNode> {
        check_public_key(&public_key)?;
        let name = bounded_label("name", name, NODE_NAME_CHARS_MAX)?;
        let software_version = bounded_label(
            "software_version",
            software_version,
            SOFTWARE_VERSION_CHARS_MAX,
        )?;
        let node_id = hex::encode(public_key);
        let hash = token_hash(token.trim());
        let now = super::now();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let existing = lock_node_in(&tx, &node_id).await?;
        let active = existing.as_ref().is_some_and(|n| !n.revoked());
        let refused = if existing.as_ref().is_some_and(Node::revoked) {
            Some(EnrollmentRefused::NodeRevoked)
        } else {
            None
        };
        // An active node needs a token made for it; a new node any token not made for another.
        let villages: Option<Vec<String>> = if refused.is_some() {
            None
        } else {
            tx.query_opt(
                "UPDATE enrollment_tokens SET used_at = $2, used_by = $3
                 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
                   AND (reenroll_node_id IS NULL OR reenroll_node_id = $3)
                   AND (NOT $4 OR reenroll_node_id = $3)
                 RETURNING villages",
                &[&hash, &now, &node_id, &active],
            )
            .await?
            .map(|r| r.get(0))
        };
        let Some(villages) = villages else {
            let reason = match refused {
                Some(r) => r,
                None => {
                    let row = tx
                        .query_opt(
                            "SELECT used_at IS NOT NULL, expires_at <= $2, used_by,
                                    reenroll_node_id
                             FROM enrollment_tokens WHERE token_hash = $1",
                            &[&hash, &now],
                        )
                        .await?;
                    match row {
                        None => EnrollmentRefused::UnknownToken,
                        Some(r) => {
                            let used: bool = r.get(0);
                            let expired: bool = r.get(1);
                            let used_by: Option<String> = r.get(2);
                            let for_node: Option<String> = r.get(3);
                            if used && used_by.as_deref() == Some(node_id.as_str()) && active {
                                // The same enrollment again (its answer was lost): same answer.
                                let node = existing.as_ref().ok_or(StoreError::NotFound("node"))?;
                                audit::append(
                                    &tx,
                                    now,
                                    &AuditEvent {
                                        actor: &node_id,
                                        action: "device.enroll_repeat",
                                        target: &node_id,
                                        detail: json!({"name": name}),
                                    },
                                )
                                .await?;
                                tx.commit().await?;
                                return Ok(EnrolledNode {
                                    node_id,
                                    villages: node.villages.clone(),
                                });
                            }
                            if used {
                                EnrollmentRefused::TokenUsed
                            } else if expired {
                                EnrollmentRefused::TokenExpired
                            } else if for_node.as_ref().is_some_and(|n| *n != node_id) {
                                EnrollmentRefused::TokenForOtherNode
                            } else {
                                // Unused, valid, not for another node: refused only because
                                // the node is active and this is an ordinary token.
                                EnrollmentRefused::NodeActive
                            }
                        }
                    }
                }
            };
            audit::append(
                &tx,
                now,
                &AuditEvent {
                    actor: &node_id,
                    action: "device.enroll_refused",
                    target: &node_id,
                    detail: json!({"reason": reason.as_str(), "name": name}),
                },
            )
            .await?;
            tx.commit().await?;
            return Err(StoreError::Enrollment(reason));
        };
        tx.execute(
            "INSERT INTO nodes (node_id, public_key, name, villages, software_version, enrolled_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (node_id) DO UPDATE SET name = EXCLUDED.name,
                 villages = EXCLUDED.villages, software_version = EXCLUDED.software_version",
            &[
                &node_id,
                &public_key.as_slice(),
                &name,
                &villages,
                &software_version,
                &now,
            ],
        )
        .await?;
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor: &node_id,
                action: if existing.is_some() {
                    "device.reenroll"
                } else {
                    "device.enroll"
                },
                target: &node_id,
                detail: json!({"villages": villages, "name": name,
                    "software_version": software_version,
                    "previous_villages": existing.as_ref().map(|n| n.villages.clone())}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(EnrolledNode { node_id, villages })
    }

    pub async fn node(&self, node_id: &str) -> StoreResult<Option<Node>> {
        let conn = self.conn().await?;
        node_in(&**conn, node_id).await
    }

    /// Every node, by enrollment time (without the stored replay answers).
    pub async fn list_nodes(&self) -> StoreResult<Vec<Node>> {
        let conn = self.conn().await?;
        conn.query(
            &format!("SELECT {NODE_COLUMNS_LIGHT} FROM nodes ORDER BY enrolled_at, node_id"),
            &[],
        )
        .await?
        .iter()
        .map(node_from_row)
        .collect()
    }

    /// Resolve a full node id or a unique prefix of at least [`NODE_ID_PREFIX_CHARS_MIN`] hex
    /// characters.
    pub async fn resolve_node_id(&self, id_or_prefix: &str) -> StoreResult<String> {
        let p = id_or_prefix.trim().to_ascii_lowercase();
        if p.len() < NODE_ID_PREFIX_CHARS_MIN
            || p.len() > 64
            || !p.chars().all(|c| c.is_ascii_hexdigit())
        {
            return Err(StoreError::Validation(ValidationError::new(
                "id",
                "invalid_node_id",
                format!(
                    "a node id is 64 hex characters; a prefix needs at least \
                     {NODE_ID_PREFIX_CHARS_MIN}"
                ),
            )));
        }
        let conn = self.conn().await?;
        // LIKE is safe: `p` is only hex digits.
        let rows = conn
            .query(
                "SELECT node_id FROM nodes WHERE node_id LIKE $1 ORDER BY node_id LIMIT 2",
                &[&format!("{p}%")],
            )
            .await?;
        match rows.as_slice() {
            [] => Err(StoreError::NotFound("node")),
            [one] => Ok(one.get(0)),
            _ => Err(StoreError::Conflict {
                field: "id",
                message: format!("the prefix {p} matches more than one node"),
            }),
        }
    }

    /// Revoke a node (by id or unique prefix): every later envelope from it is refused.
    /// Revoking twice keeps the first time. Returns the full node id.
    pub async fn revoke_node(&self, id_or_prefix: &str, actor: &str) -> StoreResult<String> {
        let node_id = self.resolve_node_id(id_or_prefix).await?;
        let now = super::now();
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        let n = tx
            .execute(
                "UPDATE nodes SET revoked_at = $2 WHERE node_id = $1 AND revoked_at IS NULL",
                &[&node_id, &now],
            )
            .await?;
        audit::append(
            &tx,
            now,
            &AuditEvent {
                actor,
                action: "device.revoke",
                target: &node_id,
                detail: json!({"already_revoked": n == 0}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(node_id)
    }

    /// Store a round's acknowledgement in its own transaction (see [`set_acks_in`] to share the
    /// round's transaction, which is what the sync endpoint should do).
    pub async fn set_acks(&self, node_id: &str, acks: &Acks) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await?;
        set_acks_in(&tx, node_id, acks, super::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn record_heartbeat(
        &self,
        node_id: &str,
        heartbeat: &serde_json::Value,
    ) -> StoreResult<()> {
        let conn = self.conn().await?;
        record_heartbeat_in(&**conn, node_id, heartbeat, super::now()).await
    }
}
