//! The queries behind farmers' answers: read from the local tables, return the pure answer
//! types of [`farmco_village::answers`] (shared by the SMS service and the voice menu). Sources
//! and body formats are described there.

use rusqlite::{Connection, OptionalExtension, params};

use farmco_village::answers::{
    MandiPrice, MandiPriceBody, MoistureAnswer, PriceAnswer, SOIL_MOISTURE_METRIC, SoilAnswer,
    WeatherAnswer, WeatherBody, WeatherNotice, current_crop, soil_card,
};
use farmco_village::sms::command::Crop;

use crate::store::StoreResult;

/// The newest valid price of `crop` for `village` (any village when `None`: a public
/// question from an unregistered phone).
pub fn mandi_price(
    conn: &Connection,
    crop: Crop,
    village: Option<&str>,
    now_ms: i64,
) -> StoreResult<PriceAnswer> {
    let mut stmt = conn.prepare(
        "SELECT body FROM advisories a
         WHERE kind = 'mandi_price'
           AND valid_from_ms <= ?1 AND (valid_until_ms IS NULL OR valid_until_ms > ?1)
           AND json_valid(body) AND json_extract(body, '$.crop') = ?2
           AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.village_codes) WHERE value = ?3))
         ORDER BY json_extract(body, '$.as_of') DESC, valid_from_ms DESC, seq DESC
         LIMIT 8",
    )?;
    let bodies = stmt
        .query_map(params![now_ms, crop.key(), village], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    // A malformed body (a bad sync) is skipped, not fatal: the next one may be fine.
    let found = bodies
        .iter()
        .find_map(|b| serde_json::from_str::<MandiPriceBody>(b).ok());
    Ok(match found {
        Some(b) => PriceAnswer::Found(MandiPrice {
            crop,
            market: b.market,
            min_inr_per_quintal: b.min_inr_per_quintal,
            max_inr_per_quintal: b.max_inr_per_quintal,
            modal_inr_per_quintal: b.modal_inr_per_quintal,
            as_of: b.as_of,
        }),
        None => PriceAnswer::NoData(crop),
    })
}

/// The newest valid weather notice for `village` (any village when `None`).
pub fn weather(
    conn: &Connection,
    village: Option<&str>,
    now_ms: i64,
) -> StoreResult<WeatherAnswer> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT title, body FROM advisories a
             WHERE kind = 'weather'
               AND valid_from_ms <= ?1 AND (valid_until_ms IS NULL OR valid_until_ms > ?1)
               AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(a.village_codes) WHERE value = ?2))
             ORDER BY valid_from_ms DESC, seq DESC LIMIT 1",
            params![now_ms, village],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match row {
        Some((title, body)) => {
            let body: Option<WeatherBody> = serde_json::from_str(&body).ok();
            WeatherAnswer::Found(WeatherNotice {
                as_of: body.as_ref().map(|b| b.as_of.clone()).unwrap_or_default(),
                text: body.map(|b| b.text).unwrap_or_default(),
                title,
            })
        }
        None => WeatherAnswer::NoData,
    })
}

/// The farmer's latest soil test as a card, with a dose for the crop of that farm.
pub fn soil(conn: &Connection, farmer_id: &str, today: &str) -> StoreResult<SoilAnswer> {
    let row: Option<(String, String, String)> = conn
        .query_row(
            "SELECT t.sampled_on, t.parameters, f.crops
             FROM soil_tests t JOIN farms f ON f.id = t.farm_id
             WHERE t.farmer_id = ?1 ORDER BY t.sampled_on DESC, t.id LIMIT 1",
            [farmer_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((sampled_on, parameters, crops)) = row else {
        return Ok(SoilAnswer::NoTest);
    };
    let parameters: std::collections::BTreeMap<String, f64> =
        serde_json::from_str(&parameters).unwrap_or_default();
    Ok(SoilAnswer::Card(soil_card(
        &sampled_on,
        &parameters,
        current_crop(&crops, today),
    )))
}

/// The latest soil moisture reading of any sensor on the farmer's farms.
pub fn moisture(conn: &Connection, farmer_id: &str) -> StoreResult<MoistureAnswer> {
    let sensors: i64 = conn.query_row(
        "SELECT COUNT(*) FROM sensors s JOIN farms f ON f.id = s.farm_id WHERE f.farmer_id = ?1",
        [farmer_id],
        |r| r.get(0),
    )?;
    if sensors == 0 {
        return Ok(MoistureAnswer::NoSensor);
    }
    let row: Option<(String, f64, i64)> = conn
        .query_row(
            "SELECT r.sensor_id, r.value, r.ts_ms FROM readings r
             WHERE r.metric = ?2 AND r.sensor_id IN
                 (SELECT s.id FROM sensors s JOIN farms f ON f.id = s.farm_id WHERE f.farmer_id = ?1)
             ORDER BY r.ts_ms DESC LIMIT 1",
            params![farmer_id, SOIL_MOISTURE_METRIC],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match row {
        Some((sensor_id, vwc_pct, ts_ms)) => MoistureAnswer::Reading {
            sensor_id,
            vwc_pct,
            ts_ms,
        },
        None => MoistureAnswer::NoReading,
    })
}
