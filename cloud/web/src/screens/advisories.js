// Advisories: publish a weather warning or a mandi price list to chosen villages, with a
// preview of the SMS in each language and its part count (computed by the server with the
// modem codec the boxes use); then see per village when it reached the box and how many
// farmers it was delivered to.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { AreaFilter, ErrorBanner, PagedTable } from '../components/ui.js';
import { when } from '../format.js';

const LANGUAGES = [['hi', 'Hindi (also sent to Marathi speakers)'], ['en', 'English']];
const EMPTY_PRICE = { crop: '', market: '', min: '', max: '', modal: '' };

function Preview({ previews, note }) {
  if (!previews) return null;
  return html`<div class="preview">
    <p class="muted">${note}</p>
    ${previews.map((p) => html`<div class="sms-preview" data-lang=${p.language}>
      <strong>${p.language}</strong> <span class="muted">(${p.for_speakers_of.join(', ')})</span>
      <p class="sms-text" lang=${p.language}>${p.text}</p>
      <p class="muted parts">${p.characters} characters · ${p.encoding === 'ucs2' ? 'Unicode (UCS-2)' : 'GSM 7-bit'} ·
        <span class="part-count">${p.parts} SMS part${p.parts === 1 ? '' : 's'}</span></p>
    </div>`)}
  </div>`;
}

function PublishForm({ api, onPublished }) {
  const [villages, setVillages] = useState([]);
  const [chosen, setChosen] = useState([]);
  const [kind, setKind] = useState('weather');
  const [title, setTitle] = useState('');
  const [severity, setSeverity] = useState('warning');
  const [texts, setTexts] = useState({ hi: '', en: '' });
  const [prices, setPrices] = useState([{ ...EMPTY_PRICE }]);
  const [asOf, setAsOf] = useState(new Date().toISOString().slice(0, 10));
  const [preview, setPreview] = useState(null);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  useEffect(() => { api.get('/api/v1/villages').then((r) => setVillages(r.villages)).catch(setError); }, []);

  const weatherBody = () => ({ severity, text: Object.fromEntries(Object.entries(texts).filter(([, v]) => v.trim())) });
  const priceBody = (p) => ({
    crop: p.crop.trim().toLowerCase(), market: p.market.trim(), as_of: asOf,
    min_inr_per_quintal: Number(p.min), max_inr_per_quintal: Number(p.max), modal_inr_per_quintal: Number(p.modal),
  });
  useEffect(() => {
    const t = setTimeout(async () => {
      try {
        const body = kind === 'weather' ? weatherBody() : priceBody(prices[0]);
        const r = await api.post('/api/v1/advisories/preview', { kind: kind === 'weather' ? 'weather' : 'mandi_price', title: title || 'advisory', body });
        setPreview(r);
      } catch (e) {
        setPreview(null);
      }
    }, 300);
    return () => clearTimeout(t);
  }, [kind, title, severity, texts, prices, asOf]);

  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    setDone(null);
    try {
      if (chosen.length === 0) throw new Error('Choose at least one village.');
      if (kind === 'weather') {
        const a = await api.post('/api/v1/advisories', { village_codes: chosen, kind: 'weather', title, body: weatherBody() });
        setDone(`Published "${a.title}" to ${a.village_codes.join(', ')}.`);
      } else {
        const rows = prices.filter((p) => p.crop.trim());
        for (const p of rows) {
          await api.post('/api/v1/advisories', { village_codes: chosen, kind: 'mandi_price', title: `${p.crop} price at ${p.market}`, body: priceBody(p) });
        }
        setDone(`Published ${rows.length} price(s) to ${chosen.join(', ')}.`);
      }
      onPublished();
    } catch (err) {
      setError(err);
    }
  };
  const toggle = (code) => setChosen((c) => (c.includes(code) ? c.filter((x) => x !== code) : [...c, code]));
  const setPrice = (i, k) => (e) => setPrices((ps) => ps.map((p, j) => (j === i ? { ...p, [k]: e.target.value } : p)));
  return html`<form class="publish" onSubmit=${submit}>
    <fieldset><legend>Villages</legend>
      ${villages.map((v) => html`<label class="check"><input type="checkbox" name="village" value=${v.code}
        checked=${chosen.includes(v.code)} onChange=${() => toggle(v.code)} />${v.name ? `${v.name} (${v.code})` : v.code}</label>`)}
    </fieldset>
    <label>Kind <select name="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
      <option value="weather">Weather warning</option><option value="mandi">Mandi price list</option>
    </select></label>
    ${kind === 'weather' && html`
      <label>Title <input name="title" value=${title} required maxlength="160" onInput=${(e) => setTitle(e.target.value)} /></label>
      <label>Severity <select name="severity" value=${severity} onChange=${(e) => setSeverity(e.target.value)}>
        <option value="info">info (not texted)</option><option value="warning">warning (SMS)</option>
        <option value="severe">severe (SMS and call, even at night)</option><option value="emergency">emergency</option>
      </select></label>
      ${LANGUAGES.map(([lang, label]) => html`<label>Text, ${label}
        <textarea name=${`text_${lang}`} lang=${lang} value=${texts[lang]} onInput=${(e) => setTexts({ ...texts, [lang]: e.target.value })}></textarea></label>`)}`}
    ${kind === 'mandi' && html`
      <label>Prices as of <input type="date" name="as_of" value=${asOf} onInput=${(e) => setAsOf(e.target.value)} /></label>
      <table class="compact"><thead><tr><th>Crop</th><th>Market</th><th>Min ₹/q</th><th>Max ₹/q</th><th>Modal ₹/q</th></tr></thead>
      <tbody>${prices.map((p, i) => html`<tr>
        <td><input value=${p.crop} onInput=${setPrice(i, 'crop')} /></td><td><input value=${p.market} onInput=${setPrice(i, 'market')} /></td>
        <td><input type="number" value=${p.min} onInput=${setPrice(i, 'min')} /></td><td><input type="number" value=${p.max} onInput=${setPrice(i, 'max')} /></td>
        <td><input type="number" value=${p.modal} onInput=${setPrice(i, 'modal')} /></td></tr>`)}</tbody></table>
      <button type="button" onClick=${() => setPrices([...prices, { ...EMPTY_PRICE }])}>Add a crop</button>`}
    <${Preview} previews=${preview && preview.sms} note=${preview && preview.note} />
    <button type="submit">Publish</button>
    <${ErrorBanner} error=${error} />
    ${done && html`<p class="ok" role="status">${done}</p>`}
  </form>`;
}

