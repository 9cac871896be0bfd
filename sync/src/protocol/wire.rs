//! The payloads inside signed envelopes: explicit, versioned wire structs (not the domain
//! types), encoded with postcard and then compressed with zstd (level [`ZSTD_LEVEL`]).
//!
//! These structs are the wire format: renaming or reordering a field changes the bytes, so
//! any change to them bumps [`WIRE_VERSION`]. The version is the first field of both messages
//! and is read (as a postcard varint) before the rest is decoded, so a peer speaking another
//! version gets [`WireError::UnsupportedVersion`] rather than a confusing decode error.
//!
//! Decoding untrusted bytes is bounded: decompression stops past [`DECOMPRESSED_BYTES_MAX`]
//! (a zstd bomb is refused without allocating more than the limit), postcard never allocates
//! more than its input justifies, and trailing bytes are refused. What the fields *mean*
//! (cursors, budgets, scope) is checked by the edge and the cloud.
//!
//! Sizes: [`up_change_size`] and [`down_change_size`] are the postcard size of one item, the
//! unit the byte budget is counted in (before compression, so the budget is conservative).

use std::io::Read;

use serde::{Deserialize, Serialize};

/// Version of the payload structs; checked first when decoding.
pub const WIRE_VERSION: u16 = 1;
/// Most bytes a payload may decompress to. A request carries at most one oversized change
/// (4 MiB) plus budgeted batches; 64 MiB refuses bombs while leaving room for the largest
/// anti-entropy messages (a whole saved document, at most 16 MiB).
pub const DECOMPRESSED_BYTES_MAX: usize = 64 * 1024 * 1024;
/// zstd level: the default, fast on an edge node's ARM core and ~3x on postcard payloads.
pub const ZSTD_LEVEL: i32 = 3;
/// Size of the chunks decompression proceeds in.
const DECOMPRESS_CHUNK_BYTES: usize = 64 * 1024;

/// A document id on the wire: the uuid's 16 bytes.
pub type DocIdBytes = [u8; 16];

/// Edge → cloud, one per round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// [`WIRE_VERSION`].
    pub wire_version: u16,
    /// The edge's health, sent every round.
    pub heartbeat: Heartbeat,
    /// The edge's own changes after the cloud's `up_acked`, in `local_seq` order, cut to the
    /// budget (at least one if any).
    pub up: Vec<UpChange>,
    /// Sensor readings after `readings_acked`, in the budget left after `up`.
    pub readings: Option<ReadingsBatch>,
    /// The edge has applied every cloud log entry up to and including this cursor.
    pub down_cursor: u64,
    /// The edge has every advisory up to and including this sequence number.
    pub advisory_cursor: u64,
    /// Byte budget for the response's `down` batch.
    pub down_budget_bytes: u32,
    /// One page of document digests, when the edge runs anti-entropy.
    pub anti_entropy: Option<AntiEntropyRequest>,
    /// automerge sync messages for documents being repaired.
    pub doc_sync: Vec<DocSyncMessage>,
}

/// The edge's health report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The edge's software version.
    pub software_version: String,
    /// Local changes not yet acknowledged.
    pub change_backlog: u64,
    /// Readings not yet acknowledged.
    pub readings_backlog: u64,
    /// Free bytes on the data disk.
    pub disk_free_bytes: u64,
    /// When the last round succeeded (unix ms), if ever.
    pub last_sync_ms: Option<i64>,
    /// The edge's clock (unix ms), so the cloud can spot a drifting clock.
    pub clock_ms: i64,
    /// Further health values (modem signal, temperatures), added without a version bump.
    pub extra: Vec<(String, String)>,
}

/// One entry of the edge's change log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpChange {
    /// The entry's sequence number in the edge's change log.
    pub local_seq: u64,
    /// The farmer document it belongs to.
    pub doc_id: DocIdBytes,
    /// The automerge change bytes.
    pub bytes: Vec<u8>,
}

/// Readings with ids in `from_id..=to_id` of the edge's readings table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReadingsBatch {
    /// First row id in the batch.
    pub from_id: i64,
    /// Last row id in the batch; the cloud acknowledges it as `readings_acked`.
    pub to_id: i64,
    /// The rows, encoded by `readings::encode_readings`.
    pub data: Vec<u8>,
}

