//! The modem simulator: a SIM800-class modem on a pseudo-terminal, usable in-process (tests,
//! the demo) and as the `farmco-modem-sim` binary.
//!
//! [`Simulator::start`] opens a pty, optionally points a symlink at it, starts a task that
//! moves bytes between the pty and the pure AT interpreter ([`machine::SimModem`]) and, when
//! asked, an HTTP side door ([`control`]) to play the farmer. The returned [`SimHandle`] does
//! the same things as the side door without HTTP, and can replug (USB re-enumeration) and
//! shut down.
//!
//! Shape: a thin shell. All behaviour is in the machine; the shell reads the wall clock,
//! feeds bytes and timer ticks in, and writes what comes out. The machine sits behind a
//! `std::sync::Mutex` held only for those calls (never across an await).
//!
//! Limits: output the host is not reading is kept up to [`PENDING_OUTPUT_OCTETS_MAX`]; beyond
//! that the oldest bytes go (a real modem's UART drops them too), and the count shows in
//! [`SimStats::output_octets_dropped`].

pub mod civil;
pub mod control;
pub mod faults;
pub mod machine;
pub mod pty;
pub mod store;

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

pub use faults::FaultPlan;
pub use machine::{
    CallDirection, CallEndCause, CallEntry, CallState, DeliverySummary, ModemIdentity, OutboxEntry,
    SideDoorError, SimModem, SimSettings, SimStats, SpokenEntry, StoredEntry,
};

use self::pty::{Pty, READ_CHUNK_OCTETS, point_link, remove_link};

/// Output kept for a host that is not reading (64 KiB: minutes of URCs).
pub const PENDING_OUTPUT_OCTETS_MAX: usize = 64 * 1024;
/// Pause after an unexpected pty error, so a persistent one cannot spin a core.
const PTY_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// Replug requests that may wait; one at a time is all that makes sense.
const REPLUG_QUEUE: usize = 4;

/// How to start a simulator.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Behaviour of the modem and network.
    pub settings: SimSettings,
    /// A symlink to point at the pty (kept across replugs, removed on shutdown).
    pub link_path: Option<PathBuf>,
    /// Where to serve the HTTP side door (`127.0.0.1:0` picks a free port).
    pub control_addr: Option<SocketAddr>,
}

