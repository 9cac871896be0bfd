// Trends: readings of a sensor, a farm or a village over a day, a week or a season, bucketed
// with percentiles (the server's trend query), as a chart; CSV of exactly what is shown.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { saveBlob } from '../api.js';
import { Chart, ErrorBanner } from '../components/ui.js';
import { RANGES, rangeWindow } from '../format.js';

export function TrendsScreen({ api, arg }) {
  // A link from the map opens #/trends/farm/<id>.
  const [initialScope, initialId] = (arg || '').split('/');
  const [scope, setScope] = useState(initialScope === 'farm' ? 'farm' : 'sensor');
  const [villages, setVillages] = useState([]);
  const [village, setVillage] = useState('');
  const [sensors, setSensors] = useState([]);
  const [sensor, setSensor] = useState('');
  const [farmId, setFarmId] = useState(initialScope === 'farm' ? initialId || '' : '');
  const [metric, setMetric] = useState('');
  const [range, setRange] = useState('week');
  const [result, setResult] = useState(null);
  const [error, setError] = useState(null);

  useEffect(() => {
    api.get('/api/v1/villages').then((r) => {
      setVillages(r.villages);
      if (r.villages.length && !village) setVillage(r.villages[0].code);
    }).catch(setError);
  }, []);
  useEffect(() => {
    const params = scope === 'farm' ? { farm_id: farmId || undefined } : { village_code: village || undefined };
    if (scope === 'farm' && !farmId) return;
    api.get('/api/v1/sensors', params).then((r) => {
      setSensors(r.sensors);
      if (r.sensors.length) {
        setSensor((s) => (r.sensors.some((x) => x.id === s) ? s : r.sensors[0].id));
        const metrics = [...new Set(r.sensors.flatMap((x) => x.metrics))];
        setMetric((m) => (metrics.includes(m) ? m : metrics[0] || ''));
      }
    }).catch(setError);
  }, [scope, village, farmId]);

  const query = () => {
    const w = rangeWindow(range);
    const target = scope === 'sensor' ? { sensor_id: sensor } : scope === 'farm' ? { farm_id: farmId } : { village_code: village };
    return { ...target, metric, ...w };
  };
  const show = async () => {
    try {
      setResult(await api.get('/api/v1/trends', query()));
      setError(null);
    } catch (e) {
      setError(e);
    }
  };
  const csv = async () => {
    try {
      saveBlob(await api.csv('/api/v1/trends', { params: query() }), 'trends.csv');
    } catch (e) {
      setError(e);
    }
  };
  const metrics = [...new Set(sensors.flatMap((s) => s.metrics))];
  const b = result ? result.buckets : [];
  return html`<section>
    <h2>Trends</h2>
    <div class="filters">
      <label>Of <select name="scope" value=${scope} onChange=${(e) => setScope(e.target.value)}>
        <option value="sensor">a sensor</option><option value="farm">a farm</option><option value="village">a village</option>
      </select></label>
      ${scope !== 'farm' && html`<label>Village <select name="village" value=${village} onChange=${(e) => setVillage(e.target.value)}>
        ${villages.map((v) => html`<option value=${v.code}>${v.name ? `${v.name} (${v.code})` : v.code}</option>`)}
      </select></label>`}
      ${scope === 'farm' && html`<label>Farm id <input name="farm_id" value=${farmId} onChange=${(e) => setFarmId(e.target.value.trim())} /></label>`}
      ${scope === 'sensor' && html`<label>Sensor <select name="sensor" value=${sensor} onChange=${(e) => setSensor(e.target.value)}>
        ${sensors.map((s) => html`<option value=${s.id}>${s.id} (${s.kind})</option>`)}
      </select></label>`}
      <label>Metric <select name="metric" value=${metric} onChange=${(e) => setMetric(e.target.value)}>
        ${metrics.map((m) => html`<option value=${m}>${m}</option>`)}
      </select></label>
      <label>Range <select name="range" value=${range} onChange=${(e) => setRange(e.target.value)}>
        ${Object.entries(RANGES).map(([k, r]) => html`<option value=${k}>${r.label}</option>`)}
      </select></label>
      <button type="button" onClick=${show} disabled=${!metric}>Show</button>
      <button type="button" onClick=${csv} disabled=${!result}>Download CSV</button>
    </div>
    <${ErrorBanner} error=${error} />
    ${sensors.length === 0 && html`<p class="muted">No sensors reported for this choice yet (edges report their sensors with each sync).</p>`}
    ${result && html`<p>${result.scope} · ${result.metric} · ${result.buckets.length} buckets of ${result.bucket}
      · ${b.reduce((n, x) => n + x.count, 0)} readings</p>
      <${Chart} title=${`${result.metric}: average, 25th–75th percentile, min and max`}
        times=${b.map((x) => Date.parse(x.start) / 1000)}
        series=${[
          { label: 'min', values: b.map((x) => x.min), colour: '#bbb', width: 1, dash: [4, 4] },
          { label: 'p25', values: b.map((x) => x.p25), colour: '#9ab', width: 1 },
          { label: 'average', values: b.map((x) => x.avg), colour: '#2c7fb8' },
          { label: 'p75', values: b.map((x) => x.p75), colour: '#9ab', width: 1, band: [4, 2] },
          { label: 'max', values: b.map((x) => x.max), colour: '#bbb', width: 1, dash: [4, 4] },
        ]} />`}
  </section>`;
}
