// The cookie banner with JavaScript on: the choice is sent with fetch, the page is not
// reloaded, the confirmation takes focus, and scripts gated on statistics start only after
// statistics are allowed.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, cookieNamed, requestsTo, countNavigations, assertNoForeignRequests,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function chooseInBanner(page, choice) {
  await page.evaluate(() => { window.__marker = 1; });
  const navs = countNavigations(page);
  const posted = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/cookies/consent');
  const label = choice === 'accept' ? 'Accept optional cookies' : 'Reject optional cookies';
  await page.locator('#cookie-banner').getByRole('button', { name: label }).click();
  const request = await posted;
  assert.match(request.headers().accept || '', /application\/json/, 'the banner should ask for JSON');
  const response = await request.response();
  assert.equal(response.status(), 200, 'POST /cookies/consent with Accept: application/json should answer 200');

  const confirmation = page.locator('#cookie-banner-confirmation');
  await confirmation.waitFor({ state: 'visible' });
  const message = choice === 'accept' ? 'You’ve accepted optional cookies.' : 'You’ve rejected optional cookies.';
  const text = await confirmation.innerText();
  assert.ok(text.includes(message), `the confirmation should say "${message}"; it says "${text}"`);
  assert.equal(await confirmation.getAttribute('role'), 'alert', 'the confirmation should be announced (role=alert)');
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), 'cookie-banner-confirmation', 'the confirmation should take focus');
  assert.equal(await page.evaluate(() => window.__marker), 1, 'the page must not reload (window.__marker was lost)');
  assert.equal(navs.main, 0, 'the page must not navigate');
  assert.equal(await page.locator('form.cookie-banner__form').count(), 0, 'the choice form should be replaced');

  const hide = confirmation.getByRole('button', { name: 'Hide cookie message' });
  await hide.click();
  await page.locator('#cookie-banner').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => window.__marker), 1, 'Hide must not reload the page');
}

test('with JS: Accept answers without a reload, focuses the confirmation, and starts the statistics script', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/'), { waitUntil: 'networkidle' });
  assert.deepEqual(await context.cookies(), [], 'no cookie before a choice');
  assert.equal(await page.locator('html').getAttribute('data-visit-counter'), null, 'the statistics script must wait for consent');
  assert.deepEqual(requestsTo(context, '/static/visit-counter.js'), [], 'the statistics script must not be fetched before consent');

  await chooseInBanner(page, 'accept');

  await page.waitForSelector('html[data-visit-counter]', { state: 'attached' });
  assert.equal(await page.locator('html').getAttribute('data-visit-counter'), '1');
  const visits = await cookieNamed(context, 'northmoor_visits');
  assert.ok(visits, 'the statistics script should set northmoor_visits');
  assert.equal(visits.value, '1');
  assert.ok(await cookieNamed(context, 'candour_consent'), 'the consent cookie should be set by the fetch answer');

  // The choice holds on the next page: no banner, and the counter runs again.
  await page.goto(url('/news'), { waitUntil: 'networkidle' });
  assert.equal(await page.locator('#cookie-banner').count(), 0, 'no banner once a choice is made');
  await page.waitForSelector('html[data-visit-counter="2"]', { state: 'attached' });
  assert.equal((await cookieNamed(context, 'northmoor_visits')).value, '2');
  assertNoForeignRequests(context);
  await context.close();
});

test('with JS: Reject answers without a reload, and the statistics script never runs on later pages', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/report'), { waitUntil: 'networkidle' });
  await chooseInBanner(page, 'reject');
  assert.ok(await cookieNamed(context, 'candour_consent'), 'the consent cookie should record the refusal');

  for (const path of ['/news', '/contact']) {
    await page.goto(url(path), { waitUntil: 'networkidle' });
    assert.equal(await page.locator('#cookie-banner').count(), 0, `no banner on ${path} once a choice is made`);
    assert.equal(await page.locator('html').getAttribute('data-visit-counter'), null, `the statistics script ran on ${path} after Reject`);
  }
  assert.equal(await cookieNamed(context, 'northmoor_visits'), undefined, 'northmoor_visits must never be set after Reject');
  assert.deepEqual(requestsTo(context, '/static/visit-counter.js'), [], 'the statistics script must not be fetched after Reject');
  assertNoForeignRequests(context);
  await context.close();
});

test('with JS: saving Yes for statistics on /cookies starts the visit counter on the next page', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/cookies'), { waitUntil: 'networkidle' });
  assert.ok(await page.locator('#statistics-no').isChecked(), 'No should be selected before any choice (opt-in)');
  await page.locator('#statistics-yes').check();
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/cookies' && u.searchParams.get('cookies') === 'saved'),
    page.getByRole('button', { name: 'Save cookie settings' }).click(),
  ]);
  assert.match(await page.locator('main').innerText(), /Your cookie settings were saved\./);
  assert.match((await page.locator('#receipt-id').innerText()).trim(), /\S/);

  await page.goto(url('/news'), { waitUntil: 'networkidle' });
  await page.waitForSelector('html[data-visit-counter]', { state: 'attached' });
  assert.ok(await cookieNamed(context, 'northmoor_visits'), 'the statistics script should set northmoor_visits');
  assert.equal(await page.locator('#cookie-banner').count(), 0);
  assertNoForeignRequests(context);
  await context.close();
});
