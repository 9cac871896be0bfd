//! Shared test setup: a simulator with test timing on a pty (with a link in a temporary
//! directory, so replugs keep the path), a driver configured with short timeouts, and
//! helpers that wait for events without timing assertions (a generous ceiling only, so a
//! hang fails instead of blocking the suite).

#![allow(dead_code)]

use std::time::Duration;

use farmco_hardware::driver::{
    Modem, ModemConfig, ModemEvent, ModemHandle, ModemProfile, Timeouts,
};
use farmco_hardware::sim::{SimConfig, SimHandle, SimSettings, Simulator};
use tokio::sync::mpsc;

/// The most any single wait in a test may take before the test fails.
pub const WAIT_CEILING: Duration = Duration::from_secs(20);

/// Simulator timing for tests: no send delay, quick boot and rings.
pub fn sim_settings() -> SimSettings {
    SimSettings {
        cmgs_delay_ms: 0,
        status_report_delay_ms: 50,
        boot_ms: 200,
        ring_interval_ms: 300,
        dial_answer_ms: 100,
        tts_ms_per_char: 1,
        ..SimSettings::default()
    }
}

/// A running simulator and the directory holding its link.
pub struct TestSim {
    pub sim: SimHandle,
    pub dir: tempfile::TempDir,
}

/// Logs to the test's output when `RUST_LOG` is set (e.g. `RUST_LOG=farmco_hardware=debug`).
pub fn init_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
}

pub async fn start_sim(settings: SimSettings, control: bool) -> TestSim {
    init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let sim = Simulator::start(SimConfig {
        settings,
        link_path: Some(dir.path().join("modem")),
        control_addr: control.then(|| "127.0.0.1:0".parse().unwrap()),
    })
    .await
    .unwrap();
    TestSim { sim, dir }
}

/// Driver settings for tests: short timeouts and backoffs, slow periodic work (tests that
/// need a sweep or poll set their own interval).
pub fn driver_config(sim: &TestSim) -> ModemConfig {
    let mut config = ModemConfig::new(sim.sim.port_path(), ModemProfile::Sim800);
    config.timeouts = Timeouts {
        command_ms: 1_000,
        send_ms: 1_500,
        list_ms: 2_000,
        dial_ms: 3_000,
        probe_ms: 300,
        reset_wait_ms: 500,
    };
    config.health_interval_ms = 60_000;
    config.sweep_interval_ms = 60_000;
    config.send_retry_initial_ms = 50;
    config.send_retry_max_ms = 200;
    config.reopen_initial_ms = 50;
    config.reopen_max_ms = 400;
    config.incomplete_message_timeout_ms = 60_000;
    config
}

/// A driver on the simulator, waited until ready.
pub struct TestModem {
    pub handle: ModemHandle,
    pub events: mpsc::Receiver<ModemEvent>,
}

pub async fn start_driver(config: ModemConfig) -> TestModem {
    let (handle, events) = Modem::spawn(config);
    let mut modem = TestModem { handle, events };
    modem
        .expect(|event| matches!(event, ModemEvent::ModemReady))
        .await;
    modem
}

impl TestModem {
    /// The next event that `matches`, skipping (and dropping) others. Skipped SMS events
    /// drop their acks, which leaves the messages on the SIM.
    pub async fn expect(&mut self, matches: impl Fn(&ModemEvent) -> bool) -> ModemEvent {
        let deadline = tokio::time::Instant::now() + WAIT_CEILING;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .expect("timed out waiting for a modem event")
                .expect("the driver stopped");
            if matches(&event) {
                return event;
            }
        }
    }

    /// The next received SMS (skipping everything else).
    pub async fn next_sms(
        &mut self,
    ) -> (
        farmco_hardware::driver::ReceivedSms,
        farmco_hardware::driver::Ack,
    ) {
        match self
            .expect(|event| matches!(event, ModemEvent::SmsReceived { .. }))
            .await
        {
            ModemEvent::SmsReceived { sms, ack } => (sms, ack),
            _ => unreachable!(),
        }
    }
}

/// Polls `condition` until it holds (or the ceiling passes, failing the test).
pub async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT_CEILING;
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
