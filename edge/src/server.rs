//! Process wiring for `farmco-edge run`: open the store, build the state and router, serve until
//! Ctrl-C or SIGTERM, then shut down cleanly (in-flight requests finish; SQLite needs no flush
//! because every acknowledged write was already committed).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::api::{self, AppState};
use crate::config::{Config, LogFormat};
use crate::store::Store;

/// Install the tracing subscriber (human or JSON lines on stderr).
pub fn init_logging(config: &Config) {
    farmco_shell::process::init_logging(&config.log_level, config.log_format == LogFormat::Json);
}

/// Open the node's store as configured.
pub fn open_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    // The identity is created on first start, whatever the command.
    crate::identity::load_or_create_node_key(&config.data_dir)?;
    let store = Store::open(
        &config.data_dir,
        config.synchronous,
        config.reader_connections,
    )
    .with_context(|| format!("opening the store in {}", config.data_dir.display()))?;
    Ok(Arc::new(store))
}

/// Serve the API on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    store: Arc<Store>,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let sync_config = config.sync.clone();
    let state = Arc::new(AppState::new(store.clone(), config).context("loading the farm index")?);
    let key = Arc::new(crate::identity::load_or_create_node_key(&data_dir)?);
    let for_index = state.clone();
    let on_farms: crate::sync_client::FarmsChanged = Arc::new(move |changed| {
        for (_, farms) in changed {
            for_index.reindex_farms(farms);
        }
    });
    let mut client = crate::sync_client::SyncClient::new(store, key, sync_config, Some(on_farms))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // The heartbeat's health report reads the modem lazily: it starts after the sync task.
    let for_modem = state.clone();
    client.set_health_source(crate::sync_health::HealthSource {
        sms_daily_cap: state.config.sms.cap.cap,
        offset: state.config.sms.offset,
        modem: Some(Arc::new(move || {
            for_modem
                .modem
                .get()
                .map(|link| crate::sync_health::modem_health(&link.handle.health()))
        })),
    });
    let (sync_handle, sync_task) = crate::sync_client::spawn(client);
    let _ = state.sync.set(sync_handle.clone());
    let (call_events, call_events_rx) =
        tokio::sync::mpsc::channel(crate::modem::CALL_EVENT_CHANNEL_CAPACITY);
    let modem = crate::modem::ModemLink::start(
        &state.config.modem,
        &state.config.sms,
        state.store.clone(),
        &state.metrics,
        Some(call_events),
    )
    .await?;
    // Voice and notifications (issue #6): stopped before the modem on shutdown.
    let (services_stop, services_stopped) = tokio::sync::watch::channel(false);
    let services_stopped_for_sweeper = services_stopped.clone();
    let mut service_tasks = Vec::new();
    let mut voice = None;
    let mut outbox_wake = None;
    if let Some(link) = &modem {
        let (handle, task) = crate::voice::task::spawn(
            crate::voice::task::VoiceService {
                store: state.store.clone(),
                modem: link.handle.clone(),
                in_call: link.in_call.clone(),
                outbox_wake: link.outbox_waker(),
                config: state.config.voice.clone(),
                router: state.config.notify.router,
            },
            call_events_rx,
            services_stopped.clone(),
        );
        voice = Some(handle);
        outbox_wake = Some(link.outbox_waker());
        service_tasks.push(task);
    }
    let (notify_handle, notify_task) = crate::notify::executor::spawn(
        crate::notify::executor::Executor {
            store: state.store.clone(),
            config: state.config.notify,
            voice,
            outbox_wake,
        },
        services_stopped,
    );
    let (alert_hook, alerts_raised) =
        tokio::sync::mpsc::channel(crate::notify::executor::ALERT_HOOK_CAPACITY);
    service_tasks.push(tokio::spawn(crate::notify::executor::forward_alerts(
        state.store.clone(),
        alerts_raised,
        notify_handle.clone(),
    )));
    service_tasks.push(notify_task);
    let _ = state.notify.set(notify_handle);
    service_tasks.push(crate::api::idempotency::spawn_sweeper(
        state.store.clone(),
        services_stopped_for_sweeper,
    ));
    if let Some(link) = modem {
        if let Some(url) = link.simulator_control_url() {
            // Not println!: a closed stdout (a supervisor that read only the first line) must
            // not take the node down.
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "modem simulator control: {url}");
            let _ = writeln!(
                out,
                "  text the box: curl -X POST {url}/sms -H 'content-type: application/json' -d '{{\"from\":\"+919812345678\",\"text\":\"BHAV GEHUN\"}}'; replies: curl {url}/outbox"
            );
            let _ = writeln!(
                out,
                "  call the box: curl -X POST {url}/call -H 'content-type: application/json' -d '{{\"from\":\"+919822000000\"}}'; keys: {url}/dtmf {{\"digits\":\"1\"}}; heard: curl {url}/spoken"
            );
            let _ = out.flush();
        }
        let _ = state.modem.set(link);
    }
    let ingest = crate::ingest::IngestService::start(
        &state.config,
        crate::ingest::IngestDeps {
            store: state.store.clone(),
            metrics: state.metrics.ingest.clone(),
            rules: state.alert_rules.clone(),
            hook: Some(alert_hook),
        },
    )
    .await
    .context("starting MQTT ingest")?;
    let app = api::router(state.clone());
    // One shutdown signal for both listeners.
    let (stop_http, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_http.send(true);
    });
    let https = match start_https(&state.config, app.clone(), stopping.clone()).await {
        Ok(task) => task,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "HTTPS not started");
            None
        }
    };
    let mut stopping_http = stopping.clone();
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = stopping_http.wait_for(|s| *s).await;
    })
    .await
    .context("HTTP server failed")?;
    if let Some(task) = https {
        let _ = task.await;
    }
    ingest.shutdown().await;
    sync_handle.shutdown().await;
    let _ = sync_task.await;
    let _ = services_stop.send(true);
    for task in service_tasks {
        let _ = task.await;
    }
    if let Some(link) = state.modem.get() {
        link.shutdown().await;
    }
    Ok(())
}

