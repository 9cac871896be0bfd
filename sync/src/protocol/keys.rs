//! Node identity: an ed25519 key pair per node (each edge and the cloud).
//!
//! The secret is the raw 32-byte seed (the `<data_dir>/node.key` file); it is zeroized when
//! dropped and never printed. The public key **is** the node id ([`NodeId`]), shown as 64
//! lower-case hex characters.
//!
//! Why these choices (see docs/sync-protocol.md, "Identity"):
//! - Keys are made from seed bytes passed in: this crate draws no randomness; the edge and the
//!   cloud read 32 random bytes from the OS once and store them.
//! - A [`NodeId`] is always a valid, non-weak curve point: [`NodeId::from_bytes`] rejects bytes
//!   that do not decompress and the 8 small-order points, so an id that exists was checked once
//!   and every later use (`verify`) can rely on it.
//! - [`NodeId::verify`] uses `verify_strict`, which also rejects non-canonical signatures and
//!   small-order `R` components (no signature malleability).
//!
//! Limits: [`SEED_BYTES`], [`NODE_ID_BYTES`] and [`SIGNATURE_BYTES`] are fixed by ed25519.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a secret seed (and of the key file), fixed by ed25519.
pub const SEED_BYTES: usize = 32;
/// Length of a public key, fixed by ed25519.
pub const NODE_ID_BYTES: usize = 32;
/// Length of a signature, fixed by ed25519.
pub const SIGNATURE_BYTES: usize = 64;
/// Length of a node id written as hex.
pub const NODE_ID_HEX_CHARS: usize = 2 * NODE_ID_BYTES;

/// What can be wrong with key material or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A secret key (file) must be exactly [`SEED_BYTES`] bytes.
    #[error("a node secret key must be exactly {SEED_BYTES} bytes, got {len}")]
    WrongSecretKeyLength {
        /// The length given.
        len: usize,
    },
    /// The bytes are not the encoding of a point on the curve.
    #[error("not a valid ed25519 public key (the bytes do not decode to a curve point)")]
    InvalidPublicKey,
    /// The point has small order: anyone could forge signatures that verify under it.
    #[error("weak ed25519 public key (a small-order point) is not accepted as a node id")]
    WeakPublicKey,
    /// A node id in text must be exactly [`NODE_ID_HEX_CHARS`] hex characters.
    #[error("a node id is {NODE_ID_HEX_CHARS} hex characters: {0}")]
    InvalidHex(String),
    /// The signature does not verify (wrong key, tampered message, or non-canonical encoding).
    #[error("signature does not verify")]
    BadSignature,
}

/// A node's secret key: the 32-byte ed25519 seed. Zeroized on drop, redacted in `Debug`.
/// `Clone` makes a second copy that is zeroized on its own drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct NodeSecretKey {
    seed: [u8; SEED_BYTES],
    /// The public key, derived once (a scalar multiplication) rather than on every use.
    #[zeroize(skip)]
    node_id: NodeId,
}

impl fmt::Debug for NodeSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NodeSecretKey(<redacted>)")
    }
}

impl NodeSecretKey {
    /// The key whose seed is `seed` (32 random bytes chosen by the caller).
    pub fn from_seed(seed: [u8; SEED_BYTES]) -> NodeSecretKey {
        let mut seed = seed;
        let signing = SigningKey::from_bytes(&seed);
        let node_id = NodeId(signing.verifying_key().to_bytes());
        let key = NodeSecretKey { seed, node_id };
        // The parameter was copied into `key`; wipe the local copy too.
        seed.zeroize();
        key
    }

    /// The key stored in a key file: exactly [`SEED_BYTES`] bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<NodeSecretKey, KeyError> {
        let seed: [u8; SEED_BYTES] = bytes
            .try_into()
            .map_err(|_| KeyError::WrongSecretKeyLength { len: bytes.len() })?;
        Ok(Self::from_seed(seed))
    }

    /// The seed, for writing the key file.
    pub fn seed_bytes(&self) -> &[u8; SEED_BYTES] {
        &self.seed
    }

    /// This node's id (its public key).
    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    /// Sign `message` (ed25519, deterministic: the same message always gets the same
    /// signature). Callers add their own domain-separation prefix.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_BYTES] {
        // `SigningKey` zeroizes its copy of the secret when dropped.
        let signing = SigningKey::from_bytes(&self.seed);
        signing.sign(message).to_bytes()
    }
}

/// A node's id: its ed25519 public key, always a valid point that is not of small order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId([u8; NODE_ID_BYTES]);

impl NodeId {
    /// Check and wrap a public key: rejects bytes that are not a curve point and weak
    /// (small-order) points.
    pub fn from_bytes(bytes: [u8; NODE_ID_BYTES]) -> Result<NodeId, KeyError> {
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::InvalidPublicKey)?;
        if key.is_weak() {
            return Err(KeyError::WeakPublicKey);
        }
        Ok(NodeId(bytes))
    }

    /// The public key bytes.
    pub fn as_bytes(&self) -> &[u8; NODE_ID_BYTES] {
        &self.0
    }

    /// Check that `signature` is this node's signature of `message`, with `verify_strict`.
    pub fn verify(
        &self,
        message: &[u8],
        signature: &[u8; SIGNATURE_BYTES],
    ) -> Result<(), KeyError> {
        // The bytes were checked in `from_bytes`; decompressing again cannot fail, but a
        // failure would still be an error, not a panic.
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| KeyError::InvalidPublicKey)?;
        let signature = Signature::from_bytes(signature);
        key.verify_strict(message, &signature)
            .map_err(|_| KeyError::BadSignature)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for NodeId {
    type Err = KeyError;

    /// Exactly [`NODE_ID_HEX_CHARS`] hex characters (either case); the point is checked.
    fn from_str(s: &str) -> Result<NodeId, KeyError> {
        let bad = || KeyError::InvalidHex(format!("got {} characters", s.chars().count()));
        if s.len() != NODE_ID_HEX_CHARS || !s.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; NODE_ID_BYTES];
        for (byte, pair) in bytes.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let high = hex_value(pair[0]);
            let low = hex_value(pair[1]);
            match (high, low) {
                (Some(high), Some(low)) => *byte = (high << 4) | low,
                _ => {
                    return Err(KeyError::InvalidHex(
                        "contains a character that is not 0-9 or a-f".into(),
                    ));
                }
            }
        }
        NodeId::from_bytes(bytes)
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify() {
        let key = NodeSecretKey::from_seed([7; 32]);
        let id = key.node_id();
        let signature = key.sign(b"hello");
        assert_eq!(id.verify(b"hello", &signature), Ok(()));
        assert_eq!(id.verify(b"hellO", &signature), Err(KeyError::BadSignature));
        assert_eq!(format!("{key:?}"), "NodeSecretKey(<redacted>)");
        let text = id.to_string();
        assert_eq!(text.len(), 64);
        assert_eq!(text.parse::<NodeId>(), Ok(id));
        assert_eq!(text.to_uppercase().parse::<NodeId>(), Ok(id));
        assert_eq!(format!("{id:?}"), text);
    }

    #[test]
    fn key_file_round_trip() {
        let key = NodeSecretKey::from_seed([9; 32]);
        let again = NodeSecretKey::from_bytes(key.seed_bytes()).unwrap();
        assert_eq!(again.node_id(), key.node_id());
        assert_eq!(
            NodeSecretKey::from_bytes(&[0; 31]).err(),
            Some(KeyError::WrongSecretKeyLength { len: 31 })
        );
    }
}
