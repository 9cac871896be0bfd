// Map: every farm the user may see, from the server's PostGIS vector tiles, coloured by a
// chosen layer; a click opens the farm's farmer (with history), soil tests, sensors and a
// readings chart. No internet base map: a plain background unless cloud.toml names a style.
// MapLibre is loaded on demand (its own chunk, outside the size budget) with its worker served
// from this origin. For tests and people alike the screen says how many farms it draws.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Chart, ErrorBanner } from '../components/ui.js';
import { MAP_LAYERS, rangeWindow, when } from '../format.js';

/** How often the map checks whether the data changed (new farms, tests, alerts). */
const REFRESH_MS = 30_000;

function plainStyle() {
  return {
    version: 8,
    sources: {},
    layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#f2f0e6' } }],
  };
}

function tileUrl(config) {
  return `${window.location.origin}${config.tiles}`;
}

function addFarmLayers(map, config, layer) {
  map.addSource('farms', {
    type: 'vector',
    tiles: [tileUrl(config)],
    minzoom: 0,
    maxzoom: 16,
    promoteId: { farms: 'id' },
  });
  map.addLayer({
    id: 'farms-fill',
    type: 'fill',
    source: 'farms',
    'source-layer': 'farms',
    paint: { 'fill-color': MAP_LAYERS[layer].paint, 'fill-opacity': 0.75 },
  });
  map.addLayer({
    id: 'farms-outline',
    type: 'line',
    source: 'farms',
    'source-layer': 'farms',
    paint: { 'line-color': '#3b3b3b', 'line-width': 0.6 },
  });
  map.addLayer({
    id: 'clusters',
    type: 'circle',
    source: 'farms',
    'source-layer': 'clusters',
    paint: {
      'circle-radius': ['interpolate', ['linear'], ['get', 'farms'], 1, 4, 500, 14, 5000, 28],
      'circle-color': ['case', ['>', ['get', 'alerts'], 0], '#e31a1c', '#2c7fb8'],
      'circle-opacity': 0.7,
    },
  });
}

/** Farms drawn right now: distinct polygons, or the farms the drawn clusters count. */
export function renderedFarmCount(map) {
  const farms = new Set(map.queryRenderedFeatures({ layers: ['farms-fill'] }).map((f) => f.properties.id));
  if (farms.size > 0) return farms.size;
  return map.queryRenderedFeatures({ layers: ['clusters'] })
    .reduce((n, f) => n + (f.properties.farms || 0), 0);
}

