// Requests people make about their own data, in the browser:
//  - a visitor without an account makes a request at /requests, with JavaScript off and on:
//    the form's errors (nothing chosen; a bad address) show the GOV.UK error summary, each
//    link pointing at its field, with what was typed kept; a good request says "Check your
//    email"; the emailed link opens a page with a button (a GET confirms nothing); pressing it
//    says the request was received and links to its status page; the status page shows the
//    due date; the used link is refused, and a changed status link is a 404;
//  - a signed-in person with a confirmed address: the request is received at once (no link),
//    and their account lists it;
//  - the demo's administrator (administrators and privacy officers may manage requests) sees
//    the demo's requests and the new one in the queue, soonest due first, with its due date;
//    on the case page asks the person a question (the person's outbox gets it), records the
//    answer, extends the time by two months with reasons (the person is told), and refuses
//    with reasons (the person is told, with the right to complain to the ICO); the refused
//    request leaves the queue and its status page says why.
// axe on each state (the pages that answer a POST with JavaScript on; see
// assertNoAxeViolations), no request to another host, no undeclared cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, ORIGIN, assertNoForeignRequests,
} from './helpers.mjs';
import {
  STAFF, freshEmail, submit, signIn, pathname, h1, axeCheck, assertOnlyDeclaredCookies,
  waitForEmail, linkIn, register, confirmEmail, assertErrorSummaryLists,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The requests the visitor tests made: { id, email, status (link) }, for the staff test. */
const made = [];

const MONTHS = '(January|February|March|April|May|June|July|August|September|October|November|December)';
const UK_DATE = `\\d{1,2} ${MONTHS} \\d{4}`;

/** The text of the element, with its white space folded. */
async function text(locator) {
  return (await locator.innerText()).replace(/\s+/g, ' ').trim();
}

/** The <dd> beside the <dt> named `term` in the page's facts list. */
async function fact(page, term) {
  const dd = page.locator(`main dl.facts dt:text-is("${term}") + dd`);
  assert.equal(await dd.count(), 1, `the page should state "${term}"`);
  return text(dd);
}

for (const js of [false, true]) {
  test(`a visitor without an account makes a request, JavaScript ${js ? 'on' : 'off'}`, async () => {
    const context = await newContext(browser, { javaScriptEnabled: js });
    try {
      const page = await context.newPage();
      const email = freshEmail(js ? 'request-js' : 'request-nojs');
      const name = js ? 'Robin Ash' : 'Kit Fenwick';

      // The front door is linked from the footer of every page.
      await page.goto(url('/'));
      const footerLink = page.locator('footer').getByRole('link', { name: 'Ask about your data' });
      assert.equal(await footerLink.count(), 1, 'the footer should link to the request form');
      await Promise.all([page.waitForNavigation(), footerLink.click()]);
      assert.equal(pathname(page), '/requests');
      assert.equal(await h1(page), 'Ask about your data');
      await axeCheck(page, '/requests');

      // Nothing chosen or typed: every problem, in the order of the page.
      let response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
      assert.equal(response.status(), 422, 'an empty request should be refused with 422');
      await assertErrorSummaryLists(page, [
        ['#kind', 'Choose what you are asking for'],
        ['#name', 'Enter your name'],
        ['#email', 'Enter an email address'],
      ]);
      if (js) await axeCheck(page, '/requests with every field wrong');

      // "Something else" needs its words; the hint of the box says so.
      assert.match(await text(page.locator('#details-hint')), /If you chose “Something else”, tell us what you are asking for/);
      await page.getByLabel('Something else').check();
      await page.locator('#name').fill(name);
      await page.locator('#email').fill(email);
      response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
      assert.equal(response.status(), 422, '"Something else" without words should be refused with 422');
      await assertErrorSummaryLists(page, [['#details', 'Tell us what you are asking for']]);
      assert.ok(await page.getByLabel('Something else').isChecked(), 'the choice should be kept');

      // A bad address: only that is wrong, and what was typed and chosen is kept.
      await page.getByLabel('A copy of the data you hold about me').check();
      await page.locator('#name').fill(name);
      await page.locator('#email').fill('not-an-address');
      await page.locator('#details').fill('Anything you hold from the survey I answered in May.');
      response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
      assert.equal(response.status(), 422, 'a request with a bad address should be refused with 422');
      await assertErrorSummaryLists(page, [
        ['#email', 'Enter an email address in the correct format, like name@example.org'],
      ]);
      assert.equal(await page.locator('#name').inputValue(), name, 'the name typed should be kept');
      assert.equal(await page.locator('#email').inputValue(), 'not-an-address', 'the address typed should be kept');
      assert.ok(await page.getByLabel('A copy of the data you hold about me').isChecked(), 'the choice should be kept');
      assert.match(await page.locator('#details').inputValue(), /survey I answered in May/);
      if (js) await axeCheck(page, '/requests with a bad address');

      // A good request: the address must confirm it.
      await page.locator('#email').fill(email);
      response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
      assert.equal(response.status(), 200, `a good request should answer 200; it answered ${response.status()}`);
      assert.equal(await h1(page), 'Check your email');
      if (js) await axeCheck(page, '/requests, check your email');

      const mail = await waitForEmail(email, /^Confirm your request to Northmoor Police$/);
      assert.match(mail.body, /A copy of the data you hold about me/, 'the email should say what was asked for');
      const link = linkIn(mail, '/requests/confirm');

      // The link shows a button; opening it confirms nothing.
      const opened = await page.goto(link);
      assert.equal(opened.status(), 200, 'the confirmation link should open a page');
      assert.equal(await h1(page), 'Confirm your request');
      const button = page.getByRole('button', { name: 'Confirm my request' });
      assert.equal(await button.count(), 1, 'the link should show a "Confirm my request" button');
      await axeCheck(page, '/requests/confirm');

      response = await submit(page, button, '/requests/confirm');
      assert.equal(response.status(), 200, `confirming should answer 200; it answered ${response.status()}`);
      assert.equal(await h1(page), 'We have received your request');
      const statusLink = page.locator('main').getByRole('link', { name: 'See where your request stands' });
      assert.equal(await statusLink.count(), 1, 'the confirmed page should link to the status page');
      const status = new URL(await statusLink.getAttribute('href'), ORIGIN);
      assert.equal(status.origin, ORIGIN, 'the status link should be on this site');
      assert.equal(status.pathname, '/requests/status');
      if (js) await axeCheck(page, '/requests/confirm, confirmed');

      // The acknowledgement carries the same link and the number.
      const ack = await waitForEmail(email, /^We have received your request \(number \d+\)$/);
      const id = Number(ack.headers.subject.match(/number (\d+)/)[1]);
      assert.equal(linkIn(ack, '/requests/status'), status.href, 'the email should carry the status link the page showed');

      // The status page: what was asked, when, and when it is due.
      const shown = await page.goto(status.href);
      assert.equal(shown.status(), 200);
      assert.equal(await h1(page), `Your request (number ${id})`);
      assert.equal(await fact(page, 'What you asked for'), 'A copy of the data you hold about me');
      assert.match(await fact(page, 'Received'), new RegExp(`^${UK_DATE}$`));
      assert.equal(await fact(page, 'Where it stands'), 'Received');
      assert.match(await fact(page, 'When we will answer'), new RegExp(`^Due ${UK_DATE}$`));
      await axeCheck(page, '/requests/status');

      // A changed number in the link is not found (requests cannot be walked).
      const token = status.searchParams.get('token');
      const changed = new URL(status);
      changed.searchParams.set('token', token.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')));
      const walked = await page.goto(changed.href);
      assert.equal(walked.status(), 404, 'a changed status link should be a 404');

      // The used link: the page may open, but pressing its button is refused.
      await page.goto(link);
      const again = page.getByRole('button', { name: 'Confirm my request' });
      if (await again.count() > 0) {
        response = await submit(page, again, '/requests/confirm');
        assert.equal(response.status(), 400, `a used link should be refused with 400; it answered ${response.status()}`);
      }
      assert.equal(await h1(page), 'This link cannot be used');
      if (js) await axeCheck(page, '/requests/confirm, used link');

      made.push({ id, email, status: status.href });
      assertNoForeignRequests(context, `request, JavaScript ${js ? 'on' : 'off'}`);
      await assertOnlyDeclaredCookies(context, `after a request, JavaScript ${js ? 'on' : 'off'}`);
    } finally {
      await context.close();
    }
  });
}

test('a signed-in person makes a request and finds it in their account', async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const who = { name: 'Lee Marsh', email: freshEmail('request-account'), password: 'lantern orbit cabbage 7' };
    await register(page, who);
    await confirmEmail(page, who.email);
    await signIn(page, who);

    await page.goto(url('/account'));
    const ask = page.locator('main').getByRole('link', { name: 'ask for a copy of your data, a correction or erasure' });
    assert.equal(await ask.count(), 1, 'the account page should link to the request form');
    await Promise.all([page.waitForNavigation(), ask.click()]);
    assert.equal(pathname(page), '/requests');
    assert.doesNotMatch(await text(page.locator('main')), /You do not need an account/,
      'a signed-in person is not told about the emailed link');
    await page.getByLabel('Delete data about me').check();
    await page.locator('#name').fill(who.name);
    await page.locator('#email').fill(who.email);
    const response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
    assert.equal(response.status(), 200, `the request should answer 200; it answered ${response.status()}`);
    assert.equal(await h1(page), 'We have received your request', 'a signed-in request needs no emailed link');
    await axeCheck(page, '/requests, received while signed in');
    const ack = await waitForEmail(who.email, /^We have received your request \(number \d+\)$/);
    const id = ack.headers.subject.match(/number (\d+)/)[1];

    await page.goto(url('/requests/mine'));
    assert.equal(await h1(page), 'Your requests about your data');
    const row = await text(page.locator('main table tbody tr'));
    assert.match(row, new RegExp(`^${id} Delete data about me ${UK_DATE} Received$`), `the account should list the request: ${row}`);
    await axeCheck(page, '/requests/mine');

    assertNoForeignRequests(context, 'a signed-in request');
    await assertOnlyDeclaredCookies(context, 'after a signed-in request');
  } finally {
    await context.close();
  }
});

