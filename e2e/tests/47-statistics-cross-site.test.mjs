// Statistics from the organisation's other websites: a page of its CMS, served by a small
// static server in this test, loads Candour's /statistics/s.js, whose beacon counts the page.
// Chromium maps the host names below to 127.0.0.1, so the browser sees real sites:
//   candour.example.com  Candour (a server of its own, with the two CMS sites configured)
//   www.example.com      the CMS on the same site as Candour (same registrable domain)
//   www.example.org      the CMS under another name: a different site
// A fresh visit to the CMS page is counted and leaves no cookie and no storage anywhere. A
// visitor who objects on Candour's objection page is then not counted from the same-site CMS
// (the objection cookie travels with the beacon); from a site under another name the browser
// sends Candour no cookie, so there only Global Privacy Control (or Do Not Track) objects, as
// the README and the objection page say. Whether a page was counted is read from the
// dashboard's pages export, as staff see it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, assertNoAxeViolations } from './helpers.mjs';

const CANDOUR_HOST = 'candour.example.com';
const SAME_SITE_CMS = 'www.example.com';
const OTHER_SITE_CMS = 'www.example.org';

let server; // the CMS
let candour; // the child process
let browser;
let candourOrigin;
let cmsPort;
let staffContext;
let staffPage;
const log = [];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const cmsOrigin = (host) => `http://${host}:${cmsPort}`;

/** The CMS: every path is a small article page that loads Candour's script. */
function cmsPage(path) {
  const title = `Northmoor news: ${path}`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>${title}</title></head>
<body>
<main><h1>${title}</h1><p>An article on the organisation's own website.</p></main>
<script src="${candourOrigin}/statistics/s.js" async></script>
</body>
</html>`;
}

/** Start `candour demo` with the two CMS sites configured; resolves with its staff sign-in. */
function startCandour(binary, port) {
  // The suite's own variables are not configuration: Candour refuses unknown CANDOUR_ keys.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('CANDOUR_')));
  env.CANDOUR_STATS__SITES = JSON.stringify([cmsOrigin(SAME_SITE_CMS), cmsOrigin(OTHER_SITE_CMS)]);
  // Every count is shown exactly to staff, so one page view reads as 1.
  env.CANDOUR_STATS__SUPPRESSION_THRESHOLD = '0';
  env.RUST_LOG = 'warn';
  candour = spawn(binary, ['demo', '--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`candour demo did not start:\n${log.join('')}`)), 30_000);
    const read = (chunk) => {
      log.push(chunk.toString());
      const m = log.join('').match(/Staff:\s+(\S+) with the password (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ email: m[1], password: m[2] });
      }
    };
    candour.stdout.on('data', read);
    candour.stderr.on('data', read);
    candour.on('exit', (code) => reject(new Error(`candour demo exited (${code}):\n${log.join('')}`)));
  });
}

async function waitForReady() {
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${new URL(candourOrigin).port}/readyz`);
      if (r.status === 200) return;
    } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`candour demo did not answer /readyz:\n${log.join('')}`);
}

/** A browser context for one visitor: its own user agent, so the statistics see a browser of its own. */
async function visitor(n, options = {}) {
  const context = await browser.newContext({
    userAgent: `Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.${n}`,
    ...options,
  });
  context.setDefaultTimeout(10_000);
  const hosts = new Set([CANDOUR_HOST, SAME_SITE_CMS, OTHER_SITE_CMS]);
  context.foreign = [];
  // Only the three sites of this test are reached; anything else is recorded and refused.
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (hosts.has(u.hostname)) return route.continue();
    context.foreign.push(u.href);
    return route.abort('blockedbyclient');
  });
  // The beacons' answers, in the order they arrive.
  context.beacons = [];
  context.on('requestfinished', async (req) => {
    if (new URL(req.url()).pathname === '/statistics/hit') {
      const res = await req.response();
      context.beacons.push({ from: (await req.allHeaders()).origin, status: res?.status() });
    }
  });
  return context;
}

/** Open a CMS page and wait until its beacon has been answered; returns the beacon's status. */
async function viewCmsPage(context, host, path) {
  const page = await context.newPage();
  const before = context.beacons.length;
  const response = await page.goto(`${cmsOrigin(host)}${path}`);
  assert.equal(response.status(), 200);
  for (let i = 0; i < 100 && context.beacons.length === before; i++) await page.waitForTimeout(100);
  assert.equal(context.beacons.length, before + 1, `one beacon from ${host}${path}`);
  const beacon = context.beacons[before];
  assert.equal(beacon.from, cmsOrigin(host), 'the beacon names the page\'s origin');
  await page.close();
  return beacon.status;
}

/**
 * Page views per path for today, from the dashboard's pages export (folded every 10 s),
 * fetched by the signed-in staff page (through the browser, which knows the host names).
 */
async function pageViews() {
  const [status, text] = await staffPage.evaluate(async (u) => {
    const r = await fetch(u);
    return [r.status, await r.text()];
  }, '/admin/statistics.csv?panel=page&range=today');
  assert.equal(status, 200);
  const views = new Map();
  for (const line of text.trim().split('\n').slice(1)) {
    const cells = line.split(',');
    views.set(cells[0], Number(cells[3]));
  }
  return views;
}

/** Wait until `path` has `expected` page views (the fold runs every ten seconds); the last count read. */
async function counted(path, expected) {
  let n;
  for (let i = 0; i < 60; i++) {
    n = (await pageViews()).get(path);
    if (n === expected) return n;
    await new Promise((r) => setTimeout(r, 500));
  }
  return n;
}

