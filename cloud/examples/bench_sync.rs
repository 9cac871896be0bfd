//! `scripts/bench-sync`: the sync protocol's costs, each next to its baseline in the same run.
//!
//! (a) bytes on the wire for 100 edits spread over 100 farmers, vs. automerge's own
//!     per-document sync protocol (with warm sync states) on the same edits;
//! (b) first sync of a 1,000-farmer village, vs. the size of the compressed saved documents;
//! (c) readings: bytes per reading on the wire, vs. zstd of the same readings as CSV;
//! (d) cloud ingest rows/s through the sync endpoint (SyncService, in-process, real
//!     PostgreSQL), vs. a plain binary COPY of the same number of rows.
//!
//! Run: `scripts/bench-sync` (release build; needs PostgreSQL + PostGIS for (d)).

#![allow(clippy::unwrap_used)] // a benchmark fails loudly by design

use std::time::Instant;

use automerge::sync::SyncDoc;
use farmco_sync::doc::{CommitMeta, FarmerDoc, FarmerPatch};
use farmco_sync::protocol::envelope::{EnvelopeKind, SignedEnvelope};
use farmco_sync::protocol::keys::NodeSecretKey;
use farmco_sync::protocol::plan::{BATCH_BUDGET_BYTES_DEFAULT, take_within_budget};
use farmco_sync::protocol::readings::{Reading, encode_readings};
use farmco_sync::protocol::wire::{
    self, DownBatch, DownChange, Heartbeat, ReadingsBatch, SyncRequest, SyncResponse, UpChange,
    WIRE_VERSION,
};
use farmco_sync::{
    Boundary, Consents, Farm, FarmId, Farmer, FarmerId, Language, PersonName, PhoneNumber,
    SoilParameters, SoilTest, SoilTestId, VillageCode,
};

fn heartbeat() -> Heartbeat {
    Heartbeat {
        software_version: "0.1.0".into(),
        change_backlog: 0,
        readings_backlog: 0,
        disk_free_bytes: 1 << 34,
        last_sync_ms: Some(1_764_000_000_000),
        clock_ms: 1_764_000_000_000,
        extra: Vec::new(),
        health: None,
    }
}

fn request(up: Vec<UpChange>, readings: Option<ReadingsBatch>) -> SyncRequest {
    SyncRequest {
        wire_version: WIRE_VERSION,
        heartbeat: heartbeat(),
        up,
        readings,
        down_cursor: 0,
        advisory_cursor: 0,
        down_budget_bytes: BATCH_BUDGET_BYTES_DEFAULT as u32,
        anti_entropy: None,
        doc_sync: Vec::new(),
    }
}

fn response(changes: Vec<DownChange>, more: bool) -> SyncResponse {
    SyncResponse {
        wire_version: WIRE_VERSION,
        up_acked: 0,
        readings_acked: 0,
        down: DownBatch {
            next_cursor: changes.last().map(|c| c.cursor).unwrap_or(0),
            changes,
            more,
        },
        advisories: Vec::new(),
        advisory_cursor: 0,
        rejected: Vec::new(),
        anti_entropy: None,
        doc_sync: Vec::new(),
    }
}

fn seal(
    key: &NodeSecretKey,
    to: &NodeSecretKey,
    kind: EnvelopeKind,
    seq: u64,
    payload: Vec<u8>,
) -> usize {
    SignedEnvelope::seal(key, kind, to.node_id(), seq, payload)
        .unwrap()
        .encode()
        .len()
}

