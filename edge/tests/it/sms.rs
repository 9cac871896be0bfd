//! The SMS service inside the node: exactly-once answers across re-emission, the whole path
//! through the in-process simulator over a real pseudo-terminal (reply, delivery report),
//! registration by SMS confirmed by an agent, consent, language choice (Marathi told from
//! Hindi) and incomplete multipart messages.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use farmco_edge::config::{Config, ModemDevice};
use farmco_edge::modem::ModemLink;
use farmco_edge::sms::{self, Handled, Incoming, ServiceContext};
use farmco_edge::store::Store;
use farmco_edge::store::sms as sms_store;
use farmco_hardware::sim::{SimConfig, SimSettings, Simulator};
use serde_json::json;

use crate::support::{OTHER_VILLAGE, TestNode, VILLAGE};

const STRANGER: &str = "+919800000002";

fn ctx() -> ServiceContext {
    ServiceContext {
        offset: time::UtcOffset::from_hms(5, 30, 0).unwrap(),
    }
}

fn incoming(from: &str, text: &str, key: &str) -> Incoming {
    Incoming {
        sender: from.to_owned(),
        text: text.to_owned(),
        smsc_unix_s: Some(1_768_400_000),
        parts: 1,
        parts_expected: 1,
        complete: true,
        dedupe_key: key.to_owned(),
    }
}

fn seed_wheat_price(store: &Store) {
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO advisories (id, seq, village_codes, kind, title, body, valid_from_ms,
                     valid_until_ms, created_ms, received_ms)
                 VALUES ('p1', 1, '[\"563412\"]', 'mandi_price', 'wheat', ?1, 0, NULL, 0, 0)",
                [
                    json!({"crop": "wheat", "market": "Parner APMC", "min_inr_per_quintal": 2350,
                        "max_inr_per_quintal": 2600, "modal_inr_per_quintal": 2480,
                        "as_of": "2026-01-14"})
                    .to_string(),
                ],
            )?;
            Ok(())
        })
        .unwrap();
}

fn outbox(store: &Store) -> Vec<sms_store::OutboxEntry> {
    store
        .read(|c| sms_store::list_outbox(c, None, 100))
        .unwrap()
}

#[test]
fn a_re_emitted_message_is_acknowledged_but_not_answered_twice() {
    let node = TestNode::new();
    let store = &node.state.store;
    seed_wheat_price(store);
    let sms = incoming(STRANGER, "PRICE WHEAT", "k-1");
    let first = sms::handle_incoming(store, &sms, ctx(), 1_000).unwrap();
    assert!(
        matches!(
            first,
            Handled::Answered {
                reply_id: Some(_),
                ..
            }
        ),
        "{first:?}"
    );
    let again = sms::handle_incoming(store, &sms, ctx(), 2_000).unwrap();
    assert_eq!(again, Handled::Duplicate);
    let out = outbox(store);
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].body,
        "Wheat 14.01.26: Rs 2350-2600, modal Rs 2480/quintal at Parner APMC"
    );
}

#[test]
fn unknown_senders_get_public_answers_and_registration_instructions() {
    let node = TestNode::new();
    let store = &node.state.store;
    let reply = |text: &str, key: &str| {
        sms::handle_incoming(store, &incoming(STRANGER, text, key), ctx(), 1_000).unwrap();
        outbox(store)[0].body.clone()
    };
    assert!(reply("मिट्टी", "a").starts_with("नंबर पंजीकृत नहीं"));
    assert!(reply("hello there", "b").starts_with("This number is not registered"));
    assert!(reply("mausam", "c").starts_with("No weather notice"));
    assert!(reply("bhav gehun", "d").starts_with("No Wheat price"));
    // LANG for an unregistered phone is kept and used for its next replies.
    assert_eq!(reply("LANG hi", "e"), "अब जवाब हिंदी में आएंगे।");
    assert!(reply("help", "f").starts_with("भाव <फसल>"));
    // STOP is recorded with its time.
    reply("STOP", "g");
    let consent = store
        .read(|c| sms_store::alert_consent(c, STRANGER))
        .unwrap();
    assert_eq!(consent, Some((false, 1_000)));
    // An operator's alphanumeric sender is stored, not answered.
    let handled = sms::handle_incoming(
        store,
        &incoming("AX-AIRTEL", "Recharge now", "h"),
        ctx(),
        1_000,
    )
    .unwrap();
    assert!(
        matches!(handled, Handled::Answered { reply_id: None, .. }),
        "{handled:?}"
    );
}

