//! Crash test of the MQTT ingest with real processes: a Mosquitto started here (persistence on,
//! unlimited in-flight and queued messages, as docs/ingest.md asks of a production broker), the
//! real `farmco-edge` binary subscribed to it with its persistent session, and a publisher
//! (rumqttc, QoS 1) that records which readings the broker acknowledged. The node is killed
//! with SIGKILL at random moments and restarted, `FARMCO_CRASH_KILLS` times (default 20). At the
//! end the node runs until it drained its session: every acknowledged reading is in its SQLite.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use farmco_e2e::{Edge, Server, call, login, spawn_server};
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS};
use serde_json::json;

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const VILLAGE: &str = "563412";
const SENSOR: &str = "probe-1";
const TOPIC: &str = "farmco/v1/563412/probe-1/soil_moisture_vwc";
/// Kills in the normal suite; `FARMCO_CRASH_KILLS` asks for more.
const KILLS_DEFAULT: usize = 20;
/// Readings the publisher sends per tick, and the tick: about 2,000 readings/s, so every kill
/// lands while messages are queued, in flight or in an uncommitted batch.
const PUBLISH_BURST: u64 = 20;
const PUBLISH_TICK: Duration = Duration::from_millis(10);
/// Upper bound on each wait below (a failure bound, not a timing assert).
const WAIT_MAX: Duration = Duration::from_secs(120);

/// A Mosquitto with persistence on a free port; killed on drop.
struct Mosquitto {
    child: Child,
    port: u16,
}

impl Mosquitto {
    fn start(dir: &Path) -> Mosquitto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\n\
                 persistence true\npersistence_location {}/\n\
                 max_inflight_messages 0\nmax_queued_messages 0\n\
                 log_dest stderr\nlog_type error\n",
                dir.display()
            ),
        )
        .unwrap();
        let mut child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("mosquitto is installed (scripts/setup)");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Mosquitto { child, port };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("mosquitto did not start on port {port}");
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_node(edge: &Edge, broker: &str) -> Server {
    spawn_server(
        "farmco-edge",
        &[
            "run",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            edge.data_dir(),
        ],
        &[("FARMCO_EDGE_MQTT_BROKER", broker)],
    )
}

