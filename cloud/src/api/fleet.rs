//! Enrollment of edge nodes (`POST /api/v1/enroll`, authenticated by the one-time token itself,
//! not by a bearer token). The ops view of the fleet (`GET /api/v1/nodes`) is in
//! `api::console`.
//!
//! Enrollment (review finding 8) checks, in this order, before the store is touched: the
//! per-address and global attempt limits ([`EnrollLimiter`]; a limited request writes nothing,
//! not even an audit row), then the node's proof of key possession (an ed25519 signature over
//! token, name, version and time, `farmco_sync::protocol::enroll`) and the proof's age. Only
//! then is the token spent; the store refuses to re-scope an active node with an ordinary
//! token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{Extensions, HeaderMap, StatusCode};
use farmco_sync::protocol::enroll::verify_proof;
use farmco_sync::protocol::keys::{NodeId, SIGNATURE_BYTES};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApiError, ApiJson, SharedState, client_addr};
use crate::store::StoreError;
use crate::store::audit::AuditEvent;

/// Longest token accepted before hashing (a token is 64 hex characters).
pub const TOKEN_CHARS_MAX: usize = 128;
/// How far an enrollment proof's time may be from the cloud's clock. A box without a
/// real-time clock restores its last shutdown time at boot until NTP answers over a slow
/// uplink, so minutes are too tight; the token is single-use anyway, the window only bounds
/// how long a captured proof could be replayed with a still unused token.
pub const ENROLL_PROOF_SKEW: Duration = Duration::from_secs(24 * 3600);
/// Enrollment attempts per client address per window: a box enrolls once, an operator
/// retrying a typo a few times more.
pub const ENROLL_ATTEMPTS_PER_ADDRESS_MAX: u32 = 10;
/// Enrollment attempts from all addresses per window, which bounds the audit rows a
/// distributed flood can write (legitimate enrollments are rare events).
pub const ENROLL_ATTEMPTS_GLOBAL_MAX: u32 = 200;
/// The enrollment rate-limit window.
pub const ENROLL_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at most; past it the oldest windows are dropped first.
pub const ENROLL_LIMITER_ADDRESSES_MAX: usize = 10_000;

/// Fixed-window attempt counter per client address plus a global one. An attempt is counted
/// before any work, so concurrent requests cannot race past the limit.
#[derive(Debug)]
pub struct EnrollLimiter {
    window: Duration,
    per_address: u32,
    global: u32,
    state: Mutex<LimiterState>,
}

#[derive(Debug)]
struct LimiterState {
    global: (Instant, u32),
    by_address: HashMap<IpAddr, (Instant, u32)>,
}

impl EnrollLimiter {
    pub fn new(window: Duration, per_address: u32, global: u32) -> EnrollLimiter {
        EnrollLimiter {
            window,
            per_address,
            global,
            state: Mutex::new(LimiterState {
                global: (Instant::now(), 0),
                by_address: HashMap::new(),
            }),
        }
    }

    /// Count an attempt; `Err(seconds to wait)` when a limit is reached (nothing counted).
    pub fn attempt(&self, addr: Option<IpAddr>, now: Instant) -> Result<(), u64> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.window;
        let fresh = |(start, n): (Instant, u32)| {
            if now.saturating_duration_since(start) >= window {
                (now, 0)
            } else {
                (start, n)
            }
        };
        let wait = |start: Instant| {
            window
                .saturating_sub(now.saturating_duration_since(start))
                .as_secs()
                .max(1)
        };
        s.global = fresh(s.global);
        if s.global.1 >= self.global {
            return Err(wait(s.global.0));
        }
        if let Some(addr) = addr {
            if !s.by_address.contains_key(&addr)
                && s.by_address.len() >= ENROLL_LIMITER_ADDRESSES_MAX
            {
                s.by_address
                    .retain(|_, (start, _)| now.saturating_duration_since(*start) < window);
                if s.by_address.len() >= ENROLL_LIMITER_ADDRESSES_MAX {
                    // Still full of live windows: refuse rather than grow without bound.
                    return Err(window.as_secs().max(1));
                }
            }
            let entry = fresh(s.by_address.get(&addr).copied().unwrap_or((now, 0)));
            if entry.1 >= self.per_address {
                return Err(wait(entry.0));
            }
            s.by_address.insert(addr, (entry.0, entry.1 + 1));
        }
        s.global.1 += 1;
        Ok(())
    }
}

