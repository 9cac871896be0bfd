//! Signed envelopes: round trips, every decode error, tampering (a flipped bit anywhere is a
//! decode error or a bad signature, never accepted), wrong recipients, invalid and weak
//! sender keys, replay verdicts, and property tests that decoding random or mutated bytes
//! never panics.

use farmco_sync::protocol::envelope::{
    ENVELOPE_BYTES_MAX, ENVELOPE_BYTES_MIN, ENVELOPE_HEADER_BYTES,
};
use farmco_sync::protocol::{
    ENVELOPE_MAGIC, ENVELOPE_PAYLOAD_BYTES_MAX, EnvelopeError, EnvelopeKind, KeyError, NodeId,
    NodeSecretKey, PROTOCOL_VERSION, ReplayState, ReplayVerdict, SIGNING_CONTEXT, SignedEnvelope,
    check_replay,
};
use proptest::prelude::*;

/// A small-order point (the identity, y = 1): decodes, but is weak.
const WEAK_POINT: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 1;
    b
};

/// Bytes that are not a curve point (y = 2 has no x on edwards25519).
const NOT_A_POINT: [u8; 32] = {
    let mut b = [0u8; 32];
    b[0] = 2;
    b
};

fn keys() -> (NodeSecretKey, NodeSecretKey) {
    (
        NodeSecretKey::from_seed([1; 32]),
        NodeSecretKey::from_seed([2; 32]),
    )
}

fn sample(payload: Vec<u8>) -> (SignedEnvelope, NodeSecretKey, NodeSecretKey) {
    let (edge, cloud) = keys();
    let envelope = SignedEnvelope::seal(
        &edge,
        EnvelopeKind::SyncRequest,
        cloud.node_id(),
        42,
        payload,
    )
    .unwrap();
    (envelope, edge, cloud)
}

#[test]
fn round_trip_and_verify() {
    let (envelope, edge, cloud) = sample(b"payload".to_vec());
    let bytes = envelope.encode();
    assert_eq!(bytes.len(), ENVELOPE_BYTES_MIN + 7);
    assert_eq!(&bytes[..4], b"FCSE");
    assert_eq!(bytes[4], PROTOCOL_VERSION);
    assert_eq!(bytes[5], 1);
    assert_eq!(&bytes[6..38], edge.node_id().as_bytes());
    assert_eq!(&bytes[38..70], cloud.node_id().as_bytes());
    assert_eq!(&bytes[70..78], &42u64.to_be_bytes());
    assert_eq!(&bytes[78..82], &7u32.to_be_bytes());
    assert_eq!(&bytes[82..89], b"payload");
    // The signature covers the context and everything before it.
    let mut message = SIGNING_CONTEXT.to_vec();
    message.extend_from_slice(&bytes[..89]);
    let signature: [u8; 64] = bytes[89..].try_into().unwrap();
    assert_eq!(edge.node_id().verify(&message, &signature), Ok(()));

    let decoded = SignedEnvelope::decode(&bytes).unwrap();
    assert_eq!(decoded, envelope);
    assert_eq!(decoded.digest(), envelope.digest());
    let verified = decoded.verify(cloud.node_id()).unwrap();
    assert_eq!(verified.kind(), EnvelopeKind::SyncRequest);
    assert_eq!(verified.sender(), edge.node_id());
    assert_eq!(verified.recipient(), cloud.node_id());
    assert_eq!(verified.seq(), 42);
    assert_eq!(verified.payload(), b"payload");
    assert_eq!(verified.digest(), envelope.digest());
    assert_eq!(verified.into_payload(), b"payload".to_vec());

    // Signing is deterministic: the same envelope seals to the same bytes (a retry is
    // byte-identical, which is what duplicate detection relies on).
    let (again, _, _) = sample(b"payload".to_vec());
    assert_eq!(again.encode(), bytes);

    // An empty payload and a response.
    let response = SignedEnvelope::seal(
        &cloud,
        EnvelopeKind::SyncResponse,
        edge.node_id(),
        42,
        vec![],
    )
    .unwrap();
    let decoded = SignedEnvelope::decode(&response.encode()).unwrap();
    assert_eq!(
        decoded.verify(edge.node_id()).unwrap().kind(),
        EnvelopeKind::SyncResponse
    );
}

