//! Boundary parsing: every rejection rule with its exact field path, the vertex limit, geodesic
//! area against the analytic ellipsoidal value, centroid, overlap and a no-panic property test.

use std::time::{Duration, Instant};

use farmco_sync::boundary::{Boundary, BoundaryKind, MAX_BOUNDARY_VERTICES};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::support::rectangle;

fn reject(value: Value) -> (String, &'static str) {
    let err = Boundary::from_geojson("boundary", &value).unwrap_err();
    (err.field, err.code)
}

fn polygon(rings: Value) -> Value {
    json!({ "type": "Polygon", "coordinates": rings })
}

const SQUARE: [[f64; 2]; 5] = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]];

#[test]
fn accepts_polygon_and_keeps_its_type() {
    let input = rectangle(73.85, 18.5, 0.001, 0.001);
    let boundary = Boundary::from_geojson("boundary", &input).unwrap();
    assert_eq!(boundary.kind(), BoundaryKind::Polygon);
    assert_eq!(boundary.vertex_count(), 5);
    assert_eq!(boundary.to_geojson(), input);
    let again = Boundary::from_geojson_text("boundary", &boundary.to_geojson_text()).unwrap();
    assert_eq!(again, boundary);
}

#[test]
fn accepts_multipolygon_with_hole_and_keeps_its_type() {
    let input = json!({
        "type": "MultiPolygon",
        "coordinates": [
            [
                [[0.0, 0.0], [0.01, 0.0], [0.01, 0.01], [0.0, 0.01], [0.0, 0.0]],
                [[0.002, 0.002], [0.002, 0.004], [0.004, 0.004], [0.004, 0.002], [0.002, 0.002]]
            ],
            [
                [[0.02, 0.0], [0.03, 0.0], [0.03, 0.01], [0.02, 0.01], [0.02, 0.0]]
            ]
        ]
    });
    let boundary = Boundary::from_geojson("boundary", &input).unwrap();
    assert_eq!(boundary.kind(), BoundaryKind::MultiPolygon);
    assert_eq!(boundary.vertex_count(), 15);
    assert_eq!(boundary.multi_polygon().0.len(), 2);
    assert_eq!(boundary.to_geojson(), input);
}

#[test]
fn altitude_is_accepted_and_dropped() {
    let boundary = Boundary::from_geojson(
        "boundary",
        &polygon(json!([[
            [0.0, 0.0, 560.0],
            [1.0, 0.0, 561],
            [1.0, 1.0, 559.5],
            [0.0, 1.0, 560.0],
            [0.0, 0.0, 560.0]
        ]])),
    )
    .unwrap();
    assert_eq!(boundary.to_geojson(), polygon(json!([SQUARE])));
}

#[test]
fn rejects_non_geometry_values() {
    assert_eq!(
        reject(json!([1, 2])),
        ("boundary".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!("Polygon")),
        ("boundary".into(), "invalid_geojson")
    );
    assert_eq!(reject(json!(null)), ("boundary".into(), "invalid_geojson"));
    assert_eq!(
        reject(json!({"type": "Point", "coordinates": [0.0, 0.0]})),
        ("boundary.type".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!({"type": "polygon", "coordinates": [SQUARE]})),
        ("boundary.type".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!({"coordinates": [SQUARE]})),
        ("boundary.type".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!({"type": "Polygon"})),
        ("boundary.coordinates".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!({"type": "Polygon", "coordinates": {}})),
        ("boundary.coordinates".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(polygon(json!([]))),
        ("boundary.coordinates".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": []})),
        ("boundary.coordinates".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(polygon(json!([[0.0, 0.0, 1.0, 0.0, 1.0, 1.0]]))),
        ("boundary.coordinates[0][0]".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [[SQUARE], 5]})),
        ("boundary.coordinates[1]".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(polygon(json!([5]))),
        ("boundary.coordinates[0]".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0],
            7,
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][2]".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][1]".into(), "invalid_geojson")
    );
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0, 1.0, 1.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][1]".into(), "invalid_geojson")
    );
    let err = Boundary::from_geojson_text("boundary", "{not json").unwrap_err();
    assert_eq!((err.field.as_str(), err.code), ("boundary", "invalid_json"));
}

