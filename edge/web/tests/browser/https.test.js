// HTTPS on the village LAN: `farmco-edge tls init` makes the deployment CA and the box's
// certificate; a phone that installed the CA once (here: Chromium with the CA in its own NSS
// database) opens the app over HTTPS, a secure context where the service worker registers; a
// phone without it is refused. The plain-HTTP /trust page offers the CA with a QR code.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Edge, launch, phone, shot, WAIT_MS, AGENT, PASSWORD } from './harness.js';

/** A HOME whose NSS database trusts `caFile` as a CA (what "install the CA" does). */
function homeTrusting(/** @type {string} */ caFile) {
  const home = mkdtempSync(join(tmpdir(), 'farmco-phone-'));
  const db = join(home, '.pki', 'nssdb');
  mkdirSync(db, { recursive: true });
  execFileSync('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
  execFileSync('certutil', ['-A', '-d', `sql:${db}`, '-n', 'FarmCo deployment CA', '-t', 'C,,', '-i', caFile]);
  return home;
}

test('HTTPS with the deployment CA: trusted once, the app is a secure context with its service worker', async () => {
  const edge = new Edge().prepare();
  const home = mkdtempSync(join(tmpdir(), 'farmco-untrusting-'));
  let trusting = '';
  try {
    const out = edge.cli(['tls', 'init', '--ip', '127.0.0.1', '--name', 'box.local']);
    assert.match(out, /created the deployment CA/);
    await edge.start({ tls: true });
    const caFile = join(edge.dir, 'tls', 'ca.crt');

    // The plain-HTTP trust page: three languages, a QR code, the CA download.
    const trust = await fetch(`${edge.base}/trust`).then((r) => r.text());
    assert.match(trust, /<svg/);
    assert.match(trust, /farmco-ca\.crt/);
    assert.match(trust, /Install a certificate/);
    assert.match(trust, /प्रमाणपत्र इंस्टॉल करें/);
    assert.match(trust, /प्रमाणपत्र इंस्टॉल करा/);
    assert.match(trust, new RegExp(`https://127\\.0\\.0\\.1:${edge.tlsPort}/`));
    const download = await fetch(`${edge.base}/trust/farmco-ca.crt`);
    assert.equal(download.headers.get('content-type'), 'application/x-x509-ca-cert');
    assert.equal(await download.text(), readFileSync(caFile, 'utf8'));

    const url = `https://127.0.0.1:${edge.tlsPort}/`;
    // A phone that never installed the CA is refused.
    const stranger = await launch({ env: { HOME: home } });
    try {
      const page = await (await phone(stranger)).newPage();
      await assert.rejects(page.goto(url), /ERR_CERT/);
    } finally {
      await stranger.close();
    }

    trusting = homeTrusting(caFile);
    const browser = await launch({ env: { HOME: trusting } });
    try {
      const ctx = await phone(browser);
      const page = await ctx.newPage();
      await page.goto(url);
      await page.fill('input[name=username]', AGENT);
      await page.fill('input[name=password]', PASSWORD);
      await page.click('button[type=submit]');
      await page.waitForSelector('[data-testid=farmer-list] li', { timeout: WAIT_MS });
      const secure = await page.evaluate(async () => {
        await navigator.serviceWorker.ready;
        return { secure: window.isSecureContext, protocol: location.protocol };
      });
      assert.deepEqual(secure, { secure: true, protocol: 'https:' });
      await page.reload();
      await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: WAIT_MS });
      await shot(page, 'https-app');
      const trustPage = await ctx.newPage();
      await trustPage.goto(`${edge.base}/trust`);
      await shot(trustPage, 'trust-page');
      await ctx.close();
    } finally {
      await browser.close();
    }
  } finally {
    await edge.cleanup();
    rmSync(home, { recursive: true, force: true });
    if (trusting) rmSync(trusting, { recursive: true, force: true });
  }
});
