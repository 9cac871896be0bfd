//! Farm boundaries: validated WGS84 (lon/lat) polygons parsed from RFC 7946 GeoJSON.
//!
//! A boundary arrives from a field agent's phone (GPS walk of the field), from a synced document
//! or from the cloud, so it is untrusted input. [`Boundary::from_geojson`] checks shape, numbers,
//! ranges and geometric validity (OGC simple-feature rules, the same rules as `geo::Validation`)
//! and reports the JSON path of the first offending part, e.g. `boundary.coordinates[0][3][1]`.
//!
//! Design constraints:
//! - At most [`MAX_BOUNDARY_VERTICES`] (10,000) positions in total, counted before any
//!   coordinate is parsed, so an oversized input costs almost nothing. A GPS walk around a
//!   smallholding has tens to hundreds of points; 10,000 allows survey-grade traces.
//! - At most [`MAX_BOUNDARY_POLYGONS`] parts and [`MAX_BOUNDARY_RINGS`] rings in total: the
//!   OGC checks between parts and between holes are pairwise (quadratic in their number).
//! - Ring self-intersection is found with an R-tree of segment envelopes (about n log n).
//!   `geo::Validation` compares every segment with every other one: 1.6 s for one
//!   10,000-vertex ring in a release build on this machine, far too slow for a request handler
//!   on a village node, so this module applies geo's exact segment predicate to the R-tree's
//!   candidate pairs instead, and uses geo's `Relate` for the checks between rings and parts.
//! - Never panics on any input: geometry code that could panic runs under `catch_unwind`.
//! - Positions may carry an altitude (RFC 7946 allows three numbers); it is checked and dropped.

use std::panic::{AssertUnwindSafe, catch_unwind};

use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::{
    Area, BooleanOps, BoundingRect, Centroid, Coord, GeodesicArea, Intersects, Line, LineString,
    MultiPolygon, Polygon, Relate,
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use serde_json::Value;

use crate::model::ValidationError;

/// Most positions in one boundary, counting each ring's closing position.
pub const MAX_BOUNDARY_VERTICES: usize = 10_000;
/// Most polygons (parts) in one MultiPolygon boundary.
pub const MAX_BOUNDARY_POLYGONS: usize = 100;
/// Most rings (exteriors and holes) in one boundary.
pub const MAX_BOUNDARY_RINGS: usize = 100;
/// Longest GeoJSON text accepted by [`Boundary::from_geojson_text`]: 10,000 positions of
/// about 45 bytes each, with room for whitespace.
pub const MAX_BOUNDARY_TEXT_BYTES: usize = 1024 * 1024;

/// Which GeoJSON geometry type a boundary was given as; kept so it is written back the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BoundaryKind {
    /// A GeoJSON `Polygon`.
    Polygon,
    /// A GeoJSON `MultiPolygon`.
    MultiPolygon,
}

/// A validated farm boundary in WGS84 longitude/latitude.
#[derive(Clone, PartialEq)]
pub struct Boundary {
    kind: BoundaryKind,
    multi_polygon: MultiPolygon<f64>,
    vertex_count: usize,
}

/// A summary, not the coordinates: a boundary can have 10,000 of them and ends up in logs.
impl std::fmt::Debug for Boundary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bounds = self
            .multi_polygon
            .bounding_rect()
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y]);
        f.debug_struct("Boundary")
            .field("kind", &self.kind)
            .field("polygons", &self.multi_polygon.0.len())
            .field("vertex_count", &self.vertex_count)
            .field("bounds", &bounds)
            .field("geodesic_area_ha", &self.geodesic_area_ha())
            .finish()
    }
}

/// A GeoJSON ring as parsed: its JSON path and its coordinates.
struct RawRing {
    path: String,
    coords: Vec<Coord<f64>>,
}

/// A GeoJSON polygon as parsed: its JSON path and its rings (exterior first).
struct RawPolygon {
    path: String,
    rings: Vec<RawRing>,
}

fn error(
    field: impl Into<String>,
    code: &'static str,
    message: impl Into<String>,
) -> ValidationError {
    ValidationError::new(field, code, message)
}

