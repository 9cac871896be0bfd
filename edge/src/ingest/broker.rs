//! The embedded MQTT broker (rumqttd), so one binary is the whole village box.
//!
//! Sensors log in with username = their registered sensor id and the password whose argon2id
//! hash the registry holds; the node's own client logs in with a random password made at start.
//! What rumqttd 0.20 cannot do (documented in docs/ingest.md): it keeps sessions and queued
//! messages in memory only, so a crash of the node loses what the broker had accepted from
//! sensors but the node had not committed yet (sensors then resend only if they had not got
//! their PUBACK); it has no per-topic ACLs, so a logged-in sensor could publish under another
//! sensor's topic; it cannot be stopped, so it lives as long as the process.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;

use crate::store::Store;
use farmco_village::ingest::payload::PAYLOAD_BYTES_MAX;

/// Username of the node's own client on the embedded broker.
pub const NODE_USERNAME: &str = "farmco-edge-node";
/// Connections the embedded broker accepts at most (a village has tens of sensors).
const CONNECTIONS_MAX: usize = 1_000;
/// Messages in flight to one client; the node's client acks only after a batch commits, so this
/// bounds the rows of a batch coming from the embedded broker.
const INFLIGHT_MAX: usize = 10_000;
/// Router commit log segments: 16 MiB × 8 per filter bounds the broker's memory.
const SEGMENT_BYTES: usize = 16 * 1024 * 1024;
const SEGMENTS_MAX: usize = 8;

/// A running embedded broker.
#[derive(Debug, Clone)]
pub struct EmbeddedBroker {
    pub addr: SocketAddr,
    /// The node's own login.
    pub node_password: String,
}

/// Pick `wanted` if free, else a free port on the same address.
pub fn choose_addr(wanted: SocketAddr) -> anyhow::Result<SocketAddr> {
    match TcpListener::bind(wanted) {
        Ok(l) => Ok(l.local_addr()?),
        Err(_) => {
            let l = TcpListener::bind(SocketAddr::new(wanted.ip(), 0))
                .context("no free port for the embedded MQTT broker")?;
            Ok(l.local_addr()?)
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Start the broker on `listen` (or a free port when taken) in its own threads.
pub fn start(listen: SocketAddr, store: Arc<Store>) -> anyhow::Result<EmbeddedBroker> {
    let addr = choose_addr(listen)?;
    let node_password = crate::auth::new_token();
    let mut connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: PAYLOAD_BYTES_MAX,
        max_inflight_count: INFLIGHT_MAX,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let node_pw = node_password.clone();
    connections.set_auth_handler(move |_client_id: String, user: String, password: String| {
        let store = store.clone();
        let node_pw = node_pw.clone();
        async move {
            if user == NODE_USERNAME {
                return constant_time_eq(password.as_bytes(), node_pw.as_bytes());
            }
            let verified = tokio::task::spawn_blocking(move || {
                match store.read(|c| crate::store::ingest::sensor_secret_hash(c, &user)) {
                    Ok(Some(hash)) => crate::auth::verify_password(&password, &hash),
                    _ => false,
                }
            })
            .await;
            verified.unwrap_or(false)
        }
    });
    let server = rumqttd::ServerSettings {
        name: "farmco-embedded".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections,
    };
    let config = rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: CONNECTIONS_MAX,
            max_outgoing_packet_count: INFLIGHT_MAX as u64,
            max_segment_size: SEGMENT_BYTES,
            max_segment_count: SEGMENTS_MAX,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Default::default()
    };
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("mqtt-broker".to_owned())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })
        .context("starting the embedded MQTT broker")?;
    Ok(EmbeddedBroker {
        addr,
        node_password,
    })
}