/// 1,000-ish realistic farmers: profile, one farm, one soil test (three commits each).
fn village(n: usize, actor: &[u8]) -> Vec<(FarmerDoc, Vec<Vec<u8>>)> {
    let village = VillageCode::parse("v", "563412").unwrap();
    (0..n)
        .map(|i| {
            let meta = CommitMeta { author: "agent-ravi".into(), time_ms: 1_764_000_000_000 + i as i64 * 60_000 };
            let farmer = Farmer {
                id: FarmerId(uuid::Uuid::from_u128(0x1000_0000 + i as u128)),
                name: PersonName::parse("n", &format!("Farmer Number {i}")).unwrap(),
                phone: PhoneNumber::parse("p", &format!("98{:08}", 10_000_000 + i)).unwrap(),
                language: Language::Mr,
                village_code: village,
                consents: Consents { sms: true, voice: i % 2 == 0, data_sharing: false },
            };
            let (mut doc, c1) = FarmerDoc::create(actor, &farmer, &meta).unwrap();
            let (lat, lon) = (18.9 + (i / 40) as f64 * 0.002, 74.3 + (i % 40) as f64 * 0.002);
            let d = 0.001;
            let boundary = Boundary::from_geojson(
                "b",
                &serde_json::json!({"type": "Polygon", "coordinates": [[
                    [lon, lat], [lon + d, lat], [lon + d, lat + d * 0.9], [lon + d * 0.1, lat + d], [lon, lat]
                ]]}),
            )
            .unwrap();
            let farm = Farm {
                id: FarmId(uuid::Uuid::from_u128(0x2000_0000 + i as u128)),
                farmer_id: farmer.id,
                survey_number: format!("{}/{}", 100 + i, i % 7),
                declared_area_ha: 1.1,
                boundary,
                crops: Vec::new(),
            };
            let c2 = doc.add_farm(&farm, &meta).unwrap();
            let test = SoilTest {
                id: SoilTestId(uuid::Uuid::from_u128(0x3000_0000 + i as u128)),
                farm_id: farm.id,
                sampled_on: time::macros::date!(2025 - 04 - 12),
                lab: "STL Ahilyanagar".into(),
                parameters: SoilParameters::from_pairs(
                    "p",
                    [("ph", 7.8), ("ec", 0.42), ("oc", 0.51), ("n", 210.0), ("p", 14.5), ("k", 320.0)]
                        .map(|(k, v)| (k.to_owned(), v)),
                )
                .unwrap(),
            };
            let c3 = doc.add_soil_test(&test, &meta).unwrap();
            (doc, vec![c1.bytes, c2.bytes, c3.bytes])
        })
        .collect()
}

fn bench_edits(edge: &NodeSecretKey, cloud: &NodeSecretKey) -> (usize, usize) {
    let mut docs = village(100, b"edge-a-actor-000");
    // Baseline replicas with warm automerge sync states.
    let mut pairs: Vec<(
        automerge::Automerge,
        automerge::Automerge,
        automerge::sync::State,
        automerge::sync::State,
    )> = docs
        .iter_mut()
        .map(|(doc, _)| {
            let saved = doc.save();
            let a = automerge::Automerge::load(&saved).unwrap();
            let b = automerge::Automerge::load(&saved).unwrap();
            let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
            sync_pair(&a, &b, &mut sa, &mut sb, &mut 0);
            (a, b, sa, sb)
        })
        .collect();
    // 100 edits, one per farmer: one form each (one commit).
    let mut up = Vec::new();
    for (i, (doc, _)) in docs.iter_mut().enumerate() {
        let patch = FarmerPatch {
            name: None,
            phone: Some(PhoneNumber::parse("p", &format!("97{:08}", 20_000_000 + i)).unwrap()),
            language: Some(Language::Hi),
            village_code: None,
            consents: None,
        };
        let meta = CommitMeta {
            author: "agent-sita".into(),
            time_ms: 1_764_100_000_000,
        };
        let change = doc.update_farmer(&patch, &meta).unwrap().unwrap();
        pairs[i]
            .0
            .apply_changes([automerge::Change::try_from(change.bytes.as_slice()).unwrap()])
            .unwrap();
        up.push(UpChange {
            local_seq: 300 + i as u64,
            doc_id: [i as u8; 16],
            bytes: change.bytes,
        });
    }
    let mut automerge_bytes = 0;
    for (a, b, sa, sb) in &mut pairs {
        sync_pair(a, b, sa, sb, &mut automerge_bytes);
    }
    let req = wire::encode_request(&request(up, None)).unwrap();
    let resp = wire::encode_response(&response(Vec::new(), false)).unwrap();
    let ours = seal(edge, cloud, EnvelopeKind::SyncRequest, 2, req)
        + seal(cloud, edge, EnvelopeKind::SyncResponse, 2, resp);
    (ours, automerge_bytes)
}

fn sync_pair(
    a: &automerge::Automerge,
    b: &automerge::Automerge,
    sa: &mut automerge::sync::State,
    sb: &mut automerge::sync::State,
    bytes: &mut usize,
) {
    // automerge::Automerge's receive needs &mut; clone-free loop via interior copies.
    let mut a = a.clone();
    let mut b = b.clone();
    for _ in 0..10 {
        let m1 = a.generate_sync_message(sa);
        if let Some(m) = m1.clone() {
            let enc = m.encode();
            *bytes += enc.len();
            b.receive_sync_message(sb, automerge::sync::Message::decode(&enc).unwrap())
                .unwrap();
        }
        let m2 = b.generate_sync_message(sb);
        if let Some(m) = m2.clone() {
            let enc = m.encode();
            *bytes += enc.len();
            a.receive_sync_message(sa, automerge::sync::Message::decode(&enc).unwrap())
                .unwrap();
        }
        if m1.is_none() && m2.is_none() {
            break;
        }
    }
}

