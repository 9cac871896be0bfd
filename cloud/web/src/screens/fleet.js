// Fleet: every edge node in one table, sortable and filterable, rows amber or red by the
// thresholds in cloud.toml ([fleet]); a click shows the node's heartbeat history as charts.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { AreaFilter, Chart, ErrorBanner, PagedTable } from '../components/ui.js';
import { age, bytes, dash, ofCap, offset, when } from '../format.js';

/** The table reloads this often, so a node going silent turns red without a click. */
const RELOAD_MS = 10_000;

const COLUMNS = [
  { key: 'status', label: 'Status', sort: 'status', render: (n) => html`<span class=${`status status-${n.status}`}>${n.status}</span>
      ${n.reasons.length > 0 && html`<span class="reasons">${n.reasons.map((r) => r.message).join('; ')}</span>`}` },
  { key: 'name', label: 'Node', sort: 'name', render: (n) => html`<span title=${n.node_id}>${n.name}</span>` },
  { key: 'villages', label: 'Villages', render: (n) => n.villages.join(', ') },
  { key: 'version', label: 'Version', sort: 'version', render: (n) => n.software_version },
  { key: 'last_seen', label: 'Last sync', sort: 'last_seen', render: (n) => (n.last_seen_at ? `${age(n.silent_seconds)} ago` : 'never') },
  { key: 'backlog', label: 'Uplink backlog (docs / readings)', sort: 'backlog', render: (n) => `${dash(n.change_log_backlog)} / ${dash(n.readings_backlog)}` },
  { key: 'modem', label: 'Modem', sort: 'signal', render: (n) => (n.modem
    ? `${dash(n.modem.registration)} · ${n.modem.signal_dbm !== null ? `${n.modem.signal_dbm} dBm` : '—'} · ${dash(n.modem.operator)}`
    : '—') },
  { key: 'sms', label: 'SMS today / cap', sort: 'sms_sent', render: (n) => (n.sms ? ofCap(n.sms.sent_today, n.sms.daily_cap) : '—') },
  { key: 'outbox', label: 'SMS outbox', sort: 'sms_backlog', render: (n) => (n.sms ? dash(n.sms.outbox_backlog) : '—') },
  { key: 'disk', label: 'Disk free', sort: 'disk_free', render: (n) => (n.disk_free_percent !== null ? `${n.disk_free_percent} %` : bytes(n.disk_free_bytes)) },
  { key: 'clock', label: 'Clock offset', sort: 'clock_offset', render: (n) => offset(n.clock_offset_ms) },
  { key: 'alerts', label: 'Open alerts', sort: 'open_alerts', render: (n) => n.open_alerts },
];

function NodeDetail({ api, node, onClose }) {
  const [points, setPoints] = useState(null);
  const [hours, setHours] = useState(168);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.get(`/api/v1/nodes/${node.node_id}/heartbeats`, { hours }).then((r) => setPoints(r.points)).catch(setError);
  }, [node.node_id, hours]);
  const times = (points || []).map((p) => Date.parse(p.at) / 1000);
  const col = (k) => (points || []).map((p) => p[k]);
  return html`<aside class="panel node-panel">
    <button type="button" class="close" onClick=${onClose}>Close</button>
    <h2>${node.name}</h2>
    <p class="mono">${node.node_id}</p>
    <p>Villages ${node.villages.join(', ')} · version ${node.software_version} · enrolled ${when(node.enrolled_at)}
      · last sync ${node.last_seen_at ? when(node.last_seen_at) : 'never'}</p>
    ${node.reasons.length > 0 && html`<ul class="reasons-list">${node.reasons.map((r) => html`<li class=${`status-${r.level}`}>${r.message}</li>`)}</ul>`}
    <label>History <select value=${hours} onChange=${(e) => setHours(Number(e.target.value))}>
      <option value="24">day</option><option value="168">week</option><option value="720">month</option>
    </select></label>
    <${ErrorBanner} error=${error} />
    ${points && points.length === 0 && html`<p>No heartbeats in this window.</p>`}
    ${points && points.length > 0 && html`
      <${Chart} title="Uplink backlog" times=${times} series=${[
        { label: 'documents', values: col('change_backlog'), colour: '#d95f02' },
        { label: 'readings', values: col('readings_backlog'), colour: '#1b9e77' },
      ]} />
      <${Chart} title="SMS" times=${times} series=${[
        { label: 'sent today', values: col('sms_sent_today'), colour: '#7570b3' },
        { label: 'outbox', values: col('sms_outbox_backlog'), colour: '#e7298a' },
      ]} />
      <${Chart} title="Modem signal (dBm)" times=${times} series=${[{ label: 'dBm', values: col('signal_dbm'), colour: '#66a61e' }]} />
      <${Chart} title="Disk free (%)" times=${times} series=${[{ label: '% free', values: col('disk_free_percent'), colour: '#666' }]} />
      <${Chart} title="Clock offset (ms)" times=${times} series=${[{ label: 'ms', values: col('clock_offset_ms'), colour: '#a6761d' }]} />`}
  </aside>`;
}

export function FleetScreen({ api }) {
  const [area, setArea] = useState({});
  const [status, setStatus] = useState('');
  const [q, setQ] = useState('');
  const [sort, setSort] = useState({ key: 'status', dir: 'asc' });
  const [tick, setTick] = useState(0);
  const [counts, setCounts] = useState(null);
  const [selected, setSelected] = useState(null);
  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), RELOAD_MS);
    return () => clearInterval(t);
  }, []);
  const params = { ...area, status: status || undefined, q: q || undefined, sort: sort.key, dir: sort.dir };
  const load = async ({ cursor }) => {
    const r = await api.get('/api/v1/nodes', { ...params, cursor, limit: 100, count: true });
    setCounts(r.counts);
    return { rows: r.nodes, next_cursor: r.next_cursor, total: r.total };
  };
  const onSort = (key) => setSort((s) => ({ key, dir: s.key === key && s.dir === 'asc' ? 'desc' : 'asc' }));
  return html`<section>
    <h2>Fleet</h2>
    <div class="filters">
      <${AreaFilter} api=${api} value=${area} onChange=${setArea} />
      <label>Status <select name="status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
        <option value="">all</option><option value="red">red</option><option value="amber">amber</option>
        <option value="ok">ok</option><option value="revoked">revoked</option>
      </select></label>
      <label>Name <input name="q" value=${q} onInput=${(e) => setQ(e.target.value)} placeholder="node name or id" /></label>
      ${counts && html`<span class="counts"><span class="status status-red">${counts.red} red</span>
        <span class="status status-amber">${counts.amber} amber</span>
        <span class="status status-ok">${counts.ok} ok</span></span>`}
    </div>
    <${PagedTable}
      columns=${COLUMNS}
      load=${load}
      reloadKey=${JSON.stringify([params, tick])}
      exportCsv=${() => api.csv('/api/v1/nodes', { params })}
      csvName="fleet"
      sort=${sort}
      onSort=${onSort}
      rowClass=${(n) => `node-row row-${n.status}`}
      rowAttrs=${(n) => ({ 'data-node': n.name, 'data-status': n.status })}
      onRow=${setSelected}
      empty="No nodes enrolled yet." />
    ${selected && html`<${NodeDetail} api=${api} node=${selected} onClose=${() => setSelected(null)} />`}
  </section>`;
}
