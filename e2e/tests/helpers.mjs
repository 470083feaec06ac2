// Shared helpers for Candour's browser tests.
//
// The server under test is given by CANDOUR_E2E_URL (run.sh starts `candour demo` and sets it).
// Every browser context made here records each request the browser makes, and aborts any
// request to a host other than the server's, so a test run never reaches another site; the
// tests then fail on the recorded foreign requests.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const raw = process.env.CANDOUR_E2E_URL;
if (!raw) {
  throw new Error('CANDOUR_E2E_URL is not set: run the suite with e2e/run.sh, or set it to a running `candour demo` (e.g. http://127.0.0.1:8080/)');
}
export const BASE = new URL(raw);
export const ORIGIN = BASE.origin;

/** Absolute URL on the server under test. */
export function url(path) {
  return new URL(path, BASE).href;
}

export const DEMO_PAGES = [
  '/',
  '/report',
  '/news',
  '/news/road-safety-week',
  '/news/open-day',
  '/news/open-day-transcript',
  '/contact',
  '/accessibility',
  '/cookies',
  '/privacy',
  '/requests',
];

export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CANDOUR_E2E_CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

function isLocalScheme(u) {
  return /^(data|blob|about|chrome|chrome-error|devtools):/i.test(u);
}

/** True when the URL is on the server under test (or needs no network at all). */
export function isSameOrigin(u) {
  if (isLocalScheme(u)) return true;
  try {
    return new URL(u).origin === ORIGIN;
  } catch {
    return false;
  }
}

/**
 * A new browser context that records requests. Returns the context with two extra
 * properties: `requests` (every URL the browser asked for, in order) and `foreign`
 * (those that went, or tried to go, to another host; they are aborted).
 */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(15_000);
  const requests = [];
  const foreign = [];
  context.on('request', (req) => {
    const u = req.url();
    requests.push({ url: u, method: req.method(), headers: req.headers() });
    if (!isSameOrigin(u)) foreign.push(u);
  });
  await context.route('**/*', (route) => {
    const u = route.request().url();
    if (isSameOrigin(u)) return route.continue();
    if (!foreign.includes(u)) foreign.push(u);
    return route.abort('blockedbyclient');
  });
  context.requests = requests;
  context.jsDisabled = options.javaScriptEnabled === false;
  context.foreign = foreign;
  return context;
}

export function assertNoForeignRequests(context, where = '') {
  assert.deepEqual(
    context.foreign,
    [],
    `the browser made requests to hosts other than ${ORIGIN}${where ? ' (' + where + ')' : ''}:\n  ${context.foreign.join('\n  ')}`,
  );
}

/** Every request URL recorded so far whose path is `path`. */
export function requestsTo(context, path) {
  return context.requests.filter((r) => isSameOrigin(r.url) && !isLocalScheme(r.url) && new URL(r.url).pathname === path);
}

/**
 * Run axe on the page and fail listing each violation's id, help and target selectors.
 *
 * axe cannot run in a page loaded with JavaScript disabled (its promises never settle, even
 * after script execution is switched back on through CDP). For such a page the same URL is
 * loaded again, with the same cookies, in a context where JavaScript runs but every script the
 * site sends is blocked: the DOM is then exactly what a browser without JavaScript shows.
 * So this works only for states reached by a GET (such as `?cookies=saved`).
 *
 * `options.legacyMode`: run axe in the page itself (AxeBuilder's legacy mode) instead of per
 * frame and then finishing in a new blank page. The site's pages have no frames, so the results
 * are the same, in about half the time; the account tests, which check many pages, use it.
 */