#[test]
fn rejects_unclosed_ring_at_the_ring() {
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [0.0, 1.0]
        ]]))),
        ("boundary.coordinates[0]".into(), "unclosed_ring")
    );
    assert_eq!(
        reject(polygon(json!([
            SQUARE,
            [[0.2, 0.2], [0.2, 0.4], [0.4, 0.4], [0.4, 0.2], [0.2, 0.3]]
        ]))),
        ("boundary.coordinates[1]".into(), "unclosed_ring")
    );
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [
            [SQUARE],
            [[[2.0, 0.0], [3.0, 0.0], [3.0, 1.0], [2.0, 1.0], [2.0, 0.5]]]
        ]})),
        ("boundary.coordinates[1][0]".into(), "unclosed_ring")
    );
}

#[test]
fn rejects_rings_with_too_few_positions() {
    assert_eq!(
        reject(polygon(json!([[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]))),
        ("boundary.coordinates[0]".into(), "too_few_positions")
    );
    assert_eq!(
        reject(polygon(json!([[]]))),
        ("boundary.coordinates[0]".into(), "too_few_positions")
    );
    // Four positions but only two distinct ones.
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [0.0, 0.0],
            [1.0, 0.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0]".into(), "too_few_positions")
    );
}

#[test]
fn rejects_non_numeric_coordinates_at_the_number() {
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0],
            [1.0, "1.0"],
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][2][1]".into(), "non_finite")
    );
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [null, 0.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][1][0]".into(), "non_finite")
    );
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0, "high"],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][1][2]".into(), "non_finite")
    );
}

#[test]
fn rejects_out_of_range_coordinates_at_the_number() {
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [180.5, 0.0],
            [1.0, 1.0],
            [0.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][1][0]".into(), "out_of_range")
    );
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0],
            [1.0, 1.0],
            [0.0, -90.01],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0][3][1]".into(), "out_of_range")
    );
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [
            [SQUARE],
            [[[2.0, 0.0], [3.0, 0.0], [3.0, 91.0], [2.0, 1.0], [2.0, 0.0]]]
        ]})),
        ("boundary.coordinates[1][0][2][1]".into(), "out_of_range")
    );
    // The extremes themselves are in range.
    Boundary::from_geojson(
        "boundary",
        &polygon(json!([[
            [179.0, 89.0],
            [180.0, 89.0],
            [180.0, 90.0],
            [179.0, 90.0],
            [179.0, 89.0]
        ]])),
    )
    .unwrap();
}

#[test]
fn rejects_self_intersecting_bow_tie() {
    let bow_tie = json!([[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]]);
    assert_eq!(
        reject(polygon(bow_tie.clone())),
        ("boundary.coordinates[0]".into(), "self_intersection")
    );
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [[SQUARE], bow_tie.clone()]})),
        ("boundary.coordinates[1][0]".into(), "self_intersection")
    );
    // A ring that touches itself at a vertex it passes twice.
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [2.0, 0.0],
            [1.0, 1.0],
            [2.0, 2.0],
            [0.0, 2.0],
            [1.0, 1.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0]".into(), "self_intersection")
    );
}

#[test]
fn rejects_other_invalid_geometry() {
    // All positions on one line: encloses no area.
    assert_eq!(
        reject(polygon(json!([[
            [0.0, 0.0],
            [1.0, 0.0],
            [2.0, 0.0],
            [0.0, 0.0]
        ]]))),
        ("boundary.coordinates[0]".into(), "invalid_geometry")
    );
    // A hole outside the exterior.
    assert_eq!(
        reject(polygon(json!([
            SQUARE,
            [[2.0, 2.0], [2.0, 3.0], [3.0, 3.0], [3.0, 2.0], [2.0, 2.0]]
        ]))),
        ("boundary.coordinates[1]".into(), "invalid_geometry")
    );
    // Overlapping holes.
    assert_eq!(
        reject(polygon(json!([
            SQUARE,
            [[0.1, 0.1], [0.1, 0.5], [0.5, 0.5], [0.5, 0.1], [0.1, 0.1]],
            [[0.3, 0.3], [0.3, 0.7], [0.7, 0.7], [0.7, 0.3], [0.3, 0.3]]
        ]))),
        ("boundary.coordinates[1]".into(), "invalid_geometry")
    );
    // Overlapping parts of a MultiPolygon.
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [
            [SQUARE],
            [[[0.5, 0.5], [1.5, 0.5], [1.5, 1.5], [0.5, 1.5], [0.5, 0.5]]]
        ]})),
        ("boundary.coordinates[1]".into(), "invalid_geometry")
    );
    // Parts sharing an edge.
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [
            [SQUARE],
            [[[1.0, 0.0], [2.0, 0.0], [2.0, 1.0], [1.0, 1.0], [1.0, 0.0]]]
        ]})),
        ("boundary.coordinates[1]".into(), "invalid_geometry")
    );
}

