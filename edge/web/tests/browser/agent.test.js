// The field-agent app in a real browser (Debian Chromium via playwright-core) against a real
// farmco-edge process: the five scenarios of issue 12, the demo's 200 farmers on the map, and
// measured figures (first paint from the box) written to target/screenshots/metrics.json.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Edge, launch, phone, logIn, shot, record, waitForWaiting, registerFarmer, VILLAGE, WAIT_MS } from './harness.js';

/** @type {import('playwright-core').Browser} */
let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** Visible text on the page that is a label (not data marked translate="no"). */
function visibleLabels() {
  /** @type {string[]} */
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const n = walker.currentNode;
    const el = n.parentElement;
    if (!el || el.closest('[translate="no"], script, style, svg')) continue;
    if (el.closest('select') && !el.closest('option:checked')) continue;
    if (!el.checkVisibility()) continue;
    const text = (n.textContent ?? '').trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll('input[placeholder], [aria-label]')) {
    if (!(el instanceof HTMLElement) || !el.checkVisibility() || el.closest('[translate="no"]')) continue;
    out.push(el.getAttribute('placeholder') ?? el.getAttribute('aria-label') ?? '');
  }
  return out.filter(Boolean);
}

test('demo: a new user logs in with the printed password and sees the 200 farmers on the map', async () => {
  const edge = new Edge({ demo: true });
  try {
    await edge.start();
    assert.match(edge.demoPassword, /^[A-Za-z0-9_-]{8,}$/, edge.output);
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    await logIn(page, edge.base, 'demo', edge.demoPassword);
    await page.click('a[href="#/map"]');
    const canvas = await page.waitForSelector('canvas[data-farms]');
    const farms = Number(await canvas.getAttribute('data-farms'));
    assert.ok(farms >= 200, `map draws ${farms} farms`);
    await page.waitForTimeout(300);
    await shot(page, 'demo-map');
    await ctx.close();
  } finally {
    await edge.cleanup();
  }
});

test('1: log in, register a farmer with consents, see it in the list', async () => {
  const edge = new Edge().prepare();
  try {
    await edge.start();
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    await logIn(page, edge.base);
    await registerFarmer(page, { name: 'Sunita Navalkar', phone: '9812345678' });
    await waitForWaiting(page, 0);
    await page.fill('input[name=q]', 'navalkar');
    await page.waitForSelector('[data-testid=farmer-list] li:has-text("Sunita Navalkar")');
    await shot(page, 'farmers-list');
    const token = await edge.token();
    const r = await edge.api('GET', '/api/v1/farmers?q=Sunita%20Navalkar', undefined, token);
    assert.equal(r.body.farmers.length, 1);
    assert.deepEqual(r.body.farmers[0].consents, { sms: true, voice: true, data_sharing: false });
    assert.equal(r.body.farmers[0].phone, '+919812345678');
    await page.click('[data-testid=farmer-list] li a');
    await page.waitForSelector('[data-testid=farmer-profile]');
    await shot(page, 'farmer-profile');
    // First paint from the box: a fresh load of the app.
    const fresh = await ctx.newPage();
    await fresh.goto(`${edge.base}/`);
    await fresh.waitForSelector('[data-testid=farmer-list] li', { timeout: WAIT_MS });
    const paint = await fresh.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0];
      const nav = /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]);
      return { firstContentfulPaintMs: fcp ? Math.round(fcp.startTime) : null, domContentLoadedMs: Math.round(nav.domContentLoadedEventEnd) };
    });
    console.log(`first paint from the box: ${JSON.stringify(paint)}`);
    record('firstPaint', paint);
    assert.ok(paint.firstContentfulPaintMs !== null && paint.firstContentfulPaintMs < 1000, `first contentful paint ${paint.firstContentfulPaintMs} ms`);
    // Logout wipes the phone's copy of farmer data.
    const before = await fresh.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    assert.ok(before.includes('farmco-field'), `${before}`);
    await fresh.goto(`${edge.base}/#/sync`);
    await fresh.click('[data-testid=logout]');
    await fresh.click('[data-testid=logout-confirm]');
    await fresh.waitForSelector('input[name=password]');
    const after = await fresh.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
    assert.ok(!after.includes('farmco-field'), `after logout: ${after}`);
    await fresh.reload();
    await fresh.waitForSelector('input[name=password]');
    await ctx.close();
  } finally {
    await edge.cleanup();
  }
});

