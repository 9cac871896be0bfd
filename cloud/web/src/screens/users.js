// Users (admin): ops accounts, roles and village scope; sign a user out everywhere.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { ErrorBanner, PagedTable } from '../components/ui.js';
import { when } from '../format.js';

export function UsersScreen({ api, session }) {
  const [version, setVersion] = useState(0);
  const [error, setError] = useState(null);
  const [message, setMessage] = useState(null);
  const act = async (f, done) => {
    try {
      await f();
      setError(null);
      setMessage(done);
      setVersion((v) => v + 1);
    } catch (err) {
      setError(err);
    }
  };
  const create = (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    const villages = String(f.get('villages') || '').split(/[\s,]+/).filter(Boolean);
    act(() => api.post('/api/v1/users', {
      username: String(f.get('username')), password: String(f.get('password')), role: String(f.get('role')), villages,
    }), `Added ${f.get('username')}.`).then(() => e.target.reset());
  };
  const setRole = (u, role) => act(() => api.patch(`/api/v1/users/${encodeURIComponent(u.username)}`, { role }), `${u.username} is now ${role}.`);
  const setVillages = (u) => {
    const text = window.prompt(`Villages ${u.username} may see (codes, comma-separated; empty: all)`, u.villages.join(', '));
    if (text === null) return;
    act(() => api.patch(`/api/v1/users/${encodeURIComponent(u.username)}`, { villages: text.split(/[\s,]+/).filter(Boolean) }), `Villages of ${u.username} changed.`);
  };
  const endSessions = (u) => act(() => api.post(`/api/v1/users/${encodeURIComponent(u.username)}/end-sessions`), `${u.username} was signed out everywhere.`);
  return html`<section>
    <h2>Users</h2>
    <${ErrorBanner} error=${error} />
    ${message && html`<p class="ok" role="status">${message}</p>`}
    <${PagedTable}
      columns=${[
        { key: 'username', label: 'User', render: (u) => u.username },
        { key: 'role', label: 'Role', render: (u) => html`<select value=${u.role} disabled=${u.username === session.username}
            onChange=${(e) => setRole(u, e.target.value)}><option value="ops">ops</option><option value="admin">admin</option></select>` },
        { key: 'villages', label: 'Villages', render: (u) => (u.villages.length ? u.villages.join(', ') : 'all') },
        { key: 'sessions', label: 'Sessions', render: (u) => u.sessions },
        { key: 'created', label: 'Created', render: (u) => when(u.created_at) },
        { key: 'state', label: 'State', render: (u) => (u.disabled ? 'disabled' : 'active') },
        { key: 'act', label: '', render: (u) => html`<button type="button" onClick=${() => setVillages(u)}>Villages…</button>
          <button type="button" onClick=${() => endSessions(u)}>Sign out everywhere</button>` },
      ]}
      load=${async () => {
        const r = await api.get('/api/v1/users');
        return { rows: r.users, next_cursor: null, total: r.total };
      }}
      reloadKey=${version}
      exportCsv=${() => api.csv('/api/v1/users')}
      csvName="users" />
    <h2>Add a user</h2>
    <form class="user-form" onSubmit=${create}>
      <label>Username <input name="username" required pattern="[a-z0-9][a-z0-9._-]{2,63}" /></label>
      <label>Password <input name="password" type="password" required autocomplete="new-password" /></label>
      <label>Role <select name="role"><option value="ops">ops (read, publish)</option><option value="admin">admin (also devices, users)</option></select></label>
      <label>Villages (empty: all) <input name="villages" placeholder="563412, 563413" /></label>
      <button type="submit">Add user</button>
    </form>
  </section>`;
}
