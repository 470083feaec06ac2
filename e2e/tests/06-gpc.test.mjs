// Global Privacy Control: a browser sending Sec-GPC: 1 is treated as having refused every
// optional cookie, so no banner is shown and nothing optional runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, declaredCookies, requestsTo, assertNoForeignRequests, DEMO_PAGES,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('GPC: no banner on any page, /cookies explains the signal, and no optional cookie or script', async () => {
  const declared = await declaredCookies();
  const context = await newContext(browser, { extraHTTPHeaders: { 'Sec-GPC': '1' } });
  const page = await context.newPage();
  for (const path of DEMO_PAGES) {
    const response = await page.goto(url(path), { waitUntil: 'networkidle' });
    assert.equal(response.status(), 200, `${path} should answer 200`);
    assert.equal(response.request().headers()['sec-gpc'], '1', 'the request should carry Sec-GPC: 1');
    assert.equal(await page.locator('#cookie-banner').count(), 0, `no banner on ${path} under GPC`);
    assert.equal(await page.locator('html').getAttribute('data-visit-counter'), null, `the statistics script ran on ${path} under GPC`);
    assert.doesNotMatch(await page.locator('html').getAttribute('data-consent') || '', /\S/, `nothing should be granted under GPC (${path})`);
  }
  await page.goto(url('/cookies'), { waitUntil: 'networkidle' });
  assert.ok(await page.locator('#gpc-notice').isVisible(), '/cookies should show #gpc-notice');
  assert.ok(await page.locator('#statistics-no').isChecked(), 'statistics should show as No under GPC');

  const necessary = declared.filter((d) => d.category === 'necessary');
  const optional = (await context.cookies()).filter((c) => !necessary.some((d) => d.re.test(c.name)));
  assert.deepEqual(optional.map((c) => c.name), [], 'no non-essential cookie may be set under GPC');
  assert.deepEqual(requestsTo(context, '/static/visit-counter.js'), [], 'the statistics script must not be fetched under GPC');
  const storage = await page.evaluate(() => localStorage.length + sessionStorage.length);
  assert.equal(storage, 0, 'no web storage under GPC');
  assertNoForeignRequests(context);
  await context.close();
});
