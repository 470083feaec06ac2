// Crawl every same-origin page from the home page on a fresh visit (banner showing): each
// answers 200, has no axe violations, and the browser never asks another host for anything.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, crawl, pathOf, assertNoAxeViolations, assertNoForeignRequests, DEMO_PAGES,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('crawl: every same-origin page is 200, accessible with the banner showing, and loads nothing from other hosts', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const failures = [];
  const visited = await crawl(page, {
    start: '/',
    cap: 50,
    visit: async (p, u, response) => {
      const where = pathOf(u);
      if (!response || response.status() !== 200) {
        failures.push(`${where}: status ${response ? response.status() : 'none'}`);
        return;
      }
      if (!(await p.locator('#cookie-banner form.cookie-banner__form').isVisible())) {
        failures.push(`${where}: the cookie banner with its choice form is not showing on a fresh visit`);
      }
      try {
        await assertNoAxeViolations(p, where);
      } catch (e) {
        failures.push(e.message);
      }
    },
  });
  const paths = visited.map(pathOf);
  for (const expected of DEMO_PAGES) {
    assert.ok(paths.includes(expected), `the crawl from / should reach ${expected}; it reached: ${paths.join(', ')}`);
  }
  assert.deepEqual(failures, [], failures.join('\n'));
  assertNoForeignRequests(context, `crawl of ${paths.join(', ')}`);
  await context.close();
});