/// The timestamps of the sensor's stored readings, read from the node's database (read-only,
/// next to the running node: WAL readers do not block it).
fn stored(edge: &Edge) -> HashSet<i64> {
    let db = edge.dir.path().join("farmco-edge.db");
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut stmt = conn
        .prepare("SELECT ts_ms FROM readings WHERE sensor_id = ?1 AND metric = 'soil_moisture_vwc'")
        .unwrap();
    stmt.query_map([SENSOR], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Timestamp of reading `i`: within the last day, so no retention or future check applies.
fn ts(base: i64, i: u64) -> i64 {
    base + i as i64
}

/// Publishes readings 0, 1, 2, … at QoS 1 until `stop`, then waits for the outstanding acks.
/// Returns (readings published, readings whose PUBACK came from the broker).
async fn publish(port: u16, base: i64, stop: Arc<AtomicBool>) -> (u64, HashSet<u64>) {
    let mut options = MqttOptions::new("crash-publisher", "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(30));
    let (client, mut eventloop) = AsyncClient::new(options, 1_000);
    let published = Arc::new(AtomicU64::new(0));
    let feeder = {
        let published = published.clone();
        tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::SeqCst) {
                for _ in 0..PUBLISH_BURST {
                    let payload = format!("{},{}", ts(base, i), (i % 100) as f64 / 4.0);
                    client
                        .publish(TOPIC, QoS::AtLeastOnce, false, payload)
                        .await
                        .unwrap();
                    i += 1;
                    published.store(i, Ordering::SeqCst);
                }
                tokio::time::sleep(PUBLISH_TICK).await;
            }
            client
        })
    };
    // The event loop sends publishes in the order they were requested: the n-th outgoing
    // publish is reading n, and its packet id names it until the broker's PUBACK.
    let mut next_sent = 0u64;
    let mut by_pkid: HashMap<u16, u64> = HashMap::new();
    let mut acked = HashSet::new();
    let mut feeder = Some(feeder);
    let mut client = None;
    loop {
        if let Some(f) = feeder.take_if(|f| f.is_finished()) {
            client = Some(f.await.unwrap());
        }
        if client.is_some() && acked.len() as u64 == published.load(Ordering::SeqCst) {
            break;
        }
        let event = tokio::time::timeout(WAIT_MAX, eventloop.poll())
            .await
            .expect("publisher made progress")
            .expect("Mosquitto stays up; the publisher never reconnects");
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                assert!(by_pkid.insert(pkid, next_sent).is_none(), "pkid reused");
                next_sent += 1;
            }
            Event::Incoming(Packet::PubAck(ack)) => {
                let reading = by_pkid.remove(&ack.pkid).expect("ack for a sent publish");
                acked.insert(reading);
            }
            _ => {}
        }
    }
    drop(client);
    (published.load(Ordering::SeqCst), acked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reading_the_broker_acknowledged_survives_kill_9_of_the_node() {
    let kills: usize = std::env::var("FARMCO_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(KILLS_DEFAULT);
    let broker_dir = tempfile::tempdir().unwrap();
    let mosquitto = Mosquitto::start(broker_dir.path());
    let broker_url = format!("mqtt://127.0.0.1:{}", mosquitto.port);
    let edge = Edge::new();

    // First start: register the sensor, and wait until the node's subscription stands (a
    // warm-up reading published until it is stored), so the broker keeps its session from now.
    let node = start_node(&edge, &broker_url);
    let token = login(&node.base_url, "super", "edge-password-1").await;
    let (status, body) = call(
        "POST",
        &format!("{}/api/v1/sensors", node.base_url),
        &token,
        Some(
            json!({"id": SENSOR, "kind": "soil_probe", "lat": 18.9, "lon": 74.3,
                    "village_code": VILLAGE}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let base = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        now - 86_400_000
    };
    let warm_up = base - 1;
    let mut options = MqttOptions::new("crash-warm-up", "127.0.0.1", mosquitto.port);
    options.set_keep_alive(Duration::from_secs(30));
    let (warm_client, mut warm_loop) = AsyncClient::new(options, 10);
    tokio::spawn(async move { while warm_loop.poll().await.is_ok() {} });
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    while !stored(&edge).contains(&warm_up) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the node never stored the warm-up reading"
        );
        warm_client
            .publish(TOPIC, QoS::AtLeastOnce, false, format!("{warm_up},20"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = warm_client.disconnect().await;

    // Publish throughout; kill the node at random moments and restart it.
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = tokio::spawn(publish(mosquitto.port, base, stop.clone()));
    let killer = {
        let broker_url = broker_url.clone();
        let data_dir = edge.data_dir().to_owned();
        tokio::task::spawn_blocking(move || {
            let edge_dir = Path::new(&data_dir);
            let mut node = node;
            let mut stored_at_kills = Vec::new();
            for _ in 0..kills {
                std::thread::sleep(Duration::from_millis(rand::random_range(150..1_000)));
                node.child.kill().unwrap(); // SIGKILL
                node.child.wait().unwrap();
                stored_at_kills.push(count_rows(edge_dir));
                node = spawn_server(
                    "farmco-edge",
                    &["run", "--listen", "127.0.0.1:0", "--data-dir", &data_dir],
                    &[("FARMCO_EDGE_MQTT_BROKER", &broker_url)],
                );
            }
            (node, stored_at_kills)
        })
    };
    let (node, stored_at_kills) = killer.await.unwrap();
    stop.store(true, Ordering::SeqCst);
    let (published, acked) = publisher.await.unwrap();
    eprintln!(
        "crash test: {kills} kills, {published} readings published, {} acknowledged by the broker, \
         rows stored at each kill: {stored_at_kills:?}",
        acked.len()
    );
    assert_eq!(acked.len() as u64, published);
    assert!(
        stored_at_kills.windows(2).any(|w| w[0] < w[1]),
        "the node stored readings between kills"
    );

    // The last node stays up until it drained its session: every acknowledged reading is there.
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    let missing = loop {
        let rows = stored(&edge);
        let missing: VecDeque<u64> = acked
            .iter()
            .copied()
            .filter(|i| !rows.contains(&ts(base, *i)))
            .collect();
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        missing.is_empty(),
        "{} acknowledged readings lost, e.g. {:?}",
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>()
    );
    // Nothing else crept in: the warm-up plus the published readings, each once.
    assert_eq!(stored(&edge).len() as u64, published + 1);
    drop(node);
}

/// Rows in the readings table (the node is dead when this runs).
fn count_rows(data_dir: &Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        data_dir.join("farmco-edge.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    conn.query_row("SELECT count(*) FROM readings", [], |r| r.get(0))
        .unwrap()
}