/// Serve the same app over HTTPS on `tls_listen` when the data dir has a certificate
/// (`farmco-edge tls init`). Returns the server task, or `None` when HTTPS is off.
async fn start_https(
    config: &Config,
    app: axum::Router,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(addr) = config.tls_listen else {
        return Ok(None);
    };
    let Some(tls) = crate::tls::server_config(&config.data_dir)? else {
        tracing::info!("no TLS certificate in the data dir: HTTPS off (farmco-edge tls init)");
        return Ok(None);
    };
    let tcp = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr} for HTTPS"))?;
    let local = tcp.local_addr()?;
    let listener = crate::tls::TlsListener::new(tcp, tls)?;
    // Handlers read the client's address as ConnectInfo<SocketAddr> (login limits).
    let app = app.layer(axum::middleware::map_request(
        |axum::extract::ConnectInfo(crate::tls::TlsClientAddr(peer)): axum::extract::ConnectInfo<
            crate::tls::TlsClientAddr,
        >,
         mut req: axum::extract::Request| async move {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            req
        },
    ));
    tracing::info!(%local, "farmco-edge https listening");
    println!("farmco-edge https listening on https://{local}");
    Ok(Some(tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<crate::tls::TlsClientAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stopping.wait_for(|s| *s).await;
        })
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "HTTPS server failed");
        }
    })))
}

pub use farmco_shell::process::shutdown_signal;

/// Bind and serve with the configured address; used by `run` and `demo`.
pub async fn run(config: Config, store: Arc<Store>) -> anyhow::Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "farmco-edge listening");
    println!("farmco-edge listening on http://{addr}");
    serve(config, store, listener, shutdown_signal()).await
}
