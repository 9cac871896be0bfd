//! Replies: a structured [`Reply`] (what to say) rendered into text with the Fluent SMS
//! catalog (how to say it in the farmer's language). Pure, apart from the compiled-in catalog.
//!
//! Formatting rules that keep replies inside one SMS part: dates as `DD.MM.YY`, prices as whole
//! rupees, English text strictly GSM-7 (`Rs`, never `₹`), free text from advisories cut to what
//! fits ([`WEATHER_TEXT_CHARS_MAX`], [`WEATHER_TEXT_CHARS_MAX_MR`]).

use time::UtcOffset;

use crate::answers::{MoistureAnswer, NutrientStatus, PriceAnswer, SoilAnswer, WeatherAnswer};
use crate::l10n::{L10nError, Locale, sms_catalog};

/// Characters of an advisory's weather text quoted in a reply: what is left of one UCS-2
/// part (70) after "मौसम DD.MM.YY: " (15); English gets the same cut, well inside 160.
pub const WEATHER_TEXT_CHARS_MAX: usize = 55;
/// The same for Marathi, whose prefix "हवामान DD.MM.YY: " is two characters longer (17).
pub const WEATHER_TEXT_CHARS_MAX_MR: usize = 53;

fn weather_text_chars_max(locale: Locale) -> usize {
    match locale {
        Locale::Mr => WEATHER_TEXT_CHARS_MAX_MR,
        Locale::En | Locale::Hi => WEATHER_TEXT_CHARS_MAX,
    }
}

/// What to answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Help,
    NotRegistered,
    Price(PriceAnswer),
    PriceMissingCrop,
    PriceUnknownCrop(String),
    Weather(WeatherAnswer),
    Soil(SoilAnswer),
    Moisture(MoistureAnswer),
    RegPending(String),
    RegAlready(String),
    RegMissingName,
    RegNameTooLong,
    RegConfirmed(String),
    LangSet,
    LangMissing,
    LangUnknown(String),
    Stop,
    Start,
}

/// `2026-01-14` → `14.01.26` (anything else is shown as given). The date comes from an
/// advisory body synced from the cloud, so it is untrusted: only ASCII digits are sliced.
pub fn short_date(iso: &str) -> String {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let parts: Vec<&str> = iso.split('-').collect();
    match parts.as_slice() {
        [y, m, d] if digits(y, 4) && digits(m, 2) && digits(d, 2) => match y.get(2..) {
            Some(yy) => format!("{d}.{m}.{yy}"),
            None => iso.to_owned(),
        },
        _ => iso.to_owned(),
    }
}

fn status(s: Option<NutrientStatus>) -> String {
    match s {
        Some(NutrientStatus::Low) => "low",
        Some(NutrientStatus::Medium) | None => "medium",
        Some(NutrientStatus::High) => "high",
    }
    .to_owned()
}

fn cut(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(chars_max.saturating_sub(2)).collect();
    out.push_str("..");
    out
}

