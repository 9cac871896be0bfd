// The ops console in headless Debian Chromium against a real farmco-cloud, PostgreSQL/PostGIS
// and real synced edges (issue 13's five scenarios). Run by ./scripts/test after the Rust
// build; alone: `npm run test:browser` in cloud/web (binaries in target/debug).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  PASSWORD, SCREENSHOTS, launchBrowser, startCloud, startEdge, stopAll, stopProcess, until,
} from './harness.js';

const VILLAGE = '563412';
const FARMERS = 12;
const HINDI_WARNING = 'कल भारी बारिश और ओले की संभावना। फसल ढकें।';

let cloud;
let edge;
let browser;
let page;
let adminToken;

async function login(p, user) {
  await p.goto(`${cloud.url}/`);
  await p.fill('input[name=username]', user);
  await p.fill('input[name=password]', PASSWORD);
  await p.click('button[type=submit]');
  await p.waitForSelector('header .who');
}

async function newPage() {
  const p = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  // Content-Security-Policy violations are collected and must stay empty.
  await p.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  return p;
}

async function renderedFarmIds(p) {
  return p.evaluate(() => [...new Set(window.farmcoConsole.map
    .queryRenderedFeatures({ layers: ['farms-fill'] })
    .map((f) => f.properties.id))]);
}

before(async () => {
  cloud = await startCloud();
  adminToken = await cloud.bearer('admin');
  await cloud.send('PUT', `/api/v1/villages/${VILLAGE}`, adminToken, {
    name: 'Ralegan Siddhi', district: 'Ahilyanagar', state: 'Maharashtra',
  });
  edge = await startEdge(cloud, { name: 'ralegan-box', villages: VILLAGE, farmers: FARMERS });
  // The first sync brings the demo village's farms to the cloud.
  await until('the first sync', async () => {
    const r = await cloud.get('/api/v1/map/config', adminToken);
    return r.body && r.body.farms >= FARMERS;
  }, 90_000);
  browser = await launchBrowser();
  page = await newPage();
}, { timeout: 240_000 });

after(async () => {
  if (browser) await browser.close();
  await stopAll(cloud && cloud.dbName);
});

test('1. log in; the map draws the village farms from PostGIS tiles', { timeout: 120_000 }, async () => {
  await login(page, 'admin');
  await page.waitForSelector('.farm-count[data-count]:not([data-count=""])', { timeout: 60_000 });
  await until('the farms drawn', async () => (await renderedFarmIds(page)).length >= FARMERS, 60_000);
  const ids = await renderedFarmIds(page);
  assert.equal(ids.length, FARMERS, `rendered farm ids: ${ids.length}`);
  const text = await page.textContent('.farm-count');
  assert.match(text, new RegExp(`^${FARMERS} farms shown`));
  await page.screenshot({ path: join(SCREENSHOTS, 'console-map.png') });
  // A click on a farm opens its farmer, soil tests and history.
  const box = await page.locator('.map canvas').boundingBox();
  // The rendered farm nearest the middle of the map (clear of the legend and controls).
  const hit = await page.evaluate(() => {
    const map = window.farmcoConsole.map;
    const canvas = map.getCanvas();
    const middle = { x: canvas.clientWidth / 2, y: canvas.clientHeight / 2 };
    let best = null;
    for (const f of map.queryRenderedFeatures({ layers: ['farms-fill'] })) {
      const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
      const corners = ring.slice(0, -1);
      const lon = corners.reduce((s, c) => s + c[0], 0) / corners.length;
      const lat = corners.reduce((s, c) => s + c[1], 0) / corners.length;
      const p = map.project([lon, lat]);
      const d = Math.hypot(p.x - middle.x, p.y - middle.y);
      if (!best || d < best.d) best = { x: p.x, y: p.y, d };
    }
    return best;
  });
  await page.mouse.click(box.x + hit.x, box.y + hit.y);
  await page.waitForSelector('.farm-panel .farmer-name', { timeout: 20_000 });
  await page.screenshot({ path: join(SCREENSHOTS, 'console-farm-panel.png') });
  const panel = await page.textContent('.farm-panel');
  assert.match(panel, /Soil tests/);
  assert.match(panel, /create_farmer/);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
});

test('2. a farm registered on the edge appears on the map after one sync', { timeout: 120_000 }, async () => {
  const farmer = await edge.post('/api/v1/farmers', {
    name: 'Console Test Farmer', phone: '+919800011122', language: 'hi', village_code: VILLAGE,
    consents: { sms: true, voice: false, data_sharing: false },
  });
  const lon = 74.385;
  const lat = 18.918;
  const d = 0.0004;
  const farm = await edge.post(`/api/v1/farmers/${farmer.id}/farms`, {
    survey_number: '999/1',
    declared_area_ha: 0.7,
    boundary: { type: 'Polygon', coordinates: [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]] },
    crops: [{ crop: 'wheat', season: 'rabi', sowing_date: '2025-11-10' }],
  });
  await until('the farm on the cloud', async () => (await cloud.get(`/api/v1/farms/${farm.id}`, adminToken)).status === 200, 60_000);
  await page.click('text=Refresh map');
  await until('the new farm drawn', async () => (await renderedFarmIds(page)).includes(farm.id), 60_000);
});