#[test]
fn an_incomplete_multipart_message_is_kept_and_answered_as_best_it_can() {
    let node = TestNode::new();
    let store = &node.state.store;
    seed_wheat_price(store);
    let mut sms = incoming(STRANGER, "भाव गेहूं […]", "partial");
    sms.parts = 1;
    sms.parts_expected = 2;
    sms.complete = false;
    sms::handle_incoming(store, &sms, ctx(), 1_000).unwrap();
    let inbox = store.read(|c| sms_store::list_inbox(c, 10)).unwrap();
    assert!(!inbox[0].complete);
    assert_eq!(inbox[0].command, "price");
    assert!(outbox(store)[0].body.contains("₹2480"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_by_sms_is_confirmed_by_an_agent_of_the_village() {
    let node = TestNode::new();
    let store = node.state.store.clone();
    sms::handle_incoming(
        &store,
        &incoming(STRANGER, "REG Asha More", "r"),
        ctx(),
        1_000,
    )
    .unwrap();
    assert!(outbox(&store)[0].body.starts_with("Thank you Asha More"));
    let agent = node.login("agent").await;
    let (status, body) = node
        .call("GET", "/api/v1/sms/registrations", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let pending = body["registrations"].as_array().unwrap();
    assert_eq!(pending.len(), 1);
    // A pending registration has no village yet: agents see the phone's last digits only
    // (review 2026-12, finding 10); supervisors see it whole.
    let masked = format!(
        "{}{}",
        "*".repeat(STRANGER.len() - 4),
        &STRANGER[STRANGER.len() - 4..]
    );
    assert_eq!(pending[0]["phone"], masked);
    let sup = node.login("super").await;
    let (_, whole) = node
        .call("GET", "/api/v1/sms/registrations", Some(&sup), None)
        .await;
    assert_eq!(whole["registrations"][0]["phone"], STRANGER);
    let id = pending[0]["id"].as_i64().unwrap();
    let confirm = format!("/api/v1/sms/registrations/{id}/confirm");

    let other = node.login("agent2").await;
    let (status, _) = node
        .call(
            "POST",
            &confirm,
            Some(&other),
            Some(json!({"village_code": VILLAGE})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not this agent's village");
    let (status, _) = node
        .call(
            "POST",
            &confirm,
            Some(&other),
            Some(json!({"village_code": OTHER_VILLAGE})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "agent2 may register into its own village"
    );
    let (status, _) = node
        .call(
            "POST",
            &confirm,
            Some(&agent),
            Some(json!({"village_code": VILLAGE})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no longer pending");

    // The farmer exists now and gets answers meant for farmers.
    let farmer = store
        .read(|c| sms_store::farmer_by_phone(c, STRANGER))
        .unwrap();
    assert_eq!(farmer.map(|f| f.name), Some("Asha More".to_owned()));
    assert!(outbox(&store)[0].body.starts_with("Welcome Asha More"));
    sms::handle_incoming(&store, &incoming(STRANGER, "SOIL", "s"), ctx(), 2_000).unwrap();
    assert!(outbox(&store)[0].body.starts_with("No soil test on record"));
    let (status, _) = node
        .call("GET", "/api/v1/sms/inbox", Some(&agent), None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "the inbox is for supervisors"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marathi_speakers_are_answered_in_marathi() {
    const MARATHI_FARMER: &str = "+919800000011";
    const NEWCOMER: &str = "+919800000012";
    let node = TestNode::new();
    let store = node.state.store.clone();
    seed_wheat_price(&store);
    let reply = |from: &str, text: &str, key: &str| {
        sms::handle_incoming(&store, &incoming(from, text, key), ctx(), 1_000).unwrap();
        outbox(&store)[0].body.clone()
    };
    // A stranger: Marathi words get Marathi, with the crop named in Marathi.
    assert_eq!(
        reply(STRANGER, "भाव गहू", "m1"),
        "गहू 14.01.26: ₹2350-2600, सरासरी ₹2480/क्विंटल, Parner APMC"
    );
    assert!(reply(STRANGER, "हवामान", "m2").starts_with("हवामानाची सूचना अजून"));
    assert!(reply(STRANGER, "माती", "m3").starts_with("नंबर नोंदलेला नाही."));
    // Words Hindi and Marathi share: Hindi, as for any Devanagari text.
    assert!(reply(STRANGER, "भाव तूर", "m4").starts_with("तूर का भाव"));
    // LANG MR is kept for the phone: shared words and Latin commands now get Marathi.
    assert_eq!(reply(STRANGER, "LANG MR", "m5"), "आता उत्तरे मराठीत येतील.");
    assert_eq!(
        reply(STRANGER, "BHAV KANDA", "m6"),
        "कांदा: भाव अजून उपलब्ध नाही. नंतर पुन्हा विचारा."
    );
    assert!(reply(STRANGER, "भाव तूर", "m7").starts_with("तूर: भाव अजून"));

    // A registered Marathi farmer gets Marathi whatever the words.
    let agent = node.login("agent").await;
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/farmers",
            Some(&agent),
            Some(
                json!({"name": "Sunita Kale", "phone": MARATHI_FARMER, "language": "mr",
                "village_code": VILLAGE}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(reply(MARATHI_FARMER, "PRICE WHEAT", "f1").starts_with("गहू 14.01.26: ₹2350-2600"));
    assert!(reply(MARATHI_FARMER, "भाव गेहूं", "f2").starts_with("गहू 14.01.26"));
    assert_eq!(
        reply(MARATHI_FARMER, "SOIL", "f3"),
        "तुमची माती तपासणी नोंदलेली नाही. एजंटकडे मृदा आरोग्य पत्रिका मागा."
    );

    // Registration with the Marathi word: stored as Marathi, welcomed in Marathi.
    assert_eq!(
        reply(NEWCOMER, "नोंदणी सुनीता काळे", "r1"),
        "धन्यवाद सुनीता काळे! नोंदणी अर्ज मिळाला, एजंट पुष्टी करतील."
    );
    let pending = store
        .read(|c| sms_store::list_registrations(c, Some("pending"), 10))
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].language, "mr");
    let farmer = sms::confirm_registration(
        &store,
        pending[0].id,
        farmco_sync::VillageCode::parse("v", VILLAGE).unwrap(),
        "agent",
        ctx().offset,
        2_000,
    )
    .unwrap();
    assert_eq!(farmer.language, farmco_sync::Language::Mr);
    assert_eq!(
        outbox(&store)[0].body,
        "स्वागत सुनीता काळे! नोंदणी पूर्ण. मेनूसाठी मदत पाठवा."
    );
}

/// Poll (at most `rounds` × 100 ms) until `f` returns `Some`.
async fn wait_for<T>(rounds: usize, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    for _ in 0..rounds {
        if let Some(v) = f() {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    f()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_simulator_a_reply_is_sent_and_its_delivery_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path().to_owned());
    let store = Arc::new(Store::open(dir.path(), config.synchronous, 2).unwrap());
    seed_wheat_price(&store);
    let sim = Simulator::start(SimConfig {
        settings: SimSettings {
            cmgs_delay_ms: 0,
            status_report_delay_ms: 50,
            ..SimSettings::default()
        },
        link_path: None,
        control_addr: None,
    })
    .await
    .unwrap();
    config.modem.device = ModemDevice::Serial(sim.port_path());
    let metrics = farmco_edge::metrics::Metrics::new();
    let link = ModemLink::start(&config.modem, &config.sms, store.clone(), &metrics, None)
        .await
        .unwrap()
        .unwrap();
    sim.send_sms(STRANGER, "भाव गेहूं").unwrap();
    let sent = wait_for(300, || {
        let out = sim.outbox();
        (!out.is_empty()).then_some(out)
    })
    .await
    .expect("a reply went out");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, STRANGER);
    assert!(sent[0].text.starts_with("गेहूं 14.01.26"), "{}", sent[0].text);
    let delivered = wait_for(300, || {
        outbox(&store).into_iter().find(|e| e.state == "delivered")
    })
    .await
    .expect("the delivery report marked the reply delivered");
    assert!(delivered.delivered_ms.is_some());
    // The message left the SIM after the node acknowledged it.
    assert!(
        wait_for(300, || sim.stored().is_empty().then_some(()))
            .await
            .is_some(),
        "SIM store: {:?}",
        sim.stored()
    );
    link.refresh_metrics(&metrics, &store.read(sms_store::outbox_counts).unwrap());
    let text = metrics.render();
    assert!(
        text.contains("farmco_edge_sms_outbox_messages{state=\"delivered\"} 1"),
        "{text}"
    );
    assert!(text.contains("farmco_edge_modem_registered 1"), "{text}");
    link.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_confirming_at_once_create_one_farmer_and_one_welcome() {
    let node = TestNode::new();
    let store = node.state.store.clone();
    sms::handle_incoming(
        &store,
        &incoming(STRANGER, "REG Asha More", "r"),
        ctx(),
        1_000,
    )
    .unwrap();
    let id = store
        .read(|c| sms_store::list_registrations(c, None, 10))
        .unwrap()[0]
        .id;
    // Many confirmations racing on the blocking pool: exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            sms::confirm_registration(
                &store,
                id,
                farmco_sync::VillageCode::parse("v", VILLAGE).unwrap(),
                "agent",
                time::UtcOffset::from_hms(5, 30, 0).unwrap(),
                2_000,
            )
            .is_ok()
        }));
    }
    let mut confirmed = 0;
    for t in tasks {
        confirmed += usize::from(t.await.unwrap());
    }
    assert_eq!(confirmed, 1);
    let (farmers, welcomes): (i64, i64) = store
        .read(|c| {
            Ok((
                c.query_row(
                    "SELECT COUNT(*) FROM farmers WHERE phone = ?1",
                    [STRANGER],
                    |r| r.get(0),
                )?,
                c.query_row(
                    "SELECT COUNT(*) FROM sms_outbox WHERE kind = 'registration'",
                    [],
                    |r| r.get(0),
                )?,
            ))
        })
        .unwrap();
    assert_eq!((farmers, welcomes), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_queued_alerts_and_is_written_into_the_farmer_document() {
    let node = TestNode::new();
    let store = node.state.store.clone();
    let agent = node.login("agent").await;
    let farmer = node.farmer(&agent, "Kisan Jadhav", STRANGER).await;
    let phone = farmco_sync::PhoneNumber::parse("p", STRANGER).unwrap();
    let alert = |body: &str, priority| sms_store::OutgoingSms {
        to: phone.clone(),
        body: body.to_owned(),
        priority,
        kind: "alert".to_owned(),
    };
    let queued = store
        .write(|tx| {
            Ok(sms_store::enqueue(
                tx,
                &alert("Dry soil on farm 1", sms_store::Priority::Alert),
                1_000,
            )
            .unwrap())
        })
        .unwrap();
    sms::handle_incoming(&store, &incoming(STRANGER, "STOP", "stop"), ctx(), 2_000).unwrap();
    let row = store
        .read(|c| sms_store::outbox_entry(c, queued))
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "failed");
    assert_eq!(
        row.last_error.as_deref(),
        Some(sms_store::CANCELLED_BY_STOP)
    );
    // The STOP confirmation itself (a reply) still goes.
    let stop_reply = outbox(&store).into_iter().find(|r| r.id != queued).unwrap();
    assert_eq!(stop_reply.state, "queued");
    // The farmer's document records the withdrawal.
    let (status, body) = node
        .call(
            "GET",
            &format!("/api/v1/farmers/{farmer}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["consents"]["sms"], false, "{body}");

    // Something queued later anyway (an old retry, a race) is cancelled at send time; a reply
    // is not.
    let late = store
        .write(|tx| {
            Ok(sms_store::enqueue(
                tx,
                &alert("Rain tomorrow", sms_store::Priority::Bulk),
                3_000,
            )
            .unwrap())
        })
        .unwrap();
    let claim = store
        .write(|tx| sms_store::claim_with_consent(tx, late, "2026-01-01", 3_000))
        .unwrap();
    assert_eq!(claim, sms_store::Claim::ConsentWithdrawn);
    let claim = store
        .write(|tx| sms_store::claim_with_consent(tx, stop_reply.id, "2026-01-01", 3_000))
        .unwrap();
    assert_eq!(claim, sms_store::Claim::Claimed);
}
