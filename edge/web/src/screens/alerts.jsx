// Open alerts of the agent's villages; acknowledging one is a queued write like any other.
import { useEffect, useState } from 'preact/hooks';
import { cachedGet, getState, write } from '../store.js';
import { useT, Data, ScreenTitle } from '../ui.jsx';

export function AlertsScreen() {
  const { t, num, dateTime } = useT();
  const [r, setR] = useState(/** @type {{ data: any, at: number, fresh: boolean } | null | undefined} */ (undefined));
  useEffect(() => {
    void cachedGet('/api/v1/alerts?open=true&limit=200').then(setR);
  }, []);
  const queued = new Set(getState().queue.filter((i) => i.kind === 'ack-alert').map((i) => i.path));
  const alerts = (r?.data.alerts ?? []).filter((/** @type {any} */ a) => !a.acked);
  return (
    <section>
      <ScreenTitle title={t('alerts-title')} />
      {r && !r.fresh ? <p class="warn">{t('cached-as-of', { time: dateTime(r.at) })}</p> : null}
      {r === null ? <p class="empty">{t('offline-no-copy')}</p> : null}
      {r && !alerts.length ? <p class="empty">{t('alerts-none')}</p> : null}
      <ul class="list">
        {alerts.map((/** @type {any} */ a) => {
          const path = `/api/v1/alerts/${a.id}/ack`;
          return (
            <li key={a.id} class={`alert ${a.severity}`}>
              <p>
                <strong>{t(`severity-${a.severity}`)}</strong> · {dateTime(a.raised)}
              </p>
              <p>
                <Data>{a.sensor_id}</Data>
                {a.value !== null && a.value !== undefined ? <> · {num(a.value)}</> : null}
              </p>
              <p>
                <Data class="sub">{a.message}</Data>
              </p>
              {queued.has(path) ? (
                <span class="badge pending">{t('badge-waiting')}</span>
              ) : (
                <button type="button" onClick={() => void write({ method: 'POST', path, body: {}, kind: 'ack-alert', label: a.rule_id }).then(() => setR(r ? { ...r } : r))}>
                  {t('alerts-ack')}
                </button>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
