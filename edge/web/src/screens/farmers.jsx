// The agent's villages: farmer list with search (Devanagari or Latin name, or phone) and a
// village filter, or the village map with every farm. Works on the phone's copy.
import { useState } from 'preact/hooks';
import { getState } from '../store.js';
import { search } from '../data.js';
import { exteriorRings, bulkFocus } from '../geo.js';
import { useT, Data, go } from '../ui.jsx';
import { FarmMap } from '../map.jsx';

/** Rows rendered at once; the search narrows the rest (a village has a few hundred farmers). */
const LIST_ROWS_MAX = 300;

/** @param {{ mode: 'list' | 'map' }} p */
export function FarmersScreen(p) {
  const { t, num } = useT();
  const s = getState();
  const villages = s.session?.villages ?? [];
  const [q, setQ] = useState('');
  const [village, setVillage] = useState('');
  const found = search(s.farmers, q, village);
  return (
    <section>
      <div class="toolbar">
        <input
          type="search"
          name="q"
          placeholder={t('farmers-search')}
          aria-label={t('farmers-search')}
          value={q}
          onInput={(e) => setQ(/** @type {HTMLInputElement} */ (e.currentTarget).value)}
        />
        <select name="village" aria-label={t('farmers-village')} value={village} onChange={(e) => setVillage(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
          <option value="">{t('farmers-all-villages')}</option>
          {villages.map((v) => (
            <option value={v} key={v}>
              {t('village-code', { code: v })}
            </option>
          ))}
        </select>
      </div>
      <p class="count" data-testid="farmer-count" data-count={found.length}>
        {t('farmers-count', { count: found.length })}
      </p>
      {p.mode === 'map' ? (
        <FarmMap
          height={420}
          focus={bulkFocus(found.flatMap((f) => f.farms.flatMap((farm) => exteriorRings(farm.boundary))))}
          label={t('map-label')}
          zoomInLabel={t('map-zoom-in')}
          zoomOutLabel={t('map-zoom-out')}
          farms={found.flatMap((f) =>
            f.farms.map((farm) => ({
              id: f.id,
              rings: exteriorRings(farm.boundary),
              style: /** @type {'own' | 'pending' | 'rejected'} */ (farm.sync ? (farm.sync.state === 'rejected' ? 'rejected' : 'pending') : 'own'),
            })),
          )}
          onTapFarm={(id) => go(`#/farmer/${id}`)}
        />
      ) : (
        <ul class="list" data-testid="farmer-list">
          {found.slice(0, LIST_ROWS_MAX).map((f) => (
            <li key={f.id}>
              <a href={`#/farmer/${f.id}`} class="row">
                <span class="main">
                  <Data class="name">{f.name}</Data>
                  <Data class="sub">{f.phone}</Data>
                </span>
                <span class="side">
                  {t('farms-count', { count: f.farms.length })}
                  {f.farms.length ? <span class="sub">{t('area-ha', { area: num(f.farms.reduce((a, x) => a + x.area_ha, 0), { maximumFractionDigits: 2 }) })}</span> : null}
                  {f.sync ? <span class={`badge ${f.sync.state}`}>{t(f.sync.state === 'rejected' ? 'badge-rejected' : 'badge-waiting')}</span> : null}
                </span>
              </a>
            </li>
          ))}
        </ul>
      )}
      <a class="fab" href="#/farmer/new" data-testid="new-farmer">
        + {t('farmer-register')}
      </a>
    </section>
  );
}
