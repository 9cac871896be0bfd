//! Sending: one part and a 3-part Hindi message go out with the references the simulator
//! assigned; status reports come back keyed by those references; a queue of messages all
//! get their outcome; invalid input is refused before the modem sees it.

use farmco_hardware::codec::pdu::tpdu::DeliveryOutcome;
use farmco_hardware::driver::{ModemError, ModemEvent};

use crate::harness::{driver_config, eventually, sim_settings, start_driver, start_sim};

/// 197 UTF-16 units of Hindi: three UCS-2 parts of at most 67.
pub const HINDI_THREE_PARTS: &str = "किसान भाइयों के लिए सूचना: कल सुबह से तेज बारिश की संभावना है। कृपया कटी हुई फसल को सुरक्षित स्थान पर रखें और खेतों में पानी की निकासी की व्यवस्था करें। अधिक जानकारी के लिए ग्राम सहायक से मिलें।";

#[tokio::test]
async fn single_and_multipart_messages_go_out_with_their_references() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    let single = modem
        .handle
        .send_sms(
            "+919812345678",
            "Mandi price today: wheat ₹2,275/qtl",
            false,
        )
        .await
        .unwrap();
    assert_eq!(single.parts, 1);
    let hindi = modem
        .handle
        .send_sms("+919812345679", HINDI_THREE_PARTS, true)
        .await
        .unwrap();
    assert_eq!(hindi.parts, 3);
    let outbox = sim.sim.outbox();
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0].to, "+919812345678");
    assert_eq!(outbox[0].text, "Mandi price today: wheat ₹2,275/qtl");
    assert_eq!(outbox[0].message_refs, single.message_refs);
    assert_eq!(outbox[1].text, HINDI_THREE_PARTS);
    assert_eq!(outbox[1].parts, 3);
    assert_eq!(outbox[1].message_refs, hindi.message_refs);
    // One delivery report per part, keyed by the part's reference, each acked.
    let mut reported = Vec::new();
    while reported.len() < 3 {
        let event = modem
            .expect(|event| matches!(event, ModemEvent::DeliveryReport { .. }))
            .await;
        let ModemEvent::DeliveryReport { report, ack } = event else {
            unreachable!()
        };
        assert_eq!(report.outcome, DeliveryOutcome::Delivered);
        assert_eq!(report.recipient, "+919812345679");
        reported.push(report.message_ref);
        ack.ack();
    }
    reported.sort_unstable();
    let mut expected = hindi.message_refs.clone();
    expected.sort_unstable();
    assert_eq!(reported, expected);
    eventually("the reports to leave the SIM", || {
        sim.sim.stored().is_empty()
    })
    .await;
}

#[tokio::test]
async fn every_queued_send_gets_its_outcome() {
    let mut settings = sim_settings();
    settings.cmgs_delay_ms = 20;
    let sim = start_sim(settings, false).await;
    let modem = start_driver(driver_config(&sim)).await;
    let tasks: Vec<_> = (0..10)
        .map(|n| {
            let handle = modem.handle.clone();
            tokio::spawn(async move {
                handle
                    .send_sms("+919800000010", &format!("advisory {n}"), false)
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let texts: Vec<String> = sim
        .sim
        .outbox()
        .into_iter()
        .map(|entry| entry.text)
        .collect();
    assert_eq!(texts.len(), 10);
    let mut sorted = texts.clone();
    sorted.sort();
    let mut expected: Vec<String> = (0..10).map(|n| format!("advisory {n}")).collect();
    expected.sort();
    assert_eq!(sorted, expected);
}

#[tokio::test]
async fn invalid_requests_are_refused_up_front() {
    let sim = start_sim(sim_settings(), false).await;
    let modem = start_driver(driver_config(&sim)).await;
    assert!(matches!(
        modem.handle.send_sms("not a number", "hi", false).await,
        Err(ModemError::InvalidNumber(_))
    ));
    assert!(matches!(
        modem.handle.send_sms("+919812345678", "", false).await,
        Err(ModemError::InvalidText(_))
    ));
    assert!(sim.sim.outbox().is_empty());
    modem.handle.shutdown().await.unwrap();
    assert!(matches!(
        modem.handle.send_sms("+919812345678", "late", false).await,
        Err(ModemError::Stopped)
    ));
}

#[tokio::test]
async fn a_failed_delivery_is_reported_against_its_reference() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    sim.sim
        .arm_faults(&farmco_hardware::sim::FaultPlan {
            delivery_failures: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let outcome = modem
        .handle
        .send_sms("+919812345678", "will it arrive?", true)
        .await
        .unwrap();
    let event = modem
        .expect(|event| matches!(event, ModemEvent::DeliveryReport { .. }))
        .await;
    let ModemEvent::DeliveryReport { report, ack } = event else {
        unreachable!()
    };
    assert_eq!(report.message_ref, outcome.message_refs[0]);
    assert_eq!(report.outcome, DeliveryOutcome::Failed);
    assert_eq!(report.status.0, 0x41);
    ack.ack();
}

#[test]
fn no_setting_can_make_the_driver_spin() {
    let mut config = farmco_hardware::driver::ModemConfig::new(
        "/dev/null",
        farmco_hardware::driver::ModemProfile::Generic,
    );
    config.sweep_interval_ms = 0;
    config.timeouts.send_ms = 0;
    config.send_attempts_max = 0;
    let sane = config.sanitized();
    assert_eq!(
        sane.sweep_interval_ms,
        farmco_hardware::driver::INTERVAL_MS_MIN
    );
    assert_eq!(
        sane.timeouts.send_ms,
        farmco_hardware::driver::TIMEOUT_MS_MIN
    );
    assert_eq!(sane.send_attempts_max, 1);
}
