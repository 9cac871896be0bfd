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
use crate::tls::{CertReloader, TlsListener};

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

/// Serve on `listener` until `shutdown` resolves (plain HTTP: tests, or behind a TLS proxy).
pub async fn serve(
    config: Config,
    store: Arc<Store>,
    key: Arc<CloudKey>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with(config, store, key, Listening::Plain(listener), shutdown).await
}

/// What the server listens with.
#[derive(Debug)]
pub enum Listening {
    /// Plain HTTP.
    Plain(TcpListener),
    /// HTTPS terminated here, with this (reloadable) certificate.
    Tls(TcpListener, Arc<CertReloader>),
}

/// Serve on a plain or TLS listener until `shutdown` resolves.
pub async fn serve_with(
    config: Config,
    store: Arc<Store>,
    key: Arc<CloudKey>,
    listening: Listening,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state: SharedState = Arc::new(AppState::new(store.clone(), config, key));
    let maintenance_task = tokio::spawn(maintenance(state.clone()));
    let fleet_task = tokio::spawn(fleet_watch(state.clone()));
    let app = api::router(state);
    let result = match listening {
        Listening::Plain(listener) => {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        Listening::Tls(listener, reloader) => {
            use axum::serve::ListenerExt;
            let tls = TlsListener::new(listener, reloader.server_config()?)
                // Small request/response exchanges: do not wait to coalesce segments.
                .tap_io(|stream| {
                    let _ = stream.get_ref().0.set_nodelay(true);
                });
            axum::serve(tls, app.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
    .context("HTTP server failed");
    maintenance_task.abort();
    fleet_task.abort();
    store.close();
    result
}

pub use farmco_shell::process::shutdown_signal;

/// `serve`: open everything, bind the configured address, serve until a signal. With
/// `[http] tls_cert_file`/`tls_key_file` set, serve HTTPS and reload the certificate on SIGHUP.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // The certificate first: a bad file fails the start before anything else happens.
    let reloader = match &config.tls {
        Some(files) => Some(Arc::new(
            CertReloader::load(files.clone()).context("loading the TLS certificate")?,
        )),
        None => None,
    };
    let (store, key) = open(&config).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, node_id = %key.public_key_hex(), tls = reloader.is_some(), "farmco-cloud listening");
    let listening = match reloader {
        Some(reloader) => {
            // Installed before the address is announced: from then on SIGHUP reloads (its
            // default action would end the process).
            tokio::spawn(
                crate::tls::reload_on_sighup(reloader.clone())
                    .context("installing the SIGHUP handler")?,
            );
            println!("farmco-cloud listening on https://{addr}");
            println!(
                "TLS certificate SPKI sha256 {} (what edges may pin in sync.pin_spki_sha256)",
                reloader.spki_sha256_hex()?
            );
            Listening::Tls(listener, reloader)
        }
        None => {
            println!("farmco-cloud listening on http://{addr}");
            Listening::Plain(listener)
        }
    };
    serve_with(config, store, key, listening, shutdown_signal()).await
}