#[test]
fn every_decode_error() {
    let (envelope, _, _) = sample(b"abc".to_vec());
    let good = envelope.encode();
    let decode = SignedEnvelope::decode;

    assert_eq!(decode(&[]), Err(EnvelopeError::TooShort));
    assert_eq!(
        decode(&good[..ENVELOPE_BYTES_MIN - 1]),
        Err(EnvelopeError::TooShort)
    );
    let oversized = vec![0u8; ENVELOPE_BYTES_MAX + 1];
    assert_eq!(
        decode(&oversized),
        Err(EnvelopeError::TooLarge {
            len: ENVELOPE_PAYLOAD_BYTES_MAX + 1,
            max: ENVELOPE_PAYLOAD_BYTES_MAX
        })
    );

    let mut bad = good.clone();
    bad[0] = b'X';
    assert_eq!(decode(&bad), Err(EnvelopeError::BadMagic));
    let mut bad = good.clone();
    bad[4] = 2;
    assert_eq!(decode(&bad), Err(EnvelopeError::UnsupportedVersion(2)));
    for kind in [0u8, 3, 255] {
        let mut bad = good.clone();
        bad[5] = kind;
        assert_eq!(decode(&bad), Err(EnvelopeError::UnknownKind(kind)));
    }
    let mut bad = good.clone();
    bad[78..82].copy_from_slice(&(ENVELOPE_PAYLOAD_BYTES_MAX as u32 + 1).to_be_bytes());
    assert_eq!(
        decode(&bad),
        Err(EnvelopeError::TooLarge {
            len: ENVELOPE_PAYLOAD_BYTES_MAX + 1,
            max: ENVELOPE_PAYLOAD_BYTES_MAX
        })
    );
    for len in [0u32, 2, 4, 1000] {
        let mut bad = good.clone();
        bad[78..82].copy_from_slice(&len.to_be_bytes());
        assert_eq!(
            decode(&bad),
            Err(EnvelopeError::LengthMismatch),
            "len {len}"
        );
    }
    let mut bad = good.clone();
    bad.push(0);
    assert_eq!(decode(&bad), Err(EnvelopeError::LengthMismatch));
    assert_eq!(
        decode(&good[..good.len() - 1]),
        Err(EnvelopeError::LengthMismatch)
    );

    for sender in [NOT_A_POINT, WEAK_POINT] {
        let mut bad = good.clone();
        bad[6..38].copy_from_slice(&sender);
        assert_eq!(decode(&bad), Err(EnvelopeError::InvalidSender));
    }
    // A recipient that is no node id can be addressed to nobody.
    let mut bad = good.clone();
    bad[38..70].copy_from_slice(&NOT_A_POINT);
    assert_eq!(decode(&bad), Err(EnvelopeError::WrongRecipient));

    // Payloads over the limit are refused when sealing.
    let (edge, cloud) = keys();
    assert_eq!(
        SignedEnvelope::seal(
            &edge,
            EnvelopeKind::SyncRequest,
            cloud.node_id(),
            1,
            vec![0; ENVELOPE_PAYLOAD_BYTES_MAX + 1]
        ),
        Err(EnvelopeError::TooLarge {
            len: ENVELOPE_PAYLOAD_BYTES_MAX + 1,
            max: ENVELOPE_PAYLOAD_BYTES_MAX
        })
    );
    // The largest payload is accepted.
    let biggest = SignedEnvelope::seal(
        &edge,
        EnvelopeKind::SyncRequest,
        cloud.node_id(),
        1,
        vec![7; ENVELOPE_PAYLOAD_BYTES_MAX],
    )
    .unwrap();
    let bytes = biggest.encode();
    assert_eq!(bytes.len(), ENVELOPE_BYTES_MAX);
    assert!(
        SignedEnvelope::decode(&bytes)
            .unwrap()
            .verify(cloud.node_id())
            .is_ok()
    );
}

