//! The farmer document: create/save/load round trips, one commit per edit, no empty commits,
//! history, exchange between replicas, and re-validation of corrupted contents.

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ROOT, ReadDoc};
use farmco_sync::boundary::Boundary;
use farmco_sync::model::{
    Consents, CropSeason, Language, PersonName, PhoneNumber, Season, VillageCode,
};
use farmco_sync::{DocError, FarmPatch, FarmerDoc, FarmerPatch, HistoryEntry};
use serde_json::json;
use time::macros::date;

use crate::support::{actor, boundary, farm, farm_id, farmer, meta, soil_test};

fn populated() -> FarmerDoc {
    let (mut doc, _) = FarmerDoc::create(&actor(1), &farmer(), &meta("agent.asha", 1_000)).unwrap();
    doc.add_farm(&farm(1), &meta("agent.asha", 2_000)).unwrap();
    doc.add_farm(&farm(2), &meta("agent.asha", 3_000)).unwrap();
    doc.add_soil_test(&soil_test(1, farm_id(2)), &meta("lab.sync", 4_000))
        .unwrap();
    doc.add_soil_test(&soil_test(2, farm_id(1)), &meta("lab.sync", 5_000))
        .unwrap();
    doc
}

#[test]
fn create_save_load_round_trip() {
    let mut doc = populated();
    let saved = doc.save();
    let loaded = FarmerDoc::load(&actor(2), &saved).unwrap();
    assert_eq!(loaded.farmer().unwrap(), farmer());
    assert_eq!(loaded.farms().unwrap(), vec![farm(1), farm(2)]);
    let tests = loaded.soil_tests().unwrap();
    assert_eq!(
        tests,
        vec![soil_test(1, farm_id(2)), soil_test(2, farm_id(1))]
    );
    assert_eq!(doc.farms().unwrap(), loaded.farms().unwrap());
}

#[test]
fn create_returns_the_single_change() {
    let (mut doc, change) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    assert_eq!(doc.heads_hex(), vec![change.hash_hex()]);
    let mut replica = FarmerDoc::new_empty(&actor(2)).unwrap();
    assert!(matches!(replica.farmer(), Err(DocError::NotFound(_))));
    replica
        .apply_changes(std::slice::from_ref(&change.bytes))
        .unwrap();
    assert_eq!(replica.farmer().unwrap(), farmer());
    assert_eq!(replica.heads_hex(), doc.heads_hex());
}

#[test]
fn every_edit_is_one_commit() {
    let mut doc = populated();
    assert_eq!(doc.history().len(), 5);
    assert_eq!(doc.changes_after(&[]).unwrap().len(), 5);
    let before = doc.heads_hex();
    let change = doc
        .update_farmer(
            &FarmerPatch {
                name: Some(PersonName::parse("name", "Sunita R. Pawar").unwrap()),
                phone: Some(PhoneNumber::parse("phone", "7012345678").unwrap()),
                consents: Some(Consents {
                    sms: true,
                    voice: true,
                    data_sharing: false,
                }),
                ..FarmerPatch::default()
            },
            &meta("agent.ravi", 6_000),
        )
        .unwrap()
        .unwrap();
    assert_eq!(doc.history().len(), 6);
    assert_eq!(doc.heads_hex(), vec![change.hash_hex()]);
    assert_eq!(doc.changes_after(&before).unwrap(), vec![change]);
}

#[test]
fn update_farmer_without_real_change_is_none() {
    let mut doc = populated();
    let heads = doc.heads_hex();
    assert_eq!(
        doc.update_farmer(&FarmerPatch::default(), &meta("a", 9))
            .unwrap(),
        None
    );
    let same = FarmerPatch {
        name: Some(farmer().name),
        phone: Some(PhoneNumber::parse("phone", "09812345678").unwrap()),
        language: Some(Language::Mr),
        village_code: Some(VillageCode::parse("v", "556677").unwrap()),
        consents: Some(farmer().consents),
    };
    assert_eq!(doc.update_farmer(&same, &meta("a", 9)).unwrap(), None);
    assert_eq!(
        doc.update_farm(farm_id(1), &FarmPatch::default(), &meta("a", 9))
            .unwrap(),
        None
    );
    let same_farm = FarmPatch {
        survey_number: Some(" 1/4A ".into()),
        declared_area_ha: Some(0.8),
        boundary: Some(boundary(1)),
        crops: Some(farm(1).crops),
    };
    assert_eq!(
        doc.update_farm(farm_id(1), &same_farm, &meta("a", 9))
            .unwrap(),
        None
    );
    assert_eq!(doc.heads_hex(), heads);
    assert_eq!(doc.history().len(), 5);
}

