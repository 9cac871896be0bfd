//! Finding 10: an agent sees and changes only their villages' sensors, readings, alerts and
//! registrations, and overlap warnings do not reveal other villages' farms. Agent `agent`
//! serves VILLAGE (A); `agent2` serves OTHER_VILLAGE (B).

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{OTHER_VILLAGE, TestNode, VILLAGE, square};

const LAT: f64 = 18.918;
const LON: f64 = 74.385;

async fn created(node: &TestNode, token: &str, uri: &str, body: Value) -> Value {
    let (status, body) = node.call("POST", uri, Some(token), Some(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{uri}: {body}");
    body
}

fn raise_alert(node: &TestNode, rule: &str, sensor: &str) -> i64 {
    node.state
        .store
        .write(|tx| {
            farmco_edge::store::alerts::apply(
                tx,
                &farmco_village::alerts::engine::Decision::Raise {
                    rule_id: rule.into(),
                    kind: "threshold".into(),
                    severity: "warning".into(),
                    sensor_id: sensor.into(),
                    metric: Some("soil_moisture_vwc".into()),
                    value: Some(10.0),
                    farm_id: None,
                    farmer_id: None,
                    message: "Dry".into(),
                    at_ms: 1_700_000_000_000,
                },
            )
        })
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn agents_are_limited_to_their_villages() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let sup = node.login("super").await;
    for (id, village) in [("sensor-a", VILLAGE), ("sensor-b", OTHER_VILLAGE)] {
        created(
            &node,
            &sup,
            "/api/v1/sensors",
            json!({"id": id, "kind": "soil_probe", "lat": LAT + 0.5, "lon": LON,
                   "village_code": village, "mqtt_password": "a-long-enough-password"}),
        )
        .await;
        created(
            &node,
            &sup,
            &format!("/api/v1/sensors/{id}/readings"),
            json!({"readings": [{"metric": "soil_moisture_vwc", "ts": 1_700_000_000_000_i64, "value": 20.0}]}),
        )
        .await;
    }

    // GET /sensors: only village A's.
    let (status, body) = node
        .call("GET", "/api/v1/sensors", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["sensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sensor-a"]);
    let (_, body) = node.call("GET", "/api/v1/sensors", Some(&sup), None).await;
    assert_eq!(body["sensors"].as_array().unwrap().len(), 2);

    // GET /sensors/{id}: B's is 404, like an unknown one.
    let (status, _) = node
        .call("GET", "/api/v1/sensors/sensor-b", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = node
        .call("GET", "/api/v1/sensors/sensor-a", Some(&agent), None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // GET /sensors/{id}/readings: B's and unregistered ids are 404.
    let q = "readings?metric=soil_moisture_vwc&from=0";
    for (id, want) in [
        ("sensor-a", StatusCode::OK),
        ("sensor-b", StatusCode::NOT_FOUND),
        ("never-registered", StatusCode::NOT_FOUND),
    ] {
        let (status, body) = node
            .call(
                "GET",
                &format!("/api/v1/sensors/{id}/{q}"),
                Some(&agent),
                None,
            )
            .await;
        assert_eq!(status, want, "{id}: {body}");
    }
    let (status, body) = node
        .call(
            "GET",
            &format!("/api/v1/sensors/sensor-b/{q}"),
            Some(&sup),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["readings"].as_array().unwrap().len(), 1);

    // POST /sensors/{id}/readings: supervisors only.
    let (status, _) = node
        .call(
            "POST",
            "/api/v1/sensors/sensor-a/readings",
            Some(&agent),
            Some(json!({"readings": [{"metric": "soil_moisture_vwc", "value": 21.0}]})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // GET /alerts and POST /alerts/{id}/ack.
    let alert_a = raise_alert(&node, "dry-a", "sensor-a");
    let alert_b = raise_alert(&node, "dry-b", "sensor-b");
    let (_, body) = node.call("GET", "/api/v1/alerts", Some(&agent), None).await;
    let listed: Vec<i64> = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [alert_a]);
    let (status, _) = node
        .call(
            "POST",
            &format!("/api/v1/alerts/{alert_b}/ack"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let acked = node
        .state
        .store
        .read(|c| farmco_edge::store::alerts::alert(c, alert_b))
        .unwrap()
        .unwrap();
    assert!(acked.acked_ms.is_none(), "B's alert was acknowledged");
    let (status, _) = node
        .call(
            "POST",
            &format!("/api/v1/alerts/{alert_a}/ack"),
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = node.call("GET", "/api/v1/alerts", Some(&sup), None).await;
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn registrations_and_overlaps_do_not_leak_other_villages() {
    let node = TestNode::new();
    let agent = node.login("agent").await;
    let agent2 = node.login("agent2").await;
    let sup = node.login("super").await;

    // A farmer and farm in village B.
    let farmer_b = created(
        &node,
        &agent2,
        "/api/v1/farmers",
        json!({"name": "Bhagwan Shinde", "phone": "9812340101", "language": "mr",
               "village_code": OTHER_VILLAGE}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let farm_b = created(
        &node,
        &agent2,
        &format!("/api/v1/farmers/{farmer_b}/farms"),
        json!({"survey_number": "77/9", "declared_area_ha": 1.0, "boundary": square(LAT, LON, 100.0)}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Overlap warnings: an agent of A learns that there is an overlap, not which farm.
    let farmer_a = node.farmer(&agent, "Asha Mapari", "9812340102").await;
    let body = created(
        &node,
        &agent,
        &format!("/api/v1/farmers/{farmer_a}/farms"),
        json!({"survey_number": "12/1", "declared_area_ha": 1.0, "boundary": square(LAT, LON, 100.0)}),
    )
    .await;
    let overlap = body["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "overlap")
        .unwrap_or_else(|| panic!("no overlap warning: {body}"));
    assert!(overlap.get("farm_id").is_none(), "{overlap}");
    let text = overlap["message"].as_str().unwrap();
    assert!(!text.contains(&farm_b) && !text.contains("77/9"), "{text}");
    // A supervisor still gets the farm.
    let farmer_s = node.farmer(&sup, "Sita Pawar", "9812340103").await;
    let body = created(
        &node,
        &sup,
        &format!("/api/v1/farmers/{farmer_s}/farms"),
        json!({"survey_number": "12/2", "declared_area_ha": 1.0, "boundary": square(LAT, LON, 100.0)}),
    )
    .await;
    assert!(
        body["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["farm_id"] == farm_b.as_str()),
        "{body}"
    );

    // Registrations: a confirmed one of B is not listed to A's agent; a pending one (no village
    // yet) is, with the phone masked.
    node.state
        .store
        .write(|tx| {
            tx.execute(
                "INSERT INTO sms_registrations (phone, name, language, state, requested_ms, farmer_id)
                 VALUES ('+919812340101', 'Bhagwan Shinde', 'mr', 'confirmed', 1, ?1),
                        ('+919812349999', 'Ravi Kale', 'hi', 'pending', 2, NULL)",
                [&farmer_b],
            )?;
            Ok(())
        })
        .unwrap();
    let (status, body) = node
        .call(
            "GET",
            "/api/v1/sms/registrations?state=all",
            Some(&agent),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let regs = body["registrations"].as_array().unwrap();
    assert_eq!(regs.len(), 1, "{body}");
    assert_eq!(regs[0]["name"], "Ravi Kale");
    assert_eq!(regs[0]["phone"], "*********9999");
    let (_, body) = node
        .call(
            "GET",
            "/api/v1/sms/registrations?state=all",
            Some(&agent2),
            None,
        )
        .await;
    assert_eq!(body["registrations"].as_array().unwrap().len(), 2, "{body}");
    let (_, body) = node
        .call(
            "GET",
            "/api/v1/sms/registrations?state=all",
            Some(&sup),
            None,
        )
        .await;
    let phones: Vec<&str> = body["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phone"].as_str().unwrap())
        .collect();
    assert!(phones.contains(&"+919812349999"), "{body}");
}
