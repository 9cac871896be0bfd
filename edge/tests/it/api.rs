//! The HTTP contract, through `Router::oneshot` (and one test over a real socket).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::support::{OTHER_VILLAGE, TestNode, VILLAGE, error_of, square};

#[tokio::test]
async fn login_logout_and_unauthorized() {
    let node = TestNode::new();
    let (status, body) = node.call("GET", "/api/v1/farmers", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&body).0, "unauthorized");

    let (status, body) = node
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "agent", "password": "wrong-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let token = node.login("agent").await;
    let (status, _) = node
        .call("GET", "/api/v1/farmers", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = node
        .call("POST", "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = node
        .call("GET", "/api/v1/farmers", Some(&token), None)
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "token must die with logout"
    );
    let (status, _) = node
        .call("GET", "/api/v1/farmers", Some("forged"), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logins_are_rate_limited_per_user() {
    let node = TestNode::new();
    let max = node.state.config.auth.login_max_failures_per_user;
    for _ in 0..max {
        let (status, _) = node
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(json!({"username": "super", "password": "guess-guess"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Now even the right password is refused until the window passes.
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "super", "password": crate::support::PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // Other users are unaffected.
    node.login("agent").await;
    // Every attempt was audited.
    let rows: i64 = node
        .state
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT count(*) FROM audit_log WHERE action LIKE 'login.%'",
                [],
                |r| r.get(0),
            )?)
        })
        .unwrap();
    assert_eq!(rows, i64::from(max) + 2);
}

#[tokio::test]
async fn register_farmer_get_search_patch_history() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/farmers",
            Some(&agent),
            Some(
                json!({"name": "Sunita Pawar", "phone": "98123 45678", "language": "mr",
                        "village_code": VILLAGE, "consents": {"sms": true, "voice": true}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["phone"], "+919812345678");
    assert_eq!(
        body["consents"],
        json!({"sms": true, "voice": true, "data_sharing": false})
    );

    let (status, body) = node
        .call("GET", &format!("/api/v1/farmers/{id}"), Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["name"], "Sunita Pawar");
    assert_eq!(body["village_code"], VILLAGE);

    node.farmer(&agent, "रमेश जाधव", "+919800000002").await;
    for (q, expect) in [
        ("sunita", 1),
        ("रमेश", 1),
        ("45678", 1),
        ("9198", 2),
        ("98", 0),
        ("nobody", 0),
    ] {
        let (status, body) = node
            .call(
                "GET",
                &format!("/api/v1/farmers?q={}", urlencode(q)),
                Some(&agent),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body["farmers"].as_array().unwrap().len(),
            expect,
            "q={q}: {body}"
        );
    }
    let (_, body) = node
        .call(
            "GET",
            &format!("/api/v1/farmers?village_code={OTHER_VILLAGE}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(body["farmers"], json!([]));

    let sup = node.login("super").await;
    let (status, body) = node
        .call(
            "PATCH",
            &format!("/api/v1/farmers/{id}"),
            Some(&sup),
            Some(json!({"phone": "+91 70000 11111", "language": "hi"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["phone"], "+917000011111");
    assert_eq!(body["language"], "hi");

    let (status, body) = node
        .call(
            "GET",
            &format!("/api/v1/farmers/{id}/history"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let history = body["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{body}");
    assert_eq!(history[0]["author"], "agent");
    assert_eq!(history[1]["author"], "super");
    let fields: Vec<&str> = history[1]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"phone") && fields.contains(&"language"),
        "{fields:?}"
    );
    assert!(!fields.contains(&"name"), "{fields:?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn bad_farmer_input_gets_clear_errors() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let base = json!({"name": "Asha More", "phone": "9812345678", "language": "hi", "village_code": VILLAGE});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            with(&base, "phone", json!("12345")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone",
        ),
        (
            with(&base, "phone", json!("+14155550100")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone",
        ),
        (
            with(&base, "language", json!("fr")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "language",
        ),
        (
            with(&base, "village_code", json!("12")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "village_code",
        ),
        (
            with(&base, "name", json!("   ")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            with(&base, "name", json!(42)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
        ),
        (
            with(&base, "consents", json!({"sms": "yes"})),
            StatusCode::UNPROCESSABLE_ENTITY,
            "consents.sms",
        ),
        (
            with(&base, "surname", json!("x")),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
    ];
    for (body, expect, field) in cases {
        let (status, resp) = node
            .call("POST", "/api/v1/farmers", Some(&agent), Some(body.clone()))
            .await;
        assert_eq!(status, expect, "{body} -> {resp}");
        let (_, f) = error_of(&resp);
        if !field.is_empty() {
            assert_eq!(f.as_deref(), Some(field), "{body} -> {resp}");
        }
    }
    // Missing field
    let (status, resp) = node
        .call(
            "POST",
            "/api/v1/farmers",
            Some(&agent),
            Some(json!({"name": "X Y"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{resp}");
    // Malformed JSON
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/farmers")
        .header("authorization", format!("Bearer {agent}"))
        .header("content-type", "application/json")
        .body(Body::from("{\"name\": "))
        .unwrap();
    let (status, resp) = node.raw(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{resp}");
    assert_eq!(error_of(&resp).0, "malformed_json");
    // Not JSON
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/farmers")
        .header("authorization", format!("Bearer {agent}"))
        .body(Body::from("name=x"))
        .unwrap();
    let (status, _) = node.raw(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Too large
    let huge = json!({"name": "x".repeat(2 * 1024 * 1024)});
    let (status, resp) = node
        .call("POST", "/api/v1/farmers", Some(&agent), Some(huge))
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{resp}");
    // Duplicate phone
    node.farmer(&agent, "Asha More", "9812345678").await;
    let (status, resp) = node
        .call("POST", "/api/v1/farmers", Some(&agent), Some(base))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{resp}");
    // Unknown ids and routes
    let (status, _) = node
        .call("GET", "/api/v1/farmers/not-a-uuid", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = node
        .call(
            "GET",
            "/api/v1/farmers/6f1c3e2a-9b7d-4c1e-8f00-000000000000",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, resp) = node
        .call("GET", "/api/v1/nothing-here", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&resp).0, "not_found");
}

fn with(base: &Value, key: &str, value: Value) -> Value {
    let mut v = base.clone();
    v[key] = value;
    v
}

#[tokio::test]
async fn village_scope_and_roles() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let agent2 = node.login("agent2").await;
    let id = node.farmer(&agent, "Lata Kale", "9812340001").await;
    // Another village's agent cannot see it: 404, not 403.
    let (status, _) = node
        .call("GET", &format!("/api/v1/farmers/{id}"), Some(&agent2), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = node
        .call(
            "PATCH",
            &format!("/api/v1/farmers/{id}"),
            Some(&agent2),
            Some(json!({"name": "X"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, body) = node
        .call("GET", "/api/v1/farmers", Some(&agent2), None)
        .await;
    assert_eq!(body["farmers"], json!([]));
    // Registering in a village one is not assigned to is forbidden.
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/farmers",
            Some(&agent2),
            Some(json!({"name": "Vijay Shinde", "phone": "9812340002", "language": "mr", "village_code": VILLAGE})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    // Supervisors see everything; only admins manage users.
    let sup = node.login("super").await;
    let (status, _) = node
        .call("GET", &format!("/api/v1/farmers/{id}"), Some(&sup), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = node.call("GET", "/api/v1/users", Some(&sup), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let admin = node.login("admin").await;
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "newagent", "password": "long-enough-pw", "role": "agent", "villages": [VILLAGE]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = node
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"username": "weak", "password": "short", "role": "agent", "villages": [VILLAGE]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (_, body) = node.call("GET", "/api/v1/users", Some(&admin), None).await;
    assert_eq!(body.as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn farms_area_centroid_warnings_and_nearby() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let farmer = node.farmer(&agent, "Ganesh Thorat", "9812340003").await;
    let (lat, lon) = (18.918, 74.385);
    // 100 m x 100 m = 1 ha, declared 1.0
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "112/3", "declared_area_ha": 1.0, "boundary": square(lat, lon, 100.0),
                        "crops": [{"crop": "Wheat", "season": "rabi", "sowing_date": "2025-11-10"}]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let farm1 = body["id"].as_str().unwrap().to_owned();
    let area = body["area_ha"].as_f64().unwrap();
    assert!((area - 1.0).abs() < 0.01, "area {area}");
    assert!(
        (body["centroid"]["lat"].as_f64().unwrap() - (lat + 0.00045)).abs() < 0.0001,
        "{body}"
    );
    assert_eq!(body["warnings"], json!([]));
    assert_eq!(body["crops"][0]["crop"], "wheat");

    // Declared 2 ha for a 1 ha boundary that half-overlaps farm 1 -> two warnings.
    let shifted = square(
        lat,
        lon + 50.0 / (111_320.0 * lat.to_radians().cos()),
        100.0,
    );
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "112/4", "declared_area_ha": 2.0, "boundary": shifted})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let codes: Vec<&str> = body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["area_mismatch", "overlap"], "{body}");
    assert_eq!(body["warnings"][1]["farm_id"], farm1.as_str());

    // A third farm 1 km north.
    let far = square(lat + 1000.0 / 110_574.0, lon, 100.0);
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "200/1", "declared_area_ha": 1.0, "boundary": far})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let farm3 = body["id"].as_str().unwrap().to_owned();

    // Inside farm 1 (west part, outside farm 2): distance 0, first.
    let (status, body) = node
        .call(
            "GET",
            &format!(
                "/api/v1/farms/nearby?lat={}&lon={}&radius_m=500",
                lat + 0.0002,
                lon + 0.0001
            ),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let farms = body["farms"].as_array().unwrap();
    assert_eq!(farms.len(), 2, "{body}");
    assert_eq!(farms[0]["id"], farm1.as_str());
    assert_eq!(farms[0]["distance_m"], 0.0);
    assert!(farms[1]["distance_m"].as_f64().unwrap() > 0.0);
    let (_, body) = node
        .call(
            "GET",
            &format!("/api/v1/farms/nearby?lat={}&lon={}&radius_m=2000", lat, lon),
            Some(&agent),
            None,
        )
        .await;
    let ids: Vec<&str> = body["farms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3);
    assert_eq!(ids[2], farm3);
    // The other village's agent sees none of them.
    let agent2 = node.login("agent2").await;
    let (_, body) = node
        .call(
            "GET",
            &format!("/api/v1/farms/nearby?lat={lat}&lon={lon}&radius_m=2000"),
            Some(&agent2),
            None,
        )
        .await;
    assert_eq!(body["farms"], json!([]));
    // Bad queries are 400.
    for q in [
        "lat=91&lon=74&radius_m=10",
        "lat=18&lon=74",
        "lat=abc&lon=74&radius_m=1",
        "lat=18&lon=74&radius_m=-1",
    ] {
        let (status, body) = node
            .call(
                "GET",
                &format!("/api/v1/farms/nearby?{q}"),
                Some(&agent),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
    }

    // PATCH the boundary of farm 3 back onto farm 1: index follows.
    let (status, body) = node
        .call(
            "PATCH",
            &format!("/api/v1/farms/{farm3}"),
            Some(&agent),
            Some(json!({"boundary": square(lat - 0.01, lon, 100.0)})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = node
        .call(
            "GET",
            &format!(
                "/api/v1/farms/nearby?lat={}&lon={lon}&radius_m=50",
                lat - 0.0095
            ),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(body["farms"][0]["id"], farm3.as_str(), "{body}");
    let (status, body) = node
        .call("GET", &format!("/api/v1/farms/{farm3}"), Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["boundary"]["type"], "Polygon");
    assert_eq!(body["farmer_id"], farmer.as_str());
}

#[tokio::test]
async fn bad_boundaries_are_rejected_with_the_field_path() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let farmer = node.farmer(&agent, "Kavita Auti", "9812340004").await;
    let unclosed = json!({"type": "Polygon", "coordinates": [[[74.0, 18.0], [74.001, 18.0], [74.001, 18.001], [74.0, 18.001]]]});
    let too_few =
        json!({"type": "Polygon", "coordinates": [[[74.0, 18.0], [74.001, 18.0], [74.0, 18.0]]]});
    let out_of_range = json!({"type": "Polygon", "coordinates": [[[74.0, 18.0], [194.0, 18.0], [74.0, 18.001], [74.0, 18.0]]]});
    let not_number = json!({"type": "Polygon", "coordinates": [[[74.0, 18.0], ["x", 18.0], [74.0, 18.001], [74.0, 18.0]]]});
    let bowtie = json!({"type": "Polygon", "coordinates": [[[74.0, 18.0], [74.001, 18.001], [74.001, 18.0], [74.0, 18.001], [74.0, 18.0]]]});
    let point = json!({"type": "Point", "coordinates": [74.0, 18.0]});
    let mut many: Vec<Value> = (0..10_001)
        .map(|i| {
            let a = i as f64 / 10_001.0 * std::f64::consts::TAU;
            json!([74.0 + 0.01 * a.cos(), 18.0 + 0.01 * a.sin()])
        })
        .collect();
    many.push(many[0].clone());
    let too_many = json!({"type": "Polygon", "coordinates": [many]});
    let cases = [
        (unclosed, "unclosed_ring", "boundary.coordinates[0]"),
        (too_few, "too_few_positions", "boundary.coordinates[0]"),
        (out_of_range, "out_of_range", "boundary.coordinates[0][1]"),
        (not_number, "non_finite", "boundary.coordinates[0][1]"),
        (bowtie, "", "boundary"),
        (point, "invalid_geojson", "boundary"),
        (too_many, "too_many_vertices", "boundary"),
    ];
    for (boundary, code, field) in cases {
        let (status, body) = node
            .call(
                "POST",
                &format!("/api/v1/farmers/{farmer}/farms"),
                Some(&agent),
                Some(
                    json!({"survey_number": "1/1", "declared_area_ha": 1.0, "boundary": boundary}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{code}: {body}");
        let (got_code, got_field) = error_of(&body);
        if !code.is_empty() {
            assert_eq!(got_code, code, "{body}");
        }
        assert!(
            got_field.as_deref().unwrap_or_default().starts_with(field),
            "{code}: field {got_field:?} should start with {field}"
        );
    }
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "1/1", "declared_area_ha": -1.0, "boundary": square(18.0, 74.0, 50.0)})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(error_of(&body).1.as_deref(), Some("declared_area_ha"));
    // Nothing was stored by any of the rejected requests.
    let (_, body) = node
        .call(
            "GET",
            &format!("/api/v1/farmers/{farmer}"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(body["farms"], json!([]));
}

#[tokio::test]
async fn soil_tests_round_trip_and_validation() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let farmer = node.farmer(&agent, "Prakash Kadam", "9812340005").await;
    let (_, farm) = node
        .call(
            "POST",
            &format!("/api/v1/farmers/{farmer}/farms"),
            Some(&agent),
            Some(json!({"survey_number": "7/2", "declared_area_ha": 0.5, "boundary": square(18.9, 74.3, 70.0)})),
        )
        .await;
    let farm = farm["id"].as_str().unwrap().to_owned();
    let params = json!({"ph": 7.8, "ec": 0.42, "oc": 0.51, "n": 210.0, "p": 14.5, "k": 320.0,
                        "s": 11.0, "zn": 0.6, "fe": 4.2, "cu": 1.1, "mn": 5.3, "b": 0.4});
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farms/{farm}/soil-tests"),
            Some(&agent),
            Some(
                json!({"sampled_on": "2025-04-12", "lab": "STL Ahilyanagar", "parameters": params}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["units"]["k"], "kg/ha");
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farms/{farm}/soil-tests"),
            Some(&agent),
            Some(json!({"sampled_date": "2024-04-01", "lab": "STL", "parameters": {"ph": 6.9}})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = node
        .call(
            "GET",
            &format!("/api/v1/farms/{farm}/soil-tests"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let tests = body["soil_tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0]["sampled_on"], "2024-04-01");
    assert_eq!(tests[1]["parameters"]["n"], 210.0);

    for (parameters, field) in [
        (json!({"ph": 15.0}), "parameters.ph"),
        (json!({"zinc": 1.0}), "parameters.zinc"),
        (json!({}), "parameters"),
    ] {
        let (status, body) = node
            .call(
                "POST",
                &format!("/api/v1/farms/{farm}/soil-tests"),
                Some(&agent),
                Some(json!({"sampled_on": "2025-04-12", "lab": "STL", "parameters": parameters})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(error_of(&body).1.as_deref(), Some(field), "{body}");
    }
    let (status, body) = node
        .call(
            "POST",
            &format!("/api/v1/farms/{farm}/soil-tests"),
            Some(&agent),
            Some(json!({"sampled_on": "12/04/2025", "lab": "STL", "parameters": {"ph": 7.0}})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(error_of(&body).1.as_deref(), Some("sampled_on"));
}

#[tokio::test]
async fn ops_routes_and_audit_chain() {
    let node = TestNode::new();
    let (status, _) = node.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = node.call("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, spec) = node.call("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    for path in [
        "/api/v1/auth/login",
        "/api/v1/farmers",
        "/api/v1/farmers/{id}",
        "/api/v1/farmers/{id}/history",
        "/api/v1/farmers/{id}/farms",
        "/api/v1/farms/{id}",
        "/api/v1/farms/nearby",
        "/api/v1/farms/{id}/soil-tests",
    ] {
        assert!(spec["paths"][path].is_object(), "openapi lacks {path}");
    }
    let agent = node.login("agent").await;
    node.farmer(&agent, "Asha Mapari", "9812340006").await;
    let (status, metrics) = node.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(text.contains("farmco_edge_http_requests_total{"), "{text}");
    assert!(text.contains("farmco_edge_farmers 1"), "{text}");

    use farmco_edge::store::audit::{AuditVerdict, verify};
    let verdict = node.state.store.read(verify).unwrap();
    assert!(
        matches!(verdict, AuditVerdict::Ok { rows } if rows >= 2),
        "{verdict:?}"
    );
    // The table refuses edits...
    let edit = node
        .state
        .store
        .write(|tx| Ok(tx.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", [])?));
    assert!(edit.is_err());
    // ...and editing behind SQLite's back is caught by the chain.
    let conn = rusqlite::Connection::open(node.dir.path().join("farmco-edge.db")).unwrap();
    conn.execute_batch(
        "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET actor = 'mallory' WHERE seq = 2;",
    )
    .unwrap();
    let verdict = node.state.store.read(verify).unwrap();
    assert!(
        matches!(verdict, AuditVerdict::Broken { seq: 2, .. }),
        "{verdict:?}"
    );
}

#[tokio::test]
async fn serves_over_a_real_socket() {
    let node = TestNode::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let config = node.state.config.clone();
    let server = tokio::spawn(farmco_edge::server::serve(
        config,
        node.state.store.clone(),
        listener,
        async {
            let _ = rx.await;
        },
    ));
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "agent", "password": crate::support::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let resp = client
        .post(format!("{base}/api/v1/farmers"))
        .bearer_auth(token)
        .json(&json!({"name": "Sanjay Gaikwad", "phone": "9812340007", "language": "mr", "village_code": 563412}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let resp = client
        .get(format!("{base}/api/v1/farmers?q=sanjay"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["farmers"][0]["village_code"], "563412");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