/// Cloud → edge, the answer to one request (same envelope `seq`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// [`WIRE_VERSION`].
    pub wire_version: u16,
    /// Highest `local_seq` of this edge the cloud has durably applied (monotonic).
    pub up_acked: u64,
    /// Highest reading id stored.
    pub readings_acked: i64,
    /// Changes from elsewhere for documents in the edge's scope.
    pub down: DownBatch,
    /// Advisories for the edge's villages after its advisory cursor.
    pub advisories: Vec<AdvisoryWire>,
    /// The edge's new advisory cursor.
    pub advisory_cursor: u64,
    /// Changes of this request the cloud refused (and quarantined).
    pub rejected: Vec<Rejection>,
    /// The answer to the request's anti-entropy page.
    pub anti_entropy: Option<AntiEntropyResponse>,
    /// Replies to the request's `doc_sync` messages (none for a document already in sync).
    pub doc_sync: Vec<DocSyncMessage>,
}

/// A slice of the cloud's change log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownBatch {
    /// Log entries after the request's `down_cursor`, in cursor order.
    pub changes: Vec<DownChange>,
    /// The edge's cursor once it has applied this batch (covers entries skipped because
    /// they came from this edge or are out of its scope).
    pub next_cursor: u64,
    /// More entries wait after `next_cursor`: ask again right away.
    pub more: bool,
}

/// One entry of the cloud's change log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownChange {
    /// The entry's position in the cloud's global log.
    pub cursor: u64,
    /// The farmer document it belongs to.
    pub doc_id: DocIdBytes,
    /// The automerge change bytes.
    pub bytes: Vec<u8>,
}

/// A mandi price or weather notice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryWire {
    /// The advisory's uuid.
    pub id: DocIdBytes,
    /// Its position in the advisory sequence.
    pub seq: u64,
    /// Villages it applies to.
    pub village_codes: Vec<String>,
    /// `mandi_price`, `weather`, ...
    pub kind: String,
    /// Short title.
    pub title: String,
    /// The body, JSON text.
    pub body_json: String,
    /// Valid from (unix ms).
    pub valid_from_ms: i64,
    /// Valid until (unix ms), if it expires.
    pub valid_until_ms: Option<i64>,
    /// Created at (unix ms).
    pub created_ms: i64,
}

/// A change the cloud refused.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rejection {
    /// The change's `local_seq`.
    pub local_seq: u64,
    /// Its document.
    pub doc_id: DocIdBytes,
    /// Why (for the operator; not parsed).
    pub reason: String,
}

/// One page of the edge's document digests, in ascending `doc_id` order.
///
/// The page covers ids after `after_doc` (from the start if `None`) up to and including the
/// last listed id, or to the end when `complete` (the edge has no documents after the page).
/// See `heads::compare_anti_entropy_page`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AntiEntropyRequest {
    /// Every edge document in the page's range, ascending, at most
    /// `plan::ANTI_ENTROPY_DOCS_PER_PAGE`.
    pub docs: Vec<DocDigest>,
    /// The page starts after this id.
    pub after_doc: Option<DocIdBytes>,
    /// This is the last page: the range extends to the end.
    pub complete: bool,
}

/// A document and the digest of its heads (`heads::heads_digest`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocDigest {
    /// The document.
    pub doc_id: DocIdBytes,
    /// SHA-256 over its sorted heads.
    pub heads_digest: [u8; 32],
}

/// The cloud's answer to an anti-entropy page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AntiEntropyResponse {
    /// Listed docs whose digest differs, plus cloud docs in scope within the page's range
    /// that the edge did not list (it lacks them); ascending.
    pub differing: Vec<DocIdBytes>,
}

/// An automerge sync message for one document (`heads::doc_sync_step`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocSyncMessage {
    /// The document.
    pub doc_id: DocIdBytes,
    /// automerge `sync::Message` bytes.
    pub message: Vec<u8>,
}

