// Devices (admin): a one-time enrollment token (shown once, with a QR code for the field
// technician), enrolled nodes, revocation.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { ErrorBanner, PagedTable } from '../components/ui.js';
import { when } from '../format.js';

function svgDataUrl(svg) {
  let binary = '';
  for (const b of new TextEncoder().encode(svg)) binary += String.fromCharCode(b);
  return `data:image/svg+xml;base64,${btoa(binary)}`;
}

export function DevicesScreen({ api }) {
  const [villages, setVillages] = useState([]);
  const [chosen, setChosen] = useState([]);
  const [extra, setExtra] = useState('');
  const [issued, setIssued] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  useEffect(() => { api.get('/api/v1/villages').then((r) => setVillages(r.villages)).catch(setError); }, []);
  const create = async (e) => {
    e.preventDefault();
    try {
      const codes = [...chosen, ...extra.split(/[\s,]+/).filter(Boolean)];
      setIssued(await api.post('/api/v1/devices/tokens', { villages: codes }));
      setError(null);
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (node) => {
    if (!window.confirm(`Revoke ${node.name}? Every later sync from it will be refused.`)) return;
    try {
      await api.post(`/api/v1/nodes/${node.node_id}/revoke`);
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err);
    }
  };
  return html`<section>
    <h2>Enroll a village box</h2>
    <form class="token-form" onSubmit=${create}>
      <fieldset><legend>Villages it will serve</legend>
        ${villages.map((v) => html`<label class="check"><input type="checkbox" checked=${chosen.includes(v.code)}
          onChange=${() => setChosen((c) => (c.includes(v.code) ? c.filter((x) => x !== v.code) : [...c, v.code]))} />
          ${v.name ? `${v.name} (${v.code})` : v.code}</label>`)}
        <label>Other village codes <input name="codes" value=${extra} onInput=${(e) => setExtra(e.target.value)} placeholder="563413, 563414" /></label>
      </fieldset>
      <button type="submit">Create enrollment token</button>
    </form>
    <${ErrorBanner} error=${error} />
    ${issued && html`<div class="issued" role="status">
      <p><strong>Shown once.</strong> Valid until ${when(issued.expires_at)} for villages ${issued.villages.join(', ')}.</p>
      <p>On the box: <code class="command">${issued.command}</code></p>
      <img class="qr" alt="QR code of the enrollment command" src=${svgDataUrl(issued.qr_svg)} width="220" height="220" />
      <button type="button" onClick=${() => setIssued(null)}>Done, hide it</button>
    </div>`}
    <h2>Enrolled nodes</h2>
    <${PagedTable}
      columns=${[
        { key: 'name', label: 'Node', render: (n) => html`<span title=${n.node_id}>${n.name}</span>` },
        { key: 'villages', label: 'Villages', render: (n) => n.villages.join(', ') },
        { key: 'enrolled', label: 'Enrolled', render: (n) => when(n.enrolled_at) },
        { key: 'seen', label: 'Last sync', render: (n) => when(n.last_seen_at) },
        { key: 'state', label: 'State', render: (n) => (n.revoked ? `revoked ${when(n.revoked_at)}` : 'active') },
        { key: 'act', label: '', render: (n) => (n.revoked ? '' : html`<button type="button" class="danger" onClick=${(e) => { e.stopPropagation(); revoke(n); }}>Revoke</button>`) },
      ]}
      load=${async ({ cursor }) => {
        const r = await api.get('/api/v1/nodes', { cursor, count: true, sort: 'name' });
        return { rows: r.nodes, next_cursor: r.next_cursor, total: r.total };
      }}
      reloadKey=${version}
      exportCsv=${() => api.csv('/api/v1/nodes', { params: { sort: 'name' } })}
      csvName="nodes" />
    <h2>Enrollment tokens</h2>
    <${PagedTable}
      columns=${[
        { key: 'id', label: 'Id (hash prefix)', render: (t) => html`<code>${t.id}</code>` },
        { key: 'villages', label: 'Villages', render: (t) => t.villages.join(', ') },
        { key: 'created', label: 'Created', render: (t) => when(t.created_at) },
        { key: 'expires', label: 'Expires', render: (t) => when(t.expires_at) },
        { key: 'state', label: 'State', render: (t) => (t.used_at ? `used ${when(t.used_at)}` : t.state) },
      ]}
      load=${async () => {
        const r = await api.get('/api/v1/devices/tokens');
        return { rows: r.tokens, next_cursor: null, total: r.total };
      }}
      reloadKey=${version}
      exportCsv=${() => api.csv('/api/v1/devices/tokens')}
      csvName="enrollment-tokens" />
  </section>`;
}
