// Geometry for boundary capture on the phone: area while walking, accuracy filtering, closing
// the ring, and the local projection the canvas map draws with. Plain module (unit-tested).
// The box recomputes everything with its geodesic code; these figures are for the agent's eyes.

/** Mean Earth radius (m) for the spherical area formula. */
const EARTH_RADIUS_M = 6_371_008.8;
/** Default worst GPS accuracy (m) a walked point may have to be kept. */
export const WALK_ACCURACY_M_MAX = 15;
/** Walked points closer than this to the previous kept point add nothing but noise (m). */
export const WALK_MIN_STEP_M = 2;

/** @typedef {[number, number]} LonLat */
/** @typedef {{ lon: number, lat: number, accuracy: number }} Fix */

/** @param {number} d */
const rad = (d) => (d * Math.PI) / 180;

/**
 * Area of a ring of [lon, lat] (closed or not) on the sphere, hectares.
 * @param {LonLat[]} ring
 * @returns {number}
 */
export function ringAreaHa(ring) {
  const pts = openRing(ring);
  if (pts.length < 3) return 0;
  let sum = 0;
  for (let i = 0; i < pts.length; i++) {
    const [lon1, lat1] = pts[i];
    const [lon2, lat2] = pts[(i + 1) % pts.length];
    sum += rad(lon2 - lon1) * (2 + Math.sin(rad(lat1)) + Math.sin(rad(lat2)));
  }
  return Math.abs((sum * EARTH_RADIUS_M * EARTH_RADIUS_M) / 2) / 10_000;
}

/**
 * Distance between two points, metres (haversine).
 * @param {LonLat} a
 * @param {LonLat} b
 */
export function distanceM(a, b) {
  const dLat = rad(b[1] - a[1]);
  const dLon = rad(b[0] - a[0]);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(a[1])) * Math.cos(rad(b[1])) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * The ring without its closing point.
 * @param {LonLat[]} ring
 * @returns {LonLat[]}
 */
export function openRing(ring) {
  if (ring.length > 1) {
    const [a, b] = [ring[0], ring[ring.length - 1]];
    if (a[0] === b[0] && a[1] === b[1]) return ring.slice(0, -1);
  }
  return ring.slice();
}

/**
 * Keep a walked fix or drop it: poor accuracy, or too close to the last kept point.
 * @param {LonLat[]} kept
 * @param {Fix} fix
 * @param {number} [accuracyMax]
 * @returns {'kept' | 'poor_accuracy' | 'too_close'}
 */
export function judgeFix(kept, fix, accuracyMax = WALK_ACCURACY_M_MAX) {
  if (!(fix.accuracy <= accuracyMax)) return 'poor_accuracy';
  const last = kept[kept.length - 1];
  if (last && distanceM(last, [fix.lon, fix.lat]) < WALK_MIN_STEP_M) return 'too_close';
  return 'kept';
}

/**
 * A GeoJSON Polygon from open vertices (closes the ring). Coordinates rounded to 1e-7°
 * (~1 cm), which is finer than any phone GPS.
 * @param {LonLat[]} vertices
 */
export function polygonOf(vertices) {
  /** @param {number} v */
  const r = (v) => Math.round(v * 1e7) / 1e7;
  const ring = openRing(vertices).map(([lon, lat]) => /** @type {LonLat} */ ([r(lon), r(lat)]));
  return { type: 'Polygon', coordinates: [[...ring, ring[0]]] };
}

/**
 * The first vertex where two non-adjacent edges cross (index into the open ring), or -1.
 * @param {LonLat[]} ring
 */
export function selfIntersectionVertex(ring) {
  const p = openRing(ring);
  const n = p.length;
  if (n < 4) return -1;
  for (let i = 0; i < n; i++) {
    for (let j = i + 2; j < n; j++) {
      if (i === 0 && j === n - 1) continue;
      if (segmentsCross(p[i], p[(i + 1) % n], p[j], p[(j + 1) % n])) return j;
    }
  }
  return -1;
}

/**
 * @param {LonLat} a @param {LonLat} b @param {LonLat} c @param {LonLat} d
 */
function segmentsCross(a, b, c, d) {
  /** @param {LonLat} p @param {LonLat} q @param {LonLat} r */
  const o = (p, q, r) => Math.sign((q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0]));
  return o(a, b, c) * o(a, b, d) < 0 && o(c, d, a) * o(c, d, b) < 0;
}

