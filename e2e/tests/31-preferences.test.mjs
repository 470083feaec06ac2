// The preference centre without an account, once with JavaScript and once without: agree to
// the news by email on form 1, ask /preferences for a link, open the emailed link (which only
// shows a Continue button), continue (the visit cookie candour_preferences is set then and not
// before), see the consent as agreed with its history, withdraw it, agree again, and finish the
// visit. A used link cannot be used again; a link that was not copied in full is refused.
// axe on the ask page, the centre and the refused link; no request to another host and no
// undeclared cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, cookieNamed, assertNoForeignRequests,
} from './helpers.mjs';
import {
  freshEmail, waitForEmail, linkIn, submit, pathname, h1, axeCheck, assertOnlyDeclaredCookies,
  confirmFormConsent,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const VISIT_COOKIE = 'candour_preferences';
const VISIT_SECONDS = 1800;
const NEWS = 'Send me news, appeals and safety advice by email';
const RESEARCH_BY_PHONE = 'Ask me to take part in research about policing here by telephone';
const LINK_SUBJECT = /^Your choices with Northmoor Police$/;

/** Send form 1 with only the email address and the news box ticked. */
async function signUpForNews(page, email) {
  await page.goto(url('/forms/1'));
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel(NEWS).check();
  const sent = await submit(page, page.locator('main').getByRole('button', { name: 'Send', exact: true }), '/forms/1');
  assert.equal(sent.status(), 200, `form 1 should accept ${email}; it answered ${sent.status()}: ${await page.locator('main').innerText()}`);
  assert.equal(await h1(page), 'Thank you: your answers have been sent');
  // The address confirms what the form agreed to; the answer links to the preference centre.
  await confirmFormConsent(page, email);
}

function escapeRe(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A Withdraw or Agree button: its visible text is the verb, and its accessible name ends with
 * ": <wording>" (Chromium puts a space before the colon, as the hidden part is laid out apart).
 */
function changeButton(row, verb, wording) {
  return row.getByRole('button', { name: new RegExp(`^${verb}\\s*: ${escapeRe(wording)}$`) });
}

/** The row of the centre's consent table for `wording`, and its status cell. */
function consentRow(page, wording) {
  const row = page.locator('main table tbody tr', { has: page.getByRole('rowheader', { name: wording, exact: true }) });
  return { row, status: row.locator('td').first() };
}

/** The history table's rows, newest first, as [what, choice, how]. */
async function history(page) {
  const section = page.locator('main section', { has: page.getByRole('heading', { name: 'The record of your choices' }) });
  assert.equal(await section.count(), 1, 'the centre should have "The record of your choices"');
  const rows = await section.locator('table tbody tr').evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll('td')].slice(1).map((td) => td.textContent.trim())));
  return rows.map((cells) => cells.map(withoutSentTime));
}

/** How the record names a consent given on form 1 and confirmed from the address, with the
 * time the form was sent replaced by "(time)" (see withoutSentTime). */
const FORM_1_CONFIRMED = 'Form 1 (version 1), sent (time) and confirmed from the address';

function withoutSentTime(text) {
  return text.replace(/, sent \d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4} at (\d{1,2}:\d{2}(am|pm)|midnight|midday) and confirmed/, ', sent (time) and confirmed');
}

function assertVisitCookie(cookie) {
  assert.ok(cookie, `${VISIT_COOKIE} should be set once Continue is pressed`);
  assert.equal(cookie.httpOnly, true, `${VISIT_COOKIE} should be HttpOnly`);
  assert.equal(cookie.path, '/', `${VISIT_COOKIE} should have Path=/`);
  const expected = Date.now() / 1000 + VISIT_SECONDS;
  assert.ok(cookie.expires > 0 && Math.abs(cookie.expires - expected) < 120,
    `${VISIT_COOKIE} should last ${VISIT_SECONDS} s (Max-Age); it expires at ${cookie.expires}, expected about ${Math.round(expected)}`);
}

async function press(page, name, action) {
  const button = page.locator('main').getByRole('button', { name, exact: true });
  assert.equal(await button.count(), 1, `the page should have one "${name}" button; it says: ${await page.locator('main').innerText()}`);
  return submit(page, button, action);
}