/// Why the simulator could not start or replug.
#[derive(Debug, Error)]
pub enum SimError {
    /// Opening the pseudo-terminal failed.
    #[error("opening a pseudo-terminal: {0}")]
    Pty(#[source] io::Error),
    /// The symlink could not be made.
    #[error("pointing {path} at the pty: {source}")]
    Link {
        /// The link.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The side door could not listen.
    #[error("listening on {addr}: {source}")]
    Control {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The simulator task has ended.
    #[error("the simulator has stopped")]
    Stopped,
}

/// State shared by the handle, the pty task and the side door.
#[derive(Debug)]
pub(crate) struct Shared {
    modem: Mutex<SimModem>,
    wake: Notify,
    pty_path: Mutex<PathBuf>,
    link_path: Option<PathBuf>,
    replug: mpsc::Sender<oneshot::Sender<io::Result<PathBuf>>>,
}

impl Shared {
    fn modem(&self) -> MutexGuard<'_, SimModem> {
        self.modem.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `action` on the machine at the current time, then wakes the pty task so any
    /// output goes out.
    pub(crate) fn with_modem<T>(&self, action: impl FnOnce(&mut SimModem, u64) -> T) -> T {
        let now = now_ms();
        let result = {
            let mut modem = self.modem();
            modem.advance(now);
            action(&mut modem, now)
        };
        self.wake.notify_one();
        result
    }

    /// Arms faults; a replug is carried out before returning.
    pub(crate) async fn arm_faults(&self, plan: &FaultPlan) -> Result<FaultPlan, SimError> {
        self.with_modem(|modem, now| modem.arm_faults(plan, now));
        if plan.replug {
            self.replug().await?;
        }
        Ok(self.with_modem(|modem, now| modem.armed_faults(now)))
    }

    /// USB re-enumeration: a new pty, the link re-pointed, the modem rebooted.
    pub(crate) async fn replug(&self) -> Result<PathBuf, SimError> {
        let (reply, answer) = oneshot::channel();
        self.replug
            .send(reply)
            .await
            .map_err(|_| SimError::Stopped)?;
        answer
            .await
            .map_err(|_| SimError::Stopped)?
            .map_err(SimError::Pty)
    }
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Opens the pty (and link and side door) and starts the simulator task. Must be called
    /// inside a tokio runtime.
    pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
        let pty = Pty::open().map_err(SimError::Pty)?;
        if let Some(link) = &config.link_path {
            point_link(link, pty.path()).map_err(|source| SimError::Link {
                path: link.clone(),
                source,
            })?;
        }
        let (replug, replug_requests) = mpsc::channel(REPLUG_QUEUE);
        let shared = Arc::new(Shared {
            modem: Mutex::new(SimModem::new(config.settings.clone())),
            wake: Notify::new(),
            pty_path: Mutex::new(pty.path().to_path_buf()),
            link_path: config.link_path.clone(),
            replug,
        });
        let (stop, stopped) = watch::channel(false);
        let mut control = None;
        if let Some(addr) = config.control_addr {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| SimError::Control { addr, source })?;
            let bound = listener
                .local_addr()
                .map_err(|source| SimError::Control { addr, source })?;
            let router = control::router(shared.clone());
            let mut stop_server = stopped.clone();
            let server = tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop_server.wait_for(|stop| *stop).await;
                };
                if let Err(error) = axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::warn!(%error, "modem simulator side door stopped");
                }
            });
            control = Some((bound, server));
        }
        tracing::info!(pty = %pty.path().display(), "modem simulator started");
        let task = tokio::spawn(run_pty(shared.clone(), pty, stopped, replug_requests));
        Ok(SimHandle {
            shared,
            stop,
            task: Some(task),
            control,
        })
    }
}

/// A running simulator. Dropping it stops the simulator; [`SimHandle::shutdown`] also waits
/// for it and removes the link.
#[derive(Debug)]
pub struct SimHandle {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    control: Option<(SocketAddr, JoinHandle<()>)>,
}

impl SimHandle {
    /// The current pty path (`/dev/pts/N`); changes on a replug.
    pub fn pty_path(&self) -> PathBuf {
        self.shared
            .pty_path
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The symlink, if one was asked for.
    pub fn link_path(&self) -> Option<&Path> {
        self.shared.link_path.as_deref()
    }

    /// What a client should open: the link if there is one (it survives replugs), else the
    /// pty.
    pub fn port_path(&self) -> PathBuf {
        self.link_path()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| self.pty_path())
    }

