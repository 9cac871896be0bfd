//! Finding 25: a refusal never names another node's village.

use farmco_sync::doc::FarmerPatch;

use crate::support::{OTHER_VILLAGE, VILLAGE};

/// Finding 25: a node probing a document of a village it does not serve is refused without
/// learning that village; the cloud's audit log keeps it.
#[tokio::test]
async fn out_of_scope_refusal_does_not_name_the_other_village() {
    let env = crate::support::env().await;
    let outsider = crate::support::farmer_fixture(OTHER_VILLAGE, 17.0, 78.0, 7);
    // The farmer exists in the cloud (synced by the node that serves OTHER_VILLAGE).
    let out = env
        .store
        .apply_changes(Some("node-b"), None, outsider.batch())
        .await
        .unwrap();
    assert!(out.rejected.is_empty(), "{out:?}");
    // Node A (VILLAGE only) sends a new change to that document.
    let mut doc = outsider.doc;
    let edit = doc
        .update_farmer(
            &FarmerPatch {
                language: Some(farmco_sync::Language::parse("l", "hi").unwrap()),
                ..FarmerPatch::default()
            },
            &crate::support::meta(20),
        )
        .unwrap()
        .unwrap();
    let scope = vec![VILLAGE.to_owned()];
    let out = env
        .store
        .apply_changes(
            Some("node-a"),
            Some(&scope),
            vec![(outsider.farmer_id, edit.bytes)],
        )
        .await
        .unwrap();
    assert_eq!(out.rejected.len(), 1, "{out:?}");
    let reason = &out.rejected[0].reason;
    assert!(reason.starts_with("out_of_scope"), "{reason}");
    assert!(!reason.contains(OTHER_VILLAGE), "{reason}");
    // Quarantine keeps what the node was told; the audit row keeps the village.
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM quarantine WHERE reason LIKE '%{OTHER_VILLAGE}%'"
        ))
        .await,
        0
    );
    assert_eq!(
        env.count(&format!(
            "SELECT count(*) FROM audit_log WHERE action = 'sync.reject' AND actor = 'node-a' \
             AND detail::text LIKE '%{OTHER_VILLAGE}%'"
        ))
        .await,
        1
    );
}
