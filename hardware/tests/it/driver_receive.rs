//! Receiving: `+CMTI` → read → event → ack → only then deleted; multipart reassembled and
//! deleted as a whole; no ack means the message stays and comes again; messages stored while
//! the driver was down are picked up at start; a full SIM is detected and drained.

use farmco_hardware::driver::ModemEvent;

use crate::harness::{driver_config, eventually, sim_settings, start_driver, start_sim};

#[tokio::test]
async fn a_message_is_deleted_only_after_the_ack() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    sim.sim.send_sms("+919812345678", "wheat price?").unwrap();
    let (sms, ack) = modem.next_sms().await;
    assert_eq!(sms.sender, "+919812345678");
    assert_eq!(sms.text, "wheat price?");
    assert!(sms.complete);
    assert_eq!(sms.sim_indices, vec![1]);
    // Not acked yet: still on the SIM.
    assert_eq!(sim.sim.stored().len(), 1);
    ack.ack();
    eventually("the message to leave the SIM", || {
        sim.sim.stored().is_empty()
    })
    .await;
    modem.handle.shutdown().await.unwrap();
}

#[tokio::test]
async fn multipart_hindi_is_reassembled_and_deleted_as_a_whole() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    let text = "मेरी गेहूँ की फसल में पीले धब्बे दिख रहे हैं। पत्तियाँ सूख रही हैं और पौधे कमज़ोर हो गए हैं। कृपया बताइए कौन सी दवा डालूँ और कितनी मात्रा में? धन्यवाद।";
    let summary = sim.sim.send_sms("+919812345678", text).unwrap();
    assert_eq!(summary.parts, 3);
    let (sms, ack) = modem.next_sms().await;
    assert_eq!(sms.text, text);
    assert_eq!((sms.parts, sms.parts_expected), (3, 3));
    assert_eq!(sms.sim_indices, vec![1, 2, 3]);
    assert_eq!(sim.sim.stored().len(), 3);
    ack.ack();
    eventually("all parts to leave the SIM", || sim.sim.stored().is_empty()).await;
}

#[tokio::test]
async fn an_unacked_message_stays_and_comes_again() {
    let sim = start_sim(sim_settings(), false).await;
    let mut config = driver_config(&sim);
    config.sweep_interval_ms = 200;
    let mut modem = start_driver(config).await;
    sim.sim.send_sms("+919812345678", "first try").unwrap();
    let (sms, ack) = modem.next_sms().await;
    assert_eq!(sms.text, "first try");
    drop(ack);
    let (again, ack) = modem.next_sms().await;
    assert_eq!(again.text, "first try");
    assert_eq!(again.dedupe_key, sms.dedupe_key);
    assert_eq!(sim.sim.stored().len(), 1);
    ack.ack();
    eventually("the message to leave the SIM", || {
        sim.sim.stored().is_empty()
    })
    .await;
}

#[tokio::test]
async fn messages_stored_while_down_are_picked_up_at_start() {
    let sim = start_sim(sim_settings(), false).await;
    sim.sim
        .send_sms("+919800000001", "sent at night 1")
        .unwrap();
    sim.sim
        .send_sms("+919800000002", &"long night message ".repeat(12))
        .unwrap();
    let mut modem = start_driver(driver_config(&sim)).await;
    let mut texts = Vec::new();
    for _ in 0..2 {
        let (sms, ack) = modem.next_sms().await;
        texts.push(sms.text.clone());
        ack.ack();
    }
    texts.sort();
    assert_eq!(texts[1], "sent at night 1");
    assert_eq!(texts[0], "long night message ".repeat(12));
    eventually("the SIM to be drained", || sim.sim.stored().is_empty()).await;
}

#[tokio::test]
async fn a_full_sim_is_detected_and_drained_and_nothing_is_lost() {
    let mut settings = sim_settings();
    settings.sim_capacity = 3;
    let sim = start_sim(settings, false).await;
    for n in 0..7 {
        sim.sim
            .send_sms("+919800000003", &format!("message {n}"))
            .unwrap();
    }
    assert_eq!(sim.sim.stats().network_queue_len, 4);
    let mut config = driver_config(&sim);
    config.health_interval_ms = 300;
    let mut modem = start_driver(config).await;
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let (sms, ack) = modem.next_sms().await;
        seen.push(sms.text.clone());
        ack.ack();
    }
    seen.sort();
    let expected: Vec<String> = (0..7).map(|n| format!("message {n}")).collect();
    assert_eq!(seen, expected);
    eventually("the SIM and network queue to be empty", || {
        let stats = sim.sim.stats();
        stats.sim_used == 0 && stats.network_queue_len == 0
    })
    .await;
    assert!(modem.handle.health().counters.storage_full_events >= 1);
    let health = modem
        .expect(|event| matches!(event, ModemEvent::Health(health) if !health.sim_storage_full))
        .await;
    assert!(matches!(health, ModemEvent::Health(_)));
}
