//! Two edges of one village edit the same farmer while cut off; after sync everyone agrees,
//! no edit is lost, and the cloud's PostGIS geometry matches the edge's.

use farmco_e2e::{Cloud, Edge, call, login};
use serde_json::{Value, json};

fn square(lat: f64, lon: f64, side_m: f64) -> Value {
    let dlat = side_m / 110_574.0;
    let dlon = side_m / (111_320.0 * lat.to_radians().cos());
    json!({"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + dlon, lat], [lon + dlon, lat + dlat], [lon, lat + dlat], [lon, lat]
    ]]})
}

/// Parse "sync ok: N batches, …" into (batches, changes up, changes down).
fn summary_numbers(line: &str) -> Vec<u64> {
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_edges_converge_through_the_cloud() {
    let cloud = Cloud::start().await;
    let a = Edge::new();
    let b = Edge::new();
    a.enroll(&cloud, "563412");
    b.enroll(&cloud, "563412");

    // Edge A registers a farmer with a farm and a soil test.
    let (farmer, farm) = {
        let server = a.serve();
        let t = login(&server.base_url, "agent", "edge-password-1").await;
        let (s, f) = call(
            "POST",
            &format!("{}/api/v1/farmers", server.base_url),
            &t,
            Some(json!({"name": "Sunita Pawar", "phone": "9812345678", "language": "mr", "village_code": "563412"})),
        )
        .await;
        assert_eq!(s, 201, "{f}");
        let farmer = f["id"].as_str().unwrap().to_owned();
        let (s, farm) = call(
            "POST",
            &format!("{}/api/v1/farmers/{farmer}/farms", server.base_url),
            &t,
            Some(json!({"survey_number": "112/3", "declared_area_ha": 1.2, "boundary": square(18.918, 74.385, 110.0)})),
        )
        .await;
        assert_eq!(s, 201, "{farm}");
        let farm = farm["id"].as_str().unwrap().to_owned();
        let (s, body) = call(
            "POST",
            &format!("{}/api/v1/farms/{farm}/soil-tests", server.base_url),
            &t,
            Some(json!({"sampled_on": "2025-04-12", "lab": "STL", "parameters": {"ph": 7.9, "n": 210.0}})),
        )
        .await;
        assert_eq!(s, 201, "{body}");
        (farmer, farm)
    };
    let line = a.sync_once();
    assert!(line.starts_with("sync ok:"), "{line}");
    assert!(
        summary_numbers(&line)[3] >= 3,
        "three commits went up: {line}"
    );
    let line = b.sync_once();
    assert!(summary_numbers(&line)[4] >= 3, "B received them: {line}");

    // Both edit while cut off: different fields, and the same field.
    {
        let server = a.serve();
        let t = login(&server.base_url, "agent", "edge-password-1").await;
        let (s, body) = call(
            "PATCH",
            &format!("{}/api/v1/farmers/{farmer}", server.base_url),
            &t,
            Some(json!({"phone": "9800000001", "language": "hi"})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    {
        let server = b.serve();
        let t = login(&server.base_url, "super", "edge-password-1").await;
        let (s, body) = call(
            "PATCH",
            &format!("{}/api/v1/farmers/{farmer}", server.base_url),
            &t,
            Some(json!({"name": "Sunita Rao Pawar", "language": "en"})),
        )
        .await;
        assert_eq!(s, 200, "{body}");
    }
    a.sync_once();
    b.sync_once();
    a.sync_once();

    // Identical projections on both edges and the cloud.
    let sa = a.serve();
    let sb = b.serve();
    let ta = login(&sa.base_url, "agent", "edge-password-1").await;
    let tb = login(&sb.base_url, "agent", "edge-password-1").await;
    let (_, fa) = call(
        "GET",
        &format!("{}/api/v1/farmers/{farmer}", sa.base_url),
        &ta,
        None,
    )
    .await;
    let (_, fb) = call(
        "GET",
        &format!("{}/api/v1/farmers/{farmer}", sb.base_url),
        &tb,
        None,
    )
    .await;
    let tc = cloud.login().await;
    let (s, fc) = call(
        "GET",
        &format!("{}/api/v1/farmers/{farmer}", cloud.server.base_url),
        &tc,
        None,
    )
    .await;
    assert_eq!(s, 200, "{fc}");
    for f in [&fa, &fb, &fc] {
        assert_eq!(f["name"], "Sunita Rao Pawar", "B's name edit kept: {f}");
        assert_eq!(f["phone"], "+919800000001", "A's phone edit kept: {f}");
    }
    assert_eq!(
        fa["language"], fb["language"],
        "same-field conflict resolved identically"
    );
    assert_eq!(fa["language"], fc["language"]);
    // History on both edges shows both authors.
    for (base, t) in [(&sa.base_url, &ta), (&sb.base_url, &tb)] {
        let (_, h) = call(
            "GET",
            &format!("{base}/api/v1/farmers/{farmer}/history"),
            t,
            None,
        )
        .await;
        let authors: Vec<&str> = h["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["author"].as_str().unwrap())
            .collect();
        assert!(
            authors.contains(&"agent") && authors.contains(&"super"),
            "{authors:?}"
        );
        assert_eq!(authors.len(), 5, "{h}");
    }
    // The farm geometry in PostGIS is valid and its geodesic area agrees with the edge's.
    let (_, edge_farm) = call(
        "GET",
        &format!("{}/api/v1/farms/{farm}", sb.base_url),
        &tb,
        None,
    )
    .await;
    let (s, cloud_farm) = call(
        "GET",
        &format!("{}/api/v1/farms/{farm}", cloud.server.base_url),
        &tc,
        None,
    )
    .await;
    assert_eq!(s, 200, "{cloud_farm}");
    assert_eq!(cloud_farm["valid"], true, "{cloud_farm}");
    let edge_area = edge_farm["area_ha"].as_f64().unwrap();
    let postgis_area = cloud_farm["postgis_area_ha"].as_f64().unwrap();
    assert!(
        (edge_area - postgis_area).abs() / edge_area < 0.005,
        "edge {edge_area} ha vs PostGIS {postgis_area} ha"
    );
    // The soil test reached B.
    let (_, tests) = call(
        "GET",
        &format!("{}/api/v1/farms/{farm}/soil-tests", sb.base_url),
        &tb,
        None,
    )
    .await;
    assert_eq!(tests["soil_tests"].as_array().unwrap().len(), 1, "{tests}");
    // An advisory published in the cloud flows down to the village's edges.
    let (s, body) = call(
        "POST",
        &format!("{}/api/v1/advisories", cloud.server.base_url),
        &tc,
        Some(
            json!({"village_codes": ["563412"], "kind": "mandi_price", "title": "Wheat price",
                    "body": {"wheat": {"price_inr_per_quintal": 2275, "mandi": "Parner"}}}),
        ),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    drop(sa);
    let line = a.sync_once();
    assert!(line.contains("1 advisories"), "{line}");
    let conn = rusqlite::Connection::open(a.dir.path().join("farmco-edge.db")).unwrap();
    let (kind, advisory_body): (String, String) = conn
        .query_row("SELECT kind, body FROM advisories", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!(kind, "mandi_price");
    assert!(advisory_body.contains("2275"), "{advisory_body}");
    // Fleet view knows both nodes.
    let (_, nodes) = call(
        "GET",
        &format!("{}/api/v1/nodes", cloud.server.base_url),
        &tc,
        None,
    )
    .await;
    assert_eq!(
        nodes["nodes"].as_array().map(Vec::len).unwrap_or(0),
        2,
        "{nodes}"
    );
    for node in nodes["nodes"].as_array().unwrap() {
        // The heartbeat of every round reaches the fleet view.
        assert!(node["last_seen_at"].is_string(), "{node}");
        assert!(node["disk_free_bytes"].as_u64().unwrap_or(0) > 0, "{node}");
        assert_eq!(node["change_log_backlog"].as_u64(), Some(0), "{node}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_scope_and_revoked_nodes_are_refused() {
    let cloud = Cloud::start().await;
    let a = Edge::new();
    a.enroll(&cloud, "563412");
    let farmer = {
        let server = a.serve();
        // A supervisor may register a farmer of any village on the edge, but this node is only
        // enrolled for 563412: the cloud must refuse the document.
        let t = login(&server.base_url, "super", "edge-password-1").await;
        let (s, f) = call(
            "POST",
            &format!("{}/api/v1/farmers", server.base_url),
            &t,
            Some(json!({"name": "Other Village", "phone": "9812340000", "language": "hi", "village_code": "999999"})),
        )
        .await;
        assert_eq!(s, 201, "{f}");
        f["id"].as_str().unwrap().to_owned()
    };
    let line = a.sync_once();
    assert!(line.contains("1 rejected"), "{line}");
    let tc = cloud.login().await;
    let (s, _) = call(
        "GET",
        &format!("{}/api/v1/farmers/{farmer}", cloud.server.base_url),
        &tc,
        None,
    )
    .await;
    assert_eq!(s, 404, "nothing applied");

    // Revoke the node: its next sync is refused with a clear error.
    let (ok, list) = cloud.device(&["list"]);
    assert!(ok, "{list}");
    let (_, node_id, _) = a.cli(&["node-id"], "");
    let (ok, out) = cloud.device(&["revoke", &node_id.trim()[..12]]);
    assert!(ok, "{out}");
    let (ok, out, err) = a.cli(&["sync", "--once"], "");
    assert!(!ok, "revoked node synced: {out}");
    assert!(err.contains("revoked"), "{err}");
}
