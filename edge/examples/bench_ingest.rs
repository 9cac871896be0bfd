//! Ingest benchmark, run by `scripts/bench-ingest` (release mode) against a Mosquitto the script
//! started (`--port`). Two comparisons, each against a baseline measured in the same run:
//!
//! 1. End to end: readings/s from a QoS 1 publisher to rows committed by the node's ingest
//!    (rumqttc client, writer, SQLite with `synchronous = FULL`), next to a receive-only
//!    subscriber (rumqttc, QoS 1) on the same broker receiving the same number of messages from
//!    the same publisher. Target: ≥ 0.9×.
//! 2. SQLite: the store's batched insert (`commit_batch`, what the writer runs: registry check,
//!    `INSERT OR IGNORE`, one transaction per 10,000 rows) next to raw rusqlite prepared inserts
//!    of the same rows, same batches, same schema and pragmas. Target: ≥ 0.5×.
//!
//! `cargo run --release -p farmco-edge --example bench_ingest -- --port 1883 [--readings N]`

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use farmco_edge::config::{Config, Synchronous};
use farmco_edge::ingest::writer::{Received, prepare};
use farmco_edge::ingest::{Broker, IngestDeps, IngestService};
use farmco_edge::store::Store;
use farmco_edge::store::ingest::{BatchMessage, FarmLink, SensorRow};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};

const VILLAGE: &str = "563412";
const SENSOR: &str = "bench-1";
const TOPIC: &str = "farmco/v1/563412/bench-1/soil_moisture_vwc";
/// Rows per transaction in the SQLite comparison: the writer's default `batch_rows_max`.
const BATCH_ROWS: usize = 10_000;
/// Publisher's in-flight window (unacknowledged QoS 1 publishes).
const PUBLISH_INFLIGHT: u16 = 1_000;
/// Failure bound on every wait.
const WAIT_MAX: Duration = Duration::from_secs(600);

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (mut port, mut readings) = (None, 100_000u64);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = Some(args.next().context("--port PORT")?.parse::<u16>()?),
            "--readings" => readings = args.next().context("--readings N")?.parse()?,
            other => bail!("unknown argument {other:?}"),
        }
    }
    let port = port.context("--port PORT (a running Mosquitto) is required")?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(port, readings))
}

fn now_ms() -> i64 {
    farmco_edge::store::now_ms()
}

/// `n` compact payloads `ts,value` with timestamps from `base` (distinct keys per run).
fn payloads(base: i64, n: u64) -> Vec<String> {
    (0..n)
        .map(|i| format!("{},{}", base + i as i64, (i % 100) as f64 / 4.0))
        .collect()
}

/// Publish every payload at QoS 1 and wait for all PUBACKs.
async fn publish(port: u16, payloads: Vec<String>) -> anyhow::Result<()> {
    let mut options = MqttOptions::new(
        format!("bench-pub-{}", rand::random::<u32>()),
        "127.0.0.1",
        port,
    );
    options.set_inflight(PUBLISH_INFLIGHT);
    let (client, mut eventloop) = AsyncClient::new(options, 1_000);
    let n = payloads.len();
    let feeder = tokio::spawn(async move {
        for p in payloads {
            client.publish(TOPIC, QoS::AtLeastOnce, false, p).await?;
        }
        Ok::<_, rumqttc::ClientError>(client)
    });
    let mut acked = 0;
    while acked < n {
        match tokio::time::timeout(WAIT_MAX, eventloop.poll()).await?? {
            Event::Incoming(Packet::PubAck(_)) => acked += 1,
            Event::Outgoing(Outgoing::Disconnect) => bail!("publisher disconnected"),
            _ => {}
        }
    }
    let client = feeder.await??;
    let _ = client.disconnect().await;
    Ok(())
}

/// Baseline 1: a receive-only subscriber; returns messages/s from first publish to last receipt.
async fn subscriber_rate(port: u16, n: u64) -> anyhow::Result<f64> {
    let options = MqttOptions::new(
        format!("bench-sub-{}", rand::random::<u32>()),
        "127.0.0.1",
        port,
    );
    let (client, mut eventloop) = AsyncClient::new(options, 100);
    client.subscribe(TOPIC, QoS::AtLeastOnce).await?;
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await? {
            break;
        }
    }
    let start = Instant::now();
    let publisher = tokio::spawn(publish(port, payloads(now_ms() - 86_400_000, n)));
    let mut received = 0;
    while received < n {
        if let Event::Incoming(Packet::Publish(_)) =
            tokio::time::timeout(WAIT_MAX, eventloop.poll()).await??
        {
            received += 1;
        }
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    publisher.await??;
    let _ = client.disconnect().await;
    Ok(rate)
}

fn register_sensor(store: &Store) -> anyhow::Result<()> {
    let hash = farmco_edge::auth::hash_password("bench-sensor-password")?;
    store.write(|tx| {
        farmco_edge::store::ingest::insert_sensor(
            tx,
            &SensorRow {
                id: SENSOR.into(),
                kind: "soil_probe".into(),
                lat: None,
                lon: None,
                farm_id: None,
                farm_link: FarmLink::Auto,
                village_code: Some(VILLAGE.into()),
                created_ms: 0,
                updated_ms: 0,
            },
            &hash,
        )
    })?;
    Ok(())
}

