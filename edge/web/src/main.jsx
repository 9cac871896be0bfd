// Entry point: load the phone's state, register the service worker (offline shell), render.
import { render } from 'preact';
import { App } from './app.jsx';
import { init } from './store.js';
import './style.css';

if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch((e) => console.warn('service worker', e));
}

const root = document.getElementById('app');
if (root) {
  void init().then(() => render(<App />, root));
}