const COLUMNS = [
  { key: 'created', label: 'Published', render: (a) => `${when(a.created_at)} by ${a.created_by}` },
  { key: 'kind', label: 'Kind', render: (a) => (a.kind === 'weather' ? `weather (${a.body.severity || '—'})` : a.kind) },
  { key: 'title', label: 'Title', render: (a) => a.title },
  { key: 'villages', label: 'Villages', render: (a) => a.village_codes.join(', ') },
  { key: 'reach', label: 'Reached the box / farmers delivered', render: (a) => html`<ul class="reach">
    ${a.village_codes.map((v) => {
      const r = a.reach.find((x) => x.village_code === v);
      return html`<li data-village=${v}>${v}: ${r
        ? html`reached ${when(r.received_at)} · <span class="delivered">${r.delivered} delivered</span> of ${r.notifications} notified`
        : 'not yet'}</li>`;
    })}</ul>` },
];

export function AdvisoriesScreen({ api }) {
  const [area, setArea] = useState({});
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const t = setInterval(() => setVersion((v) => v + 1), 15_000);
    return () => clearInterval(t);
  }, []);
  return html`<section>
    <h2>Publish an advisory</h2>
    <${PublishForm} api=${api} onPublished=${() => setVersion((v) => v + 1)} />
    <h2>Advisories</h2>
    <div class="filters"><${AreaFilter} api=${api} value=${area} onChange=${setArea} />
      <button type="button" onClick=${() => setVersion((v) => v + 1)}>Refresh</button></div>
    <${PagedTable}
      columns=${COLUMNS}
      load=${async ({ cursor }) => {
        const r = await api.get('/api/v1/advisories', { ...area, cursor, count: true });
        return { rows: r.advisories, next_cursor: r.next_cursor, total: r.total };
      }}
      reloadKey=${JSON.stringify([area, version])}
      exportCsv=${() => api.csv('/api/v1/advisories', { params: area })}
      csvName="advisories"
      rowAttrs=${(a) => ({ 'data-title': a.title })}
      empty="No advisories yet." />
  </section>`;
}
