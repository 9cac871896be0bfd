//! The edge ⇄ cloud sync protocol (docs/sync-protocol.md), as pure functions and types: no
//! sockets, no clock, no randomness; the edge and the cloud own the I/O and call these.
//!
//! - [`keys`]: node identity (ed25519 seed → [`NodeSecretKey`], public key = [`NodeId`]).
//! - [`envelope`]: the signed binary envelope, decode → verify → [`VerifiedEnvelope`], and
//!   replay verdicts.
//! - [`wire`]: the versioned payload structs (postcard + zstd) with bounded decoding.
//! - [`readings`]: the compact, exact sensor readings codec.
//! - [`plan`]: byte budgets and batch limits.
//! - [`heads`]: heads digests and automerge's per-document sync for anti-entropy.
//! - [`enroll`]: the enrollment proof of key possession and key fingerprints.
//!
//! Invariants: decoding untrusted bytes never panics and never allocates past a named limit;
//! nothing here is trusted before [`SignedEnvelope::verify`]; every step is idempotent so
//! retries over a dropping 2G link are safe.

pub mod enroll;
pub mod envelope;
pub mod heads;
pub mod keys;
pub mod plan;
pub mod readings;
pub mod wire;

pub use envelope::{
    ENVELOPE_MAGIC, ENVELOPE_PAYLOAD_BYTES_MAX, EnvelopeError, EnvelopeKind, PROTOCOL_VERSION,
    ReplayState, ReplayVerdict, SIGNING_CONTEXT, SignedEnvelope, VerifiedEnvelope, check_replay,
};
pub use heads::{compare_anti_entropy_page, doc_sync_step, heads_digest};
pub use keys::{KeyError, NodeId, NodeSecretKey};
pub use plan::{
    ANTI_ENTROPY_DOCS_PER_PAGE, BATCH_BUDGET_BYTES_DEFAULT, DOWN_CHANGES_PER_BATCH_MAX,
    take_within_budget,
};
pub use readings::{
    READINGS_PER_BATCH_MAX, Reading, ReadingsError, decode_readings, encode_readings,
};
pub use wire::{
    AdvisoryReport, AdvisoryWire, AlertReport, AntiEntropyRequest, AntiEntropyResponse,
    DECOMPRESSED_BYTES_MAX, DeliveryAggregate, DocDigest, DocIdBytes, DocSyncMessage, DownBatch,
    DownChange, EdgeHealth, Heartbeat, ModemHealth, ReadingsBatch, Rejection, SensorReport,
    SmsHealth, SyncRequest, SyncResponse, UpChange, WIRE_VERSION, WIRE_VERSION_MIN, WireError,
    decode_request, decode_response, down_change_size, encode_request, encode_response,
    up_change_size,
};