/**
 * The vertex a server error points at, from its JSON path field, e.g.
 * `boundary.coordinates[0][3]` → 3; `boundary.coordinates[0]` → 0 (the ring); null otherwise.
 * @param {string | null | undefined} field
 */
export function vertexOfField(field) {
  if (!field) return null;
  const m = /coordinates(?:\[(\d+)\])?(?:\[(\d+)\])?(?:\[(\d+)\])?/.exec(field);
  if (!m) return null;
  const nums = m.slice(1).filter((x) => x !== undefined).map(Number);
  if (nums.length >= 2) return nums[1];
  return nums.length === 1 ? 0 : null;
}

/**
 * Bounds [minLon, minLat, maxLon, maxLat] of some rings; null when empty.
 * @param {LonLat[][]} rings
 * @returns {[number, number, number, number] | null}
 */
export function boundsOf(rings) {
  let b = /** @type {[number, number, number, number] | null} */ (null);
  for (const ring of rings) {
    for (const [lon, lat] of ring) {
      if (!b) b = [lon, lat, lon, lat];
      else b = [Math.min(b[0], lon), Math.min(b[1], lat), Math.max(b[2], lon), Math.max(b[3], lat)];
    }
  }
  return b;
}

/**
 * Exterior rings of a GeoJSON Polygon or MultiPolygon.
 * @param {any} geometry
 * @returns {LonLat[][]}
 */
export function exteriorRings(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return [geometry.coordinates[0]];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.map((/** @type {any} */ p) => p[0]);
  return [];
}

/**
 * A local equirectangular view: lon/lat ↔ pixels, with a centre and metres per pixel.
 * @param {{ lon: number, lat: number, mPerPx: number, width: number, height: number }} v
 */
export function projection(v) {
  const mPerDegLat = 111_320;
  const mPerDegLon = 111_320 * Math.cos(rad(v.lat));
  return {
    /** @param {LonLat} p @returns {[number, number]} */
    toPx(p) {
      return [
        v.width / 2 + ((p[0] - v.lon) * mPerDegLon) / v.mPerPx,
        v.height / 2 - ((p[1] - v.lat) * mPerDegLat) / v.mPerPx,
      ];
    },
    /** @param {[number, number]} px @returns {LonLat} */
    toLonLat(px) {
      return [
        v.lon + ((px[0] - v.width / 2) * v.mPerPx) / mPerDegLon,
        v.lat - ((px[1] - v.height / 2) * v.mPerPx) / mPerDegLat,
      ];
    },
  };
}

/**
 * The view that fits bounds into a canvas with a margin.
 * @param {[number, number, number, number]} b
 * @param {number} width
 * @param {number} height
 */
export function fitView(b, width, height) {
  const lat = (b[1] + b[3]) / 2;
  const lon = (b[0] + b[2]) / 2;
  const wM = Math.max(1, (b[2] - b[0]) * 111_320 * Math.cos(rad(lat)));
  const hM = Math.max(1, (b[3] - b[1]) * 111_320);
  const mPerPx = Math.max(wM / Math.max(1, width - 32), hM / Math.max(1, height - 32), 0.05);
  return { lon, lat, mPerPx, width, height };
}

/**
 * Bounds of the bulk of some rings: the 2nd to 98th percentile of their first vertices when
 * there are many (one far-away farm must not shrink the whole village to a dot), all otherwise.
 * @param {LonLat[][]} rings
 * @returns {LonLat[][]} a single ring spanning those bounds (for `focus`), or [] when empty
 */
export function bulkFocus(rings) {
  const pts = rings.filter((r) => r.length).map((r) => r[0]);
  if (!pts.length) return [];
  if (pts.length < 20) return rings;
  const lons = pts.map((p) => p[0]).sort((a, b) => a - b);
  const lats = pts.map((p) => p[1]).sort((a, b) => a - b);
  const lo = Math.floor(pts.length * 0.02);
  const hi = Math.ceil(pts.length * 0.98) - 1;
  const pad = 0.0015;
  return [[[lons[lo] - pad, lats[lo] - pad], [lons[hi] + pad, lats[hi] + pad]]];
}
