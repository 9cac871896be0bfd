// SMS self-registrations waiting for an agent: confirm (creates the farmer in a village of the
// agent) or reject. Both are queued writes.
import { useEffect, useState } from 'preact/hooks';
import { cachedGet, getState, write } from '../store.js';
import { useT, Data, ScreenTitle } from '../ui.jsx';

export function RegistrationsScreen() {
  const { t, dateTime } = useT();
  const s = getState();
  const villages = s.session?.villages ?? [];
  const [village, setVillage] = useState(villages[0] ?? '');
  const [r, setR] = useState(/** @type {{ data: any, at: number, fresh: boolean } | null | undefined} */ (undefined));
  useEffect(() => {
    void cachedGet('/api/v1/sms/registrations?state=pending').then(setR);
  }, []);
  const queued = new Set(s.queue.filter((i) => i.kind.endsWith('-registration')).map((i) => i.path.split('/')[5]));
  const list = (r?.data.registrations ?? []).filter((/** @type {any} */ x) => x.state === 'pending');
  return (
    <section>
      <ScreenTitle title={t('sms-title')} />
      {r && !r.fresh ? <p class="warn">{t('cached-as-of', { time: dateTime(r.at) })}</p> : null}
      {r === null ? <p class="empty">{t('offline-no-copy')}</p> : null}
      {r && !list.length ? <p class="empty">{t('sms-none')}</p> : null}
      {list.length && villages.length > 1 ? (
        <label class="field">
          <span class="field-label">{t('farmer-village')}</span>
          <select value={village} onChange={(e) => setVillage(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
            {villages.map((v) => (
              <option key={v} value={v}>
                {t('village-code', { code: v })}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      <ul class="list">
        {list.map((/** @type {any} */ x) => (
          <li key={x.id} class="card">
            <p>
              <Data class="name">{x.name}</Data> · <Data>{x.phone}</Data>
            </p>
            <p class="sub">{dateTime(x.requested_ms)}</p>
            {queued.has(String(x.id)) ? (
              <span class="badge pending">{t('badge-waiting')}</span>
            ) : (
              <div class="buttons">
                <button
                  type="button"
                  class="primary"
                  onClick={() =>
                    void write({ method: 'POST', path: `/api/v1/sms/registrations/${x.id}/confirm`, body: { village_code: village }, kind: 'confirm-registration', label: x.name }).then(() => setR(r ? { ...r } : r))
                  }
                >
                  {t('sms-confirm')}
                </button>
                <button
                  type="button"
                  onClick={() => void write({ method: 'POST', path: `/api/v1/sms/registrations/${x.id}/reject`, body: {}, kind: 'reject-registration', label: x.name }).then(() => setR(r ? { ...r } : r))}
                >
                  {t('sms-reject')}
                </button>
              </div>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