fn crop_name(crop: crate::sms::command::Crop, locale: Locale) -> String {
    match locale {
        Locale::Hi => crop.hindi().to_owned(),
        Locale::Mr => crop.marathi().to_owned(),
        Locale::En => {
            let key = crop.key();
            let mut chars = key.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// Local `DD.MM HH:MM` of a Unix-millisecond time.
fn local_time(ts_ms: i64, offset: UtcOffset) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ts_ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        .to_offset(offset);
    format!(
        "{:02}.{:02} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.hour(),
        t.minute()
    )
}

/// The message id and arguments of a reply.
pub fn message(
    reply: &Reply,
    locale: Locale,
    offset: UtcOffset,
) -> (&'static str, Vec<(&'static str, String)>) {
    match reply {
        Reply::Help => ("help", vec![]),
        Reply::NotRegistered => ("not-registered", vec![]),
        Reply::Price(PriceAnswer::Found(p)) => (
            "price",
            vec![
                ("crop", crop_name(p.crop, locale)),
                ("date", short_date(&p.as_of)),
                ("min", p.min_inr_per_quintal.to_string()),
                ("max", p.max_inr_per_quintal.to_string()),
                ("modal", p.modal_inr_per_quintal.to_string()),
                ("market", cut(&p.market, 20)),
            ],
        ),
        Reply::Price(PriceAnswer::NoData(crop)) => {
            ("price-none", vec![("crop", crop_name(*crop, locale))])
        }
        Reply::PriceMissingCrop => ("price-missing-crop", vec![]),
        Reply::PriceUnknownCrop(word) => ("price-unknown-crop", vec![("word", cut(word, 12))]),
        Reply::Weather(WeatherAnswer::Found(w)) => (
            "weather",
            vec![
                ("date", short_date(&w.as_of)),
                (
                    "text",
                    cut(w.text_in(locale), weather_text_chars_max(locale)),
                ),
            ],
        ),
        Reply::Weather(WeatherAnswer::NoData) => ("weather-none", vec![]),
        Reply::Soil(SoilAnswer::Card(card)) => {
            let mut args = vec![
                ("date", short_date(&card.sampled_on)),
                ("n", status(card.n)),
                ("p", status(card.p)),
                ("k", status(card.k)),
                (
                    "ph",
                    card.ph
                        .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}")),
                ),
            ];
            match (card.crop, card.dose) {
                (Some(crop), Some(dose)) => {
                    args.push(("crop", crop_name(crop, locale)));
                    args.push(("dn", dose.n.to_string()));
                    args.push(("dp", dose.p2o5.to_string()));
                    args.push(("dk", dose.k2o.to_string()));
                    ("soil", args)
                }
                _ => ("soil-no-crop", args),
            }
        }
        Reply::Soil(SoilAnswer::NoTest) => ("soil-none", vec![]),
        Reply::Moisture(MoistureAnswer::Reading {
            sensor_id,
            vwc_pct,
            ts_ms,
        }) => (
            "moisture",
            vec![
                ("value", format!("{vwc_pct:.0}")),
                ("time", local_time(*ts_ms, offset)),
                ("sensor", cut(sensor_id, 12)),
            ],
        ),
        Reply::Moisture(MoistureAnswer::NoSensor) => ("moisture-no-sensor", vec![]),
        Reply::Moisture(MoistureAnswer::NoReading) => ("moisture-no-reading", vec![]),
        Reply::RegPending(name) => ("reg-pending", vec![("name", cut(name, 20))]),
        Reply::RegAlready(name) => ("reg-already", vec![("name", cut(name, 20))]),
        Reply::RegMissingName => ("reg-missing-name", vec![]),
        Reply::RegNameTooLong => ("reg-name-too-long", vec![]),
        Reply::RegConfirmed(name) => ("reg-confirmed", vec![("name", cut(name, 20))]),
        Reply::LangSet => ("lang-set", vec![]),
        Reply::LangMissing => ("lang-missing", vec![]),
        Reply::LangUnknown(word) => ("lang-unknown", vec![("word", cut(word, 12))]),
        Reply::Stop => ("stop", vec![]),
        Reply::Start => ("start", vec![]),
    }
}

