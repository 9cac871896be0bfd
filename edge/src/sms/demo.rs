//! Demo data for the SMS service: today's mandi prices and a weather notice for the demo
//! village (as the cloud will later send them), and one Hindi-speaking demo farmer with
//! phone +919812345678, a wheat farm, a soil test and a soil moisture sensor, so every
//! command has something to answer with. Idempotent: running it twice changes nothing.

use farmco_sync::{
    Boundary, Consents, CropSeason, Farm, FarmId, Farmer, FarmerId, Language, PersonName,
    PhoneNumber, Season, SoilParameters, SoilTest, SoilTestId, VillageCode,
};
use rusqlite::params;
use serde_json::json;

use crate::demo::{DEMO_CENTER_LAT, DEMO_CENTER_LON, DEMO_VILLAGE_CODE};
use crate::store::readings::{self, NewReading};
use crate::store::{Store, StoreResult};

/// The demo farmer's phone (the one the README's curl example texts from).
pub const DEMO_SMS_PHONE: &str = "+919812345678";
/// The demo farmer's moisture sensor.
pub const DEMO_SENSOR_ID: &str = "demo-soil-1";

/// Prices (₹/quintal: min, max, modal) at the taluka market, typical of Jan 2026.
const PRICES: &[(&str, u32, u32, u32)] = &[
    ("wheat", 2350, 2600, 2480),
    ("onion", 1200, 1900, 1600),
    ("soybean", 4100, 4450, 4300),
    ("gram", 5200, 5650, 5450),
    ("tur", 6800, 7350, 7100),
    ("bajra", 2300, 2650, 2500),
    ("jowar", 2700, 3300, 3000),
    ("maize", 1950, 2200, 2100),
    ("cotton", 6900, 7400, 7200),
    ("tomato", 800, 1400, 1100),
];
const MARKET: &str = "Parner APMC";

/// What was seeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SmsDemoSummary {
    pub advisories: usize,
    pub farmer_created: bool,
}

/// Seed prices, weather and the demo farmer. `today` is the local date (`YYYY-MM-DD`).
pub fn seed_sms_demo(store: &Store, today: &str, now_ms: i64) -> StoreResult<SmsDemoSummary> {
    let village = serde_json::Value::from(vec![DEMO_VILLAGE_CODE]).to_string();
    let advisories = store.write(|tx| {
        let mut n = 0;
        for (crop, min, max, modal) in PRICES {
            let body = json!({
                "crop": crop, "market": MARKET,
                "min_inr_per_quintal": min, "max_inr_per_quintal": max,
                "modal_inr_per_quintal": modal, "as_of": today,
            });
            n += tx.execute(
                "INSERT OR IGNORE INTO advisories (id, seq, village_codes, kind, title, body,
                     valid_from_ms, valid_until_ms, created_ms, received_ms)
                 VALUES (?1, 0, ?2, 'mandi_price', ?3, ?4, ?5, NULL, ?5, ?5)",
                params![
                    format!("demo-mandi-{crop}"),
                    village,
                    format!("{crop} price at {MARKET}"),
                    body.to_string(),
                    now_ms
                ],
            )?;
        }
        let weather = json!({
            "as_of": today,
            "text": {
                "en": "Dry, 12-29 C. Light rain likely Friday; delay irrigation.",
                "hi": "सूखा, 12-29°C। शुक्रवार हल्की बारिश संभव; सिंचाई टालें।",
                "mr": "कोरडे, 12-29°C. शुक्रवारी हलका पाऊस शक्य; सिंचन टाळा.",
            },
        });
        n += tx.execute(
            "INSERT OR IGNORE INTO advisories (id, seq, village_codes, kind, title, body,
                 valid_from_ms, valid_until_ms, created_ms, received_ms)
             VALUES ('demo-weather', 0, ?1, 'weather', 'Weather this week', ?2, ?3, NULL, ?3, ?3)",
            params![village, weather.to_string(), now_ms],
        )?;
        Ok(n)
    })?;
    let exists = store.read(|c| crate::store::sms::farmer_by_phone(c, DEMO_SMS_PHONE))?;
    if exists.is_some() {
        return Ok(SmsDemoSummary {
            advisories,
            farmer_created: false,
        });
    }
    let village_code = VillageCode::parse("village_code", DEMO_VILLAGE_CODE)?;
    let farmer = Farmer {
        id: FarmerId(uuid::Uuid::new_v4()),
        name: PersonName::parse("name", "रमेश पाटील")?,
        phone: PhoneNumber::parse("phone", DEMO_SMS_PHONE)?,
        language: Language::Hi,
        village_code,
        consents: Consents {
            sms: true,
            voice: true,
            data_sharing: false,
        },
    };
    store.create_farmer(&farmer, "demo-seed", now_ms)?;
    // 3.5 km north of the village centre, clear of the demo grid.
    let (lat, lon) = (DEMO_CENTER_LAT + 0.0317, DEMO_CENTER_LON);
    let d = 0.0005;
    let boundary = Boundary::from_geojson(
        "boundary",
        &json!({"type": "Polygon", "coordinates": [[
            [lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]
        ]]}),
    )?;
    let date = |y: i32, m: time::Month, day: u8| {
        time::Date::from_calendar_date(y, m, day).unwrap_or(time::Date::MIN)
    };
    let farm = Farm {
        id: FarmId(uuid::Uuid::new_v4()),
        farmer_id: farmer.id,
        survey_number: "77/2".to_owned(),
        declared_area_ha: 0.3,
        boundary,
        crops: vec![
            CropSeason {
                crop: "soybean".to_owned(),
                season: Season::Kharif,
                sowing_date: date(2025, time::Month::June, 20),
            },
            CropSeason {
                crop: "wheat".to_owned(),
                season: Season::Rabi,
                sowing_date: date(2025, time::Month::November, 10),
            },
        ],
    };
    store.add_farm(&farm, "demo-seed", now_ms)?;
    let test = SoilTest {
        id: SoilTestId(uuid::Uuid::new_v4()),
        farm_id: farm.id,
        sampled_on: date(2025, time::Month::April, 12),
        lab: "Soil Testing Laboratory, Ahilyanagar".to_owned(),
        parameters: SoilParameters::from_pairs(
            "parameters",
            [
                ("ph", 8.1),
                ("ec", 0.42),
                ("oc", 0.48),
                ("n", 210.0),
                ("p", 18.0),
                ("k", 420.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v)),
        )?,
    };
    store.add_soil_test(farmer.id, &test, "demo-seed", now_ms)?;
    store.write(|tx| {
        tx.execute(
            "INSERT OR IGNORE INTO sensors (id, kind, lat, lon, farm_id, farm_link, village_code,
                 secret_hash, created_ms, updated_ms)
             VALUES (?1, 'soil_moisture', ?2, ?3, ?4, 'explicit', ?5, NULL, ?6, ?6)",
            params![
                DEMO_SENSOR_ID,
                lat + d / 2.0,
                lon + d / 2.0,
                farm.id.to_string(),
                DEMO_VILLAGE_CODE,
                now_ms
            ],
        )?;
        readings::insert(
            tx,
            &[NewReading {
                sensor_id: DEMO_SENSOR_ID.to_owned(),
                metric: farmco_village::answers::SOIL_MOISTURE_METRIC.to_owned(),
                ts_ms: now_ms - 15 * 60_000,
                value: 23.5,
                ts_assigned: false,
            }],
            now_ms,
        )?;
        Ok(())
    })?;
    Ok(SmsDemoSummary {
        advisories,
        farmer_created: true,
    })
}
