// Alerts and notifications: alerts raised in villages (local rules, with what was sent to
// farmers about them) and the cloud's fleet alerts; delivery rates per village and channel as
// the edges report them with their heartbeats.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { AreaFilter, PagedTable } from '../components/ui.js';
import { dash, percent, when } from '../format.js';

const ALERT_COLUMNS = [
  { key: 'severity', label: 'Severity', render: (a) => html`<span class=${`sev sev-${a.severity}`}>${a.severity}</span>` },
  { key: 'source', label: 'Source', render: (a) => (a.source === 'fleet' ? 'fleet (cloud)' : 'village rule') },
  { key: 'node', label: 'Node', render: (a) => a.node_name },
  { key: 'village', label: 'Village', render: (a) => dash(a.village_code) },
  { key: 'kind', label: 'Kind', render: (a) => a.kind },
  { key: 'message', label: 'Message', render: (a) => a.message },
  { key: 'raised', label: 'Raised', render: (a) => when(a.raised_at) },
  { key: 'state', label: 'State', render: (a) => (a.open ? 'open' : `resolved ${when(a.resolved_at)}`) },
  { key: 'sent', label: 'Farmers notified / delivered', render: (a) => (a.notifications === null ? '—' : `${a.notifications} / ${a.delivered}`) },
];

const DELIVERY_COLUMNS = [
  { key: 'village', label: 'Village', render: (d) => (d.village_name ? `${d.village_name} (${d.village_code})` : d.village_code) },
  { key: 'channel', label: 'Channel', render: (d) => d.channel },
  { key: 'attempts', label: 'Attempts', render: (d) => d.attempts },
  { key: 'delivered', label: 'Delivered', render: (d) => d.delivered },
  { key: 'failed', label: 'Failed', render: (d) => d.failed },
  { key: 'rate', label: 'Delivery rate', render: (d) => percent(d.delivery_rate) },
];

export function AlertsScreen({ api }) {
  const [area, setArea] = useState({});
  const [source, setSource] = useState('');
  const [open, setOpen] = useState(true);
  const [days, setDays] = useState(7);
  const params = { ...area, source: source || undefined, open: open ? true : undefined };
  return html`<section>
    <h2>Alerts</h2>
    <div class="filters">
      <${AreaFilter} api=${api} value=${area} onChange=${setArea} />
      <label>Source <select name="source" value=${source} onChange=${(e) => setSource(e.target.value)}>
        <option value="">all</option><option value="edge">village rules</option><option value="fleet">fleet</option>
      </select></label>
      <label><input type="checkbox" name="open" checked=${open} onChange=${(e) => setOpen(e.target.checked)} /> open only</label>
    </div>
    <${PagedTable}
      columns=${ALERT_COLUMNS}
      load=${async ({ cursor }) => {
        const r = await api.get('/api/v1/alerts', { ...params, cursor, count: true });
        return { rows: r.alerts, next_cursor: r.next_cursor, total: r.total };
      }}
      reloadKey=${JSON.stringify(params)}
      exportCsv=${() => api.csv('/api/v1/alerts', { params })}
      csvName="alerts"
      rowClass=${(a) => `alert-row alert-${a.source}`}
      empty="No alerts." />
    <h2>Notification delivery</h2>
    <div class="filters">
      <label>Over the last <select name="days" value=${days} onChange=${(e) => setDays(Number(e.target.value))}>
        <option value="1">day</option><option value="7">7 days</option><option value="30">30 days</option>
      </select></label>
    </div>
    <${PagedTable}
      columns=${DELIVERY_COLUMNS}
      load=${async () => {
        const r = await api.get('/api/v1/delivery', { ...area, days });
        return { rows: r.rows, next_cursor: null, total: r.total };
      }}
      reloadKey=${JSON.stringify([area, days])}
      exportCsv=${() => api.csv('/api/v1/delivery', { params: { ...area, days } })}
      csvName="delivery"
      empty="No notifications reported yet." />
  </section>`;
}
