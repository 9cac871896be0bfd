//! Process wiring for `farmco-cloud serve`: logging, the identity key, the store (database
//! creation, migrations, partitions), the periodic maintenance task, and serving until Ctrl-C or
//! SIGTERM with a graceful shutdown (in-flight requests finish; every acknowledged write was
//! committed before its answer, so nothing needs flushing).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{self, AppState, SharedState};
use crate::config::{Config, LogFormat};
use crate::keys::CloudKey;
use crate::store::Store;

/// Install the tracing subscriber (human or JSON lines on stderr).
pub fn init_logging(config: &Config) {
    farmco_shell::process::init_logging(&config.log_level, config.log_format == LogFormat::Json);
}

/// Load (or create) the identity key and open the store: create the database if missing, run
/// the migrations, create the readings partitions ahead.
pub async fn open(config: &Config) -> anyhow::Result<(Arc<Store>, Arc<CloudKey>)> {
    let key = CloudKey::load_or_create(&config.data_dir)?;
    let store = Store::open(&config.database, &key.public_key())
        .await
        .context("opening the database")?;
    let report = store
        .maintain_partitions(
            crate::store::now().date(),
            config.readings.partition_interval_days,
            config.readings.partitions_ahead_days,
        )
        .await
        .context("creating readings partitions")?;
    if !report.created.is_empty() {
        tracing::info!(created = ?report.created, rows_moved = report.rows_moved, "readings partitions created");
    }
    Ok((Arc::new(store), Arc::new(key)))
}

/// Create partitions ahead every `maintenance_interval`, until the task is aborted.
async fn maintenance(state: SharedState) {
    let readings = state.config.readings;
    let mut tick = tokio::time::interval(readings.maintenance_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state
            .store
            .maintain_partitions(
                crate::store::now().date(),
                readings.partition_interval_days,
                readings.partitions_ahead_days,
            )
            .await
        {
            Ok(report) => {
                if !report.created.is_empty() {
                    state
                        .metrics
                        .partitions_created
                        .inc_by(report.created.len() as u64);
                    tracing::info!(created = ?report.created, rows_moved = report.rows_moved, "readings partitions created");
                }
            }
            Err(e) => tracing::error!(error = %e, "readings partition maintenance failed"),
        }
    }
}

/// Every `fleet.check_interval`: judge every node, raise and resolve fleet alerts, drop old
/// heartbeat history (`store::fleet`), until the task is aborted.
async fn fleet_watch(state: SharedState) {
    let fleet = state.config.fleet;
    let mut tick = tokio::time::interval(fleet.check_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match state.store.check_fleet(&fleet, crate::store::now()).await {
            Ok(report) if report.raised > 0 || report.resolved > 0 => {
                tracing::info!(
                    raised = report.raised,
                    resolved = report.resolved,
                    "fleet alerts"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "fleet check failed"),
        }
    }
}

/// Serve on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    store: Arc<Store>,
    key: Arc<CloudKey>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state: SharedState = Arc::new(AppState::new(store.clone(), config, key));
    let maintenance_task = tokio::spawn(maintenance(state.clone()));
    let fleet_task = tokio::spawn(fleet_watch(state.clone()));
    let app = api::router(state);
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("HTTP server failed");
    maintenance_task.abort();
    fleet_task.abort();
    store.close();
    result
}

pub use farmco_shell::process::shutdown_signal;

/// `serve`: open everything, bind the configured address, serve until a signal.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let (store, key) = open(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, node_id = %key.public_key_hex(), "farmco-cloud listening");
    println!("farmco-cloud listening on http://{addr}");
    serve(config, store, key, listener, shutdown_signal()).await
}
