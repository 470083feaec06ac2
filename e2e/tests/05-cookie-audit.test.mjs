// After accepting every optional cookie and visiting every page, each cookie in the browser
// is one the site declares in /privacy.json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, crawl, pathOf, declaredCookies, assertNoForeignRequests, DEMO_PAGES,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('declared-name matcher treats {placeholders} as wildcards', async () => {
  const declared = await declaredCookies();
  assert.ok(declared.some((d) => d.re.test('candour_consent')), 'candour_consent should be declared');
  const fake = { name: 'PollTimeout-{poll_id}' };
  const re = new RegExp('^' + fake.name.split(/\{[^}]*\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.+') + '$');
  assert.ok(re.test('PollTimeout-123'));
  assert.ok(!re.test('PollTimeout-'));
  assert.ok(!re.test('XPollTimeout-1'));
});

test('cookie audit: after Accept and a crawl of every page, every cookie is declared in /privacy.json', async () => {
  const declared = await declaredCookies();
  const context = await newContext(browser);
  const page = await context.newPage();
  await page.goto(url('/'), { waitUntil: 'networkidle' });
  await page.locator('#cookie-banner').getByRole('button', { name: 'Accept optional cookies' }).click();
  await page.locator('#cookie-banner-confirmation').waitFor({ state: 'visible' });

  const visited = await crawl(page, {
    start: '/',
    cap: 50,
    visit: async (p) => { await p.waitForLoadState('networkidle'); },
  });
  const paths = visited.map(pathOf);
  for (const expected of DEMO_PAGES) assert.ok(paths.includes(expected), `the crawl should reach ${expected}`);

  const cookies = await context.cookies();
  const names = cookies.map((c) => c.name);
  // The audit must see both the server's cookie and the one the gated script sets.
  assert.ok(names.includes('candour_consent'), `candour_consent should be set; cookies: ${names.join(', ')}`);
  assert.ok(names.includes('northmoor_visits'), `the statistics script should have set northmoor_visits; cookies: ${names.join(', ')}`);
  const undeclared = cookies.filter((c) => !declared.some((d) => d.re.test(c.name)));
  assert.deepEqual(
    undeclared.map((c) => c.name),
    [],
    `undeclared cookie(s): ${undeclared.map((c) => `${c.name} (domain ${c.domain}, path ${c.path})`).join(', ')}; declared: ${declared.map((d) => d.name).join(', ')}`,
  );
  assertNoForeignRequests(context);
  await context.close();
});