    /// Where the HTTP side door listens.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control.as_ref().map(|(addr, _)| *addr)
    }

    /// A farmer sends an SMS.
    pub fn send_sms(&self, from: &str, text: &str) -> Result<DeliverySummary, SideDoorError> {
        self.shared
            .with_modem(|modem, now| modem.deliver_sms(from, text, now))
    }

    /// A farmer calls.
    pub fn call(&self, from: &str) -> Result<u64, SideDoorError> {
        self.shared
            .with_modem(|modem, now| modem.incoming_call(from, now))
    }

    /// The farmer presses keys.
    pub fn press_keys(&self, keys: &str) -> Result<usize, SideDoorError> {
        self.shared.with_modem(|modem, _| modem.press_keys(keys))
    }

    /// The farmer hangs up.
    pub fn hang_up(&self) -> Result<(), SideDoorError> {
        self.shared
            .with_modem(|modem, now| modem.remote_hang_up(now))
    }

    /// Arms faults (see [`FaultPlan`]); returns what is armed afterwards.
    pub async fn arm_faults(&self, plan: &FaultPlan) -> Result<FaultPlan, SimError> {
        self.shared.arm_faults(plan).await
    }

    /// Faults still armed.
    pub fn faults(&self) -> FaultPlan {
        self.shared.with_modem(|modem, now| modem.armed_faults(now))
    }

    /// USB re-enumeration now; returns the new pty path.
    pub async fn replug(&self) -> Result<PathBuf, SimError> {
        self.shared.replug().await
    }

    /// Messages the modem sent.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        self.shared.with_modem(|modem, _| modem.outbox())
    }

    /// Text the modem spoke.
    pub fn spoken(&self) -> Vec<SpokenEntry> {
        self.shared.with_modem(|modem, _| modem.spoken())
    }

    /// Calls.
    pub fn calls(&self) -> Vec<CallEntry> {
        self.shared.with_modem(|modem, _| modem.calls())
    }

    /// What is on the SIM.
    pub fn stored(&self) -> Vec<StoredEntry> {
        self.shared.with_modem(|modem, _| modem.stored())
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        self.shared.with_modem(|modem, _| modem.stats())
    }

    /// Stops the simulator, waits for its tasks and removes the link.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some((_, server)) = self.control.take() {
            let _ = server.await;
        }
        if let Some(link) = &self.shared.link_path {
            remove_link(link, &self.pty_path());
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Unix time in milliseconds: the machine's clock.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Resolves once the stop flag is set (or its sender is gone).
async fn wait_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// Moves bytes between the pty and the machine until stopped.
async fn run_pty(
    shared: Arc<Shared>,
    mut pty: Pty,
    mut stopped: watch::Receiver<bool>,
    mut replug_requests: mpsc::Receiver<oneshot::Sender<io::Result<PathBuf>>>,
) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buffer = vec![0u8; READ_CHUNK_OCTETS];
    loop {
        let deadline = {
            let now = now_ms();
            let mut modem = shared.modem();
            modem.advance(now);
            let output = modem.take_output();
            if pending.len() + output.len() > PENDING_OUTPUT_OCTETS_MAX {
                let excess = pending.len() + output.len() - PENDING_OUTPUT_OCTETS_MAX;
                let cut = excess.min(pending.len());
                pending.drain(..cut);
                tracing::debug!(dropped = excess, "nobody reads the simulated modem");
            }
            pending.extend_from_slice(&output);
            modem.next_deadline_ms().map(|at| at.saturating_sub(now))
        };
        let sleep = tokio::time::sleep(Duration::from_millis(deadline.unwrap_or(60_000)));
        tokio::select! {
            _ = wait_stopped(&mut stopped) => break,
            request = replug_requests.recv() => {
                let Some(reply) = request else { break };
                let result = Pty::open();
                let result = match result {
                    Ok(new_pty) => {
                        let path = new_pty.path().to_path_buf();
                        if let Some(link) = &shared.link_path
                            && let Err(error) = point_link(link, &path)
                        {
                            tracing::warn!(%error, "re-pointing the modem link failed");
                        }
                        *shared.pty_path.lock().unwrap_or_else(PoisonError::into_inner) =
                            path.clone();
                        pty = new_pty;
                        pending.clear();
                        shared.modem().reboot(now_ms());
                        tracing::info!(pty = %path.display(), "modem simulator replugged");
                        Ok(path)
                    }
                    Err(error) => Err(error),
                };
                let _ = reply.send(result);
            }
            read = pty.read(&mut buffer) => match read {
                Ok(count) => {
                    if let Some(bytes) = buffer.get(..count) {
                        shared.modem().receive(bytes, now_ms());
                    }
                }
                Err(error) => {
                    tracing::debug!(%error, "reading the simulator pty");
                    tokio::time::sleep(PTY_ERROR_PAUSE).await;
                }
            },
            written = pty.write(&pending), if !pending.is_empty() => match written {
                Ok(count) => {
                    pending.drain(..count.min(pending.len()));
                }
                Err(error) => {
                    tracing::debug!(%error, "writing the simulator pty");
                    pending.clear();
                    tokio::time::sleep(PTY_ERROR_PAUSE).await;
                }
            },
            _ = shared.wake.notified() => {}
            _ = sleep => {}
        }
    }
}