fn bench_first_sync(edge: &NodeSecretKey, cloud: &NodeSecretKey) -> (usize, usize, usize, usize) {
    let mut docs = village(1_000, b"cloud-actor-0000");
    let mut saved_total = 0;
    let mut saved_concat = Vec::new();
    let mut down = Vec::new();
    let mut cursor = 0;
    for (i, (doc, changes)) in docs.iter_mut().enumerate() {
        let saved = doc.save();
        saved_total += saved.len();
        saved_concat.extend_from_slice(&saved);
        for bytes in changes.drain(..) {
            cursor += 1;
            down.push(DownChange {
                cursor,
                doc_id: *uuid::Uuid::from_u128(i as u128).as_bytes(),
                bytes,
            });
        }
    }
    let saved_zstd = zstd::bulk::compress(&saved_concat, 3).unwrap().len();
    let mut wire_bytes = 0;
    let mut batches = 0;
    let mut rest = down;
    while !rest.is_empty() {
        let batch = take_within_budget(
            rest.clone(),
            wire::down_change_size,
            BATCH_BUDGET_BYTES_DEFAULT,
        );
        rest.drain(..batch.len());
        batches += 1;
        let req = wire::encode_request(&request(Vec::new(), None)).unwrap();
        let resp = wire::encode_response(&response(batch, !rest.is_empty())).unwrap();
        wire_bytes += seal(edge, cloud, EnvelopeKind::SyncRequest, batches, req)
            + seal(cloud, edge, EnvelopeKind::SyncResponse, batches, resp);
    }
    (wire_bytes, saved_total, saved_zstd, batches as usize)
}

fn generate_readings(sensors: usize, minutes: i64) -> Vec<Reading> {
    let metrics = [
        ("soil_moisture_vwc", 23.4, 0.1, 1),
        ("soil_temp_c", 24.5, 0.05, 2),
        ("air_temp_c", 28.75, 0.25, 2),
        ("humidity_pct", 61.0, 1.0, 0),
        ("rainfall_mm", 0.0, 0.2, 1),
        ("leaf_wetness_pct", 12.0, 1.0, 0),
        ("battery_v", 3.71, 0.01, 2),
    ];
    let mut out = Vec::new();
    let start = 1_764_000_000_000i64;
    for s in 0..sensors {
        for (m, base, step, decimals) in metrics {
            let mut v: f64 = base;
            for t in 0..minutes {
                // A smooth random walk, rounded like the firmware rounds.
                let wiggle = ((s as f64 * 7.0 + t as f64 * 0.37).sin() * step).max(-base);
                v = (v + wiggle).max(0.0);
                let scale = 10f64.powi(decimals);
                out.push(Reading {
                    sensor_id: format!("probe-{s:03}"),
                    metric: m.to_owned(),
                    ts_ms: start + t * 60_000,
                    value: (v * scale).round() / scale,
                });
            }
        }
    }
    out
}

fn bench_readings(edge: &NodeSecretKey, cloud: &NodeSecretKey) -> (f64, f64, usize) {
    let readings = generate_readings(100, 60);
    let mut wire_bytes = 0;
    for (i, chunk) in readings.chunks(10_000).enumerate() {
        let data = encode_readings(chunk).unwrap();
        let req = wire::encode_request(&request(
            Vec::new(),
            Some(ReadingsBatch {
                from_id: 1,
                to_id: chunk.len() as i64,
                data,
            }),
        ))
        .unwrap();
        wire_bytes += seal(edge, cloud, EnvelopeKind::SyncRequest, i as u64 + 1, req);
    }
    let mut csv = String::new();
    for r in &readings {
        csv.push_str(&format!(
            "{},{},{},{}\n",
            r.sensor_id, r.metric, r.ts_ms, r.value
        ));
    }
    let csv_zstd = zstd::bulk::compress(csv.as_bytes(), 3).unwrap().len();
    (
        wire_bytes as f64 / readings.len() as f64,
        csv_zstd as f64 / readings.len() as f64,
        readings.len(),
    )
}