test('the privacy officer works a request through the queue', async () => {
  assert.ok(made.length > 0, 'the visitor tests should have made a request');
  const { id, email, status } = made[made.length - 1];
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(url('/account/sign-in'));
    await signIn(page, STAFF());

    // The queue: the demo's requests and the new one, soonest due first.
    await page.goto(url('/admin/requests'));
    assert.equal(await h1(page), 'Requests about data');
    const table = page.getByRole('table', { name: 'Open requests about personal data, soonest due first' });
    const rows = table.locator('tbody tr');
    const all = await rows.evaluateAll((trs) => trs.map((tr) =>
      [...tr.querySelectorAll('td')].map((td) => td.textContent.replace(/\s+/g, ' ').trim())));
    const numbers = all.map((cells) => Number(cells[0]));
    assert.ok(numbers.includes(id), `the queue should list request ${id}; it lists ${numbers.join(', ')}`);
    const ours = all.find((cells) => Number(cells[0]) === id);
    assert.equal(ours[1], 'A copy of the data you hold about me');
    assert.equal(ours[4], 'Received');
    assert.match(ours[5], new RegExp(`^Due ${UK_DATE}$`), `request ${id} should show its due date; it shows "${ours[5]}"`);
    assert.match(ours[6], /^\d+ days$/, `request ${id} should show the days left; it shows "${ours[6]}"`);
    // The demo's requests: one overdue, one waiting for proof of identity, one extended.
    const states = all.map((cells) => cells[4]);
    for (const s of ['Waiting for proof of identity', 'Extended', 'In progress']) {
      assert.ok(states.includes(s), `the demo's queue should have a request "${s}"; it has ${states.join(', ')}`);
    }
    assert.ok(all.some((cells) => /days? overdue$/.test(cells[6])), 'the demo should have an overdue request');
    assert.match(await text(page.locator('main p').first()), /[1-9]\d* overdue/, 'the queue should count the overdue requests');
    // Soonest due first: the dates with a clock are in order.
    const left = all.map((cells) => cells[6]).filter((l) => l !== 'Waiting').map((l) =>
      (l === 'Due today' ? 0 : Number(l.match(/^(\d+)/)[1]) * (/overdue/.test(l) ? -1 : 1)));
    assert.deepEqual(left, [...left].sort((a, b) => a - b), `the queue should be soonest due first: ${left.join(', ')}`);
    await axeCheck(page, '/admin/requests');

    // The demo's overdue request, and the one waiting for proof of identity.
    const late = all.find((cells) => /overdue$/.test(cells[6]));
    await page.goto(url(`/admin/requests/${late[0]}`));
    assert.match(await fact(page, 'Time left'), /^\d+ days? overdue$/);
    await axeCheck(page, `/admin/requests/${late[0]}, overdue`);
    const waiting = all.find((cells) => cells[4] === 'Waiting for proof of identity');
    await page.goto(url(`/admin/requests/${waiting[0]}`));
    assert.equal(await fact(page, 'Clock'), 'Waiting for proof of identity: the month starts when it arrives');
    assert.equal(await page.locator('main dl.facts dt:text-is("Time left")').count(), 0,
      'while the month has not started, no time left is shown');
    await axeCheck(page, `/admin/requests/${waiting[0]}, waiting for identity`);
    await page.goto(url('/admin/requests'));

    // The case page.
    await table.getByRole('link', { name: String(id), exact: true }).click();
    await page.waitForURL(url(`/admin/requests/${id}`));
    assert.equal(await h1(page), `Request ${id}: A copy of the data you hold about me`);
    assert.equal(await fact(page, 'Where it stands'), 'Received');
    assert.match(await fact(page, 'Clock'), new RegExp(`^Due ${UK_DATE}$`));
    assert.match(await fact(page, 'Time left'), /^\d+ days$/);
    assert.match(await fact(page, 'From'), new RegExp(email.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    await axeCheck(page, `/admin/requests/${id}`);

    const change = `/admin/requests/${id}/change`;

    // Ask a question: an empty one is refused, with the summary pointing at the question.
    let response = await submit(page, page.getByRole('button', { name: 'Send the question' }), change);
    assert.equal(response.status(), 422);
    await assertErrorSummaryLists(page, [['#question', 'Enter what you need to know']]);
    await axeCheck(page, `/admin/requests/${id}, empty question`);

    const question = 'Which survey do you mean: the one in May, or the one in June?';
    await page.locator('#question').fill(question);
    response = await submit(page, page.getByRole('button', { name: 'Send the question' }), change);
    assert.equal(response.status(), 303);
    assert.equal(await fact(page, 'Where it stands'), 'Waiting for more information');
    assert.match(await fact(page, 'Clock'), /^Waiting for the person to clarify: \d+ days will be left when they do$/);
    assert.equal(await page.locator('main dl.facts dt:text-is("Time left")').count(), 0,
      'while the clock stands, no time left is shown');
    await axeCheck(page, `/admin/requests/${id}, waiting for a clarification`);
    const asked = await waitForEmail(email, new RegExp(`^A question about your request \\(request ${id}\\)$`));
    assert.ok(asked.body.includes(question), `the person should be sent the question; the email says: ${asked.body}`);

    // Their answer arrives.
    response = await submit(page, page.getByRole('button', { name: 'The person has clarified: start the clock again' }), change);
    assert.equal(response.status(), 303);
    assert.equal(await fact(page, 'Where it stands'), 'In progress');
    assert.match(await fact(page, 'Clarification 1'), new RegExp(`^Asked on ${UK_DATE}; answered on ${UK_DATE}$`));

    // Extend: without reasons it is refused, and the summary points at the extension's reasons.
    const extend = page.locator('form', { has: page.getByRole('button', { name: 'Extend' }) });
    await extend.getByLabel('Two months').check();
    response = await submit(page, page.getByRole('button', { name: 'Extend', exact: true }), change);
    assert.equal(response.status(), 422);
    await assertErrorSummaryLists(page, [['#reasons', 'Enter why the request needs more time (the person is told)']]);
    const target = page.locator('form', { has: page.getByRole('button', { name: 'Extend', exact: true }) }).locator('#reasons');
    assert.equal(await target.count(), 1, 'the summary should point at the reasons of the extension, not of the refusal');
    assert.ok(await page.locator('form', { has: page.getByRole('button', { name: 'Extend', exact: true }) }).getByLabel('Two months').isChecked(),
      'the length chosen should be kept');
    await axeCheck(page, `/admin/requests/${id}, extension without reasons`);

    const why = 'You asked for every record since 2019, held in three systems.';
    await target.fill(why);
    response = await submit(page, page.getByRole('button', { name: 'Extend', exact: true }), change);
    assert.equal(response.status(), 303);
    assert.equal(await fact(page, 'Where it stands'), 'Extended');
    assert.match(await fact(page, 'Clock'), new RegExp(`^Due ${UK_DATE} \\(extended\\)$`));
    assert.match(await fact(page, 'Time left'), /^\d+ days$/);
    assert.equal(await fact(page, 'Why it was extended'), why);
    const extended = await waitForEmail(email, new RegExp(`^We need more time for your request \\(request ${id}\\)$`));
    assert.ok(extended.body.includes(why), 'the person should be told why');
    assert.match(extended.body, /2 more month/);

    // Refuse, with reasons.
    const reasons = 'The records you ask about are part of an open investigation.';
    await page.locator('form', { has: page.getByRole('button', { name: 'Refuse the request' }) }).locator('textarea').fill(reasons);
    response = await submit(page, page.getByRole('button', { name: 'Refuse the request' }), change);
    assert.equal(response.status(), 303);
    assert.equal(await fact(page, 'Where it stands'), 'Refused');
    assert.equal(await fact(page, 'Why it was refused'), reasons);
    assert.equal(await page.getByRole('heading', { name: 'Next steps' }).count(), 0, 'a closed request offers no more steps');
    const history = await text(page.locator('main table').last());
    for (const what of ['Request made', 'Confirmed by the person', 'Asked the person to clarify', 'The person clarified', 'Time extended', 'Refused']) {
      assert.ok(history.includes(what), `the history should record "${what}": ${history}`);
    }
    await axeCheck(page, `/admin/requests/${id}, refused`);
    const refused = await waitForEmail(email, new RegExp(`^Our answer to your request \\(request ${id}\\)$`));
    assert.ok(refused.body.includes(reasons), 'the person should be told why');
    assert.match(refused.body, /Information Commissioner/, 'the person should be told of their right to complain to the ICO');

    // It leaves the queue for the list of closed requests; the person's status page says why.
    await page.goto(url('/admin/requests'));
    assert.equal(await page.getByRole('table', { name: /^Open requests/ }).getByRole('link', { name: String(id), exact: true }).count(), 0,
      'a refused request should leave the queue');
    const closedRow = page.getByRole('table', { name: 'Answered or refused' }).getByRole('row')
      .filter({ has: page.getByRole('link', { name: String(id), exact: true }) });
    assert.match(await text(closedRow), /Refused/, 'it should be listed as refused');
    await page.goto(status);
    assert.equal(await fact(page, 'Where it stands'), 'Refused');
    assert.match(await text(page.locator('main')), new RegExp(`Why we refused ${reasons.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    await axeCheck(page, '/requests/status, refused');

    assertNoForeignRequests(context, 'the queue');
    await assertOnlyDeclaredCookies(context, 'after working a request');
  } finally {
    await context.close();
  }
});
