//! Enrollment of edge nodes (`POST /api/v1/enroll`, authenticated by the one-time token itself,
//! not by a bearer token). The ops view of the fleet (`GET /api/v1/nodes`) is in
//! `api::console`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, SharedState};
use crate::store::StoreError;

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
