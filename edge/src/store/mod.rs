//! The node's SQLite store: one writer connection, a few reader connections, WAL mode.
//!
//! Everything the node acknowledges is committed here first: callers get `Ok` only after the
//! transaction commits (with `synchronous = FULL` by default, so even a power cut keeps it).
//! Writes are serialized through the single writer (SQLite allows one writer anyway); reads go to
//! reader connections so queries never wait behind a write. All calls are blocking: the HTTP layer
//! runs them on tokio's blocking pool.
//!
//! Submodules: `migrations` (schema), `farmers` (documents + change log + projections),
//! `users` (accounts and sessions), `audit` (hash-chained audit log).

pub mod alerts;
pub mod answers;
pub mod audit;
pub mod farmers;
pub mod field;
pub mod idempotency;
pub mod ingest;
pub mod migrations;
pub mod notify;
pub mod otp;
pub mod readings;
pub mod sms;
pub mod sync_state;
pub mod users;
pub mod voice;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use farmco_sync::ValidationError;
use farmco_sync::doc::DocError;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};

/// File name of the database inside the data dir.
pub const DB_FILE_NAME: &str = "farmco-edge.db";
/// How long a connection waits for a lock before failing (the writer holds it only briefly).
const BUSY_TIMEOUT_MS: u64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("schema migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("document error: {0}")]
    Doc(#[from] DocError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

pub struct Store {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    actor: [u8; 16],
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("readers", &self.readers.len())
            .finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding the lock cannot leave a half-written transaction behind (it rolls
    // back on drop), so a poisoned connection is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Create the data directory owner-only (0700): it holds personal data and keys. An existing
/// directory is left as it is (it may be shared on purpose), with a warning when others can
/// read it; the files in it are owner-only either way.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir)?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %dir.display(), mode = format!("{:o}", mode & 0o777),
                    "the data directory is open to other users; run chmod 700 on it");
            }
        }
        return Ok(());
    }
    std::fs::create_dir_all(dir)?;
    set_mode(dir, 0o700)
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// SQLite durability level (`PRAGMA synchronous`): `Full` survives power cuts, `Normal`
/// survives process crashes only. A plain value the caller passes to [`Store::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    Full,
    Normal,
}

fn configure(conn: &Connection, synchronous: Synchronous) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(
        None,
        "synchronous",
        match synchronous {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        },
    )?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

impl Store {
    /// Open (creating if needed) the database in `data_dir` and run pending migrations.
    pub fn open(data_dir: &Path, synchronous: Synchronous, readers: usize) -> StoreResult<Store> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE_NAME);
        let mut writer = Connection::open(&path)?;
        // Farmer data: owner-only. SQLite gives the -wal and -shm files the database's mode.
        set_mode(&path, 0o600)?;
        configure(&writer, synchronous)?;
        migrations::migrations().to_latest(&mut writer)?;
        let actor = load_or_create_actor(&writer)?;
        let mut reader_conns = Vec::with_capacity(readers);
        for _ in 0..readers.max(1) {
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            conn.busy_timeout(std::time::Duration::from_millis(BUSY_TIMEOUT_MS))?;
            reader_conns.push(Mutex::new(conn));
        }
        Ok(Store {
            writer: Mutex::new(writer),
            readers: reader_conns,
            next_reader: AtomicUsize::new(0),
            actor,
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// This node's automerge actor id (random, created once, kept in `node_meta`).
    pub fn actor(&self) -> &[u8; 16] {
        &self.actor
    }

    /// Run `f` in an IMMEDIATE transaction on the writer and commit; `Ok` means durable.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Run `f` on a reader connection (a consistent snapshot for the duration of one statement;
    /// wrap several statements in a transaction inside `f` if they must agree).
    pub fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let n = self.readers.len();
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..n {
            if let Ok(conn) = self.readers[(start + i) % n].try_lock() {
                return f(&conn);
            }
        }
        let conn = lock(&self.readers[start % n]);
        f(&conn)
    }
}

fn load_or_create_actor(conn: &Connection) -> StoreResult<[u8; 16]> {
    let existing: Option<Vec<u8>> = conn
        .query_row(
            "SELECT value FROM node_meta WHERE key = 'actor_id'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(bytes) = existing {
        return bytes
            .try_into()
            .map_err(|_| StoreError::Corrupt("node_meta.actor_id is not 16 bytes".into()));
    }
    let actor: [u8; 16] = rand::random();
    conn.execute(
        "INSERT INTO node_meta (key, value) VALUES ('actor_id', ?1)",
        [actor.as_slice()],
    )?;
    Ok(actor)
}

/// Milliseconds since the Unix epoch, from the wall clock (shell code only).
pub fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn the_data_dir_and_database_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        let store = Store::open(&dir, Synchronous::Normal, 1).unwrap();
        store
            .write(|tx| Ok(tx.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")?))
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(store.path()), 0o600);
        let wal = dir.join(format!("{DB_FILE_NAME}-wal"));
        assert_eq!(mode(&wal), 0o600);
    }
}