test('3. a stopped edge turns red in the fleet and an alert is listed', { timeout: 150_000 }, async () => {
  const quiet = await startEdge(cloud, { name: 'silent-box', villages: '563413', farmers: 0 });
  await until('the second edge synced', async () => {
    const r = await cloud.get('/api/v1/nodes?q=silent-box', adminToken);
    return r.body && r.body.nodes[0] && r.body.nodes[0].last_seen_at;
  }, 60_000);
  await page.goto(`${cloud.url}/#/fleet`);
  await page.waitForSelector('tr[data-node="silent-box"]');
  await stopProcess(quiet.child);
  // Silence thresholds are 3 s (amber) and 6 s (red) in this test's cloud.toml; the table
  // reloads itself every 10 s.
  await page.waitForSelector('tr[data-node="silent-box"][data-status="red"]', { timeout: 60_000 });
  assert.match(await page.textContent('tr[data-node="silent-box"]'), /silent for/);
  assert.equal(await page.getAttribute('tr[data-node="ralegan-box"]', 'data-status') === 'red', false);
  await page.goto(`${cloud.url}/#/alerts`);
  await page.waitForSelector('tr.alert-fleet >> text=silent-box', { timeout: 30_000 });
  assert.match(await page.textContent('tr.alert-fleet'), /silent/);
});

test('4. a Hindi advisory reaches the edge, is texted, and its delivery is counted', { timeout: 240_000 }, async () => {
  await page.goto(`${cloud.url}/#/advisories`);
  await page.check(`input[name=village][value="${VILLAGE}"]`);
  await page.selectOption('select[name=kind]', 'weather');
  await page.fill('input[name=title]', 'Hailstorm warning');
  await page.selectOption('select[name=severity]', 'warning');
  await page.fill('textarea[name=text_hi]', HINDI_WARNING);
  // The preview follows the form (debounced): the Hindi SMS and its part count.
  await until('the Hindi preview', async () => (await page.textContent('.sms-preview[data-lang=hi] .sms-text'))
    === `मौसम चेतावनी: ${HINDI_WARNING}`, 20_000);
  assert.equal(await page.textContent('.sms-preview[data-lang=hi] .part-count'), '1 SMS part');
  await page.click('form.publish button[type=submit]');
  await page.waitForSelector('form.publish .ok');
  // The edge gets it on its next sync and its notification executor texts the farmers.
  const expected = `मौसम चेतावनी: ${HINDI_WARNING}`;
  const sent = await until('the SMS in the modem simulator outbox', async () => {
    const out = await edge.outbox();
    return out.find((m) => m.text === expected);
  }, 120_000);
  assert.match(sent.to, /^\+91\d{10}$/);
  // Delivery reports flow back with the next heartbeats; the console counts them.
  const row = 'tr[data-title="Hailstorm warning"]';
  await until('the delivery count in the console', async () => {
    await page.click('button:has-text("Refresh")');
    await page.waitForTimeout(1000);
    await page.waitForSelector(row);
    const t = await page.textContent(`${row} li[data-village="${VILLAGE}"]`);
    const m = t.match(/(\d+) delivered/);
    return m && Number(m[1]) >= 1;
  }, 120_000);
  await page.screenshot({ path: join(SCREENSHOTS, 'console-advisory.png') });
});

test('5. CSRF: a form post without the token is refused; ops cannot open devices', { timeout: 60_000 }, async () => {
  // A fetch with the session cookie but without X-CSRF-Token.
  const status = await page.evaluate(async () => (await fetch('/api/v1/advisories', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ village_codes: ['563412'], kind: 'general', title: 'x', body: {} }),
    credentials: 'same-origin',
  })).status);
  assert.equal(status, 403);
  // A real HTML form post.
  await page.evaluate(() => {
    const form = document.createElement('form');
    form.method = 'POST';
    form.action = '/api/v1/advisories';
    const input = document.createElement('input');
    input.name = 'title';
    input.value = 'forged';
    form.append(input);
    document.body.append(form);
    form.submit();
  });
  await page.waitForLoadState('load');
  assert.match(await page.textContent('body'), /csrf_failed/);
  const list = await cloud.get('/api/v1/advisories', adminToken);
  assert.equal(list.body.advisories.some((a) => a.title === 'forged' || a.title === 'x'), false);

  // An ops user: no Devices in the menu, the page refuses, the API too.
  const ops = await newPage();
  await login(ops, 'ops');
  assert.equal(await ops.locator('header nav >> text=Devices').count(), 0);
  await ops.goto(`${cloud.url}/#/devices`);
  await ops.waitForSelector('.denied');
  assert.match(await ops.textContent('.denied'), /needs the admin role/);
  assert.equal(await ops.locator('form.token-form').count(), 0);
  const api = await ops.evaluate(async () => (await fetch('/api/v1/devices/tokens')).status);
  assert.equal(api, 403);
  await ops.close();
});
