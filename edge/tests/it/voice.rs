//! Voice over the in-process simulator on a real pseudo-terminal, with the real voice task:
//! a registered farmer calls and uses the menu in Hindi (price, repeat, silence → two repeats
//! then goodbye and hang-up), a Marathi farmer hears Marathi and the star key cycles through
//! Marathi, Hindi and English, a missed call is called back (answered → the menu), a busy line
//! is retried later, and a voice notification is dialed and read out.

use std::sync::Arc;
use std::time::Duration;

use farmco_edge::config::{Config, ModemDevice};
use farmco_edge::modem::{CALL_EVENT_CHANNEL_CAPACITY, ModemLink};
use farmco_edge::store::Store;
use farmco_edge::store::voice as voice_store;
use farmco_edge::voice::task::{VoiceHandle, VoiceService};
use farmco_hardware::sim::{
    CallDirection, CallEndCause, CallState, SimConfig, SimHandle, SimSettings, Simulator,
};
use farmco_sync::{Consents, Farmer, FarmerId, Language, PersonName, PhoneNumber, VillageCode};
use farmco_village::notify::router::{Message, Notification, Source, Urgency};
use farmco_village::voice::callback::CallbackState;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::support::VILLAGE;

const FARMER_PHONE: &str = "+919812345670";
const MENU_START_HI: &str = "मंडी भाव के लिए 1 दबाएं";

struct Rig {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    sim: SimHandle,
    link: ModemLink,
    voice: VoiceHandle,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    farmer: FarmerId,
}

impl Rig {
    async fn start(settings: SimSettings, tune: impl FnOnce(&mut Config)) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path().to_owned());
        config.voice.flow.answer_after_rings = 1;
        config.voice.flow.menu_timeout_ms = 1_500;
        config.voice.flow.speech_guard_ms = 10_000;
        config.voice.flow.dtmf_debounce_ms = 0;
        config.voice.callback.first_delay_ms = 0;
        tune(&mut config);
        let store = Arc::new(Store::open(dir.path(), config.synchronous, 2).unwrap());
        let farmer = Farmer {
            id: FarmerId(uuid::Uuid::from_u128(0x5eed)),
            name: PersonName::parse("n", "Sunita Pawar").unwrap(),
            phone: PhoneNumber::parse("p", FARMER_PHONE).unwrap(),
            language: Language::Hi,
            village_code: VillageCode::parse("v", VILLAGE).unwrap(),
            consents: Consents {
                sms: true,
                voice: true,
                data_sharing: false,
            },
        };
        store
            .create_farmer(&farmer, "test", farmco_edge::store::now_ms())
            .unwrap();
        seed_wheat_price(&store);
        let sim = Simulator::start(SimConfig {
            settings,
            link_path: None,
            control_addr: None,
        })
        .await
        .unwrap();
        config.modem.device = ModemDevice::Serial(sim.port_path());
        let metrics = farmco_edge::metrics::Metrics::new();
        let (tx, rx) = mpsc::channel(CALL_EVENT_CHANNEL_CAPACITY);
        let link = ModemLink::start(
            &config.modem,
            &config.sms,
            store.clone(),
            &metrics,
            Some(tx),
        )
        .await
        .unwrap()
        .unwrap();
        // Caller ID and DTMF reports are switched on by the driver's initialisation.
        wait_for(100, || farmco_edge::modem::is_ready(&link).then_some(()))
            .await
            .expect("the modem is ready");
        let (stop, stopped) = watch::channel(false);
        let (voice, task) = farmco_edge::voice::task::spawn(
            VoiceService {
                store: store.clone(),
                modem: link.handle.clone(),
                in_call: link.in_call.clone(),
                outbox_wake: link.outbox_waker(),
                config: config.voice.clone(),
                router: config.notify.router,
            },
            rx,
            stopped,
        );
        Rig {
            _dir: dir,
            store,
            sim,
            link,
            voice,
            stop,
            task,
            farmer: farmer.id,
        }
    }

    fn spoken(&self) -> Vec<String> {
        self.sim.spoken().into_iter().map(|s| s.text).collect()
    }

    fn count(&self, needle: &str) -> usize {
        self.spoken().iter().filter(|t| t.contains(needle)).count()
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.link.shutdown().await;
    }
}

fn fast_sim() -> SimSettings {
    SimSettings {
        cmgs_delay_ms: 0,
        tts_ms_per_char: 1,
        ring_interval_ms: 500,
        dial_answer_ms: 300,
        ..SimSettings::default()
    }
}

