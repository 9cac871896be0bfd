//! The payloads inside signed envelopes: explicit, versioned wire structs (not the domain
//! types), encoded with postcard and then compressed with zstd (level [`ZSTD_LEVEL`]).
//!
//! These structs are the wire format: renaming or reordering a field changes the bytes, so
//! any change to them bumps [`WIRE_VERSION`]. The version is the first field of both messages
//! and is read (as a postcard varint) before the rest is decoded, so a peer speaking another
//! version gets [`WireError::UnsupportedVersion`] rather than a confusing decode error.
//!
//! Versions: 1 is the original; 2 adds [`Heartbeat::health`] (the edge's health and delivery
//! aggregates for the ops console). A version-1 request is still decoded (the layout of version
//! 1 is kept in [`v1`]) with `health: None`, so an edge not yet upgraded keeps syncing; the
//! cloud answers it with a response marked version 1, whose layout is unchanged.
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

/// Version of the payload structs this node writes; checked first when decoding.
pub const WIRE_VERSION: u16 = 2;
/// Oldest version still decoded: requests of edges not yet upgraded (see [`v1`]).
pub const WIRE_VERSION_MIN: u16 = 1;
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
    /// Version 2: the edge's health for the ops console; `None` from a version-1 edge.
    pub health: Option<EdgeHealth>,
}

/// Most alerts one heartbeat reports (the most recently raised or resolved first).
pub const HEALTH_ALERTS_MAX: usize = 50;
/// Most delivery aggregates one heartbeat reports (villages × channels × days).
pub const HEALTH_DELIVERY_ROWS_MAX: usize = 200;
/// Most advisory delivery rows one heartbeat reports.
pub const HEALTH_ADVISORIES_MAX: usize = 50;
/// Most sensors one heartbeat reports (those changed since the last sync; all once a day).
pub const HEALTH_SENSORS_MAX: usize = 200;

/// What the ops console shows of an edge (wire version 2). Each list is bounded by its
/// `HEALTH_*_MAX`; an edge sends what changed recently, so a receiver upserts, never replaces.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EdgeHealth {
    /// Size of the data disk, bytes (with `disk_free_bytes`: the free share).
    pub disk_total_bytes: u64,
    /// The GSM modem, when the node has one.
    pub modem: Option<ModemHealth>,
    /// The SMS outbox and the daily cap.
    pub sms: SmsHealth,
    /// Alerts of the local rules still open.
    pub open_alerts: u32,
    /// Alerts raised or resolved recently, at most [`HEALTH_ALERTS_MAX`].
    pub alerts: Vec<AlertReport>,
    /// Notification delivery per village, channel and local day, at most
    /// [`HEALTH_DELIVERY_ROWS_MAX`].
    pub delivery: Vec<DeliveryAggregate>,
    /// Cloud advisories this node received and how far they reached, at most
    /// [`HEALTH_ADVISORIES_MAX`].
    pub advisories: Vec<AdvisoryReport>,
    /// Sensors registered on the node (changed recently), at most [`HEALTH_SENSORS_MAX`].
    pub sensors: Vec<SensorReport>,
}

/// The modem as the driver last saw it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ModemHealth {
    /// The driver's state (`ready`, `initializing`, `lost`, ...).
    pub state: String,
    /// Network registration (`home`, `roaming`, `searching`, `denied`, `not_registered`,
    /// `unknown`).
    pub registration: String,
    /// `+CSQ` rssi, 0..=31.
    pub signal_rssi: Option<u8>,
    /// The same in dBm.
    pub signal_dbm: Option<i16>,
    /// The operator's name.
    pub operator: Option<String>,
}

/// SMS counters of the node's local day.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SmsHealth {
    /// Messages sent today (local day).
    pub sent_today: u32,
    /// The daily cap per SIM.
    pub daily_cap: u32,
    /// Messages waiting in the outbox (queued or sending).
    pub outbox_backlog: u32,
    /// Messages that failed for good today.
    pub failed_today: u32,
}

/// An alert raised by a local rule on the edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertReport {
    /// The alert's id on the edge (unique per node).
    pub alert_id: i64,
    /// The village of its farm, when known.
    pub village_code: Option<String>,
    /// Its farm, when the sensor is linked to one.
    pub farm_id: Option<DocIdBytes>,
    /// The sensor that raised it.
    pub sensor_id: String,
    /// The rule.
    pub rule_id: String,
    /// `dry_soil`, ...
    pub kind: String,
    /// `critical`, `warning`, ...
    pub severity: String,
    /// Human-readable text (no phone numbers).
    pub message: String,
    /// The reading that raised it.
    pub value: Option<f64>,
    /// Raised at (unix ms).
    pub raised_ms: i64,
    /// Resolved at (unix ms), while open `None`.
    pub resolved_ms: Option<i64>,
    /// Notifications routed to farmers about it.
    pub notifications: u32,
    /// Of which delivered (SMS delivered or call answered).
    pub delivered: u32,
}

/// Notification attempts of one village, channel and local day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryAggregate {
    /// The village.
    pub village_code: String,
    /// Local day, `YYYY-MM-DD`.
    pub day: String,
    /// `sms` or `voice`.
    pub channel: String,
    /// Attempts made.
    pub attempts: u32,
    /// Delivered (SMS) or answered (voice).
    pub delivered: u32,
    /// Failed, unanswered or cancelled.
    pub failed: u32,
}

/// How far a cloud advisory reached in one village.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdvisoryReport {
    /// The advisory's uuid.
    pub advisory_id: DocIdBytes,
    /// The village.
    pub village_code: String,
    /// When the node received it (unix ms).
    pub received_ms: i64,
    /// Notifications routed to farmers of the village.
    pub notifications: u32,
    /// Of which delivered.
    pub delivered: u32,
}