async fn bench_ingest() -> anyhow::Result<(f64, f64, usize)> {
    use farmco_cloud::store::Store;
    let admin = std::env::var("FARMCO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("farmco_bench_{:08x}", rand::random::<u32>());
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin.clone());
    let url = format!("{base}/{name}");
    let db = farmco_cloud::config::DatabaseConfig {
        url: url.clone(),
        pool_size: 4,
        connect_timeout: std::time::Duration::from_secs(10),
    };
    let cloud_key = NodeSecretKey::from_seed(rand::random());
    let store = std::sync::Arc::new(Store::open(&db, cloud_key.node_id().as_bytes()).await?);
    let edge_key = NodeSecretKey::from_seed(rand::random());
    let token = store
        .create_enrollment_token(
            &["563412".into()],
            std::time::Duration::from_secs(600),
            "bench",
        )
        .await?;
    store
        .enroll(
            &token,
            *edge_key.node_id().as_bytes(),
            "bench-edge",
            "0.1.0",
        )
        .await?;
    let service = farmco_cloud::sync_service::SyncService::new(
        store.clone(),
        NodeSecretKey::from_seed(*cloud_key.seed_bytes()),
        BATCH_BUDGET_BYTES_DEFAULT,
    );
    let readings = generate_readings(100, 300); // 210,000 readings
    let total = readings.len();
    // Through the sync endpoint: batches of 10,000 readings, each a signed request.
    let mut envelopes = Vec::new();
    let mut to_id = 0i64;
    for (i, chunk) in readings.chunks(10_000).enumerate() {
        let from_id = to_id + 1;
        to_id += chunk.len() as i64;
        let data = encode_readings(chunk)?;
        let mut req = request(
            Vec::new(),
            Some(ReadingsBatch {
                from_id,
                to_id,
                data,
            }),
        );
        req.down_cursor = 0;
        let payload = wire::encode_request(&req)?;
        envelopes.push(
            SignedEnvelope::seal(
                &edge_key,
                EnvelopeKind::SyncRequest,
                cloud_key.node_id(),
                i as u64 + 1,
                payload,
            )?
            .encode(),
        );
    }
    let started = Instant::now();
    for env in &envelopes {
        service
            .handle(env, None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let through_sync = total as f64 / started.elapsed().as_secs_f64();
    // Baseline: plain binary COPY of the same number of rows (other sensor ids, same shape).
    let rows: Vec<(String, String, i64, f64)> = readings
        .iter()
        .map(|r| {
            (
                format!("base-{}", r.sensor_id),
                r.metric.clone(),
                r.ts_ms,
                r.value,
            )
        })
        .collect();
    let started = Instant::now();
    for chunk in rows.chunks(10_000) {
        store.insert_readings_plain_copy(None, chunk).await?;
    }
    let plain = total as f64 / started.elapsed().as_secs_f64();
    store.close();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    Ok((through_sync, plain, total))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let edge = NodeSecretKey::from_seed([7; 32]);
    let cloud = NodeSecretKey::from_seed([9; 32]);
    println!("| measurement | ours | baseline | ratio | target |");
    println!("|---|---|---|---|---|");
    let (ours, am) = bench_edits(&edge, &cloud);
    println!(
        "| (a) 100 edits over 100 farmers, bytes on the wire | {ours} | {am} (automerge per-document sync) | {:.3} | ≤ 0.2 |",
        ours as f64 / am as f64
    );
    let (wire_bytes, saved, saved_zstd, batches) = bench_first_sync(&edge, &cloud);
    println!(
        "| (b) first sync of 1,000 farmers, bytes ({batches} batches) | {wire_bytes} | {saved} (saved docs; zstd of all: {saved_zstd}) | {:.3} | ≤ 1.1 |",
        wire_bytes as f64 / saved as f64
    );
    let (per_reading, csv_per_reading, n) = bench_readings(&edge, &cloud);
    println!(
        "| (c) readings, bytes per reading ({n} readings) | {per_reading:.2} | {csv_per_reading:.2} (zstd CSV) | {:.3} | ≤ 4 B and ≤ 0.5 |",
        per_reading / csv_per_reading
    );
    match bench_ingest().await {
        Ok((sync_rate, copy_rate, n)) => println!(
            "| (d) cloud ingest, rows/s ({n} rows) | {sync_rate:.0} | {copy_rate:.0} (plain binary COPY) | {:.3} | ≥ 0.7 |",
            sync_rate / copy_rate
        ),
        Err(e) => println!("| (d) cloud ingest | failed: {e:#} | | | |"),
    }
    Ok(())
}
