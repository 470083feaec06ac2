// A first visit to any page stores nothing in the browser and asks no other host for anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, url, assertNoForeignRequests, DEMO_PAGES } from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const path of DEMO_PAGES) {
  test(`fresh visit to ${path}: no cookies, no web storage, no third-party requests`, async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const response = await page.goto(url(path), { waitUntil: 'networkidle' });
    assert.equal(response.status(), 200, `${path} should answer 200`);
    assert.deepEqual(
      (await context.cookies()).map((c) => `${c.name} (${c.domain})`),
      [],
      `no cookie may be set before a choice, on ${path}`,
    );
    const storage = await page.evaluate(() => ({
      local: Object.keys(localStorage),
      session: Object.keys(sessionStorage),
    }));
    assert.deepEqual(storage.local, [], `localStorage should be empty on ${path}`);
    assert.deepEqual(storage.session, [], `sessionStorage should be empty on ${path}`);
    assert.equal(await page.locator('html').getAttribute('data-visit-counter'), null, `no gated script may run on ${path}`);
    assertNoForeignRequests(context, path);
    await context.close();
  });
}
