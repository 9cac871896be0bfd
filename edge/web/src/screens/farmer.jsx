// A farmer's profile: details, consents, farms on a small map, soil tests, sensors on the
// farms, and the history of changes (who changed what, from the box's `/history`).
import { useEffect, useState } from 'preact/hooks';
import { getState, cachedGet } from '../store.js';
import { exteriorRings } from '../geo.js';
import { useT, Data, ScreenTitle } from '../ui.jsx';
import { FarmMap } from '../map.jsx';
import { SOIL_PARAMETERS } from '../soil.js';

/** @param {{ id: string }} p */
export function FarmerScreen(p) {
  const { t, num, date, dateTime } = useT();
  const s = getState();
  const farmer = s.farmers.find((f) => f.id === p.id);
  const [history, setHistory] = useState(/** @type {any[] | null} */ (null));
  const [sensors, setSensors] = useState(/** @type {any[]} */ ([]));
  useEffect(() => {
    if (!farmer || farmer.sync?.state) return;
    void cachedGet(`/api/v1/farmers/${p.id}/history`).then((r) => setHistory(r ? r.data.history : null));
    void cachedGet('/api/v1/sensors?limit=1000').then((r) => setSensors(r ? r.data.sensors : []));
  }, [p.id, farmer?.sync?.state]);
  if (!farmer) {
    return (
      <section>
        <ScreenTitle back="#/" title={t('farmer-not-found')} />
      </section>
    );
  }
  const neighbours = s.farmers.filter((f) => f.id !== farmer.id && f.village_code === farmer.village_code);
  const langName = t(`lang-${farmer.language}`);
  return (
    <section data-testid="farmer-profile">
      <ScreenTitle back="#/" title={<Data>{farmer.name}</Data>}>
        <a class="button small" href={`#/farmer/${farmer.id}/edit`}>
          {t('farmer-edit')}
        </a>
      </ScreenTitle>
      {farmer.sync ? <p class={`badge ${farmer.sync.state}`}>{t(farmer.sync.state === 'rejected' ? 'badge-rejected' : 'badge-waiting')}</p> : null}
      <dl class="details">
        <dt>{t('farmer-phone')}</dt>
        <dd>
          <Data>{farmer.phone}</Data>
        </dd>
        <dt>{t('farmer-language')}</dt>
        <dd>{langName}</dd>
        <dt>{t('farmer-village')}</dt>
        <dd>{t('village-code', { code: farmer.village_code })}</dd>
        <dt>{t('farmer-consents')}</dt>
        <dd>
          <ul class="consents">
            {/** @type {const} */ (['sms', 'voice', 'data_sharing']).map((c) => (
              <li key={c}>
                {farmer.consents[c] ? '✔' : '✘'} {t(`consent-${c}`)}
              </li>
            ))}
          </ul>
        </dd>
      </dl>

      <h2>{t('farms-title')}</h2>
      {farmer.farms.length ? (
        <FarmMap
          height={200}
          label={t('map-label')}
          zoomInLabel={t('map-zoom-in')}
          zoomOutLabel={t('map-zoom-out')}
          focus={farmer.farms.flatMap((f) => exteriorRings(f.boundary))}
          farms={[
            ...neighbours.flatMap((n) => n.farms.map((f) => ({ id: f.id, rings: exteriorRings(f.boundary), style: /** @type {const} */ ('other') }))),
            ...farmer.farms.map((f) => ({ id: f.id, rings: exteriorRings(f.boundary), style: /** @type {'own' | 'pending' | 'rejected'} */ (f.sync ? (f.sync.state === 'rejected' ? 'rejected' : 'pending') : 'own') })),
          ]}
        />
      ) : (
        <p class="empty">{t('farms-none')}</p>
      )}
      {farmer.farms.map((farm) => (
        <div class="card" key={farm.id} data-testid="farm">
          <h3>
            {t('farm-survey')} <Data>{farm.survey_number}</Data>
          </h3>
          <p>
            {t('area-ha', { area: num(farm.area_ha, { maximumFractionDigits: 2 }) })} · {t('farm-declared', { area: num(farm.declared_area_ha, { maximumFractionDigits: 2 }) })}
          </p>
          {farm.crops.length ? (
            <p>
              {farm.crops.map((c) => (
                <span class="chip" key={`${c.crop}${c.season}`}>
                  <Data>{c.crop}</Data> · {t(`season-${c.season}`)}
                </span>
              ))}
            </p>
          ) : null}
          {(s.farmWarnings[farm.id] ?? []).map((w) => (
            <p class="warn" key={w.code + (w.farm_id ?? '')} data-testid="farm-warning">
              ⚠ {t(`warning-${w.code}`)}: <Data>{w.message}</Data>
            </p>
          ))}
          {farm.sync ? <p class={`badge ${farm.sync.state}`}>{t(farm.sync.state === 'rejected' ? 'badge-rejected' : 'badge-waiting')}</p> : null}
          <h4>{t('soil-tests-title')}</h4>
          {farm.soil_tests.length ? (
            farm.soil_tests.map((st) => (
              <div class="soil" key={st.id} data-testid="soil-test">
                <p>
                  {date(st.sampled_on)} · <Data>{st.lab}</Data>
                  {st.sync ? <span class={`badge ${st.sync.state}`}>{t(st.sync.state === 'rejected' ? 'badge-rejected' : 'badge-waiting')}</span> : null}
                </p>
                <p class="params">
                  {SOIL_PARAMETERS.filter((sp) => st.parameters[sp.key] !== undefined).map((sp) => (
                    <span class="chip" key={sp.key}>
                      {t(`soil-${sp.key}`)} {num(st.parameters[sp.key])} {sp.key === 'ph' ? null : <Data>{sp.unit}</Data>}
                    </span>
                  ))}
                </p>
                {st.advice ? <Advice advice={st.advice} /> : null}
              </div>
            ))
          ) : (
            <p class="empty">{t('soil-tests-none')}</p>
          )}
          <a class="button" href={`#/farmer/${farmer.id}/farm/${farm.id}/soil`}>
            + {t('soil-test-add')}
          </a>
          {sensors.filter((x) => x.farm_id === farm.id).length ? <h4>{t('sensors-title')}</h4> : null}
          {sensors
            .filter((x) => x.farm_id === farm.id)
            .map((x) => (
              <a class="row" key={x.id} href={`#/sensor/${encodeURIComponent(x.id)}`}>
                <Data>{x.id}</Data> <span class="sub">{x.kind}</span>
              </a>
            ))}
        </div>
      ))}
      <a class="button primary" href={`#/farmer/${farmer.id}/farm/new`} data-testid="add-farm">
        + {t('farm-add')}
      </a>

      <h2>{t('history-title')}</h2>
      {history === null ? (
        <p class="empty">{t('history-offline')}</p>
      ) : (
        <ol class="history">
          {history
            .slice()
            .reverse()
            .map((h) => (
              <li key={h.change}>
                <span>{dateTime(h.at)}</span> · <Data>{h.author}</Data> · {t('history-action', { action: h.action })}
                {h.fields.length ? (
                  <>
                    {' '}
                    (<Data>{h.fields.join(', ')}</Data>)
                  </>
                ) : null}
              </li>
            ))}
        </ol>
      )}
    </section>
  );
}

/** The box's advice on a soil test: N/P/K ratings and a dose for the farm's crop. */
/** @param {{ advice: any }} p */
function Advice(p) {
  const { t, num } = useT();
  const a = p.advice;
  return (
    <p class="advice" data-testid="soil-advice">
      {['n', 'p', 'k']
        .filter((k) => a[k])
        .map((k) => (
          <span class="chip" key={k}>
            {t(`soil-${k}`)}: {t(`rating-${a[k]}`)}
          </span>
        ))}
      {a.dose_kg_ha ? (
        <span class="dose">
          {t('advice-dose', { crop: t(`crop-${a.crop}`), n: num(a.dose_kg_ha.n), p: num(a.dose_kg_ha.p2o5), k: num(a.dose_kg_ha.k2o) })}
        </span>
      ) : null}
    </p>
  );
}
