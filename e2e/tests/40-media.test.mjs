// Embedded media and share links on the demo's open-day page, with every provider host
// answered by a small fixture (the machine is offline, and the tests must see exactly which
// hosts the browser asks): nothing reaches a provider before a click and the page's CSP frames
// none; "Load" (a GET form the server answers with the player) brings exactly that provider's
// frame and its origin alone into the CSP; "Always" loads it directly on later visits until it
// is withdrawn on the cookies page; without JavaScript "Load" works the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, assertNoAxeViolations, assertNoForeignRequests,
} from './helpers.mjs';

const PAGE = '/news/open-day';
const PROVIDER_HOSTS = [
  'www.youtube-nocookie.com', 'www.youtube.com', 'youtube.com', 'youtu.be',
  'player.vimeo.com', 'vimeo.com',
  'www.flickr.com', 'flickr.com',
  'www.slideshare.net', 'slideshare.net',
  'policies.google.com', 'www.scribd.com',
];

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A context whose provider hosts answer a one-line page naming the host (and nothing else). */
async function mediaContext(options = {}) {
  const context = await newContext(browser, options);
  await context.route((u) => PROVIDER_HOSTS.includes(u.hostname), (route) => {
    const host = new URL(route.request().url()).hostname;
    return route.fulfill({
      status: 200,
      contentType: 'text/html; charset=utf-8',
      body: `<!doctype html><title>${host}</title><p>fixture from ${host}</p>`,
    });
  });
  return context;
}

const hostsAsked = (context) => [...new Set(context.foreign.map((u) => new URL(u).hostname))].sort();

/** The `frame-src` directive of a page's Content-Security-Policy, read from its response. */
function frameSrc(response) {
  const policy = response.headers()['content-security-policy'] ?? '';
  return policy.split(';').map((d) => d.trim()).find((d) => d.startsWith('frame-src'));
}

/** No provider host appears anywhere in the response's Content-Security-Policy. */
function assertCspNamesNoProvider(response, where) {
  const policy = response.headers()['content-security-policy'] ?? '';
  assert.ok(policy.length > 0, `${where}: the page has a Content-Security-Policy`);
  for (const host of PROVIDER_HOSTS) assert.ok(!policy.includes(host), `${where}: the CSP names ${host}: ${policy}`);
  assert.equal(frameSrc(response), "frame-src 'self'", where);
}

/** Follow `action` to the page it loads and return that page's response. */
async function responseAfter(page, action) {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && r.request().method() === 'GET'
      && new URL(r.url()).pathname === PAGE),
    action(),
  ]);
  await page.waitForLoadState('networkidle');
  return response;
}

test('before a click the page with all four embeds asks no other host for anything, its CSP frames none, and it is axe-clean', async () => {
  const context = await mediaContext();
  const page = await context.newPage();
  const response = await page.goto(url(PAGE), { waitUntil: 'networkidle' });
  assertCspNamesNoProvider(response, 'before any click');
  assert.equal(await page.locator('[data-embed]').count(), 4);
  assert.equal(await page.locator('iframe').count(), 0);
  // Each placeholder names the provider and offers both choices, by keyboard.
  for (const name of ['YouTube', 'Vimeo']) {
    await page.getByRole('button', { name: `Always load videos from ${name}` }).waitFor();
  }
  await page.getByRole('button', { name: 'Always load photos from Flickr' }).waitFor();
  await page.getByRole('button', { name: 'Always load presentations from SlideShare' }).waitFor();
  const load = page.getByRole('button', { name: 'Load this video: A tour of the custody suite' });
  await load.focus();
  assert.ok(await load.evaluate((b) => b === document.activeElement));
  assert.equal(await page.locator('img[alt="Still from the video: The chief constable’s welcome"]').count(), 1);
  assertNoForeignRequests(context, 'before any click');
  await assertNoAxeViolations(page, `${PAGE} (placeholders)`);
  await context.close();
});

test('"Load" brings exactly that provider’s frame, in its privacy-enhanced form, and its origin alone joins the CSP', async () => {
  const context = await mediaContext();
  const page = await context.newPage();
  await page.goto(url(PAGE), { waitUntil: 'networkidle' });
  const load = page.getByRole('button', { name: 'Load this video: A tour of the custody suite' });
  const response = await responseAfter(page, () => load.press('Enter'));
  assert.equal(new URL(page.url()).search, '?load=vimeo');
  assert.equal(new URL(page.url()).hash, '#player-1');
  assert.equal(frameSrc(response), "frame-src 'self' https://player.vimeo.com");
  const frame = page.locator('#media-1 iframe');
  assert.equal(await frame.getAttribute('src'), 'https://player.vimeo.com/video/76979871?dnt=1');
  assert.equal(await frame.getAttribute('referrerpolicy'), 'strict-origin');
  assert.match(await frame.getAttribute('sandbox'), /^allow-scripts allow-same-origin allow-popups/);
  assert.equal(await frame.getAttribute('loading'), null, 'a frame the visitor asked for loads at once');
  const inner = page.frameLocator('#media-1 iframe');
  await inner.getByText('fixture from player.vimeo.com').waitFor();
  assert.deepEqual(hostsAsked(context), ['player.vimeo.com']);
  assert.equal(await page.locator('iframe').count(), 1, 'only that provider loads');
  // The address names the player, so the browser puts the keyboard on it (no script needed).
  assert.ok(await frame.evaluate((f) => f === document.activeElement), 'focus is on the player');

  // "Show the placeholder instead" is the page without the request: nothing framed again.
  context.foreign.length = 0;
  const back = await responseAfter(page, () => page.getByRole('link', { name: /^Show the placeholder instead/ }).click());
  assertCspNamesNoProvider(back, 'back to the placeholder');
  assert.equal(await page.locator('iframe').count(), 0);
  assertNoForeignRequests(context, 'back to the placeholder');
  await context.close();
});

