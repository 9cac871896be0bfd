//! Readings: the binary COPY fast path, the duplicate fallback (same rows twice → count
//! unchanged; a batch overlapping stored rows stores only the new ones), input checks, and trend
//! buckets against hand-computed values.

use farmco_cloud::store::readings::ReadingRow;
use time::macros::datetime;

use crate::support::env;

fn series(sensor: &str, start_ms: i64, step_ms: i64, values: &[f64]) -> Vec<ReadingRow> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            (
                sensor.to_owned(),
                "soil_moisture_vwc".to_owned(),
                start_ms + i as i64 * step_ms,
                *v,
            )
        })
        .collect()
}

fn now_ms() -> i64 {
    farmco_cloud::store::audit::unix_ms(farmco_cloud::store::now())
}

#[tokio::test]
async fn copy_then_duplicates_fall_back_without_changing_the_count() {
    let env = env().await;
    let start = now_ms() - 3_600_000;
    let rows = series(
        "s1",
        start,
        60_000,
        &(0..500).map(f64::from).collect::<Vec<_>>(),
    );
    let first = env
        .store
        .insert_readings(Some("node-a"), &rows)
        .await
        .unwrap();
    assert_eq!(
        (first.inserted, first.duplicates, first.fallback),
        (500, 0, false)
    );
    let again = env
        .store
        .insert_readings(Some("node-a"), &rows)
        .await
        .unwrap();
    assert_eq!(
        (again.inserted, again.duplicates, again.fallback),
        (0, 500, true)
    );
    assert_eq!(
        env.store
            .readings_count("s1", "soil_moisture_vwc")
            .await
            .unwrap(),
        500
    );

    // Overlapping batch: 250 stored + 250 new (and one repeated inside the batch).
    let mut overlap = series("s1", start + 250 * 60_000, 60_000, &[1.0; 500]);
    overlap.push(overlap[499].clone());
    let o = env
        .store
        .insert_readings(Some("node-a"), &overlap)
        .await
        .unwrap();
    assert_eq!((o.inserted, o.duplicates, o.fallback), (250, 251, true));
    assert_eq!(
        env.store
            .readings_count("s1", "soil_moisture_vwc")
            .await
            .unwrap(),
        750
    );
    // The first value of a key wins (DO NOTHING), so a resent batch cannot rewrite history.
    let v: f64 = env
        .sql()
        .await
        .query_one(
            "SELECT value FROM readings WHERE sensor_id = 's1' AND ts = to_timestamp($1::float8 / 1000)",
            &[&((start + 300 * 60_000) as f64)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 300.0);
}

#[tokio::test]
async fn two_batches_in_one_transaction_both_fall_back() {
    let env = env().await;
    let rows = series("s2", now_ms(), 1_000, &[1.0, 2.0, 3.0]);
    env.store.insert_readings(None, &rows).await.unwrap();
    let mut conn = env.store.conn().await.unwrap();
    let tx = conn.transaction().await.unwrap();
    let a = farmco_cloud::store::readings::insert_readings_in(&tx, None, &rows)
        .await
        .unwrap();
    let more = series("s2", now_ms() + 10_000, 1_000, &[4.0, 5.0]);
    let mut mixed = rows.clone();
    mixed.extend(more);
    let b = farmco_cloud::store::readings::insert_readings_in(&tx, None, &mixed)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((a.inserted, a.fallback), (0, true));
    assert_eq!((b.inserted, b.duplicates, b.fallback), (2, 3, true));
    assert_eq!(
        env.store
            .readings_count("s2", "soil_moisture_vwc")
            .await
            .unwrap(),
        5
    );
}

#[tokio::test]
async fn bad_rows_are_refused_before_anything_is_written() {
    let env = env().await;
    for bad in [
        vec![("".to_owned(), "m".to_owned(), now_ms(), 1.0)],
        vec![("s".to_owned(), "m".to_owned(), now_ms(), f64::NAN)],
        vec![("s".to_owned(), "m".to_owned(), i64::MAX, 1.0)],
        vec![("s\n".to_owned(), "m".to_owned(), now_ms(), 1.0)],
    ] {
        let err = env.store.insert_readings(None, &bad).await.unwrap_err();
        assert!(
            matches!(err, farmco_cloud::store::StoreError::Validation(_)),
            "{err:?}"
        );
    }
    assert_eq!(env.count("SELECT count(*) FROM readings").await, 0);
}

/// percentile_cont: linear interpolation between the closest ranks.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let pos = p * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
}

