// Harness of the console's browser tests: a real farmco-cloud on a fresh PostgreSQL/PostGIS
// database, real farmco-edge processes (demo data, in-process modem simulator) enrolled and
// syncing, and Debian's Chromium driven by playwright-core. Everything listens on free ports
// (127.0.0.1:0, the address each process prints), lives in temporary directories, and is
// stopped (the database dropped) by `stop()`.
//
// Binaries: target/debug (built by scripts/test) or FARMCO_BIN_DIR. Chromium: /usr/bin/chromium
// or CHROMIUM_PATH. PostgreSQL: FARMCO_TEST_DATABASE_URL's server (default 127.0.0.1:5432,
// user postgres, trust).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
export const BIN_DIR = process.env.FARMCO_BIN_DIR || join(REPO, 'target/debug');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const SCREENSHOTS = join(REPO, 'target/screenshots');
export const PASSWORD = 'console-test-password-1';
const ADMIN_URL = process.env.FARMCO_TEST_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';

const children = [];
const dirs = [];

export function bin(name) {
  const path = join(BIN_DIR, name);
  if (!existsSync(path)) throw new Error(`${path} not found: build with cargo build --workspace --bins`);
  return path;
}

function tempDir(prefix) {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Run a command to completion; throws with its output on failure. */
export function run(name, args, { input = '', env = {} } = {}) {
  const r = spawnSync(bin(name), args, {
    input,
    encoding: 'utf8',
    env: { ...process.env, RUST_LOG: 'warn', ...env },
  });
  if (r.status !== 0) throw new Error(`${name} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Start a server; resolve once its stdout printed "listening on http://ADDR" (and every
 * `markers` line asked for). Stdout keeps being drained so the process never blocks.
 */
export function start(name, args, { env = {}, markers = [] } = {}) {
  const child = spawn(bin(name), args, {
    env: { ...process.env, RUST_LOG: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const found = {};
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 60 s`)), 60_000);
    const lines = createInterface({ input: child.stdout });
    child.on('exit', (code) => reject(new Error(`${name} exited early (${code})`)));
    lines.on('line', (line) => {
      const listen = line.match(/listening on (http:\/\/\S+)/);
      if (listen) found.url = listen[1];
      for (const m of markers) {
        const i = line.indexOf(m);
        if (i >= 0) found[m] = line.slice(i + m.length).trim();
      }
      if (found.url && markers.every((m) => found[m])) {
        clearTimeout(timer);
        resolve({ child, ...found });
      }
    });
  });
}

export function stopProcess(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** Poll `f` every 250 ms until it returns a truthy value (or throw after `ms`). */
export async function until(what, f, ms = 60_000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try {
      last = await f();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function psql(sql) {
  return spawnSync('psql', [ADMIN_URL, '-v', 'ON_ERROR_STOP=1', '-Atc', sql], { encoding: 'utf8' });
}

/** The repository's config file with `(from, to)` replacements, written to `dir/name`. */
function configWith(file, dir, name, replacements) {
  let text = readFileSync(join(REPO, 'config', file), 'utf8');
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`${file} has no ${from}`);
    text = text.replace(from, to);
  }
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A cloud with a fresh database, an admin and an ops user, small fleet thresholds. */
export async function startCloud() {
  const dbName = `farmco_console_${randomBytes(6).toString('hex')}`;
  const dbUrl = `${ADMIN_URL.replace(/\/[^/]*$/, '')}/${dbName}`;
  const dir = tempDir('farmco-console-cloud-');
  const config = configWith('cloud.toml', dir, 'cloud.toml', [
    ['silent_amber_seconds = 7200', 'silent_amber_seconds = 3'],
    ['silent_red_seconds = 21600', 'silent_red_seconds = 6'],
    ['check_interval_seconds = 60', 'check_interval_seconds = 1'],
    // This machine's disk is no business of these tests.
    ['disk_free_amber_percent = 20.0', 'disk_free_amber_percent = 0.0'],
    ['disk_free_red_percent = 10.0', 'disk_free_red_percent = 0.0'],
    ['heartbeat_history_interval_seconds = 300', 'heartbeat_history_interval_seconds = 1'],
  ]);
  const env = { DATABASE_URL: dbUrl };
  const common = ['--config', config, '--data-dir', dir];
  for (const [user, role] of [['admin', 'admin'], ['ops', 'ops']]) {
    run('farmco-cloud', ['user', 'add', '--username', user, '--role', role, ...common], { input: `${PASSWORD}\n`, env });
  }
  const server = await start('farmco-cloud', ['serve', ...common, '--listen', '127.0.0.1:0'], { env });
  return {
    url: server.url,
    child: server.child,
    dbName,
    token(villages) {
      const out = run('farmco-cloud', ['device', 'token', '--villages', villages, ...common], { env });
      return out.trim().split('\n').pop().trim();
    },
    async bearer(user) {
      const r = await fetch(`${server.url}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: user, password: PASSWORD }),
      });
      return (await r.json()).token;
    },
    async get(path, token) {
      const r = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
    async send(method, path, token, body) {
      const r = await fetch(`${server.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, body: await r.json().catch(() => null) };
    },
  };
}

/**
 * An edge node: `farmers` demo farmers of village 563412 (or none), a supervisor, enrolled
 * for `villages`, syncing every 2 s, modem simulator in-process (fast sends, no quiet hours).
 */
export async function startEdge(cloud, { name, villages, farmers }) {
  const dir = tempDir(`farmco-console-edge-${name}-`);
  const config = configWith('edge.toml', dir, 'edge.toml', [
    ['name = "village-box"', `name = "${name}"`],
    ['interval_seconds = 300', 'interval_seconds = 2'],
    ['cmgs_delay_ms = 3000', 'cmgs_delay_ms = 100'],
    ['default_quiet_start = "21:00"', 'default_quiet_start = "00:00"'],
    ['default_quiet_end = "06:00"', 'default_quiet_end = "00:00"'],
    ['default_channels = ["sms", "voice"]', 'default_channels = ["sms"]'],
  ]);
  const common = ['--config', config, '--data-dir', dir];
  const env = { FARMCO_EDGE_ALLOW_INSECURE_HTTP: '1' };
  if (farmers > 0) run('farmco-edge', ['seed-demo', '--farmers', String(farmers), ...common], { env });
  run('farmco-edge', ['user', 'add', '--username', 'super', '--role', 'supervisor', '--village', villages, ...common], { input: `${PASSWORD}\n`, env });
  run('farmco-edge', ['enroll', '--cloud', cloud.url, '--token', cloud.token(villages), ...common], { env });
  const server = await start('farmco-edge', ['run', ...common, '--listen', '127.0.0.1:0'], {
    env,
    markers: ['modem simulator control: '],
  });
  const login = await fetch(`${server.url}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'super', password: PASSWORD }),
  });
  const token = (await login.json()).token;
  return {
    name,
    url: server.url,
    child: server.child,
    simulator: server['modem simulator control: '],
    async post(path, body) {
      const r = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const json = await r.json().catch(() => null);
      if (!r.ok) throw new Error(`${path}: ${r.status} ${JSON.stringify(json)}`);
      return json;
    },
    async outbox() {
      return (await fetch(`${server['modem simulator control: ']}/outbox`)).json();
    },
  };
}

export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // WebGL through SwiftShader (no GPU on CI machines); MapLibre needs WebGL.
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist'],
  });
}

/** Kill every process started here, drop the database, remove the temporary directories. */
export async function stopAll(dbName) {
  await Promise.all(children.map(stopProcess));
  if (dbName) psql(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
