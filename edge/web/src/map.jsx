// A small canvas map with no tiles (a village has no internet): the village's own farm polygons
// on a plain background, an optional draft ring being captured, the phone's position with its
// accuracy circle, and a marked vertex where the box's validation failed. Drag to pan, pinch or
// the +/− buttons to zoom, tap to pick a farm or (in tap mode) add a vertex.

import { useEffect, useRef, useState } from 'preact/hooks';
import { projection, fitView, boundsOf, openRing } from './geo.js';

/** A tap moves the finger less than this (px); more is a drag. */
const TAP_SLOP_PX = 8;

/**
 * @typedef {import('./geo.js').LonLat} LonLat
 * @typedef {{ id: string, rings: LonLat[][], style: 'other' | 'own' | 'selected' | 'pending' | 'rejected', label?: string }} MapFarm
 * @typedef {{ lon: number, lat: number, mPerPx: number, width: number, height: number }} View
 */

/**
 * Is the point inside the ring (even-odd)?
 * @param {LonLat} p
 * @param {LonLat[]} ring
 */
export function inside(p, ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

const STYLES = {
  other: { fill: 'rgba(120,120,120,0.18)', stroke: '#8a8a8a', width: 1 },
  own: { fill: 'rgba(46,125,50,0.25)', stroke: '#2e7d32', width: 2 },
  selected: { fill: 'rgba(255,179,0,0.35)', stroke: '#e65100', width: 3 },
  pending: { fill: 'rgba(33,150,243,0.25)', stroke: '#1565c0', width: 2 },
  rejected: { fill: 'rgba(211,47,47,0.2)', stroke: '#c62828', width: 2 },
};

/**
 * @param {{
 *   farms: MapFarm[],
 *   draft?: LonLat[],
 *   closed?: boolean,
 *   badVertex?: number | null,
 *   me?: { lon: number, lat: number, accuracy: number } | null,
 *   height?: number,
 *   focus?: LonLat[][],
 *   onTapFarm?: (id: string) => void,
 *   onTapPoint?: (p: LonLat) => void,
 *   label?: string,
 *   zoomInLabel?: string,
 *   zoomOutLabel?: string,
 * }} props
 */
export function FarmMap(props) {
  const canvas = useRef(/** @type {HTMLCanvasElement | null} */ (null));
  const [view, setView] = useState(/** @type {View | null} */ (null));
  const height = props.height ?? 260;
  const drag = useRef(/** @type {{ x: number, y: number, moved: number, pointers: Map<number, [number, number]>, pinch: number } } */ ({ x: 0, y: 0, moved: 0, pointers: new Map(), pinch: 0 }));

  // Fit the view to what matters when the content changes.
  const focusRings = props.focus ?? (props.draft && props.draft.length ? [props.draft] : props.farms.flatMap((f) => f.rings));
  const focusKey = JSON.stringify(boundsOf(focusRings));
  useEffect(() => {
    const c = canvas.current;
    if (!c) return;
    const width = c.clientWidth || 340;
    const b = boundsOf(focusRings);
    setView(b ? fitView(b, width, height) : { lon: 74.385, lat: 18.918, mPerPx: 2, width, height });
  }, [focusKey, height]);

  useEffect(() => {
    const c = canvas.current;
    if (!c || !view) return;
    const dpr = globalThis.devicePixelRatio || 1;
    const width = c.clientWidth || view.width;
    c.width = Math.round(width * dpr);
    c.height = Math.round(height * dpr);
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = '#f4f1e8';
    ctx.fillRect(0, 0, width, height);
    const proj = projection({ ...view, width, height });
    for (const farm of props.farms) {
      const st = STYLES[farm.style];
      for (const ring of farm.rings) {
        ctx.beginPath();
        ring.forEach((p, i) => {
          const [x, y] = proj.toPx(p);
          if (i === 0) ctx.moveTo(x, y);
          else ctx.lineTo(x, y);
        });
        ctx.closePath();
        ctx.fillStyle = st.fill;
        ctx.fill();
        ctx.strokeStyle = st.stroke;
        ctx.lineWidth = st.width;
        ctx.stroke();
      }
    }
    if (props.draft && props.draft.length) {
      const pts = openRing(props.draft);
      ctx.beginPath();
      pts.forEach((p, i) => {
        const [x, y] = proj.toPx(p);
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      if (props.closed) ctx.closePath();
      ctx.strokeStyle = '#6a1b9a';
      ctx.lineWidth = 3;
      ctx.stroke();
      pts.forEach((p, i) => {
        const [x, y] = proj.toPx(p);
        const bad = props.badVertex === i;
        ctx.beginPath();
        ctx.arc(x, y, bad ? 11 : 6, 0, Math.PI * 2);
        ctx.fillStyle = bad ? '#d32f2f' : '#6a1b9a';
        ctx.fill();
        if (bad) {
          ctx.lineWidth = 3;
          ctx.strokeStyle = '#fff';
          ctx.stroke();
        }
      });
    }
    if (props.me) {
      const [x, y] = proj.toPx([props.me.lon, props.me.lat]);
      ctx.beginPath();
      ctx.arc(x, y, Math.max(4, props.me.accuracy / view.mPerPx), 0, Math.PI * 2);
      ctx.fillStyle = 'rgba(33,150,243,0.15)';
      ctx.fill();
      ctx.beginPath();
      ctx.arc(x, y, 6, 0, Math.PI * 2);
      ctx.fillStyle = '#1e88e5';
      ctx.fill();
    }
    // Scale bar: 50 m or 200 m.
    const barM = view.mPerPx > 3 ? 200 : 50;
    const barPx = barM / view.mPerPx;
    ctx.fillStyle = '#333';
    ctx.fillRect(10, height - 14, barPx, 4);
    ctx.font = '12px sans-serif';
    ctx.fillText(`${barM} m`, 14 + barPx, height - 9);
  });

  /** @param {number} factor */
  function zoom(factor) {
    if (view) setView({ ...view, mPerPx: Math.min(50, Math.max(0.05, view.mPerPx * factor)) });
  }

  /** @param {PointerEvent} e */
  function down(e) {
    const d = drag.current;
    /** @type {Element} */ (e.currentTarget).setPointerCapture(e.pointerId);
    d.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    d.x = e.clientX;
    d.y = e.clientY;
    d.moved = 0;
    if (d.pointers.size === 2) {
      const [a, b] = [...d.pointers.values()];
      d.pinch = Math.hypot(a[0] - b[0], a[1] - b[1]);
    }
  }
  /** @param {PointerEvent} e */
  function move(e) {
    const d = drag.current;
    if (!d.pointers.has(e.pointerId) || !view) return;
    d.pointers.set(e.pointerId, [e.clientX, e.clientY]);
    if (d.pointers.size === 2) {
      const [a, b] = [...d.pointers.values()];
      const dist = Math.hypot(a[0] - b[0], a[1] - b[1]);
      if (d.pinch > 0 && dist > 0) zoom(d.pinch / dist);
      d.pinch = dist;
      d.moved += 100;
      return;
    }
    const dx = e.clientX - d.x;
    const dy = e.clientY - d.y;
    d.moved += Math.abs(dx) + Math.abs(dy);
    d.x = e.clientX;
    d.y = e.clientY;
    if (d.moved > TAP_SLOP_PX) {
      const proj = projection(view);
      const [lon, lat] = proj.toLonLat([view.width / 2 - dx, view.height / 2 - dy]);
      setView({ ...view, lon, lat });
    }
  }
  /** @param {PointerEvent} e */
  function up(e) {
    const d = drag.current;
    const wasTap = d.pointers.size === 1 && d.moved <= TAP_SLOP_PX;
    d.pointers.delete(e.pointerId);
    if (!wasTap || !view || !canvas.current) return;
    const rect = canvas.current.getBoundingClientRect();
    const proj = projection({ ...view, width: rect.width, height: rect.height });
    const p = proj.toLonLat([e.clientX - rect.left, e.clientY - rect.top]);
    if (props.onTapPoint) {
      props.onTapPoint(p);
      return;
    }
    if (props.onTapFarm) {
      const hit = props.farms.find((f) => f.rings.some((r) => inside(p, r)));
      if (hit) props.onTapFarm(hit.id);
    }
  }
  /** @param {WheelEvent} e */
  function wheel(e) {
    e.preventDefault();
    zoom(e.deltaY > 0 ? 1.25 : 0.8);
  }

  return (
    <div class="map">
      <canvas
        ref={canvas}
        style={{ height: `${height}px` }}
        role="img"
        aria-label={props.label}
        data-farms={props.farms.length}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        onPointerCancel={up}
        onWheel={wheel}
      />
      <div class="map-zoom">
        <button type="button" aria-label={props.zoomInLabel} onClick={() => zoom(0.6)}>+</button>
        <button type="button" aria-label={props.zoomOutLabel} onClick={() => zoom(1.6)}>−</button>
      </div>
    </div>
  );
}