fn seed_wheat_price(store: &Store) {
    store
        .write(|tx| {
            tx.execute(
                "INSERT INTO advisories (id, seq, village_codes, kind, title, body, valid_from_ms,
                     valid_until_ms, created_ms, received_ms)
                 VALUES ('p1', 1, ?1, 'mandi_price', 'wheat', ?2, 0, NULL, 0, 0)",
                [
                    json!([VILLAGE]).to_string(),
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
async fn a_farmer_calls_hears_the_wheat_price_in_hindi_repeats_it_and_silence_ends_the_call() {
    let rig = Rig::start(fast_sim(), |_| {}).await;
    rig.sim.call(FARMER_PHONE).unwrap();
    wait_for(200, || (rig.count(MENU_START_HI) >= 1).then_some(()))
        .await
        .unwrap_or_else(|| {
            panic!(
                "no menu: {:?} {:?}",
                rig.spoken(),
                rig.store.read(|c| voice_store::list_calls(c, 10))
            )
        });
    assert!(
        rig.spoken()[0].contains("नमस्ते"),
        "greeting first: {:?}",
        rig.spoken()
    );
    rig.sim.press_keys("1").unwrap();
    wait_for(200, || (rig.count("गेहूं") >= 1).then_some(()))
        .await
        .unwrap_or_else(|| panic!("no price: {:?}", rig.spoken()));
    let price = rig.spoken().into_iter().find(|t| t.contains("गेहूं")).unwrap();
    assert!(price.contains("2480") && price.contains("रुपये"), "{price}");
    // The menu follows the answer; then 0 repeats the answer.
    wait_for(200, || (rig.count(MENU_START_HI) >= 2).then_some(()))
        .await
        .unwrap_or_else(|| panic!("no menu after the price: {:?}", rig.spoken()));
    rig.sim.press_keys("0").unwrap();
    wait_for(200, || (rig.count("गेहूं") >= 2).then_some(()))
        .await
        .unwrap_or_else(|| panic!("not repeated: {:?}", rig.spoken()));
    // Silence: the menu after the repeat, then two silent repeats, then goodbye and hang-up.
    let ended = wait_for(400, || {
        rig.sim
            .calls()
            .into_iter()
            .find(|c| c.state == CallState::Ended)
    })
    .await
    .unwrap_or_else(|| panic!("the box never hung up: {:?}", rig.spoken()));
    assert_eq!(ended.end_cause, Some(CallEndCause::LocalHangup));
    assert_eq!(ended.keys_pressed, "10");
    assert_eq!(
        rig.count(MENU_START_HI),
        3 + 2,
        "menu after greeting, price, repeat, then two silent repeats: {:?}",
        rig.spoken()
    );
    assert!(
        rig.spoken().last().unwrap().contains("धन्यवाद"),
        "{:?}",
        rig.spoken()
    );
    // The call log holds every spoken text and both keys, in order.
    let calls = rig.store.read(|c| voice_store::list_calls(c, 10)).unwrap();
    let call = wait_for(50, || {
        let calls = rig.store.read(|c| voice_store::list_calls(c, 10)).unwrap();
        calls.into_iter().find(|c| c.outcome.is_some())
    })
    .await
    .unwrap_or_else(|| panic!("call not closed: {calls:?}"));
    assert_eq!(call.outcome.as_deref(), Some("completed"));
    assert_eq!(call.language, "hi");
    let keys: String = call
        .events
        .iter()
        .filter(|e| e.kind == "key")
        .map(|e| e.text.as_str())
        .collect();
    assert_eq!(keys, "10");
    let prompts: Vec<&str> = call
        .events
        .iter()
        .filter_map(|e| e.prompt.as_deref())
        .collect();
    assert_eq!(prompts.first(), Some(&"ivr-greeting"));
    assert_eq!(prompts.last(), Some(&"ivr-goodbye"));
    assert!(!rig.link.in_call.load(std::sync::atomic::Ordering::Acquire));
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_marathi_farmer_hears_marathi_by_text_to_speech_and_star_cycles_the_languages() {
    const MARATHI_PHONE: &str = "+919812345679";
    const MENU_START_MR: &str = "बाजारभावासाठी 1 दाबा";
    let rig = Rig::start(fast_sim(), |c| {
        // A long wait for a key: the test presses them as each prompt ends.
        c.voice.flow.menu_timeout_ms = 30_000;
    })
    .await;
    // Marathi has no recorded prompts: the modem's text-to-speech gets the Marathi text (as
    // UCS-2 on a SIM800, which cannot pronounce it: docs/voice-and-notifications.md).
    let defaults = Config::for_tests(std::path::PathBuf::from("/nonexistent"));
    assert_eq!(
        defaults.voice.prompts.get(&Language::Mr),
        Some(&farmco_edge::config::voice::PromptMode::Tts)
    );
    assert_eq!(
        defaults.voice.flow.languages,
        [Language::Mr, Language::Hi, Language::En]
    );
    let farmer = Farmer {
        id: FarmerId(uuid::Uuid::from_u128(0x3a7a)),
        name: PersonName::parse("n", "Sunita Kale").unwrap(),
        phone: PhoneNumber::parse("p", MARATHI_PHONE).unwrap(),
        language: Language::Mr,
        village_code: VillageCode::parse("v", VILLAGE).unwrap(),
        consents: Consents {
            sms: true,
            voice: true,
            data_sharing: false,
        },
    };
    rig.store
        .create_farmer(&farmer, "test", farmco_edge::store::now_ms())
        .unwrap();
    rig.sim.call(MARATHI_PHONE).unwrap();
    wait_for(200, || (rig.count(MENU_START_MR) >= 1).then_some(()))
        .await
        .unwrap_or_else(|| panic!("no Marathi menu: {:?}", rig.spoken()));
    assert!(
        rig.spoken()[0].starts_with("नमस्कार. फार्मको शेतकरी हेल्पलाइनमध्ये"),
        "{:?}",
        rig.spoken()
    );
    let spoken = rig.sim.spoken();
    assert!(spoken.iter().all(|s| s.command == "AT+CTTS"), "{spoken:?}");
    rig.sim.press_keys("1").unwrap();
    let price = wait_for(200, || {
        rig.spoken()
            .into_iter()
            .find(|t| t.starts_with("बाजारभाव."))
    })
    .await
    .unwrap_or_else(|| panic!("no price: {:?}", rig.spoken()));
    assert!(
        price.contains("गहू") && price.contains("क्विंटलला 2480 रुपये"),
        "{price}"
    );
    wait_for(200, || (rig.count(MENU_START_MR) >= 2).then_some(()))
        .await
        .unwrap_or_else(|| panic!("no menu after the price: {:?}", rig.spoken()));
    // Star: Marathi → Hindi → English → Marathi (`voice.languages` = ["mr", "hi", "en"]).
    for (announcement, menu) in [
        ("अब हिंदी में बात होगी।", MENU_START_HI),
        ("Now speaking English.", "For mandi prices press 1."),
        ("आता मराठीत बोलूया.", MENU_START_MR),
    ] {
        let menus_before = rig.count(menu);
        rig.sim.press_keys("*").unwrap();
        wait_for(200, || {
            (rig.count(announcement) >= 1 && rig.count(menu) > menus_before).then_some(())
        })
        .await
        .unwrap_or_else(|| panic!("no {announcement:?} then menu: {:?}", rig.spoken()));
    }
    rig.sim.hang_up().unwrap();
    let call = wait_for(100, || {
        let calls = rig.store.read(|c| voice_store::list_calls(c, 10)).unwrap();
        calls.into_iter().find(|c| c.outcome.is_some())
    })
    .await
    .expect("the call is closed");
    assert_eq!(call.language, "mr");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_call_is_called_back_and_the_menu_runs() {
    // The box waits three rings: the farmer rings off first (a missed call).
    let rig = Rig::start(fast_sim(), |c| {
        c.voice.flow.answer_after_rings = 3;
        c.voice.flow.ring_interval_ms = 5_000;
    })
    .await;
    rig.sim.call(FARMER_PHONE).unwrap();
    wait_for(100, || {
        rig.sim
            .calls()
            .first()
            .is_some_and(|c| c.state == CallState::Ringing)
            .then_some(())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    rig.sim.hang_up().unwrap();
    let dialed = wait_for(200, || {
        rig.sim
            .calls()
            .into_iter()
            .find(|c| c.direction == CallDirection::Out)
    })
    .await
    .expect("the box dialed back");
    assert_eq!(dialed.number, FARMER_PHONE);
    wait_for(200, || (rig.count(MENU_START_HI) >= 1).then_some(()))
        .await
        .unwrap_or_else(|| panic!("no menu on the callback: {:?}", rig.spoken()));
    rig.sim.hang_up().unwrap();
    let done = wait_for(100, || {
        rig.store
            .read(|c| voice_store::list_callbacks(c, Some(CallbackState::Done), 10))
            .unwrap()
            .pop()
    })
    .await
    .expect("the callback is done");
    assert_eq!(done.attempts, 1);
    assert_eq!(done.reason, "rang_off");
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_line_is_retried_later_then_answered() {
    let rig = Rig::start(fast_sim(), |c| {
        c.voice.flow.missed_call_mode = true;
        c.voice.callback.retry_delay_ms = 1_500;
    })
    .await;
    rig.sim
        .arm_faults(&farmco_hardware::sim::FaultPlan {
            busy_dials: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    // Missed-call mode: the box rejects the call and calls back.
    rig.sim.call(FARMER_PHONE).unwrap();
    let busy = wait_for(200, || {
        rig.sim
            .calls()
            .into_iter()
            .find(|c| c.direction == CallDirection::Out && c.state == CallState::Ended)
    })
    .await
    .expect("the box dialed back");
    assert_eq!(busy.end_cause, Some(CallEndCause::Busy));
    assert_eq!(
        rig.sim.calls()[0].end_cause,
        Some(CallEndCause::LocalHangup),
        "the incoming call was rejected"
    );
    let pending = wait_for(100, || {
        rig.store
            .read(|c| voice_store::list_callbacks(c, Some(CallbackState::Pending), 10))
            .unwrap()
            .pop()
            .filter(|cb| cb.attempts == 1)
    })
    .await
    .expect("the callback is back in the queue");
    assert_eq!(pending.last_outcome.as_deref(), Some("busy"));
    assert!(
        pending.due_ms > pending.updated_ms,
        "retried later, not at once"
    );
    assert_eq!(pending.reason, "missed_call_mode");
    // The retry is answered and runs the menu.
    rig.voice.wake();
    wait_for(300, || (rig.count(MENU_START_HI) >= 1).then_some(()))
        .await
        .unwrap_or_else(|| panic!("no menu on the retry: {:?}", rig.sim.calls()));
    let outs: Vec<_> = rig
        .sim
        .calls()
        .into_iter()
        .filter(|c| c.direction == CallDirection::Out)
        .collect();
    assert_eq!(outs.len(), 2, "{outs:?}");
    rig.sim.hang_up().unwrap();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_voice_notification_is_dialed_read_out_and_recorded_answered() {
    let rig = Rig::start(fast_sim(), |_| {}).await;
    let config = Config::for_tests(std::path::PathBuf::from("/nonexistent"));
    let n = Notification {
        dedupe_key: "storm-1".into(),
        farmer_id: rig.farmer,
        urgency: Urgency::Critical,
        source: Source::Advisory,
        message: Message {
            key: "weather-warning".into(),
            args: [("text_hi".to_owned(), "आज रात तेज़ आंधी".to_owned())]
                .into_iter()
                .collect(),
        },
    };
    let routed = rig
        .store
        .write(|tx| {
            farmco_edge::store::notify::route_notification(
                tx,
                &config.notify.router,
                config.notify.defaults,
                &n,
                farmco_edge::store::now_ms(),
            )
        })
        .unwrap();
    let id = routed.id.expect("stored");
    rig.voice.wake();
    wait_for(200, || (rig.count("आज रात तेज़ आंधी") >= 1).then_some(()))
        .await
        .unwrap_or_else(|| panic!("not read out: {:?}", rig.spoken()));
    let rows = rig
        .store
        .read(|c| farmco_edge::store::notify::list_notifications(c, rig.farmer, 10))
        .unwrap();
    let voice = rows
        .iter()
        .find(|r| r.id == id)
        .unwrap()
        .attempts
        .iter()
        .find(|a| a.channel == "voice")
        .unwrap()
        .clone();
    assert_eq!(voice.state, "answered", "{voice:?}");
    // The call may already be over (the menu timed out): only its recorded outcome matters here.
    let _ = rig.sim.hang_up();
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_executor_texts_and_calls_a_critical_alert_and_records_the_delivery() {
    let settings = SimSettings {
        status_report_delay_ms: 50,
        ..fast_sim()
    };
    let rig = Rig::start(settings, |_| {}).await;
    let mut config = Config::for_tests(std::path::PathBuf::from("/nonexistent"));
    // No quiet hours, so the weather warning below (high urgency) is texted at once.
    config.notify.defaults.quiet.end_minute = config.notify.defaults.quiet.start_minute;
    let (stop, stopped) = watch::channel(false);
    let (notify, task) = farmco_edge::notify::executor::spawn(
        farmco_edge::notify::executor::Executor {
            store: rig.store.clone(),
            config: config.notify,
            voice: Some(rig.voice.clone()),
            outbox_wake: Some(rig.link.outbox_waker()),
        },
        stopped,
    );
    let alert = farmco_edge::notify::executor::RaisedAlert {
        alert_id: "a-1".into(),
        farmer_id: rig.farmer,
        farm_id: "12/3".into(),
        sensor_id: "s-1".into(),
        rule_id: "dry-soil".into(),
        kind: "dry_soil".into(),
        severity: "critical".into(),
        value: 9.0,
        raised_at_ms: farmco_edge::store::now_ms(),
    };
    let n = farmco_edge::notify::executor::notification_for_alert(&alert);
    notify.submit(n.clone()).await.unwrap();
    // The same alert again (a rule re-firing, a redelivery): suppressed as a duplicate.
    notify.submit(n).await.unwrap();
    let sms = wait_for(300, || {
        rig.sim
            .outbox()
            .into_iter()
            .find(|o| o.text.contains("12/3"))
    })
    .await
    .expect("the alert was texted");
    assert_eq!(sms.to, FARMER_PHONE);
    assert!(sms.text.contains("सिंचाई"), "Hindi: {}", sms.text);
    // The voice call reads the same message once the SMS is out (critical: both channels).
    wait_for(300, || (rig.count("सिंचाई") >= 1).then_some(()))
        .await
        .unwrap_or_else(|| panic!("not read out: {:?}", rig.spoken()));
    let attempts = wait_for(300, || {
        let rows = rig
            .store
            .read(|c| farmco_edge::store::notify::list_notifications(c, rig.farmer, 10))
            .unwrap();
        let states: Vec<(String, String)> = rows
            .iter()
            .flat_map(|r| r.attempts.iter())
            .map(|a| (a.channel.clone(), a.state.clone()))
            .collect();
        (states.contains(&("sms".into(), "delivered".into()))
            && states.contains(&("voice".into(), "answered".into())))
        .then_some((rows.len(), states))
    })
    .await
    .expect("the SMS delivered and the call answered");
    assert_eq!(attempts.0, 1, "the duplicate was not stored: {attempts:?}");
    assert_eq!(attempts.1.len(), 2, "{attempts:?}");
    assert_eq!(rig.sim.outbox().len(), 1, "texted once");
    let counts = rig
        .store
        .read(farmco_edge::store::notify::attempt_counts)
        .unwrap();
    let rates = farmco_edge::store::notify::delivery_rates(&counts);
    assert_eq!(rates, vec![("sms".into(), 1.0), ("voice".into(), 1.0)]);
    // The call may already be over (the menu timed out): only the recorded delivery matters here.
    let _ = rig.sim.hang_up();

    // A weather warning from the cloud for the farmer's village becomes a notification once.
    rig.store
        .write(|tx| {
            tx.execute(
                "INSERT INTO advisories (id, seq, village_codes, kind, title, body, valid_from_ms,
                     valid_until_ms, created_ms, received_ms)
                 VALUES ('w1', 2, ?1, 'weather', 'Hailstorm', ?2, 0, NULL, 0, 0)",
                [
                    json!([VILLAGE]).to_string(),
                    json!({"as_of": "2026-01-14", "severity": "warning",
                        "text": {"en": "Hail tonight", "hi": "आज रात ओले"}})
                    .to_string(),
                ],
            )?;
            Ok(())
        })
        .unwrap();
    let routed =
        farmco_edge::notify::executor::advisory_notifications(&rig.store, &config.notify, {
            farmco_edge::store::now_ms()
        })
        .unwrap();
    assert_eq!(routed, 1);
    let again =
        farmco_edge::notify::executor::advisory_notifications(&rig.store, &config.notify, {
            farmco_edge::store::now_ms()
        })
        .unwrap();
    assert_eq!(again, 0, "an advisory is routed once");
    notify.wake();
    let warning = wait_for(300, || {
        rig.sim
            .outbox()
            .into_iter()
            .find(|o| o.text.contains("आज रात ओले"))
    })
    .await
    .expect("the warning was texted");
    assert!(warning.text.starts_with("मौसम चेतावनी"), "{}", warning.text);
    let _ = stop.send(true);
    let _ = task.await;
    rig.stop().await;
}
