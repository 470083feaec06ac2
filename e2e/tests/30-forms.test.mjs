// Public forms in the browser: the demo's sign-up form "Stay in touch" (/forms/1), with its
// consent boxes (news, research by each channel, and the tracking of our emails), filled with
// JavaScript on and off: first with a bad email address and a bad postcode (422, the GOV.UK
// error summary, each field's message, everything typed and ticked kept, and with JavaScript
// the summary focused), then correctly (the thank-you page and its link to the preference
// centre). Then the survey "How did we do?" (/forms/2): sent empty,
// then with one required answer missing, then in full. axe on each state.
//
// The server sends the same HTML with or without JavaScript, and axe can only re-check a page
// reached by a GET in a context without JavaScript (see assertNoAxeViolations), so the pages
// that answer a POST are checked by axe in the JavaScript runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, assertNoForeignRequests,
} from './helpers.mjs';
import {
  freshEmail, submit, h1, axeCheck, assertOnlyDeclaredCookies, confirmFormConsent,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const NEWS_BOX = 'Send me news, appeals and safety advice by email';
const RESEARCH_BY_PHONE = 'Ask me to take part in research about policing here by telephone';
const TRACKING_BOX = 'Record when I open your emails and which links in them I click';
const THANK_YOU = 'Thank you: your answers have been sent';

function sendButton(page) {
  return page.locator('main').getByRole('button', { name: 'Send', exact: true });
}

/** Every consent box of form 1, as `{ id, name, value, checked }`. */
async function consentBoxes(page) {
  return page.locator('main input[type=checkbox]').evaluateAll((boxes) =>
    boxes.map((b) => ({ id: b.id, name: b.name, value: b.value, checked: b.checked })));
}

/**
 * The error summary: shown, titled "There is a problem", and listing exactly `expected`
 * (pairs of [href, message]); each of its links must point at an element on the page, and each
 * message must also show next to its field (`p.error-message`).
 */
async function assertSummary(page, expected) {
  assert.match(await page.title(), /^Error: /, 'the title should start with "Error: "');
  const summary = page.locator('main .error-summary');
  assert.equal(await summary.count(), 1, 'there should be one error summary');
  assert.ok(await summary.isVisible(), 'the error summary should show');
  assert.equal((await summary.getByRole('heading').innerText()).trim(), 'There is a problem');
  const links = await summary.locator('a').evaluateAll((as) =>
    as.map((a) => [a.getAttribute('href'), a.textContent.trim()]));
  for (const [href, text] of links) {
    assert.ok(href.startsWith('#') && href.length > 1, `the summary link "${text}" should point into the page; it is ${href}`);
    assert.equal(await page.locator(href).count(), 1,
      `the summary link "${text}" points at ${href}, which is not an element on the page (the summary lists: ${JSON.stringify(links)})`);
  }
  assert.deepEqual(links, expected, 'the error summary should list exactly these errors, in the order of the questions');
  for (const [, message] of expected) {
    const inline = page.locator('main p.error-message', { hasText: message });
    assert.equal(await inline.count(), 1, `the message "${message}" should also show next to its question`);
  }
}

/** With JavaScript the error summary gets the focus, so it is read out first. */
async function assertSummaryFocused(page) {
  await page.waitForFunction(() => document.activeElement?.classList.contains('error-summary'), null, { timeout: 5_000 })
    .catch(() => {});
  const focused = await page.evaluate(() => {
    const a = document.activeElement;
    return a ? `${a.tagName.toLowerCase()}${a.id ? '#' + a.id : ''}.${[...a.classList].join('.')}` : 'nothing';
  });
  assert.match(focused, /\.error-summary(\.|$)/, `the error summary should have the focus; ${focused} has it`);
}

for (const js of [false, true]) {
  const mode = js ? 'JS' : 'no JS';
  test(`form 1 "Stay in touch" ${js ? 'with' : 'without'} JavaScript: errors kept with what was typed, then sent`, async () => {
    const context = await newContext(browser, js ? {} : { javaScriptEnabled: false });
    const page = await context.newPage();
    try {
      const opened = await page.goto(url('/forms/1'));
      assert.equal(opened.status(), 200, '/forms/1 should answer 200');
      assert.equal(await h1(page), 'Stay in touch');
      assert.doesNotMatch(await page.title(), /^Error: /);
      assert.equal(await page.locator('main .error-summary').count(), 0, 'no error summary before sending');
      assert.equal(await page.locator('main form input[type=hidden][name=csrf]').count(), 1, 'the form carries a form token');
      assert.equal(await page.locator('main form input[type=hidden][name=version]').inputValue(), '1', 'the form carries its version');
      assert.equal(await page.getByLabel('Email address').getAttribute('type'), 'email');
      assert.equal(await page.getByLabel('Email address').getAttribute('name'), 'q1');

      const boxes = await consentBoxes(page);
      assert.deepEqual(boxes.map((b) => `${b.name}=${b.value}`),
        ['q4=email', 'q5=email', 'q5=phone', 'q5=post', 'q5=fax', 'q6=yes'],
        'the consent boxes: news by email, research by each channel, and the tracking of our emails');
      assert.deepEqual(boxes.filter((b) => b.checked).map((b) => b.id), [], 'no consent box should be ticked before the person ticks it');
      assert.equal(await page.getByLabel(NEWS_BOX).getAttribute('value'), 'email');
      const tracking = page.getByRole('group', { name: /^Which of our emails you read/ });
      assert.equal(await tracking.getByRole('checkbox', { name: TRACKING_BOX }).getAttribute('value'), 'yes',
        'q6 asks, in its own group, for consent to the tracking of our emails');
      assert.match(await page.locator('#q6-hint').innerText(), /Without this, our emails carry no tracking image or tracked links\./,
        'q6\'s own hint should show, after what the purpose is');
      for (const key of ['q4', 'q5', 'q6']) {
        assert.match(await page.locator(`fieldset:has(input[name=${key}])`).getAttribute('aria-describedby') ?? '', new RegExp(`\\b${key}-hint\\b`),
          `the consent question ${key} should be described by its hint, which says what the consent is for`);
      }
      if (js) await axeCheck(page, `/forms/1 (${mode})`);

      // A bad email address and a bad postcode; two boxes ticked.
      await page.getByLabel('Email address').fill('not-an-email');
      await page.getByLabel('Your name').fill('Alex Marsh');
      await page.getByLabel('Postcode').fill('NOT A CODE');
      await page.getByLabel(NEWS_BOX).check();
      await page.getByLabel(RESEARCH_BY_PHONE).check();
      const refused = await submit(page, sendButton(page), '/forms/1');
      assert.equal(refused.status(), 422, `a bad email address and postcode should answer 422; it answered ${refused.status()}`);
      if (js) await assertSummaryFocused(page);
      await assertSummary(page, [
        ['#q1', 'Enter an email address in the correct format, like name@example.org'],
        ['#q3', 'Enter a real UK postcode, like SW1A 1AA'],
      ]);
      assert.match(await page.locator('#q1').getAttribute('aria-describedby'), /\bq1-error\b/, 'the email field should be described by its error');
      assert.match(await page.locator('#q3').getAttribute('aria-describedby'), /\bq3-error\b/, 'the postcode field should be described by its error');
      assert.equal(await page.getByLabel('Email address').inputValue(), 'not-an-email', 'the email address should be kept as typed');
      assert.equal(await page.getByLabel('Your name').inputValue(), 'Alex Marsh', 'the name should be kept');
      assert.equal(await page.getByLabel('Postcode').inputValue(), 'NOT A CODE', 'the postcode should be kept as typed');
      assert.deepEqual((await consentBoxes(page)).filter((b) => b.checked).map((b) => `${b.name}=${b.value}`),
        ['q4=email', 'q5=phone'], 'the ticked boxes, and only those, should stay ticked');
      if (js) {
        // The summary's link takes the keyboard to the field.
        await page.locator('main .error-summary').getByRole('link', { name: /postcode/ }).click();
        assert.equal(await page.evaluate(() => document.activeElement?.id), 'q3', 'the summary link should move the focus to the postcode field');
        await axeCheck(page, `/forms/1 with errors (${mode})`);
      }

      // Put right: sent, with the news box ticked (and the research one unticked).
      const email = freshEmail(js ? 'form1-js' : 'form1-nojs');
      await page.getByLabel('Email address').fill(email);
      await page.getByLabel('Postcode').fill('NM1 2AB');
      await page.getByLabel(RESEARCH_BY_PHONE).uncheck();
      assert.equal(await page.getByLabel(NEWS_BOX).isChecked(), true);
      const sent = await submit(page, sendButton(page), '/forms/1');
      assert.equal(sent.status(), 200, `the corrected form should be accepted with 200; it answered ${sent.status()}: ${await page.locator('main').innerText()}`);
      assert.equal(await h1(page), THANK_YOU);
      assert.match(await page.title(), new RegExp(`^${THANK_YOU}: Stay in touch`));
      assert.equal(await page.locator('main .error-summary').count(), 0);
      assert.equal(await page.locator('main [role=status]').count(), 1, 'the thank-you notice should be a status message');
      // Anyone can type an address: what the form agreed to waits for the address to confirm.
      assert.match(await page.locator('main').innerText(), new RegExp(`We have sent an email to ${email.replace(/[.+]/g, '\\$&')}\\. What you agreed to counts only once you confirm it`));
      if (js) await axeCheck(page, `/forms/1 thank-you page (${mode})`);
      await confirmFormConsent(page, email);
      const centre = page.locator('main').getByRole('link', { name: 'preference centre' });
      assert.equal(await centre.count(), 1, 'after confirming, the page should link to the preference centre');
      assert.equal(await centre.getAttribute('href'), '/preferences');
      if (js) await axeCheck(page, `/preferences/confirm answered (${mode})`);

      await assertOnlyDeclaredCookies(context, `(form 1, ${mode})`);
      assertNoForeignRequests(context, `form 1, ${mode}`);
    } finally {
      await context.close();
    }
  });
}

test('form 1 without a consent box ticked: sent, and no preference centre offered', async () => {
  const context = await newContext(browser, { javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    await page.goto(url('/forms/1'));
    await page.getByLabel('Email address').fill(freshEmail('form1-noconsent'));
    const sent = await submit(page, sendButton(page), '/forms/1');
    assert.equal(sent.status(), 200, `the form with only an email address should be accepted; it answered ${sent.status()}`);
    assert.equal(await h1(page), THANK_YOU);
    assert.doesNotMatch(await page.locator('main').innerText(), /We have recorded what you agreed to/,
      'with nothing agreed the page should not say consent was recorded');
    assert.equal(await page.locator('main a[href="/preferences"]').count(), 0, 'with no consent given there is nothing to change in the preference centre');
    assertNoForeignRequests(context, 'form 1 without consent');
  } finally {
    await context.close();
  }
});

test('form 1 with an empty email address asks for it', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(url('/forms/1'));
    await page.getByLabel('Your name').fill('No Address');
    const refused = await submit(page, sendButton(page), '/forms/1');
    assert.equal(refused.status(), 422);
    await assertSummaryFocused(page);
    await assertSummary(page, [['#q1', 'Enter an answer to: Email address']]);
    assert.equal(await page.getByLabel('Your name').inputValue(), 'No Address');
    assertNoForeignRequests(context, 'form 1 empty email');
  } finally {
    await context.close();
  }
});

