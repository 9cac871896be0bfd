//! Measurements (ignored by default; run with
//! `cargo test -p farmco-cloud --release --test it -- --ignored --nocapture bench`):
//! readings ingest of 100k rows (plain binary COPY, the fast path, the duplicate fallback), and
//! the nearby query over 100k farms with a GiST index on `boundary::geography` against one on
//! the geometry.

use std::time::Instant;

use farmco_cloud::store::readings::ReadingRow;

use crate::support::env;

const ROWS: usize = 100_000;
const SENSORS: usize = 100;

/// 100 sensors interleaved, one reading a minute each, from today's midnight (one partition).
fn readings(prefix: &str) -> Vec<ReadingRow> {
    let midnight = farmco_cloud::store::now().date().midnight().assume_utc();
    let start = farmco_cloud::store::audit::unix_ms(midnight);
    (0..ROWS)
        .map(|i| {
            let minute = (i / SENSORS) as i64;
            (
                format!("{prefix}{:03}", i % SENSORS),
                "soil_moisture_vwc".to_owned(),
                start + minute * 60_000,
                20.0 + (i % 97) as f64 * 0.1,
            )
        })
        .collect()
}

fn rate(n: usize, t: Instant) -> String {
    let s = t.elapsed().as_secs_f64();
    format!("{:>8.0} rows/s ({s:.2} s)", n as f64 / s)
}

#[tokio::test]
#[ignore = "measurement; run explicitly"]
async fn bench_readings_ingest() {
    let env = env().await;
    // Alternate the two COPY variants (fresh keys each time) so neither benefits from going
    // first into an empty partition; batches of READINGS_PER_BATCH_MAX (50,000), each in its
    // own transaction.
    let mut b = Vec::new();
    for round in 0..2 {
        let a = readings(&format!("plain{round}-"));
        let t = Instant::now();
        for chunk in a.chunks(50_000) {
            env.store
                .insert_readings_plain_copy(None, chunk)
                .await
                .unwrap();
        }
        println!("plain binary COPY        {}", rate(ROWS, t));
        b = readings(&format!("fast{round}-"));
        let t = Instant::now();
        for chunk in b.chunks(50_000) {
            let o = env.store.insert_readings(None, chunk).await.unwrap();
            assert!(!o.fallback);
        }
        println!("fast path (savepoint)    {}", rate(ROWS, t));
    }

    let t = Instant::now();
    for chunk in b.chunks(50_000) {
        let o = env.store.insert_readings(None, chunk).await.unwrap();
        assert!(o.fallback && o.inserted == 0);
    }
    println!("fallback, all duplicates {}", rate(ROWS, t));

    // New rows plus one duplicate at the end of each batch: the failed COPY, then the
    // fallback.
    let c = readings("mixed-");
    let t = Instant::now();
    for chunk in c.chunks(49_999) {
        let mut batch = chunk.to_vec();
        batch.push(b[0].clone());
        let o = env.store.insert_readings(None, &batch).await.unwrap();
        assert!(o.fallback && o.inserted == chunk.len() as u64);
    }
    println!("fallback, all new        {}", rate(ROWS, t));

    // Multi-row INSERT … ON CONFLICT DO NOTHING in batches of 1,000, for reference.
    let d = readings("insert-");
    let conn = env.store.conn().await.unwrap();
    let t = Instant::now();
    for chunk in d.chunks(1_000) {
        let mut sql = String::from("INSERT INTO readings (sensor_id, metric, ts, value) VALUES ");
        let mut params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = Vec::new();
        for (i, (s, m, ts, v)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            let k = i * 4;
            sql.push_str(&format!("(${}, ${}, ${}, ${})", k + 1, k + 2, k + 3, k + 4));
            params.push(Box::new(s.clone()));
            params.push(Box::new(m.clone()));
            params.push(Box::new(
                farmco_cloud::store::readings::ts_from_ms(*ts).unwrap(),
            ));
            params.push(Box::new(*v));
        }
        sql.push_str(" ON CONFLICT DO NOTHING");
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            params.iter().map(|p| p.as_ref() as _).collect();
        conn.execute(&sql, &refs).await.unwrap();
    }
    println!("multi-row INSERT x1000   {}", rate(ROWS, t));
}

