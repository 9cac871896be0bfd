//! The embedded MQTT broker (rumqttd), so one binary is the whole village box.
//!
//! Sensors log in with username = their registered sensor id and the password whose argon2id
//! hash the registry holds; the node's own client logs in with a random password made at start.
//! What rumqttd 0.20 cannot do (documented in docs/ingest.md): it keeps sessions and queued
//! messages in memory only, so a crash of the node loses what the broker had accepted from
//! sensors but the node had not committed yet (sensors then resend only if they had not got
//! their PUBACK); it has no per-topic ACLs, so a logged-in sensor could publish under another
//! sensor's topic or subscribe to others' readings (use Mosquitto with the ACL file in
//! `deploy/mosquitto/` where that matters); it cannot be stopped, so it lives as long as the
//! process.
//!
//! Logins (review findings 6 and 24): a sensor must connect with client id = its sensor id,
//! so no sensor can take the node's persistent session (client id `mqtt.client_id`), which
//! only the node's own login may use; an unknown username costs the same argon2 verification
//! as a known one (no sensor-id enumeration by timing); at most
//! [`LOGIN_VERIFICATIONS_MAX`] verifications run at once and more logins are refused, so a
//! burst of CONNECTs cannot exhaust memory (each argon2id check takes 19 MiB).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use anyhow::Context;

use crate::store::Store;
use farmco_village::ingest::payload::PAYLOAD_BYTES_MAX;

/// Username of the node's own client on the embedded broker.
pub const NODE_USERNAME: &str = "farmco-edge-node";
/// Password verifications running at once; past it a login is refused (the sensor retries).
pub const LOGIN_VERIFICATIONS_MAX: usize = 2;
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

/// May this login proceed to a password check? The node's login must use the node's client
/// id; a sensor's client id must be its username (and so never the node's).
pub fn login_shape_allowed(client_id: &str, user: &str, node_client_id: &str) -> bool {
    if user == NODE_USERNAME {
        client_id == node_client_id
    } else {
        client_id == user && client_id != node_client_id && !user.is_empty()
    }
}

/// Start the broker on `listen` (or a free port when taken) in its own threads; the node's
/// own client connects with `node_client_id`.
pub fn start(
    listen: SocketAddr,
    store: Arc<Store>,
    node_client_id: &str,
) -> anyhow::Result<EmbeddedBroker> {
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
    let node_client_id = node_client_id.to_owned();
    let verifications = Arc::new(tokio::sync::Semaphore::new(LOGIN_VERIFICATIONS_MAX));
    connections.set_auth_handler(move |client_id: String, user: String, password: String| {
        let store = store.clone();
        let node_pw = node_pw.clone();
        let node_client_id = node_client_id.clone();
        let verifications = verifications.clone();
        async move {
            if !login_shape_allowed(&client_id, &user, &node_client_id) {
                tracing::warn!("mqtt login refused: the client id does not match the login");
                return false;
            }
            if user == NODE_USERNAME {
                return constant_time_eq(password.as_bytes(), node_pw.as_bytes());
            }
            let Ok(_permit) = verifications.try_acquire_owned() else {
                tracing::warn!("mqtt login refused: too many logins being checked at once");
                return false;
            };
            let verified = tokio::task::spawn_blocking(move || {
                let hash = store
                    .read(|c| crate::store::ingest::sensor_secret_hash(c, &user))
                    .ok()
                    .flatten();
                // An unknown sensor is checked against a dummy hash: the same work, the same
                // time, so a refusal does not tell which sensor ids exist.
                let known = hash.is_some();
                let hash = hash.unwrap_or_else(|| crate::auth::dummy_hash().to_owned());
                crate::auth::verify_password(&password, &hash) && known
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_node_may_use_the_node_client_id_and_sensors_use_their_own() {
        assert!(login_shape_allowed(
            "farmco-edge",
            NODE_USERNAME,
            "farmco-edge"
        ));
        assert!(!login_shape_allowed("other", NODE_USERNAME, "farmco-edge"));
        assert!(login_shape_allowed("soil-1", "soil-1", "farmco-edge"));
        assert!(!login_shape_allowed("farmco-edge", "soil-1", "farmco-edge"));
        assert!(!login_shape_allowed("soil-2", "soil-1", "farmco-edge"));
        // A sensor registered under the node's client id still cannot take the session.
        assert!(!login_shape_allowed(
            "farmco-edge",
            "farmco-edge",
            "farmco-edge"
        ));
    }
}
