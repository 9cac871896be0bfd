//! `farmco-modem-sim`: a simulated SIM800-class GSM modem on a pseudo-terminal, for the demo,
//! for manual testing, and for real modem software (gammu) to talk to.
//!
//! It prints the pty path (and points `--link` at it), then serves until SIGINT/SIGTERM.
//! `--control 127.0.0.1:PORT` starts the HTTP side door to play the farmer (see the
//! `farmco_hardware::sim::control` docs for the routes and `POST /faults` for fault
//! injection). Timing defaults are those of a live network; tests pass `--cmgs-delay-ms 0`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use farmco_hardware::sim::{SimConfig, SimSettings, Simulator};

/// A simulated SIM800-class GSM modem on a pseudo-terminal.
#[derive(Debug, Parser)]
#[command(name = "farmco-modem-sim", version)]
struct Args {
    /// Make a symlink at this path pointing to the pty (re-pointed on a replug).
    #[arg(long)]
    link: Option<PathBuf>,
    /// Serve the HTTP side door on this address (loopback only: it has no authentication).
    #[arg(long)]
    control: Option<SocketAddr>,
    /// How long AT+CMGS keeps the modem busy, in milliseconds.
    #[arg(long, default_value_t = 3000)]
    cmgs_delay_ms: u64,
    /// SIM message slots.
    #[arg(long, default_value_t = 30)]
    sim_capacity: u16,
    /// From a send to its status report, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    status_report_delay_ms: u64,
    /// From a reboot to RDY, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    boot_ms: u64,
    /// From ATD to the far end answering, in milliseconds.
    #[arg(long, default_value_t = 2000)]
    dial_answer_ms: u64,
    /// Between RINGs of an unanswered call, in milliseconds.
    #[arg(long, default_value_t = 4000)]
    ring_interval_ms: u64,
    /// Text-to-speech time per character, in milliseconds.
    #[arg(long, default_value_t = 60)]
    tts_ms_per_char: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    if let Some(addr) = args.control
        && !addr.ip().is_loopback()
    {
        tracing::warn!(%addr, "the side door has no authentication; bind it to loopback");
    }
    let settings = SimSettings {
        cmgs_delay_ms: args.cmgs_delay_ms,
        sim_capacity: args.sim_capacity,
        status_report_delay_ms: args.status_report_delay_ms,
        boot_ms: args.boot_ms,
        dial_answer_ms: args.dial_answer_ms,
        ring_interval_ms: args.ring_interval_ms,
        tts_ms_per_char: args.tts_ms_per_char,
        ..SimSettings::default()
    };
    let handle = Simulator::start(SimConfig {
        settings,
        link_path: args.link.clone(),
        control_addr: args.control,
    })
    .await
    .context("starting the modem simulator")?;
    println!("pty: {}", handle.pty_path().display());
    if let Some(link) = handle.link_path() {
        println!("link: {}", link.display());
    }
    if let Some(addr) = handle.control_addr() {
        println!("control: http://{addr}");
    }
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    handle.shutdown().await;
    Ok(())
}