impl Boundary {
    /// Parse an RFC 7946 GeoJSON geometry object of type `Polygon` or `MultiPolygon`.
    ///
    /// `field` is the JSON path prefix for errors: with `"boundary"` an out-of-range latitude is
    /// reported at `"boundary.coordinates[0][3][1]"`. Codes: `invalid_geojson`,
    /// `too_many_vertices`, `too_many_polygons`, `too_many_rings`, `too_few_positions`,
    /// `non_finite`, `out_of_range`, `unclosed_ring`, `self_intersection`, `invalid_geometry`.
    pub fn from_geojson(field: &str, value: &Value) -> Result<Boundary, ValidationError> {
        let object = value.as_object().ok_or_else(|| {
            error(
                field,
                "invalid_geojson",
                "expected a GeoJSON geometry object",
            )
        })?;
        let type_field = format!("{field}.type");
        let kind = match object.get("type").and_then(Value::as_str) {
            Some("Polygon") => BoundaryKind::Polygon,
            Some("MultiPolygon") => BoundaryKind::MultiPolygon,
            _ => {
                return Err(error(
                    type_field,
                    "invalid_geojson",
                    "type must be \"Polygon\" or \"MultiPolygon\"",
                ));
            }
        };
        let coordinates_field = format!("{field}.coordinates");
        let coordinates = object
            .get("coordinates")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                error(
                    &coordinates_field,
                    "invalid_geojson",
                    "coordinates must be an array",
                )
            })?;

        // Shape and size first: cheap, and bounds all later work.
        let polygons: Vec<(String, &Vec<Value>)> = match kind {
            BoundaryKind::Polygon => vec![(coordinates_field.clone(), coordinates)],
            BoundaryKind::MultiPolygon => {
                if coordinates.is_empty() {
                    return Err(error(
                        &coordinates_field,
                        "invalid_geojson",
                        "a MultiPolygon needs at least one polygon",
                    ));
                }
                if coordinates.len() > MAX_BOUNDARY_POLYGONS {
                    return Err(error(
                        &coordinates_field,
                        "too_many_polygons",
                        format!("at most {MAX_BOUNDARY_POLYGONS} polygons"),
                    ));
                }
                coordinates
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let path = format!("{coordinates_field}[{i}]");
                        match p.as_array() {
                            Some(rings) => Ok((path, rings)),
                            None => Err(error(
                                path,
                                "invalid_geojson",
                                "a polygon must be an array of rings",
                            )),
                        }
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        let mut vertex_count = 0usize;
        let mut ring_count = 0usize;
        for (path, rings) in &polygons {
            if rings.is_empty() {
                return Err(error(
                    path,
                    "invalid_geojson",
                    "a polygon needs an exterior ring",
                ));
            }
            ring_count += rings.len();
            if ring_count > MAX_BOUNDARY_RINGS {
                return Err(error(
                    &coordinates_field,
                    "too_many_rings",
                    format!("at most {MAX_BOUNDARY_RINGS} rings in total"),
                ));
            }
            for (r, ring) in rings.iter().enumerate() {
                let positions = ring.as_array().ok_or_else(|| {
                    error(
                        format!("{path}[{r}]"),
                        "invalid_geojson",
                        "a ring must be an array of positions",
                    )
                })?;
                vertex_count += positions.len();
                if vertex_count > MAX_BOUNDARY_VERTICES {
                    return Err(error(
                        &coordinates_field,
                        "too_many_vertices",
                        format!("at most {MAX_BOUNDARY_VERTICES} positions in total"),
                    ));
                }
            }
        }

        // Then every ring and position.
        let mut raw_polygons = Vec::with_capacity(polygons.len());
        for (path, rings) in &polygons {
            let mut raw_rings = Vec::with_capacity(rings.len());
            for (r, ring) in rings.iter().enumerate() {
                let ring_path = format!("{path}[{r}]");
                raw_rings.push(parse_ring(ring_path, ring)?);
            }
            raw_polygons.push(RawPolygon {
                path: path.clone(),
                rings: raw_rings,
            });
        }

        let multi_polygon = MultiPolygon(
            raw_polygons
                .iter()
                .map(|p| {
                    let mut rings = p.rings.iter().map(|r| LineString(r.coords.clone()));
                    let exterior = rings.next().unwrap_or_else(|| LineString(Vec::new()));
                    Polygon::new(exterior, rings.collect())
                })
                .collect(),
        );

        match catch_unwind(AssertUnwindSafe(|| {
            validate_geometry(&raw_polygons, &multi_polygon)
        })) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                return Err(error(
                    &coordinates_field,
                    "invalid_geometry",
                    "geometry could not be validated",
                ));
            }
        }

        Ok(Boundary {
            kind,
            multi_polygon,
            vertex_count,
        })
    }

    /// Parse GeoJSON text (at most [`MAX_BOUNDARY_TEXT_BYTES`]) with [`Self::from_geojson`].
    /// Extra codes: `too_long`, `invalid_json`.
    pub fn from_geojson_text(field: &str, text: &str) -> Result<Boundary, ValidationError> {
        if text.len() > MAX_BOUNDARY_TEXT_BYTES {
            return Err(error(
                field,
                "too_long",
                format!("boundary text must be at most {MAX_BOUNDARY_TEXT_BYTES} bytes"),
            ));
        }
        let value: Value = serde_json::from_str(text)
            .map_err(|e| error(field, "invalid_json", format!("not JSON: {e}")))?;
        Self::from_geojson(field, &value)
    }

    /// The GeoJSON geometry object, of the type it was given as (a Polygon stays a Polygon).
    pub fn to_geojson(&self) -> Value {
        let polygon_json = |p: &Polygon<f64>| -> Value {
            Value::Array(
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|ring| {
                        Value::Array(
                            ring.0
                                .iter()
                                .map(|c| serde_json::json!([c.x, c.y]))
                                .collect(),
                        )
                    })
                    .collect(),
            )
        };
        match self.kind {
            BoundaryKind::Polygon => serde_json::json!({
                "type": "Polygon",
                "coordinates": self
                    .multi_polygon
                    .0
                    .first()
                    .map(polygon_json)
                    .unwrap_or_else(|| Value::Array(Vec::new())),
            }),
            BoundaryKind::MultiPolygon => serde_json::json!({
                "type": "MultiPolygon",
                "coordinates": Value::Array(self.multi_polygon.0.iter().map(polygon_json).collect()),
            }),
        }
    }

    /// The GeoJSON text of [`Self::to_geojson`] (compact, as stored in documents).
    pub fn to_geojson_text(&self) -> String {
        self.to_geojson().to_string()
    }

    /// Which GeoJSON type this boundary was given as.
    pub fn kind(&self) -> BoundaryKind {
        self.kind
    }

    /// The geometry (x = longitude, y = latitude).
    pub fn multi_polygon(&self) -> &geo::MultiPolygon<f64> {
        &self.multi_polygon
    }

    /// Area on the WGS84 ellipsoid (Karney's geodesic algorithm), in hectares, whatever the
    /// winding of the rings.
    pub fn geodesic_area_ha(&self) -> f64 {
        // Not `geodesic_area_unsigned`: for a clockwise exterior it answers the area of the
        // rest of the Earth. The signed area of a polygon is correct up to sign for either
        // winding (holes are subtracted), so sum its absolute value per polygon.
        let square_metres: f64 = self
            .multi_polygon
            .0
            .iter()
            .map(|p| p.geodesic_area_signed().abs())
            .sum();
        square_metres / 10_000.0
    }

    /// Planar centroid as `(latitude, longitude)`; at farm scale the planar and geodesic
    /// centroids agree to well under a metre.
    pub fn centroid(&self) -> (f64, f64) {
        match self.multi_polygon.centroid() {
            Some(p) => (p.y(), p.x()),
            None => {
                // Unreachable for a validated boundary (every ring encloses area); answer the
                // first position rather than panic.
                let first = self
                    .multi_polygon
                    .0
                    .first()
                    .and_then(|p| p.exterior().0.first().copied())
                    .unwrap_or(Coord { x: 0.0, y: 0.0 });
                (first.y, first.x)
            }
        }
    }

    /// Number of positions, counting each ring's closing position (as in the GeoJSON).
    pub fn vertex_count(&self) -> usize {
        self.vertex_count
    }

    /// How much two boundaries overlap: `(intersection / self area, intersection / other
    /// area)`, using planar areas in degrees (the ratio is what matters, and within a farm
    /// the scale distortion cancels). Returns `(0.0, 0.0)` if they do not overlap or if geo's
    /// boolean operations fail on degenerate input (they have panicked on some).
    pub fn overlap_fraction(&self, other: &Boundary) -> (f64, f64) {
        let (Some(a), Some(b)) = (
            self.multi_polygon.bounding_rect(),
            other.multi_polygon.bounding_rect(),
        ) else {
            return (0.0, 0.0);
        };
        if !a.intersects(&b) {
            return (0.0, 0.0);
        }
        let result = catch_unwind(AssertUnwindSafe(|| {
            let intersection = self.multi_polygon.intersection(&other.multi_polygon);
            let shared = intersection.unsigned_area();
            let own = self.multi_polygon.unsigned_area();
            let theirs = other.multi_polygon.unsigned_area();
            (ratio(shared, own), ratio(shared, theirs))
        }));
        result.unwrap_or((0.0, 0.0))
    }
}

