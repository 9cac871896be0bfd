//! The simulator's pseudo-terminal: a master end the simulator reads and writes without
//! blocking (through tokio's `AsyncFd`), and a slave end whose path host software opens as
//! if it were `/dev/ttyUSB0`.
//!
//! The simulator keeps its own descriptor of the slave open for the pty's whole life, in raw
//! mode. Two reasons: the master never sees EIO/HUP between one client closing and the next
//! opening (a driver reopening the port, gammu run after the driver), and the line discipline
//! never echoes or translates bytes before a client has set raw mode itself.
//!
//! A symlink (`--link`) gives clients a stable path across a replug: it is re-pointed
//! atomically (a new link renamed over the old one).

use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::pty::openpty;
use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
use tokio::io::unix::AsyncFd;

/// Bytes read from the master in one go.
pub const READ_CHUNK_OCTETS: usize = 4096;

/// One pseudo-terminal pair.
#[derive(Debug)]
pub struct Pty {
    master: AsyncFd<OwnedFd>,
    _slave: OwnedFd,
    path: PathBuf,
}

impl Pty {
    /// Opens a pair: raw mode on the slave, non-blocking master registered with tokio.
    pub fn open() -> io::Result<Pty> {
        let pair = openpty(None, None).map_err(io::Error::from)?;
        let mut termios = tcgetattr(&pair.slave).map_err(io::Error::from)?;
        cfmakeraw(&mut termios);
        tcsetattr(&pair.slave, SetArg::TCSANOW, &termios).map_err(io::Error::from)?;
        let path = nix::unistd::ttyname(&pair.slave).map_err(io::Error::from)?;
        fcntl(&pair.master, FcntlArg::F_SETFL(OFlag::O_NONBLOCK)).map_err(io::Error::from)?;
        // `AsyncFd::new` is deprecated in favour of the `unsafe` `AsyncFd::register`, whose
        // contract is that the descriptor stays valid and the same while registered. An
        // `OwnedFd` owned by the `AsyncFd` guarantees exactly that, and this workspace
        // forbids `unsafe`, so the safe constructor is the right call here.
        #[allow(deprecated)]
        let master = AsyncFd::new(pair.master)?;
        Ok(Pty {
            master,
            _slave: pair.slave,
            path,
        })
    }

    /// The slave's path (`/dev/pts/N`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads what the host wrote; waits until something is there.
    pub async fn read(&self, buffer: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard
                .try_io(|inner| nix::unistd::read(inner.get_ref(), buffer).map_err(io::Error::from))
            {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes some of `bytes` for the host; waits until the pty can take at least one byte.
    pub async fn write(&self, bytes: &[u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.writable().await?;
            match guard
                .try_io(|inner| nix::unistd::write(inner.get_ref(), bytes).map_err(io::Error::from))
            {
                Ok(result) => return result,
                Err(_would_block) => continue,
            }
        }
    }
}

/// Points `link` at `target`, replacing whatever `link` was, atomically.
pub fn point_link(link: &Path, target: &Path) -> io::Result<()> {
    let mut temporary = link.as_os_str().to_owned();
    temporary.push(format!(".tmp{}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(target, &temporary)?;
    std::fs::rename(&temporary, link)
}

/// Removes `link` if it still points at `target`.
pub fn remove_link(link: &Path, target: &Path) {
    if std::fs::read_link(link).is_ok_and(|current| current == target) {
        let _ = std::fs::remove_file(link);
    }
}
