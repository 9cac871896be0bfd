//! Answers to farmers' questions as structured data (never text): the SMS service renders
//! them with Fluent, and the voice menu speaks the same values. This module holds the answer
//! types and the pure rules (the NPK dose rule, the current crop); the queries that read them
//! from SQLite are `farmco_edge::store::answers`.
//!
//! Sources, all local so the box answers without an uplink:
//! - **Mandi prices**: `advisories` rows of kind `mandi_price` (seeded by the demo, later
//!   synced from the cloud). Body JSON ([`MandiPriceBody`]):
//!   `{"crop":"wheat","market":"Parner APMC","min_inr_per_quintal":2350,
//!   "max_inr_per_quintal":2600,"modal_inr_per_quintal":2480,"as_of":"2026-01-14"}` — `crop` is
//!   the canonical English key of [`Crop::key`], prices are whole rupees per quintal (100 kg),
//!   `as_of` the market day (ISO date). The advisory's `village_codes` say where it applies.
//! - **Weather**: `advisories` of kind `weather`, body [`WeatherBody`]:
//!   `{"as_of":"2026-01-14","text":{"en":"...","hi":"...","mr":"..."}}` (one short notice per
//!   language; Marathi readers get the Hindi one when there is no Marathi one, then English;
//!   the advisory's title is the last fallback).
//! - **Soil**: the farmer's latest soil test (`soil_tests` projection) through the pure
//!   [`soil_card`] rule.
//! - **Moisture**: the latest `soil_moisture_vwc` reading (percent volumetric water content)
//!   of any sensor linked to one of the farmer's farms (`sensors.farm_id`).
//!
//! Missing data is an answer too (`NoData`, `NoTest`, `NoSensor`, ...): callers always reply.

use serde::Deserialize;

use crate::l10n::Locale;
use crate::sms::command::Crop;

/// A mandi price advisory body (the wire format of kind `mandi_price`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MandiPriceBody {
    pub crop: String,
    pub market: String,
    pub min_inr_per_quintal: u32,
    pub max_inr_per_quintal: u32,
    pub modal_inr_per_quintal: u32,
    pub as_of: String,
}

/// A weather advisory body (kind `weather`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WeatherBody {
    pub as_of: String,
    #[serde(default)]
    pub text: std::collections::BTreeMap<String, String>,
}

/// A crop's price at a market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandiPrice {
    pub crop: Crop,
    pub market: String,
    pub min_inr_per_quintal: u32,
    pub max_inr_per_quintal: u32,
    pub modal_inr_per_quintal: u32,
    pub as_of: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PriceAnswer {
    Found(MandiPrice),
    NoData(Crop),
}

/// A weather notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeatherNotice {
    pub as_of: String,
    /// Text by language code; `title` when the body has none.
    pub text: std::collections::BTreeMap<String, String>,
    pub title: String,
}

