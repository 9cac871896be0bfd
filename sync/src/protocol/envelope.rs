//! The signed envelope: the only thing that crosses the wire between an edge and the cloud.
//!
//! Binary layout, big-endian (docs/sync-protocol.md, "Signed envelope"):
//!
//! ```text
//! magic 4 "FCSE" | version 1 | kind 1 | sender 32 | recipient 32 | seq 8 | len 4 | payload len
//! | signature 64 = ed25519(SIGNING_CONTEXT || every byte before the signature)
//! ```
//!
//! Untrusted bytes go through two types: [`SignedEnvelope::decode`] checks the length first,
//! then parses (never panics, never allocates more than the input), and yields a
//! [`SignedEnvelope`] that has **not** been verified; only [`SignedEnvelope::verify`] turns it
//! into a [`VerifiedEnvelope`], after `verify_strict` and a recipient check. Replay protection
//! ([`check_replay`]) is a pure function over the receiver's stored [`ReplayState`].
//!
//! Limits: [`ENVELOPE_PAYLOAD_BYTES_MAX`] (8 MiB: one oversized automerge change of at most
//! 4 MiB, `doc::MAX_CHANGE_BYTES`, plus everything else in a request), so a whole envelope is
//! at most [`ENVELOPE_BYTES_MAX`].

use sha2::{Digest, Sha256};

use super::keys::{KeyError, NODE_ID_BYTES, NodeId, NodeSecretKey, SIGNATURE_BYTES};

/// First four bytes of every envelope.
pub const ENVELOPE_MAGIC: [u8; 4] = *b"FCSE";
/// Version of the envelope layout.
pub const PROTOCOL_VERSION: u8 = 1;
/// Largest payload: one oversized automerge change (at most 4 MiB) plus framing and the rest
/// of a request; bounds what a receiver buffers before checking a signature.
pub const ENVELOPE_PAYLOAD_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Domain separation: signatures over envelopes cannot be replayed as signatures of anything
/// else this key signs, and a v2 layout will use a new context.
pub const SIGNING_CONTEXT: &[u8] = b"farmco-sync-envelope-v1\0";
/// Bytes before the payload: magic, version, kind, sender, recipient, seq, len.
pub const ENVELOPE_HEADER_BYTES: usize = 4 + 1 + 1 + NODE_ID_BYTES + NODE_ID_BYTES + 8 + 4;
/// Smallest envelope: a header, an empty payload and a signature.
pub const ENVELOPE_BYTES_MIN: usize = ENVELOPE_HEADER_BYTES + SIGNATURE_BYTES;
/// Largest envelope: a header, the largest payload and a signature.
pub const ENVELOPE_BYTES_MAX: usize = ENVELOPE_BYTES_MIN + ENVELOPE_PAYLOAD_BYTES_MAX;

/// Offsets of the header fields.
const OFFSET_VERSION: usize = 4;
const OFFSET_KIND: usize = 5;
const OFFSET_SENDER: usize = 6;
const OFFSET_RECIPIENT: usize = OFFSET_SENDER + NODE_ID_BYTES;
const OFFSET_SEQ: usize = OFFSET_RECIPIENT + NODE_ID_BYTES;
const OFFSET_LEN: usize = OFFSET_SEQ + 8;

/// What an envelope carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvelopeKind {
    /// Edge → cloud: a `wire::SyncRequest`.
    SyncRequest = 1,
    /// Cloud → edge: a `wire::SyncResponse`, echoing the request's `seq`.
    SyncResponse = 2,
}

impl EnvelopeKind {
    /// The byte on the wire.
    pub fn as_byte(self) -> u8 {
        self as u8
    }

    /// The kind for a byte on the wire.
    pub fn from_byte(byte: u8) -> Result<EnvelopeKind, EnvelopeError> {
        match byte {
            1 => Ok(EnvelopeKind::SyncRequest),
            2 => Ok(EnvelopeKind::SyncResponse),
            other => Err(EnvelopeError::UnknownKind(other)),
        }
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Fewer bytes than the smallest possible envelope.
    #[error("envelope too short: fewer than {ENVELOPE_BYTES_MIN} bytes")]
    TooShort,
    /// The payload (declared, given or implied by the input length) exceeds the limit.
    #[error("envelope payload of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Payload length in bytes.
        len: usize,
        /// The limit, [`ENVELOPE_PAYLOAD_BYTES_MAX`].
        max: usize,
    },
    /// The first four bytes are not [`ENVELOPE_MAGIC`].
    #[error("not a FarmCo sync envelope (bad magic)")]
    BadMagic,
    /// An envelope layout version this node does not speak.
    #[error("unsupported envelope version {0} (this node speaks {PROTOCOL_VERSION})")]
    UnsupportedVersion(u8),
    /// A kind byte that is neither a request nor a response.
    #[error("unknown envelope kind {0}")]
    UnknownKind(u8),
    /// The declared payload length does not match the number of bytes.
    #[error("envelope length field does not match its size")]
    LengthMismatch,
    /// The sender field is not a valid (non-weak) ed25519 public key.
    #[error("envelope sender is not a valid node id")]
    InvalidSender,
    /// The signature does not verify under the sender's key.
    #[error("envelope signature does not verify")]
    BadSignature,
    /// The envelope is addressed to another node (or to bytes that are no node id at all).
    #[error("envelope is addressed to another node")]
    WrongRecipient,
}

