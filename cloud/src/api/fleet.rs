//! The device fleet: enrollment of edge nodes (`POST /api/v1/enroll`, authenticated by the
//! one-time token itself, not by a bearer token) and the ops view of every node
//! (`GET /api/v1/nodes`).
//!
//! The fleet view reads these keys of a node's last heartbeat JSON, when present:
//! `change_log_backlog`, `readings_backlog`, `disk_free_bytes`, `software_version`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, CurrentUser, SharedState, rfc3339};
use crate::store::StoreError;
use crate::store::nodes::Node;
use crate::store::users::Role;

/// Longest token accepted before hashing (a token is 64 hex characters).
pub const TOKEN_CHARS_MAX: usize = 128;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    pub token: String,
    /// The node's ed25519 public key, 64 hex characters.
    pub public_key: String,
    pub name: String,
    pub software_version: String,
}

#[derive(Debug, Serialize)]
pub struct EnrollResponse {
    pub node_id: String,
    pub villages: Vec<String>,
    /// The cloud's public key (64 hex): the recipient of the node's envelopes and the signer
    /// of the cloud's.
    pub cloud_public_key: String,
}

#[derive(Debug, Serialize)]
pub struct NodeDto {
    pub node_id: String,
    pub name: String,
    pub villages: Vec<String>,
    pub software_version: String,
    pub enrolled_at: String,
    pub last_seen_at: Option<String>,
    pub revoked: bool,
    pub revoked_at: Option<String>,
    pub up_acked: u64,
    pub readings_acked: u64,
    pub change_log_backlog: Option<u64>,
    pub readings_backlog: Option<u64>,
    pub disk_free_bytes: Option<u64>,
    pub heartbeat: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct NodeListResponse {
    pub nodes: Vec<NodeDto>,
}

fn hb_u64(hb: Option<&serde_json::Value>, key: &str) -> Option<u64> {
    hb.and_then(|h| h.get(key))
        .and_then(serde_json::Value::as_u64)
}

fn node_dto(n: Node) -> NodeDto {
    let hb = n.heartbeat.as_ref();
    NodeDto {
        change_log_backlog: hb_u64(hb, "change_log_backlog"),
        readings_backlog: hb_u64(hb, "readings_backlog"),
        disk_free_bytes: hb_u64(hb, "disk_free_bytes"),
        revoked: n.revoked(),
        node_id: n.node_id,
        name: n.name,
        villages: n.villages,
        software_version: n.software_version,
        enrolled_at: rfc3339(n.enrolled_at),
        last_seen_at: n.last_seen_at.map(rfc3339),
        revoked_at: n.revoked_at.map(rfc3339),
        up_acked: n.up_acked,
        readings_acked: n.readings_acked,
        heartbeat: n.heartbeat,
    }
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

pub async fn enroll(
    State(state): State<SharedState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> Result<Json<EnrollResponse>, ApiError> {
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

pub async fn list_nodes(
    State(state): State<SharedState>,
    user: CurrentUser,
) -> Result<Json<NodeListResponse>, ApiError> {
    user.require(Role::Ops)?;
    let nodes = state.store.list_nodes().await?;
    Ok(Json(NodeListResponse {
        nodes: nodes.into_iter().map(node_dto).collect(),
    }))
}
