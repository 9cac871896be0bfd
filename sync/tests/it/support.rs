//! Shared fixtures for the integration tests: farmers, farms, boundaries and commit metadata.

use farmco_sync::CommitMeta;
use farmco_sync::boundary::Boundary;
use farmco_sync::model::{
    Consents, CropSeason, Farm, FarmId, Farmer, FarmerId, Language, PersonName, PhoneNumber,
    Season, SoilParameters, SoilTest, SoilTestId, VillageCode,
};
use serde_json::{Value, json};
use time::macros::date;
use uuid::Uuid;

/// A GeoJSON Polygon: an axis-aligned, counter-clockwise rectangle.
pub fn rectangle(lon: f64, lat: f64, width_deg: f64, height_deg: f64) -> Value {
    json!({
        "type": "Polygon",
        "coordinates": [[
            [lon, lat],
            [lon + width_deg, lat],
            [lon + width_deg, lat + height_deg],
            [lon, lat + height_deg],
            [lon, lat],
        ]]
    })
}

/// A small valid boundary near Pune, shifted by `offset` thousandths of a degree.
pub fn boundary(offset: u32) -> Boundary {
    let shift = f64::from(offset) * 0.001;
    Boundary::from_geojson("boundary", &rectangle(73.85 + shift, 18.5, 0.0009, 0.0009))
        .expect("fixture boundary is valid")
}

pub fn farmer_id() -> FarmerId {
    FarmerId(Uuid::from_u128(0x0001))
}

pub fn farmer() -> Farmer {
    Farmer {
        id: farmer_id(),
        name: PersonName::parse("name", "Sunita Pawar").expect("valid"),
        phone: PhoneNumber::parse("phone", "+91 98123 45678").expect("valid"),
        language: Language::Mr,
        village_code: VillageCode::parse("village_code", "556677").expect("valid"),
        consents: Consents {
            sms: true,
            voice: false,
            data_sharing: false,
        },
    }
}

pub fn farm_id(n: u128) -> FarmId {
    FarmId(Uuid::from_u128(0x1000 + n))
}

pub fn farm(n: u128) -> Farm {
    Farm {
        id: farm_id(n),
        farmer_id: farmer_id(),
        survey_number: format!("{n}/4A"),
        declared_area_ha: 0.8,
        boundary: boundary(n as u32),
        crops: vec![
            CropSeason::new("crops[0]", "soybean", Season::Kharif, date!(2024 - 06 - 20))
                .expect("valid"),
            CropSeason::new("crops[1]", "गहू", Season::Rabi, date!(2024 - 11 - 05)).expect("valid"),
        ],
    }
}

pub fn soil_test(n: u128, farm: FarmId) -> SoilTest {
    SoilTest {
        id: SoilTestId(Uuid::from_u128(0x2000 + n)),
        farm_id: farm,
        sampled_on: date!(2024 - 03 - 01),
        lab: "KVK Baramati".into(),
        parameters: SoilParameters::from_pairs(
            "parameters",
            [
                ("ph".to_string(), 7.2),
                ("oc".to_string(), 0.45),
                ("zn".to_string(), 0.6),
            ],
        )
        .expect("valid"),
    }
}

pub fn meta(author: &str, time_ms: i64) -> CommitMeta {
    CommitMeta {
        author: author.into(),
        time_ms,
    }
}

/// A 16-byte actor id for replica `n`.
pub fn actor(n: u8) -> [u8; 16] {
    [n; 16]
}
