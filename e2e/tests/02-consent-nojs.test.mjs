// The cookie banner and settings page with JavaScript off: plain form posts, 303 redirects,
// the confirmation message, and the consent cookie's attributes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, cookieNamed, requestsTo, assertNoForeignRequests, ONE_YEAR, ONE_DAY,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const NOJS = { javaScriptEnabled: false };

function assertConsentCookie(cookie) {
  assert.ok(cookie, 'candour_consent cookie should be set after a choice');
  const expected = Date.now() / 1000 + ONE_YEAR;
  assert.ok(
    Math.abs(cookie.expires - expected) <= ONE_DAY,
    `candour_consent should expire in about a year; expires=${cookie.expires} (${new Date(cookie.expires * 1000).toISOString()}), expected ≈ ${new Date(expected * 1000).toISOString()}`,
  );
  assert.equal(cookie.sameSite, 'Lax', 'candour_consent should be SameSite=Lax');
  assert.equal(cookie.httpOnly, false, 'candour_consent should not be HttpOnly');
  assert.equal(cookie.path, '/', 'candour_consent should have Path=/');
}

async function bannerChoice(choice, path) {
  const context = await newContext(browser, NOJS);
  const page = await context.newPage();
  const responses = [];
  page.on('response', (r) => responses.push(r));
  const first = await page.goto(url(path));
  assert.equal(first.status(), 200);
  assert.deepEqual(await context.cookies(), [], 'no cookie before a choice');
  const banner = page.locator('#cookie-banner');
  assert.equal(await banner.getByRole('heading', { name: 'Cookies on Northmoor Police' }).count(), 1);
  const label = choice === 'accept' ? 'Accept optional cookies' : 'Reject optional cookies';
  const button = banner.locator(`form.cookie-banner__form button[name=choice][value=${choice}]`);
  assert.equal((await button.innerText()).trim(), label);
  await Promise.all([page.waitForURL((u) => u.searchParams.get('cookies') === 'saved'), button.click()]);

  const post = responses.find((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/cookies/consent');
  assert.ok(post, 'the choice should be POSTed to /cookies/consent');
  assert.equal(post.status(), 303, 'POST /cookies/consent without JS should answer 303');
  const back = new URL(page.url());
  assert.equal(back.pathname, path, 'the redirect should come back to the same page');
  assert.equal(back.search, '?cookies=saved');

  const message = choice === 'accept' ? 'You’ve accepted optional cookies.' : 'You’ve rejected optional cookies.';
  const confirmation = page.locator('#cookie-banner-confirmation');
  assert.ok(await confirmation.isVisible(), 'the confirmation should be showing');
  const text = await confirmation.innerText();
  assert.ok(text.includes(message), `the confirmation should say "${message}"; it says "${text}"`);
  assert.equal(await page.locator('form.cookie-banner__form').count(), 0, 'the choice form should be gone');

  assertConsentCookie(await cookieNamed(context, 'candour_consent'));

  const hide = confirmation.getByRole('link', { name: 'Hide cookie message' });
  assert.equal(await hide.getAttribute('href'), path, 'Hide cookie message should link to the page without the flag');
  await Promise.all([page.waitForURL(url(path)), hide.click()]);
  assert.equal(await page.locator('#cookie-banner').count(), 0, 'after Hide, the banner should be gone');
  return { context, page };
}

test('without JS: Accept sets the consent cookie, confirms, and Hide removes the banner', async () => {
  const { context, page } = await bannerChoice('accept', '/news');
  assert.match(await page.locator('html').getAttribute('data-consent'), /\bstatistics\b/, 'statistics should be granted after Accept');
  // Still no banner on another page: the choice is remembered.
  await page.goto(url('/contact'));
  assert.equal(await page.locator('#cookie-banner').count(), 0);
  assertNoForeignRequests(context);
  await context.close();
});

test('without JS: Reject sets the consent cookie, confirms, and the statistics script never runs afterwards', async () => {
  const { context, page } = await bannerChoice('reject', '/report');
  assert.equal(await page.locator('html').getAttribute('data-consent'), '', 'nothing should be granted after Reject');
  assert.equal(await cookieNamed(context, 'northmoor_visits'), undefined);
  assertNoForeignRequests(context);

  // Carry the choice into a browser with JavaScript on: the gated script must stay inert.
  const cookies = await context.cookies();
  await context.close();
  const jsContext = await newContext(browser);
  await jsContext.addCookies(cookies);
  const jsPage = await jsContext.newPage();
  for (const path of ['/', '/news', '/contact']) {
    await jsPage.goto(url(path), { waitUntil: 'networkidle' });
    assert.equal(await jsPage.locator('#cookie-banner').count(), 0, `no banner on ${path} after Reject`);
    assert.equal(await jsPage.locator('html').getAttribute('data-visit-counter'), null, `visit counter ran on ${path} after Reject`);
  }
  assert.equal(await cookieNamed(jsContext, 'northmoor_visits'), undefined, 'northmoor_visits must never be set after Reject');
  assert.deepEqual(requestsTo(jsContext, '/static/visit-counter.js'), [], 'the statistics script must not even be fetched after Reject');
  assertNoForeignRequests(jsContext);
  await jsContext.close();
});

test('without JS: the cookie settings page saves a choice', async () => {
  const context = await newContext(browser, NOJS);
  const page = await context.newPage();
  const responses = [];
  page.on('response', (r) => responses.push(r));
  assert.equal((await page.goto(url('/cookies'))).status(), 200);
  await page.locator('#statistics-yes').check();
  await Promise.all([
    page.waitForURL((u) => u.pathname === '/cookies' && u.searchParams.get('cookies') === 'saved'),
    page.getByRole('button', { name: 'Save cookie settings' }).click(),
  ]);
  const post = responses.find((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/cookies');
  assert.ok(post, 'the form should POST to /cookies');
  assert.equal(post.status(), 303);
  assert.match(await page.locator('main').innerText(), /Your cookie settings were saved\./);
  assert.match((await page.locator('#receipt-id').innerText()).trim(), /\S/, 'the receipt reference should be shown');
  assertConsentCookie(await cookieNamed(context, 'candour_consent'));
  assert.match(await page.locator('html').getAttribute('data-consent'), /\bstatistics\b/);
  assert.ok(await page.locator('#statistics-yes').isChecked(), 'the saved choice should be shown as selected');

  // And back to No.
  await page.locator('#statistics-no').check();
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('cookies') === 'saved'),
    page.getByRole('button', { name: 'Save cookie settings' }).click(),
  ]);
  assert.ok(await page.locator('#statistics-no').isChecked());
  assert.doesNotMatch(await page.locator('html').getAttribute('data-consent'), /\bstatistics\b/);
  assertNoForeignRequests(context);
  await context.close();
});
