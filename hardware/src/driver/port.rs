//! The serial port shell: the port is opened with `serialport` (a real `/dev/ttyUSB*` or a
//! simulator's pty) and served by two dedicated threads, one blocking in `read` (with a short
//! poll timeout so it notices when to stop), one writing what the driver queues. The driver
//! task sees a bounded channel of [`PortInput`] and a non-blocking [`PortLink::write`].
//!
//! DTR and RTS are raised after opening because many modems ignore commands with DTR low; a
//! pseudo-terminal has no modem lines and the ioctl fails, which is logged and ignored.
//! Bytes already waiting in the input buffer when the port opens are discarded: they are
//! stale answers and URCs, and whatever they announced is still on the SIM for the sweep
//! that follows every init.
//!
//! Limits: reads of [`READ_CHUNK_OCTETS`]; [`INPUT_CHUNKS_MAX`] chunks waiting for the driver
//! (the reader thread blocks beyond, leaving bytes in the kernel's buffer); [`WRITES_MAX`]
//! writes queued; a write stuck for [`WRITE_TIMEOUT`] means the port is gone.

use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::Duration;

use serialport::{ClearBuffer, SerialPort};
use tokio::sync::mpsc;

/// Bytes per read.
pub(crate) const READ_CHUNK_OCTETS: usize = 4096;
/// Chunks the reader thread may have waiting for the driver task.
pub(crate) const INPUT_CHUNKS_MAX: usize = 64;
/// Writes the driver may queue (one AT exchange writes at most three).
pub(crate) const WRITES_MAX: usize = 16;
/// How often the reader thread wakes up to see whether it should stop.
const READ_POLL: Duration = Duration::from_millis(100);
/// A write that cannot complete in this long (a 352-character PDU takes 31 ms at 115200 baud)
/// means the port is wedged.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// What the port delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortInput {
    /// Bytes from the modem.
    Bytes(Vec<u8>),
    /// The port failed or went away (USB unplugged, pty closed).
    Closed(String),
}

/// An open port and its two threads. Dropping it stops them and closes the port.
#[derive(Debug)]
pub(crate) struct PortLink {
    writes: std_mpsc::SyncSender<Vec<u8>>,
    input: mpsc::Receiver<PortInput>,
    stop: Arc<AtomicBool>,
}

impl PortLink {
    /// Opens `path` (in a blocking task) and starts the threads.
    pub(crate) async fn open(path: &Path, baud_rate: u32, exclusive: bool) -> Result<Self, String> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || open_blocking(path, baud_rate, exclusive))
            .await
            .map_err(|error| format!("opening the port: {error}"))?
    }

    /// Queues bytes for the modem; an error means the port is unusable.
    pub(crate) fn write(&self, bytes: Vec<u8>) -> Result<(), String> {
        self.writes.try_send(bytes).map_err(|error| match error {
            std_mpsc::TrySendError::Full(_) => "the port does not take writes".to_owned(),
            std_mpsc::TrySendError::Disconnected(_) => "the port writer stopped".to_owned(),
        })
    }

    /// The next bytes (or the port's end).
    pub(crate) async fn recv(&mut self) -> PortInput {
        self.input
            .recv()
            .await
            .unwrap_or_else(|| PortInput::Closed("the port reader stopped".to_owned()))
    }
}

impl Drop for PortLink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn open_blocking(path: PathBuf, baud_rate: u32, exclusive: bool) -> Result<PortLink, String> {
    let name = path.to_string_lossy().into_owned();
    let describe = |error: serialport::Error| format!("{name}: {error}");
    let mut port = serialport::new(name.as_str(), baud_rate)
        .timeout(READ_POLL)
        .exclusive(exclusive)
        .open()
        .map_err(describe)?;
    if let Err(error) = port
        .write_data_terminal_ready(true)
        .and_then(|()| port.write_request_to_send(true))
    {
        tracing::debug!(port = %name, %error, "DTR/RTS not set (a pseudo-terminal has none); going on");
    }
    if let Err(error) = port.clear(ClearBuffer::Input) {
        tracing::debug!(port = %name, %error, "could not discard stale input");
    }
    let mut writer = port.try_clone().map_err(describe)?;
    writer.set_timeout(WRITE_TIMEOUT).map_err(describe)?;
    let stop = Arc::new(AtomicBool::new(false));
    let (input_sender, input) = mpsc::channel(INPUT_CHUNKS_MAX);
    let (writes, write_queue) = std_mpsc::sync_channel::<Vec<u8>>(WRITES_MAX);
    let reader_stop = stop.clone();
    let reader_sender = input_sender.clone();
    thread::Builder::new()
        .name("modem-read".to_owned())
        .spawn(move || read_loop(port, reader_sender, reader_stop))
        .map_err(|error| format!("starting the port reader: {error}"))?;
    thread::Builder::new()
        .name("modem-write".to_owned())
        .spawn(move || write_loop(writer, write_queue, input_sender))
        .map_err(|error| format!("starting the port writer: {error}"))?;
    Ok(PortLink {
        writes,
        input,
        stop,
    })
}

fn read_loop(
    mut port: Box<dyn SerialPort>,
    sender: mpsc::Sender<PortInput>,
    stop: Arc<AtomicBool>,
) {
    let mut buffer = vec![0u8; READ_CHUNK_OCTETS];
    while !stop.load(Ordering::Relaxed) {
        let input = match port.read(&mut buffer) {
            Ok(0) => PortInput::Closed("end of file on the port".to_owned()),
            Ok(count) => PortInput::Bytes(buffer.get(..count).unwrap_or_default().to_vec()),
            Err(error) if matches!(error.kind(), ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                continue;
            }
            Err(error) => PortInput::Closed(format!("reading the port: {error}")),
        };
        let closed = matches!(input, PortInput::Closed(_));
        if sender.blocking_send(input).is_err() || closed {
            return;
        }
    }
}

fn write_loop(
    mut port: Box<dyn SerialPort>,
    queue: std_mpsc::Receiver<Vec<u8>>,
    sender: mpsc::Sender<PortInput>,
) {
    for bytes in queue {
        if let Err(error) = port.write_all(&bytes) {
            let _ = sender.blocking_send(PortInput::Closed(format!("writing the port: {error}")));
            return;
        }
    }
}
