//! Documents: applying real FarmerDoc changes (projections, PostGIS validity and area),
//! idempotent re-application, refusals (out of scope before and after, garbage, missing
//! dependencies) with quarantine and audit, the change log going down (village filter, origin
//! exclusion, byte budget, cursors), anti-entropy digests, and a whole sync round in one
//! transaction.

use farmco_cloud::store::documents::{self, heads_digest};
use farmco_cloud::store::nodes::{self, Acks, Replay};
use farmco_cloud::store::readings;
use farmco_sync::doc::FarmerPatch;
use farmco_sync::{FarmerDoc, VillageCode};
use uuid::Uuid;

use crate::support::{OTHER_VILLAGE, VILLAGE, env, farmer_fixture, meta};

fn scope(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn round_trip_projects_farmer_farm_and_soil_test() {
    let env = env().await;
    let fx = farmer_fixture(VILLAGE, 17.385, 78.4867, 1);
    let s = scope(&[VILLAGE]);
    let out = env
        .store
        .apply_changes(Some("node-a"), Some(&s), fx.batch())
        .await
        .unwrap();
    assert_eq!(out.applied, 3);
    assert_eq!(out.new_changes, 3);
    assert!(out.rejected.is_empty(), "{out:?}");
    assert_eq!(out.docs_changed, vec![fx.farmer_id]);
    assert!(out.invalid_boundaries.is_empty());

    let farmer = env.store.farmer(fx.farmer_id).await.unwrap().unwrap();
    assert_eq!(farmer.village_code, VILLAGE);
    assert_eq!(farmer.phone, "+919876500001");
    assert!(farmer.consent_sms && !farmer.consent_voice);

    let farm = env.store.farm(fx.farm_id).await.unwrap().unwrap();
    assert_eq!(farm.farmer_id, fx.farmer_id);
    assert!(farm.valid, "ST_IsValid");
    let edge_area = fx.boundary.geodesic_area_ha();
    assert!((farm.area_ha - edge_area).abs() < 1e-9);
    let rel = (farm.postgis_area_ha - edge_area).abs() / edge_area;
    assert!(
        rel < 0.005,
        "PostGIS {} ha vs geo {} ha ({:.4}%)",
        farm.postgis_area_ha,
        edge_area,
        rel * 100.0
    );
    let (lat, lon) = fx.boundary.centroid();
    assert!((farm.centroid_lat - lat).abs() < 1e-9 && (farm.centroid_lon - lon).abs() < 1e-9);
    assert_eq!(farm.boundary["type"], "MultiPolygon");

    let conn = env.sql().await;
    let row = conn
        .query_one(
            "SELECT farm_id, sampled_on::text, parameters->>'ph' FROM soil_tests WHERE farmer_id = $1",
            &[&fx.farmer_id],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, Uuid>(0), fx.farm_id);
    assert_eq!(row.get::<_, String>(1), "2025-11-20");
    assert_eq!(row.get::<_, String>(2), "6.8");

    // The stored document is the edge's document.
    let (mut stored, village) = env.store.load_doc(fx.farmer_id).await.unwrap().unwrap();
    assert_eq!(village, VILLAGE);
    let mut edge_doc = fx.doc;
    assert_eq!(stored.heads_hex(), edge_doc.heads_hex());
    let heads = env.store.doc_heads(fx.farmer_id).await.unwrap().unwrap();
    assert_eq!(heads.heads, edge_doc.heads_hex());
}

#[tokio::test]
async fn applying_the_same_changes_twice_is_a_no_op() {
    let env = env().await;
    let fx = farmer_fixture(VILLAGE, 17.0, 78.0, 2);
    let s = scope(&[VILLAGE]);
    env.store
        .apply_changes(Some("node-a"), Some(&s), fx.batch())
        .await
        .unwrap();
    let updated_before: time::OffsetDateTime = env
        .sql()
        .await
        .query_one("SELECT updated_at FROM documents", &[])
        .await
        .unwrap()
        .get(0);
    let log_before = env.store.change_log_len().await.unwrap();
    // The same batch again (a retried request), and a shuffled subset.
    let again = env
        .store
        .apply_changes(Some("node-a"), Some(&s), fx.batch())
        .await
        .unwrap();
    assert_eq!((again.applied, again.new_changes), (3, 0));
    assert!(again.docs_changed.is_empty() && again.rejected.is_empty());
    let mut subset = fx.batch();
    subset.reverse();
    subset.truncate(2);
    let sub = env
        .store
        .apply_changes(Some("node-b"), None, subset)
        .await
        .unwrap();
    assert_eq!((sub.applied, sub.new_changes), (2, 0));
    assert_eq!(env.store.change_log_len().await.unwrap(), log_before);
    let updated_after: time::OffsetDateTime = env
        .sql()
        .await
        .query_one("SELECT updated_at FROM documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(updated_before, updated_after);
    assert_eq!(env.store.quarantine_len().await.unwrap(), 0);
}

#[tokio::test]
async fn out_of_scope_changes_are_rejected_quarantined_and_audited() {
    let env = env().await;
    let s = scope(&[VILLAGE]);
    // A farmer of a village the node does not serve.
    let outsider = farmer_fixture(OTHER_VILLAGE, 17.0, 78.0, 3);
    // And a farmer of its own village in the same batch: unaffected.
    let insider = farmer_fixture(VILLAGE, 17.1, 78.1, 4);
    let mut batch = outsider.batch();
    batch.extend(insider.batch());
    let out = env
        .store
        .apply_changes(Some("node-a"), Some(&s), batch)
        .await
        .unwrap();
    assert_eq!(out.applied, 3);
    assert_eq!(
        out.rejected.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(
        out.rejected[0].reason.starts_with("out_of_scope"),
        "{out:?}"
    );
    assert!(
        env.store
            .farmer(outsider.farmer_id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(env.store.farmer(insider.farmer_id).await.unwrap().is_some());
    assert_eq!(env.store.quarantine_len().await.unwrap(), 3);
    assert_eq!(
        env.count("SELECT count(*) FROM quarantine WHERE node_id = 'node-a' AND reason LIKE 'out_of_scope%'")
            .await,
        3
    );
    assert_eq!(
        env.count(
            "SELECT count(*) FROM audit_log WHERE action = 'sync.reject' AND actor = 'node-a'"
        )
        .await,
        1
    );
    assert_eq!(env.store.change_log_len().await.unwrap(), 3);

    // Moving an in-scope farmer to another village is refused too (scope after the change).
    let mut doc = insider.doc;
    let moved = doc
        .update_farmer(
            &FarmerPatch {
                village_code: Some(VillageCode::parse("v", OTHER_VILLAGE).unwrap()),
                ..FarmerPatch::default()
            },
            &meta(10),
        )
        .unwrap()
        .unwrap();
    let out = env
        .store
        .apply_changes(
            Some("node-a"),
            Some(&s),
            vec![(insider.farmer_id, moved.bytes.clone())],
        )
        .await
        .unwrap();
    assert_eq!(out.rejected.len(), 1);
    assert!(out.rejected[0].reason.contains(OTHER_VILLAGE), "{out:?}");
    let farmer = env.store.farmer(insider.farmer_id).await.unwrap().unwrap();
    assert_eq!(farmer.village_code, VILLAGE);
    // The cloud itself (no scope) may apply it; the projection follows.
    let out = env
        .store
        .apply_changes(None, None, vec![(insider.farmer_id, moved.bytes)])
        .await
        .unwrap();
    assert!(out.rejected.is_empty());
    let farmer = env.store.farmer(insider.farmer_id).await.unwrap().unwrap();
    assert_eq!(farmer.village_code, OTHER_VILLAGE);
    // node-a retrying its old batch: already known, so accepted as duplicates (it learns
    // nothing it did not send).
    let out = env
        .store
        .apply_changes(
            Some("node-a"),
            Some(&s),
            insider
                .changes
                .iter()
                .map(|c| (insider.farmer_id, c.clone()))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!((out.applied, out.new_changes), (3, 0));
    assert!(out.rejected.is_empty(), "{out:?}");
    // But a new edit of that farmer from node-a is out of its scope now.
    let edit = doc
        .update_farmer(
            &FarmerPatch {
                name: Some(farmco_sync::PersonName::parse("n", "Lakshmi Devi Rao").unwrap()),
                ..FarmerPatch::default()
            },
            &meta(11),
        )
        .unwrap()
        .unwrap();
    let out = env
        .store
        .apply_changes(
            Some("node-a"),
            Some(&s),
            vec![(insider.farmer_id, edit.bytes)],
        )
        .await
        .unwrap();
    assert_eq!(out.rejected.len(), 1);
    // The node is told it is out of scope, not which village the farmer is in now (review
    // 2026-12, finding 25).
    assert!(
        out.rejected[0].reason.starts_with("out_of_scope"),
        "{out:?}"
    );
    assert!(!out.rejected[0].reason.contains(OTHER_VILLAGE), "{out:?}");
    assert_eq!(env.store.verify_audit().await.unwrap().to_string(), "ok");
}

#[tokio::test]
async fn garbage_and_orphan_changes_are_rejected_and_quarantined() {
    let env = env().await;
    let good = farmer_fixture(VILLAGE, 17.0, 78.0, 5);
    let orphan = farmer_fixture(VILLAGE, 17.0, 78.0, 6);
    let garbage_doc = Uuid::new_v4();
    let mut batch = vec![
        (garbage_doc, vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3]),
        (garbage_doc, Vec::new()),
    ];
    batch.extend(good.batch());
    // The farm change without the farmer's creation change: its dependency is missing.
    batch.push((orphan.farmer_id, orphan.changes[1].clone()));
    // A change filed under the wrong document id.
    let wrong = Uuid::new_v4();
    batch.push((wrong, good.changes[0].clone()));
    let out = env
        .store
        .apply_changes(Some("node-a"), None, batch)
        .await
        .unwrap();
    let reasons: Vec<(usize, &str)> = out
        .rejected
        .iter()
        .map(|r| (r.index, r.reason.split(':').next().unwrap_or("")))
        .collect();
    assert!(reasons.contains(&(0, "malformed")), "{reasons:?}");
    assert!(reasons.contains(&(1, "malformed")), "{reasons:?}");
    assert!(
        reasons.contains(&(5, "missing_dependencies")),
        "{reasons:?}"
    );
    assert!(reasons.contains(&(6, "doc_id_mismatch")), "{reasons:?}");
    assert_eq!(out.applied, 3);
    assert_eq!(env.store.quarantine_len().await.unwrap(), 4);
    assert!(env.store.farmer(good.farmer_id).await.unwrap().is_some());
    assert!(env.store.doc_heads(garbage_doc).await.unwrap().is_none());
    assert_eq!(env.store.change_log_len().await.unwrap(), 3);
}

#[tokio::test]
async fn changes_go_down_by_village_excluding_the_origin_within_the_budget() {
    let env = env().await;
    let a = farmer_fixture(VILLAGE, 17.0, 78.0, 7);
    let b = farmer_fixture(OTHER_VILLAGE, 17.0, 78.0, 8);
    env.store
        .apply_changes(Some("node-a"), None, a.batch())
        .await
        .unwrap();
    env.store
        .apply_changes(None, None, b.batch())
        .await
        .unwrap();
    let all = env.store.change_log_len().await.unwrap() as u64;
    assert_eq!(all, 6);
    let v = scope(&[VILLAGE]);

    // Node a made every change of its village: nothing to send, but the cursor moves past it.
    let down = env
        .store
        .changes_after(0, &v, Some("node-a"), 32 * 1024, 100)
        .await
        .unwrap();
    assert!(down.changes.is_empty() && !down.more);
    assert_eq!(down.next_cursor, all);

    // Another node of the same village gets a's three changes, in order.
    let down = env
        .store
        .changes_after(0, &v, Some("node-c"), 32 * 1024, 100)
        .await
        .unwrap();
    assert_eq!(down.changes.len(), 3);
    assert!(down.changes.iter().all(|c| c.doc_id == a.farmer_id));
    assert_eq!(
        down.changes
            .iter()
            .map(|c| c.bytes.clone())
            .collect::<Vec<_>>(),
        a.changes
    );
    assert!(!down.more);
    assert_eq!(down.next_cursor, all);

    // Village filter: only the other village's (cloud-made) changes.
    let down = env
        .store
        .changes_after(0, &scope(&[OTHER_VILLAGE]), Some("node-c"), 32 * 1024, 100)
        .await
        .unwrap();
    assert_eq!(down.changes.len(), 3);
    assert!(down.changes.iter().all(|c| c.doc_id == b.farmer_id));

    // A budget of one byte: one change per page (never zero), resumable by cursor.
    let both = scope(&[VILLAGE, OTHER_VILLAGE]);
    let mut cursor = 0;
    let mut got = Vec::new();
    loop {
        let page = env
            .store
            .changes_after(cursor, &both, None, 1, 100)
            .await
            .unwrap();
        assert_eq!(page.changes.len().min(1), page.changes.len());
        got.extend(page.changes.iter().map(|c| c.cursor));
        assert!(page.next_cursor >= cursor);
        cursor = page.next_cursor;
        if !page.more {
            break;
        }
    }
    assert_eq!(got.len(), 6);
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    // A budget that fits the first two changes exactly.
    let first = env
        .store
        .changes_after(0, &both, None, 32 * 1024, 100)
        .await
        .unwrap();
    let two = first.changes[0].bytes.len() + first.changes[1].bytes.len();
    let page = env
        .store
        .changes_after(0, &both, None, two, 100)
        .await
        .unwrap();
    assert_eq!(page.changes.len(), 2);
    assert!(page.more);
    assert_eq!(page.next_cursor, page.changes[1].cursor);
    // The row cap.
    let page = env
        .store
        .changes_after(0, &both, None, 32 * 1024, 4)
        .await
        .unwrap();
    assert_eq!((page.changes.len(), page.more), (4, true));
    // Up to date.
    let page = env
        .store
        .changes_after(all, &both, None, 32 * 1024, 100)
        .await
        .unwrap();
    assert!(page.changes.is_empty() && !page.more && page.next_cursor == all);
}

#[tokio::test]
async fn heads_digests_page_by_doc_id() {
    let env = env().await;
    let mut fixtures: Vec<_> = (0..5)
        .map(|i| farmer_fixture(VILLAGE, 17.0, 78.0 + f64::from(i) * 0.01, 20 + i))
        .collect();
    for fx in &fixtures {
        env.store
            .apply_changes(None, None, fx.batch())
            .await
            .unwrap();
    }
    fixtures.sort_by_key(|f| f.farmer_id);
    let v = scope(&[VILLAGE]);
    let page1 = env.store.doc_heads_digests(&v, None, 3).await.unwrap();
    let page2 = env
        .store
        .doc_heads_digests(&v, Some(page1[2].0), 3)
        .await
        .unwrap();
    assert_eq!(page1.len(), 3);
    assert_eq!(page2.len(), 2);
    for ((id, digest), fx) in page1.iter().chain(&page2).zip(fixtures.iter_mut()) {
        assert_eq!(*id, fx.farmer_id);
        assert_eq!(*digest, heads_digest(&fx.doc.heads_hex()));
    }
    assert!(
        env.store
            .doc_heads_digests(&scope(&[OTHER_VILLAGE]), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn save_doc_merges_into_the_stored_document() {
    let env = env().await;
    let mut fx = farmer_fixture(VILLAGE, 17.0, 78.0, 9);
    env.store
        .apply_changes(None, None, fx.batch())
        .await
        .unwrap();
    // An edge-side edit arrives as a whole document (anti-entropy), not as change bytes.
    let mut edge = FarmerDoc::load(b"other-edge-actor", &fx.doc.save()).unwrap();
    edge.update_farmer(
        &FarmerPatch {
            name: Some(farmco_sync::PersonName::parse("n", "Lakshmi Devi Rao").unwrap()),
            ..FarmerPatch::default()
        },
        &meta(20),
    )
    .unwrap();
    let v = scope(&[VILLAGE]);
    let logged = env
        .store
        .save_doc(Some("node-a"), Some(&v), fx.farmer_id, &mut edge)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(logged, 1);
    assert_eq!(
        env.store.farmer(fx.farmer_id).await.unwrap().unwrap().name,
        "Lakshmi Devi Rao"
    );
    assert_eq!(env.store.change_log_len().await.unwrap(), 4);
}

/// What the sync endpoint will do: one transaction per round.
#[tokio::test]
async fn a_sync_round_commits_documents_readings_and_acks_together() {
    let env = env().await;
    let node_id = crate::support::enroll_node(&env.store, 1, &[VILLAGE]).await;
    let fx = farmer_fixture(VILLAGE, 17.0, 78.0, 11);
    let now_ms = farmco_cloud::store::audit::unix_ms(farmco_cloud::store::now());
    let rows = vec![("s1".to_owned(), "air_temp_c".to_owned(), now_ms, 30.5)];

    let round = |commit: bool| {
        let store = env.store.clone();
        let node_id = node_id.clone();
        let batch = fx.batch();
        let rows = rows.clone();
        async move {
            let mut conn = store.conn().await.unwrap();
            let tx = conn.transaction().await.unwrap();
            let node = nodes::lock_node_in(&tx, &node_id).await.unwrap().unwrap();
            assert!(!node.revoked());
            let out = documents::apply_changes_in(
                &tx,
                store.actor(),
                Some(&node_id),
                Some(node.villages.as_slice()),
                batch,
                farmco_cloud::store::now(),
            )
            .await
            .unwrap();
            let r = readings::insert_readings_in(&tx, Some(&node_id), &rows)
                .await
                .unwrap();
            nodes::set_acks_in(
                &tx,
                &node_id,
                &Acks {
                    up_acked: 3,
                    readings_acked: 1,
                    replay: Replay {
                        seq: 1,
                        digest: [9; 32],
                        response: b"signed response".to_vec(),
                    },
                    heartbeat: Some(serde_json::json!({"change_log_backlog": 0})),
                    down_cursor_hint: Some(0),
                },
                farmco_cloud::store::now(),
            )
            .await
            .unwrap();
            if commit {
                tx.commit().await.unwrap();
            }
            (out, r)
        }
    };
    // A round whose answer never left (the transaction is dropped): nothing stays.
    round(false).await;
    assert_eq!(env.store.change_log_len().await.unwrap(), 0);
    assert_eq!(env.store.node(&node_id).await.unwrap().unwrap().up_acked, 0);
    // Committed: everything at once.
    let (out, r) = round(true).await;
    assert_eq!((out.new_changes, r.inserted), (3, 1));
    let node = env.store.node(&node_id).await.unwrap().unwrap();
    assert_eq!((node.up_acked, node.readings_acked), (3, 1));
    let replay = node.replay.unwrap();
    assert_eq!((replay.seq, replay.digest), (1, [9; 32]));
    assert_eq!(replay.response, b"signed response");
    // The same round again (same seq) is a no-op that stores the same answer.
    let (out, r) = round(true).await;
    assert_eq!((out.new_changes, r.inserted, r.duplicates), (0, 0, 1));
    // An older sequence cannot overwrite the replay state.
    let err = env
        .store
        .set_acks(
            &node_id,
            &Acks {
                up_acked: 1,
                readings_acked: 0,
                replay: Replay {
                    seq: 0,
                    digest: [0; 32],
                    response: Vec::new(),
                },
                heartbeat: None,
                down_cursor_hint: None,
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, farmco_cloud::store::StoreError::Conflict { .. }),
        "{err:?}"
    );
    let node = env.store.node(&node_id).await.unwrap().unwrap();
    assert_eq!(node.up_acked, 3, "cursors never go back");
}