export async function assertNoAxeViolations(page, label, options = {}) {
  if (page.context().jsDisabled) {
    const browser = page.context().browser();
    const twin = await newContext(browser);
    try {
      await twin.addCookies(await page.context().cookies());
      await twin.route('**/*', (route) =>
        route.request().resourceType() === 'script' ? route.abort('blockedbyclient') : route.fallback());
      const twinPage = await twin.newPage();
      const response = await twinPage.goto(page.url());
      const original = await page.content();
      const again = await twinPage.content();
      assert.equal(stripVolatile(again), stripVolatile(original),
        `re-loading ${page.url()} for axe did not give the same page, so axe cannot check the no-JS state`);
      assert.ok(response, 'reload for axe should answer');
      return await assertNoAxeViolations(twinPage, label, options);
    } finally {
      await twin.close();
    }
  }
  const builder = new AxeBuilder({ page }).withTags(AXE_TAGS);
  if (options.legacyMode) builder.setLegacyMode(true);
  const results = await builder.analyze();
  if (results.violations.length > 0) {
    const lines = [];
    for (const v of results.violations) {
      lines.push(`${v.id} (${v.impact}): ${v.help}`);
      for (const node of v.nodes) lines.push(`    at ${node.target.join(' ')}`);
    }
    const message = `axe found ${results.violations.length} violation(s) on ${label || page.url()}:\n  ${lines.join('\n  ')}`;
    console.log(message);
    assert.fail(message);
  }
  return results;
}

// CSRF tokens and request ids change between two loads of the same page.
function stripVolatile(html) {
  return html
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value=""')
    .replace(/<code>[0-9a-f]{16}<\/code>/g, '<code></code>');
}

// `/share/…` only redirects to a social network's own share address: not a page of the site.
const SKIP_PATH = (p) => p === '/privacy.json' || p.startsWith('/static/') || p.startsWith('/assets/') || p.startsWith('/share/');

/** Same-origin page URLs linked from the current page, normalised (no fragment). */
export async function pageLinks(page) {
  const hrefs = await page.$$eval('a[href]', (as) => as.map((a) => a.href));
  const out = [];
  for (const h of hrefs) {
    let u;
    try {
      u = new URL(h, page.url());
    } catch {
      continue;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') continue;
    if (u.origin !== ORIGIN) continue;
    if (SKIP_PATH(u.pathname)) continue;
    u.hash = '';
    out.push(u.href);
  }
  return out;
}

/**
 * Breadth-first crawl of same-origin pages from `start`, at most `cap` pages. For each page
 * calls `visit(page, url, response)` after it has loaded. Returns the URLs visited in order.
 */
export async function crawl(page, { start = '/', cap = 50, visit } = {}) {
  const first = new URL(start, BASE);
  first.hash = '';
  const queue = [first.href];
  const seen = new Set(queue);
  const visited = [];
  while (queue.length > 0 && visited.length < cap) {
    const target = queue.shift();
    const response = await page.goto(target, { waitUntil: 'load' });
    visited.push(target);
    if (visit) await visit(page, target, response);
    for (const link of await pageLinks(page)) {
      if (!seen.has(link)) {
        seen.add(link);
        queue.push(link);
      }
    }
  }
  return visited;
}

/** Path and query of an absolute URL on the server. */
export function pathOf(u) {
  const x = new URL(u);
  return x.pathname + x.search;
}

/** Declared cookie names from /privacy.json, as matchers: `{x}` parts match any text. */
export async function declaredCookies() {
  const res = await fetch(url('/privacy.json'), { headers: { Accept: 'application/json' } });
  assert.equal(res.status, 200, '/privacy.json should answer 200');
  const json = await res.json();
  assert.ok(Array.isArray(json.cookie_categories), '/privacy.json should have cookie_categories');
  const names = [];
  for (const cat of json.cookie_categories) {
    for (const c of cat.cookies || []) names.push({ name: c.name, category: cat.category });
  }
  return names.map((d) => {
    const pattern = d.name
      .split(/\{[^}]*\}/)
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.+');
    return { ...d, re: new RegExp('^' + pattern + '$') };
  });
}

export async function cookieNamed(context, name) {
  return (await context.cookies(ORIGIN)).find((c) => c.name === name);
}

/** Count of framenavigated events for the main frame, to prove a step did not reload. */
export function countNavigations(page) {
  const counter = { main: 0 };
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) counter.main += 1;
  });
  return counter;
}

export const ONE_YEAR = 31_536_000;
export const ONE_DAY = 86_400;
