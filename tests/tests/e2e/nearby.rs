//! The cloud (PostGIS on geography) and the edge (R*-tree + geodesic distance) return the same
//! farms for 1,000 random nearby queries over a synced village.

use farmco_e2e::{Cloud, Edge, call, login};
use rand::{Rng, SeedableRng};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_and_edge_agree_on_nearby_farms() {
    let cloud = Cloud::start().await;
    let edge = Edge::new();
    let (ok, out, err) = edge.cli(&["seed-demo", "--farmers", "200"], "");
    assert!(ok, "{out}{err}");
    edge.enroll(&cloud, "563412");
    let line = edge.sync_once();
    assert!(line.starts_with("sync ok"), "{line}");
    let server = edge.serve();
    let te = login(&server.base_url, "super", "edge-password-1").await;
    let tc = cloud.login().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let mut compared = 0;
    let mut non_empty = 0;
    for _ in 0..1_000 {
        let lat = 18.918 + rng.random_range(-0.02..0.02);
        let lon = 74.385 + rng.random_range(-0.02..0.02);
        let radius = rng.random_range(0.0..800.0_f64);
        let q = format!("/api/v1/farms/nearby?lat={lat}&lon={lon}&radius_m={radius}&limit=1000");
        let (s1, e) = call("GET", &format!("{}{q}", server.base_url), &te, None).await;
        let (s2, c) = call("GET", &format!("{}{q}", cloud.server.base_url), &tc, None).await;
        assert_eq!((s1, s2), (200, 200), "{e} {c}");
        let ids = |v: &serde_json::Value| -> Vec<(String, f64)> {
            v["farms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| {
                    (
                        f["id"].as_str().unwrap().to_owned(),
                        f["distance_m"].as_f64().unwrap(),
                    )
                })
                .collect()
        };
        let (e, c) = (ids(&e), ids(&c));
        // Farms within 5 cm of the radius may fall either way (spheroid vs sphere edges).
        let strict = |v: &[(String, f64)]| -> Vec<String> {
            let mut s: Vec<String> = v
                .iter()
                .filter(|(_, d)| (radius - d).abs() > 0.05)
                .map(|(id, _)| id.clone())
                .collect();
            s.sort();
            s
        };
        assert_eq!(strict(&e), strict(&c), "query {q}");
        for ((_, de), (_, dc)) in e.iter().zip(c.iter()) {
            assert!(
                (de - dc).abs() < 0.05 + de * 1e-4,
                "distances differ: {de} vs {dc} for {q}"
            );
        }
        compared += 1;
        if !e.is_empty() {
            non_empty += 1;
        }
    }
    assert_eq!(compared, 1_000);
    assert!(non_empty > 300, "too few queries hit farms: {non_empty}");
}
