// Small shared pieces of the console: the error banner, the area filter, the paged table and
// the uPlot chart. Screens stay thin; data comes through the api module.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { saveBlob } from '../api.js';

export function ErrorBanner({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.message || String(error)}</p>`;
}

/** Village / district / state filter, from GET /api/v1/villages. */
export function AreaFilter({ api, value, onChange }) {
  const [villages, setVillages] = useState([]);
  useEffect(() => {
    api.get('/api/v1/villages').then((r) => setVillages(r.villages)).catch(() => setVillages([]));
  }, []);
  const states = [...new Set(villages.map((v) => v.state).filter(Boolean))].sort();
  const districts = [...new Set(villages
    .filter((v) => !value.state || v.state === value.state)
    .map((v) => v.district).filter(Boolean))].sort();
  const set = (k) => (e) => onChange({ ...value, [k]: e.target.value || undefined });
  return html`<span class="area-filter">
    <label>State <select value=${value.state || ''} onChange=${set('state')}>
      <option value="">all</option>${states.map((s) => html`<option value=${s}>${s}</option>`)}
    </select></label>
    <label>District <select value=${value.district || ''} onChange=${set('district')}>
      <option value="">all</option>${districts.map((d) => html`<option value=${d}>${d}</option>`)}
    </select></label>
    <label>Village <select name="village_code" value=${value.village_code || ''} onChange=${set('village_code')}>
      <option value="">all</option>
      ${villages.map((v) => html`<option value=${v.code}>${v.name ? `${v.name} (${v.code})` : v.code}</option>`)}
    </select></label>
  </span>`;
}

/**
 * A server-paged table: `load({cursor})` returns {rows, next_cursor, total}; columns are
 * {key, label, render?, sort?}; "Load more" follows the cursor; CSV exports what the filters
 * select. `reloadKey` changes reload from the first page.
 */
export function PagedTable({ columns, load, exportCsv, csvName, reloadKey, rowClass, rowAttrs, onRow, sort, onSort, empty }) {
  const [rows, setRows] = useState([]);
  const [next, setNext] = useState(null);
  const [total, setTotal] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const fetchPage = async (cursor) => {
    setBusy(true);
    try {
      const page = await load({ cursor });
      setRows((old) => (cursor ? [...old, ...page.rows] : page.rows));
      setNext(page.next_cursor || null);
      if (page.total !== undefined && page.total !== null) setTotal(page.total);
      setError(null);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => { fetchPage(null); }, [reloadKey]);
  const download = async () => {
    try {
      saveBlob(await exportCsv(), `${csvName}.csv`);
    } catch (e) {
      setError(e);
    }
  };
  return html`<div class="table-wrap">
    <${ErrorBanner} error=${error} />
    <div class="table-tools">
      <span class="count">${total !== null ? `${rows.length} of ${total}` : `${rows.length} rows`}</span>
      ${exportCsv && html`<button type="button" onClick=${download}>Download CSV</button>`}
    </div>
    <table>
      <thead><tr>${columns.map((c) => html`<th
          class=${c.sort ? 'sortable' : ''}
          aria-sort=${sort && sort.key === c.sort ? (sort.dir === 'desc' ? 'descending' : 'ascending') : undefined}
          onClick=${c.sort && onSort ? () => onSort(c.sort) : undefined}>${c.label}${sort && sort.key === c.sort ? (sort.dir === 'desc' ? ' ▼' : ' ▲') : ''}</th>`)}</tr></thead>
      <tbody>
        ${rows.length === 0 && !busy && html`<tr><td colspan=${columns.length} class="empty">${empty || 'Nothing to show.'}</td></tr>`}
        ${rows.map((r) => html`<tr class=${rowClass ? rowClass(r) : ''} ...${rowAttrs ? rowAttrs(r) : {}}
            onClick=${onRow ? () => onRow(r) : undefined}>
          ${columns.map((c) => html`<td data-col=${c.key}>${c.render ? c.render(r) : r[c.key] ?? '—'}</td>`)}
        </tr>`)}
      </tbody>
    </table>
    ${next && html`<button type="button" class="more" disabled=${busy} onClick=${() => fetchPage(next)}>Load more</button>`}
  </div>`;
}

/**
 * A uPlot chart. `series`: [{label, values, colour, band?}] over `times` (unix seconds);
 * a series with `band: [lowIndex, highIndex]` fills between two others.
 */
export function Chart({ title, times, series, height = 220 }) {
  const ref = useRef(null);
  useEffect(() => {
    if (!ref.current) return undefined;
    const width = Math.max(320, ref.current.clientWidth || 600);
    const opts = {
      title,
      width,
      height,
      series: [{}, ...series.map((s) => ({
        label: s.label,
        stroke: s.colour,
        width: s.width ?? 2,
        dash: s.dash,
        spanGaps: true,
      }))],
      bands: series.flatMap((s) => (s.band ? [{ series: s.band, fill: s.bandFill || 'rgba(80,120,200,0.15)' }] : [])),
      axes: [{}, { size: 60 }],
      scales: { x: { time: true } },
    };
    const data = [times, ...series.map((s) => s.values)];
    const plot = new uPlot(opts, data, ref.current);
    return () => plot.destroy();
  }, [title, times, series, height]);
  return html`<div class="chart" ref=${ref} data-points=${times.length}></div>`;
}