/// `part / whole` clamped to `0..=1`, and 0 when undefined.
fn ratio(part: f64, whole: f64) -> f64 {
    if whole > 0.0 && part.is_finite() {
        (part / whole).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Parse one ring: at least 4 positions, each valid, first equal to last.
fn parse_ring(path: String, ring: &Value) -> Result<RawRing, ValidationError> {
    let positions = ring.as_array().ok_or_else(|| {
        error(
            &path,
            "invalid_geojson",
            "a ring must be an array of positions",
        )
    })?;
    if positions.len() < 4 {
        return Err(error(
            &path,
            "too_few_positions",
            "a ring needs at least 4 positions (the last repeating the first)",
        ));
    }
    let mut coords = Vec::with_capacity(positions.len());
    for (i, position) in positions.iter().enumerate() {
        coords.push(parse_position(&format!("{path}[{i}]"), position)?);
    }
    if coords.first() != coords.last() {
        return Err(error(
            &path,
            "unclosed_ring",
            "the last position of a ring must equal the first",
        ));
    }
    Ok(RawRing { path, coords })
}

/// Parse one `[lon, lat]` or `[lon, lat, altitude]` position.
fn parse_position(path: &str, position: &Value) -> Result<Coord<f64>, ValidationError> {
    let numbers = position
        .as_array()
        .ok_or_else(|| error(path, "invalid_geojson", "a position must be an array"))?;
    if numbers.len() != 2 && numbers.len() != 3 {
        return Err(error(
            path,
            "invalid_geojson",
            "a position must be [longitude, latitude] or [longitude, latitude, altitude]",
        ));
    }
    let mut values = [0.0f64; 3];
    for (k, number) in numbers.iter().enumerate() {
        let value = number.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
            error(
                format!("{path}[{k}]"),
                "non_finite",
                "coordinates must be finite numbers",
            )
        })?;
        values[k] = value;
    }
    let [lon, lat, _altitude] = values;
    if !(-180.0..=180.0).contains(&lon) {
        return Err(error(
            format!("{path}[0]"),
            "out_of_range",
            "longitude must be between -180 and 180",
        ));
    }
    if !(-90.0..=90.0).contains(&lat) {
        return Err(error(
            format!("{path}[1]"),
            "out_of_range",
            "latitude must be between -90 and 90",
        ));
    }
    Ok(Coord { x: lon, y: lat })
}