async function preferencesFlow({ js }) {
  const mode = js ? 'JS' : 'no JS';
  const context = await newContext(browser, js ? {} : { javaScriptEnabled: false });
  const page = await context.newPage();
  const email = freshEmail(js ? 'prefs-js' : 'prefs-nojs');
  const axe = async (label) => { if (js) await axeCheck(page, `${label} (${mode})`); };
  try {
    await signUpForNews(page, email);
    await page.locator('main').getByRole('link', { name: 'preference centre' }).click();
    await page.waitForURL((u) => u.pathname === '/preferences');

    // Not signed in and no visit: the page asks for an address.
    assert.equal(await h1(page), 'Your choices');
    assert.equal(await page.getByLabel('Email address').getAttribute('name'), 'email');
    assert.equal(await page.locator('main').getByRole('button', { name: 'Withdraw' }).count(), 0, 'nothing to change before the link is used');
    assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined, `no ${VISIT_COOKIE} cookie before a link is used`);
    await axe('/preferences (ask for a link)');

    await page.getByLabel('Email address').fill(email);
    const asked = await press(page, 'Email me a link', '/preferences/link');
    assert.equal(asked.status(), 200, `asking for a link should answer 200; it answered ${asked.status()}`);
    const notice = page.locator('main [role=status]');
    assert.match(await notice.innerText(), /Check your email/, 'the page should say to check the email');
    assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined, `asking for a link sets no ${VISIT_COOKIE} cookie`);
    await axe('/preferences/link → Check your email');

    const mail = await waitForEmail(email, LINK_SUBJECT);
    const link = linkIn(mail, '/preferences/open');

    // Opening the link only shows a button: a mail scanner that follows it uses nothing up.
    const opened = await page.goto(link);
    assert.equal(opened.status(), 200, 'the emailed link should open a page');
    assert.equal(await h1(page), 'Open your choices');
    assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined, `merely opening the link should not set ${VISIT_COOKIE}`);
    await axe('/preferences/open');
    // Opening it twice does not use it up either.
    assert.equal((await page.goto(link)).status(), 200, 'opening the link again (GET) should still show the Continue page');
    assert.equal(await h1(page), 'Open your choices');
    assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined);

    const continued = await press(page, 'Continue', '/preferences/open');
    assert.equal(continued.status(), 303, `Continue should redirect; it answered ${continued.status()}`);
    assert.equal(new URL(continued.headers().location, url('/')).pathname, '/preferences', 'Continue should redirect to /preferences');
    const setCookie = (await continued.headerValue('set-cookie')) || '';
    assert.match(setCookie, new RegExp(`^${VISIT_COOKIE}=`), `Continue's answer should set ${VISIT_COOKIE}`);
    assert.match(setCookie, /;\s*Max-Age=1800\b/i, `${VISIT_COOKIE} should be set with Max-Age=1800: ${setCookie}`);
    assert.match(setCookie, /;\s*HttpOnly\b/i, `${VISIT_COOKIE} should be HttpOnly: ${setCookie}`);
    assertVisitCookie(await cookieNamed(context, VISIT_COOKIE));

    // The centre: the news consent given on the form is agreed.
    assert.equal(pathname(page), '/preferences');
    assert.equal(await h1(page), 'Your choices');
    assert.match(await page.locator('main').innerText(), new RegExp(`For\\s+${escapeRe(email)}`), 'the centre should say whose choices these are');
    const news = consentRow(page, NEWS);
    assert.equal(await news.row.count(), 1, `the centre should have a row "${NEWS}"`);
    assert.match(await news.status.innerText(), /^Agreed since \d/, 'the news consent should show as agreed, with since when');
    assert.equal(await changeButton(news.row, 'Withdraw', NEWS).count(), 1, 'the Withdraw button should name what it withdraws');
    const phone = consentRow(page, RESEARCH_BY_PHONE);
    assert.equal((await phone.status.innerText()).trim(), 'Not agreed', 'research by telephone was never agreed');
    assert.equal(await changeButton(phone.row, 'Agree', RESEARCH_BY_PHONE).count(), 1);
    assert.ok(await page.locator('main').getByRole('heading', { name: 'Stop all marketing' }).isVisible());
    assert.equal(await page.locator('main').getByRole('button', { name: 'No marketing by email' }).count(), 1);
    assert.equal(await page.locator('main').getByRole('button', { name: 'Save interests' }).count(), 1);
    assert.equal(await page.locator('main').getByRole('button', { name: 'Finish' }).count(), 1);
    assert.deepEqual(await history(page), [['News, appeals and safety advice, by email', 'Agreed', FORM_1_CONFIRMED]],
      'the record should show the consent given on form 1');
    await axe('/preferences (the centre)');

    // Withdraw.
    const withdrawn = await submit(page, changeButton(news.row, 'Withdraw', NEWS), '/preferences/consent');
    assert.equal(withdrawn.status(), 303, `withdrawing should redirect; it answered ${withdrawn.status()}`);
    assert.equal(pathname(page), '/preferences');
    assert.match(await page.locator('main [role=status]').innerText(), /Your consent has been withdrawn/);
    assert.match(await news.status.innerText(), /^Not agreed/, 'the news consent should now show as not agreed');
    assert.equal(await changeButton(news.row, 'Agree', NEWS).count(), 1, 'withdrawn, the row should offer Agree');
    assert.equal(await news.row.getByRole('button', { name: /^Withdraw/ }).count(), 0);
    assert.deepEqual(await history(page), [
      ['News, appeals and safety advice, by email', 'Withdrawn', 'Preference centre'],
      ['News, appeals and safety advice, by email', 'Agreed', FORM_1_CONFIRMED],
    ], 'the record should show the withdrawal, newest first');
    await axe('/preferences?done=withdrawn');

    // Agree again.
    const granted = await submit(page, changeButton(news.row, 'Agree', NEWS), '/preferences/consent');
    assert.equal(granted.status(), 303);
    assert.match(await page.locator('main [role=status]').innerText(), /your consent has been recorded/);
    assert.match(await news.status.innerText(), /^Agreed since \d/, 'the news consent should show as agreed again');
    assert.deepEqual((await history(page)).map((r) => r.slice(1)), [
      ['Agreed', 'Preference centre'],
      ['Withdrawn', 'Preference centre'],
      ['Agreed', FORM_1_CONFIRMED],
    ], 'the record should show the three choices, newest first');

    // Finish: the visit ends, and the page asks for an address again.
    const finished = await press(page, 'Finish', '/preferences/leave');
    assert.equal(finished.status(), 303);
    assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined, `Finish should remove ${VISIT_COOKIE}`);
    await page.goto(url('/preferences'));
    assert.equal(await page.locator('main').getByRole('button', { name: 'Email me a link' }).count(), 1, 'after Finish /preferences asks for an address again');

    // The used link: it still opens its page, but Continue is refused and changes nothing.
    assert.equal((await page.goto(link)).status(), 200);
    const reused = await press(page, 'Continue', '/preferences/open');
    assert.equal(reused.status(), 400, `a used link should answer 400; it answered ${reused.status()}`);
    assert.equal(await h1(page), 'This link cannot be used');
    assert.match(await page.title(), /^This link cannot be used/);
    assert.equal(await page.locator('main').getByRole('link', { name: 'Ask for a new link' }).getAttribute('href'), '/preferences');
    assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined, `a used link should not set ${VISIT_COOKIE}`);
    await axe('/preferences/open with a used link');

    await assertOnlyDeclaredCookies(context, `(${mode} preference centre)`);
    assertNoForeignRequests(context, `${mode} preference centre`);
  } finally {
    await context.close();
  }
}

