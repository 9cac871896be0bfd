//! Property: after any sequence of edits, the projection tables say exactly what the farmer
//! documents say — also after reopening the store.

use farmco_edge::config::Synchronous;
use farmco_edge::store::Store;
use farmco_sync::doc::{FarmPatch, FarmerPatch};
use farmco_sync::{
    Boundary, Consents, Farm, FarmId, Farmer, FarmerId, Language, PersonName, PhoneNumber,
    SoilParameters, SoilTest, SoilTestId, VillageCode,
};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    CreateFarmer { name: u8 },
    RenameFarmer { who: usize, name: u8 },
    ChangeLanguage { who: usize, lang: usize },
    ToggleSms { who: usize },
    AddFarm { who: usize, size_m: u16 },
    MoveFarm { who: usize, north_m: u16 },
    AddSoilTest { who: usize, ph: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<u8>().prop_map(|name| Op::CreateFarmer { name }),
        (any::<usize>(), any::<u8>()).prop_map(|(who, name)| Op::RenameFarmer { who, name }),
        (any::<usize>(), 0..10usize).prop_map(|(who, lang)| Op::ChangeLanguage { who, lang }),
        any::<usize>().prop_map(|who| Op::ToggleSms { who }),
        (any::<usize>(), 20..400u16).prop_map(|(who, size_m)| Op::AddFarm { who, size_m }),
        (any::<usize>(), 0..5000u16).prop_map(|(who, north_m)| Op::MoveFarm { who, north_m }),
        (any::<usize>(), 40..100u8).prop_map(|(who, ph)| Op::AddSoilTest { who, ph }),
    ]
}

fn square(north_m: f64, side_m: f64) -> Boundary {
    let (lat, lon) = (18.9 + north_m / 110_574.0, 74.3);
    let dlat = side_m / 110_574.0;
    let dlon = side_m / (111_320.0 * lat.to_radians().cos());
    let json = serde_json::json!({"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat], [lon, lat]
    ]]});
    Boundary::from_geojson("boundary", &json).unwrap()
}

fn check_agreement(store: &Store, ids: &[FarmerId]) {
    for id in ids {
        let doc = store.farmer_doc(*id).unwrap();
        let row = store.farmer(*id).unwrap().expect("projection row missing");
        assert_eq!(row.farmer, doc.farmer().unwrap());
        let mut farms: Vec<Farm> = store
            .farms_of_farmer(*id)
            .unwrap()
            .into_iter()
            .map(|r| r.farm)
            .collect();
        farms.sort_by_key(|f| f.id);
        assert_eq!(farms, doc.farms().unwrap());
        let mut tests = Vec::new();
        for f in &farms {
            tests.extend(store.soil_tests_of_farm(f.id).unwrap());
        }
        let mut expected = doc.soil_tests().unwrap();
        tests.sort_by_key(|t| t.id);
        expected.sort_by_key(|t| t.id);
        assert_eq!(tests, expected);
    }
    assert_eq!(store.farmer_count().unwrap(), ids.len() as i64);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn projections_agree_with_documents(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        let village = VillageCode::parse("v", "563412").unwrap();
        let mut farmers: Vec<FarmerId> = Vec::new();
        let mut farms: Vec<(FarmerId, FarmId)> = Vec::new();
        let mut n = 0u128;
        let mut next_id = || { n += 1; uuid::Uuid::from_u128(n) };
        for (step, op) in ops.into_iter().enumerate() {
            let t = step as i64 * 1000;
            match op {
                Op::CreateFarmer { name } => {
                    let f = Farmer {
                        id: FarmerId(next_id()),
                        name: PersonName::parse("name", &format!("Farmer {name}")).unwrap(),
                        phone: PhoneNumber::parse("phone", &format!("98765{:05}", farmers.len())).unwrap(),
                        language: Language::Hi,
                        village_code: village,
                        consents: Consents::default(),
                    };
                    store.create_farmer(&f, "prop", t).unwrap();
                    farmers.push(f.id);
                }
                _ if farmers.is_empty() => {}
                Op::RenameFarmer { who, name } => {
                    let patch = FarmerPatch { name: Some(PersonName::parse("name", &format!("Renamed {name}")).unwrap()),
                        phone: None, language: None, village_code: None, consents: None };
                    store.update_farmer(farmers[who % farmers.len()], &patch, "prop", t).unwrap();
                }
                Op::ChangeLanguage { who, lang } => {
                    let patch = FarmerPatch { name: None, phone: None, language: Some(Language::ALL[lang]),
                        village_code: None, consents: None };
                    store.update_farmer(farmers[who % farmers.len()], &patch, "prop", t).unwrap();
                }
                Op::ToggleSms { who } => {
                    let id = farmers[who % farmers.len()];
                    let current = store.farmer(id).unwrap().unwrap().farmer.consents;
                    let patch = FarmerPatch { name: None, phone: None, language: None, village_code: None,
                        consents: Some(Consents { sms: !current.sms, ..current }) };
                    store.update_farmer(id, &patch, "prop", t).unwrap();
                }
                Op::AddFarm { who, size_m } => {
                    let farmer_id = farmers[who % farmers.len()];
                    let farm = Farm { id: FarmId(next_id()), farmer_id, survey_number: format!("{step}/1"),
                        declared_area_ha: 1.0, boundary: square(step as f64 * 500.0, f64::from(size_m)), crops: vec![] };
                    store.add_farm(&farm, "prop", t).unwrap();
                    farms.push((farmer_id, farm.id));
                }
                Op::MoveFarm { who, north_m } => {
                    if farms.is_empty() { continue; }
                    let (farmer_id, farm_id) = farms[who % farms.len()];
                    let patch = FarmPatch { survey_number: None, declared_area_ha: Some(2.0),
                        boundary: Some(square(f64::from(north_m), 80.0)), crops: None };
                    store.update_farm(farmer_id, farm_id, &patch, "prop", t).unwrap();
                }
                Op::AddSoilTest { who, ph } => {
                    if farms.is_empty() { continue; }
                    let (farmer_id, farm_id) = farms[who % farms.len()];
                    let test = SoilTest { id: SoilTestId(next_id()), farm_id,
                        sampled_on: time::macros::date!(2025 - 04 - 01), lab: "STL".into(),
                        parameters: SoilParameters::from_pairs("p", [("ph".to_owned(), f64::from(ph) / 10.0)]).unwrap() };
                    store.add_soil_test(farmer_id, &test, "prop", t).unwrap();
                }
            }
        }
        check_agreement(&store, &farmers);
        drop(store);
        let reopened = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
        check_agreement(&reopened, &farmers);
    }
}
