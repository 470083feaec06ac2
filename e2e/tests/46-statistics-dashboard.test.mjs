// The statistics dashboard on the demo's few weeks of visits, as the demo's administrator:
//  - without JavaScript: the last 7 days with headline figures, the chart (an image with a
//    title and a description) beside its table, the panels; a row of the sources panel
//    filters every panel, and the filter is removed by its link; a custom range with an
//    impossible date gives the GOV.UK error summary (422); a panel's CSV downloads;
//  - with JavaScript: the same page, and the live count is refreshed without a reload;
//  - the import page for Google Analytics history.
// axe on each state. The public page is off in the demo: a 404.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, url, ORIGIN, assertNoForeignRequests } from './helpers.mjs';
import { STAFF, signIn, pathname, h1, axeCheck, assertErrorSummary } from './account-helpers.mjs';

let browser;
let adminState;

before(async () => {
  browser = await launch();
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(url('/account/sign-in'));
    const response = await signIn(page, STAFF());
    assert.equal(new URL(response.headers().location, ORIGIN).pathname, '/admin');
    adminState = await context.storageState();
  } finally {
    await context.close();
  }
});
after(async () => { await browser?.close(); });

async function go(page, clickable) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), clickable.click()]);
  assert.ok(response, 'a page should load');
  return response;
}

test('the dashboard shows, filters and exports the demo statistics without JavaScript', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false, storageState: adminState });
  const page = await context.newPage();
  try {
    await page.goto(url('/admin'));
    let r = await go(page, page.getByRole('navigation', { name: 'Admin console' }).getByRole('link', { name: 'Statistics' }));
    assert.equal(r.status(), 200);
    assert.equal(await h1(page), 'Site statistics');
    await axeCheck(page, '/admin/statistics (30 days)');

    // The last 7 days, chosen with the GET form.
    await page.getByRole('radio', { name: 'Last 7 days' }).check();
    r = await go(page, page.getByRole('button', { name: 'Show statistics' }));
    assert.equal(r.status(), 200);
    assert.equal(r.request().method(), 'GET');
    assert.equal(new URL(page.url()).searchParams.get('range'), '7d');
    const visitors = await page.locator('.stats-headlines li').first().innerText();
    assert.match(visitors, /Visitors\s+[1-9][\d,]*/, `some visitors in the demo's last week: ${visitors}`);
    const chart = page.getByRole('img', { name: /Page views and visitors by day/ });
    assert.equal(await chart.count(), 1);
    assert.equal(await page.locator('svg.stats-chart desc').count(), 1);
    const series = page.getByRole('table', { name: 'Figures by day (UK time)' });
    assert.equal(await series.locator('tbody tr').count(), 7);
    await axeCheck(page, '/admin/statistics?range=7d');

    // A source filters every panel; its link removes the filter.
    const sources = page.getByRole('region', { name: 'Sources', exact: true });
    const google = sources.getByRole('link', { name: /www\.google\.com/ });
    r = await go(page, google);
    assert.equal(r.status(), 200);
    const q = new URL(page.url()).searchParams;
    assert.deepEqual([q.get('range'), q.get('filter'), q.get('value')], ['7d', 'source', 'www.google.com']);
    assert.match(await page.locator('#filter').innerText(), /Showing only visits with the source www\.google\.com/);
    const filtered = page.getByRole('region', { name: 'Sources', exact: true }).locator('tbody tr');
    assert.equal(await filtered.count(), 1, 'the filter\'s own panel holds only its value');
    await axeCheck(page, '/admin/statistics (filtered)');
    r = await go(page, page.getByRole('link', { name: 'Remove this filter' }));
    assert.equal(new URL(page.url()).searchParams.get('filter'), null);

    // A panel's CSV.
    const csvLink = page.getByRole('link', { name: /Download top pages as CSV/ });
    const href = await csvLink.getAttribute('href');
    assert.ok(href.startsWith('/admin/statistics.csv?panel=page'), href);
    const download = await context.request.get(url(href));
    assert.equal(download.status(), 200);
    assert.equal((await download.text()).split('\n')[0], 'page,visitors,visits,pageviews,bounces,visit_seconds,events');

    // An impossible custom date.
    await page.getByRole('radio', { name: 'Custom dates' }).check();
    await page.locator('summary', { hasText: 'Enter custom dates' }).click();
    const from = page.getByRole('group', { name: 'From', exact: true });
    await from.getByLabel('Day').fill('31');
    await from.getByLabel('Month').fill('2');
    await from.getByLabel('Year').fill('2026');
    const to = page.getByRole('group', { name: 'To', exact: true });
    await to.getByLabel('Day').fill('1');
    await to.getByLabel('Month').fill('3');
    await to.getByLabel('Year').fill('2026');
    r = await go(page, page.getByRole('button', { name: 'Show statistics' }));
    assert.equal(r.status(), 422);
    await assertErrorSummary(page, 'The start date must be a real date', 'from_day');
    assert.equal(await page.getByRole('group', { name: 'From', exact: true }).getByLabel('Day').inputValue(), '31');
    await axeCheck(page, '/admin/statistics (an impossible date)');

    // The import page.
    await page.goto(url('/admin/statistics/import'));
    assert.equal(await h1(page), 'Import history from Google Analytics');
    await axeCheck(page, '/admin/statistics/import');
    assertNoForeignRequests(context, 'statistics dashboard');
  } finally {
    await context.close();
  }
});

test('with JavaScript the live count refreshes and the page stays accessible', async () => {
  const context = await newContext(browser, { storageState: adminState });
  const page = await context.newPage();
  try {
    await page.clock.install();
    await page.goto(url('/admin/statistics?range=today'));
    assert.equal(await h1(page), 'Site statistics');
    assert.ok(await page.getByRole('table', { name: 'Figures by hour (UK time)' }).count() === 1);
    const live = page.waitForResponse((res) => new URL(res.url()).pathname === '/admin/statistics/live');
    await page.clock.runFor(31_000);
    const answer = await live;
    assert.equal(answer.status(), 200);
    assert.equal(typeof (await answer.json()).visitors, 'number');
    await axeCheck(page, '/admin/statistics?range=today (JavaScript)');
    assertNoForeignRequests(context, 'statistics dashboard with JavaScript');
  } finally {
    await context.close();
  }
});

test('the public statistics page is off in the demo', async () => {
  const context = await newContext(browser);
  try {
    const res = await context.request.get(url('/statistics'));
    assert.equal(res.status(), 404);
  } finally {
    await context.close();
  }
});
