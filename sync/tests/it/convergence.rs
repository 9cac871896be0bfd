//! Convergence under concurrency: 2-3 replicas make random edits and exchange random subsets of
//! their changes in random order, with duplicates; after a final exchange every replica has
//! the same heads, the same farmer, farms, soil tests and history, and everything validates.

use farmco_sync::model::{
    Consents, CropSeason, Language, PersonName, PhoneNumber, Season, VillageCode,
};
use farmco_sync::{FarmPatch, FarmerDoc, FarmerPatch};
use proptest::prelude::*;
use proptest::sample::Index;
use time::macros::date;

use crate::support::{actor, boundary, farm, farm_id, farmer, meta, soil_test};

#[derive(Debug, Clone)]
enum Edit {
    Name(u8),
    Phone(u8),
    Language(u8),
    Village(u8),
    Consents(bool, bool, bool),
    Everything(u8),
    AddFarm(u8),
    FarmArea(u8, u8),
    FarmBoundary(u8, u8),
    FarmCrops(u8, u8),
    AddSoilTest(u8, u8),
}

#[derive(Debug, Clone)]
enum Step {
    Edit {
        replica: Index,
        edit: Edit,
    },
    /// Send the changes at `picks` (indexes into the sender's changes, so possibly repeated
    /// and in any order) from one replica to another, in one call or one call per change.
    Send {
        from: Index,
        to: Index,
        picks: Vec<Index>,
        one_by_one: bool,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<u8>().prop_map(Edit::Name),
        any::<u8>().prop_map(Edit::Phone),
        any::<u8>().prop_map(Edit::Language),
        any::<u8>().prop_map(Edit::Village),
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(a, b, c)| Edit::Consents(a, b, c)),
        any::<u8>().prop_map(Edit::Everything),
        (0u8..3).prop_map(Edit::AddFarm),
        (0u8..3, any::<u8>()).prop_map(|(f, v)| Edit::FarmArea(f, v)),
        (0u8..3, 0u8..4).prop_map(|(f, v)| Edit::FarmBoundary(f, v)),
        (0u8..3, 0u8..3).prop_map(|(f, v)| Edit::FarmCrops(f, v)),
        (0u8..3, 0u8..4).prop_map(|(f, t)| Edit::AddSoilTest(f, t)),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (any::<Index>(), edit()).prop_map(|(replica, edit)| Step::Edit { replica, edit }),
        2 => (any::<Index>(), any::<Index>(), prop::collection::vec(any::<Index>(), 0..8), any::<bool>())
            .prop_map(|(from, to, picks, one_by_one)| Step::Send { from, to, picks, one_by_one }),
    ]
}

const NAMES: [&str; 4] = ["Sunita Pawar", "Sunita Bai", "सुनीता", "S. Pawar"];
const PHONES: [&str; 4] = ["9812345678", "7000000001", "6000000002", "8999999999"];
const VILLAGES: [&str; 3] = ["556677", "100001", "999998"];