impl WeatherNotice {
    /// The notice for a reader of `locale`: in its language, else in its fallback's
    /// ([`Locale::fallback`]: Hindi for Marathi), else English, else the title.
    pub fn text_in(&self, locale: Locale) -> &str {
        std::iter::once(locale)
            .chain(locale.fallback())
            .chain(std::iter::once(Locale::En))
            .find_map(|l| self.text.get(l.code()))
            .map_or(self.title.as_str(), String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WeatherAnswer {
    Found(WeatherNotice),
    NoData,
}

/// Soil Health Card rating of an available nutrient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NutrientStatus {
    Low,
    Medium,
    High,
}

/// Rating limits of the Soil Health Card scheme for available nutrients in kg/ha (the
/// classes of Muhr et al., 1965, used on the cards): N low < 280 ≤ medium ≤ 560 < high;
/// P low < 10 ≤ medium ≤ 25 < high; K low < 110 ≤ medium ≤ 280 < high.
pub const N_LIMITS_KG_HA: (f64, f64) = (280.0, 560.0);
pub const P_LIMITS_KG_HA: (f64, f64) = (10.0, 25.0);
pub const K_LIMITS_KG_HA: (f64, f64) = (110.0, 280.0);

fn rate(value: f64, (low, high): (f64, f64)) -> NutrientStatus {
    if value < low {
        NutrientStatus::Low
    } else if value > high {
        NutrientStatus::High
    } else {
        NutrientStatus::Medium
    }
}

/// A fertilizer dose in kg per hectare of N, P₂O₅ and K₂O.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NpkDose {
    pub n: u32,
    pub p2o5: u32,
    pub k2o: u32,
}

/// The general recommended dose of a crop (kg/ha N–P₂O₅–K₂O, irrigated), as in the ICAR and
/// State Agricultural University package-of-practices tables: cereals 120-60-40, pulses
/// 20–25 N with 40–50 P₂O₅ (they fix their own N), onion and tomato 100-50-50, sugarcane
/// 250-115-115. These are state-level averages; a card's own recommendation takes precedence.
pub fn general_dose(crop: Crop) -> NpkDose {
    let (n, p2o5, k2o) = match crop {
        Crop::Wheat | Crop::Rice | Crop::Maize => (120, 60, 40),
        Crop::Onion | Crop::Tomato | Crop::Cotton => (100, 50, 50),
        Crop::Potato => (150, 80, 100),
        Crop::Soybean => (30, 60, 30),
        Crop::Gram => (20, 40, 20),
        Crop::Tur => (25, 50, 25),
        Crop::Groundnut => (25, 50, 30),
        Crop::Mustard => (80, 40, 20),
        Crop::Sugarcane => (250, 115, 115),
        Crop::Bajra => (60, 30, 20),
        Crop::Jowar => (80, 40, 40),
    };
    NpkDose { n, p2o5, k2o }
}

/// Adjust one nutrient's dose by the soil's rating — the soil-test-rating rule used with
/// Soil Health Cards where no crop-specific targeted-yield equation is available: **low
/// → +25 %, medium → as recommended, high → −25 %** (e.g. TNAU Agritech and ICAR-IISS
/// guidance on "general recommended dose adjusted by soil test ratings"). Rounded to 5 kg.
pub fn adjust(dose: u32, status: NutrientStatus) -> u32 {
    let factor = match status {
        NutrientStatus::Low => 1.25,
        NutrientStatus::Medium => 1.0,
        NutrientStatus::High => 0.75,
    };
    ((f64::from(dose) * factor / 5.0).round() * 5.0) as u32
}

/// A short Soil Health Card summary with a recommendation.
#[derive(Debug, Clone, PartialEq)]
pub struct SoilCard {
    pub sampled_on: String,
    pub n: Option<NutrientStatus>,
    pub p: Option<NutrientStatus>,
    pub k: Option<NutrientStatus>,
    pub ph: Option<f64>,
    pub organic_carbon_pct: Option<f64>,
    /// The crop the dose is for (the farmer's current crop, when known).
    pub crop: Option<Crop>,
    pub dose: Option<NpkDose>,
}

/// Rate a soil test and recommend a dose for `crop`. Pure.
pub fn soil_card(
    sampled_on: &str,
    parameters: &std::collections::BTreeMap<String, f64>,
    crop: Option<Crop>,
) -> SoilCard {
    let n = parameters.get("n").map(|v| rate(*v, N_LIMITS_KG_HA));
    let p = parameters.get("p").map(|v| rate(*v, P_LIMITS_KG_HA));
    let k = parameters.get("k").map(|v| rate(*v, K_LIMITS_KG_HA));
    let dose = crop.map(|crop| {
        let general = general_dose(crop);
        NpkDose {
            n: adjust(general.n, n.unwrap_or(NutrientStatus::Medium)),
            p2o5: adjust(general.p2o5, p.unwrap_or(NutrientStatus::Medium)),
            k2o: adjust(general.k2o, k.unwrap_or(NutrientStatus::Medium)),
        }
    });
    SoilCard {
        sampled_on: sampled_on.to_owned(),
        n,
        p,
        k,
        ph: parameters.get("ph").copied(),
        organic_carbon_pct: parameters.get("oc").copied(),
        crop,
        dose,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SoilAnswer {
    Card(SoilCard),
    NoTest,
}

/// The crop a farm grows now: the season sown most recently on or before `today`, else the
/// earliest planned one; recognized through the crop names of [`Crop`].
pub fn current_crop(crops_json: &str, today: &str) -> Option<Crop> {
    let seasons: Vec<serde_json::Value> = serde_json::from_str(crops_json).ok()?;
    let mut dated: Vec<(String, Crop)> = seasons
        .iter()
        .filter_map(|s| {
            let crop = Crop::from_word(s.get("crop")?.as_str()?)?;
            Some((s.get("sowing_date")?.as_str()?.to_owned(), crop))
        })
        .collect();
    dated.sort();
    dated
        .iter()
        .rev()
        .find(|(date, _)| date.as_str() <= today)
        .or_else(|| dated.first())
        .map(|(_, crop)| *crop)
}

#[derive(Debug, Clone, PartialEq)]
pub enum MoistureAnswer {
    Reading {
        sensor_id: String,
        /// Percent volumetric water content.
        vwc_pct: f64,
        ts_ms: i64,
    },
    /// Sensors are linked but have sent nothing.
    NoReading,
    /// No sensor is linked to the farmer's farms.
    NoSensor,
}

/// The readings metric of soil moisture (percent volumetric water content).
pub const SOIL_MOISTURE_METRIC: &str = "soil_moisture_vwc";

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, f64)]) -> std::collections::BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }

    #[test]
    fn ratings_follow_the_card_limits() {
        let card = soil_card(
            "2025-04-12",
            &params(&[("n", 210.0), ("p", 18.0), ("k", 420.0), ("ph", 8.1)]),
            Some(Crop::Wheat),
        );
        assert_eq!(card.n, Some(NutrientStatus::Low));
        assert_eq!(card.p, Some(NutrientStatus::Medium));
        assert_eq!(card.k, Some(NutrientStatus::High));
        // Wheat 120-60-40: N +25 % → 150, P as is → 60, K −25 % → 30.
        assert_eq!(
            card.dose,
            Some(NpkDose {
                n: 150,
                p2o5: 60,
                k2o: 30
            })
        );
    }

    #[test]
    fn boundaries_are_medium_and_missing_values_do_not_adjust() {
        assert_eq!(rate(280.0, N_LIMITS_KG_HA), NutrientStatus::Medium);
        assert_eq!(rate(560.0, N_LIMITS_KG_HA), NutrientStatus::Medium);
        assert_eq!(rate(560.1, N_LIMITS_KG_HA), NutrientStatus::High);
        let card = soil_card("2025-01-01", &params(&[("ph", 7.0)]), Some(Crop::Gram));
        assert_eq!(card.dose, Some(general_dose(Crop::Gram)));
        assert_eq!(soil_card("2025-01-01", &params(&[]), None).dose, None);
    }

    #[test]
    fn the_current_crop_is_the_latest_sown() {
        let crops = r#"[{"crop":"soybean","season":"kharif","sowing_date":"2025-06-20"},
                        {"crop":"gehun","season":"rabi","sowing_date":"2025-11-10"}]"#;
        assert_eq!(current_crop(crops, "2026-01-14"), Some(Crop::Wheat));
        assert_eq!(current_crop(crops, "2025-08-01"), Some(Crop::Soybean));
        assert_eq!(current_crop(crops, "2025-01-01"), Some(Crop::Soybean));
        assert_eq!(current_crop("[]", "2025-01-01"), None);
        assert_eq!(current_crop("garbage", "2025-01-01"), None);
    }
}
