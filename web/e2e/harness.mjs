// End-to-end harness: starts the real `griddispatch serve` binary on free ports with a temp
// database and embedded broker, and drives Debian's chromium through playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR || join(repo, 'target');

/** The binary under test: $GRIDDISPATCH_BIN, else the debug build in $CARGO_TARGET_DIR. */
export const BIN = process.env.GRIDDISPATCH_BIN || join(targetDir, 'debug', 'griddispatch');
/** Where screenshots go (next to the build output, so a person can look at them). */
export const SHOTS = process.env.GRIDDISPATCH_SCREENSHOTS || join(targetDir, 'screenshots');
/** Chromium: Debian's, installed by scripts/test. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

/**
 * `fetch` for an https server whose certificate is signed by the CA in the PEM file `caFile`
 * (read at each call, so it may appear after the server starts): node's own fetch trusts
 * only the system's CAs. Returns what the callers here use of a Response.
 */
export function fetchTrusting(caFile) {
  return (url, { method = 'GET', headers = {}, body } = {}) => new Promise((res, rej) => {
    let ca;
    try { ca = readFileSync(caFile); } catch (e) { rej(e); return; }
    const req = httpsRequest(url, { method, headers, ca }, (r) => {
      const chunks = [];
      r.on('data', (c) => chunks.push(c));
      r.on('error', rej);
      r.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const h = new Headers();
        for (const [k, v] of Object.entries(r.headers)) for (const x of [].concat(v)) h.append(k, x);
        res({ status: r.statusCode, headers: h, text: async () => text, json: async () => JSON.parse(text) });
      });
    });
    req.on('error', rej);
    req.end(body);
  });
}

/**
 * A running instance: `url`, `mqttPort`, `adminToken`, `api()`, `cli()`, `stop()`.
 * `args` go to `serve`; with `--https` among them the instance makes its certificate
 * (`<dir>/demo-tls/`), `url` is https:// and `caFile` names the CA that the harness trusts.
 */
export async function startApp(extraEnv = {}, opts = {}) {
  // A free port is free only until someone else takes it: another test file running beside
  // this one may bind the port between `freePort()` and the app's own bind. That is the
  // harness's race, not the app's, so try again on fresh ports (and say so).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAppOnce(extraEnv, opts);
    } catch (e) {
      if (attempt >= 3 || !/Address already in use/.test(String(e.message))) throw e;
      console.log(`# a port the harness picked was taken before the app bound it; trying fresh ports (attempt ${attempt + 1})`);
    }
  }
}

