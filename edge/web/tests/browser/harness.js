// Browser-test harness: a real `farmco-edge` process on a free port with a temporary data dir
// (demo seed + an agent), and Debian's Chromium driven by playwright-core (which never
// downloads a browser). Everything started here is stopped by the test that started it.

import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { chromium } from 'playwright-core';

export const ROOT = new URL('../../../../', import.meta.url).pathname;
export const BIN = process.env.FARMCO_EDGE_BIN ?? join(ROOT, 'target/debug/farmco-edge');
export const CHROMIUM = process.env.FARMCO_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = join(ROOT, 'target/screenshots');
export const VILLAGE = '563412';
export const AGENT = 'agent1';
export const PASSWORD = 'field-agent-password';
/** Longest wait for something the app should show (debug builds on a shared 2-core box). */
export const WAIT_MS = 45_000;

mkdirSync(SCREENSHOTS, { recursive: true });

/** @returns {Promise<number>} a port free right now on 127.0.0.1 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A farmco-edge node with its own data dir. */
export class Edge {
  /** @param {{ farmers?: number, demo?: boolean }} [opts] */
  constructor(opts = {}) {
    this.dir = mkdtempSync(join(tmpdir(), 'farmco-web-'));
    this.farmers = opts.farmers ?? 30;
    this.demo = opts.demo ?? false;
    this.port = 0;
    this.tlsPort = 0;
    /** @type {import('node:child_process').ChildProcess | null} */
    this.proc = null;
    this.output = '';
    this.demoPassword = '';
  }

  /** @param {string[]} args @param {string} [input] */
  cli(args, input) {
    return execFileSync(BIN, [...args, '--data-dir', this.dir], {
      input,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, FARMCO_EDGE_DATA_DIR: '', RUST_LOG: 'warn' },
    });
  }

  /** Seed (unless it is a `demo` run, which seeds itself) and add the agent. */
  prepare() {
    if (!this.demo) {
      this.cli(['seed-demo', '--farmers', String(this.farmers)]);
      this.cli(['user', 'add', '--username', AGENT, '--role', 'agent', '--village', VILLAGE], `${PASSWORD}\n`);
    }
    return this;
  }

  get base() {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Start serving (on the same port as before after a restart). @param {{ tls?: boolean }} [opts] */
  async start(opts = {}) {
    if (!this.port) this.port = await freePort();
    const args = this.demo ? ['demo', '--listen', `127.0.0.1:${this.port}`] : ['run', '--listen', `127.0.0.1:${this.port}`];
    /** @type {Record<string, string>} */
    const env = { ...process.env, FARMCO_EDGE_DATA_DIR: '', FARMCO_EDGE_MODEM_DEVICE: 'none', RUST_LOG: 'warn' };
    delete env.FARMCO_DEMO_PASSWORD;
    if (opts.tls) {
      if (!this.tlsPort) this.tlsPort = await freePort();
      env.FARMCO_EDGE_TLS_LISTEN = `127.0.0.1:${this.tlsPort}`;
    }
    const proc = spawn(BIN, [...args, '--data-dir', this.dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`farmco-edge did not start:\n${this.output}`)), 120_000);
      /** @param {Buffer} chunk */
      const on = (chunk) => {
        this.output += chunk.toString();
        const m = /password ([A-Za-z0-9_-]{8,})/.exec(this.output);
        if (m) this.demoPassword = m[1];
        if (this.output.includes('farmco-edge listening on') && (!opts.tls || this.output.includes('https listening on'))) {
          clearTimeout(timer);
          resolve(undefined);
        }
      };
      proc.stdout?.on('data', on);
      proc.stderr?.on('data', on);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`farmco-edge exited with ${code}:\n${this.output}`));
      });
    });
    return this;
  }

  /** Stop the process (SIGTERM, graceful) and wait for it. */
  async stop() {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null) return;
    proc.removeAllListeners('exit');
    await new Promise((resolve) => {
      proc.once('exit', resolve);
      proc.kill('SIGTERM');
    });
    this.proc = null;
  }

  async cleanup() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** @param {string} username @param {string} password */
  async token(username = AGENT, password = PASSWORD) {
    const r = await this.api('POST', '/api/v1/auth/login', { username, password });
    if (r.status !== 200) throw new Error(`login ${r.status}`);
    return r.body.token;
  }

  /** @param {string} method @param {string} path @param {unknown} [body] @param {string} [token] */
  async api(method, path, body, token) {
    /** @type {Record<string, string>} */
    const headers = { 'content-type': 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    const r = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  }

  /** Audit rows of one action. @param {string} action */
  audit(action) {
    return this.cli(['audit', 'list', '--action', action, '--limit', '10000'])
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }
}

/** @param {{ env?: Record<string, string> }} [opts] */
export function launch(opts = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
    env: opts.env ? { ...process.env, ...opts.env } : undefined,
  });
}

/**
 * A phone-sized context with GPS permission.
 * @param {import('playwright-core').Browser} browser
 * @param {Record<string, unknown>} [extra]
 */
export function phone(browser, extra = {}) {
  return browser.newContext({
    viewport: { width: 360, height: 640 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    permissions: ['geolocation'],
    geolocation: { latitude: 18.93, longitude: 74.4, accuracy: 5 },
    ...extra,
  });
}

/**
 * Log in through the login screen and wait for the farmer list.
 * @param {import('playwright-core').Page} page
 * @param {string} base
 */
export async function logIn(page, base, username = AGENT, password = PASSWORD) {
  await page.goto(`${base}/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=farmer-list] li', { timeout: WAIT_MS });
}

/** @param {import('playwright-core').Page} page @param {string} name */
export async function shot(page, name) {
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Record a measured figure in target/screenshots/metrics.json. @param {string} key @param {unknown} value */
export function record(key, value) {
  const path = join(SCREENSHOTS, 'metrics.json');
  const all = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
  all[key] = value;
  writeFileSync(path, JSON.stringify(all, null, 2));
}

/**
 * Wait until the sync bar shows `n` changes waiting.
 * @param {import('playwright-core').Page} page @param {number} n
 */
export async function waitForWaiting(page, n) {
  await page.waitForSelector(`[data-testid=waiting][data-count="${n}"]`, { timeout: WAIT_MS });
}

/**
 * Register a farmer through the form.
 * @param {import('playwright-core').Page} page
 * @param {{ name: string, phone: string, sms?: boolean }} f
 */
export async function registerFarmer(page, f) {
  await page.click('[data-testid=new-farmer]');
  await page.waitForSelector('[data-testid=farmer-form]');
  await page.fill('input[name=name]', f.name);
  await page.fill('input[name=phone]', f.phone);
  if (f.sms !== false) await page.check('input[name=consent_sms]');
  await page.check('input[name=consent_voice]');
  await page.click('[data-testid=farmer-form] button[type=submit]');
  await page.waitForSelector('[data-testid=farmer-profile]', { timeout: WAIT_MS });
  await page.goto(page.url().replace(/#.*$/, '#/'));
  await page.waitForSelector('[data-testid=farmer-list]');
}