/// The OGC validity rules of `geo::Validation` for polygons and multipolygons, with a fast
/// self-intersection test, plus one more: every ring must enclose some area.
fn validate_geometry(
    raw: &[RawPolygon],
    multi_polygon: &MultiPolygon<f64>,
) -> Result<(), ValidationError> {
    for (raw_polygon, polygon) in raw.iter().zip(&multi_polygon.0) {
        for ring in &raw_polygon.rings {
            let mut distinct = ring.coords.clone();
            distinct.dedup();
            if distinct.len() < 4 {
                return Err(error(
                    &ring.path,
                    "too_few_positions",
                    "a ring needs at least 3 distinct positions",
                ));
            }
            if ring_has_self_intersection(&ring.coords) {
                return Err(error(
                    &ring.path,
                    "self_intersection",
                    "the ring crosses or touches itself",
                ));
            }
            if ring_signed_area(&ring.coords) == 0.0 {
                return Err(error(
                    &ring.path,
                    "invalid_geometry",
                    "the ring encloses no area",
                ));
            }
        }
        validate_holes(raw_polygon, polygon)?;
    }
    validate_parts(raw, multi_polygon)
}

/// Signed planar area of a closed ring (shoelace), relative to its first point to keep
/// precision for small farms far from the origin.
fn ring_signed_area(coords: &[Coord<f64>]) -> f64 {
    let Some(origin) = coords.first().copied() else {
        return 0.0;
    };
    let twice: f64 = coords
        .windows(2)
        .map(|w| {
            let (a, b) = (w[0] - origin, w[1] - origin);
            a.x * b.y - b.x * a.y
        })
        .sum();
    twice / 2.0
}