#[test]
fn every_flipped_bit_is_caught() {
    let (envelope, _, cloud) = sample(b"up and down".to_vec());
    let good = envelope.encode();
    for byte in 0..good.len() {
        for bit in 0..8 {
            let mut bad = good.clone();
            bad[byte] ^= 1 << bit;
            match SignedEnvelope::decode(&bad) {
                Err(_) => {}
                Ok(decoded) => {
                    let result = decoded.verify(cloud.node_id());
                    assert_eq!(
                        result.err(),
                        Some(EnvelopeError::BadSignature),
                        "byte {byte} bit {bit}"
                    );
                }
            }
        }
    }
}

#[test]
fn forged_fields_do_not_verify() {
    let (envelope, edge, cloud) = sample(b"x".to_vec());
    let other = NodeSecretKey::from_seed([3; 32]);
    // Another sender's id on the same signature.
    let mut forged = envelope.clone();
    forged.sender = other.node_id();
    assert_eq!(
        forged.verify(cloud.node_id()).err(),
        Some(EnvelopeError::BadSignature)
    );
    // A changed seq, kind or payload.
    let mut forged = envelope.clone();
    forged.seq += 1;
    assert_eq!(
        forged.verify(cloud.node_id()).err(),
        Some(EnvelopeError::BadSignature)
    );
    let mut forged = envelope.clone();
    forged.kind = EnvelopeKind::SyncResponse;
    assert_eq!(
        forged.verify(cloud.node_id()).err(),
        Some(EnvelopeError::BadSignature)
    );
    let mut forged = envelope.clone();
    forged.payload.push(0);
    assert_eq!(
        forged.verify(cloud.node_id()).err(),
        Some(EnvelopeError::BadSignature)
    );
    // Re-addressing a genuine envelope breaks its signature too.
    let mut forged = envelope.clone();
    forged.recipient = other.node_id();
    assert_eq!(
        forged.verify(other.node_id()).err(),
        Some(EnvelopeError::BadSignature)
    );
    // A genuine envelope for someone else.
    assert_eq!(
        envelope.clone().verify(other.node_id()).err(),
        Some(EnvelopeError::WrongRecipient)
    );
    assert_eq!(
        envelope.verify(edge.node_id()).err(),
        Some(EnvelopeError::WrongRecipient)
    );
}

#[test]
fn node_ids() {
    assert_eq!(
        NodeId::from_bytes(NOT_A_POINT),
        Err(KeyError::InvalidPublicKey)
    );
    assert_eq!(NodeId::from_bytes(WEAK_POINT), Err(KeyError::WeakPublicKey));
    // The other small-order points are refused too, e.g. the point of order 2 (y = -1).
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    assert_eq!(NodeId::from_bytes(order_two), Err(KeyError::WeakPublicKey));
    let id = NodeSecretKey::from_seed([5; 32]).node_id();
    assert_eq!(NodeId::from_bytes(*id.as_bytes()), Ok(id));
    let hex = id.to_string();
    assert!(
        hex.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(hex.parse::<NodeId>(), Ok(id));
    assert!(hex[..63].parse::<NodeId>().is_err());
    assert!(format!("{hex}0").parse::<NodeId>().is_err());
    assert!(format!("{}g", &hex[..63]).parse::<NodeId>().is_err());
    assert!("é".repeat(32).parse::<NodeId>().is_err());
    assert_eq!(
        hex::encode_like(&NOT_A_POINT).parse::<NodeId>(),
        Err(KeyError::InvalidPublicKey)
    );
    // Signatures: verify_strict refuses a signature by another key.
    let key = NodeSecretKey::from_seed([6; 32]);
    let signature = key.sign(b"m");
    assert_eq!(key.node_id().verify(b"m", &signature), Ok(()));
    assert_eq!(id.verify(b"m", &signature), Err(KeyError::BadSignature));
    // A non-canonical s (s + L) is refused.
    let mut malleable = signature;
    add_group_order(&mut malleable[32..]);
    assert_eq!(
        key.node_id().verify(b"m", &malleable),
        Err(KeyError::BadSignature)
    );
}

/// Add the group order L to a little-endian scalar (producing a non-canonical encoding).
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (byte, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*byte) + u16::from(l) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
}

