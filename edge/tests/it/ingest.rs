//! MQTT ingest against real brokers: a Mosquitto started by the test on a free port with a
//! generated config, `mosquitto_pub` as the publisher (a client no one here wrote), and the
//! embedded rumqttd broker with per-sensor logins. Plus the sensor registry (auto-linking and
//! re-linking), dead letters, bucketed readings and alerts through the HTTP API.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use farmco_edge::alerts::SharedRules;
use farmco_edge::config::Config;
use farmco_edge::ingest::{Broker, IngestDeps, IngestService};
use farmco_edge::store::Store;
use farmco_edge::store::ingest::{FarmLink, SensorRow};
use serde_json::json;

use crate::support::{TestNode, VILLAGE, square};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";
const TOPIC: &str = "farmco/v1/563412/probe-1/soil_moisture_vwc";
/// Upper bound on waiting for the ingest to catch up (a failure bound, not a timing assert).
const WAIT_MAX: Duration = Duration::from_secs(120);

/// A Mosquitto process on a free port, killed on drop.
pub struct Mosquitto {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let conf = dir.path().join("mosquitto.conf");
        // The settings docs/ingest.md asks of a production broker: unlimited in-flight and
        // queued QoS 1 messages for the node's persistent session.
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 max_inflight_messages 0\nmax_queued_messages 0\nlog_dest stderr\nlog_type error\n"
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
                return Mosquitto {
                    child,
                    port,
                    _dir: dir,
                };
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

/// Publish each line as one QoS 1 message with mosquitto_pub; returns its exit success.
/// Only for logins the broker accepts: mosquitto_pub retries a refused login every second
/// until killed, because rumqttd answers a bad login by closing the connection instead of a
/// CONNACK with an error code (use [`login_accepted`] to check refusals).
pub fn mosquitto_pub(
    port: u16,
    topic: &str,
    lines: &[String],
    login: Option<(&str, &str)>,
) -> bool {
    let mut cmd = Command::new("timeout");
    cmd.args([
        "120",
        "mosquitto_pub",
        "-h",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-q",
        "1",
        "-t",
        topic,
        "-l",
    ]);
    if let Some((u, p)) = login {
        // The embedded broker binds a sensor's login to client id = sensor id.
        cmd.args(["-u", u, "-P", p, "-i", u]);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        let mut text = lines.join("\n");
        text.push('\n');
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().unwrap().success()
}

/// One MQTT login attempt (no retry): true when the broker answers CONNACK "accepted", false
/// when it refuses with a CONNACK code or closes the connection (what rumqttd does).
async fn login_accepted(port: u16, login: Option<(&str, &str)>) -> bool {
    let client_id = match login {
        Some((u, _)) => u.to_owned(),
        None => format!("t-{}", rand::random::<u32>()),
    };
    login_accepted_as(port, &client_id, login).await
}

/// [`login_accepted`] with a chosen client id.
async fn login_accepted_as(port: u16, client_id: &str, login: Option<(&str, &str)>) -> bool {
    let mut options = rumqttc::MqttOptions::new(client_id.to_owned(), "127.0.0.1", port);
    if let Some((u, p)) = login {
        options.set_credentials(u, p);
    }
    let (_client, mut eventloop) = rumqttc::AsyncClient::new(options, 10);
    loop {
        match tokio::time::timeout(WAIT_MAX, eventloop.poll())
            .await
            .expect("the broker answers a login")
        {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack))) => {
                return ack.code == rumqttc::ConnectReturnCode::Success;
            }
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

fn register(store: &Store, id: &str, password: &str) {
    let hash = farmco_edge::auth::hash_password(password).unwrap();
    store
        .write(|tx| {
            farmco_edge::store::ingest::insert_sensor(
                tx,
                &SensorRow {
                    id: id.into(),
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
        })
        .unwrap();
}

struct Node {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    service: IngestService,
    metrics: farmco_edge::metrics::Metrics,
    client_id: String,
}

async fn node(broker: Broker) -> Node {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path().to_owned());
    config.ingest.broker = broker;
    config.ingest.embedded_listen = "127.0.0.1:0".parse().unwrap();
    config.ingest.client_id = format!("edge-{}", rand::random::<u32>());
    let store = Arc::new(Store::open(dir.path(), config.synchronous, 2).unwrap());
    register(&store, "probe-1", "probe-1-secret-pw");
    let metrics = farmco_edge::metrics::Metrics::new();
    let rules: SharedRules = Arc::new(std::sync::RwLock::new(config.alert_rules.clone()));
    let service = IngestService::start(
        &config,
        IngestDeps {
            store: store.clone(),
            metrics: metrics.ingest.clone(),
            rules,
            hook: None,
        },
    )
    .await
    .unwrap();
    let mut connected = service.connected.clone();
    tokio::time::timeout(WAIT_MAX, connected.wait_for(|c| *c))
        .await
        .expect("node subscribed")
        .unwrap();
    Node {
        _dir: dir,
        store,
        service,
        metrics,
        client_id: config.ingest.client_id.clone(),
    }
}

/// Wait until the writer committed `n` messages in total.
async fn wait_messages(node: &Node, n: u64) {
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    while node.metrics.ingest.messages.get() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} messages committed",
            node.metrics.ingest.messages.get()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn readings(from: i64, n: i64) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            format!(
                "{},{}",
                1_700_000_000_000 + i * 1000,
                (i % 100) as f64 / 2.0
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mosquitto_10k_in_10k_rows_duplicates_harmless_garbage_dead_lettered() {
    let broker = Mosquitto::start();
    let node = node(Broker::External {
        host: "127.0.0.1".into(),
        port: broker.port,
    })
    .await;
    let lines = readings(0, 10_000);
    let pub_lines = lines.clone();
    let port = broker.port;
    assert!(
        tokio::task::spawn_blocking(move || mosquitto_pub(port, TOPIC, &pub_lines, None))
            .await
            .unwrap()
    );
    wait_messages(&node, 10_000).await;
    assert_eq!(node.store.readings_count().unwrap(), 10_000);

    // The same 10,000 again: redeliveries are harmless.
    assert!(
        tokio::task::spawn_blocking(move || mosquitto_pub(port, TOPIC, &lines, None))
            .await
            .unwrap()
    );
    wait_messages(&node, 20_000).await;
    assert_eq!(node.store.readings_count().unwrap(), 10_000);

    // 100 malformed messages: 100 dead letters, nothing dropped, the task keeps going.
    let garbage: Vec<String> = (0..100).map(|i| format!("garbage {i} {{")).collect();
    assert!(
        tokio::task::spawn_blocking(move || mosquitto_pub(port, TOPIC, &garbage, None))
            .await
            .unwrap()
    );
    wait_messages(&node, 20_100).await;
    let dead = node
        .store
        .read(|c| farmco_edge::store::ingest::dead_letters(c, 0, None, 1000))
        .unwrap();
    assert_eq!(dead.len(), 100);
    assert!(
        dead.iter()
            .all(|d| d.reason == "malformed" && d.topic == TOPIC)
    );
    assert_eq!(dead[7].payload, b"garbage 7 {");
    assert!(
        node.metrics
            .render()
            .contains("farmco_edge_ingest_dead_letters_total{reason=\"malformed\"} 100")
    );

    // Unknown sensors and metrics, out-of-range values: dead letters with their reasons.
    let port2 = broker.port;
    tokio::task::spawn_blocking(move || {
        mosquitto_pub(
            port2,
            "farmco/v1/563412/nobody/soil_temp_c",
            &["1,20".into()],
            None,
        );
        mosquitto_pub(
            port2,
            "farmco/v1/563412/probe-1/wind_kmh",
            &["1,20".into()],
            None,
        );
        mosquitto_pub(port2, TOPIC, &["1,120".into()], None);
        mosquitto_pub(
            port2,
            "farmco/v1/563499/probe-1/soil_temp_c",
            &["1,20".into()],
            None,
        );
    })
    .await
    .unwrap();
    wait_messages(&node, 20_104).await;
    let reasons: Vec<String> = node
        .store
        .read(|c| farmco_edge::store::ingest::dead_letters(c, 0, None, 1000))
        .unwrap()
        .into_iter()
        .skip(100)
        .map(|d| d.reason)
        .collect();
    assert_eq!(
        reasons,
        [
            "unknown_sensor",
            "unknown_metric",
            "out_of_range",
            "village_mismatch"
        ]
    );
    node.service.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_broker_checks_sensor_logins_and_ingests() {
    let node = node(Broker::Embedded).await;
    let port: u16 = node
        .service
        .broker_addr
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // 2,000 messages through rumqttd's fixed in-flight window of 100: the writer's idle flush
    // acks each window as soon as it stops growing.
    let lines = readings(0, 2_000);
    let ok = tokio::task::spawn_blocking(move || {
        mosquitto_pub(port, TOPIC, &lines, Some(("probe-1", "probe-1-secret-pw")))
    })
    .await
    .unwrap();
    assert!(ok, "a registered sensor logs in");
    wait_messages(&node, 2_000).await;
    assert_eq!(node.store.readings_count().unwrap(), 2_000);
    assert!(login_accepted(port, Some(("probe-1", "probe-1-secret-pw"))).await);
    let refused = (
        login_accepted(port, Some(("probe-1", "wrong-password"))).await,
        login_accepted(port, None).await,
        login_accepted(port, Some(("nobody", "probe-1-secret-pw"))).await,
        // Right password, but another client id: a sensor may not take the node's session
        // (review finding 6) nor pose as another client.
        login_accepted_as(
            port,
            &node.client_id,
            Some(("probe-1", "probe-1-secret-pw")),
        )
        .await,
        login_accepted_as(port, "probe-2", Some(("probe-1", "probe-1-secret-pw"))).await,
    );
    assert_eq!(
        refused,
        (false, false, false, false, false),
        "bad logins are refused"
    );
    node.service.shutdown().await;
}

#[tokio::test]
async fn sensor_registry_links_by_position_and_relinks_on_boundary_change() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let sup = node.login("super").await;
    let farmer = node.farmer(&agent, "Ganesh Thorat", "9812340011").await;
    let (lat, lon) = (18.918, 74.385);
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "112/3", "declared_area_ha": 1.0, "boundary": square(lat, lon, 100.0),
                        "crops": [{"crop": "Wheat", "season": "rabi", "sowing_date": "2025-11-10"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let farm = body["id"].as_str().unwrap().to_owned();

    // agents may not register sensors
    let probe =
        json!({"id": "probe-9", "kind": "soil_probe", "lat": lat + 0.0004, "lon": lon + 0.0004});
    let (status, _) = node
        .call("POST", "/api/v1/sensors", Some(&agent), Some(probe.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = node
        .call("POST", "/api/v1/sensors", Some(&sup), Some(probe.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sensor"]["farm_id"], farm.as_str());
    assert_eq!(body["sensor"]["farm_link"], "auto");
    assert_eq!(body["sensor"]["village_code"], VILLAGE);
    assert_eq!(
        body["sensor"]["topic_prefix"],
        format!("farmco/v1/{VILLAGE}/probe-9")
    );
    let password = body["mqtt_password"].as_str().unwrap().to_owned();
    let hash = node
        .state
        .store
        .read(|c| farmco_edge::store::ingest::sensor_secret_hash(c, "probe-9"))
        .unwrap()
        .unwrap();
    assert!(
        farmco_edge::auth::verify_password(&password, &hash),
        "only the hash is stored"
    );
    let (status, _) = node
        .call("POST", "/api/v1/sensors", Some(&sup), Some(probe))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // outside every farm: no link
    let (status, body) = node
        .call("POST", "/api/v1/sensors", Some(&sup),
              Some(json!({"id": "probe-10", "kind": "soil_probe", "lat": lat + 0.01, "lon": lon, "village_code": VILLAGE,
                          "mqtt_password": "a-long-enough-password"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(body["sensor"]["farm_id"].is_null());
    assert!(
        body["mqtt_password"].is_null(),
        "a given password is not echoed"
    );

    // the boundary moves away from probe-9 and over probe-10: both are re-linked
    let (status, body) = node
        .call(
            "PATCH",
            &format!("/api/v1/farms/{farm}"),
            Some(&agent),
            Some(json!({"boundary": square(lat + 0.0099, lon - 0.0001, 100.0)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, p9) = node
        .call("GET", "/api/v1/sensors/probe-9", Some(&agent), None)
        .await;
    assert!(p9["farm_id"].is_null(), "{p9}");
    let (_, p10) = node
        .call("GET", "/api/v1/sensors/probe-10", Some(&agent), None)
        .await;
    assert_eq!(p10["farm_id"], farm.as_str(), "{p10}");

    // bad input is 4xx
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/sensors",
            Some(&sup),
            Some(json!({"id": "bad id", "kind": "x", "lat": 1.0, "lon": 1.0})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/sensors",
            Some(&sup),
            Some(json!({"id": "p11", "kind": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = node
        .call("GET", "/api/v1/sensors", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sensors"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bucketed_readings_dead_letter_and_alert_routes() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let sup = node.login("super").await;
    let base = 1_700_000_400_000i64 - 1_700_000_400_000 % 3_600_000;
    let readings: Vec<_> = (0..120)
        .map(|i| json!({"metric": "soil_moisture_vwc", "ts": base + i * 60_000, "value": (i % 60) as f64}))
        .collect();
    // Readings over HTTP are a supervisor's (agents: 403), and probe-1 is in no village, so
    // only supervisors see it (review 2026-12, finding 10).
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/sensors/probe-1/readings",
            Some(&agent),
            Some(json!({"readings": readings.clone()})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/sensors/probe-1/readings",
            Some(&sup),
            Some(json!({"readings": readings})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let uri = format!(
        "/api/v1/sensors/probe-1/readings?metric=soil_moisture_vwc&from={base}&to={}&bucket=1h",
        base + 2 * 3_600_000
    );
    let (status, _) = node.call("GET", &uri, Some(&agent), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = node.call("GET", &uri, Some(&sup), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let buckets = body["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(buckets[0]["count"], 60);
    assert_eq!(buckets[0]["min"], 0.0);
    assert_eq!(buckets[0]["max"], 59.0);
    assert_eq!(buckets[0]["avg"], 29.5);
    let (status, _) = node
        .call(
            "GET",
            &uri.replace("bucket=1h", "bucket=7x"),
            Some(&sup),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, _) = node
        .call("GET", "/api/v1/ingest/dead-letters", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = node
        .call("GET", "/api/v1/ingest/dead-letters", Some(&sup), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["dead_letters"].as_array().unwrap().len(), 0);

    let (status, body) = node
        .call("GET", "/api/v1/alert-rules", Some(&sup), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "irrigate-wheat")
    );
    let rule = json!({"id": "hot", "kind": "threshold", "metric": "air_temp_c", "above": 42.0, "message": "Heat"});
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/alert-rules",
            Some(&agent),
            Some(rule.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = node
        .call("POST", "/api/v1/alert-rules", Some(&sup), Some(rule))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = node
        .call("POST", "/api/v1/alert-rules", Some(&sup),
              Some(json!({"id": "x", "kind": "threshold", "metric": "nope", "below": 1.0, "message": "m"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, body) = node
        .call("GET", "/api/v1/alert-rules", Some(&sup), None)
        .await;
    assert!(
        body["rules"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == "hot")
    );

    // an alert stored by the engine shell is listed and can be acknowledged
    let row = node
        .state
        .store
        .write(|tx| {
            farmco_edge::store::alerts::apply(
                tx,
                &farmco_village::alerts::engine::Decision::Raise {
                    rule_id: "hot".into(),
                    kind: "threshold".into(),
                    severity: "warning".into(),
                    sensor_id: "probe-1".into(),
                    metric: Some("air_temp_c".into()),
                    value: Some(44.0),
                    farm_id: None,
                    farmer_id: Some("f-1".into()),
                    message: "Heat".into(),
                    at_ms: base,
                },
            )
        })
        .unwrap()
        .unwrap();
    // (probe-1 and farmer f-1 are in no village: an agent neither sees nor acks the alert.)
    let (status, body) = node
        .call("GET", "/api/v1/alerts?open=true", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["alerts"].as_array().unwrap().len(), 0, "{body}");
    let (status, body) = node
        .call("GET", "/api/v1/alerts?open=true", Some(&sup), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["alerts"][0]["farmer_id"], "f-1");
    let ack = format!("/api/v1/alerts/{}/ack", row.id);
    let (status, _) = node.call("POST", &ack, Some(&agent), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = node.call("POST", &ack, Some(&sup), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acked_by"], "super");
    let (status, _) = node
        .call("POST", "/api/v1/alerts/999/ack", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn retention_rolls_up_old_readings_but_keeps_what_the_cloud_has_not_acknowledged() {
    use farmco_edge::store::readings::NewReading;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), farmco_edge::config::Synchronous::Normal, 1).unwrap();
    let day = 86_400_000i64;
    let now = 1_780_000_000_000i64 - 1_780_000_000_000 % 3_600_000;
    let old = now - 100 * day;
    let rows: Vec<NewReading> = (0..10)
        .map(|i| NewReading {
            sensor_id: "p1".into(),
            metric: "soil_temp_c".into(),
            ts_ms: if i < 8 { old + i * 60_000 } else { now - i },
            value: i as f64,
            ts_assigned: false,
        })
        .collect();
    store.insert_readings(&rows, now).unwrap();
    // The cloud acknowledged readings 1..=5 only.
    store
        .write(|tx| {
            let mut c = farmco_edge::store::sync_state::cursors(tx)?;
            c.readings_acked = 5;
            farmco_edge::store::sync_state::set_cursors(tx, &c)
        })
        .unwrap();
    let removed =
        farmco_edge::ingest::retention::sweep(&store, Duration::from_secs(90 * 86_400), now)
            .unwrap();
    assert_eq!(removed, 5, "old and acknowledged only");
    assert_eq!(
        store.readings_count().unwrap(),
        5,
        "3 old unacknowledged + 2 recent stay"
    );
    let buckets = store
        .read(|c| {
            farmco_edge::store::ingest::sensor_buckets(
                c,
                "p1",
                "soil_temp_c",
                old - day,
                now + day,
                3_600_000,
                100,
            )
        })
        .unwrap();
    // The old hour: 5 from the rollup + 3 raw still waiting for the cloud.
    assert_eq!(buckets[0].count, 8);
    assert_eq!(buckets[0].min, 0.0);
    assert_eq!(buckets[0].max, 7.0);
    // A second sweep changes nothing.
    let again =
        farmco_edge::ingest::retention::sweep(&store, Duration::from_secs(90 * 86_400), now)
            .unwrap();
    assert_eq!(again, 0);
}

/// Poll `GET uri` as `token` until `check` holds on the body (bounded by [`WAIT_MAX`]).
async fn poll_api(
    node: &TestNode,
    token: &str,
    uri: &str,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = tokio::time::Instant::now() + WAIT_MAX;
    loop {
        let (status, body) = node.call("GET", uri, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if check(&body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting on {uri}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_soil_over_mqtt_raises_an_alert_naming_the_farmer_and_wet_soil_resolves_it() {
    let broker = Mosquitto::start();
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let sup = node.login("super").await;
    let farmer = node.farmer(&agent, "Sunita Pawar", "9812340022").await;
    let (lat, lon) = (18.918, 74.385);
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "7/1", "declared_area_ha": 1.0, "boundary": square(lat, lon, 100.0),
                        "crops": [{"crop": "Wheat", "season": "rabi", "sowing_date": "2025-11-10"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let farm = body["id"].as_str().unwrap().to_owned();
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/sensors",
            Some(&sup),
            Some(json!({"id": "probe-7", "kind": "soil_probe", "lat": lat + 0.0004, "lon": lon + 0.0004})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["sensor"]["farm_id"], farm.as_str());

    // The configured wheat rule (below 18% VWC, hysteresis 2) with a 10-minute duration
    // instead of 2 hours; the payloads carry timestamps, so no waiting.
    {
        let mut rules = node.state.alert_rules.write().unwrap();
        let rule = rules
            .iter_mut()
            .find(|r| r.id == "irrigate-wheat")
            .expect("the default config has the wheat rule");
        let mut spec = rule.spec.clone();
        spec.for_minutes = 10;
        *rule = spec
            .validate(&node.state.config.ingest.metrics)
            .expect("valid rule");
    }
    let mut config = Config::for_tests(node.dir.path().to_owned());
    config.ingest.broker = Broker::External {
        host: "127.0.0.1".into(),
        port: broker.port,
    };
    config.ingest.client_id = format!("edge-{}", rand::random::<u32>());
    let service = IngestService::start(
        &config,
        IngestDeps {
            store: node.state.store.clone(),
            metrics: node.state.metrics.ingest.clone(),
            rules: node.state.alert_rules.clone(),
            hook: None,
        },
    )
    .await
    .unwrap();
    let mut connected = service.connected.clone();
    tokio::time::timeout(WAIT_MAX, connected.wait_for(|c| *c))
        .await
        .expect("node subscribed")
        .unwrap();

    let topic = format!("farmco/v1/{VILLAGE}/probe-7/soil_moisture_vwc");
    let t0 = farmco_edge::store::now_ms() - 3_600_000;
    let minute = 60_000i64;
    // Dry for 15 minutes: 15% VWC every minute.
    let dry: Vec<String> = (0..=15)
        .map(|m| json!({"ts": t0 + m * minute, "value": 15.0}).to_string())
        .collect();
    let (port, t) = (broker.port, topic.clone());
    assert!(
        tokio::task::spawn_blocking(move || mosquitto_pub(port, &t, &dry, None))
            .await
            .unwrap()
    );
    let body = poll_api(&node, &agent, "/api/v1/alerts?open=true", |b| {
        b["alerts"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await;
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(
        alerts.len(),
        1,
        "one alert while the condition holds: {body}"
    );
    let alert = &alerts[0];
    assert_eq!(alert["rule_id"], "irrigate-wheat");
    assert_eq!(alert["sensor_id"], "probe-7");
    assert_eq!(alert["farm_id"], farm.as_str());
    assert_eq!(alert["farmer_id"], farmer.as_str());
    assert_eq!(alert["value"], 15.0);
    assert!(alert["resolved"].is_null());
    let id = alert["id"].as_i64().unwrap();

    // 19% (inside the hysteresis band, not yet clear), then 25% for five minutes: resolved.
    let wetter: Vec<String> = std::iter::once(json!({"ts": t0 + 16 * minute, "value": 19.0}))
        .chain((17..=21).map(|m| json!({"ts": t0 + m * minute, "value": 25.0})))
        .map(|v| v.to_string())
        .collect();
    assert!(
        tokio::task::spawn_blocking(move || mosquitto_pub(port, &topic, &wetter, None))
            .await
            .unwrap()
    );
    let body = poll_api(&node, &agent, "/api/v1/alerts", |b| {
        b["alerts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["id"] == id && !x["resolved"].is_null()))
    })
    .await;
    assert_eq!(
        body["alerts"].as_array().unwrap().len(),
        1,
        "deduplicated: {body}"
    );
    let (_, open) = node
        .call("GET", "/api/v1/alerts?open=true", Some(&agent), None)
        .await;
    assert_eq!(open["alerts"].as_array().unwrap().len(), 0, "{open}");
    service.shutdown().await;
}
