// Sensors: the list with each one's farm, and one sensor's last reading and a chart of a day,
// a week or a month (hourly, 6-hourly or daily buckets from the box's readings route). Kept on
// the phone for when the box is out of reach.
import { useEffect, useState } from 'preact/hooks';
import { cachedGet } from '../store.js';
import { useT, Data, ScreenTitle } from '../ui.jsx';
import { ReadingsChart } from '../chart.jsx';

/** Metrics a sensor may report, with units (the box's built-in catalogue). */
export const METRICS = /** @type {const} */ ([
  ['soil_moisture_vwc', '%'],
  ['soil_temp_c', '°C'],
  ['air_temp_c', '°C'],
  ['humidity_pct', '%'],
  ['rainfall_mm', 'mm'],
  ['leaf_wetness_pct', '%'],
  ['battery_v', 'V'],
]);

/** Chart ranges: span and bucket. */
const RANGES = /** @type {const} */ ([
  ['day', 86_400_000, '1h'],
  ['week', 7 * 86_400_000, '6h'],
  ['month', 30 * 86_400_000, '1d'],
]);

/** @param {{ r: { fresh: boolean, at: number } | null }} props */
function Freshness({ r }) {
  const { t, dateTime } = useT();
  if (!r || r.fresh) return null;
  return <p class="warn">{t('cached-as-of', { time: dateTime(r.at) })}</p>;
}

export function SensorsScreen() {
  const { t } = useT();
  const [r, setR] = useState(/** @type {{ data: any, at: number, fresh: boolean } | null | undefined} */ (undefined));
  useEffect(() => {
    void cachedGet('/api/v1/sensors?limit=1000').then(setR);
  }, []);
  return (
    <section>
      <ScreenTitle title={t('sensors-title')} />
      <Freshness r={r ?? null} />
      {r === undefined ? <p>{t('loading')}</p> : null}
      {r === null ? <p class="empty">{t('offline-no-copy')}</p> : null}
      <ul class="list">
        {(r?.data.sensors ?? []).map((/** @type {any} */ s) => (
          <li key={s.id}>
            <a class="row" href={`#/sensor/${encodeURIComponent(s.id)}`}>
              <span class="main">
                <Data class="name">{s.id}</Data>
                <Data class="sub">{s.kind}</Data>
              </span>
              <span class="side">{s.farm_id ? t('sensor-on-farm') : t('sensor-no-farm')}</span>
            </a>
          </li>
        ))}
      </ul>
      {r && !r.data.sensors.length ? <p class="empty">{t('sensors-none')}</p> : null}
    </section>
  );
}

/** @param {{ id: string }} p */
export function SensorScreen(p) {
  const { t, num, dateTime, lang } = useT();
  const [metric, setMetric] = useState(/** @type {string} */ (METRICS[0][0]));
  const [range, setRange] = useState(/** @type {string} */ ('day'));
  const [raw, setRaw] = useState(/** @type {{ data: any, at: number, fresh: boolean } | null | undefined} */ (undefined));
  const [buckets, setBuckets] = useState(/** @type {{ data: any, at: number, fresh: boolean } | null | undefined} */ (undefined));
  const spec = RANGES.find((x) => x[0] === range) ?? RANGES[0];
  useEffect(() => {
    const id = encodeURIComponent(p.id);
    // Rounded to the hour so the cached copy is found again offline.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    void cachedGet(`/api/v1/sensors/${id}/readings?metric=${metric}&from=${hour - 86_400_000}`).then(setRaw);
    void cachedGet(`/api/v1/sensors/${id}/readings?metric=${metric}&from=${hour - spec[1]}&bucket=${spec[2]}`).then(setBuckets);
  }, [p.id, metric, range]);
  const readings = raw?.data?.readings ?? [];
  const last = readings.length ? readings[readings.length - 1] : null;
  const unit = METRICS.find((m) => m[0] === metric)?.[1] ?? '';
  return (
    <section>
      <ScreenTitle back="#/sensors" title={t('sensor-title')} />
      <p>
        <Data class="name">{p.id}</Data>
      </p>
      <label class="field">
        <span class="field-label">{t('sensor-metric')}</span>
        <select value={metric} onChange={(e) => setMetric(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
          {METRICS.map(([m]) => (
            <option key={m} value={m}>
              {t(`metric-${m}`)}
            </option>
          ))}
        </select>
      </label>
      <Freshness r={buckets ?? null} />
      <p class="big" data-testid="last-reading">
        {last ? (
          <>
            {t('sensor-last')}: {num(last.value)} <Data>{unit}</Data> · {dateTime(last.ts)}
          </>
        ) : (
          t('sensor-no-readings')
        )}
      </p>
      <div class="tabs">
        {RANGES.map(([name]) => (
          <button type="button" key={name} class={range === name ? 'on' : ''} onClick={() => setRange(name)}>
            {t(`range-${name}`)}
          </button>
        ))}
      </div>
      {buckets?.data?.buckets?.length ? (
        <ReadingsChart buckets={buckets.data.buckets} unit={unit} lang={lang} labels={{ time: t('chart-time'), avg: t('chart-avg'), min: t('chart-min'), max: t('chart-max') }} />
      ) : (
        <p class="empty">{t('sensor-no-readings')}</p>
      )}
    </section>
  );
}