#[test]
fn history_lists_authors_actions_and_fields() {
    let mut doc = populated();
    doc.update_farmer(
        &FarmerPatch {
            phone: Some(PhoneNumber::parse("phone", "7012345678").unwrap()),
            language: Some(Language::Hi),
            consents: Some(Consents {
                sms: true,
                voice: true,
                data_sharing: false,
            }),
            ..FarmerPatch::default()
        },
        &meta("agent.ravi", 6_000),
    )
    .unwrap()
    .unwrap();
    doc.update_farm(
        farm_id(2),
        &FarmPatch {
            boundary: Some(boundary(7)),
            ..FarmPatch::default()
        },
        &meta("surveyor.meena", 7_000),
    )
    .unwrap()
    .unwrap();
    let history = doc.history();
    let summary: Vec<(&str, i64, &str, Vec<&str>)> = history
        .iter()
        .map(|e: &HistoryEntry| {
            (
                e.author.as_str(),
                e.time_ms,
                e.action.as_str(),
                e.fields.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let farm1 = format!("farms.{}", farm_id(1));
    let farm2 = format!("farms.{}", farm_id(2));
    let boundary2 = format!("farms.{}.boundary", farm_id(2));
    let test1 = format!("soil_tests.{}", soil_test(1, farm_id(2)).id);
    let test2 = format!("soil_tests.{}", soil_test(2, farm_id(1)).id);
    assert_eq!(
        summary,
        vec![
            (
                "agent.asha",
                1_000,
                "create_farmer",
                vec![
                    "id",
                    "name",
                    "phone",
                    "language",
                    "village_code",
                    "consents"
                ]
            ),
            ("agent.asha", 2_000, "add_farm", vec![farm1.as_str()]),
            ("agent.asha", 3_000, "add_farm", vec![farm2.as_str()]),
            ("lab.sync", 4_000, "add_soil_test", vec![test1.as_str()]),
            ("lab.sync", 5_000, "add_soil_test", vec![test2.as_str()]),
            (
                "agent.ravi",
                6_000,
                "update_farmer",
                vec!["phone", "language", "consents.voice"]
            ),
            (
                "surveyor.meena",
                7_000,
                "update_farm",
                vec![boundary2.as_str()]
            ),
        ]
    );
    assert!(history.iter().all(|e| e.hash.len() == 64));
}

#[test]
fn update_farm_replaces_crops_and_boundary() {
    let mut doc = populated();
    let crops = vec![CropSeason::new("c", "tur", Season::Kharif, date!(2025 - 06 - 25)).unwrap()];
    let change = doc
        .update_farm(
            farm_id(1),
            &FarmPatch {
                declared_area_ha: Some(1.25),
                boundary: Some(boundary(9)),
                crops: Some(crops.clone()),
                ..FarmPatch::default()
            },
            &meta("a", 8_000),
        )
        .unwrap();
    assert!(change.is_some());
    let farms = doc.farms().unwrap();
    assert_eq!(farms[0].declared_area_ha, 1.25);
    assert_eq!(farms[0].boundary, boundary(9));
    assert_eq!(farms[0].crops, crops);
    assert_eq!(farms[1], farm(2));
    let entry = doc.history().pop().unwrap();
    let id = farm_id(1);
    assert_eq!(
        entry.fields,
        vec![
            format!("farms.{id}.declared_area_ha"),
            format!("farms.{id}.boundary"),
            format!("farms.{id}.crops"),
        ]
    );
}

#[test]
fn edits_are_checked() {
    let mut doc = populated();
    let m = meta("a", 1);
    let mut stranger = farm(5);
    stranger.farmer_id = farmco_sync::FarmerId(uuid::Uuid::from_u128(99));
    match doc.add_farm(&stranger, &m) {
        Err(DocError::Invalid(e)) => {
            assert_eq!((e.field.as_str(), e.code), ("farmer_id", "mismatch"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        doc.add_farm(&farm(1), &m),
        Err(DocError::AlreadyExists(_))
    ));
    let mut bad = farm(6);
    bad.declared_area_ha = 0.0;
    match doc.add_farm(&bad, &m) {
        Err(DocError::Invalid(e)) => assert_eq!(
            (e.field.as_str(), e.code),
            ("declared_area_ha", "out_of_range")
        ),
        other => panic!("{other:?}"),
    }
    let mut bad = farm(6);
    bad.crops[1].crop = String::new();
    match doc.add_farm(&bad, &m) {
        Err(DocError::Invalid(e)) => {
            assert_eq!((e.field.as_str(), e.code), ("crops[1].crop", "required"))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        doc.update_farm(
            farm_id(42),
            &FarmPatch {
                declared_area_ha: Some(1.0),
                ..FarmPatch::default()
            },
            &m
        ),
        Err(DocError::NotFound(_))
    ));
    match doc.update_farm(
        farm_id(1),
        &FarmPatch {
            declared_area_ha: Some(f64::NAN),
            ..FarmPatch::default()
        },
        &m,
    ) {
        Err(DocError::Invalid(e)) => assert_eq!(e.code, "non_finite"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        doc.add_soil_test(&soil_test(9, farm_id(42)), &m),
        Err(DocError::NotFound(_))
    ));
    assert!(matches!(
        doc.add_soil_test(&soil_test(1, farm_id(1)), &m),
        Err(DocError::AlreadyExists(_))
    ));
    match doc.update_farmer(&FarmerPatch::default(), &meta("", 1)) {
        Err(DocError::Invalid(e)) => assert_eq!((e.field.as_str(), e.code), ("author", "required")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        FarmerDoc::create(&[], &farmer(), &m),
        Err(DocError::InvalidActor(_))
    ));
    assert!(matches!(
        FarmerDoc::load(&[0; 33], &doc.save()),
        Err(DocError::InvalidActor(_))
    ));
    assert_eq!(doc.history().len(), 5, "failed edits make no commits");
}

#[test]
fn apply_changes_is_idempotent_and_order_independent() {
    let mut source = populated();
    let changes: Vec<Vec<u8>> = source
        .changes_after(&[])
        .unwrap()
        .into_iter()
        .map(|c| c.bytes)
        .collect();
    let mut reversed = changes.clone();
    reversed.reverse();
    let mut replica = FarmerDoc::new_empty(&actor(2)).unwrap();
    replica.apply_changes(&reversed).unwrap();
    assert!(replica.missing_deps_hex().is_empty());
    replica.apply_changes(&changes).unwrap();
    replica.apply_changes(&changes[2..3]).unwrap();
    assert_eq!(replica.heads_hex(), source.heads_hex());
    assert_eq!(replica.farms().unwrap(), source.farms().unwrap());
    assert_eq!(replica.history(), source.history());

    // Out of order one by one: held back until the dependency arrives.
    let mut late = FarmerDoc::new_empty(&actor(3)).unwrap();
    late.apply_changes(&changes[1..2]).unwrap();
    assert_eq!(late.missing_deps_hex(), vec![changes_hash(&source, 0)]);
    assert!(late.heads_hex().is_empty());
    late.apply_changes(&changes[0..1]).unwrap();
    assert!(late.missing_deps_hex().is_empty());
    assert_eq!(late.farms().unwrap(), vec![farm(1)]);
}

fn changes_hash(doc: &FarmerDoc, index: usize) -> String {
    doc.changes_after(&[]).unwrap()[index].hash_hex()
}

#[test]
fn concurrent_edits_of_different_fields_both_survive() {
    let (mut a, created) = FarmerDoc::create(&actor(1), &farmer(), &meta("a", 1)).unwrap();
    let mut b = FarmerDoc::new_empty(&actor(2)).unwrap();
    b.apply_changes(&[created.bytes]).unwrap();
    let from_a = a
        .update_farmer(
            &FarmerPatch {
                phone: Some(PhoneNumber::parse("p", "7000000001").unwrap()),
                ..FarmerPatch::default()
            },
            &meta("a", 2),
        )
        .unwrap()
        .unwrap();
    let from_b = b
        .update_farmer(
            &FarmerPatch {
                name: Some(PersonName::parse("n", "Sunita Bai").unwrap()),
                consents: Some(Consents {
                    sms: true,
                    voice: false,
                    data_sharing: true,
                }),
                ..FarmerPatch::default()
            },
            &meta("b", 2),
        )
        .unwrap()
        .unwrap();
    a.apply_changes(&[from_b.bytes]).unwrap();
    b.apply_changes(&[from_a.bytes]).unwrap();
    let merged = a.farmer().unwrap();
    assert_eq!(merged, b.farmer().unwrap());
    assert_eq!(merged.phone.as_str(), "+917000000001");
    assert_eq!(merged.name.as_str(), "Sunita Bai");
    assert!(merged.consents.sms && merged.consents.data_sharing && !merged.consents.voice);
    assert_eq!(a.heads_hex(), b.heads_hex());
    assert_eq!(a.heads_hex().len(), 2);

    // Same field on both sides: one deterministic winner everywhere.
    let x = a
        .update_farmer(
            &FarmerPatch {
                language: Some(Language::Hi),
                ..FarmerPatch::default()
            },
            &meta("a", 3),
        )
        .unwrap()
        .unwrap();
    let y = b
        .update_farmer(
            &FarmerPatch {
                language: Some(Language::Te),
                ..FarmerPatch::default()
            },
            &meta("b", 3),
        )
        .unwrap()
        .unwrap();
    a.apply_changes(std::slice::from_ref(&y.bytes)).unwrap();
    b.apply_changes(&[x.bytes.clone(), y.bytes]).unwrap();
    assert_eq!(a.farmer().unwrap(), b.farmer().unwrap());
    assert_eq!(a.history(), b.history());

    let mut c = FarmerDoc::new_empty(&actor(3)).unwrap();
    c.merge(&mut a).unwrap();
    assert_eq!(c.heads_hex(), b.heads_hex());
}

/// Write into a copy of `doc` with raw automerge, as a buggy or hostile replica could, and
/// apply that change to `doc`.
fn tamper(doc: &mut FarmerDoc, edit: impl FnOnce(&mut AutoCommit)) {
    let mut raw = AutoCommit::load(&doc.save())
        .unwrap()
        .with_actor(automerge::ActorId::from([9u8; 16]));
    edit(&mut raw);
    raw.commit();
    let mut change = raw.get_last_local_change().unwrap();
    doc.apply_changes(&[change.bytes().into_owned()]).unwrap();
}

fn corrupt_message<T: std::fmt::Debug>(result: Result<T, DocError>) -> String {
    match result {
        Err(DocError::Corrupt(message)) => message,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn reading_revalidates_everything() {
    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, farmer) = raw.get(ROOT, "farmer").unwrap().unwrap();
        raw.put(&farmer, "phone", "12345").unwrap();
    });
    assert!(corrupt_message(doc.farmer()).contains("farmer.phone"));

    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, farmer) = raw.get(ROOT, "farmer").unwrap().unwrap();
        let (_, consents) = raw.get(&farmer, "consents").unwrap().unwrap();
        raw.put(&consents, "sms", "yes").unwrap();
    });
    assert!(corrupt_message(doc.farmer()).contains("farmer.consents.sms"));

    let id = farm_id(1);
    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, farms) = raw.get(ROOT, "farms").unwrap().unwrap();
        let (_, farm) = raw.get(&farms, id.to_string()).unwrap().unwrap();
        let bow_tie = json!({"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]});
        raw.put(&farm, "boundary", bow_tie.to_string()).unwrap();
    });
    let message = corrupt_message(doc.farms());
    assert!(
        message.contains(&format!("farms.{id}.boundary")) && message.contains("self_intersection"),
        "{message}"
    );

    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, farms) = raw.get(ROOT, "farms").unwrap().unwrap();
        let (_, farm) = raw.get(&farms, id.to_string()).unwrap().unwrap();
        raw.put_object(&farm, "declared_area_ha", ObjType::List)
            .unwrap();
    });
    assert!(corrupt_message(doc.farms()).contains("declared_area_ha"));

    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, farms) = raw.get(ROOT, "farms").unwrap().unwrap();
        raw.put(&farms, "not-a-uuid", 5).unwrap();
    });
    assert!(corrupt_message(doc.farms()).contains("farms.not-a-uuid"));

    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, tests) = raw.get(ROOT, "soil_tests").unwrap().unwrap();
        let key = raw.keys(&tests).next().unwrap();
        let (_, test) = raw.get(&tests, key.as_str()).unwrap().unwrap();
        let (_, parameters) = raw.get(&test, "parameters").unwrap().unwrap();
        raw.put(&parameters, "ph", 14.5).unwrap();
    });
    let message = corrupt_message(doc.soil_tests());
    assert!(
        message.contains("parameters.ph") && message.contains("out_of_range"),
        "{message}"
    );

    // An edit repairs a corrupt field by writing a valid value.
    let mut doc = populated();
    tamper(&mut doc, |raw| {
        let (_, farmer) = raw.get(ROOT, "farmer").unwrap().unwrap();
        raw.put(&farmer, "name", "").unwrap();
    });
    assert!(doc.farmer().is_err());
    doc.update_farmer(
        &FarmerPatch {
            name: Some(farmer().name),
            ..FarmerPatch::default()
        },
        &meta("a", 1),
    )
    .unwrap()
    .unwrap();
    assert_eq!(doc.farmer().unwrap(), farmer());
}