/// An envelope as sent or as received, **not yet verified** when it came from
/// [`SignedEnvelope::decode`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEnvelope {
    /// What the payload is.
    pub kind: EnvelopeKind,
    /// Who signed it (claims to, until verified).
    pub sender: NodeId,
    /// Whom it is for.
    pub recipient: NodeId,
    /// Strictly increasing per (sender, recipient) for requests; a response echoes its
    /// request's seq. Starts at 1 (0 is never accepted, see [`check_replay`]).
    pub seq: u64,
    /// The encoded `wire` message.
    pub payload: Vec<u8>,
    /// ed25519 over [`SIGNING_CONTEXT`] and every byte before the signature.
    pub signature: [u8; SIGNATURE_BYTES],
}

/// The header of an envelope, as encoded.
fn header(
    kind: EnvelopeKind,
    sender: &NodeId,
    recipient: &NodeId,
    seq: u64,
    payload_len: u32,
) -> [u8; ENVELOPE_HEADER_BYTES] {
    let mut out = [0u8; ENVELOPE_HEADER_BYTES];
    out[..OFFSET_VERSION].copy_from_slice(&ENVELOPE_MAGIC);
    out[OFFSET_VERSION] = PROTOCOL_VERSION;
    out[OFFSET_KIND] = kind.as_byte();
    out[OFFSET_SENDER..OFFSET_RECIPIENT].copy_from_slice(sender.as_bytes());
    out[OFFSET_RECIPIENT..OFFSET_SEQ].copy_from_slice(recipient.as_bytes());
    out[OFFSET_SEQ..OFFSET_LEN].copy_from_slice(&seq.to_be_bytes());
    out[OFFSET_LEN..].copy_from_slice(&payload_len.to_be_bytes());
    out
}

/// The bytes the signature covers: the context, the header and the payload.
fn signed_message(header: &[u8; ENVELOPE_HEADER_BYTES], payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(SIGNING_CONTEXT.len() + header.len() + payload.len());
    message.extend_from_slice(SIGNING_CONTEXT);
    message.extend_from_slice(header);
    message.extend_from_slice(payload);
    message
}

/// A payload length that fits the limit, as the u32 of the length field.
fn checked_payload_len(len: usize) -> Result<u32, EnvelopeError> {
    let too_large = EnvelopeError::TooLarge {
        len,
        max: ENVELOPE_PAYLOAD_BYTES_MAX,
    };
    if len > ENVELOPE_PAYLOAD_BYTES_MAX {
        return Err(too_large);
    }
    u32::try_from(len).map_err(|_| too_large)
}

impl SignedEnvelope {
    /// Sign `payload` as `key`'s node, for `recipient`.
    pub fn seal(
        key: &NodeSecretKey,
        kind: EnvelopeKind,
        recipient: NodeId,
        seq: u64,
        payload: Vec<u8>,
    ) -> Result<SignedEnvelope, EnvelopeError> {
        let len = checked_payload_len(payload.len())?;
        let sender = key.node_id();
        let header = header(kind, &sender, &recipient, seq, len);
        let signature = key.sign(&signed_message(&header, &payload));
        Ok(SignedEnvelope {
            kind,
            sender,
            recipient,
            seq,
            payload,
            signature,
        })
    }

    /// The envelope's bytes. An envelope built by hand with a payload over the limit encodes
    /// a length field that [`Self::decode`] refuses (`seal` and `decode` never make one).
    pub fn encode(&self) -> Vec<u8> {
        let len = u32::try_from(self.payload.len()).unwrap_or(u32::MAX);
        let header = header(self.kind, &self.sender, &self.recipient, self.seq, len);
        let mut out =
            Vec::with_capacity(ENVELOPE_HEADER_BYTES + self.payload.len() + SIGNATURE_BYTES);
        out.extend_from_slice(&header);
        out.extend_from_slice(&self.payload);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parse untrusted bytes: the total length is checked before anything else, then each
    /// field. Does **not** verify the signature (see [`Self::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<SignedEnvelope, EnvelopeError> {
        if bytes.len() < ENVELOPE_BYTES_MIN {
            return Err(EnvelopeError::TooShort);
        }
        if bytes.len() > ENVELOPE_BYTES_MAX {
            return Err(EnvelopeError::TooLarge {
                len: bytes.len() - ENVELOPE_BYTES_MIN,
                max: ENVELOPE_PAYLOAD_BYTES_MAX,
            });
        }
        // From here on every slice below is within `ENVELOPE_BYTES_MIN <= bytes.len()`.
        let (header, rest) = bytes.split_at(ENVELOPE_HEADER_BYTES);
        if header[..OFFSET_VERSION] != ENVELOPE_MAGIC {
            return Err(EnvelopeError::BadMagic);
        }
        if header[OFFSET_VERSION] != PROTOCOL_VERSION {
            return Err(EnvelopeError::UnsupportedVersion(header[OFFSET_VERSION]));
        }
        let kind = EnvelopeKind::from_byte(header[OFFSET_KIND])?;
        let len = u32::from_be_bytes(read_array(header, OFFSET_LEN));
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if len > ENVELOPE_PAYLOAD_BYTES_MAX {
            return Err(EnvelopeError::TooLarge {
                len,
                max: ENVELOPE_PAYLOAD_BYTES_MAX,
            });
        }
        if rest.len() != len + SIGNATURE_BYTES {
            return Err(EnvelopeError::LengthMismatch);
        }
        let sender = NodeId::from_bytes(read_array(header, OFFSET_SENDER))
            .map_err(|_| EnvelopeError::InvalidSender)?;
        // Bytes that are no valid node id cannot be addressed to anyone.
        let recipient = NodeId::from_bytes(read_array(header, OFFSET_RECIPIENT))
            .map_err(|_| EnvelopeError::WrongRecipient)?;
        let seq = u64::from_be_bytes(read_array(header, OFFSET_SEQ));
        let (payload, signature) = rest.split_at(len);
        Ok(SignedEnvelope {
            kind,
            sender,
            recipient,
            seq,
            payload: payload.to_vec(),
            signature: read_array(signature, 0),
        })
    }