test('2: offline work (3 farmers, a GPS-walked farm, a soil test) survives a reload and arrives exactly once', async () => {
  const edge = new Edge().prepare();
  try {
    await edge.start();
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    await logIn(page, edge.base);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await edge.stop(); // the box is out of reach from here on

    // Names no demo farmer has (the seed combines other given and family names).
    const names = ['Asha Navalkar', 'Ganesh Offlinewala', 'Kavita Queuekar'];
    for (const [i, name] of names.entries()) {
      await registerFarmer(page, { name, phone: `98700000${10 + i}` });
    }
    await waitForWaiting(page, 3);

    // A farm for the first offline farmer, walked with the GPS: 8 good fixes around a
    // 60 m-radius octagon, and one poor fix that must be dropped.
    await page.fill('input[name=q]', names[0]);
    await page.click(`[data-testid=farmer-list] li a:has-text("${names[0]}")`);
    await page.click('[data-testid=add-farm]');
    // The phone's first fix is poor (just out of the house): dropped, not a vertex.
    await ctx.setGeolocation({ latitude: 18.9305, longitude: 74.4005, accuracy: 500 });
    await page.click('[data-testid=walk-start]');
    await page.waitForSelector('[data-testid=dropped]', { timeout: WAIT_MS }).catch(async (e) => {
      await shot(page, 'walk-debug');
      throw e;
    });
    const [lat0, lon0] = [18.9305, 74.4005];
    for (let i = 0; i < 8; i++) {
      const a = (i / 8) * 2 * Math.PI;
      const fix = { latitude: lat0 + (60 * Math.sin(a)) / 110_574, longitude: lon0 + (60 * Math.cos(a)) / (111_320 * Math.cos((lat0 * Math.PI) / 180)), accuracy: 4 };
      await ctx.setGeolocation(fix);
      await page.waitForSelector(`[data-testid=capture-stats][data-points="${i + 1}"]`, { timeout: WAIT_MS });
    }
    await page.click('[data-testid=close-ring]');
    const area = Number(await page.getAttribute('[data-testid=capture-stats]', 'data-area'));
    assert.ok(Math.abs(area - 1.02) < 0.05, `walked area ${area} ha`);
    await page.fill('input[name=survey_number]', '88/1');
    // Declared 2 ha for a ~1 ha walk: the box will warn (area mismatch) when the farm arrives.
    await page.fill('input[name=declared_area_ha]', '2');
    await page.fill('input[name=crop]', 'wheat');
    await shot(page, 'farm-walk');
    await page.click('[data-testid=save-farm]');
    await page.waitForSelector('[data-testid=farm]');
    await page.click('a:has-text("Add soil test")');
    await page.waitForSelector('[data-testid=soil-form]');
    await page.fill('input[name=lab]', 'STL Ahilyanagar');
    await page.fill('input[name=ph]', '7.8');
    await page.fill('input[name=n]', '210');
    await page.fill('input[name=k]', '320');
    await page.click('[data-testid=soil-form] button[type=submit]');
    await page.waitForSelector('[data-testid=soil-test]');
    await waitForWaiting(page, 5);

    // Reload with the box still down: the shell comes from the service worker, the queue from
    // IndexedDB.
    await page.reload();
    await waitForWaiting(page, 5);
    await page.goto(`${edge.base}/#/sync`);
    assert.equal(await page.locator('[data-testid=queue] li').count(), 5);
    await shot(page, 'offline-queue');

    // The box is back; the browser reports the network back (`online`): everything is sent.
    await edge.start();
    await ctx.setOffline(true);
    await ctx.setOffline(false);
    await waitForWaiting(page, 0);
    assert.equal(await page.locator('[data-testid=queue] li').count(), 0, 'queue empty');

    const token = await edge.token();
    const created = edge.audit('farmer.create').map((row) => row.target);
    for (const name of names) {
      const r = await edge.api('GET', `/api/v1/farmers?q=${encodeURIComponent(name)}`, undefined, token);
      assert.equal(r.body.farmers.length, 1, `${name} exactly once`);
      assert.equal(created.filter((id) => id === r.body.farmers[0].id).length, 1, `${name} audited once`);
    }
    assert.equal(edge.audit('farm.create').length, 30 + 1, 'one new farm');
    assert.equal(edge.audit('soil_test.create').length, 30 + 1, 'one new soil test');
    const first = (await edge.api('GET', `/api/v1/farmers?q=${encodeURIComponent(names[0])}`, undefined, token)).body.farmers[0];
    const farmer = (await edge.api('GET', `/api/v1/farmers/${first.id}`, undefined, token)).body;
    assert.equal(farmer.farms.length, 1);
    assert.equal(farmer.farms[0].survey_number, '88/1');
    const tests = (await edge.api('GET', `/api/v1/farms/${farmer.farms[0].id}/soil-tests`, undefined, token)).body.soil_tests;
    assert.equal(tests.length, 1);
    assert.equal(tests[0].parameters.n, 210);
    // The box's warning on the farm and its soil advice show on the farmer's page.
    await page.goto(`${edge.base}/#/farmer/${first.id}`);
    await page.waitForSelector('[data-testid=farm-warning]', { timeout: WAIT_MS });
    assert.match((await page.textContent('[data-testid=farm-warning]')) ?? '', /declared/);
    await page.waitForSelector('[data-testid=soil-advice]', { timeout: WAIT_MS });
    assert.match((await page.textContent('[data-testid=soil-advice]')) ?? '', /Dose for wheat/);
    await ctx.close();
  } finally {
    await edge.cleanup();
  }
});

