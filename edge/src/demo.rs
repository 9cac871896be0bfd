//! The demo village: deterministic, realistic seed data for `./scripts/demo` and for tests.
//!
//! 200 farmers of one village around Ralegan Siddhi (Parner taluka, Ahilyanagar district,
//! Maharashtra; about 18.918° N, 74.385° E), each with one farm: a quadrilateral of 0.3–2.4 ha
//! on a jittered 190 m grid (so farms do not overlap), a kharif and a rabi crop, and one Soil
//! Health Card test with values typical of the region's black cotton soils. Everything goes through
//! the same store calls as the API, so the documents, change log and projections are real.

use farmco_sync::{
    Boundary, Consents, CropSeason, Farm, FarmId, Farmer, FarmerId, Language, PersonName,
    PhoneNumber, Season, SoilParameters, SoilTest, SoilTestId, VillageCode,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::store::{Store, StoreResult};

/// The demo village's code (a 6-digit LGD-style code; the one the docs and tests use).
pub const DEMO_VILLAGE_CODE: &str = "563412";
/// Village centre, degrees.
pub const DEMO_CENTER_LAT: f64 = 18.918;
pub const DEMO_CENTER_LON: f64 = 74.385;
/// Farmers seeded by default.
pub const DEMO_FARMERS: usize = 200;
/// Spacing of the farm grid, metres (the largest farm is ~155 m on a side).
const GRID_SPACING_M: f64 = 190.0;

const GIVEN_NAMES: &[&str] = &[
    "Ramesh",
    "Suresh",
    "Sunita",
    "Anita",
    "Ganesh",
    "Sanjay",
    "Kavita",
    "Vijay",
    "Lata",
    "Mahesh",
    "Sangeeta",
    "Prakash",
    "Rekha",
    "Dattatray",
    "Savita",
    "Balasaheb",
    "Manisha",
    "Shankar",
    "Asha",
    "Nitin",
    "रमेश",
    "सुनीता",
    "गणेश",
    "कविता",
    "विजय",
    "लता",
    "प्रकाश",
    "आशा",
];
const FAMILY_NAMES: &[&str] = &[
    "Pawar",
    "Jadhav",
    "Shinde",
    "More",
    "Kale",
    "Gaikwad",
    "Thorat",
    "Auti",
    "Mapari",
    "Pathare",
    "Kadam",
    "Bhosale",
    "पवार",
    "जाधव",
    "शिंदे",
    "मोरे",
    "काळे",
    "गायकवाड",
];
const KHARIF_CROPS: &[&str] = &["soybean", "bajra", "tur", "cotton", "maize"];
const RABI_CROPS: &[&str] = &["wheat", "gram", "onion", "jowar"];

/// What the seeding created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSummary {
    pub farmers: usize,
    pub farms: usize,
    pub soil_tests: usize,
}

/// Metres to degrees at the demo latitude.
fn offset(lat: f64, lon: f64, north_m: f64, east_m: f64) -> (f64, f64) {
    let dlat = north_m / 110_574.0;
    let dlon = east_m / (111_320.0 * lat.to_radians().cos());
    (lat + dlat, lon + dlon)
}

/// A quadrilateral farm of roughly `area_ha` around a centre, slightly irregular and rotated.
fn farm_polygon(rng: &mut StdRng, lat: f64, lon: f64, area_ha: f64) -> serde_json::Value {
    let side = (area_ha * 10_000.0).sqrt();
    let aspect: f64 = rng.random_range(0.7..1.4);
    let (w, h) = (side * aspect.sqrt(), side / aspect.sqrt());
    let angle: f64 = rng.random_range(-0.35..0.35);
    let corners = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)];
    let mut ring: Vec<[f64; 2]> = corners
        .iter()
        .map(|(cx, cy)| {
            let jx = cx * w + rng.random_range(-0.06..0.06) * w;
            let jy = cy * h + rng.random_range(-0.06..0.06) * h;
            let east = jx * angle.cos() - jy * angle.sin();
            let north = jx * angle.sin() + jy * angle.cos();
            let (la, lo) = offset(lat, lon, north, east);
            [(lo * 1e7).round() / 1e7, (la * 1e7).round() / 1e7]
        })
        .collect();
    ring.push(ring[0]);
    serde_json::json!({"type": "Polygon", "coordinates": [ring]})
}

/// Where a demo village lies: its code and centre (degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoPlace<'a> {
    pub village_code: &'a str,
    pub center_lat: f64,
    pub center_lon: f64,
}

/// The demo village of the docs: 563412 around Ralegan Siddhi.
pub const DEMO_PLACE: DemoPlace<'static> = DemoPlace {
    village_code: DEMO_VILLAGE_CODE,
    center_lat: DEMO_CENTER_LAT,
    center_lon: DEMO_CENTER_LON,
};

/// Seed the demo village into an empty store. Deterministic for a given `seed`.
pub fn seed_demo_village(
    store: &Store,
    farmers: usize,
    seed: u64,
    now_ms: i64,
) -> StoreResult<SeedSummary> {
    seed_demo_village_at(store, DEMO_PLACE, farmers, seed, now_ms)
}

