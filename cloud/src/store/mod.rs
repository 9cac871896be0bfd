//! The cloud's PostgreSQL/PostGIS store: a deadpool connection pool, the migrations, and the
//! queries of every component, grouped by table family.
//!
//! Two calling styles, on purpose:
//! - [`Store`] methods run one unit of work in their own transaction (CLI, ops API, tests).
//! - Free functions taking `&Transaction` (`documents::apply_changes_in`,
//!   `readings::insert_readings_in`, `nodes::set_acks_in`, …) let the sync endpoint put a whole
//!   request into ONE transaction: lock the node row, apply documents, insert readings, store the
//!   acknowledgement and the replay answer, commit, and only then answer. So an acknowledged
//!   batch is durable, and a retried one is either answered from the stored response or applied
//!   again as a no-op (automerge deduplicates changes, the change log is unique by hash, readings
//!   insert with ON CONFLICT DO NOTHING).
//!
//! Lock order (to stay deadlock-free): node row (`SELECT … FOR UPDATE`) → per-document advisory
//! locks in ascending doc id order → the audit-chain lock → the change-log sequencer lock. The
//! last two are transaction-scoped advisory locks taken as late as possible.

pub mod advisories;
pub mod audit;
pub mod console;
pub mod documents;
pub mod farms;
pub mod fleet;
pub mod map;
pub mod migrations;
pub mod nodes;
pub mod partitions;
pub mod pg_tls;
pub mod quarantine;
pub mod readings;
pub mod users;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use farmco_sync::{DocError, ValidationError};
use time::OffsetDateTime;
use tokio_postgres::NoTls;

pub use pg_tls::{DbTarget, DbTls};

use crate::config::DatabaseConfig;

pub use migrations::ReadingsBackend;

/// Namespace (first key) of every advisory lock this crate takes, so they cannot collide with
/// another application's locks on the same server. ("FC" in ASCII.)
pub const LOCK_NAMESPACE: i32 = 0x4643;
/// Second keys inside [`LOCK_NAMESPACE`].
pub mod lock_keys {
    /// Held (session-level) while migrations run, so two servers starting together migrate once.
    pub const MIGRATIONS: i32 = 1;
    /// Held from the first change-log insert to commit: sequence numbers become visible in
    /// order, so a reader's cursor never skips a row committed later with a smaller seq.
    pub const CHANGE_LOG: i32 = 2;
    /// Held while appending to the audit chain (each row hashes the previous one).
    pub const AUDIT: i32 = 3;
    /// Held while creating readings partitions.
    pub const PARTITIONS: i32 = 4;
    /// Held while creating an advisory (same visibility argument as the change log).
    pub const ADVISORIES: i32 = 5;
    /// Held by the fleet watch while it raises and resolves fleet alerts.
    pub const FLEET_WATCH: i32 = 6;
}
/// Namespace of the per-document advisory locks (second key derived from the doc id).
pub const DOC_LOCK_NAMESPACE: i32 = 0x4644;

/// Application name shown in `pg_stat_activity`.
const APPLICATION_NAME: &str = "farmco-cloud";

/// What can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {}", db_message(.0))]
    Db(#[from] tokio_postgres::Error),
    #[error("connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error(transparent)]
    Validation(#[from] ValidationError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: String,
    },
    #[error("enrollment refused: {0}")]
    Enrollment(nodes::EnrollmentRefused),
    #[error("document error: {0}")]
    Doc(#[from] DocError),
    /// Stored data that does not decode: a bug or tampering, never bad input.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    /// The SQLSTATE of a database error, if any.
    pub fn sql_state(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            StoreError::Db(e) => e.code(),
            _ => None,
        }
    }
}

/// A database error with the server's message and SQLSTATE (tokio-postgres' own `Display`
/// says only "db error").
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// The current time, read once per operation by the shell and passed down.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Convert a non-negative database integer to `u64`.
pub(crate) fn to_u64(field: &'static str, v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{field} is negative: {v}")))
}

/// Convert a `u64` for a `bigint` column.
pub(crate) fn to_i64(field: &'static str, v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| {
        StoreError::Validation(ValidationError::new(
            field,
            "out_of_range",
            format!("{field} exceeds {}", i64::MAX),
        ))
    })
}

