// Accessibility of the states a crawl does not reach: the banner's confirmation, the settings
// page after saving and with an error, and the 404 page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, url, assertNoAxeViolations, assertNoForeignRequests } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('axe: the banner confirmation after Accept without JS', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(url('/news'));
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('cookies') === 'saved'),
    page.locator('#cookie-banner button[value=accept]').click(),
  ]);
  assert.ok(await page.locator('#cookie-banner-confirmation').isVisible(), 'the confirmation should be showing');
  await assertNoAxeViolations(page, '/news?cookies=saved (confirmation, no JS)');
  assertNoForeignRequests(context);
  await context.close();
});

test('axe: the banner confirmation after Accept with JS', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/news'), { waitUntil: 'networkidle' });
  await page.locator('#cookie-banner button[value=accept]').click();
  await page.locator('#cookie-banner-confirmation').waitFor({ state: 'visible' });
  await assertNoAxeViolations(page, '/news (confirmation, JS)');
  await context.close();
});

test('axe: /cookies after saving', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/cookies'));
  await page.locator('#statistics-yes').check();
  await Promise.all([
    page.waitForURL((u) => u.searchParams.get('cookies') === 'saved'),
    page.getByRole('button', { name: 'Save cookie settings' }).click(),
  ]);
  assert.ok(await page.locator('#receipt-id').isVisible());
  await assertNoAxeViolations(page, '/cookies?cookies=saved');
  await context.close();
});

async function submitSettingsWithNoChoice(page) {
  await page.goto(url('/cookies'));
  await page.evaluate(() => {
    for (const r of document.querySelectorAll('form[action="/cookies"] input[type=radio]')) r.checked = false;
  });
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/cookies'),
    page.getByRole('button', { name: 'Save cookie settings' }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

test('axe: saving /cookies with no choice answers 422 with an accessible page', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const response = await submitSettingsWithNoChoice(page);
  assert.equal(response.status(), 422, 'saving with no choice should answer 422');
  assert.match(await page.title(), /^Error: |problem/i, 'the title should say there is an error');
  await assertNoAxeViolations(page, '/cookies (422)');
  await context.close();
});

test('axe: /cookies 422 shows the settings form with its error summary', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    const response = await submitSettingsWithNoChoice(page);
    assert.equal(response.status(), 422);
    const summary = page.locator('.error-summary');
    assert.ok(await summary.isVisible(), 'the error summary should show');
    assert.match(await page.title(), /^Error: /, 'the title should start with "Error: "');
    const href = await summary.locator('a').first().getAttribute('href');
    assert.equal(await page.locator(href).count(), 1, `the error summary link ${href} should point at a field`);
    assert.ok(await page.locator('.form-group--error .error-message').isVisible(), 'the error should show beside the question');
    await assertNoAxeViolations(page, '/cookies (422 with error summary)');
  } finally {
    await context.close();
  }
});

test('axe: the 404 page', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const response = await page.goto(url('/no-such-page'));
  assert.equal(response.status(), 404);
  await assertNoAxeViolations(page, '/no-such-page (404)');
  assertNoForeignRequests(context);
  await context.close();
});