test('3: a queued registration refused as a duplicate phone shows its error and blocks nothing', async () => {
  const edge = new Edge().prepare();
  try {
    await edge.start();
    const token = await edge.token();
    const taken = (await edge.api('GET', `/api/v1/farmers?village_code=${VILLAGE}&limit=1`, undefined, token)).body.farmers[0].phone;
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    await logIn(page, edge.base);
    await edge.stop();
    await registerFarmer(page, { name: 'Duplicate Phone', phone: taken });
    await registerFarmer(page, { name: 'Fresh Farmer', phone: '9870000099' });
    await waitForWaiting(page, 2);
    await edge.start();
    await page.goto(`${edge.base}/#/sync`);
    await page.click('text=Send now');
    await page.waitForSelector('[data-testid=rejected][data-count="1"]', { timeout: WAIT_MS });
    await waitForWaiting(page, 0);
    const error = await page.textContent('[data-testid=item-error]');
    assert.match(error ?? '', /already registered/);
    assert.match(error ?? '', /phone/);
    await shot(page, 'rejected-duplicate');
    const fresh = await edge.api('GET', '/api/v1/farmers?q=Fresh%20Farmer', undefined, token);
    assert.equal(fresh.body.farmers.length, 1, 'the other registration arrived');
    const dup = await edge.api('GET', '/api/v1/farmers?q=Duplicate%20Phone', undefined, token);
    assert.equal(dup.body.farmers.length, 0);
    // The agent fixes the number: the amended registration goes through.
    await page.click('[data-testid=item-error] button:has-text("Fix")');
    await page.waitForSelector('[data-testid=farmer-form] .has-error');
    await page.fill('input[name=phone]', '9870000098');
    await page.click('[data-testid=farmer-form] button[type=submit]');
    await page.waitForSelector('[data-testid=farmer-profile]');
    await page.waitForSelector('[data-testid=rejected]', { state: 'detached', timeout: WAIT_MS });
    await waitForWaiting(page, 0);
    const fixed = await edge.api('GET', '/api/v1/farmers?q=Duplicate%20Phone', undefined, token);
    assert.equal(fixed.body.farmers.length, 1);
    await ctx.close();
  } finally {
    await edge.cleanup();
  }
});