/// Render a reply in `locale`.
pub fn render(reply: &Reply, locale: Locale, offset: UtcOffset) -> Result<String, L10nError> {
    let (id, args) = message(reply, locale, offset);
    sms_catalog()?.render(locale, id, &args)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{MandiPrice, NpkDose, SoilCard, WeatherNotice};
    use crate::sms::command::Crop;
    use farmco_hardware::codec::pdu::split::split_text;
    use farmco_hardware::codec::pdu::udh::ConcatReference;

    fn ist() -> UtcOffset {
        UtcOffset::from_hms(5, 30, 0).unwrap()
    }

    /// Every reply a farmer typically gets, with realistic (longish) values.
    fn typical_replies(locale: Locale) -> Vec<Reply> {
        // Names come as the farmer wrote them: Latin for English speakers, Devanagari for
        // Hindi and Marathi.
        let name = match locale {
            Locale::En => "Sunita Pawar".to_owned(),
            Locale::Hi | Locale::Mr => "सुनीता पवार".to_owned(),
        };
        let price = MandiPrice {
            crop: Crop::Wheat,
            market: "Parner APMC".into(),
            min_inr_per_quintal: 2350,
            max_inr_per_quintal: 2600,
            modal_inr_per_quintal: 2480,
            as_of: "2026-01-14".into(),
        };
        let mut weather_text = std::collections::BTreeMap::new();
        weather_text.insert(
            "en".to_owned(),
            "Dry, 12-29 C. Light rain likely Friday; delay irrigation of wheat.".to_owned(),
        );
        weather_text.insert(
            "hi".to_owned(),
            "सूखा, 12-29°C। शुक्रवार हल्की बारिश संभव; गेहूं की सिंचाई टालें।".to_owned(),
        );
        weather_text.insert(
            "mr".to_owned(),
            "कोरडे, 12-29°C. शुक्रवारी हलका पाऊस शक्य; गव्हाला पाणी देणे पुढे ढकला.".to_owned(),
        );
        let card = SoilCard {
            sampled_on: "2025-04-12".into(),
            n: Some(NutrientStatus::Medium),
            p: Some(NutrientStatus::Medium),
            k: Some(NutrientStatus::High),
            ph: Some(8.1),
            organic_carbon_pct: Some(0.5),
            crop: Some(Crop::Sugarcane),
            dose: Some(NpkDose {
                n: 250,
                p2o5: 115,
                k2o: 85,
            }),
        };
        let mut no_crop = card.clone();
        no_crop.crop = None;
        no_crop.dose = None;
        vec![
            Reply::Help,
            Reply::NotRegistered,
            Reply::Price(PriceAnswer::Found(price)),
            Reply::Price(PriceAnswer::NoData(Crop::Groundnut)),
            Reply::PriceMissingCrop,
            Reply::PriceUnknownCrop("mangoes".into()),
            Reply::Weather(WeatherAnswer::Found(WeatherNotice {
                as_of: "2026-01-14".into(),
                text: weather_text,
                title: "Weather".into(),
            })),
            Reply::Weather(WeatherAnswer::NoData),
            Reply::Soil(SoilAnswer::Card(card)),
            Reply::Soil(SoilAnswer::Card(no_crop)),
            Reply::Soil(SoilAnswer::NoTest),
            Reply::Moisture(MoistureAnswer::Reading {
                sensor_id: "sm-0042".into(),
                vwc_pct: 23.4,
                ts_ms: 1_768_411_800_000,
            }),
            Reply::Moisture(MoistureAnswer::NoSensor),
            Reply::Moisture(MoistureAnswer::NoReading),
            Reply::RegPending(name.clone()),
            Reply::RegAlready(name.clone()),
            Reply::RegMissingName,
            Reply::RegNameTooLong,
            Reply::RegConfirmed(name),
            Reply::LangSet,
            Reply::LangMissing,
            Reply::LangUnknown("klingon".into()),
            Reply::Stop,
            Reply::Start,
        ]
    }

    #[test]
    fn short_dates_never_panic_on_odd_input() {
        assert_eq!(short_date("2026-01-14"), "14.01.26");
        // Four bytes but a multi-byte first character: sliced at byte 2 this panicked.
        assert_eq!(short_date("€a-01-14"), "€a-01-14");
        assert_eq!(short_date("20x6-01-14"), "20x6-01-14");
        assert_eq!(short_date(""), "");
    }

    proptest::proptest! {
        #[test]
        fn short_date_takes_any_text(text in ".{0,16}") {
            let _ = short_date(&text);
        }
    }

    #[test]
    fn every_message_exists_in_every_language() {
        let catalog = sms_catalog().unwrap();
        let en: std::collections::BTreeSet<_> = catalog.message_ids(Locale::En).iter().collect();
        assert!(en.len() >= 20, "{en:?}");
        for locale in Locale::ALL {
            let ids: std::collections::BTreeSet<_> = catalog.message_ids(locale).iter().collect();
            assert_eq!(
                en,
                ids,
                "the English and {} catalogs must have the same messages",
                locale.code()
            );
        }
        // Every message id is reachable from some reply, and renders in both.
        let used: std::collections::BTreeSet<String> = typical_replies(Locale::En)
            .iter()
            .map(|r| message(r, Locale::En, ist()).0.to_owned())
            .collect();
        let all: std::collections::BTreeSet<String> = en.iter().map(|s| (*s).clone()).collect();
        assert_eq!(
            used, all,
            "a message without a reply, or a reply without a message"
        );
    }

    #[test]
    fn typical_replies_fit_one_sms_part() {
        for locale in Locale::ALL {
            for reply in typical_replies(locale) {
                let text = render(&reply, locale, ist()).unwrap();
                assert!(!text.contains('{'), "unfilled placeable in {text:?}");
                let parts = split_text(&text, ConcatReference::Eight(0)).unwrap();
                assert_eq!(
                    parts.len(),
                    1,
                    "{locale:?} {reply:?} takes {} parts ({} chars): {text}",
                    parts.len(),
                    text.chars().count()
                );
                if locale == Locale::En {
                    assert!(
                        farmco_hardware::codec::pdu::split::choose_alphabet(&text)
                            == farmco_hardware::codec::pdu::Alphabet::Gsm7,
                        "English replies stay GSM-7: {text}"
                    );
                }
            }
        }
    }

    #[test]
    fn marathi_replies_read_right() {
        let price = |crop| {
            Reply::Price(PriceAnswer::Found(MandiPrice {
                crop,
                market: "Parner APMC".into(),
                min_inr_per_quintal: 2350,
                max_inr_per_quintal: 2600,
                modal_inr_per_quintal: 2480,
                as_of: "2026-01-14".into(),
            }))
        };
        assert_eq!(
            render(&price(Crop::Wheat), Locale::Mr, ist()).unwrap(),
            "गहू 14.01.26: ₹2350-2600, सरासरी ₹2480/क्विंटल, Parner APMC"
        );
        assert!(
            render(&price(Crop::Onion), Locale::Mr, ist())
                .unwrap()
                .starts_with("कांदा ")
        );
        assert_eq!(
            render(
                &Reply::Price(PriceAnswer::NoData(Crop::Gram)),
                Locale::Mr,
                ist()
            )
            .unwrap(),
            "हरभरा: भाव अजून उपलब्ध नाही. नंतर पुन्हा विचारा."
        );
        assert_eq!(
            render(&Reply::LangSet, Locale::Mr, ist()).unwrap(),
            "आता उत्तरे मराठीत येतील."
        );
        assert!(
            render(&Reply::Help, Locale::Mr, ist())
                .unwrap()
                .starts_with("भाव <पीक>, हवामान, माती, ओलावा")
        );
    }

    #[test]
    fn marathi_weather_falls_back_to_hindi_before_english() {
        let notice = |langs: &[&str]| {
            let text = langs
                .iter()
                .map(|l| ((*l).to_owned(), format!("text-{l}")))
                .collect();
            Reply::Weather(WeatherAnswer::Found(WeatherNotice {
                as_of: "2026-01-14".into(),
                text,
                title: "Weather".into(),
            }))
        };
        let mr = |langs: &[&str]| render(&notice(langs), Locale::Mr, ist()).unwrap();
        assert_eq!(mr(&["en", "hi", "mr"]), "हवामान 14.01.26: text-mr");
        assert_eq!(mr(&["en", "hi"]), "हवामान 14.01.26: text-hi");
        assert_eq!(mr(&["en"]), "हवामान 14.01.26: text-en");
        assert_eq!(mr(&[]), "हवामान 14.01.26: Weather");
        // Hindi and English readers keep their order: their language, then English.
        assert_eq!(
            render(&notice(&["en", "mr"]), Locale::Hi, ist()).unwrap(),
            "मौसम 14.01.26: text-en"
        );
    }

    #[test]
    fn the_longest_weather_text_still_fits_one_part() {
        for locale in Locale::ALL {
            // English notices are GSM-7 text; Hindi and Marathi ones UCS-2.
            let long = if locale == Locale::En { "w" } else { "क" }.repeat(200);
            let reply = Reply::Weather(WeatherAnswer::Found(WeatherNotice {
                as_of: "2026-01-14".into(),
                text: [(locale.code().to_owned(), long)].into_iter().collect(),
                title: "Weather".into(),
            }));
            let text = render(&reply, locale, ist()).unwrap();
            let parts = split_text(&text, ConcatReference::Eight(0)).unwrap();
            assert_eq!(parts.len(), 1, "{locale:?}: {text}");
        }
    }

    #[test]
    fn the_hindi_wheat_price_reads_right() {
        let reply = Reply::Price(PriceAnswer::Found(MandiPrice {
            crop: Crop::Wheat,
            market: "Parner APMC".into(),
            min_inr_per_quintal: 2350,
            max_inr_per_quintal: 2600,
            modal_inr_per_quintal: 2480,
            as_of: "2026-01-14".into(),
        }));
        assert_eq!(
            render(&reply, Locale::Hi, ist()).unwrap(),
            "गेहूं 14.01.26: ₹2350-2600, औसत ₹2480/क्विंटल, Parner APMC"
        );
        assert_eq!(
            render(&reply, Locale::En, ist()).unwrap(),
            "Wheat 14.01.26: Rs 2350-2600, modal Rs 2480/quintal at Parner APMC"
        );
    }
}
