//! [`VoiceContent`] over the store: the voice menu speaks the same structured answers the SMS
//! service sends (`farmco_village::answers`), plus the farmer's open alerts.
//!
//! Each method is one or two indexed queries on a read connection; a store error is logged and
//! answered as "not available" (a farmer on the line hears something, the call goes on).
//!
//! **Open alerts** come from [`open_alerts_for_farmer`]: the local rules' alerts on the farmer's
//! farms that are neither resolved nor acknowledged.

use rusqlite::{Connection, params};

use crate::store::StoreResult;
use crate::store::answers;
use farmco_village::answers::{
    MoistureAnswer, NutrientStatus, PriceAnswer, SoilAnswer, WeatherAnswer,
};
use farmco_village::sms::command::Crop;
use farmco_village::voice::flow::{
    AlertSummary, FarmMoisture, FarmerCaller, FertilizerDose, MandiPrice, SoilAdvice, VoiceContent,
    WeatherDay,
};

/// Most crops whose prices one menu answer lists (the prompt speaks at most five anyway).
pub const PRICE_CROPS_MAX: usize = 5;
/// Hectare → acre for fertilizer doses (the soil card rule works per hectare).
const ACRES_PER_HECTARE: f64 = 2.471;

/// The store as the voice menu's data source, at one instant.
#[derive(Debug)]
pub struct StoreContent<'a> {
    pub conn: &'a Connection,
    pub now_ms: i64,
    /// Today's local date (YYYY-MM-DD), for the soil card's current crop.
    pub today: String,
}

fn logged<T>(what: &str, result: StoreResult<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(error) => {
            tracing::warn!(%error, what, "voice content unavailable");
            None
        }
    }
}

fn status_key(s: NutrientStatus) -> &'static str {
    match s {
        NutrientStatus::Low => "low",
        NutrientStatus::Medium => "medium",
        NutrientStatus::High => "high",
    }
}