/// A sensor registered on the edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensorReport {
    /// Its id (the readings' `sensor_id`).
    pub sensor_id: String,
    /// `soil_moisture`, `weather_station`, ...
    pub kind: String,
    /// The farm it is linked to.
    pub farm_id: Option<DocIdBytes>,
    /// Its village.
    pub village_code: Option<String>,
    /// Position, degrees.
    pub lat: Option<f64>,
    /// Position, degrees.
    pub lon: Option<f64>,
    /// Last change of the registration (unix ms).
    pub updated_ms: i64,
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
    #[error("unsupported wire version {0} (this node speaks {WIRE_VERSION_MIN} to {WIRE_VERSION})")]
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

/// Decode a request: bounded decompression, version check, postcard. A version-1 request is
/// decoded with its own layout and returned with `wire_version: 1` and `health: None`.
pub fn decode_request(bytes: &[u8]) -> Result<SyncRequest, WireError> {
    let plain = decompress_bounded(bytes, DECOMPRESSED_BYTES_MAX)?;
    match read_version(&plain)? {
        WIRE_VERSION => parse_all::<SyncRequest>(&plain),
        1 => parse_all::<v1::SyncRequestV1>(&plain).map(SyncRequest::from),
        other => Err(WireError::UnsupportedVersion(other)),
    }
}

/// Encode a response: postcard, then zstd. Its `wire_version` must be one this node speaks
/// (the cloud answers in the version of the request; the response layout is the same in 1
/// and 2).
pub fn encode_response(r: &SyncResponse) -> Result<Vec<u8>, WireError> {
    if !(WIRE_VERSION_MIN..=WIRE_VERSION).contains(&r.wire_version) {
        return Err(WireError::Encode(format!(
            "wire version {} is not one of {WIRE_VERSION_MIN} to {WIRE_VERSION}",
            r.wire_version
        )));
    }
    encode(r)
}

/// Decode a response: bounded decompression, version check (any version this node speaks),
/// postcard.
pub fn decode_response(bytes: &[u8]) -> Result<SyncResponse, WireError> {
    let plain = decompress_bounded(bytes, DECOMPRESSED_BYTES_MAX)?;
    let version = read_version(&plain)?;
    if !(WIRE_VERSION_MIN..=WIRE_VERSION).contains(&version) {
        return Err(WireError::UnsupportedVersion(version));
    }
    parse_all::<SyncResponse>(&plain)
}

fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, WireError> {
    let plain = postcard::to_allocvec(message).map_err(|e| WireError::Encode(e.to_string()))?;
    zstd::bulk::compress(&plain, ZSTD_LEVEL).map_err(|e| WireError::Compression(e.to_string()))
}

/// The version is the first field: read it alone so another version is reported as such.
fn read_version(plain: &[u8]) -> Result<u16, WireError> {
    let (version, _) = postcard::take_from_bytes::<u16>(plain)
        .map_err(|e| WireError::Decode(format!("wire version: {e}")))?;
    Ok(version)
}

fn parse_all<T: for<'de> Deserialize<'de>>(plain: &[u8]) -> Result<T, WireError> {
    let (message, rest) =
        postcard::take_from_bytes::<T>(plain).map_err(|e| WireError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(message)
}

/// The version-1 request layout, kept so the cloud still understands edges that have not been
/// upgraded (and so tests can speak as one). Never change these structs.
pub mod v1 {
    use serde::{Deserialize, Serialize};

    use super::{AntiEntropyRequest, DocSyncMessage, ReadingsBatch, UpChange, WireError};

    /// [`super::SyncRequest`] as version 1 wrote it.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct SyncRequestV1 {
        /// Always 1.
        pub wire_version: u16,
        /// The version-1 heartbeat.
        pub heartbeat: HeartbeatV1,
        /// As in version 2.
        pub up: Vec<UpChange>,
        /// As in version 2.
        pub readings: Option<ReadingsBatch>,
        /// As in version 2.
        pub down_cursor: u64,
        /// As in version 2.
        pub advisory_cursor: u64,
        /// As in version 2.
        pub down_budget_bytes: u32,
        /// As in version 2.
        pub anti_entropy: Option<AntiEntropyRequest>,
        /// As in version 2.
        pub doc_sync: Vec<DocSyncMessage>,
    }

    /// [`super::Heartbeat`] without `health`.
    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub struct HeartbeatV1 {
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
        /// The edge's clock (unix ms).
        pub clock_ms: i64,
        /// Further health values.
        pub extra: Vec<(String, String)>,
    }

    /// Encode a version-1 request (what an edge not yet upgraded sends).
    pub fn encode_request_v1(r: &SyncRequestV1) -> Result<Vec<u8>, WireError> {
        super::encode(r)
    }
}

impl From<v1::SyncRequestV1> for SyncRequest {
    fn from(r: v1::SyncRequestV1) -> SyncRequest {
        let h = r.heartbeat;
        SyncRequest {
            wire_version: r.wire_version,
            heartbeat: Heartbeat {
                software_version: h.software_version,
                change_backlog: h.change_backlog,
                readings_backlog: h.readings_backlog,
                disk_free_bytes: h.disk_free_bytes,
                last_sync_ms: h.last_sync_ms,
                clock_ms: h.clock_ms,
                extra: h.extra,
                health: None,
            },
            up: r.up,
            readings: r.readings,
            down_cursor: r.down_cursor,
            advisory_cursor: r.advisory_cursor,
            down_budget_bytes: r.down_budget_bytes,
            anti_entropy: r.anti_entropy,
            doc_sync: r.doc_sync,
        }
    }
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