/// Whether a ring crosses or touches itself anywhere but at the shared end points of
/// consecutive segments: geo's predicate, applied only to pairs whose envelopes meet.
fn ring_has_self_intersection(coords: &[Coord<f64>]) -> bool {
    let lines: Vec<Line<f64>> = coords.windows(2).map(|w| Line::new(w[0], w[1])).collect();
    let envelope = |l: &Line<f64>| {
        AABB::from_corners(
            [l.start.x.min(l.end.x), l.start.y.min(l.end.y)],
            [l.start.x.max(l.end.x), l.start.y.max(l.end.y)],
        )
    };
    let tree = RTree::bulk_load(
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let env = envelope(l);
                GeomWithData::new(Rectangle::from_corners(env.lower(), env.upper()), i)
            })
            .collect(),
    );
    lines.iter().enumerate().any(|(i, line)| {
        tree.locate_in_envelope_intersecting(&envelope(line))
            .any(|candidate| {
                let j = candidate.data;
                if j <= i {
                    return false;
                }
                let other = &lines[j];
                line.intersects(other) && line.start != other.end && line.end != other.start
            })
    })
}

/// Holes must lie inside the exterior, touch it (and each other) at most at points, and not
/// overlap each other.
fn validate_holes(raw: &RawPolygon, polygon: &Polygon<f64>) -> Result<(), ValidationError> {
    if polygon.interiors().is_empty() {
        return Ok(());
    }
    let exterior = Polygon::new(polygon.exterior().clone(), vec![]);
    let holes: Vec<Polygon<f64>> = polygon
        .interiors()
        .iter()
        .map(|r| Polygon::new(r.clone(), vec![]))
        .collect();
    for (h, hole) in holes.iter().enumerate() {
        let path = raw.rings.get(h + 1).map_or(raw.path.as_str(), |r| &r.path);
        let matrix = exterior.relate(hole);
        if !matrix.is_contains() {
            return Err(error(
                path,
                "invalid_geometry",
                "a hole must lie inside the exterior ring",
            ));
        }
        if matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional {
            return Err(error(
                path,
                "invalid_geometry",
                "a hole must touch the exterior ring at most at points",
            ));
        }
        for other in holes.iter().skip(h + 1) {
            if !bounding_rects_meet(hole, other) {
                continue;
            }
            let matrix = hole.relate(other);
            if matrix.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional
                || matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary)
                    == Dimensions::OneDimensional
            {
                return Err(error(
                    path,
                    "invalid_geometry",
                    "holes must not overlap or share an edge",
                ));
            }
        }
    }
    Ok(())
}

/// Parts of a MultiPolygon must not overlap nor share an edge.
fn validate_parts(
    raw: &[RawPolygon],
    multi_polygon: &MultiPolygon<f64>,
) -> Result<(), ValidationError> {
    for (i, a) in multi_polygon.0.iter().enumerate() {
        for (j, b) in multi_polygon.0.iter().enumerate().skip(i + 1) {
            if !bounding_rects_meet(a, b) {
                continue;
            }
            let matrix = a.relate(b);
            let path = raw.get(j).map_or("", |p| p.path.as_str());
            if matrix.get(CoordPos::Inside, CoordPos::Inside) == Dimensions::TwoDimensional {
                return Err(error(
                    path,
                    "invalid_geometry",
                    format!("polygon {j} overlaps polygon {i}"),
                ));
            }
            if matrix.get(CoordPos::OnBoundary, CoordPos::OnBoundary) == Dimensions::OneDimensional
            {
                return Err(error(
                    path,
                    "invalid_geometry",
                    format!("polygon {j} shares an edge with polygon {i}"),
                ));
            }
        }
    }
    Ok(())
}