test('"Always" loads that provider directly, on later pages too, until it is withdrawn on the cookies page', async () => {
  const context = await mediaContext();
  const page = await context.newPage();
  await page.goto(url(PAGE), { waitUntil: 'networkidle' });
  const chosen = await responseAfter(page, () => page.getByRole('button', { name: 'Always load videos from YouTube' }).click());
  assert.equal(new URL(page.url()).hash, '#player-0');
  assert.equal(frameSrc(chosen), "frame-src 'self' https://www.youtube-nocookie.com");
  assert.equal(await page.locator('#media-0 iframe').getAttribute('src'), 'https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ');

  // A later visit: the server renders the player itself, lazily; the others still wait.
  context.foreign.length = 0;
  const later = await page.goto(url(PAGE), { waitUntil: 'networkidle' });
  assert.equal(frameSrc(later), "frame-src 'self' https://www.youtube-nocookie.com");
  const direct = page.locator('#media-0 iframe');
  assert.equal(await direct.getAttribute('loading'), 'lazy');
  await page.frameLocator('#media-0 iframe').getByText('fixture from www.youtube-nocookie.com').waitFor();
  assert.equal(await page.locator('iframe').count(), 1);
  assert.deepEqual(hostsAsked(context), ['www.youtube-nocookie.com']);
  await assertNoAxeViolations(page, `${PAGE} (YouTube always loaded)`, { legacyMode: true });

  // Withdrawn on the cookies page: the placeholder is back and nothing is asked.
  await page.goto(url('/cookies'));
  assert.ok(await page.locator('#always_youtube-yes').isChecked());
  await page.locator('#always_youtube-no').check();
  await page.getByRole('button', { name: 'Save cookie settings' }).click();
  await page.waitForURL(/cookies=saved/);
  context.foreign.length = 0;
  const withdrawn = await page.goto(url(PAGE), { waitUntil: 'networkidle' });
  assertCspNamesNoProvider(withdrawn, 'after withdrawing "always"');
  assert.equal(await page.locator('iframe').count(), 0);
  assertNoForeignRequests(context, 'after withdrawing "always"');
  await context.close();
});

test('without JavaScript "Load" and "Always" work, and the placeholders link to the provider', async () => {
  const context = await mediaContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  const response = await page.goto(url(PAGE));
  assertCspNamesNoProvider(response, 'no-JS page load');
  assertNoForeignRequests(context, 'no-JS page load');
  assert.equal(await page.getByRole('button', { name: /^Load this/ }).count(), 4);
  assert.equal(await page.getByRole('button', { name: 'Copy link' }).count(), 0);
  await assertNoAxeViolations(page, `${PAGE} (no JavaScript)`);

  const loaded = await responseAfter(page, () => page.getByRole('button', { name: 'Load this video: The chief constable’s welcome' }).click());
  assert.equal(new URL(page.url()).search, '?load=youtube');
  assert.equal(new URL(page.url()).hash, '#player-0');
  assert.equal(frameSrc(loaded), "frame-src 'self' https://www.youtube-nocookie.com");
  assert.equal(await page.locator('iframe').count(), 1);
  assert.equal(await page.locator('#media-0 iframe').getAttribute('src'), 'https://www.youtube-nocookie.com/embed/aqz-KE-bpKQ');
  await page.frameLocator('#media-0 iframe').getByText('fixture from www.youtube-nocookie.com').waitFor();
  assert.deepEqual(hostsAsked(context), ['www.youtube-nocookie.com']);

  context.foreign.length = 0;
  await page.goto(url(PAGE));
  const link = page.getByRole('link', { name: 'See “The front counter on the day” on Flickr (on another website)' });
  assert.equal(await link.getAttribute('href'), 'https://www.flickr.com/photos/northmoor-police/53210987654/');
  await link.click();
  await page.waitForURL('https://www.flickr.com/photos/northmoor-police/53210987654/');
  assert.match(await page.content(), /fixture from www.flickr.com/);

  context.foreign.length = 0;
  await page.goto(url(PAGE));
  await page.getByRole('button', { name: 'Always load presentations from SlideShare' }).click();
  await page.waitForURL(/\/news\/open-day#player-3$/);
  assert.equal(await page.locator('#media-3 iframe').getAttribute('src'), 'https://www.slideshare.net/slideshow/embed_code/271234567');
  await context.close();
});

test('share links are plain links through this site, with "Copy link" only when the script runs', async () => {
  const context = await mediaContext();
  const page = await context.newPage();
  await page.goto(url(PAGE), { waitUntil: 'networkidle' });
  const share = page.getByRole('complementary', { name: 'Share this page' });
  const hrefs = await share.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert.equal(hrefs.length, 7);
  assert.ok(hrefs[0].startsWith('mailto:?subject='), hrefs[0]);
  for (const h of hrefs.slice(1)) assert.match(h, /^\/share\/(x|facebook|linkedin|whatsapp|bluesky|nextdoor)\?page=%2Fnews%2Fopen%2Dday$/);
  const copy = share.getByRole('button', { name: 'Copy link' });
  await copy.waitFor();
  assertNoForeignRequests(context, 'share links before a click');
  await context.close();
});