/// Why a payload could not be encoded or decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// postcard could not serialize the message (should not happen for these types).
    #[error("cannot encode payload: {0}")]
    Encode(String),
    /// zstd could not compress (should not happen) or decompress (corrupt input).
    #[error("cannot decompress payload: {0}")]
    Compression(String),
    /// The payload decompresses to more than [`DECOMPRESSED_BYTES_MAX`].
    #[error("payload decompresses to more than {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A wire version this node does not speak.
    #[error("unsupported wire version {0} (this node speaks {WIRE_VERSION})")]
    UnsupportedVersion(u16),
    /// The decompressed bytes are not a valid message.
    #[error("malformed payload: {0}")]
    Decode(String),
    /// Bytes left over after the message.
    #[error("malformed payload: {0} bytes after the end of the message")]
    TrailingBytes(usize),
}

/// Encode a request: postcard, then zstd.
pub fn encode_request(r: &SyncRequest) -> Result<Vec<u8>, WireError> {
    encode(r)
}

/// Decode a request: bounded decompression, version check, postcard.
pub fn decode_request(bytes: &[u8]) -> Result<SyncRequest, WireError> {
    decode(bytes)
}

/// Encode a response: postcard, then zstd.
pub fn encode_response(r: &SyncResponse) -> Result<Vec<u8>, WireError> {
    encode(r)
}

/// Decode a response: bounded decompression, version check, postcard.
pub fn decode_response(bytes: &[u8]) -> Result<SyncResponse, WireError> {
    decode(bytes)
}

fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let plain = postcard::to_allocvec(message).map_err(|e| WireError::Encode(e.to_string()))?;
    zstd::bulk::compress(&plain, ZSTD_LEVEL).map_err(|e| WireError::Compression(e.to_string()))
}

fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, WireError> {
    let plain = decompress_bounded(bytes, DECOMPRESSED_BYTES_MAX)?;
    // The version is the first field: read it alone so another version is reported as such.
    let (version, _) = postcard::take_from_bytes::<u16>(&plain)
        .map_err(|e| WireError::Decode(format!("wire version: {e}")))?;
    if version != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion(version));
    }
    let (message, rest) =
        postcard::take_from_bytes::<T>(&plain).map_err(|e| WireError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(message)
}

/// Decompress zstd `bytes` (one or more frames), refusing output beyond `max` bytes. Memory
/// stays within `max` plus one chunk, whatever the frame header claims.
pub fn decompress_bounded(bytes: &[u8], max: usize) -> Result<Vec<u8>, WireError> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(bytes)
        .map_err(|e| WireError::Compression(e.to_string()))?;
    let mut out = Vec::new();
    let mut chunk = vec![0u8; DECOMPRESS_CHUNK_BYTES];
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(WireError::Compression(e.to_string())),
        };
        if n == 0 {
            return Ok(out);
        }
        if out.len().saturating_add(n) > max {
            return Err(WireError::TooLarge { max });
        }
        out.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Length in bytes of `value` as a postcard varint.
pub(crate) fn varint_len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.max(1).div_ceil(7)
}

/// Postcard size of an [`UpChange`]: what it counts against the batch budget.
pub fn up_change_size(c: &UpChange) -> usize {
    varint_len(c.local_seq) + c.doc_id.len() + varint_len(c.bytes.len() as u64) + c.bytes.len()
}

/// Postcard size of a [`DownChange`]: what it counts against the batch budget.
pub fn down_change_size(c: &DownChange) -> usize {
    varint_len(c.cursor) + c.doc_id.len() + varint_len(c.bytes.len() as u64) + c.bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_postcard() {
        for len in [0usize, 1, 127, 128, 16_383, 16_384, 70_000] {
            for seq in [0u64, 1, 127, 128, u64::MAX] {
                let up = UpChange {
                    local_seq: seq,
                    doc_id: [3; 16],
                    bytes: vec![1; len],
                };
                assert_eq!(
                    up_change_size(&up),
                    postcard::to_allocvec(&up).unwrap().len()
                );
                let down = DownChange {
                    cursor: seq,
                    doc_id: [4; 16],
                    bytes: vec![2; len],
                };
                assert_eq!(
                    down_change_size(&down),
                    postcard::to_allocvec(&down).unwrap().len()
                );
            }
        }
    }
}
