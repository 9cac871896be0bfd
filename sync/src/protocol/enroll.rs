//! Enrollment proofs and key fingerprints: the pure half of `POST /api/v1/enroll`.
//!
//! A one-time token alone proves only that the caller saw the token. To enroll, a node also
//! signs the token, its name, its software version and the time with the key it enrolls, so
//! nobody can enroll a public key whose secret they do not hold (review finding 8). The signed
//! bytes are domain-separated by [`ENROLL_PROOF_CONTEXT`] (never valid as an envelope
//! signature, and an envelope signature is never valid here) and every variable-length field is
//! length-prefixed, so two different requests never sign the same bytes.
//!
//! The cloud's key fingerprint ([`key_fingerprint`]) is what an operator compares out of band:
//! `farmco-cloud device token` prints it, `farmco-edge enroll --cloud-key-fingerprint` checks
//! it before pinning the key the cloud answered with.
//!
//! Pure: the time comes in as a parameter; checking it against a clock is the caller's job.

use sha2::{Digest, Sha256};

use super::keys::{KeyError, NodeId, NodeSecretKey, SIGNATURE_BYTES};

/// Domain-separation prefix of an enrollment proof signature.
pub const ENROLL_PROOF_CONTEXT: &[u8] = b"farmco-enroll-proof-v1\0";
/// Length of a key fingerprint in hex (SHA-256).
pub const FINGERPRINT_HEX_CHARS: usize = 64;

/// The bytes a node signs to enroll `node`.
pub fn proof_message(
    node: &NodeId,
    token: &str,
    name: &str,
    software_version: &str,
    time_ms: i64,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        ENROLL_PROOF_CONTEXT.len()
            + 32
            + 3 * 4
            + token.len()
            + name.len()
            + software_version.len()
            + 8,
    );
    out.extend_from_slice(ENROLL_PROOF_CONTEXT);
    out.extend_from_slice(node.as_bytes());
    for field in [token, name, software_version] {
        // Fields are bounded far below 4 GiB by the API; saturate rather than wrap.
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(&time_ms.to_be_bytes());
    out
}

/// Sign an enrollment proof with the node's own key.
pub fn sign_proof(
    key: &NodeSecretKey,
    token: &str,
    name: &str,
    software_version: &str,
    time_ms: i64,
) -> [u8; SIGNATURE_BYTES] {
    key.sign(&proof_message(
        &key.node_id(),
        token,
        name,
        software_version,
        time_ms,
    ))
}

/// Check that `signature` proves possession of `node`'s secret key for this request.
pub fn verify_proof(
    node: &NodeId,
    token: &str,
    name: &str,
    software_version: &str,
    time_ms: i64,
    signature: &[u8; SIGNATURE_BYTES],
) -> Result<(), KeyError> {
    node.verify(
        &proof_message(node, token, name, software_version, time_ms),
        signature,
    )
}

/// SHA-256 of the 32 public-key bytes, as 64 lower-case hex characters.
pub fn key_fingerprint(key: &NodeId) -> String {
    key_fingerprint_bytes(key.as_bytes())
}

/// [`key_fingerprint`] of raw public-key bytes (a key not yet checked as a [`NodeId`]).
pub fn key_fingerprint_bytes(key: &[u8; 32]) -> String {
    let digest = Sha256::digest(key);
    let mut out = String::with_capacity(FINGERPRINT_HEX_CHARS);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Normalize a fingerprint typed by a person: case-insensitive, `:`/space separators and a
/// `sha256:` prefix allowed. `None` when it is not 64 hex digits.
pub fn normalize_fingerprint(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t
        .strip_prefix("sha256:")
        .or_else(|| t.strip_prefix("SHA256:"))
        .unwrap_or(t);
    let hex: String = t
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (hex.len() == FINGERPRINT_HEX_CHARS && hex.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> NodeSecretKey {
        NodeSecretKey::from_seed([seed; 32])
    }

    #[test]
    fn a_proof_verifies_only_for_its_own_fields_and_key() {
        let k = key(1);
        let id = k.node_id();
        let sig = sign_proof(&k, "tok", "box", "0.1.0", 1_000);
        assert_eq!(
            verify_proof(&id, "tok", "box", "0.1.0", 1_000, &sig),
            Ok(())
        );
        for (token, name, version, time) in [
            ("tok2", "box", "0.1.0", 1_000),
            ("tok", "box2", "0.1.0", 1_000),
            ("tok", "box", "0.1.1", 1_000),
            ("tok", "box", "0.1.0", 1_001),
            // Moving bytes between fields changes the length prefixes.
            ("tokb", "ox", "0.1.0", 1_000),
        ] {
            assert_eq!(
                verify_proof(&id, token, name, version, time, &sig),
                Err(KeyError::BadSignature),
                "{token} {name} {version} {time}"
            );
        }
        let other = key(2).node_id();
        assert_eq!(
            verify_proof(&other, "tok", "box", "0.1.0", 1_000, &sig),
            Err(KeyError::BadSignature)
        );
    }

    #[test]
    fn fingerprints_are_sha256_hex_and_normalize() {
        let id = key(3).node_id();
        let fp = key_fingerprint(&id);
        assert_eq!(fp.len(), FINGERPRINT_HEX_CHARS);
        assert_ne!(fp, id.to_string());
        let spaced: String = fp
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(normalize_fingerprint(&spaced).as_deref(), Some(fp.as_str()));
        assert_eq!(
            normalize_fingerprint(&format!("sha256:{fp}")).as_deref(),
            Some(fp.as_str())
        );
        assert_eq!(normalize_fingerprint(&fp[..60]), None);
        assert_eq!(normalize_fingerprint(&format!("{}zz", &fp[..62])), None);
    }
}
