//! `farmco-edge enroll`: exchange a one-time token from `farmco-cloud device token` for this
//! node's enrollment (its villages and the cloud's public key, pinned from then on).
//!
//! Order matters, and each step refuses before the next:
//! 1. The cloud URL must pass the uplink policy (`https://`, or `http://` only when insecure
//!    HTTP is allowed): checked on the text, before any connection is opened.
//! 2. The request carries a proof of key possession: the node signs (token, name, version,
//!    time) with the key it enrolls (`farmco_sync::protocol::enroll`), so a token thief cannot
//!    enroll a key they do not hold.
//! 3. The answer must name this node, carry a valid cloud key and at least one village; when the
//!    operator gave `--cloud-key-fingerprint` (printed by `device token`), the cloud key must
//!    match it, so a man in the middle who also holds a valid TLS certificate still cannot
//!    become "the cloud" for this box.

use farmco_sync::protocol::enroll::{key_fingerprint, normalize_fingerprint, sign_proof};
use farmco_sync::protocol::keys::{NodeId, NodeSecretKey};

use crate::config::SyncConfig;
use crate::store::sync_state::Enrollment;
use crate::uplink::{self, UplinkError};

/// Largest enrollment answer read (a node id, a key and at most 64 village codes fit in 4 KiB).
pub const ENROLL_RESPONSE_BYTES_MAX: usize = 64 * 1024;

/// Why enrollment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(transparent)]
    Uplink(#[from] UplinkError),
    #[error(
        "--cloud-key-fingerprint {0:?} is not 64 hex digits (as printed by `farmco-cloud device token`)"
    )]
    BadFingerprint(String),
    #[error("contacting {url}: {reason}")]
    Network { url: String, reason: String },
    #[error("enrollment refused ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("invalid answer from the cloud: {0}")]
    BadResponse(String),
    #[error(
        "the cloud's key fingerprint {presented} is not the expected {expected}: this is not \
         your cloud (or the wrong fingerprint was given); nothing was stored"
    )]
    FingerprintMismatch { expected: String, presented: String },
}

/// What was enrolled, with the cloud key's fingerprint for the operator to compare.
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub enrollment: Enrollment,
    pub cloud_key_fingerprint: String,
    /// Whether the fingerprint was checked against `--cloud-key-fingerprint`.
    pub fingerprint_checked: bool,
}

/// Enroll `key` at `cloud` with `token`. Nothing is stored here; the caller stores the result.
pub async fn enroll(
    cloud: &str,
    token: &str,
    key: &NodeSecretKey,
    name: &str,
    sync: &SyncConfig,
    expected_fingerprint: Option<&str>,
    now_ms: i64,
) -> Result<Enrolled, EnrollError> {
    // Before any connection: the URL policy and the operator's input.
    uplink::check_cloud_url(cloud, sync.allow_insecure_http)?;
    let expected = expected_fingerprint
        .map(|f| normalize_fingerprint(f).ok_or_else(|| EnrollError::BadFingerprint(f.to_owned())))
        .transpose()?;
    let base = cloud.trim().trim_end_matches('/').to_owned();
    let url = format!("{base}/api/v1/enroll");
    uplink::warn_if_insecure(sync);
    let client = uplink::http_client(sync)?;
    let version = env!("CARGO_PKG_VERSION");
    let token = token.trim();
    let signature = sign_proof(key, token, name, version, now_ms);
    let response = client
        .post(&url)
        .json(&serde_json::json!({
            "token": token,
            "public_key": key.node_id().to_string(),
            "name": name,
            "software_version": version,
            "proof": {"time_ms": now_ms, "signature": hex::encode(signature)},
        }))
        .send()
        .await
        .map_err(|e| EnrollError::Network {
            url: url.clone(),
            reason: uplink::describe_send_error(&e),
        })?;
    let status = response.status();
    let body = uplink::read_body_limited(response, ENROLL_RESPONSE_BYTES_MAX)
        .await
        .map_err(|e| EnrollError::Network {
            url: url.clone(),
            reason: e.to_string(),
        })?;
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    if !status.is_success() {
        return Err(EnrollError::Refused {
            status: status.as_u16(),
            message: body["error"]["message"]
                .as_str()
                .unwrap_or("no reason given")
                .to_owned(),
        });
    }
    let node_id = body["node_id"].as_str().unwrap_or_default().to_owned();
    if node_id != key.node_id().to_string() {
        return Err(EnrollError::BadResponse(format!(
            "the cloud answered with another node id ({node_id:?})"
        )));
    }
    let cloud_public_key = body["cloud_public_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let cloud_id: NodeId = cloud_public_key
        .parse()
        .map_err(|_| EnrollError::BadResponse("the cloud's public key is not valid".into()))?;
    let presented = key_fingerprint(&cloud_id);
    if let Some(expected) = &expected
        && *expected != presented
    {
        return Err(EnrollError::FingerprintMismatch {
            expected: expected.clone(),
            presented,
        });
    }
    let villages = body["villages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if villages.is_empty() {
        return Err(EnrollError::BadResponse(
            "the cloud assigned no villages".into(),
        ));
    }
    Ok(Enrolled {
        enrollment: Enrollment {
            node_id,
            cloud_url: base,
            cloud_public_key,
            villages,
        },
        cloud_key_fingerprint: presented,
        fingerprint_checked: expected.is_some(),
    })
}
