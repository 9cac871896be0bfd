//! Wire payloads: request and response round trips with arbitrary contents (property tests),
//! garbage, zstd bombs (a small input that decompresses past the limit), other versions,
//! trailing bytes, and the budget sizes matching postcard.

use farmco_sync::protocol::wire::decompress_bounded;
use farmco_sync::protocol::wire::v1::{HeartbeatV1, SyncRequestV1, encode_request_v1};
use farmco_sync::protocol::{
    AdvisoryReport, AdvisoryWire, AlertReport, AntiEntropyRequest, AntiEntropyResponse,
    DECOMPRESSED_BYTES_MAX, DeliveryAggregate, DocDigest, DocSyncMessage, DownBatch, DownChange,
    EdgeHealth, Heartbeat, ModemHealth, ReadingsBatch, Rejection, SensorReport, SmsHealth,
    SyncRequest, SyncResponse, UpChange, WIRE_VERSION, WIRE_VERSION_MIN, WireError, decode_request,
    decode_response, down_change_size, encode_request, encode_response, up_change_size,
};
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn text() -> impl Strategy<Value = String> {
    ".{0,12}"
}

fn heartbeat() -> impl Strategy<Value = Heartbeat> {
    (
        text(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        any::<Option<i64>>(),
        any::<i64>(),
        prop::collection::vec((text(), text()), 0..3),
        prop::option::of(health()),
    )
        .prop_map(
            |(
                software_version,
                change_backlog,
                readings_backlog,
                disk_free_bytes,
                last_sync_ms,
                clock_ms,
                extra,
                health,
            )| {
                Heartbeat {
                    software_version,
                    change_backlog,
                    readings_backlog,
                    disk_free_bytes,
                    last_sync_ms,
                    clock_ms,
                    extra,
                    health,
                }
            },
        )
}

fn health() -> impl Strategy<Value = EdgeHealth> {
    (
        any::<u64>(),
        prop::option::of(
            (
                text(),
                text(),
                any::<Option<u8>>(),
                any::<Option<i16>>(),
                prop::option::of(text()),
            )
                .prop_map(
                    |(state, registration, signal_rssi, signal_dbm, operator)| ModemHealth {
                        state,
                        registration,
                        signal_rssi,
                        signal_dbm,
                        operator,
                    },
                ),
        ),
        any::<(u32, u32, u32, u32, u32)>(),
        prop::collection::vec(
            (
                any::<i64>(),
                prop::option::of(text()),
                any::<Option<[u8; 16]>>(),
                text(),
                any::<Option<i64>>(),
                any::<(u32, u32)>(),
            )
                .prop_map(
                    |(
                        alert_id,
                        village_code,
                        farm_id,
                        kind,
                        resolved_ms,
                        (notifications, delivered),
                    )| AlertReport {
                        alert_id,
                        village_code,
                        farm_id,
                        sensor_id: "s1".into(),
                        rule_id: "r1".into(),
                        kind,
                        severity: "warning".into(),
                        message: "dry soil".into(),
                        value: Some(12.5),
                        raised_ms: 1_700_000_000_000,
                        resolved_ms,
                        notifications,
                        delivered,
                    },
                ),
            0..3,
        ),
        prop::collection::vec(
            (text(), text(), any::<(u32, u32, u32)>()).prop_map(
                |(village_code, channel, (attempts, delivered, failed))| DeliveryAggregate {
                    village_code,
                    day: "2026-01-14".into(),
                    channel,
                    attempts,
                    delivered,
                    failed,
                },
            ),
            0..3,
        ),
        prop::collection::vec(
            (any::<[u8; 16]>(), text(), any::<i64>(), any::<(u32, u32)>()).prop_map(
                |(advisory_id, village_code, received_ms, (notifications, delivered))| {
                    AdvisoryReport {
                        advisory_id,
                        village_code,
                        received_ms,
                        notifications,
                        delivered,
                    }
                },
            ),
            0..3,
        ),
        prop::collection::vec(
            (text(), any::<Option<[u8; 16]>>(), any::<Option<f64>>()).prop_map(
                |(sensor_id, farm_id, lat)| SensorReport {
                    sensor_id,
                    kind: "soil_moisture".into(),
                    farm_id,
                    village_code: Some("563412".into()),
                    lat,
                    lon: None,
                    updated_ms: 1,
                },
            ),
            0..3,
        ),
    )
        .prop_map(
            |(
                disk_total_bytes,
                modem,
                (sent_today, daily_cap, outbox_backlog, failed_today, open_alerts),
                alerts,
                delivery,
                advisories,
                sensors,
            )| {
                EdgeHealth {
                    disk_total_bytes,
                    modem,
                    sms: SmsHealth {
                        sent_today,
                        daily_cap,
                        outbox_backlog,
                        failed_today,
                    },
                    open_alerts,
                    alerts,
                    delivery,
                    advisories,
                    sensors,
                }
            },
        )
}

fn doc_sync() -> impl Strategy<Value = Vec<DocSyncMessage>> {
    prop::collection::vec(
        (any::<[u8; 16]>(), bytes(40))
            .prop_map(|(doc_id, message)| DocSyncMessage { doc_id, message }),
        0..3,
    )
}

fn request() -> impl Strategy<Value = SyncRequest> {
    (
        heartbeat(),
        prop::collection::vec(
            (any::<u64>(), any::<[u8; 16]>(), bytes(64)).prop_map(|(local_seq, doc_id, bytes)| {
                UpChange {
                    local_seq,
                    doc_id,
                    bytes,
                }
            }),
            0..4,
        ),
        prop::option::of((any::<i64>(), any::<i64>(), bytes(64)).prop_map(
            |(from_id, to_id, data)| ReadingsBatch {
                from_id,
                to_id,
                data,
            },
        )),
        any::<(u64, u64, u32)>(),
        prop::option::of(
            (
                prop::collection::vec(
                    (any::<[u8; 16]>(), any::<[u8; 32]>()).prop_map(|(doc_id, heads_digest)| {
                        DocDigest {
                            doc_id,
                            heads_digest,
                        }
                    }),
                    0..4,
                ),
                any::<Option<[u8; 16]>>(),
                any::<bool>(),
            )
                .prop_map(|(docs, after_doc, complete)| AntiEntropyRequest {
                    docs,
                    after_doc,
                    complete,
                }),
        ),
        doc_sync(),
    )
        .prop_map(
            |(
                heartbeat,
                up,
                readings,
                (down_cursor, advisory_cursor, down_budget_bytes),
                anti_entropy,
                doc_sync,
            )| {
                SyncRequest {
                    wire_version: WIRE_VERSION,
                    heartbeat,
                    up,
                    readings,
                    down_cursor,
                    advisory_cursor,
                    down_budget_bytes,
                    anti_entropy,
                    doc_sync,
                }
            },
        )
}

fn advisory() -> impl Strategy<Value = AdvisoryWire> {
    (
        any::<[u8; 16]>(),
        any::<u64>(),
        prop::collection::vec(text(), 0..3),
        (text(), text(), text()),
        any::<(i64, Option<i64>, i64)>(),
    )
        .prop_map(
            |(
                id,
                seq,
                village_codes,
                (kind, title, body_json),
                (valid_from_ms, valid_until_ms, created_ms),
            )| {
                AdvisoryWire {
                    id,
                    seq,
                    village_codes,
                    kind,
                    title,
                    body_json,
                    valid_from_ms,
                    valid_until_ms,
                    created_ms,
                }
            },
        )
}

fn response() -> impl Strategy<Value = SyncResponse> {
    (
        any::<(u64, i64, u64)>(),
        (
            prop::collection::vec(
                (any::<u64>(), any::<[u8; 16]>(), bytes(64)).prop_map(|(cursor, doc_id, bytes)| {
                    DownChange {
                        cursor,
                        doc_id,
                        bytes,
                    }
                }),
                0..4,
            ),
            any::<u64>(),
            any::<bool>(),
        )
            .prop_map(|(changes, next_cursor, more)| DownBatch {
                changes,
                next_cursor,
                more,
            }),
        prop::collection::vec(advisory(), 0..3),
        prop::collection::vec(
            (any::<u64>(), any::<[u8; 16]>(), text()).prop_map(|(local_seq, doc_id, reason)| {
                Rejection {
                    local_seq,
                    doc_id,
                    reason,
                }
            }),
            0..3,
        ),
        prop::option::of(
            prop::collection::vec(any::<[u8; 16]>(), 0..4)
                .prop_map(|differing| AntiEntropyResponse { differing }),
        ),
        doc_sync(),
    )
        .prop_map(
            |(
                (up_acked, readings_acked, advisory_cursor),
                down,
                advisories,
                rejected,
                anti_entropy,
                doc_sync,
            )| {
                SyncResponse {
                    wire_version: WIRE_VERSION,
                    up_acked,
                    readings_acked,
                    down,
                    advisories,
                    advisory_cursor,
                    rejected,
                    anti_entropy,
                    doc_sync,
                }
            },
        )
}

fn minimal_request() -> SyncRequest {
    SyncRequest {
        wire_version: WIRE_VERSION,
        heartbeat: Heartbeat {
            software_version: "0.1.0".into(),
            change_backlog: 0,
            readings_backlog: 0,
            disk_free_bytes: 1 << 30,
            last_sync_ms: None,
            clock_ms: 1_700_000_000_000,
            extra: vec![],
            health: None,
        },
        up: vec![],
        readings: None,
        down_cursor: 0,
        advisory_cursor: 0,
        down_budget_bytes: 32 * 1024,
        anti_entropy: None,
        doc_sync: vec![],
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip(r in request()) {
        let bytes = encode_request(&r).unwrap();
        prop_assert_eq!(decode_request(&bytes).unwrap(), r.clone());
        for c in &r.up {
            prop_assert_eq!(up_change_size(c), postcard::to_allocvec(c).unwrap().len());
        }
        // A request is not a response.
        prop_assert!(decode_response(&bytes).is_err());
    }

    #[test]
    fn responses_round_trip(r in response()) {
        let bytes = encode_response(&r).unwrap();
        prop_assert_eq!(decode_response(&bytes).unwrap(), r.clone());
        for c in &r.down.changes {
            prop_assert_eq!(down_change_size(c), postcard::to_allocvec(c).unwrap().len());
        }
    }

    #[test]
    fn garbage_is_an_error(bytes in bytes(300), compress in any::<bool>()) {
        let input = if compress { zstd::bulk::compress(&bytes, 3).unwrap() } else { bytes };
        // Either outcome is possible for compressed random postcard; a panic is not.
        let _ = decode_request(&input);
        let _ = decode_response(&input);
    }

    #[test]
    fn mutated_payloads_never_panic(
        r in request(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4),
    ) {
        let mut bytes = encode_request(&r).unwrap();
        for (at, value) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= value;
        }
        let _ = decode_request(&bytes);
        // The same mutations on the decompressed postcard bytes.
        let mut plain = postcard::to_allocvec(&r).unwrap();
        for (at, value) in &flips {
            let i = at.index(plain.len());
            plain[i] ^= value;
        }
        let _ = decode_request(&zstd::bulk::compress(&plain, 3).unwrap());
    }
}

#[test]
fn zstd_bombs_are_refused() {
    // 64 MiB + 1 of zeros compresses to a few kilobytes.
    let bomb = zstd::bulk::compress(&vec![0u8; DECOMPRESSED_BYTES_MAX + 1], 3).unwrap();
    assert!(bomb.len() < 8 * 1024, "bomb is {} bytes", bomb.len());
    assert_eq!(
        decode_request(&bomb),
        Err(WireError::TooLarge {
            max: DECOMPRESSED_BYTES_MAX
        })
    );
    assert!(matches!(
        decode_response(&bomb),
        Err(WireError::TooLarge { .. })
    ));
    // Many small frames concatenated count together.
    let frame = zstd::bulk::compress(&vec![0u8; 1024 * 1024], 3).unwrap();
    let frames: Vec<u8> = frame.repeat(65);
    assert!(matches!(
        decode_request(&frames),
        Err(WireError::TooLarge { .. })
    ));
    // The limit is exact.
    let small = zstd::bulk::compress(&[1u8; 100], 3).unwrap();
    assert_eq!(decompress_bounded(&small, 100).unwrap(), vec![1u8; 100]);
    assert_eq!(
        decompress_bounded(&small, 99),
        Err(WireError::TooLarge { max: 99 })
    );
}

#[test]
fn malformed_payloads() {
    let good = encode_request(&minimal_request()).unwrap();
    // Not zstd.
    assert!(matches!(
        decode_request(b"hello"),
        Err(WireError::Compression(_))
    ));
    // A truncated frame.
    assert!(decode_request(&good[..good.len() - 1]).is_err());
    // Nothing inside.
    let empty = zstd::bulk::compress(&[], 3).unwrap();
    assert!(matches!(decode_request(&empty), Err(WireError::Decode(_))));
    // Another version, reported as such (older than the oldest spoken, or newer).
    for version in [0, WIRE_VERSION + 1] {
        let mut other = minimal_request();
        other.wire_version = version;
        assert_eq!(
            decode_request(&encode_request(&other).unwrap()),
            Err(WireError::UnsupportedVersion(version))
        );
    }
    // Trailing bytes after a valid message.
    let mut plain = postcard::to_allocvec(&minimal_request()).unwrap();
    plain.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode_request(&zstd::bulk::compress(&plain, 3).unwrap()),
        Err(WireError::TrailingBytes(2))
    );
    // Truncated postcard.
    let plain = postcard::to_allocvec(&minimal_request()).unwrap();
    let cut = zstd::bulk::compress(&plain[..plain.len() - 1], 3).unwrap();
    assert!(matches!(decode_request(&cut), Err(WireError::Decode(_))));
    // A declared length far beyond the input does not allocate it (postcard reads what
    // is there and then fails).
    let mut huge = vec![2u8]; // wire_version 2
    // The heartbeat: empty version, zero backlogs and disk, no last sync, clock 0, no extra,
    // no health.
    huge.extend_from_slice(&[0; 8]);
    huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]); // up: 4 billion entries
    assert!(matches!(
        decode_request(&zstd::bulk::compress(&huge, 3).unwrap()),
        Err(WireError::Decode(_))
    ));
}

