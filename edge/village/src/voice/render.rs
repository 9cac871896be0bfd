//! Prompts to speech text, pure: a [`Prompt`] in a [`Language`] → the text the modem speaks,
//! from `edge/locales/*/ivr.ftl`, and that text cut into pieces one text-to-speech command can
//! carry ([`tts_chunks`]).
//!
//! List prompts (prices, forecast days, sensors, alerts) render each item with its `-item`
//! message and join them; the notification prompt renders the message with the notification
//! catalog (`notify::render`). Dates `YYYY-MM-DD` are spoken as `DD.MM.YYYY`.

use farmco_sync::Language;

use super::flow::{Prompt, Topic};
use crate::l10n::{L10nError, Locale, ivr_catalog};
use crate::sms::command::Crop;

/// Longest text given to one text-to-speech command. Hindi and Marathi go to the modem as UCS-2 hex
/// (4 octets a character) in a command line of at most 512 octets (`AT+CTTS=1,"…"` takes 14),
/// so 120 characters fit with room to spare; English would fit more, but one limit is simpler.
pub const TTS_CHUNK_CHARS_MAX: usize = 120;
/// Most items one list prompt speaks (prices, days, sensors, alerts): more is not listened to.
pub const SPOKEN_ITEMS_MAX: usize = 5;

fn date(iso: &str) -> String {
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 => format!("{d}.{m}.{y}"),
        _ => iso.to_owned(),
    }
}

fn date_of_ms(ms: i64, language: Language) -> String {
    let _ = language;
    let offset = time::UtcOffset::from_hms(5, 30, 0).unwrap_or(time::UtcOffset::UTC);
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let t = t.to_offset(offset);
            format!("{:02}.{:02}.{}", t.day(), u8::from(t.month()), t.year())
        })
        .unwrap_or_default()
}

fn whole(v: f64) -> String {
    format!("{}", v.round() as i64)
}

fn topic_key(topic: Topic) -> &'static str {
    match topic {
        Topic::MandiPrices => "mandi_prices",
        Topic::Weather => "weather",
        Topic::SoilCard => "soil_card",
        Topic::SoilMoisture => "soil_moisture",
        Topic::OpenAlerts => "open_alerts",
    }
}

fn commodity(key: &str, locale: Locale) -> String {
    match (locale, Crop::from_word(key)) {
        (Locale::Hi, Some(crop)) => crop.hindi().to_owned(),
        (Locale::Mr, Some(crop)) => crop.marathi().to_owned(),
        (_, Some(crop)) => crop.key().to_owned(),
        _ => key.to_owned(),
    }
}