    /// SHA-256 of [`Self::encode`]: what replay protection compares.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// Check the signature (`verify_strict`, by `sender`), then that `recipient == me`.
    /// The signature is checked first so a tampered envelope always reports `BadSignature`.
    /// Whether the sender is known, enrolled and not revoked is the caller's check.
    pub fn verify(self, me: NodeId) -> Result<VerifiedEnvelope, EnvelopeError> {
        let len = checked_payload_len(self.payload.len())?;
        let header = header(self.kind, &self.sender, &self.recipient, self.seq, len);
        self.sender
            .verify(&signed_message(&header, &self.payload), &self.signature)
            .map_err(|e| match e {
                KeyError::BadSignature => EnvelopeError::BadSignature,
                _ => EnvelopeError::InvalidSender,
            })?;
        if self.recipient != me {
            return Err(EnvelopeError::WrongRecipient);
        }
        let digest = self.digest();
        Ok(VerifiedEnvelope {
            envelope: self,
            digest,
        })
    }
}

/// `N` bytes of `bytes` at `offset`, zero-padded if the slice is short (callers check
/// lengths first; padding instead of panicking keeps a mistake harmless).
fn read_array<const N: usize>(bytes: &[u8], offset: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(source) = bytes.get(offset..offset.saturating_add(N)) {
        out.copy_from_slice(source);
    }
    out
}

/// An envelope whose signature verified and that is addressed to this node.
#[derive(Clone, Debug)]
pub struct VerifiedEnvelope {
    envelope: SignedEnvelope,
    digest: [u8; 32],
}

impl VerifiedEnvelope {
    /// What the payload is.
    pub fn kind(&self) -> EnvelopeKind {
        self.envelope.kind
    }

    /// The node that signed it.
    pub fn sender(&self) -> NodeId {
        self.envelope.sender
    }

    /// This node.
    pub fn recipient(&self) -> NodeId {
        self.envelope.recipient
    }

    /// The sequence number, for [`check_replay`].
    pub fn seq(&self) -> u64 {
        self.envelope.seq
    }

    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.envelope.payload
    }

    /// SHA-256 of the envelope's bytes, for [`check_replay`].
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The payload, consuming the envelope.
    pub fn into_payload(self) -> Vec<u8> {
        self.envelope.payload
    }

    /// The envelope as it was received (for storing or forwarding).
    pub fn envelope(&self) -> &SignedEnvelope {
        &self.envelope
    }
}

/// What a receiver remembers per sender: the last accepted `seq` and the digest of that
/// envelope (alongside, in its own storage, the response it sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayState {
    /// The last accepted sequence number.
    pub last_seq: u64,
    /// SHA-256 of the last accepted envelope.
    pub last_digest: [u8; 32],
}

/// What to do with a verified envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// A new envelope: process it, then store its seq and digest.
    New,
    /// The last accepted envelope again (a retry): answer the stored response, apply nothing.
    Duplicate,
    /// An old, reused or invalid sequence number: reject.
    Replayed,
}

/// Classify `seq`/`digest` against the receiver's state for this sender (`None` if it has
/// never accepted one). Sequence 0 is never valid, so a fresh sender starts at 1.
pub fn check_replay(state: Option<&ReplayState>, seq: u64, digest: &[u8; 32]) -> ReplayVerdict {
    if seq == 0 {
        return ReplayVerdict::Replayed;
    }
    match state {
        None => ReplayVerdict::New,
        Some(state) if seq > state.last_seq => ReplayVerdict::New,
        Some(state) if seq == state.last_seq && &state.last_digest == digest => {
            ReplayVerdict::Duplicate
        }
        Some(_) => ReplayVerdict::Replayed,
    }
}