/// Seed a demo village with another code and centre (a second demo box for the ops console).
/// Phone numbers are derived from the village code, so two demo villages never share one.
pub fn seed_demo_village_at(
    store: &Store,
    place: DemoPlace<'_>,
    farmers: usize,
    seed: u64,
    now_ms: i64,
) -> StoreResult<SeedSummary> {
    let mut rng = StdRng::seed_from_u64(seed);
    let village = VillageCode::parse("village_code", place.village_code)?;
    // 563412 keeps the numbers the docs show (+919822000000…); others get their own block.
    let phone_base: u64 = if place.village_code == DEMO_VILLAGE_CODE {
        22_000_000
    } else {
        30_000_000 + (village.to_string().parse::<u64>().unwrap_or(0) % 100) * 100_000
    };
    let per_row = (farmers as f64).sqrt().ceil().max(1.0) as usize;
    let mut summary = SeedSummary {
        farmers: 0,
        farms: 0,
        soil_tests: 0,
    };
    for i in 0..farmers {
        let given = GIVEN_NAMES[rng.random_range(0..GIVEN_NAMES.len())];
        let family = FAMILY_NAMES[rng.random_range(0..FAMILY_NAMES.len())];
        let language = if given.is_ascii() && family.is_ascii() {
            if rng.random_bool(0.3) {
                Language::Hi
            } else {
                Language::Mr
            }
        } else {
            Language::Mr
        };
        let farmer = Farmer {
            id: FarmerId(uuid::Builder::from_random_bytes(rng.random()).into_uuid()),
            name: PersonName::parse("name", &format!("{given} {family}"))?,
            phone: PhoneNumber::parse("phone", &format!("+9198{:08}", phone_base + i as u64))?,
            language,
            village_code: village,
            consents: Consents {
                sms: true,
                voice: rng.random_bool(0.7),
                data_sharing: rng.random_bool(0.5),
            },
        };
        store.create_farmer(&farmer, "demo-seed", now_ms)?;
        summary.farmers += 1;

        let (row, col) = (i / per_row, i % per_row);
        let half = per_row as f64 / 2.0;
        let north = (row as f64 - half) * GRID_SPACING_M + rng.random_range(-12.0..12.0);
        let east = (col as f64 - half) * GRID_SPACING_M + rng.random_range(-12.0..12.0);
        let (lat, lon) = offset(place.center_lat, place.center_lon, north, east);
        let area: f64 = rng.random_range(0.3..2.4);
        let boundary = Boundary::from_geojson("boundary", &farm_polygon(&mut rng, lat, lon, area))?;
        let declared =
            (boundary.geodesic_area_ha() * rng.random_range(0.9..1.1) * 100.0).round() / 100.0;
        let year = 2025;
        let farm = Farm {
            id: FarmId(uuid::Builder::from_random_bytes(rng.random()).into_uuid()),
            farmer_id: farmer.id,
            survey_number: format!("{}/{}", 100 + i, rng.random_range(1..6)),
            declared_area_ha: declared.max(0.01),
            boundary,
            crops: vec![
                CropSeason {
                    crop: KHARIF_CROPS[rng.random_range(0..KHARIF_CROPS.len())].to_owned(),
                    season: Season::Kharif,
                    sowing_date: date(year, 6, rng.random_range(15..30)),
                },
                CropSeason {
                    crop: RABI_CROPS[rng.random_range(0..RABI_CROPS.len())].to_owned(),
                    season: Season::Rabi,
                    sowing_date: date(year, 11, rng.random_range(1..25)),
                },
            ],
        };
        store.add_farm(&farm, "demo-seed", now_ms)?;
        summary.farms += 1;

        let parameters = SoilParameters::from_pairs(
            "parameters",
            [
                ("ph", rng.random_range(7.2..8.6)),
                ("ec", rng.random_range(0.15..0.9)),
                ("oc", rng.random_range(0.3..0.8)),
                ("n", rng.random_range(140.0..300.0)),
                ("p", rng.random_range(8.0..30.0)),
                ("k", rng.random_range(200.0..500.0)),
                ("s", rng.random_range(5.0..20.0)),
                ("zn", rng.random_range(0.3..1.2)),
                ("fe", rng.random_range(2.0..8.0)),
                ("cu", rng.random_range(0.5..2.5)),
                ("mn", rng.random_range(2.0..10.0)),
                ("b", rng.random_range(0.2..0.8)),
            ]
            .into_iter()
            .map(|(k, v): (&str, f64)| (k.to_owned(), (v * 100.0).round() / 100.0)),
        )?;
        let test = SoilTest {
            id: SoilTestId(uuid::Builder::from_random_bytes(rng.random()).into_uuid()),
            farm_id: farm.id,
            sampled_on: date(2025, 4, rng.random_range(1..28)),
            lab: "Soil Testing Laboratory, Ahilyanagar".to_owned(),
            parameters,
        };
        store.add_soil_test(farmer.id, &test, "demo-seed", now_ms)?;
        summary.soil_tests += 1;
    }
    Ok(summary)
}

fn date(year: i32, month: u8, day: u8) -> time::Date {
    let month = time::Month::try_from(month).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(year, month, day).unwrap_or(time::Date::MIN)
}
