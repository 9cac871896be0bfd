//! The MQTT task: owns the node's rumqttc connection and feeds the writer.
//!
//! - Persistent session: fixed client id, `clean_session = false`, subscription at QoS 1, so
//!   the broker keeps QoS 1 messages that arrive while the node is down or restarting.
//! - Manual acks: rumqttc does not PUBACK by itself; the writer acks after its commit.
//! - Back-pressure: after each publish the task awaits room in the bounded writer queue before
//!   polling the connection again. While it waits, nothing is read from the socket, the
//!   broker's in-flight window for this client fills, and the broker holds further messages.
//! - The rumqttc request channel holds [`REQUEST_CHANNEL_CAPACITY`] requests: more than every
//!   QoS 1 packet id a session can have in flight, so acks never wait on it while this task is
//!   blocked on the queue (otherwise writer and reader would wait on each other).
//! - Reconnects back off exponentially with jitter, from [`RECONNECT_BACKOFF_MIN`] to
//!   [`RECONNECT_BACKOFF_MAX`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{mpsc, watch};

use super::writer::{Acker, Received};
use farmco_village::ingest::payload::{PAYLOAD_BYTES_MAX, TOPIC_FILTER};

/// Request channel capacity, sized so that the writer's acks can never wait on it.
///
/// The event loop drains this channel only while this task polls it, and this task stops
/// polling while it waits for room in the writer's queue (back-pressure). If acks could fill
/// the channel, the writer would wait on the channel while this task waits on the writer: a
/// deadlock under sustained load (a batch-sized channel was not enough once several batches
/// of acks were pending). Every ack in the channel is for a distinct QoS 1 packet id still in
/// flight, and a session has at most 65,535 of those, so twice that (stale acks of one
/// previous connection included) plus control requests can never fill. Memory stays bounded
/// by the same count (a few MB at worst); flume does not allocate the capacity up front.
pub const REQUEST_CHANNEL_CAPACITY: usize = 2 * (u16::MAX as usize) + 64;
/// MQTT keep-alive: a dead broker is noticed within ~1.5× this.
const KEEP_ALIVE: Duration = Duration::from_secs(30);
const RECONNECT_BACKOFF_MIN: Duration = Duration::from_millis(200);
const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// How the node connects.
#[derive(Debug, Clone)]
pub struct Connection {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub credentials: Option<(String, String)>,
}

/// Build the client and its event loop.
pub fn client(conn: &Connection) -> (AsyncClient, rumqttc::EventLoop) {
    let mut options = MqttOptions::new(conn.client_id.clone(), conn.host.clone(), conn.port);
    options
        .set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(KEEP_ALIVE)
        .set_max_packet_size(PAYLOAD_BYTES_MAX + 1024, 64 * 1024)
        .set_request_channel_capacity(REQUEST_CHANNEL_CAPACITY);
    if let Some((user, password)) = &conn.credentials {
        options.set_credentials(user.clone(), password.clone());
    }
    AsyncClient::new(options, REQUEST_CHANNEL_CAPACITY)
}

/// Run the MQTT task until `shutdown` flips to true; then the queue is closed so the writer
/// drains and stops.
pub async fn run(
    conn: Connection,
    queue: mpsc::Sender<Received>,
    mut shutdown: watch::Receiver<bool>,
    connected: Option<watch::Sender<bool>>,
) -> Acker {
    let (client, mut eventloop) = client(&conn);
    let connection = Arc::new(AtomicU64::new(0));
    let acker = Acker {
        client: client.clone(),
        connection: connection.clone(),
    };
    let task_acker = acker.clone();
    tokio::spawn(async move {
        let mut backoff = RECONNECT_BACKOFF_MIN;
        loop {
            let event = tokio::select! {
                _ = shutdown.changed() => break,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = RECONNECT_BACKOFF_MIN;
                    connection.fetch_add(1, Ordering::SeqCst);
                    tracing::info!(
                        host = %conn.host, port = conn.port,
                        session_present = ack.session_present, "MQTT connected"
                    );
                    if let Err(e) = client.try_subscribe(TOPIC_FILTER, QoS::AtLeastOnce) {
                        tracing::error!(error = %e, "MQTT subscribe request failed");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    // Subscribed: from now on the broker keeps our messages in the session.
                    tracing::info!(filter = TOPIC_FILTER, "MQTT subscribed");
                    if let Some(c) = &connected {
                        let _ = c.send(true);
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let ack = (p.qos != QoS::AtMostOnce)
                        .then(|| (p.clone(), connection.load(Ordering::SeqCst)));
                    let received = Received {
                        topic: p.topic.clone(),
                        payload: p.payload.clone(),
                        received_ms: crate::store::now_ms(),
                        ack,
                    };
                    // Back-pressure: wait for the writer before reading more.
                    if queue.send(received).await.is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    if let Some(c) = &connected {
                        let _ = c.send(false);
                    }
                    let jitter = rand::random_range(0..=backoff.as_millis() as u64 / 2);
                    let wait = backoff + Duration::from_millis(jitter);
                    tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "MQTT connection failed; retrying");
                    tokio::select! {
                        _ = shutdown.changed() => break,
                        () = tokio::time::sleep(wait) => {}
                    }
                    backoff = (backoff * 2).min(RECONNECT_BACKOFF_MAX);
                }
            }
        }
        tracing::info!("MQTT task stopped");
        drop(queue);
    });
    task_acker
}
