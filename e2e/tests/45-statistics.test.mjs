// Site statistics: a fresh visit is counted without anything stored in the browser, and a
// visitor turns statistics off (and on again) for their browser, with and without JavaScript.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, assertNoForeignRequests, assertNoAxeViolations, cookieNamed, ONE_YEAR,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('a fresh visit sets no cookie and stores nothing: no web storage, no IndexedDB', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  for (const path of ['/', '/privacy', '/cookies']) {
    const response = await page.goto(url(path), { waitUntil: 'networkidle' });
    assert.equal(response.status(), 200, path);
  }
  assert.deepEqual(await context.cookies(), [], 'no cookie after three counted pages');
  const stored = await page.evaluate(async () => ({
    local: Object.keys(localStorage),
    session: Object.keys(sessionStorage),
    databases: indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : [],
  }));
  assert.deepEqual(stored, { local: [], session: [], databases: [] });
  assertNoForeignRequests(context, 'a counted visit');
  await context.close();
});

test('the privacy notice and the cookie page link to the objection page', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  for (const path of ['/privacy', '/cookies']) {
    await page.goto(url(path));
    const link = page.locator('a[href="/statistics/object"]');
    assert.ok((await link.count()) >= 1, `${path} links to /statistics/object`);
  }
  await context.close();
});

for (const js of [true, false]) {
  test(`statistics are turned off and on again for this browser ${js ? 'with' : 'without'} JavaScript`, async () => {
    const context = await newContext(browser, js ? {} : { javaScriptEnabled: false });
    const page = await context.newPage();
    await page.goto(url('/statistics/object'));
    assert.equal(await cookieNamed(context, 'candour_no_stats'), undefined, 'no cookie before objecting');
    await assertNoAxeViolations(page, 'objection page, counted');

    await page.getByRole('button', { name: 'Turn off statistics for this browser' }).click();
    await page.waitForURL(/saved=off/);
    const cookie = await cookieNamed(context, 'candour_no_stats');
    assert.ok(cookie, 'the objection cookie is set');
    assert.equal(cookie.httpOnly, true);
    assert.ok(Math.abs(cookie.expires - Date.now() / 1000 - ONE_YEAR) < 120, 'kept for a year');
    await page.getByRole('status').filter({ hasText: 'Statistics are off for this browser' }).waitFor();
    await assertNoAxeViolations(page, 'objection page, turned off');

    await page.getByRole('button', { name: 'Turn statistics back on' }).click();
    await page.waitForURL(/saved=on/);
    assert.equal(await cookieNamed(context, 'candour_no_stats'), undefined, 'the cookie is gone');
    await page.getByRole('status').filter({ hasText: 'Statistics are back on' }).waitFor();
    assertNoForeignRequests(context, 'the objection page');
    await context.close();
  });
}