#[test]
fn load_of_concatenated_changes_works() {
    let mut source = populated();
    let bytes: Vec<u8> = source
        .changes_after(&[])
        .unwrap()
        .into_iter()
        .flat_map(|c| c.bytes)
        .collect();
    let mut loaded = FarmerDoc::load(&actor(5), &bytes).unwrap();
    assert_eq!(loaded.heads_hex(), source.heads_hex());
    assert!(matches!(
        FarmerDoc::load(&actor(5), &[]),
        Err(DocError::Corrupt(_))
    ));
}

#[test]
fn boundary_in_doc_is_stored_as_text() {
    let mut doc = populated();
    let raw = AutoCommit::load(&doc.save()).unwrap();
    let (_, farms) = raw.get(ROOT, "farms").unwrap().unwrap();
    let (_, farm) = raw.get(&farms, farm_id(1).to_string()).unwrap().unwrap();
    let (value, _) = raw.get(&farm, "boundary").unwrap().unwrap();
    let text = value.into_string().unwrap();
    assert_eq!(
        Boundary::from_geojson_text("b", &text).unwrap(),
        boundary(1)
    );
}

#[test]
fn large_boundary_travels_as_one_compressed_change() {
    let n = 2_000;
    let mut ring: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let a = f64::from(i) / f64::from(n) * std::f64::consts::TAU;
            json!([73.85 + 0.001 * a.cos(), 18.5 + 0.001 * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    let big = Boundary::from_geojson(
        "boundary",
        &json!({"type": "Polygon", "coordinates": [ring]}),
    )
    .unwrap();
    let text_len = big.to_geojson_text().len();
    let mut source = populated();
    let change = source
        .update_farm(
            farm_id(1),
            &FarmPatch {
                boundary: Some(big.clone()),
                ..FarmPatch::default()
            },
            &meta("a", 9),
        )
        .unwrap()
        .unwrap();
    assert!(
        change.bytes.len() < text_len,
        "{} bytes for {text_len} bytes of text",
        change.bytes.len()
    );
    let mut replica = FarmerDoc::load(&actor(2), &populated().save()).unwrap();
    replica.apply_changes(&[change.bytes]).unwrap();
    assert_eq!(replica.heads_hex(), source.heads_hex());
    assert_eq!(replica.farms().unwrap()[0].boundary, big);
}