fn apply_edit(doc: &mut FarmerDoc, edit: &Edit, author: &str, time_ms: i64) {
    let m = meta(author, time_ms);
    let pick = |n: u8, len: usize| usize::from(n) % len;
    let name = |n: u8| PersonName::parse("name", NAMES[pick(n, NAMES.len())]).unwrap();
    let phone = |n: u8| PhoneNumber::parse("phone", PHONES[pick(n, PHONES.len())]).unwrap();
    let language = |n: u8| Language::ALL[pick(n, Language::ALL.len())];
    let village = |n: u8| VillageCode::parse("v", VILLAGES[pick(n, VILLAGES.len())]).unwrap();
    // Edits may legitimately fail (a farm this replica has not seen yet, a duplicate id);
    // convergence must hold either way, so results are ignored.
    let _ = match edit {
        Edit::Name(n) => doc
            .update_farmer(
                &FarmerPatch {
                    name: Some(name(*n)),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::Phone(n) => doc
            .update_farmer(
                &FarmerPatch {
                    phone: Some(phone(*n)),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::Language(n) => doc
            .update_farmer(
                &FarmerPatch {
                    language: Some(language(*n)),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::Village(n) => doc
            .update_farmer(
                &FarmerPatch {
                    village_code: Some(village(*n)),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::Consents(sms, voice, data_sharing) => doc
            .update_farmer(
                &FarmerPatch {
                    consents: Some(Consents {
                        sms: *sms,
                        voice: *voice,
                        data_sharing: *data_sharing,
                    }),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::Everything(n) => doc
            .update_farmer(
                &FarmerPatch {
                    name: Some(name(*n)),
                    phone: Some(phone(n.wrapping_add(1))),
                    language: Some(language(*n)),
                    village_code: Some(village(*n)),
                    consents: Some(Consents {
                        sms: n % 2 == 0,
                        voice: n % 3 == 0,
                        data_sharing: n % 5 == 0,
                    }),
                },
                &m,
            )
            .map(drop),
        Edit::AddFarm(f) => doc.add_farm(&farm(u128::from(*f)), &m).map(drop),
        Edit::FarmArea(f, v) => doc
            .update_farm(
                farm_id(u128::from(*f)),
                &FarmPatch {
                    declared_area_ha: Some(0.25 + f64::from(*v) / 100.0),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::FarmBoundary(f, v) => doc
            .update_farm(
                farm_id(u128::from(*f)),
                &FarmPatch {
                    boundary: Some(boundary(u32::from(*v) + 10)),
                    ..Default::default()
                },
                &m,
            )
            .map(drop),
        Edit::FarmCrops(f, v) => {
            let crops: Vec<CropSeason> = (0..*v)
                .map(|i| {
                    CropSeason::new(
                        "c",
                        &format!("crop {i}"),
                        Season::ALL[usize::from(i) % 3],
                        date!(2025 - 01 - 01),
                    )
                    .unwrap()
                })
                .collect();
            doc.update_farm(
                farm_id(u128::from(*f)),
                &FarmPatch {
                    crops: Some(crops),
                    ..Default::default()
                },
                &m,
            )
            .map(drop)
        }
        Edit::AddSoilTest(f, t) => doc
            .add_soil_test(&soil_test(u128::from(*t), farm_id(u128::from(*f))), &m)
            .map(drop),
    };
}

fn all_change_bytes(doc: &FarmerDoc) -> Vec<Vec<u8>> {
    doc.changes_after(&[])
        .unwrap()
        .into_iter()
        .map(|c| c.bytes)
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn replicas_converge(
        replica_count in 2usize..=3,
        steps in prop::collection::vec(step(), 1..24),
        final_reverse in any::<bool>(),
    ) {
        let (first, created) = FarmerDoc::create(&actor(1), &farmer(), &meta("creator", 0)).unwrap();
        let mut replicas = vec![first];
        for r in 1..replica_count {
            let mut doc = FarmerDoc::new_empty(&actor(r as u8 + 1)).unwrap();
            doc.apply_changes(std::slice::from_ref(&created.bytes)).unwrap();
            replicas.push(doc);
        }

        for (t, step) in steps.iter().enumerate() {
            match step {
                Step::Edit { replica, edit } => {
                    let r = replica.index(replica_count);
                    apply_edit(&mut replicas[r], edit, &format!("user{r}"), t as i64 + 1);
                }
                Step::Send { from, to, picks, one_by_one } => {
                    let (from, to) = (from.index(replica_count), to.index(replica_count));
                    let available = all_change_bytes(&replicas[from]);
                    let batch: Vec<Vec<u8>> = picks.iter().map(|i| available[i.index(available.len())].clone()).collect();
                    let heads_before = replicas[to].heads_hex();
                    if *one_by_one {
                        for change in &batch {
                            replicas[to].apply_changes(std::slice::from_ref(change)).unwrap();
                        }
                    } else {
                        replicas[to].apply_changes(&batch).unwrap();
                    }
                    // Applying the same batch again changes nothing.
                    let heads_after = replicas[to].heads_hex();
                    replicas[to].apply_changes(&batch).unwrap();
                    prop_assert_eq!(replicas[to].heads_hex(), heads_after.clone());
                    if batch.is_empty() {
                        prop_assert_eq!(heads_after, heads_before);
                    }
                }
            }
        }

        // Final exchange: everyone sends everything to everyone, possibly newest first.
        let logs: Vec<Vec<Vec<u8>>> = replicas.iter().map(all_change_bytes).collect();
        for (to, replica) in replicas.iter_mut().enumerate() {
            for (from, log) in logs.iter().enumerate() {
                if from == to {
                    continue;
                }
                let mut log = log.clone();
                if final_reverse {
                    log.reverse();
                }
                replica.apply_changes(&log).unwrap();
            }
        }

        let reference_heads = replicas[0].heads_hex();
        let reference_farmer = replicas[0].farmer().unwrap();
        let reference_farms = replicas[0].farms().unwrap();
        let reference_tests = replicas[0].soil_tests().unwrap();
        let reference_history = replicas[0].history();
        for replica in replicas.iter_mut() {
            prop_assert!(replica.missing_deps_hex().is_empty());
            prop_assert_eq!(replica.heads_hex(), reference_heads.clone());
            prop_assert_eq!(replica.farmer().unwrap(), reference_farmer.clone());
            prop_assert_eq!(replica.farms().unwrap(), reference_farms.clone());
            prop_assert_eq!(replica.soil_tests().unwrap(), reference_tests.clone());
            prop_assert_eq!(replica.history(), reference_history.clone());
        }
        // And the converged state survives storage.
        let saved = replicas[0].save();
        let mut loaded = FarmerDoc::load(&actor(9), &saved).unwrap();
        prop_assert_eq!(loaded.heads_hex(), reference_heads);
        prop_assert_eq!(loaded.farmer().unwrap(), reference_farmer);
    }
}
