// The phone and the box: what is waiting, what the box refused (with its message and field, to
// fix or discard), last contact, storage persistence, and logout (which wipes the phone's copy).
import { useState } from 'preact/hooks';
import { getState, flush, discard, logout } from '../store.js';
import { useT, Data, ScreenTitle, go } from '../ui.jsx';

/** @param {import('../queue.js').QueueItem} item */
function fixLink(item) {
  const body = /** @type {any} */ (item.body);
  if (item.kind === 'create-farmer') return `#/farmer/${body.id}/edit`;
  if (item.kind === 'patch-farmer') return `#/farmer/${item.path.split('/')[4]}/edit`;
  if (item.kind === 'create-farm') return `#/farmer/${item.path.split('/')[4]}/farm/fix/${item.id}`;
  return null;
}

export function SyncScreen() {
  const { t, dateTime } = useT();
  const s = getState();
  const [confirmLogout, setConfirmLogout] = useState(false);
  const waiting = s.queue.filter((i) => i.status === 'pending').length;
  return (
    <section data-testid="sync-screen">
      <ScreenTitle title={t('sync-title')} />
      <p data-testid="sync-summary">
        {waiting ? t('sync-waiting', { count: waiting }) : t('sync-all-sent')} · {s.lastContact ? t('sync-last-contact', { time: dateTime(s.lastContact) }) : t('sync-never-contact')}
      </p>
      <button type="button" class="primary" onClick={() => void flush({ pull: true })} disabled={s.syncing} data-testid="send-now">
        {s.syncing ? t('sync-sending') : t('sync-send-now')}
      </button>
      <ul class="list queue" data-testid="queue">
        {s.queue.map((item) => {
          const link = fixLink(item);
          return (
            <li key={item.id} class={`qitem ${item.status}`} data-status={item.status} data-kind={item.kind}>
              <p>
                <strong>{t(`kind-${item.kind}`)}</strong> · <Data>{item.label}</Data>
              </p>
              <p class="sub">{dateTime(item.createdAt)}</p>
              {item.status === 'rejected' && item.error ? (
                <div class="error" role="alert" data-testid="item-error">
                  <p>
                    {t('sync-item-rejected')}: <Data>{item.error.message}</Data>
                  </p>
                  {item.error.field ? (
                    <p>
                      {t('sync-item-field')}: <Data>{item.error.field}</Data>
                    </p>
                  ) : null}
                  <div class="buttons">
                    {link ? (
                      <button type="button" onClick={() => go(link)}>
                        {t('sync-fix')}
                      </button>
                    ) : null}
                    <button type="button" onClick={() => void discard(item.id)}>
                      {t('sync-discard')}
                    </button>
                  </div>
                </div>
              ) : (
                <span class="badge pending">{t('badge-waiting')}</span>
              )}
            </li>
          );
        })}
      </ul>

      <h2>{t('phone-title')}</h2>
      <p data-testid="persist-state">{t(`storage-${s.persist}`)}</p>
      {!s.secure ? <p class="warn">{t('insecure-no-offline')}</p> : null}
      <p>
        {t('signed-in-as')} <Data>{s.session?.username ?? ''}</Data>
      </p>
      {confirmLogout ? (
        <div class="card">
          <p class="warn">{waiting ? t('logout-loses', { count: waiting }) : t('logout-wipes')}</p>
          <div class="buttons">
            <button type="button" class="danger" data-testid="logout-confirm" onClick={() => void logout().then(() => go('#/'))}>
              {t('logout')}
            </button>
            <button type="button" onClick={() => setConfirmLogout(false)}>
              {t('cancel')}
            </button>
          </div>
        </div>
      ) : (
        <button type="button" data-testid="logout" onClick={() => setConfirmLogout(true)}>
          {t('logout')}
        </button>
      )}
    </section>
  );
}
