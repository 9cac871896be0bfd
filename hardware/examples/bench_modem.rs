//! Benchmark: how busy the driver keeps the modem when messages queue up.
//!
//! Starts the simulator in-process with a realistic send time (`--cmgs-delay-ms`, default
//! 3000: a SIM800 on a live network), starts the driver on its pty, queues `--messages`
//! (default 50) single-part messages at once and waits for every outcome. The modem is
//! "busy" while an `AT+CMGS` is being sent (the simulator's own accounting); the figure is
//! busy time over the span from the first send starting to the last one finishing. Whatever
//! is not busy is the driver's turnaround: parsing `+CMGS`, writing the next command, the
//! prompt round trip, health polls and sweeps in between.
//!
//! Run with `hardware/scripts/bench-modem` (about `messages × delay` seconds). Exits 1 when
//! the figure is below `--target-percent` (default 95).

use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use farmco_hardware::driver::{Modem, ModemConfig, ModemEvent, ModemProfile};
use farmco_hardware::sim::{SimConfig, SimSettings, Simulator};

#[derive(Debug, Parser)]
struct Args {
    /// Messages queued at once.
    #[arg(long, default_value_t = 50)]
    messages: usize,
    /// How long each AT+CMGS keeps the simulated modem busy.
    #[arg(long, default_value_t = 3000)]
    cmgs_delay_ms: u64,
    /// The busy share below which the run fails.
    #[arg(long, default_value_t = 95.0)]
    target_percent: f64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir().context("a temporary directory for the modem link")?;
    let sim = Simulator::start(SimConfig {
        settings: SimSettings {
            cmgs_delay_ms: args.cmgs_delay_ms,
            ..SimSettings::default()
        },
        link_path: Some(dir.path().join("modem")),
        control_addr: None,
    })
    .await
    .context("starting the simulator")?;
    let (modem, mut events) = Modem::spawn(ModemConfig::new(sim.port_path(), ModemProfile::Sim800));
    loop {
        match events.recv().await {
            Some(ModemEvent::ModemReady) => break,
            Some(_) => {}
            None => bail!("the driver stopped before it was ready"),
        }
    }
    // Keep draining events (health, reports) so the channel never fills.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    println!(
        "queueing {} messages, {} ms per AT+CMGS ...",
        args.messages, args.cmgs_delay_ms
    );
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.messages)
        .map(|n| {
            let modem = modem.clone();
            tokio::spawn(async move {
                modem
                    .send_sms(
                        "+919812345678",
                        &format!("Advisory {n}: rain expected tomorrow, cover the harvest."),
                        false,
                    )
                    .await
            })
        })
        .collect();
    let mut failures = 0;
    for task in tasks {
        if !matches!(task.await, Ok(Ok(_))) {
            failures += 1;
        }
    }
    let wall = started.elapsed();
    let stats = sim.stats();
    let (Some(first), Some(last)) = (
        stats.first_send_started_unix_ms,
        stats.last_send_finished_unix_ms,
    ) else {
        bail!("nothing was sent");
    };
    let span_ms = last.saturating_sub(first).max(1);
    let busy_percent = 100.0 * stats.send_busy_ms_total as f64 / span_ms as f64;
    let idle_per_message_ms =
        span_ms.saturating_sub(stats.send_busy_ms_total) as f64 / stats.parts_sent.max(1) as f64;
    println!(
        "messages sent:        {} ({} failed)",
        stats.parts_sent, failures
    );
    println!("wall time:            {:.1} s", wall.as_secs_f64());
    println!("first send → last:    {span_ms} ms");
    println!("modem busy sending:   {} ms", stats.send_busy_ms_total);
    println!("idle per message:     {idle_per_message_ms:.1} ms");
    println!("modem busy:           {busy_percent:.2} %");
    modem.shutdown().await.ok();
    sim.shutdown().await;
    if failures > 0 || busy_percent < args.target_percent {
        bail!(
            "busy {busy_percent:.2} % (target {} %), {failures} failures",
            args.target_percent
        );
    }
    Ok(())
}
