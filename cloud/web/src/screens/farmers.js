// Farmers: the paged farmer list with search by name or phone. The search text goes in the
// body of POST /api/v1/farmers/search, never in a URL.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { AreaFilter, PagedTable } from '../components/ui.js';

export function FarmersScreen({ api }) {
  const [area, setArea] = useState({});
  const [q, setQ] = useState('');
  const [applied, setApplied] = useState('');
  const body = { ...area, q: applied || undefined };
  return html`<section>
    <h2>Farmers</h2>
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); setApplied(q.trim()); }}>
      <${AreaFilter} api=${api} value=${area} onChange=${setArea} />
      <label>Name or phone <input name="q" value=${q} onInput=${(e) => setQ(e.target.value)} /></label>
      <button type="submit">Search</button>
    </form>
    <${PagedTable}
      columns=${[
        { key: 'name', label: 'Name', render: (f) => f.name },
        { key: 'phone', label: 'Phone', render: (f) => f.phone },
        { key: 'language', label: 'Language', render: (f) => f.language },
        { key: 'village', label: 'Village', render: (f) => f.village_code },
        { key: 'farms', label: 'Farms', render: (f) => f.farms },
        { key: 'consents', label: 'Consents (SMS / voice / data)', render: (f) => ['sms', 'voice', 'data_sharing'].map((k) => (f.consents[k] ? 'yes' : 'no')).join(' / ') },
      ]}
      load=${async ({ cursor }) => {
        const r = await api.post('/api/v1/farmers/search', { ...body, cursor, count: true });
        return { rows: r.farmers, next_cursor: r.next_cursor, total: r.total };
      }}
      reloadKey=${JSON.stringify(body)}
      exportCsv=${() => api.csv('/api/v1/farmers/search', { body })}
      csvName="farmers" />
  </section>`;
}