/// Render `prompt` for the call's `language`.
pub fn render_prompt(prompt: &Prompt, language: Language) -> Result<String, L10nError> {
    let locale = Locale::for_language(language);
    let catalog = ivr_catalog()?;
    let r = |id: &str, args: &[(&str, String)]| catalog.render(locale, id, args);
    let list = |id: &str, items: Vec<Vec<(&str, String)>>| -> Result<String, L10nError> {
        Ok(items
            .iter()
            .take(SPOKEN_ITEMS_MAX)
            .map(|args| catalog.render(locale, id, args))
            .collect::<Result<Vec<_>, _>>()?
            .join(" "))
    };
    let id = prompt.message_id();
    match prompt {
        Prompt::Greeting
        | Prompt::Menu
        | Prompt::AgentWillCallBack
        | Prompt::InvalidKey
        | Prompt::RegistrationInstructions
        | Prompt::VoiceNotEnabled
        | Prompt::Goodbye => r(id, &[]),
        Prompt::MandiPrices(prices) => {
            let items = list(
                "ivr-mandi-price-item",
                prices
                    .iter()
                    .map(|p| {
                        vec![
                            ("commodity", commodity(&p.commodity, locale)),
                            ("market", p.market.clone()),
                            ("date", date(&p.date)),
                            ("modal", p.modal_rs_per_quintal.to_string()),
                            ("min", p.min_rs_per_quintal.to_string()),
                            ("max", p.max_rs_per_quintal.to_string()),
                        ]
                    })
                    .collect(),
            )?;
            r(id, &[("items", items)])
        }
        Prompt::Weather(days) => {
            let items = list(
                "ivr-weather-item",
                days.iter()
                    .map(|d| vec![("date", date(&d.date)), ("condition", d.condition.clone())])
                    .collect(),
            )?;
            r(id, &[("items", items)])
        }
        Prompt::SoilCard(card) => {
            let statuses = card
                .statuses
                .iter()
                .map(|(p, s)| {
                    r(
                        "ivr-soil-status-item",
                        &[("parameter", p.clone()), ("status", s.clone())],
                    )
                })
                .collect::<Result<Vec<_>, _>>()?
                .join(", ");
            let fertilizer = if card.fertilizer.is_empty() {
                r("ivr-fertilizer-none", &[])?
            } else {
                let items = card
                    .fertilizer
                    .iter()
                    .map(|f| {
                        r(
                            "ivr-fertilizer-item",
                            &[("product", f.product.clone()), ("kg", whole(f.kg_per_acre))],
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .join(", ");
                r("ivr-fertilizer", &[("items", items)])?
            };
            r(
                id,
                &[
                    ("date", date(&card.sampled_on)),
                    ("statuses", statuses),
                    ("fertilizer", fertilizer),
                ],
            )
        }
        Prompt::SoilMoisture(farms) => {
            let items = list(
                "ivr-soil-moisture-item",
                farms
                    .iter()
                    .map(|f| {
                        vec![
                            ("field", f.survey_number.clone()),
                            ("percent", whole(f.volumetric_percent)),
                            ("date", date_of_ms(f.measured_at_ms, language)),
                        ]
                    })
                    .collect(),
            )?;
            r(id, &[("items", items)])
        }
        Prompt::OpenAlerts(alerts) => {
            let items = list(
                "ivr-open-alert-item",
                alerts
                    .iter()
                    .map(|a| {
                        vec![
                            ("kind", a.kind.replace('-', "_")),
                            ("date", date_of_ms(a.raised_at_ms, language)),
                        ]
                    })
                    .collect(),
            )?;
            r(id, &[("count", alerts.len().to_string()), ("items", items)])
        }
        Prompt::NotAvailable(topic) => r(id, &[("topic", topic_key(*topic).to_owned())]),
        Prompt::LanguageChanged(code) => r(id, &[("language", code.clone())]),
        Prompt::Notification(message) => r(
            id,
            &[(
                "text",
                crate::notify::render::render_message(message, language),
            )],
        ),
    }
}

/// Cut `text` into pieces of at most [`TTS_CHUNK_CHARS_MAX`] characters, at sentence ends
/// (`.`, `।`) or spaces where possible. No piece is empty; together they are the text.
pub fn tts_chunks(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest: Vec<char> = text.trim().chars().collect();
    while !rest.is_empty() {
        if rest.len() <= TTS_CHUNK_CHARS_MAX {
            out.push(rest.iter().collect::<String>().trim().to_owned());
            break;
        }
        let window = &rest[..TTS_CHUNK_CHARS_MAX];
        let cut = window
            .iter()
            .rposition(|c| matches!(c, '.' | '।' | '?' | '!'))
            .map(|i| i + 1)
            .filter(|i| *i > TTS_CHUNK_CHARS_MAX / 3)
            .or_else(|| {
                window
                    .iter()
                    .rposition(|c| c.is_whitespace())
                    .filter(|i| *i > 0)
            })
            .unwrap_or(TTS_CHUNK_CHARS_MAX);
        let piece: String = rest[..cut].iter().collect();
        let piece = piece.trim().to_owned();
        if !piece.is_empty() {
            out.push(piece);
        }
        rest.drain(..cut);
        while rest.first().is_some_and(|c| c.is_whitespace()) {
            rest.remove(0);
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::router::Message;
    use crate::voice::flow::{
        AlertSummary, FarmMoisture, FertilizerDose, MandiPrice, PROMPT_MESSAGE_IDS, SoilAdvice,
        WeatherDay,
    };
    use proptest::prelude::*;

    fn every_prompt() -> Vec<Prompt> {
        vec![
            Prompt::Greeting,
            Prompt::Menu,
            Prompt::MandiPrices(vec![MandiPrice {
                commodity: "wheat".into(),
                market: "Parner APMC".into(),
                modal_rs_per_quintal: 2480,
                min_rs_per_quintal: 2350,
                max_rs_per_quintal: 2600,
                date: "2026-01-14".into(),
            }]),
            Prompt::Weather(vec![WeatherDay {
                date: "2026-01-14".into(),
                rain_mm: 0.0,
                temp_min_c: 0.0,
                temp_max_c: 0.0,
                condition: "Light rain".into(),
            }]),
            Prompt::SoilCard(SoilAdvice {
                survey_number: "12".into(),
                sampled_on: "2025-11-02".into(),
                statuses: vec![("n".into(), "low".into()), ("p".into(), "high".into())],
                fertilizer: vec![FertilizerDose {
                    product: "N".into(),
                    kg_per_acre: 60.7,
                }],
            }),
            Prompt::SoilMoisture(vec![FarmMoisture {
                survey_number: "s-1".into(),
                volumetric_percent: 18.4,
                measured_at_ms: 1_768_400_000_000,
            }]),
            Prompt::OpenAlerts(vec![AlertSummary {
                kind: "dry-soil".into(),
                survey_number: None,
                raised_at_ms: 1_768_400_000_000,
            }]),
            Prompt::NotAvailable(Topic::MandiPrices),
            Prompt::AgentWillCallBack,
            Prompt::InvalidKey,
            Prompt::LanguageChanged("en".into()),
            Prompt::RegistrationInstructions,
            Prompt::VoiceNotEnabled,
            Prompt::Goodbye,
            Prompt::Notification(Message {
                key: "broadcast".into(),
                args: [("text".to_owned(), "Canal opens Monday".to_owned())]
                    .into_iter()
                    .collect(),
            }),
        ]
    }

    #[test]
    fn every_prompt_id_exists_in_every_language_and_renders() {
        let catalog = ivr_catalog().unwrap();
        for locale in Locale::ALL {
            for id in PROMPT_MESSAGE_IDS {
                assert!(
                    catalog.message_ids(locale).iter().any(|m| m == id),
                    "{id} missing in {}",
                    locale.code()
                );
            }
        }
        for locale in Locale::ALL {
            assert_eq!(
                catalog.message_ids(Locale::En),
                catalog.message_ids(locale),
                "en and {} have the same messages in the same order",
                locale.code()
            );
        }
        let prompts = every_prompt();
        let ids: std::collections::BTreeSet<_> = prompts.iter().map(Prompt::message_id).collect();
        assert_eq!(
            ids.len(),
            PROMPT_MESSAGE_IDS.len(),
            "every prompt is rendered below"
        );
        for locale in Locale::ALL {
            for p in &prompts {
                let text = render_prompt(p, locale.language()).unwrap();
                assert!(!text.trim().is_empty(), "{p:?}");
                assert!(!text.contains('{'), "{text}");
                // Every piece is one text-to-speech command line the modem accepts.
                for chunk in tts_chunks(&text) {
                    farmco_hardware::driver::ModemProfile::Sim800
                        .speak_command(&chunk)
                        .unwrap();
                }
            }
        }
    }

    #[test]
    fn marathi_prompts_speak_marathi() {
        let prices = render_prompt(&every_prompt()[2], Language::Mr).unwrap();
        assert_eq!(
            prices,
            "बाजारभाव. गहू, Parner APMC, 14.01.2026: क्विंटलला 2480 रुपये, किमान 2350, कमाल 2600."
        );
        let menu = render_prompt(&Prompt::Menu, Language::Mr).unwrap();
        assert!(menu.starts_with("बाजारभावासाठी 1 दाबा."), "{menu}");
        assert_eq!(
            render_prompt(&Prompt::LanguageChanged("mr".into()), Language::Mr).unwrap(),
            "आता मराठीत बोलूया."
        );
        let soil = render_prompt(&every_prompt()[4], Language::Mr).unwrap();
        assert!(soil.contains("नत्र कमी, स्फुरद जास्त"), "{soil}");
    }

    #[test]
    fn open_alerts_are_counted_with_plurals() {
        let alert = AlertSummary {
            kind: "dry-soil".into(),
            survey_number: None,
            raised_at_ms: 1_768_400_000_000,
        };
        let said = |n: usize, language| {
            render_prompt(&Prompt::OpenAlerts(vec![alert.clone(); n]), language).unwrap()
        };
        assert!(said(0, Language::En).starts_with("You have no open alerts."));
        assert!(said(1, Language::En).starts_with("You have one open alert. dry soil on"));
        assert!(said(2, Language::En).starts_with("You have 2 open alerts."));
        assert!(said(0, Language::Hi).starts_with("आपका कोई खुला अलर्ट नहीं है।"));
        assert!(said(1, Language::Hi).starts_with("आपका एक खुला अलर्ट है।"));
        assert!(said(3, Language::Hi).starts_with("आपके 3 खुले अलर्ट हैं।"));
        assert_eq!(said(0, Language::Mr).trim(), "तुमच्यासाठी कोणतीही सूचना नाही.");
        assert!(said(1, Language::Mr).starts_with("तुमच्यासाठी एक सूचना आहे. कोरडी माती,"));
        assert!(said(2, Language::Mr).starts_with("तुमच्यासाठी 2 सूचना आहेत."));
    }

    #[test]
    fn hindi_prices_name_the_crop_in_hindi() {
        let text = render_prompt(&every_prompt()[2], Language::Hi).unwrap();
        assert!(text.contains("गेहूं"), "{text}");
        assert!(text.contains("2480"), "{text}");
        assert!(text.contains("14.01.2026"), "{text}");
    }

    #[test]
    fn the_hindi_and_marathi_menus_need_several_commands_and_each_fits() {
        for language in [Language::Hi, Language::Mr] {
            let menu = render_prompt(&Prompt::Menu, language).unwrap();
            let chunks = tts_chunks(&menu);
            assert!(chunks.len() > 1);
            for c in &chunks {
                assert!(c.chars().count() <= TTS_CHUNK_CHARS_MAX);
                farmco_hardware::driver::ModemProfile::Sim800
                    .speak_command(c)
                    .unwrap();
            }
        }
    }

    proptest! {
        #[test]
        fn chunks_are_bounded_and_keep_every_word(words in proptest::collection::vec("[a-zअ-ह]{1,30}", 0..60)) {
            let text = words.join(" ");
            let chunks = tts_chunks(&text);
            for c in &chunks {
                prop_assert!(!c.is_empty());
                prop_assert!(c.chars().count() <= TTS_CHUNK_CHARS_MAX);
            }
            let joined: String = chunks.join(" ");
            prop_assert_eq!(joined.split_whitespace().collect::<Vec<_>>(), text.split_whitespace().collect::<Vec<_>>());
        }
    }
}
