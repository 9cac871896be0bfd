//! [`VoiceContent`] over the store: the voice menu speaks the same structured answers the SMS
//! service sends (`crate::answers`), plus the farmer's open alerts.
//!
//! Each method is one or two indexed queries on a read connection; a store error is logged and
//! answered as "not available" (a farmer on the line hears something, the call goes on).
//!
//! **Open alerts** come from [`open_alerts_for_farmer`]: today the alert notifications routed
//! to the farmer within [`OPEN_ALERT_WINDOW_MS`] (this branch has no alerts table). When the
//! MQTT alerts table lands, point that one function at it; nothing else changes.

use rusqlite::{Connection, params};

use super::flow::{
    AlertSummary, FarmMoisture, FarmerCaller, FertilizerDose, MandiPrice, SoilAdvice, VoiceContent,
    WeatherDay,
};
use crate::answers::{
    self, MoistureAnswer, NutrientStatus, PriceAnswer, SoilAnswer, WeatherAnswer,
};
use crate::sms::command::Crop;
use crate::store::StoreResult;

/// An alert notification counts as "open" for this long after it was raised.
pub const OPEN_ALERT_WINDOW_MS: i64 = 7 * 24 * 3_600_000;
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

/// The farmer's open alerts, newest first. **The one place to change when the alerts table
/// exists**: today these are the alert notifications (`notifications.source = 'alert'`, not
/// suppressed) of the last [`OPEN_ALERT_WINDOW_MS`]; the kind is the message key, the field
/// its `field` argument.
pub fn open_alerts_for_farmer(
    conn: &Connection,
    farmer_id: &str,
    now_ms: i64,
) -> StoreResult<Vec<AlertSummary>> {
    let mut stmt = conn.prepare(
        "SELECT message_key, json_extract(message_args, '$.field'), created_ms FROM notifications
         WHERE farmer_id = ?1 AND source = 'alert' AND state = 'scheduled' AND created_ms > ?2
         ORDER BY created_ms DESC LIMIT 5",
    )?;
    let rows = stmt
        .query_map(
            params![farmer_id, now_ms.saturating_sub(OPEN_ALERT_WINDOW_MS)],
            |r| {
                Ok(AlertSummary {
                    kind: r.get(0)?,
                    survey_number: r.get(1)?,
                    raised_at_ms: r.get(2)?,
                })
            },
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
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
                    .text_in(crate::l10n::Locale::for_language(farmer.language).code())
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