test('form 2 "How did we do?": sent empty, then with an answer missing, then in full; axe on each state', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    const opened = await page.goto(url('/forms/2'));
    assert.equal(opened.status(), 200, '/forms/2 should answer 200');
    assert.equal(await h1(page), 'How did we do?');
    const contact = page.getByRole('group', { name: 'How did you contact us?' });
    const rating = page.getByRole('group', { name: 'How satisfied were you?' });
    const well = page.getByRole('group', { name: /^What went well\?/ });
    assert.equal(await contact.getByRole('radio').count(), 4, 'the single choice is four radios');
    assert.equal(await rating.getByRole('radio').count(), 5, 'the rating is five radios');
    assert.ok(await rating.getByRole('radio', { name: '1 (poor)' }).isVisible());
    assert.ok(await rating.getByRole('radio', { name: '5 (excellent)' }).isVisible());
    assert.equal(await well.getByRole('checkbox').count(), 4, 'the multiple choice is four checkboxes');
    assert.equal(await page.locator('main input[type=radio]:checked, main input[type=checkbox]:checked').count(), 0, 'nothing should be chosen in advance');
    // A date is the GOV.UK date input: day, month and year in a group named by the question.
    const when = page.getByRole('group', { name: /^When was it\?/ });
    assert.equal(await when.getByRole('textbox').count(), 3, 'the date is three fields');
    for (const part of ['Day', 'Month', 'Year']) {
      assert.equal(await when.getByLabel(part, { exact: true }).getAttribute('inputmode'), 'numeric');
    }
    assert.equal(await page.getByLabel(/^Anything else you want to tell us\?/).evaluate((e) => e.tagName), 'TEXTAREA');
    await axeCheck(page, '/forms/2');

    // Empty: both required questions are asked for; the links go to their first choice.
    const empty = await submit(page, sendButton(page), '/forms/2');
    assert.equal(empty.status(), 422, `an empty survey should answer 422; it answered ${empty.status()}`);
    await assertSummaryFocused(page);
    await assertSummary(page, [
      ['#q1-0', 'Select an answer to: How did you contact us?'],
      ['#q2-0', 'Select an answer to: How satisfied were you?'],
    ]);
    await axeCheck(page, '/forms/2 sent empty');

    // Everything but the first question: each answer comes back.
    await rating.getByRole('radio', { name: '4' }).check();
    await well.getByRole('checkbox', { name: 'Speed' }).check();
    await well.getByRole('checkbox', { name: 'Clear advice' }).check();
    // A date that does not exist is named in the date input's own words.
    await when.getByLabel('Day', { exact: true }).fill('31');
    await when.getByLabel('Month', { exact: true }).fill('2');
    await when.getByLabel('Year', { exact: true }).fill('2026');
    const comment = 'The officer rang back the same day.\nThank you.';
    await page.getByLabel(/^Anything else you want to tell us\?/).fill(comment);
    const missing = await submit(page, sendButton(page), '/forms/2');
    assert.equal(missing.status(), 422);
    await assertSummary(page, [
      ['#q1-0', 'Select an answer to: How did you contact us?'],
      ['#q4-day', 'The date must be a real date'],
    ]);
    assert.equal(await rating.getByRole('radio', { name: '4' }).isChecked(), true, 'the rating should stay chosen');
    assert.deepEqual(await well.locator('input:checked').evaluateAll((bs) => bs.map((b) => b.value)), ['Speed', 'Clear advice'], 'the ticked boxes should stay ticked');
    assert.equal(await when.getByLabel('Day', { exact: true }).inputValue(), '31', 'the day should be kept as typed');
    await when.getByLabel('Day', { exact: true }).fill('1');
    await when.getByLabel('Month', { exact: true }).fill('5');
    assert.equal((await page.getByLabel(/^Anything else you want to tell us\?/).inputValue()).replace(/\r\n/g, '\n'), comment, 'the comment should be kept');
    await axeCheck(page, '/forms/2 with one answer missing');

    await contact.getByRole('radio', { name: 'Online' }).check();
    const sent = await submit(page, sendButton(page), '/forms/2');
    assert.equal(sent.status(), 200, `the full survey should be accepted with 200; it answered ${sent.status()}: ${await page.locator('main').innerText()}`);
    assert.equal(await h1(page), THANK_YOU);
    assert.match(await page.title(), new RegExp(`^${THANK_YOU}: How did we do\\?`));
    assert.equal(await page.locator('main a[href="/preferences"]').count(), 0, 'a survey without consent boxes offers no preference centre');
    await axeCheck(page, '/forms/2 thank-you page');

    await assertOnlyDeclaredCookies(context, '(form 2)');
    assertNoForeignRequests(context, 'form 2');
  } finally {
    await context.close();
  }
});
