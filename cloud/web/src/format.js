// Pure formatting and map-colouring helpers (unit-tested under tests/unit).

/** "45 s", "12 min", "3 h 20 min", "4 days" */
export function age(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} days`;
}

/** Seconds since an RFC 3339 time. */
export function secondsSince(iso, now = Date.now()) {
  if (!iso) return null;
  return (now - Date.parse(iso)) / 1000;
}

/** "1.5 GB" */
export function bytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

export function dash(v, suffix = '') {
  return v === null || v === undefined || v === '' ? '—' : `${v}${suffix}`;
}

/** "12 / 100" */
export function ofCap(used, cap) {
  if (used === null || used === undefined) return '—';
  return cap ? `${used} / ${cap}` : String(used);
}

/** Clock offset in ms → "+3 s" / "−2 min". */
export function offset(ms) {
  if (ms === null || ms === undefined) return '—';
  const sign = ms < 0 ? '−' : '+';
  return `${sign}${age(Math.abs(ms) / 1000)}`;
}

/** Local date-time for people. */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '—' : d.toLocaleString('en-IN', { hour12: false });
}

export function percent(rate) {
  return rate === null || rate === undefined ? '—' : `${Math.round(rate * 100)} %`;
}

/** Crop → colour (stable across reloads). */
export const CROP_COLOURS = {
  wheat: '#e0b341',
  gram: '#b5773a',
  onion: '#b04fa0',
  jowar: '#8c6d3f',
  soybean: '#5b8c2a',
  bajra: '#c9a35c',
  tur: '#d8732c',
  cotton: '#9fb5c8',
  maize: '#f0d45a',
  rice: '#6cbf84',
};

/** The four colour layers of the map: a MapLibre fill-color expression and a legend each. */
export const MAP_LAYERS = {
  crop: {
    label: 'Crop (last sown)',
    paint: [
      'match', ['coalesce', ['get', 'crop'], ''],
      ...Object.entries(CROP_COLOURS).flat(),
      '#bbbbbb',
    ],
    legend: [...Object.entries(CROP_COLOURS), ['other / none', '#bbbbbb']],
  },
  ph: {
    label: 'Soil pH (last test)',
    paint: [
      'case', ['==', ['get', 'ph'], null], '#bbbbbb',
      ['interpolate', ['linear'], ['get', 'ph'], 5.5, '#d7301f', 6.5, '#fdae61', 7.0, '#66bd63', 7.8, '#74add1', 8.6, '#542788'],
    ],
    legend: [['≤ 5.5 acidic', '#d7301f'], ['6.5', '#fdae61'], ['7.0 neutral', '#66bd63'], ['7.8', '#74add1'], ['≥ 8.6 alkaline', '#542788'], ['no test', '#bbbbbb']],
  },
  n: {
    label: 'Nitrogen N kg/ha (last test)',
    paint: [
      'case', ['==', ['get', 'n'], null], '#bbbbbb',
      ['step', ['get', 'n'], '#d7301f', 280, '#fee08b', 560, '#1a9850'],
    ],
    legend: [['low < 280', '#d7301f'], ['medium 280–560', '#fee08b'], ['high > 560', '#1a9850'], ['no test', '#bbbbbb']],
  },
  alert: {
    label: 'Alert open',
    paint: ['case', ['==', ['get', 'alert'], true], '#e31a1c', '#a6d96a'],
    legend: [['alert open', '#e31a1c'], ['no open alert', '#a6d96a']],
  },
};

/** Trend ranges: the window and the bucket that keeps a chart readable. */
export const RANGES = {
  day: { label: 'Day', hours: 24, bucket: '1h' },
  week: { label: 'Week', hours: 24 * 7, bucket: '6h' },
  season: { label: 'Season (120 days)', hours: 24 * 120, bucket: '1d' },
};

/** from/to of a range ending now. */
export function rangeWindow(range, now = Date.now()) {
  const r = RANGES[range] || RANGES.week;
  return { from: new Date(now - r.hours * 3600_000).toISOString(), to: new Date(now).toISOString(), bucket: r.bucket };
}
