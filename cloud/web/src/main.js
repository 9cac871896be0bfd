// The ops console: session, navigation (hash routes, so no farmer data ever sits in a URL
// the server sees) and the screens. Served by farmco-cloud from its embedded copy of dist/.
import { html } from 'htm/preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { createApi } from './api.js';
import { ErrorBanner } from './components/ui.js';
import { MapScreen } from './screens/map.js';
import { FleetScreen } from './screens/fleet.js';
import { TrendsScreen } from './screens/trends.js';
import { AlertsScreen } from './screens/alerts.js';
import { AdvisoriesScreen } from './screens/advisories.js';
import { DevicesScreen } from './screens/devices.js';
import { UsersScreen } from './screens/users.js';
import { FarmersScreen } from './screens/farmers.js';
import './styles.css';

const SCREENS = [
  { id: 'map', label: 'Map', view: MapScreen },
  { id: 'fleet', label: 'Fleet', view: FleetScreen },
  { id: 'trends', label: 'Trends', view: TrendsScreen },
  { id: 'alerts', label: 'Alerts', view: AlertsScreen },
  { id: 'advisories', label: 'Advisories', view: AdvisoriesScreen },
  { id: 'farmers', label: 'Farmers', view: FarmersScreen },
  { id: 'devices', label: 'Devices', view: DevicesScreen, admin: true },
  { id: 'users', label: 'Users', view: UsersScreen, admin: true },
];

function currentRoute() {
  const [id, ...rest] = (window.location.hash.replace(/^#\/?/, '') || 'map').split('/');
  return { id, arg: rest.join('/') || null };
}

function Login({ api, onLogin }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      onLogin(await api.login(String(form.get('username')), String(form.get('password'))));
    } catch (err) {
      setError(err);
    }
  };
  return html`<main class="login">
    <h1>FarmCo ops console</h1>
    <form onSubmit=${submit}>
      <label>Username <input name="username" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit">Log in</button>
      <${ErrorBanner} error=${error} />
    </form>
  </main>`;
}

function App() {
  const [session, setSession] = useState(undefined);
  const [route, setRoute] = useState(currentRoute());
  const [api] = useState(() => createApi({ onUnauthorized: () => setSession(null) }));
  useEffect(() => {
    api.restore().then(setSession).catch(() => setSession(null));
    const onHash = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  if (session === undefined) return html`<p class="loading">Loading…</p>`;
  if (!session) return html`<${Login} api=${api} onLogin=${setSession} />`;
  const isAdmin = session.role === 'admin';
  const screen = SCREENS.find((s) => s.id === route.id) || SCREENS[0];
  const logout = async (everywhere) => {
    try {
      await api.logout(everywhere);
    } finally {
      setSession(null);
    }
  };
  const View = screen.view;
  return html`<div class="shell">
    <header>
      <strong class="brand">FarmCo ops</strong>
      <nav>${SCREENS.filter((s) => !s.admin || isAdmin).map((s) => html`<a
          href=${`#/${s.id}`} class=${s.id === screen.id ? 'active' : ''}>${s.label}</a>`)}</nav>
      <span class="who">${session.username} (${session.role})</span>
      <button type="button" onClick=${() => logout(false)}>Log out</button>
      <button type="button" onClick=${() => logout(true)} title="End every session of this account">Log out everywhere</button>
    </header>
    <main class=${`screen screen-${screen.id}`}>
      ${screen.admin && !isAdmin
        ? html`<section class="denied"><h2>${screen.label}</h2><p role="alert">The ${screen.label.toLowerCase()} page needs the admin role.</p></section>`
        : html`<${View} api=${api} session=${session} arg=${route.arg} />`}
    </main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
