// The shell: hash routes, the header with the language switch and sync state, the bottom
// navigation, and the screens. Screens are thin: they read the store and queue writes.

import { useEffect, useState } from 'preact/hooks';
import { getState, subscribe, setLang } from './store.js';
import { translator } from './locales.js';
import { LANGUAGES } from './i18n.js';
import { I18n, useT, Data } from './ui.jsx';
import { LoginScreen } from './screens/login.jsx';
import { FarmersScreen } from './screens/farmers.jsx';
import { FarmerScreen } from './screens/farmer.jsx';
import { FarmerForm } from './screens/farmer-form.jsx';
import { FarmCapture } from './screens/farm-capture.jsx';
import { SoilTestForm } from './screens/soil-test.jsx';
import { SensorsScreen, SensorScreen } from './screens/sensors.jsx';
import { AlertsScreen } from './screens/alerts.jsx';
import { RegistrationsScreen } from './screens/registrations.jsx';
import { SyncScreen } from './screens/sync.jsx';

/** @returns {string[]} the route's parts, e.g. ['farmer', '<id>'] */
function route() {
  return location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
}

function useStore() {
  const [, force] = useState(0);
  useEffect(() => subscribe(() => force((n) => n + 1)), []);
  return getState();
}

export function App() {
  const state = useStore();
  const [parts, setParts] = useState(route());
  useEffect(() => {
    const on = () => {
      setParts(route());
      window.scrollTo(0, 0);
    };
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const tr = translator(state.lang);
  if (!state.ready) return null;
  return (
    <I18n.Provider value={tr}>
      <Header />
      {state.session ? (
        <>
          <SyncBar />
          <main>
            {state.needsLogin ? <LoginScreen relogin /> : null}
            {screen(parts)}
          </main>
          <Nav current={parts[0] ?? ''} />
        </>
      ) : (
        <main>
          <LoginScreen />
        </main>
      )}
    </I18n.Provider>
  );
}

/** @param {string[]} p */
function screen(p) {
  switch (p[0]) {
    case 'farmer':
      if (p[1] === 'new') return <FarmerForm />;
      if (p[2] === 'edit') return <FarmerForm farmerId={p[1]} />;
      if (p[2] === 'farm' && p[3] === 'new') return <FarmCapture farmerId={p[1]} />;
      if (p[2] === 'farm' && p[3] === 'fix') return <FarmCapture farmerId={p[1]} fixId={p[4]} />;
      if (p[2] === 'farm' && p[4] === 'soil') return <SoilTestForm farmerId={p[1]} farmId={p[3]} />;
      return <FarmerScreen id={p[1]} />;
    case 'sensors':
      return <SensorsScreen />;
    case 'sensor':
      return <SensorScreen id={p[1]} />;
    case 'alerts':
      return <AlertsScreen />;
    case 'registrations':
      return <RegistrationsScreen />;
    case 'sync':
      return <SyncScreen />;
    case 'map':
      return <FarmersScreen mode="map" />;
    default:
      return <FarmersScreen mode="list" />;
  }
}

function Header() {
  const { t, lang } = useT();
  return (
    <header class="top">
      <span class="brand">{t('app-title')}</span>
      <label class="lang">
        <span class="sr">{t('language-label')}</span>
        <select
          name="lang"
          value={lang}
          onChange={(e) => setLang(/** @type {import('./i18n.js').Lang} */ (/** @type {HTMLSelectElement} */ (e.currentTarget).value))}
        >
          {LANGUAGES.map(([code, name]) => (
            <option value={code} key={code} translate={false}>
              {name}
            </option>
          ))}
        </select>
      </label>
    </header>
  );
}

function SyncBar() {
  const { t, dateTime } = useT();
  const s = getState();
  const waiting = s.queue.filter((i) => i.status === 'pending').length;
  const rejected = s.queue.filter((i) => i.status === 'rejected').length;
  return (
    <a class={`syncbar${rejected ? ' has-errors' : ''}`} href="#/sync" data-testid="syncbar">
      <span data-testid="waiting" data-count={waiting}>
        {waiting ? t('sync-waiting', { count: waiting }) : t('sync-all-sent')}
      </span>
      {rejected ? (
        <span class="bad" data-testid="rejected" data-count={rejected}>
          {t('sync-rejected', { count: rejected })}
        </span>
      ) : null}
      <span class="contact" data-testid="contact">
        {s.reachable === false ? t('sync-box-unreachable') : null}{' '}
        {s.lastContact ? t('sync-last-contact', { time: dateTime(s.lastContact) }) : t('sync-never-contact')}
      </span>
      {s.persist === 'refused' ? (
        <span class="warn" data-testid="persist-refused">
          {t('storage-not-persistent')}
        </span>
      ) : null}
      {!s.secure ? <span class="warn">{t('insecure-no-offline')}</span> : null}
    </a>
  );
}

/** @param {{ current: string }} p */
function Nav(p) {
  const { t } = useT();
  // Tiny inline icons (24×24 paths): no icon font, no emoji font needed.
  const items = /** @type {const} */ ([
    ['', 'nav-farmers', 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zm-7 9c0-4 3-6 7-6s7 2 7 6zm15-9a3 3 0 1 0 0-6m2 15h3c0-3-2-5-5-5.5'],
    ['map', 'nav-map', 'M3 6l6-3 6 3 6-3v15l-6 3-6-3-6 3zM9 3v15m6-12v15'],
    ['alerts', 'nav-alerts', 'M12 3l10 18H2zm0 6v6m0 3v1'],
    ['registrations', 'nav-sms', 'M3 5h18v12H8l-5 4zm4 5h10M7 13h6'],
    ['sensors', 'nav-sensors', 'M3 20h18M5 16l4-6 4 3 6-8'],
  ]);
  return (
    <nav class="bottom">
      {items.map(([path, label, icon]) => (
        <a key={path} href={`#/${path}`} class={p.current === path ? 'on' : ''}>
          <svg class="icon" viewBox="0 0 24 24" aria-hidden="true">
            <path d={icon} />
          </svg>
          <span>{t(label)}</span>
        </a>
      ))}
    </nav>
  );
}