#[tokio::test]
#[ignore = "measurement; run explicitly"]
async fn bench_nearby_index() {
    let env = env().await;
    let conn = env.store.conn().await.unwrap();
    // 100k farmers with one ~200 m square farm each, spread over ~1° x 1° around Hyderabad.
    conn.batch_execute(
        "INSERT INTO farmers (id, name, phone, language, village_code, consent_sms,
                              consent_voice, consent_data_sharing, created_at, updated_at)
         SELECT md5(i::text)::uuid, 'F' || i, '+91' || (9000000000 + i), 'te', '563412',
                false, false, false, now(), now()
         FROM generate_series(1, 100000) i;
         INSERT INTO farms (id, farmer_id, village_code, survey_number, declared_area_ha, area_ha,
                            boundary, centroid, crops, updated_at)
         SELECT md5('farm' || i::text)::uuid, md5(i::text)::uuid, '563412', 'S' || i, 4, 4,
                ST_Multi(ST_MakeEnvelope(x, y, x + 0.0019, y + 0.0018, 4326)),
                ST_SetSRID(ST_MakePoint(x, y), 4326), '[]', now()
         FROM (SELECT i, 78.0 + random() AS x, 17.0 + random() AS y
               FROM generate_series(1, 100000) i) g;
         ANALYZE farms;",
    )
    .await
    .unwrap();
    let points: Vec<(f64, f64)> = (0..200)
        .map(|i| (17.1 + (i % 20) as f64 * 0.04, 78.1 + (i / 20) as f64 * 0.08))
        .collect();
    let geography = "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS g)
         SELECT f.id, ST_Distance(f.boundary::geography, p.g) AS d FROM farms f, p
         WHERE ST_DWithin(f.boundary::geography, p.g, $3) ORDER BY d, f.id LIMIT 100";
    let geometry_prefilter = "WITH p AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326) AS pt)
         SELECT f.id, ST_Distance(f.boundary::geography, p.pt::geography) AS d FROM farms f, p
         WHERE f.boundary && ST_Expand(p.pt, $3::float8 / 111320.0 / cos(radians($1::float8)) * 1.01)
           AND ST_DWithin(f.boundary::geography, p.pt::geography, $3)
         ORDER BY d, f.id LIMIT 100";
    let run = |sql: &'static str, radius_m: f64, n: usize| {
        let points = points[..n].to_vec();
        let conn = &conn;
        async move {
            let stmt = conn.prepare(sql).await.unwrap();
            let mut found = 0;
            let t = Instant::now();
            for (lat, lon) in &points {
                found += conn
                    .query(&stmt, &[lat, lon, &radius_m])
                    .await
                    .unwrap()
                    .len();
            }
            (t.elapsed().as_secs_f64() * 1e6 / points.len() as f64, found)
        }
    };
    let plan: Vec<String> = conn
        .query(
            &format!("EXPLAIN {geography}"),
            &[&17.5f64, &78.5f64, &5000.0f64],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    println!("{}", plan.join("\n"));
    let mut hits = Vec::new();
    for radius in [500.0, 5000.0] {
        let (us, found) = run(geography, radius, 200).await;
        println!(
            "GiST on boundary::geography, ST_DWithin(geography) {radius} m: {us:>8.0} µs/query ({found} hits)"
        );
        hits.push(found);
    }
    conn.batch_execute(
        "DROP INDEX farms_boundary_geography;
         CREATE INDEX farms_boundary_geometry ON farms USING gist (boundary); ANALYZE farms;",
    )
    .await
    .unwrap();
    for (radius, expected) in [500.0, 5000.0].into_iter().zip(&hits) {
        let (us, found) = run(geometry_prefilter, radius, 200).await;
        println!(
            "GiST on geometry + degree bbox prefilter {radius} m:          {us:>8.0} µs/query ({found} hits)"
        );
        assert_eq!(found, *expected);
    }
    let (us, found) = run(geography, 500.0, 5).await;
    println!(
        "GiST on geometry, ST_DWithin(geography) 500 m (unindexed): {us:>8.0} µs/query ({found} hits over 5 points)"
    );
}