test('preference centre with JavaScript: emailed link, Continue, withdraw, agree again, finish', async () => {
  await preferencesFlow({ js: true });
});

test('preference centre without JavaScript: emailed link, Continue, withdraw, agree again, finish', async () => {
  await preferencesFlow({ js: false });
});

test('a link not copied in full is refused, and the refusal passes axe', async () => {
  for (const js of [true, false]) {
    const context = await newContext(browser, js ? {} : { javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      const response = await page.goto(url('/preferences/open?token=cut-sho'));
      assert.equal(response.status(), 400, `a malformed token should answer 400; it answered ${response.status()}`);
      assert.equal(await h1(page), 'This link cannot be used');
      assert.equal(await page.locator('main').getByRole('button', { name: 'Continue' }).count(), 0, 'a malformed link offers no Continue');
      assert.equal(await cookieNamed(context, VISIT_COOKIE), undefined);
      // A GET page: axe checks it with and without JavaScript.
      await axeCheck(page, `/preferences/open with a malformed token (${js ? 'JS' : 'no JS'})`);
      assertNoForeignRequests(context, 'malformed link');
    } finally {
      await context.close();
    }
  }
});

test('asking for a link for an address not on record answers the same, and sends nothing', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  const stranger = freshEmail('prefs-unknown');
  try {
    await page.goto(url('/preferences'));
    await page.getByLabel('Email address').fill(stranger);
    const asked = await press(page, 'Email me a link', '/preferences/link');
    assert.equal(asked.status(), 200);
    assert.match(await page.locator('main [role=status]').innerText(), /Check your email/, 'an unknown address gets the same answer');
    await assert.rejects(waitForEmail(stranger, LINK_SUBJECT, { timeout: 1_500 }), /no email to/, 'no email should be sent to an address not on record');
    assertNoForeignRequests(context, 'unknown address');
  } finally {
    await context.close();
  }
});
