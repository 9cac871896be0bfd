//! Finding 11: cloud readings are keyed by node.

/// Finding 11: two nodes with the same sensor id both keep their readings (sensor ids are only
/// unique per node); a node's own duplicates are still skipped.
#[tokio::test]
async fn readings_of_two_nodes_with_the_same_sensor_id_are_both_kept() {
    let env = crate::support::env().await;
    let ts = 1_767_225_600_000_i64;
    let a = vec![(
        "soil-1".to_owned(),
        "soil_moisture_vwc".to_owned(),
        ts,
        21.5,
    )];
    let b = vec![(
        "soil-1".to_owned(),
        "soil_moisture_vwc".to_owned(),
        ts,
        34.0,
    )];
    let first = env.store.insert_readings(Some("node-a"), &a).await.unwrap();
    let second = env.store.insert_readings(Some("node-b"), &b).await.unwrap();
    assert_eq!((first.inserted, second.inserted), (1, 1));
    let again = env.store.insert_readings(Some("node-b"), &b).await.unwrap();
    assert_eq!((again.inserted, again.duplicates), (0, 1));
    let rows = env
        .sql()
        .await
        .query(
            "SELECT node_id, value FROM readings WHERE sensor_id = 'soil-1' ORDER BY node_id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, f64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        got,
        vec![("node-a".to_owned(), 21.5), ("node-b".to_owned(), 34.0)]
    );
}