#[tokio::test]
async fn weekly_trend_buckets_match_hand_computed_values() {
    let env = env().await;
    let from = datetime!(2026-01-05 00:00 UTC);
    let from_ms = farmco_cloud::store::audit::unix_ms(from);
    // Week 1: the values 1..=7, one per day (by hand: avg 4; quartiles at ranks 1.5 and 4.5,
    // so 2.5 and 5.5). Week 2: 14 six-hourly values 20, 22, ..., 46. Week 3: nothing.
    let week1: Vec<f64> = (1..=7).map(f64::from).collect();
    let mut rows = series("s3", from_ms, 86_400_000, &week1);
    let week2_ms = from_ms + 7 * 86_400_000;
    let week2: Vec<f64> = (0..14).map(|i| 20.0 + 2.0 * f64::from(i)).collect();
    rows.extend(series("s3", week2_ms, 6 * 3_600_000, &week2));
    // Outside the window: ignored.
    rows.extend(series("s3", from_ms - 1, 1, &[1000.0]));
    // Another metric of the same sensor: ignored.
    rows.push(("s3".into(), "soil_temp_c".into(), from_ms + 5, 99.0));
    env.store.insert_readings(None, &rows).await.unwrap();

    let to = from + time::Duration::days(21);
    let buckets = env
        .store
        .trends("s3", "soil_moisture_vwc", from, to, 7 * 86_400)
        .await
        .unwrap();
    assert_eq!(buckets.len(), 2, "{buckets:?}");

    let b = &buckets[0];
    assert_eq!(b.start, from);
    assert_eq!(b.count, 7);
    assert_eq!((b.min, b.max), (1.0, 7.0));
    assert!((b.avg - 4.0).abs() < 1e-12);
    assert!((b.p25 - 2.5).abs() < 1e-12, "{}", b.p25);
    assert!((b.p75 - 5.5).abs() < 1e-12, "{}", b.p75);
    assert!((b.p25 - percentile(&week1, 0.25)).abs() < 1e-12);

    let b = &buckets[1];
    assert_eq!(b.start, from + time::Duration::days(7));
    assert_eq!(b.count, 14);
    assert_eq!((b.min, b.max), (20.0, 46.0));
    assert!((b.avg - 33.0).abs() < 1e-12);
    // Ranks 0..13: p25 at 3.25 → 26 + 0.25 * 2 = 26.5; p75 at 9.75 → 38 + 0.75 * 2 = 39.5.
    assert!((b.p25 - 26.5).abs() < 1e-12, "{}", b.p25);
    assert!((b.p75 - 39.5).abs() < 1e-12, "{}", b.p75);
    assert!((b.p75 - percentile(&week2, 0.75)).abs() < 1e-12);

    // Buckets are aligned to `from`, not to the epoch.
    let shifted = env
        .store
        .trends(
            "s3",
            "soil_moisture_vwc",
            from + time::Duration::hours(12),
            to,
            86_400,
        )
        .await
        .unwrap();
    assert_eq!(shifted[0].start, from + time::Duration::hours(12));
    // Too many buckets is a validation error.
    assert!(
        env.store
            .trends(
                "s3",
                "soil_moisture_vwc",
                from,
                from + time::Duration::days(1000),
                3600
            )
            .await
            .is_err()
    );
}