/// A closed ring of `positions` positions (the last repeating the first) on a circle.
fn circle(positions: usize, garbage: bool) -> Value {
    let n = positions - 1;
    let mut ring: Vec<Value> = (0..n)
        .map(|i| {
            if garbage {
                return json!(["x", "y"]);
            }
            let a = i as f64 / n as f64 * std::f64::consts::TAU;
            json!([73.85 + 0.001 * a.cos(), 18.5 + 0.001 * a.sin()])
        })
        .collect();
    ring.push(ring[0].clone());
    polygon(json!([ring]))
}

#[test]
fn rejects_more_than_max_vertices_before_parsing_them() {
    // Garbage positions prove the count is checked before any coordinate is looked at.
    let started = Instant::now();
    assert_eq!(
        reject(circle(MAX_BOUNDARY_VERTICES + 1, true)),
        ("boundary.coordinates".into(), "too_many_vertices")
    );
    assert_eq!(
        reject(circle(MAX_BOUNDARY_VERTICES + 1, false)),
        ("boundary.coordinates".into(), "too_many_vertices")
    );
    // Split over rings of a MultiPolygon, the total counts.
    let part = |lon: f64| {
        let ring: Vec<Value> = (0..5001).map(|_| json!([lon, 0.0])).collect();
        json!([ring])
    };
    assert_eq!(
        reject(json!({"type": "MultiPolygon", "coordinates": [part(0.0), part(1.0)]})),
        ("boundary.coordinates".into(), "too_many_vertices")
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn accepts_max_vertices_in_reasonable_time() {
    let input = circle(MAX_BOUNDARY_VERTICES, false);
    let started = Instant::now();
    let boundary = Boundary::from_geojson("boundary", &input).unwrap();
    let elapsed = started.elapsed();
    assert_eq!(boundary.vertex_count(), MAX_BOUNDARY_VERTICES);
    // geo's quadratic validation takes seconds here even optimized; ours is well under that
    // in a debug build.
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

/// Area of the ellipsoidal quadrangle between two parallels and two meridians on WGS84.
fn analytic_quadrangle_area_m2(lat1: f64, lat2: f64, dlon_deg: f64) -> f64 {
    let a = 6_378_137.0_f64;
    let f = 1.0 / 298.257_223_563;
    let b = a * (1.0 - f);
    let e2 = f * (2.0 - f);
    let e = e2.sqrt();
    let g = |lat: f64| {
        let s = lat.to_radians().sin();
        s / (1.0 - e2 * s * s) + (1.0 / (2.0 * e)) * ((1.0 + e * s) / (1.0 - e * s)).ln()
    };
    b * b * dlon_deg.to_radians() / 2.0 * (g(lat2) - g(lat1))
}

#[test]
fn geodesic_area_of_one_hectare_near_pune() {
    // About 100 m x 100 m at latitude 18.5.
    let (lon, lat, dlon, dlat) = (73.85, 18.5, 0.000_948, 0.000_904_5);
    let expected_ha = analytic_quadrangle_area_m2(lat, lat + dlat, dlon) / 10_000.0;
    assert!((0.95..1.05).contains(&expected_ha), "{expected_ha}");
    let ccw = Boundary::from_geojson("boundary", &rectangle(lon, lat, dlon, dlat)).unwrap();
    let cw = Boundary::from_geojson(
        "boundary",
        &polygon(json!([[
            [lon, lat],
            [lon, lat + dlat],
            [lon + dlon, lat + dlat],
            [lon + dlon, lat],
            [lon, lat]
        ]])),
    )
    .unwrap();
    for boundary in [ccw, cw] {
        let area = boundary.geodesic_area_ha();
        let relative = (area - expected_ha).abs() / expected_ha;
        assert!(
            relative < 0.001,
            "area {area} ha, expected {expected_ha} ha"
        );
    }
}

#[test]
fn centroid_is_lat_lon() {
    let boundary = Boundary::from_geojson("b", &rectangle(73.85, 18.5, 0.002, 0.001)).unwrap();
    let (lat, lon) = boundary.centroid();
    assert!((lat - 18.5005).abs() < 1e-9, "{lat}");
    assert!((lon - 73.851).abs() < 1e-9, "{lon}");
}

#[test]
fn overlap_fractions() {
    let a = Boundary::from_geojson("b", &rectangle(73.85, 18.5, 0.002, 0.002)).unwrap();
    let same = a.overlap_fraction(&a.clone());
    assert!(
        (same.0 - 1.0).abs() < 1e-9 && (same.1 - 1.0).abs() < 1e-9,
        "{same:?}"
    );

    let half = Boundary::from_geojson("b", &rectangle(73.851, 18.5, 0.002, 0.002)).unwrap();
    let (x, y) = a.overlap_fraction(&half);
    assert!((x - 0.5).abs() < 1e-6 && (y - 0.5).abs() < 1e-6, "{x} {y}");

    let inner = Boundary::from_geojson("b", &rectangle(73.8505, 18.5005, 0.001, 0.001)).unwrap();
    let (x, y) = a.overlap_fraction(&inner);
    assert!((x - 0.25).abs() < 1e-6 && (y - 1.0).abs() < 1e-6, "{x} {y}");

    let far = Boundary::from_geojson("b", &rectangle(74.0, 19.0, 0.001, 0.001)).unwrap();
    assert_eq!(a.overlap_fraction(&far), (0.0, 0.0));

    let touching = Boundary::from_geojson("b", &rectangle(73.852, 18.5, 0.001, 0.001)).unwrap();
    assert_eq!(a.overlap_fraction(&touching), (0.0, 0.0));
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-200.0f64..200.0).prop_map(Value::from),
        (0.0f64..1.0).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z]{0,3}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 256, 8, |inner| {
        prop::collection::vec(inner, 0..8).prop_map(Value::Array)
    })
}

