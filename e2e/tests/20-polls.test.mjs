// Polls in the browser: voting with JavaScript on and off, the PollTimeout cookie appearing
// only after a vote with its declared lifetime, and the results chart passing axe.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, cookieNamed, assertNoAxeViolations, assertNoForeignRequests, ONE_DAY,
} from './helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function voteIn(page, path, answer) {
  const poll = page.locator('#poll-1');
  await poll.getByLabel(answer).check();
  await Promise.all([
    page.waitForURL((u) => u.hash === '#poll-1' && u.pathname === path),
    poll.getByRole('button', { name: 'Vote' }).click(),
  ]);
}

function assertPollCookie(cookie) {
  assert.ok(cookie, 'PollTimeout-1 should be set after voting');
  const expected = Date.now() / 1000 + ONE_DAY;
  assert.ok(Math.abs(cookie.expires - expected) < 120, `PollTimeout-1 should last one day; expires=${cookie.expires}`);
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Lax');
}

for (const js of [false, true]) {
  test(`voting ${js ? 'with' : 'without'} JavaScript sets the poll cookie only then, and shows the results`, async () => {
    const context = await newContext(browser, { javaScriptEnabled: js, userAgent: `e2e voter ${js ? 'js' : 'nojs'}` });
    const page = await context.newPage();
    const first = await page.goto(url('/polls/1'));
    assert.equal(first.status(), 200);
    assert.equal(await cookieNamed(context, 'PollTimeout-1'), undefined, 'viewing a poll sets no cookie');
    assert.equal(await page.locator('#poll-1 table').count(), 0, 'no results before voting');
    await voteIn(page, '/polls/1', 'Online scams');
    assertPollCookie(await cookieNamed(context, 'PollTimeout-1'));
    const results = page.locator('#poll-1 table.poll__results');
    assert.ok(await results.isVisible(), 'the results table should show after voting');
    const row = results.locator('tr', { has: page.getByRole('rowheader', { name: 'Online scams' }) });
    assert.match(await row.innerText(), /\d+\s+\d+%/, 'the count and share are shown as text');
    assert.match(await page.locator('#poll-1 .poll__notice').innerText(), /your vote has been counted/);
    assert.equal(await page.locator('#poll-1 input[name=option]').count(), 0, 'no second vote offered');
    await assertNoAxeViolations(page, `/polls/1 results (${js ? 'JS' : 'no JS'})`, { legacyMode: true });
    assertNoForeignRequests(context, '/polls/1');
    await context.close();
  });
}

test('the poll embedded on the home page votes and comes back to the home page', async () => {
  const context = await newContext(browser, { userAgent: 'e2e voter home page' });
  const page = await context.newPage();
  await page.goto(url('/'));
  assert.ok(await page.locator('#poll-1').isVisible(), 'the home page embeds poll 1');
  await voteIn(page, '/', 'Speeding on village roads');
  assert.ok(await page.locator('#poll-1 table.poll__results').isVisible());
  assertPollCookie(await cookieNamed(context, 'PollTimeout-1'));
  await context.close();
});

test('a closed poll shows its results to everyone, and they pass axe', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const response = await page.goto(url('/polls/2'));
  assert.equal(response.status(), 200);
  assert.match(await page.locator('#poll-2 .poll__notice').innerText(), /has closed/);
  assert.ok(await page.locator('#poll-2 table.poll__results').isVisible());
  assert.equal(await page.locator('#poll-2 input[name=option]').count(), 0);
  await assertNoAxeViolations(page, '/polls/2 (closed)', { legacyMode: true });
  await context.close();
});