/// The node's ingest: readings/s from first publish to the last row committed.
async fn node_rate(port: u16, n: u64) -> anyhow::Result<f64> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(dir.path().to_owned());
    config.synchronous = Synchronous::Full;
    config.ingest.broker = Broker::External {
        host: "127.0.0.1".into(),
        port,
    };
    config.ingest.client_id = format!("bench-node-{}", rand::random::<u32>());
    let store = Arc::new(Store::open(dir.path(), config.synchronous, 2)?);
    register_sensor(&store)?;
    let metrics = farmco_edge::metrics::Metrics::new();
    let service = IngestService::start(
        &config,
        IngestDeps {
            store: store.clone(),
            metrics: metrics.ingest.clone(),
            rules: Arc::new(std::sync::RwLock::new(config.alert_rules.clone())),
            hook: None,
        },
    )
    .await?;
    let mut connected = service.connected.clone();
    tokio::time::timeout(WAIT_MAX, connected.wait_for(|c| *c)).await??;
    let start = Instant::now();
    let publisher = tokio::spawn(publish(port, payloads(now_ms() - 86_400_000, n)));
    while metrics.ingest.messages.get() < n {
        if start.elapsed() > WAIT_MAX {
            bail!("only {} of {n} committed", metrics.ingest.messages.get());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    publisher.await??;
    let rows = store.readings_count()?;
    if rows != n as i64 {
        bail!("{rows} rows stored for {n} readings");
    }
    service.shutdown().await;
    Ok(rate)
}

/// Parsed batches of one reading per message, as the writer builds them.
fn batches(n: u64) -> Vec<Vec<BatchMessage>> {
    let catalog = farmco_village::ingest::catalog::MetricCatalog::with_extensions(Vec::new())
        .unwrap_or_else(|e| panic!("built-in catalog: {e}"));
    let received = now_ms();
    let messages: Vec<BatchMessage> = payloads(received - 86_400_000, n)
        .into_iter()
        .map(|p| {
            prepare(
                &Received {
                    topic: TOPIC.into(),
                    payload: p.into(),
                    received_ms: received,
                    ack: None,
                },
                &catalog,
            )
        })
        .collect();
    messages.chunks(BATCH_ROWS).map(<[_]>::to_vec).collect()
}

/// Baseline 2 and the store: rows/s of (raw rusqlite, store's commit_batch).
fn sqlite_rates(n: u64) -> anyhow::Result<(f64, f64)> {
    let batches = batches(n);
    // The store's path.
    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path(), Synchronous::Full, 1)?;
    register_sensor(&store)?;
    let start = Instant::now();
    for batch in &batches {
        store.write(|tx| farmco_edge::store::ingest::commit_batch(tx, batch))?;
    }
    let store_rate = n as f64 / start.elapsed().as_secs_f64();
    if store.readings_count()? != n as i64 {
        bail!("store lost rows");
    }
    // Raw rusqlite: same schema (a database created by the store, then closed), same pragmas.
    let raw_dir = tempfile::tempdir()?;
    drop(Store::open(raw_dir.path(), Synchronous::Full, 1)?);
    let mut conn =
        rusqlite::Connection::open(raw_dir.path().join(farmco_edge::store::DB_FILE_NAME))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let start = Instant::now();
    for batch in &batches {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT OR IGNORE INTO readings (sensor_id, metric, ts_ms, value, received_ms, flags)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for m in batch {
                let Ok((_, rows)) = &m.parsed else {
                    bail!("bench payload did not parse")
                };
                for r in rows {
                    stmt.execute(rusqlite::params![
                        r.sensor_id,
                        r.metric,
                        r.ts_ms,
                        r.value,
                        m.received_ms,
                        i64::from(r.ts_assigned)
                    ])?;
                }
            }
        }
        tx.commit()?;
    }
    let raw_rate = n as f64 / start.elapsed().as_secs_f64();
    Ok((raw_rate, store_rate))
}

async fn run(port: u16, n: u64) -> anyhow::Result<()> {
    println!("bench-ingest: {n} readings, one per QoS 1 message, Mosquitto on port {port}");
    let sub = subscriber_rate(port, n).await?;
    let node = node_rate(port, n).await?;
    let (raw, store) = tokio::task::spawn_blocking(move || sqlite_rates(n)).await??;
    println!();
    println!(
        "| {:<38} | {:>12} | {:>12} | {:>6} | {:>6} |",
        "measure (per second)", "baseline", "farmco-edge", "ratio", "target"
    );
    println!(
        "|{:-<40}|{:->14}|{:->14}|{:->8}|{:->8}|",
        "", "", "", "", ""
    );
    println!(
        "| {:<38} | {:>12.0} | {:>12.0} | {:>5.2}x | {:>6} |",
        "MQTT readings: subscriber vs node",
        sub,
        node,
        node / sub,
        ">=0.9x"
    );
    println!(
        "| {:<38} | {:>12.0} | {:>12.0} | {:>5.2}x | {:>6} |",
        "SQLite rows: raw rusqlite vs store",
        raw,
        store,
        store / raw,
        ">=0.5x"
    );
    Ok(())
}