/// Lower-case hex without a dependency.
mod hex {
    pub fn encode_like(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[test]
fn secret_keys() {
    let key = NodeSecretKey::from_seed([8; 32]);
    assert_eq!(format!("{key:?}"), "NodeSecretKey(<redacted>)");
    assert_eq!(key.seed_bytes(), &[8; 32]);
    let loaded = NodeSecretKey::from_bytes(key.seed_bytes()).unwrap();
    assert_eq!(loaded.node_id(), key.node_id());
    assert_eq!(loaded.sign(b"m"), key.sign(b"m"));
    for len in [0usize, 31, 33, 64] {
        assert_eq!(
            NodeSecretKey::from_bytes(&vec![1; len]).err(),
            Some(KeyError::WrongSecretKeyLength { len })
        );
    }
    // Zeroize wipes the seed.
    use zeroize::Zeroize;
    let mut key = key;
    key.zeroize();
    assert_eq!(key.seed_bytes(), &[0; 32]);
}

#[test]
fn replay_verdicts() {
    let a = [1u8; 32];
    let b = [2u8; 32];
    assert_eq!(check_replay(None, 1, &a), ReplayVerdict::New);
    assert_eq!(check_replay(None, u64::MAX, &a), ReplayVerdict::New);
    assert_eq!(check_replay(None, 0, &a), ReplayVerdict::Replayed);
    let state = ReplayState {
        last_seq: 5,
        last_digest: a,
    };
    assert_eq!(check_replay(Some(&state), 6, &b), ReplayVerdict::New);
    assert_eq!(check_replay(Some(&state), 5, &a), ReplayVerdict::Duplicate);
    assert_eq!(check_replay(Some(&state), 5, &b), ReplayVerdict::Replayed);
    assert_eq!(check_replay(Some(&state), 4, &a), ReplayVerdict::Replayed);
    assert_eq!(check_replay(Some(&state), 0, &a), ReplayVerdict::Replayed);
    let zero = ReplayState {
        last_seq: 0,
        last_digest: a,
    };
    assert_eq!(check_replay(Some(&zero), 0, &a), ReplayVerdict::Replayed);
}

#[test]
fn layout_constants() {
    assert_eq!(ENVELOPE_MAGIC, *b"FCSE");
    assert_eq!(ENVELOPE_HEADER_BYTES, 82);
    assert_eq!(ENVELOPE_BYTES_MIN, 146);
    assert_eq!(SIGNING_CONTEXT, b"farmco-sync-envelope-v1\0");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), magic in any::<bool>()) {
        let mut bytes = bytes;
        if magic && bytes.len() >= 6 {
            bytes[..4].copy_from_slice(&ENVELOPE_MAGIC);
            bytes[4] = PROTOCOL_VERSION;
            bytes[5] = 1;
        }
        if let Ok(decoded) = SignedEnvelope::decode(&bytes) {
            let me = decoded.recipient;
            prop_assert!(decoded.verify(me).is_err());
        }
    }

    #[test]
    fn mutated_envelopes_never_verify(
        payload in prop::collection::vec(any::<u8>(), 0..64),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
        truncate in any::<Option<prop::sample::Index>>(),
    ) {
        let (envelope, _, cloud) = sample(payload);
        let good = envelope.encode();
        let mut bad = good.clone();
        for (at, value) in &flips {
            let i = at.index(bad.len());
            bad[i] ^= value;
        }
        if let Some(at) = truncate {
            bad.truncate(at.index(bad.len()));
        }
        if let Ok(decoded) = SignedEnvelope::decode(&bad) {
            let result = decoded.verify(cloud.node_id());
            if bad == good {
                prop_assert!(result.is_ok());
            } else {
                prop_assert!(result.is_err());
            }
        }
    }
}
