//! Edge benchmarks (criterion), each next to its baseline in the same run:
//! - `nearby_100k`: the spatial index at 100,000 farms vs. a brute-force scan of every farm;
//! - `routes`: the farmer lookup route (auth + SQLite read) vs. a hello-world route, both through
//!   the full axum router in-process.
//!
//! Run: `cargo bench -p farmco-edge`.

#![allow(clippy::unwrap_used)] // benches fail loudly by design

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use farmco_edge::api::{self, AppState};
use farmco_edge::config::Config;
use farmco_edge::spatial::FarmIndex;
use farmco_edge::store::Store;
use farmco_edge::store::users::{self, Role};
use geo::{LineString, MultiPolygon, Polygon};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tower::ServiceExt;

const FARMS: usize = 100_000;
const CENTER: (f64, f64) = (18.52, 73.85);

/// 100,000 small irregular farms (0.2–3 ha, 5–8 vertices) within ~30 km of Pune.
fn generate_farms(n: usize, seed: u64) -> Vec<(uuid::Uuid, uuid::Uuid, MultiPolygon<f64>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let r_m = 30_000.0 * rng.random::<f64>().sqrt();
            let theta = rng.random_range(0.0..std::f64::consts::TAU);
            let lat = CENTER.0 + r_m * theta.sin() / 110_574.0;
            let lon = CENTER.1 + r_m * theta.cos() / (111_320.0 * CENTER.0.to_radians().cos());
            let area_m2 = rng.random_range(2_000.0..30_000.0);
            let radius = (area_m2 / std::f64::consts::PI).sqrt();
            let k = rng.random_range(5..=8);
            let mut ring: Vec<(f64, f64)> = (0..k)
                .map(|i| {
                    let a = i as f64 / k as f64 * std::f64::consts::TAU;
                    let rr = radius * rng.random_range(0.8..1.2);
                    (
                        lon + rr * a.cos() / (111_320.0 * lat.to_radians().cos()),
                        lat + rr * a.sin() / 110_574.0,
                    )
                })
                .collect();
            ring.push(ring[0]);
            (
                uuid::Uuid::from_u128(rng.random()),
                uuid::Uuid::from_u128(rng.random()),
                MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])]),
            )
        })
        .collect()
}

fn nearby(c: &mut Criterion) {
    let index = FarmIndex::bulk_load(generate_farms(FARMS, 7));
    let mut rng = StdRng::seed_from_u64(11);
    let queries: Vec<(f64, f64)> = (0..1_000)
        .map(|_| {
            (
                CENTER.0 + rng.random_range(-0.25..0.25),
                CENTER.1 + rng.random_range(-0.25..0.25),
            )
        })
        .collect();
    let mut group = c.benchmark_group("nearby_100k");
    let mut i = 0;
    group.bench_function("indexed", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            index.nearby(queries[i].0, queries[i].1, 1_000.0, 100)
        })
    });
    group.sample_size(10);
    group.bench_function("brute_force_baseline", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            index.nearby_brute_force(queries[i].0, queries[i].1, 1_000.0, 100)
        })
    });
    group.finish();
}

fn routes(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(dir.path().to_owned());
    let store = Arc::new(Store::open(dir.path(), config.synchronous, 4).unwrap());
    let summary =
        farmco_edge::demo::seed_demo_village(&store, 200, 1, farmco_edge::store::now_ms()).unwrap();
    assert_eq!(summary.farmers, 200);
    let hash = farmco_edge::auth::hash_password("bench-password").unwrap();
    store
        .write(|tx| {
            users::add_user(tx, "bench", &hash, Role::Supervisor, &[], 0)?;
            Ok(())
        })
        .unwrap();
    let farmer_id = store.search_farmers(None, None, 1).unwrap()[0]
        .farmer
        .id
        .to_string();
    let state = Arc::new(AppState::new(store, config).unwrap());
    let router = api::router(state);
    let token: String = rt.block_on(async {
        let resp = router
            .clone()
            .oneshot(
                Request::post("/api/v1/auth/login")
                    .header("content-type", "application/json")
                    .body(Body::from(
                        r#"{"username":"bench","password":"bench-password"}"#,
                    ))
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["token"].as_str().unwrap().to_owned()
    });
    let hello = axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));

    let mut group = c.benchmark_group("routes");
    group.bench_function("hello_world_baseline", |b| {
        b.to_async(&rt).iter(|| async {
            let resp = hello
                .clone()
                .oneshot(Request::get("/hello").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert!(resp.status().is_success());
        })
    });
    let uri = format!("/api/v1/farmers/{farmer_id}");
    group.bench_function("farmer_lookup", |b| {
        b.to_async(&rt).iter(|| async {
            let resp = router
                .clone()
                .oneshot(
                    Request::get(&uri)
                        .header("authorization", format!("Bearer {token}"))
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert!(resp.status().is_success());
            http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, nearby, routes);
criterion_main!(benches);