impl Default for EnrollLimiter {
    fn default() -> Self {
        EnrollLimiter::new(
            ENROLL_WINDOW,
            ENROLL_ATTEMPTS_PER_ADDRESS_MAX,
            ENROLL_ATTEMPTS_GLOBAL_MAX,
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub token: String,
    /// The node's ed25519 public key, 64 hex characters.
    pub public_key: String,
    pub name: String,
    pub software_version: String,
    /// Proof that the caller holds the secret key of `public_key`.
    pub proof: EnrollProof,
}

/// An ed25519 signature by the enrolling key over
/// `farmco_sync::protocol::enroll::proof_message(public_key, token, name, software_version,
/// time_ms)`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollProof {
    /// The node's clock when it signed, ms since the Unix epoch.
    pub time_ms: i64,
    /// 128 hex characters.
    pub signature: String,
}

#[derive(Debug, Serialize)]
pub struct EnrollResponse {
    pub node_id: String,
    pub villages: Vec<String>,
    /// The cloud's public key (64 hex): the recipient of the node's envelopes and the signer
    /// of the cloud's.
    pub cloud_public_key: String,
}

/// Parse 64 hex characters into a 32-byte key.
pub fn parse_public_key(field: &str, hex_text: &str) -> Result<[u8; 32], ApiError> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(hex_text.trim(), &mut key).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_public_key",
            "public_key must be 64 hex characters",
        )
        .with_field(field)
    })?;
    Ok(key)
}

fn invalid_proof(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_proof", message).with_field("proof")
}

pub async fn enroll(
    State(state): State<SharedState>,
    extensions: Extensions,
    headers: HeaderMap,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
    let addr = client_addr(&state, &extensions, &headers);
    if let Err(wait_s) = state.enroll_limiter.attempt(addr, Instant::now()) {
        state.metrics.enrollment("rate_limited");
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many enrollment attempts; try again later",
        );
        e.retry_after_s = Some(wait_s);
        return Err(e);
    }
    if req.token.trim().is_empty() || req.token.len() > TOKEN_CHARS_MAX {
        state.metrics.enrollment("refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the enrollment token is unknown, used or expired",
        )
        .with_field("token"));
    }
    let public_key = parse_public_key("public_key", &req.public_key)?;
    let node = NodeId::from_bytes(public_key).map_err(|_| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_public_key",
            "not a valid ed25519 public key",
        )
        .with_field("public_key")
    })?;
    // The proof, before the token is looked at: a token thief without the key spends nothing.
    let mut signature = [0u8; SIGNATURE_BYTES];
    let proof_error = if hex::decode_to_slice(req.proof.signature.trim(), &mut signature).is_err() {
        Some("proof.signature must be 128 hex characters")
    } else if verify_proof(
        &node,
        &req.token,
        &req.name,
        &req.software_version,
        req.proof.time_ms,
        &signature,
    )
    .is_err()
    {
        Some("the proof of key possession does not verify")
    } else {
        let now_ms = crate::store::audit::unix_ms(crate::store::now());
        let skew_ms = i64::try_from(ENROLL_PROOF_SKEW.as_millis()).unwrap_or(i64::MAX);
        (req.proof.time_ms.abs_diff(now_ms) > skew_ms.unsigned_abs())
            .then_some("the proof's time is too far from the cloud's clock; check the node's clock")
    };
    if let Some(message) = proof_error {
        state.metrics.enrollment("refused");
        tracing::warn!(node_id = %node, "enrollment refused: invalid proof of key possession");
        let node_id = node.to_string();
        state
            .store
            .audit(&AuditEvent {
                actor: &node_id,
                action: "device.enroll_refused",
                target: &node_id,
                detail: json!({"reason": "invalid_proof",
                    "address": addr.map(|a| a.to_string())}),
            })
            .await?;
        return Err(invalid_proof(message));
    }
    match state
        .store
        .enroll(&req.token, public_key, &req.name, &req.software_version)
        .await
    {
        Ok(enrolled) => {
            state.metrics.enrollment("enrolled");
            tracing::info!(node_id = %enrolled.node_id, villages = ?enrolled.villages, "node enrolled");
            Ok(Json(EnrollResponse {
                node_id: enrolled.node_id,
                villages: enrolled.villages,
                cloud_public_key: state.key.public_key_hex(),
            }))
        }
        Err(e) => {
            if let StoreError::Enrollment(reason) = &e {
                state.metrics.enrollment("refused");
                tracing::warn!(%reason, "enrollment refused");
            }
            Err(e.into())
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_counts_before_work_per_address_and_overall() {
        let t0 = Instant::now();
        let limiter = EnrollLimiter::new(Duration::from_secs(60), 2, 3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        assert!(limiter.attempt(Some(a), t0).is_ok());
        assert!(limiter.attempt(Some(a), t0).is_ok());
        // A third attempt from `a` waits for its window; `b` still may.
        assert_eq!(limiter.attempt(Some(a), t0), Err(60));
        assert!(limiter.attempt(Some(b), t0).is_ok());
        // The global limit (3) is reached now, for every address.
        assert!(limiter.attempt(Some(b), t0).is_err());
        assert!(limiter.attempt(None, t0).is_err());
        // A new window starts over.
        let later = t0 + Duration::from_secs(61);
        assert!(limiter.attempt(Some(a), later).is_ok());
        assert!(limiter.attempt(Some(a), later).is_ok());
        assert!(limiter.attempt(Some(a), later).is_err());
    }
}