test('4: Hindi and Marathi change every visible label on the main screens', async () => {
  const edge = new Edge().prepare();
  try {
    await edge.start();
    const token = await edge.token();
    const anyFarmer = (await edge.api('GET', `/api/v1/farmers?village_code=${VILLAGE}&limit=1`, undefined, token)).body.farmers[0];
    const full = (await edge.api('GET', `/api/v1/farmers/${anyFarmer.id}`, undefined, token)).body;
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    await logIn(page, edge.base);
    const screens = [
      '#/',
      '#/map',
      `#/farmer/${full.id}`,
      `#/farmer/${full.id}/edit`,
      '#/farmer/new',
      `#/farmer/${full.id}/farm/new`,
      `#/farmer/${full.id}/farm/${full.farms[0].id}/soil`,
      '#/sensors',
      '#/alerts',
      '#/registrations',
      '#/sync',
    ];
    const english = await page.evaluate(visibleLabels);
    for (const lang of ['hi', 'mr']) {
      await page.goto(`${edge.base}/#/`);
      await page.selectOption('select[name=lang]', lang);
      for (const screen of screens) {
        await page.goto(`${edge.base}/${screen}`);
        await page.waitForTimeout(400);
        const labels = await page.evaluate(visibleLabels);
        assert.ok(labels.length > 3, `${lang} ${screen}: ${labels}`);
        const latin = labels.filter((l) => /[A-Za-z]{2,}/.test(l));
        assert.deepEqual(latin, [], `${lang} ${screen} shows English`);
        if (screen === '#/' || screen === `#/farmer/${full.id}`) await shot(page, `${lang}-${screen === '#/' ? 'farmers' : 'profile'}`);
      }
      const nav = await page.textContent('nav.bottom');
      assert.ok(!english.some((e) => nav?.includes(e) && /[A-Za-z]/.test(e)));
    }
    await ctx.close();
  } finally {
    await edge.cleanup();
  }
});

test('5: the app shell loads with the network cut after the first visit', async () => {
  const edge = new Edge().prepare();
  try {
    await edge.start();
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    await logIn(page, edge.base);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => true));
    await page.reload();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await edge.stop();
    await ctx.setOffline(true);
    const again = await ctx.newPage();
    await again.goto(`${edge.base}/`);
    await again.waitForSelector('[data-testid=farmer-list] li', { timeout: WAIT_MS });
    const count = Number(await again.getAttribute('[data-testid=farmer-count]', 'data-count'));
    assert.ok(count >= 30, `farmers from the phone's copy: ${count}`);
    await shot(again, 'offline-shell');
    await ctx.close();
  } finally {
    await edge.cleanup();
  }
});

test('two agents edit the same farmer offline: both edits land and both phones show the merge', async () => {
  const edge = new Edge().prepare();
  try {
    edge.cli(['user', 'add', '--username', 'agent2', '--role', 'agent', '--village', VILLAGE], 'second-agent-password\n');
    await edge.start();
    const token = await edge.token();
    const farmer = (await edge.api('GET', `/api/v1/farmers?village_code=${VILLAGE}&limit=1`, undefined, token)).body.farmers[0];
    const a = await (await phone(browser)).newPage();
    const b = await (await phone(browser)).newPage();
    await logIn(a, edge.base);
    await logIn(b, edge.base, 'agent2', 'second-agent-password');
    await edge.stop();
    // Agent A changes the data-sharing consent, agent B the language, both out of range.
    await a.goto(`${edge.base}/#/farmer/${farmer.id}/edit`);
    await a.click('input[name=consent_data_sharing]');
    await a.click('[data-testid=farmer-form] button[type=submit]');
    await b.goto(`${edge.base}/#/farmer/${farmer.id}/edit`);
    const language = farmer.language === 'gu' ? 'pa' : 'gu';
    await b.selectOption('select[name=language]', language);
    await b.click('[data-testid=farmer-form] button[type=submit]');
    await waitForWaiting(a, 1);
    await waitForWaiting(b, 1);
    await edge.start();
    for (const page of [a, b, a]) {
      await page.goto(`${edge.base}/#/sync`);
      await page.click('[data-testid=send-now]');
      await waitForWaiting(page, 0);
      await page.waitForSelector('[data-testid=send-now]:not([disabled])');
    }
    const merged = (await edge.api('GET', `/api/v1/farmers/${farmer.id}`, undefined, token)).body;
    assert.equal(merged.language, language);
    assert.equal(merged.consents.data_sharing, !farmer.consents.data_sharing);
    for (const page of [a, b]) {
      await page.goto(`${edge.base}/#/farmer/${farmer.id}`);
      const text = (await page.textContent('[data-testid=farmer-profile]')) ?? '';
      assert.match(text, language === 'gu' ? /Gujarati/ : /Punjabi/);
      assert.match(text, merged.consents.data_sharing ? /✔ Data sharing/ : /✘ Data sharing/);
    }
  } finally {
    await edge.cleanup();
  }
});