#[test]
fn compression_is_real() {
    let mut r = minimal_request();
    r.up = (0..50)
        .map(|i| UpChange {
            local_seq: i,
            doc_id: [7; 16],
            bytes: b"the same automerge change text, again and again".to_vec(),
        })
        .collect();
    let plain = postcard::to_allocvec(&r).unwrap().len();
    let wire = encode_request(&r).unwrap().len();
    assert!(wire * 5 < plain, "{wire} vs {plain}");
}

/// What an edge that was not upgraded sends: a version-1 request, whose heartbeat has no
/// health. It decodes, with `health: None` and the version it came with.
fn v1_request() -> SyncRequestV1 {
    SyncRequestV1 {
        wire_version: 1,
        heartbeat: HeartbeatV1 {
            software_version: "0.0.9".into(),
            change_backlog: 3,
            readings_backlog: 7,
            disk_free_bytes: 1 << 30,
            last_sync_ms: Some(1_699_999_000_000),
            clock_ms: 1_700_000_000_000,
            extra: vec![("uptime_s".into(), "42".into())],
        },
        up: vec![UpChange {
            local_seq: 9,
            doc_id: [5; 16],
            bytes: b"change".to_vec(),
        }],
        readings: None,
        down_cursor: 11,
        advisory_cursor: 2,
        down_budget_bytes: 4096,
        anti_entropy: None,
        doc_sync: vec![],
    }
}