fn arbitrary_ring() -> impl Strategy<Value = Value> {
    prop::collection::vec((-0.01f64..0.01, -0.01f64..0.01), 3..12).prop_map(|points| {
        let mut ring: Vec<Value> = points.iter().map(|(x, y)| json!([x, y])).collect();
        ring.push(ring[0].clone());
        Value::Array(ring)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any JSON at all as coordinates: an error or a boundary, never a panic.
    #[test]
    fn never_panics_on_arbitrary_coordinates(
        coordinates in arbitrary_json(),
        multi in any::<bool>(),
    ) {
        let kind = if multi { "MultiPolygon" } else { "Polygon" };
        let _ = Boundary::from_geojson("boundary", &json!({"type": kind, "coordinates": coordinates}));
    }

    /// Random (often self-intersecting, overlapping) rings: never a panic, and what is
    /// accepted survives the round trip and has positive area; overlap never panics either.
    #[test]
    fn random_rings_validate_without_panic(
        rings in prop::collection::vec(arbitrary_ring(), 1..4),
        other in arbitrary_ring(),
    ) {
        let multi = json!({"type": "MultiPolygon", "coordinates": rings.iter().map(|r| json!([r])).collect::<Vec<_>>()});
        let with_holes = polygon(Value::Array(rings.clone()));
        let other = Boundary::from_geojson("b", &polygon(json!([other]))).ok();
        for input in [multi, with_holes] {
            if let Ok(boundary) = Boundary::from_geojson("boundary", &input) {
                prop_assert_eq!(boundary.to_geojson(), input);
                prop_assert!(boundary.geodesic_area_ha() > 0.0);
                if let Some(other) = &other {
                    let (x, y) = boundary.overlap_fraction(other);
                    prop_assert!((0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y));
                }
            }
        }
    }
}