/// The cloud's store.
pub struct Store {
    pool: Pool,
    /// automerge actor id of the cloud (its 32-byte public key), for documents it loads.
    actor: Vec<u8>,
    readings_backend: ReadingsBackend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("pool", &self.pool.status())
            .field("readings_backend", &self.readings_backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Create the database if it is missing, run the migrations, and open the pool.
    pub async fn open(config: &DatabaseConfig, actor: &[u8]) -> anyhow::Result<Store> {
        use anyhow::Context;
        let pg_config = pg_config(&config.url, config.connect_timeout)?;
        ensure_database(&pg_config)
            .await
            .context("creating the database")?;
        let report = migrations::run(&pg_config)
            .await
            .context("running the migrations")?;
        if !report.applied.is_empty() {
            tracing::info!(applied = ?report.applied, backend = ?report.readings_backend, "migrations applied");
        }
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match pg_config.tls.clone() {
            DbTls::Plain => Manager::from_config(pg_config.config, NoTls, manager_config),
            DbTls::Rustls(tls) => Manager::from_config(pg_config.config, tls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .wait_timeout(Some(config.connect_timeout))
            .create_timeout(Some(config.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .context("building the connection pool")?;
        Ok(Store {
            pool,
            actor: actor.to_vec(),
            readings_backend: report.readings_backend,
        })
    }

    /// A pooled connection (start a transaction on it with `transaction()`).
    pub async fn conn(&self) -> StoreResult<deadpool_postgres::Object> {
        Ok(self.pool.get().await?)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The automerge actor id the cloud writes documents as.
    pub fn actor(&self) -> &[u8] {
        &self.actor
    }

    pub fn readings_backend(&self) -> ReadingsBackend {
        self.readings_backend
    }

    /// `SELECT 1` through the pool: readiness.
    pub async fn ping(&self) -> StoreResult<()> {
        let conn = self.conn().await?;
        conn.query_one("SELECT 1", &[]).await?;
        Ok(())
    }

    /// Close the pool (pending connections are dropped).
    pub fn close(&self) {
        self.pool.close();
    }
}

/// Parse the URL (with its `sslmode`, see [`pg_tls`]) and apply our connection settings.
pub fn pg_config(url: &str, connect_timeout: Duration) -> anyhow::Result<DbTarget> {
    let mut target = DbTarget::parse(url).map_err(|e| anyhow::anyhow!("database URL: {e}"))?;
    target.config.connect_timeout(connect_timeout);
    if target.config.get_application_name().is_none() {
        target.config.application_name(APPLICATION_NAME);
    }
    Ok(target)
}

/// Connect once (outside the pool), driving the connection on a task.
pub async fn connect_one(target: &DbTarget) -> StoreResult<tokio_postgres::Client> {
    let client = match &target.tls {
        DbTls::Plain => {
            let (client, connection) = target.config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection closed");
                }
            });
            client
        }
        DbTls::Rustls(tls) => {
            let (client, connection) = target.config.connect(tls.clone()).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection closed");
                }
            });
            client
        }
    };
    Ok(client)
}

/// Quote an SQL identifier (for DDL, which takes no parameters).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Create the database named in `config` if it does not exist, connecting to the `postgres`
/// maintenance database of the same server.
pub async fn ensure_database(target: &DbTarget) -> StoreResult<()> {
    let Some(name) = target.config.get_dbname().map(str::to_owned) else {
        return Err(StoreError::Validation(ValidationError::new(
            "database.url",
            "missing_database",
            "the database URL names no database",
        )));
    };
    let mut admin = target.clone();
    admin.config.dbname("postgres");
    let client = connect_one(&admin).await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        match client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await
        {
            Ok(()) => tracing::info!(database = %name, "created the database"),
            // Another server created it at the same moment: 42P04, or 23505 when both passed
            // the catalog check before either committed.
            Err(e)
                if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE)
                    || e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Take a transaction-scoped advisory lock of ours.
pub(crate) async fn xact_lock(
    tx: &tokio_postgres::Transaction<'_>,
    namespace: i32,
    key: i32,
) -> StoreResult<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&namespace, &key])
        .await?;
    Ok(())
}