/// Crops with a valid price for `village`, newest first.
fn priced_crops(conn: &Connection, village: &str, now_ms: i64) -> StoreResult<Vec<Crop>> {
    let mut stmt = conn.prepare(
        "SELECT json_extract(body, '$.crop') AS crop, MAX(valid_from_ms) AS latest FROM advisories a
         WHERE kind = 'mandi_price' AND json_valid(body)
           AND valid_from_ms <= ?1 AND (valid_until_ms IS NULL OR valid_until_ms > ?1)
           AND EXISTS (SELECT 1 FROM json_each(a.village_codes) WHERE value = ?2)
         GROUP BY crop ORDER BY latest DESC LIMIT ?3",
    )?;
    let crops = stmt
        .query_map(params![now_ms, village, PRICE_CROPS_MAX as i64], |r| {
            r.get::<_, Option<String>>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crops
        .into_iter()
        .flatten()
        .filter_map(|c| Crop::from_word(&c))
        .collect())
}

/// The farmer's open alerts, newest first: alerts raised by the local rules (MQTT issue) on
/// sensors of the farmer's farms, neither resolved nor acknowledged. The kind spoken is what
/// the farmer cares about: a low soil-moisture threshold is `dry-soil`, a silent sensor
/// `sensor-silent`, a low battery `battery-low`; the field is the farm's survey number.
pub fn open_alerts_for_farmer(
    conn: &Connection,
    farmer_id: &str,
    _now_ms: i64,
) -> StoreResult<Vec<AlertSummary>> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.kind, a.metric, f.survey_number, a.raised_ms FROM alerts a
         LEFT JOIN farms f ON f.id = a.farm_id
         WHERE a.farmer_id = ?1 AND a.resolved_ms IS NULL AND a.acked_ms IS NULL
         ORDER BY a.raised_ms DESC LIMIT 5",
    )?;
    let rows = stmt
        .query_map(params![farmer_id], |r| {
            let kind: String = r.get(0)?;
            let metric: Option<String> = r.get(1)?;
            Ok(AlertSummary {
                kind: spoken_alert_kind(&kind, metric.as_deref()),
                survey_number: r.get(2)?,
                raised_at_ms: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The prompt's alert kind for a rule kind and its metric.
fn spoken_alert_kind(kind: &str, metric: Option<&str>) -> String {
    match (kind, metric) {
        ("threshold", Some("soil_moisture_vwc")) => "dry-soil".to_owned(),
        ("silent", _) => "sensor-silent".to_owned(),
        ("battery_low", _) => "battery-low".to_owned(),
        (_, Some(metric)) => metric.replace('_', "-"),
        (other, None) => other.replace('_', "-"),
    }
}

impl VoiceContent for StoreContent<'_> {
    fn mandi_prices(&self, farmer: &FarmerCaller) -> Option<Vec<MandiPrice>> {
        let village = farmer.village_code.to_string();
        let crops = logged("prices", priced_crops(self.conn, &village, self.now_ms))?;
        let prices: Vec<MandiPrice> = crops
            .into_iter()
            .filter_map(|crop| {
                match logged(
                    "price",
                    answers::mandi_price(self.conn, crop, Some(&village), self.now_ms),
                )? {
                    PriceAnswer::Found(p) => Some(MandiPrice {
                        commodity: p.crop.key().to_owned(),
                        market: p.market,
                        modal_rs_per_quintal: p.modal_inr_per_quintal,
                        min_rs_per_quintal: p.min_inr_per_quintal,
                        max_rs_per_quintal: p.max_inr_per_quintal,
                        date: p.as_of,
                    }),
                    PriceAnswer::NoData(_) => None,
                }
            })
            .collect();
        (!prices.is_empty()).then_some(prices)
    }

    fn weather(&self, farmer: &FarmerCaller) -> Option<Vec<WeatherDay>> {
        let village = farmer.village_code.to_string();
        match logged(
            "weather",
            answers::weather(self.conn, Some(&village), self.now_ms),
        )? {
            // The weather advisory is a text notice, not numbers: it is the day's "condition".
            WeatherAnswer::Found(notice) => Some(vec![WeatherDay {
                date: notice.as_of.clone(),
                rain_mm: 0.0,
                temp_min_c: 0.0,
                temp_max_c: 0.0,
                condition: notice
                    .text_in(farmco_village::l10n::Locale::for_language(farmer.language))
                    .to_owned(),
            }]),
            WeatherAnswer::NoData => None,
        }
    }

    fn soil_card(&self, farmer: &FarmerCaller) -> Option<SoilAdvice> {
        let farmer_id = farmer.farmer_id.to_string();
        match logged("soil", answers::soil(self.conn, &farmer_id, &self.today))? {
            SoilAnswer::Card(card) => {
                let statuses = [("n", card.n), ("p", card.p), ("k", card.k)]
                    .into_iter()
                    .filter_map(|(k, s)| s.map(|s| (k.to_owned(), status_key(s).to_owned())))
                    .collect();
                let fertilizer = card
                    .dose
                    .map(|d| {
                        [("N", d.n), ("P2O5", d.p2o5), ("K2O", d.k2o)]
                            .into_iter()
                            .map(|(product, kg_ha)| FertilizerDose {
                                product: product.to_owned(),
                                kg_per_acre: f64::from(kg_ha) / ACRES_PER_HECTARE,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Some(SoilAdvice {
                    survey_number: String::new(),
                    sampled_on: card.sampled_on,
                    statuses,
                    fertilizer,
                })
            }
            SoilAnswer::NoTest => None,
        }
    }

    fn soil_moisture(&self, farmer: &FarmerCaller) -> Option<Vec<FarmMoisture>> {
        let farmer_id = farmer.farmer_id.to_string();
        match logged("moisture", answers::moisture(self.conn, &farmer_id))? {
            MoistureAnswer::Reading {
                sensor_id,
                vwc_pct,
                ts_ms,
            } => Some(vec![FarmMoisture {
                survey_number: sensor_id,
                volumetric_percent: vwc_pct,
                measured_at_ms: ts_ms,
            }]),
            MoistureAnswer::NoReading | MoistureAnswer::NoSensor => None,
        }
    }

    fn open_alerts(&self, farmer: &FarmerCaller) -> Option<Vec<AlertSummary>> {
        let alerts = logged(
            "alerts",
            open_alerts_for_farmer(self.conn, &farmer.farmer_id.to_string(), self.now_ms),
        )?;
        (!alerts.is_empty()).then_some(alerts)
    }
}