function FarmPanel({ api, farmId, onClose }) {
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  const [chart, setChart] = useState(null);
  useEffect(() => {
    setData(null);
    setChart(null);
    api.get(`/api/v1/farms/${encodeURIComponent(farmId)}/overview`).then(setData).catch(setError);
  }, [farmId]);
  const showReadings = async (sensor, metric) => {
    try {
      const w = rangeWindow('week');
      const r = await api.get('/api/v1/trends', { sensor_id: sensor, metric, ...w });
      setChart({ sensor, metric, buckets: r.buckets });
    } catch (e) {
      setError(e);
    }
  };
  if (error) return html`<aside class="panel"><${ErrorBanner} error=${error} /><button onClick=${onClose}>Close</button></aside>`;
  if (!data) return html`<aside class="panel"><p>Loading…</p></aside>`;
  const { farm, farmer } = data;
  return html`<aside class="panel farm-panel">
    <button type="button" class="close" onClick=${onClose}>Close</button>
    <h2>Farm ${farm.survey_number}</h2>
    <p>Village ${farm.village_code} · ${farm.area_ha.toFixed(2)} ha (declared ${farm.declared_area_ha} ha)</p>
    <p>Crops: ${(farm.crops || []).map((c) => `${c.crop} (${c.season}, sown ${c.sowing_date})`).join(', ') || '—'}</p>
    ${farmer && html`<section>
      <h3>Farmer</h3>
      <p class="farmer-name">${farmer.name}</p>
      <p>${farmer.phone} · language ${farmer.language} · consents: SMS ${farmer.consents.sms ? 'yes' : 'no'},
        voice ${farmer.consents.voice ? 'yes' : 'no'}, data sharing ${farmer.consents.data_sharing ? 'yes' : 'no'}</p>
      <p>${farmer.farms.length} farm(s): ${farmer.farms.map((f) => f.survey_number).join(', ')}</p>
    </section>`}
    <section>
      <h3>Soil tests</h3>
      ${data.soil_tests.length === 0 ? html`<p>None.</p>` : html`<table class="compact">
        <thead><tr><th>Sampled</th><th>pH</th><th>N</th><th>P</th><th>K</th><th>OC</th><th>Lab</th></tr></thead>
        <tbody>${data.soil_tests.map((t) => html`<tr><td>${t.sampled_on}</td><td>${t.parameters.ph ?? '—'}</td>
          <td>${t.parameters.n ?? '—'}</td><td>${t.parameters.p ?? '—'}</td><td>${t.parameters.k ?? '—'}</td>
          <td>${t.parameters.oc ?? '—'}</td><td>${t.lab}</td></tr>`)}</tbody></table>`}
    </section>
    <section>
      <h3>Sensors</h3>
      ${data.sensors.length === 0 ? html`<p>None linked to this farm.</p>` : html`<ul>${data.sensors.map((s) => html`<li>
        ${s.id} (${s.kind}) ${s.metrics.map((m) => html` <button type="button" onClick=${() => showReadings(s.id, m)}>${m}</button>`)}
      </li>`)}</ul>`}
      ${chart && html`<${Chart} title=${`${chart.sensor} · ${chart.metric} · last week`}
        times=${chart.buckets.map((b) => Date.parse(b.start) / 1000)}
        series=${[
          { label: 'p25', values: chart.buckets.map((b) => b.p25), colour: '#9ab', width: 1 },
          { label: 'average', values: chart.buckets.map((b) => b.avg), colour: '#2c7fb8' },
          { label: 'p75', values: chart.buckets.map((b) => b.p75), colour: '#9ab', width: 1, band: [3, 1] },
        ]} />`}
    </section>
    <section>
      <h3>Open alerts</h3>
      ${data.alerts.length === 0 ? html`<p>None.</p>` : html`<ul>${data.alerts.map((a) => html`<li class=${`sev-${a.severity}`}>
        ${a.kind}: ${a.message} (since ${when(a.raised_at)})</li>`)}</ul>`}
    </section>
    <section>
      <h3>History</h3>
      <ol class="history">${data.history.slice(0, 50).map((h) => html`<li>${when(h.time)} · ${h.author || 'unknown'} · ${h.action}
        ${h.fields.length ? ` (${h.fields.join(', ')})` : ''}</li>`)}</ol>
    </section>
    <p><a href=${`#/trends/farm/${farm.id}`}>Trends of this farm →</a></p>
  </aside>`;
}

export function MapScreen({ api }) {
  const container = useRef(null);
  const mapRef = useRef(null);
  const configRef = useRef(null);
  const [layer, setLayer] = useState('crop');
  const [shown, setShown] = useState(null);
  const [farmId, setFarmId] = useState(null);
  const [error, setError] = useState(null);
  const [summary, setSummary] = useState(null);

  const refresh = async () => {
    const config = await api.get('/api/v1/map/config');
    setSummary(config);
    const map = mapRef.current;
    if (map && configRef.current && config.data_version !== configRef.current.data_version) {
      const source = map.getSource('farms');
      if (source) source.setTiles([tileUrl(config)]);
    }
    configRef.current = config;
    return config;
  };

  useEffect(() => {
    let map;
    let timer;
    let cancelled = false;
    (async () => {
      try {
        const [maplibreModule, { default: workerUrl }, config] = await Promise.all([
          import('maplibre-gl'),
          import('maplibre-gl/dist/maplibre-gl-worker.mjs?url'),
          refresh(),
          import('maplibre-gl/dist/maplibre-gl.css'),
        ]);
        if (cancelled) return;
        // MapLibre 6 is an ES module with named exports (older builds had a default export).
        const maplibregl = maplibreModule.default ?? maplibreModule;
        maplibregl.setWorkerUrl(new URL(workerUrl, window.location.href).href);
        const b = config.bounds;
        map = new maplibregl.Map({
          container: container.current,
          style: config.base_map_style_url || plainStyle(),
          bounds: b ? [[b[0], b[1]], [b[2], b[3]]] : undefined,
          fitBoundsOptions: { padding: 24 },
          center: b ? undefined : [78.9, 21.5],
          zoom: b ? undefined : 4,
          maxZoom: config.zoom_max,
          attributionControl: false,
          preserveDrawingBuffer: true,
        });
        mapRef.current = map;
        window.farmcoConsole = { ...(window.farmcoConsole || {}), map, renderedFarmCount: () => renderedFarmCount(map) };
        map.addControl(new maplibregl.NavigationControl({ showCompass: false }));
        map.on('load', () => addFarmLayers(map, config, layer));
        map.on('idle', () => setShown(renderedFarmCount(map)));
        map.on('click', 'farms-fill', (e) => {
          const f = e.features && e.features[0];
          if (f) setFarmId(f.properties.id);
        });
        map.on('mouseenter', 'farms-fill', () => { map.getCanvas().classList.add('pointer'); });
        map.on('mouseleave', 'farms-fill', () => { map.getCanvas().classList.remove('pointer'); });
        timer = setInterval(() => refresh().catch(() => {}), REFRESH_MS);
      } catch (e) {
        setError(e);
      }
    })();
    return () => {
      cancelled = true;
      clearInterval(timer);
      if (map) map.remove();
      mapRef.current = null;
    };
  }, []);

  useEffect(() => {
    const map = mapRef.current;
    if (map && map.getLayer('farms-fill')) map.setPaintProperty('farms-fill', 'fill-color', MAP_LAYERS[layer].paint);
  }, [layer]);

  const legend = MAP_LAYERS[layer].legend;
  return html`<section class="map-screen">
    <div class="map-tools">
      <label>Colour by <select name="layer" value=${layer} onChange=${(e) => setLayer(e.target.value)}>
        ${Object.entries(MAP_LAYERS).map(([k, v]) => html`<option value=${k}>${v.label}</option>`)}
      </select></label>
      <button type="button" onClick=${() => refresh().catch(setError)}>Refresh map</button>
      <span class="farm-count" data-count=${shown ?? ''}>${shown === null ? 'Loading farms…' : `${shown} farms shown`}</span>
      ${summary && html`<span class="muted">${summary.farms} farms in your villages</span>`}
      <${ErrorBanner} error=${error} />
    </div>
    <div class="map-body">
      <div class="map" ref=${container}></div>
      <ul class="legend">${legend.map(([label, colour]) => html`<li><span class="swatch" data-colour=${colour}
        ref=${(el) => { if (el) el.style.backgroundColor = colour; }}></span>${label}</li>`)}</ul>
      ${farmId && html`<${FarmPanel} api=${api} farmId=${farmId} onClose=${() => setFarmId(null)} />`}
    </div>
  </section>`;
}