before(async () => {
  const binary = process.env.CANDOUR_E2E_BINARY;
  if (!binary) throw new Error('CANDOUR_E2E_BINARY is not set: run the suite with e2e/run.sh');
  cmsPort = await freePort();
  const candourPort = await freePort();
  candourOrigin = `http://${CANDOUR_HOST}:${candourPort}`;
  server = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(cmsPage(new URL(req.url, 'http://cms').pathname));
  });
  await new Promise((resolve) => server.listen(cmsPort, '127.0.0.1', resolve));
  const staff = await startCandour(binary, candourPort);
  await waitForReady();
  browser = await chromium.launch({
    executablePath: process.env.CANDOUR_E2E_CHROMIUM || '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP *.example.com 127.0.0.1, MAP *.example.org 127.0.0.1'],
  });
  staffContext = await visitor(0);
  staffPage = await staffContext.newPage();
  await staffPage.goto(`${candourOrigin}/account/sign-in`);
  await staffPage.locator('#email').fill(staff.email);
  await staffPage.locator('#password').fill(staff.password);
  await Promise.all([
    staffPage.waitForURL((u) => u.pathname === '/admin'),
    staffPage.locator('main').getByRole('button', { name: 'Sign in' }).click(),
  ]);
});

after(async () => {
  await staffContext?.close();
  await browser?.close();
  server?.close();
  if (candour && candour.exitCode === null) {
    const exited = new Promise((resolve) => candour.once('exit', resolve));
    candour.kill('SIGTERM');
    await exited;
  }
});

test('a fresh visit to the organisation\'s page is counted and leaves no cookie and no storage', async () => {
  const context = await visitor(1);
  try {
    assert.equal(await viewCmsPage(context, SAME_SITE_CMS, '/news/fresh-visit'), 204);
    // Nothing on the visitor's device, for either site: no cookie, no web storage.
    const state = await context.storageState();
    assert.deepEqual(state.cookies, [], 'no cookie from either site');
    assert.deepEqual(state.origins, [], 'no storage for either origin');
    const page = await context.newPage();
    await page.goto(`${cmsOrigin(SAME_SITE_CMS)}/news/fresh-visit`);
    const stored = await page.evaluate(async () => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
      databases: indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [],
    }));
    assert.deepEqual(stored, { local: [], session: [], databases: [] });
    assert.deepEqual(context.foreign, []);
    assert.equal(await counted('/news/fresh-visit', 2), 2, 'both views of the page are counted');
  } finally {
    await context.close();
  }
});

test('after objecting on Candour\'s page, the same-site page\'s beacon is not counted', async () => {
  const context = await visitor(2);
  try {
    assert.equal(await viewCmsPage(context, SAME_SITE_CMS, '/news/before-objecting'), 204);
    assert.equal(await counted('/news/before-objecting', 1), 1, 'counted before objecting');

    const page = await context.newPage();
    await page.goto(`${candourOrigin}/statistics/object`);
    await assertNoAxeViolations(page, 'objection page, with other sites configured');
    await page.getByText('Some of our other websites count their pages here too').waitFor();
    await Promise.all([
      page.waitForURL(/saved=off/),
      page.getByRole('button', { name: 'Turn off statistics for this browser' }).click(),
    ]);
    await assertNoAxeViolations(page, 'objection page, turned off');
    const cookies = await context.cookies(candourOrigin);
    assert.deepEqual(cookies.map((c) => c.name), ['candour_no_stats'], 'only the objection cookie');
    assert.equal(cookies[0].sameSite, 'Lax');
    await page.close();

    // The browser sends the objection with the beacon from the same site: answered, not counted.
    assert.equal(await viewCmsPage(context, SAME_SITE_CMS, '/news/after-objecting'), 204);
    // Another browser's view, sent after it, is counted; by then the objecting one would be.
    const other = await visitor(3);
    try {
      assert.equal(await viewCmsPage(other, SAME_SITE_CMS, '/news/control'), 204);
    } finally {
      await other.close();
    }
    assert.equal(await counted('/news/control', 1), 1);
    const views = await pageViews();
    assert.equal(views.get('/news/after-objecting'), undefined, 'the objecting browser is not counted');
    assert.equal(views.get('/news/before-objecting'), 1);
    assert.deepEqual(context.foreign, []);
  } finally {
    await context.close();
  }
});

test('from a site under another name the cookie does not reach Candour; Global Privacy Control does', async () => {
  const context = await visitor(4);
  try {
    const page = await context.newPage();
    await page.goto(`${candourOrigin}/statistics/object`);
    await Promise.all([
      page.waitForURL(/saved=off/),
      page.getByRole('button', { name: 'Turn off statistics for this browser' }).click(),
    ]);
    await page.close();
    // SameSite=Lax: the browser leaves the cookie off a request from another site, so this
    // view is counted although the browser objected on Candour's page.
    assert.equal(await viewCmsPage(context, OTHER_SITE_CMS, '/news/other-site-cookie'), 204);
    assert.equal(await counted('/news/other-site-cookie', 1), 1, 'the cookie is not sent across sites');
  } finally {
    await context.close();
  }
  const gpc = await visitor(5, { extraHTTPHeaders: { 'Sec-GPC': '1' } });
  try {
    assert.equal(await viewCmsPage(gpc, OTHER_SITE_CMS, '/news/other-site-gpc'), 204);
    const control = await visitor(6);
    try {
      assert.equal(await viewCmsPage(control, OTHER_SITE_CMS, '/news/other-site-control'), 204);
    } finally {
      await control.close();
    }
    assert.equal(await counted('/news/other-site-control', 1), 1);
    assert.equal((await pageViews()).get('/news/other-site-gpc'), undefined, 'Global Privacy Control objects from any site');
  } finally {
    await gpc.close();
  }
});