async function startAppOnce(extraEnv, { args = [] }) {
  if (!existsSync(BIN)) {
    throw new Error(`no griddispatch binary at ${BIN}: build it first (cargo build; scripts/test does), or set GRIDDISPATCH_BIN or CARGO_TARGET_DIR`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gd-e2e-'));
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const env = {
    ...process.env,
    GRIDDISPATCH__HTTP__LISTEN: `127.0.0.1:${httpPort}`,
    GRIDDISPATCH__MQTT__LISTEN: `127.0.0.1:${mqttPort}`,
    GRIDDISPATCH__DATABASE__URL: `sqlite://${dir}/e2e.db`,
    GRIDDISPATCH__VIDEO__PROBE_INTERVAL_SECS: '0',
    RUST_LOG: process.env.RUST_LOG || 'warn',
    ...extraEnv,
  };
  const child = spawn(BIN, ['serve', ...args], { env, stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; if (process.env.E2E_LOG) process.stderr.write(d); });
  const https = args.includes('--https');
  const url = `${https ? 'https' : 'http'}://127.0.0.1:${httpPort}`;
  const caFile = https ? join(dir, 'demo-tls', 'ca.pem') : undefined;
  const fetch = https ? fetchTrusting(caFile) : globalThis.fetch;
  const deadline = Date.now() + 30000;
  for (;;) {
    if (child.exitCode !== null) { rmSync(dir, { recursive: true, force: true }); throw new Error(`griddispatch exited (${child.exitCode}):\n${stderr}`); }
    try { const r = await fetch(`${url}/healthz`); if (r.status < 500) break; } catch { /* not up yet */ }
    if (Date.now() > deadline) { child.kill(); throw new Error(`griddispatch did not come up in 30 s:\n${stderr}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The other commands are not `serve --https`: a broker TLS listener without its own
  // certificate file is refused there, and they listen on nothing anyway.
  const cliEnv = { ...env };
  if (https) for (const k of ['GRIDDISPATCH__MQTT__WSS_LISTEN', 'GRIDDISPATCH__MQTT__TLS_LISTEN']) delete cliEnv[k];
  const cli = (args, input) => execFileSync(BIN, args, { env: cliEnv, input, encoding: 'utf8' }).trim();
  const adminToken = cli(['token', 'create', '--role', 'admin', '--name', 'e2e']);
  const app = {
    url, mqttPort, dir, env, adminToken, cli, caFile, fetch,
    /** Calls the API with a bearer token (the admin's unless given). */
    async api(method, path, body, token = adminToken) {
      const r = await fetch(url + path, {
        method, headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      let data = null; try { data = text ? JSON.parse(text) : null; } catch { data = text; }
      return { status: r.status, data, headers: r.headers };
    },
    /** Whether the login API (`POST /api/v1/session`) exists on this build. */
    async hasSessionApi() {
      const r = await fetch(`${url}/api/v1/session`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: url }, body: '{"username":"nobody","password":"nothing-here"}' });
      return r.status !== 404 && r.status !== 405;
    },
    /** Adds a console user through the CLI (password on stdin). */
    addUser(username, role, password) { cli(['user', 'add', '--username', username, '--role', role], `${password}\n`); },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.once('exit', r); setTimeout(r, 5000); });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return app;
}

/** Publishes one MQTT message (QoS 1) with mosquitto_pub, as a phone or a source would. */
export function publish(app, { username, password, topic, payload, retain = false }) {
  const args = ['-h', '127.0.0.1', '-p', String(app.mqttPort), '-u', username, '-P', password, '-q', '1', '-t', topic, '-m', typeof payload === 'string' ? payload : JSON.stringify(payload)];
  if (retain) args.push('-r');
  execFileSync('mosquitto_pub', args, { stdio: 'inherit' });
}

/** A phone's screen and abilities, for the field app (`browser({ ...PHONE, ... })`). */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

/**
 * A fresh headless chromium with its own profile; `close()` removes the profile. `options`
 * go to playwright's context (viewport, geolocation, permissions, isMobile, …).
 */
export async function browser({ locale = 'en-US', args = [], ...options } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'gd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    locale,
    viewport: { width: 1440, height: 900 },
    ...options,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...args], // the fresh --user-data-dir is `profile`, passed by playwright
  });
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
  return { context, page, async close() { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

/** Saves a screenshot as `<SHOTS>/<name>.png`. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path });
  console.log(`screenshot: ${path}`);
  return path;
}

/** Signs in through the login form. */
export async function login(page, app, username, password) {
  await page.goto(`${app.url}/login`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForURL(`${app.url}/`), page.click('#login-submit')]);
}

/**
 * Without the session API (before it is merged), views can still be looked at: the harness
 * sends the admin's bearer token on every request, passes the page's cookie check with a
 * dummy cookie and answers `GET /api/v1/session` itself. Used only for screenshots.
 */
export async function previewSignIn(ctx, app, role = 'admin', token = app.adminToken) {
  await ctx.context.setExtraHTTPHeaders({ Authorization: `Bearer ${token}` });
  await ctx.context.addCookies([{ name: 'gd_session', value: 'preview', url: app.url }]);
  await ctx.context.route('**/api/v1/session', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ username: `preview-${role}`, role }) }));
}

/** Loud skip: prints why, so scripts/test's output says which e2e tests did not run. */
export function skipLoudly(t, why) {
  const line = `E2E SKIPPED: ${t.name}: ${why}`;
  console.log(`\n${'!'.repeat(line.length)}\n${line}\n${'!'.repeat(line.length)}\n`);
  t.skip(why);
}

/** Waits `ms` milliseconds. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 100 ms until it returns something truthy; fails with `what` after `ms`. */
export async function until(what, f, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