#[test]
fn version_1_requests_still_decode() {
    assert_eq!(WIRE_VERSION_MIN, 1);
    let old = v1_request();
    let decoded = decode_request(&encode_request_v1(&old).unwrap()).unwrap();
    assert_eq!(decoded.wire_version, 1);
    assert_eq!(decoded.heartbeat.health, None);
    assert_eq!(decoded.heartbeat.change_backlog, 3);
    assert_eq!(decoded.heartbeat.readings_backlog, 7);
    assert_eq!(decoded.heartbeat.extra, old.heartbeat.extra);
    assert_eq!(decoded.up, old.up);
    assert_eq!(decoded.down_cursor, 11);
    assert_eq!(decoded.advisory_cursor, 2);
    // The same bytes read as version 2 would be garbage: the layouts differ.
    let mut relabelled = postcard::to_allocvec(&old).unwrap();
    relabelled[0] = 2;
    assert!(decode_request(&zstd::bulk::compress(&relabelled, 3).unwrap()).is_err());
}

#[test]
fn responses_carry_the_request_version() {
    // The cloud answers an old edge in version 1; the layout is the same, so both decode.
    for version in [WIRE_VERSION_MIN, WIRE_VERSION] {
        let mut r = SyncResponse {
            wire_version: version,
            up_acked: 4,
            readings_acked: 0,
            down: DownBatch {
                changes: vec![],
                next_cursor: 0,
                more: false,
            },
            advisories: vec![],
            advisory_cursor: 0,
            rejected: vec![],
            anti_entropy: None,
            doc_sync: vec![],
        };
        let decoded = decode_response(&encode_response(&r).unwrap()).unwrap();
        assert_eq!(decoded, r);
        r.wire_version = WIRE_VERSION + 1;
        assert!(matches!(encode_response(&r), Err(WireError::Encode(_))));
    }
}

#[test]
fn version_2_heartbeats_carry_health() {
    let mut r = minimal_request();
    r.heartbeat.health = Some(EdgeHealth {
        disk_total_bytes: 32 << 30,
        modem: Some(ModemHealth {
            state: "ready".into(),
            registration: "home".into(),
            signal_rssi: Some(17),
            signal_dbm: Some(-79),
            operator: Some("BSNL".into()),
        }),
        sms: SmsHealth {
            sent_today: 12,
            daily_cap: 100,
            outbox_backlog: 3,
            failed_today: 1,
        },
        open_alerts: 2,
        ..EdgeHealth::default()
    });
    let decoded = decode_request(&encode_request(&r).unwrap()).unwrap();
    assert_eq!(decoded, r);
    assert_eq!(decoded.wire_version, 2);
}
