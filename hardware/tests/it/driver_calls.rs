//! Voice: an incoming call with caller ID, answered, keys pressed, a prompt spoken, the
//! farmer hanging up; a missed call; dialling out and hanging up; the Quectel profile's
//! speech and key commands; and what a generic modem cannot do.

use farmco_hardware::driver::{CallEndReason, ModemError, ModemEvent, ModemProfile};
use farmco_hardware::sim::{CallDirection, CallEndCause, CallState};

use crate::harness::{TestModem, driver_config, sim_settings, start_driver, start_sim};

async fn keys(modem: &mut TestModem, count: usize) -> String {
    let mut pressed = String::new();
    while pressed.len() < count {
        if let ModemEvent::Dtmf { digit } = modem
            .expect(|event| matches!(event, ModemEvent::Dtmf { .. }))
            .await
        {
            pressed.push(digit);
        }
    }
    pressed
}

#[tokio::test]
async fn an_ivr_call_from_ring_to_hang_up() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    sim.sim.call("+919812345678").unwrap();
    let ring = modem
        .expect(|event| matches!(event, ModemEvent::IncomingCall { .. }))
        .await;
    assert!(
        matches!(ring, ModemEvent::IncomingCall { number: Some(number) } if number == "+919812345678")
    );
    modem.handle.answer().await.unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::CallAnswered))
        .await;
    modem
        .handle
        .speak("नमस्ते किसान भाई, मंडी भाव के लिए 1 दबाएँ")
        .await
        .unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::SpeechFinished))
        .await;
    sim.sim.press_keys("1#").unwrap();
    assert_eq!(keys(&mut modem, 2).await, "1#");
    modem.handle.speak("Wheat 2275 rupees").await.unwrap();
    sim.sim.hang_up().unwrap();
    let ended = modem
        .expect(|event| matches!(event, ModemEvent::CallEnded { .. }))
        .await;
    assert!(matches!(
        ended,
        ModemEvent::CallEnded {
            reason: CallEndReason::RemoteHangup
        }
    ));
    let calls = sim.sim.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].direction, CallDirection::In);
    assert_eq!(calls[0].keys_pressed, "1#");
    assert_eq!(calls[0].end_cause, Some(CallEndCause::RemoteHangup));
    let spoken = sim.sim.spoken();
    assert_eq!(spoken.len(), 2);
    assert_eq!(spoken[0].text, "नमस्ते किसान भाई, मंडी भाव के लिए 1 दबाएँ");
    assert_eq!(spoken[0].command, "AT+CTTS");
    assert_eq!(spoken[0].call_id, Some(calls[0].id));
    assert_eq!(spoken[1].text, "Wheat 2275 rupees");
}

#[tokio::test]
async fn a_call_nobody_answers_is_missed() {
    let mut settings = sim_settings();
    settings.rings_before_missed = 2;
    let sim = start_sim(settings, false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    sim.sim.call("+919812345678").unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::IncomingCall { .. }))
        .await;
    let ended = modem
        .expect(|event| matches!(event, ModemEvent::CallEnded { .. }))
        .await;
    assert!(matches!(
        ended,
        ModemEvent::CallEnded {
            reason: CallEndReason::Missed
        }
    ));
    assert!(matches!(
        modem.handle.answer().await,
        Err(ModemError::CallFailed(_))
    ));
}

#[tokio::test]
async fn dialling_out_and_hanging_up() {
    let sim = start_sim(sim_settings(), false).await;
    let mut modem = start_driver(driver_config(&sim)).await;
    modem.handle.dial("+919812345678").await.unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::CallAnswered))
        .await;
    let calls = sim.sim.calls();
    assert_eq!(calls[0].direction, CallDirection::Out);
    assert_eq!(calls[0].state, CallState::Active);
    modem.handle.hang_up().await.unwrap();
    let ended = modem
        .expect(|event| matches!(event, ModemEvent::CallEnded { .. }))
        .await;
    assert!(matches!(
        ended,
        ModemEvent::CallEnded {
            reason: CallEndReason::LocalHangup
        }
    ));
    assert_eq!(
        sim.sim.calls()[0].end_cause,
        Some(CallEndCause::LocalHangup)
    );
    assert!(matches!(
        modem.handle.dial("12ab").await,
        Err(ModemError::InvalidNumber(_))
    ));
}

#[tokio::test]
async fn the_quectel_profile_speaks_and_hears_its_own_dialect() {
    let sim = start_sim(sim_settings(), false).await;
    let mut config = driver_config(&sim);
    config.profile = ModemProfile::Quectel;
    let mut modem = start_driver(config).await;
    sim.sim.call("+919812345678").unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::IncomingCall { .. }))
        .await;
    modem.handle.answer().await.unwrap();
    modem.handle.speak("स्वागत है").await.unwrap();
    modem
        .expect(|event| matches!(event, ModemEvent::SpeechFinished))
        .await;
    sim.sim.press_keys("*9").unwrap();
    assert_eq!(keys(&mut modem, 2).await, "*9");
    let spoken = sim.sim.spoken();
    assert_eq!(spoken[0].command, "AT+QTTS");
    assert_eq!(spoken[0].text, "स्वागत है");
}

#[tokio::test]
async fn a_generic_modem_cannot_speak() {
    let sim = start_sim(sim_settings(), false).await;
    let mut config = driver_config(&sim);
    config.profile = ModemProfile::Generic;
    let modem = start_driver(config).await;
    assert_eq!(
        modem.handle.speak("hello").await,
        Err(ModemError::Unsupported(ModemProfile::Generic))
    );
}