fn bounding_rects_meet(a: &Polygon<f64>, b: &Polygon<f64>) -> bool {
    match (a.bounding_rect(), b.bounding_rect()) {
        (Some(a), Some(b)) => a.intersects(&b),
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use geo::Validation;

    fn coords(points: &[(f64, f64)]) -> Vec<Coord<f64>> {
        points.iter().map(|&(x, y)| Coord { x, y }).collect()
    }

    /// The fast self-intersection test agrees with geo's quadratic one.
    #[test]
    fn self_intersection_agrees_with_geo() {
        let cases: Vec<Vec<(f64, f64)>> = vec![
            vec![(0., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)],
            vec![(0., 0.), (1., 1.), (1., 0.), (0., 1.), (0., 0.)],
            vec![(0., 0.), (2., 0.), (2., 2.), (1., 0.), (0., 2.), (0., 0.)],
            vec![(0., 0.), (1., 0.), (1., 0.), (1., 1.), (0., 0.)],
            vec![
                (0., 0.),
                (2., 0.),
                (1., 1.),
                (2., 2.),
                (0., 2.),
                (1., 1.),
                (0., 0.),
            ],
            vec![(0., 0.), (4., 0.), (4., 4.), (2., 0.), (0., 4.), (0., 0.)],
        ];
        for case in cases {
            let c = coords(&case);
            let polygon = Polygon::new(LineString(c.clone()), vec![]);
            let geo_says = polygon.validation_errors().iter().any(|e| {
                matches!(
                    e,
                    geo::algorithm::validation::InvalidPolygon::SelfIntersection(_)
                )
            });
            assert_eq!(ring_has_self_intersection(&c), geo_says, "{case:?}");
        }
    }

    fn ring_json(points: &[(i8, i8)]) -> Value {
        let mut ring: Vec<Value> = points
            .iter()
            .map(|&(x, y)| serde_json::json!([x, y]))
            .collect();
        if let Some(first) = ring.first().cloned() {
            ring.push(first);
        }
        Value::Array(ring)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// On a small integer grid (lots of touching, collinear and repeated points) our
        /// validation accepts exactly what `geo::Validation` accepts, minus rings without area.
        #[test]
        fn agrees_with_geo_validation(
            polygons in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::collection::vec((0i8..6, 0i8..6), 3..7),
                    1..3,
                ),
                1..3,
            ),
        ) {
            let coordinates: Vec<Value> = polygons
                .iter()
                .map(|rings| Value::Array(rings.iter().map(|r| ring_json(r)).collect()))
                .collect();
            let input = serde_json::json!({"type": "MultiPolygon", "coordinates": coordinates});
            let ours = Boundary::from_geojson("b", &input);
            let multi_polygon = MultiPolygon(
                polygons
                    .iter()
                    .map(|rings| {
                        let mut rings = rings.iter().map(|r| {
                            let mut c = coords(
                                &r.iter().map(|&(x, y)| (f64::from(x), f64::from(y))).collect::<Vec<_>>(),
                            );
                            c.push(c[0]);
                            LineString(c)
                        });
                        let exterior = rings.next().unwrap();
                        Polygon::new(exterior, rings.collect())
                    })
                    .collect(),
            );
            let has_area = multi_polygon
                .0
                .iter()
                .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
                .all(|r| ring_signed_area(&r.0) != 0.0);
            let geo_valid = multi_polygon.is_valid();
            proptest::prop_assert_eq!(ours.is_ok(), geo_valid && has_area, "{:?} {:?}", input, ours);
        }
    }

    #[test]
    fn signed_area_of_unit_square() {
        let ring = coords(&[(0., 0.), (1., 0.), (1., 1.), (0., 1.), (0., 0.)]);
        assert_eq!(ring_signed_area(&ring), 1.0);
    }
}
