// Log in (needs the box once; the session then works offline until it expires).
import { useState } from 'preact/hooks';
import { login, getState } from '../store.js';
import { useT, Field } from '../ui.jsx';

/**
 * The login form; `relogin` when the session expired while changes may still wait (they are
 * kept and sent after the new login).
 * @param {{ relogin?: boolean }} p
 */
export function LoginScreen(p) {
  const { t } = useT();
  const [username, setUsername] = useState(getState().session?.username ?? '');
  const [password, setPassword] = useState('');
  const [error, setError] = useState(/** @type {string | null} */ (null));
  const [busy, setBusy] = useState(false);
  /** @param {Event} e */
  async function submit(e) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await login(username.trim(), password);
      if (!r.ok) setError(r.status === 429 ? t('login-rate-limited') : t('login-failed'));
      else if (!p.relogin) location.hash = '#/';
    } catch {
      setError(t('login-offline'));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form class="card login" onSubmit={submit}>
      <h1>{t('login-title')}</h1>
      <p>{p.relogin ? t('login-again') : t('login-intro')}</p>
      <Field label={t('login-username')} name="username" value={username} onInput={setUsername} autocomplete="username" required />
      <Field label={t('login-password')} name="password" type="password" value={password} onInput={setPassword} autocomplete="current-password" required />
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button class="primary" type="submit" disabled={busy}>
        {t('login-submit')}
      </button>
    </form>
  );
}
