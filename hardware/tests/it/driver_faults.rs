//! The driver against every fault the simulator injects: a dropped response (to a query and
//! to a send), garbage bytes, `+CMS ERROR 500` (retried) and permanent errors (not), a reset
//! in the middle of a send, a full SIM, a hung modem, and USB re-enumeration (also in the
//! middle of a send). In each: no received message is lost, every send gets its outcome.

use farmco_hardware::driver::{ModemError, ModemEvent};
use farmco_hardware::sim::FaultPlan;

use crate::harness::{driver_config, eventually, sim_settings, start_driver, start_sim};

#[tokio::test]
async fn a_dropped_response_to_a_query_is_survived() {
    let sim = start_sim(sim_settings(), false).await;
    let mut config = driver_config(&sim);
    config.health_interval_ms = 200;
    let mut modem = start_driver(config).await;
    sim.sim
        .arm_faults(&FaultPlan {
            drop_responses: 1,
            drop_response_prefix: Some("AT+CSQ".to_owned()),
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    // The poll times out, the probe answers, the modem is initialised again.
    modem
        .expect(|event| matches!(event, ModemEvent::ModemReady))
        .await;
    assert!(modem.handle.health().counters.command_timeouts >= 1);
    assert_eq!(sim.sim.faults().drop_responses, 0);
    let outcome = modem
        .handle
        .send_sms("+919812345678", "after the hiccup", false)
        .await
        .unwrap();
    assert_eq!(outcome.parts, 1);
}

#[tokio::test]
async fn a_dropped_send_response_means_at_least_once() {
    let sim = start_sim(sim_settings(), false).await;
    let modem = start_driver(driver_config(&sim)).await;
    sim.sim
        .arm_faults(&FaultPlan {
            drop_responses: 1,
            drop_response_prefix: Some("AT+CMGS".to_owned()),
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    let outcome = modem
        .handle
        .send_sms("+919812345678", "rain tomorrow", false)
        .await
        .unwrap();
    // The first copy went out but its answer was lost; the driver sent it again.
    let outbox = sim.sim.outbox();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|entry| entry.text == "rain tomorrow"));
    assert_eq!(outcome.message_refs, outbox[1].message_refs);
}

#[tokio::test]
async fn garbage_on_the_line_is_skipped() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    sim.sim
        .arm_faults(&FaultPlan {
            garbage_responses: 6,
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    modem
        .handle
        .send_sms("+919812345678", "through the noise", true)
        .await
        .unwrap();
    sim.sim
        .send_sms("+919812345679", "noise in, text out")
        .unwrap();
    let (sms, ack) = modem.next_sms().await;
    assert_eq!(sms.text, "noise in, text out");
    ack.ack();
    eventually("the garbage to be used up", || {
        sim.sim.faults().garbage_responses == 0
    })
    .await;
    assert!(modem.handle.health().counters.garbage_lines >= 1);
    assert_eq!(sim.sim.outbox().len(), 1);
}

#[tokio::test]
async fn cms_error_500_is_retried_and_permanent_errors_are_not() {
    let sim = start_sim(sim_settings(), false).await;
    let modem = start_driver(driver_config(&sim)).await;
    sim.sim
        .arm_faults(&FaultPlan {
            cms_errors: 2,
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    let outcome = modem
        .handle
        .send_sms("+919812345678", "retried", false)
        .await
        .unwrap();
    assert_eq!(outcome.parts, 1);
    assert_eq!(modem.handle.health().counters.sms_send_errors, 2);

    sim.sim
        .arm_faults(&FaultPlan {
            cms_errors: 1,
            cms_error_code: Some(304),
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    let refused = modem
        .handle
        .send_sms("+919812345678", "refused", false)
        .await;
    assert!(
        matches!(
            refused,
            Err(ModemError::SendFailed {
                permanent: true,
                parts_sent: 0,
                ..
            })
        ),
        "{refused:?}"
    );

    sim.sim
        .arm_faults(&FaultPlan {
            cms_errors: 10,
            cms_error_code: Some(500),
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    let exhausted = modem.handle.send_sms("+919812345678", "never", false).await;
    assert!(
        matches!(
            exhausted,
            Err(ModemError::SendFailed {
                permanent: false,
                ..
            })
        ),
        "{exhausted:?}"
    );
    let texts: Vec<String> = sim
        .sim
        .outbox()
        .into_iter()
        .map(|entry| entry.text)
        .collect();
    assert_eq!(texts, vec!["retried".to_owned()]);
}

#[tokio::test]
async fn a_reset_mid_send_is_recovered_and_the_part_sent_once() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    sim.sim
        .arm_faults(&FaultPlan {
            resets_mid_send: 1,
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    let outcome = modem
        .handle
        .send_sms(
            "+919812345678",
            crate::driver_send::HINDI_THREE_PARTS,
            false,
        )
        .await
        .unwrap();
    assert_eq!(outcome.parts, 3);
    let outbox = sim.sim.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].text, crate::driver_send::HINDI_THREE_PARTS);
    assert_eq!(sim.sim.stats().reboots, 1);
    // The reboot lost the modem's settings; the driver restored them, so +CMTI still comes.
    sim.sim
        .send_sms("+919812345679", "after the reset")
        .unwrap();
    let (sms, ack) = modem.next_sms().await;
    assert_eq!(sms.text, "after the reset");
    ack.ack();
}

#[tokio::test]
async fn storage_full_at_run_time_is_drained_without_loss() {
    let sim = start_sim(sim_settings(), false).await;
    let mut config = driver_config(&sim);
    config.health_interval_ms = 200;
    let mut modem = start_driver(config).await;
    sim.sim
        .arm_faults(&FaultPlan {
            sim_capacity: Some(2),
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    // The edge is slow: it holds the first acks while more messages arrive.
    for n in 0..5 {
        sim.sim
            .send_sms("+919800000004", &format!("flood {n}"))
            .unwrap();
    }
    let (first, first_ack) = modem.next_sms().await;
    let (second, second_ack) = modem.next_sms().await;
    modem
        .expect(|event| matches!(event, ModemEvent::Health(health) if health.sim_storage_full))
        .await;
    assert!(sim.sim.stats().network_queue_len >= 1);
    first_ack.ack();
    second_ack.ack();
    let mut seen = vec![first.text, second.text];
    while seen.len() < 5 {
        let (sms, ack) = modem.next_sms().await;
        seen.push(sms.text);
        ack.ack();
    }
    seen.sort();
    let expected: Vec<String> = (0..5).map(|n| format!("flood {n}")).collect();
    assert_eq!(seen, expected);
    eventually("the SIM to empty", || sim.sim.stats().sim_used == 0).await;
}

#[tokio::test]
async fn a_hung_modem_is_declared_lost_and_comes_back() {
    let sim = start_sim(sim_settings(), false).await;
    let mut config = driver_config(&sim);
    // The whole ladder (timeout, 3 probes, reset, wait, 3 probes) takes about 3 s here, so a
    // 5 s hang outlasts it and the port is closed and reopened.
    config.timeouts.command_ms = 500;
    config.timeouts.list_ms = 500;
    config.timeouts.send_ms = 500;
    let mut modem = start_driver(config).await;
    sim.sim
        .arm_faults(&FaultPlan {
            hang_ms: Some(5_000),
            ..FaultPlan::default()
        })
        .await
        .unwrap();
    let handle = modem.handle.clone();
    let send = tokio::spawn(async move {
        handle
            .send_sms("+919812345678", "sent after the hang", false)
            .await
    });
    modem
        .expect(|event| matches!(event, ModemEvent::ModemLost { .. }))
        .await;
    modem
        .expect(|event| matches!(event, ModemEvent::ModemReady))
        .await;
    let outcome = send.await.unwrap().unwrap();
    assert_eq!(outcome.parts, 1);
    let health = modem.handle.health();
    assert!(health.counters.modem_resets >= 1);
    assert!(health.counters.port_reopens >= 1);
    assert!(
        sim.sim
            .outbox()
            .iter()
            .any(|entry| entry.text == "sent after the hang")
    );
}

#[tokio::test]
async fn usb_re_enumeration_mid_send_is_survived() {
    let mut settings = sim_settings();
    settings.cmgs_delay_ms = 400;
    let sim = start_sim(settings, true).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    // A message the edge has not acked yet when the port goes away.
    sim.sim
        .send_sms("+919800000005", "before the replug")
        .unwrap();
    let (before, pending_ack) = modem.next_sms().await;
    assert_eq!(before.text, "before the replug");
    let handle = modem.handle.clone();
    let send = tokio::spawn(async move {
        handle
            .send_sms("+919812345678", "across the replug", false)
            .await
    });
    eventually("the send to start", || {
        sim.sim.stats().first_send_started_unix_ms.is_some()
    })
    .await;
    let old_pty = sim.sim.pty_path();
    // Through the side door, as a test script would.
    let url = format!("http://{}/faults", sim.sim.control_addr().unwrap());
    let armed: serde_json::Value = reqwest::Client::new()
        .post(url)
        .json(&serde_json::json!({"replug": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(armed["replug"], false);
    assert_ne!(sim.sim.pty_path(), old_pty);
    modem
        .expect(|event| matches!(event, ModemEvent::ModemLost { .. }))
        .await;
    modem
        .expect(|event| matches!(event, ModemEvent::ModemReady))
        .await;
    let outcome = send.await.unwrap().unwrap();
    assert_eq!(outcome.parts, 1);
    let sent: Vec<String> = sim
        .sim
        .outbox()
        .into_iter()
        .map(|entry| entry.text)
        .collect();
    assert_eq!(sent, vec!["across the replug".to_owned()]);
    // The unacked message is still on the SIM; acking it now deletes it.
    assert_eq!(sim.sim.stored().len(), 1);
    pending_ack.ack();
    eventually("the message to leave the SIM", || {
        sim.sim.stored().is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_driver_restart_loses_nothing() {
    let sim = start_sim(sim_settings(), false).await;
    let mut first = start_driver(driver_config(&sim)).await;
    sim.sim
        .send_sms("+919800000006", &"a long message ".repeat(15))
        .unwrap();
    let (sms, ack) = first.next_sms().await;
    assert_eq!(sms.parts, 2);
    // The edge crashes before committing: the ack is never given.
    first.handle.shutdown().await.unwrap();
    drop(ack);
    let mut second = start_driver(driver_config(&sim)).await;
    let (again, ack) = second.next_sms().await;
    assert_eq!(again.text, sms.text);
    assert_eq!(again.dedupe_key, sms.dedupe_key);
    ack.ack();
    eventually("the parts to leave the SIM", || sim.sim.stored().is_empty()).await;
}

#[tokio::test]
async fn a_modem_plugged_in_after_start_is_found() {
    crate::harness::init_tracing();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("modem");
    let mut config = farmco_hardware::driver::ModemConfig::new(
        &link,
        farmco_hardware::driver::ModemProfile::Sim800,
    );
    config.reopen_initial_ms = 50;
    config.reopen_max_ms = 200;
    let (handle, events) = farmco_hardware::driver::Modem::spawn(config);
    let mut modem = crate::harness::TestModem { handle, events };
    modem
        .expect(|event| matches!(event, ModemEvent::ModemLost { .. }))
        .await;
    let sim = farmco_hardware::sim::Simulator::start(farmco_hardware::sim::SimConfig {
        settings: sim_settings(),
        link_path: Some(link),
        control_addr: None,
    })
    .await
    .unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::ModemReady))
        .await;
    modem
        .handle
        .send_sms("+919812345678", "found you", false)
        .await
        .unwrap();
    assert_eq!(sim.outbox().len(), 1);
}

#[tokio::test]
async fn sends_fail_once_the_modem_stays_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = farmco_hardware::driver::ModemConfig::new(
        dir.path().join("no-modem-here"),
        farmco_hardware::driver::ModemProfile::Sim800,
    );
    config.unavailable_send_timeout_ms = 300;
    config.reopen_max_ms = 200;
    let (handle, _events) = farmco_hardware::driver::Modem::spawn(config);
    assert_eq!(
        handle.send_sms("+919812345678", "nobody home", false).await,
        Err(ModemError::Unavailable)
    );
    assert_eq!(handle.answer().await, Err(ModemError::Unavailable));
    assert!(handle.health().counters.sms_send_failures >= 1);
}
