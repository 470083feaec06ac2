// Email campaigns, end to end, as the demo's administrator (signed in once in `before`):
//  - four people sign up on form 1 in a postcode district made up for this run (so no other
//    test file's people are in the audience): Ada agrees to the news and to the tracking of
//    our emails, Ben and Cal to the news only, Dee to neither;
//  - the campaign list and "Write a campaign": an empty subject and a body naming
//    `{{ config }}`, then a `javascript:` link, are refused (422, the GOV.UK error summary
//    focused, each field's message, everything typed and ticked kept); then a draft is saved;
//  - the draft: its audience (3 people), the preview in a sandboxed frame whose own answer
//    has a `sandbox` policy and shows a `<script>` typed in the body as text (no dialog opens),
//    and a test sent to the signed-in staff member;
//  - scheduled "now" with JavaScript: the status and the figures change without a reload until
//    "Sent"; the report appears; each message has the one-click unsubscribe headers, text and
//    HTML parts, and tracked links and an open pixel only for Ada; her click is counted;
//  - a second campaign, written and scheduled without JavaScript: the progress table and its
//    refresh link, followed by hand until "Sent";
//  - unsubscribe links: opening one changes nothing; a cookie-less one-click POST (as a mail
//    provider sends it) withdraws Ben's consent, recorded as by the unsubscribe link; Cal
//    presses the page's button and sees the confirmation; a tampered link is refused (404);
//  - a new draft to the same district: those who unsubscribed are no longer in its audience;
//    the draft is deleted.
// axe on the list, the form with errors, the draft, the sent campaign's report (with and
// without JavaScript), the unsubscribe page, its confirmation and its refusal.
//
// The demo is started by run.sh with campaigns sent at most 2 messages a second, so a
// campaign to this test's 3 people takes a second or more to go out: the page that answers
// "Schedule the campaign" is then always loaded before the campaign is sent.
//
// The campaign page frames its preview (a sandboxed frame in which no script can run), so axe
// runs in legacy mode there (axeCheck), in the page itself: axe's default mode waits forever
// for an answer from inside such a frame.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { request } from 'playwright-core';
import {
  launch, newContext, url, ORIGIN, assertNoForeignRequests, countNavigations, requestsTo,
} from './helpers.mjs';
import {
  STAFF, freshEmail, waitForEmail, parseEmail, submit, signIn, pathname, h1, axeCheck,
  assertOnlyDeclaredCookies, confirmFormConsent,
} from './account-helpers.mjs';

let browser;
/** The signed-in admin's cookies, from signing in once in `before`. */
let adminState;

before(async () => {
  browser = await launch();
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(url('/account/sign-in'));
    await signIn(page, STAFF());
    assert.equal(pathname(page), '/admin', 'the demo admin should land on /admin after signing in');
    adminState = await context.storageState();
  } finally {
    await context.close();
  }
});
after(async () => { await browser?.close(); });

/** A new context signed in as the demo admin. */
function adminContext(options = {}) {
  return newContext(browser, { ...options, storageState: adminState });
}

const NEWS_BOX = 'Send me news, appeals and safety advice by email';
const TRACKING_BOX = 'Record when I open your emails and which links in them I click';
const NEWS_BY_EMAIL = 'News, appeals and safety advice, by email';
const THANK_YOU = 'Thank you: your answers have been sent';
const LINK = 'https://example.org/road-safety';
const PLACEHOLDERS = '{{name}}, {{organisation}}, {{unsubscribe_url}}, {{preferences_url}}';

// What this run shares between its tests, in file order.
const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
// An outward code of the right shape that no real postcode has (no area starts with Q), so
// no other test file's people fall in it; made up for each run.
const district = `Q${'ABDEFGHJLNPRSTUWXYZ'[Math.floor(Math.random() * 19)]}${10 + Math.floor(Math.random() * 90)}`;
const people = {
  ada: { name: 'Ada Tracked', email: freshEmail('campaign-ada'), news: true, tracking: true },
  ben: { name: 'Ben Plain', email: freshEmail('campaign-ben'), news: true, tracking: false },
  cal: { name: 'Cal Button', email: freshEmail('campaign-cal'), news: true, tracking: false },
  dee: { name: 'Dee Nothing', email: freshEmail('campaign-dee'), news: false, tracking: false },
};
const live = {
  id: null,
  name: `E2E road safety ${stamp}`,
  subject: `Hello {{name}}: road safety week ${stamp}`,
  preheader: 'Advice for the week ahead',
  body: [
    'Hello {{name}},',
    '',
    'Road safety week starts on Monday. <script>alert("e2e-campaign")</script>',
    '',
    `[Read the advice](${LINK})`,
    '',
    'From all of us at {{organisation}}.',
    '',
  ].join('\n'),
  /** Each recipient's message, by key of `people`. */
  mail: {},
};
const noJs = { id: null, name: `E2E without JavaScript ${stamp}`, subject: `Without JavaScript ${stamp}` };

function needLive() {
  assert.ok(live.id, 'this test needs the campaign written by the test "Write a campaign" before it, which did not save one');
  return live;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The subject as a recipient called `name` gets it. */
function subjectFor(name) {
  return live.subject.replace('{{name}}', name);
}

/**
 * The GOV.UK error summary: title "Error: ...", one summary headed "There is a problem",
 * listing exactly `expected` ([href, message or RegExp] pairs), each link pointing at an
 * element on the page, and each message also shown next to its field.
 */
async function assertSummary(page, expected) {
  assert.match(await page.title(), /^Error: /, 'the title should start with "Error: "');
  const summary = page.locator('main .error-summary');
  assert.equal(await summary.count(), 1, 'there should be one error summary');
  assert.ok(await summary.isVisible(), 'the error summary should show');
  assert.equal((await summary.getByRole('heading').innerText()).trim(), 'There is a problem');
  const links = await summary.locator('a').evaluateAll((as) =>
    as.map((a) => [a.getAttribute('href'), a.textContent.trim()]));
  assert.equal(links.length, expected.length,
    `the error summary should list ${expected.length} error(s); it lists ${JSON.stringify(links)}`);
  for (const [i, [href, message]] of expected.entries()) {
    const [gotHref, gotText] = links[i];
    assert.equal(gotHref, href, `error ${i + 1} in the summary should link to ${href}; it links to ${gotHref}`);
    if (message instanceof RegExp) assert.match(gotText, message);
    else assert.equal(gotText, message);
    assert.equal(await page.locator(href).count(), 1, `the summary link ${href} should point at one element on the page`);
    const inline = page.locator(`${href}-error`);
    assert.equal(await inline.count(), 1, `the message for ${href} should also show next to its field (${href}-error)`);
    assert.ok((await inline.innerText()).includes(gotText), `${href}-error should say "${gotText}"`);
    assert.match(await page.locator(href).getAttribute('aria-describedby'), new RegExp(`\\b${href.slice(1)}-error\\b`),
      `the field ${href} should be described by its error`);
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

/** The cells of each body row of `table`, as trimmed text. */
function bodyRows(table) {
  return table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent.replace(/\s+/g, ' ').trim())));
}

/** The text of the cell after the row header `name` in `table`. */
async function cellAfter(table, name) {
  const row = table.locator('tr', { has: table.page().getByRole('rowheader', { name, exact: true }) });
  assert.equal(await row.count(), 1, `the table should have one row "${name}"`);
  return (await row.locator('td').first().innerText()).trim();
}

/** The `<dd>` that follows the `<dt>` with `term` in the page's facts list. */
async function fact(page, term) {
  return page.locator('main dl.facts').evaluate((dl, t) => {
    const dt = [...dl.querySelectorAll('dt')].find((d) => d.textContent.trim() === t);
    return dt?.nextElementSibling?.textContent.trim() ?? null;
  }, term);
}

/** The progress figures shown on the campaign page. */
async function figures(page) {
  return page.locator('#campaign-progress [data-field]').evaluateAll((cells) =>
    Object.fromEntries(cells.filter((c) => c.tagName === 'TD').map((c) => [c.dataset.field, c.textContent.trim()])));
}

/** The text and HTML parts of a multipart/alternative message, each decoded. */
async function mimeParts(mail) {
  const type = mail.headers['content-type'] || '';
  assert.match(type, /^multipart\/alternative;/i, `the message "${mail.headers.subject}" should be multipart/alternative; it is ${type}`);
  const boundary = /boundary="?([^";]+)"?/i.exec(type)[1];
  const raw = await readFile(mail.file, 'utf8');
  const body = raw.slice(raw.search(/\r?\n\r?\n/)).replace(/^\r?\n\r?\n/, '');
  const parts = body.split(`--${boundary}`).slice(1)
    .filter((p) => !p.startsWith('--'))
    .map((p) => parseEmail(p.replace(/^\r?\n/, '')));
  const byType = {};
  for (const p of parts) {
    const t = (p.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
    assert.equal((p.headers['content-transfer-encoding'] || '').toLowerCase(), 'quoted-printable',
      `the ${t} part should be quoted-printable`);
    byType[t] = p.body;
  }
  assert.deepEqual(Object.keys(byType).sort(), ['text/html', 'text/plain'], 'the message should have a text part and an HTML part');
  return { text: byType['text/plain'], html: byType['text/html'] };
}

/** The path of the person's page in the admin console, found by their address. */
async function personPath(page, email) {
  await page.goto(url(`/admin/people?q=${encodeURIComponent(email)}`));
  const link = page.getByRole('table', { name: 'People matching the search' }).getByRole('link', { name: email, exact: true });
  assert.equal(await link.count(), 1, `${email} should be found in /admin/people`);
  return link.getAttribute('href');
}

/** The person's news-by-email consent now, and their record of consents (newest first). */
async function newsConsent(page, path) {
  const r = await page.goto(url(path));
  assert.equal(r.status(), 200, `${path} should answer 200`);
  const now = page.getByRole('table', { name: /consent to each purpose and channel/ });
  const row = now.locator('tr', { has: page.getByRole('rowheader', { name: NEWS_BOX, exact: true }) });
  assert.equal(await row.count(), 1, `${path} should have a row for "${NEWS_BOX}"`);
  const cells = await row.locator('td').evaluateAll((tds) => tds.map((td) => td.textContent.replace(/\s+/g, ' ').trim()));
  const ledger = await bodyRows(page.getByRole('table', { name: /The ledger for this person/ }));
  // The time a form was sent, in "Form 1 (version 1), sent … and confirmed", varies by run.
  const how = (text) => text.replace(/, sent \d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4} at (\d{1,2}:\d{2}(am|pm)|midnight|midday) and confirmed/, ', sent (time) and confirmed');
  return {
    now: cells[0],
    how: how(cells[2]),
    ledger: ledger.filter((r) => r[1] === NEWS_BY_EMAIL).map((r) => [r[2], how(r[3])]),
  };
}

/** Fill the campaign form's fields that are given. */
async function fillCampaign(page, fields) {
  if ('name' in fields) await page.getByLabel('Name', { exact: true }).fill(fields.name);
  if ('subject' in fields) await page.getByLabel('Subject', { exact: true }).fill(fields.subject);
  if ('preheader' in fields) await page.getByLabel('Preview text (optional)').fill(fields.preheader);
  if ('body' in fields) await page.getByLabel('Message', { exact: true }).fill(fields.body);
  if ('areas' in fields) await page.getByLabel('Only people in these postcode areas (optional)').fill(fields.areas);
}

async function saveDraft(page, action) {
  return submit(page, page.locator('main').getByRole('button', { name: 'Save draft' }), action);
}

/** The campaign's id from a page at /admin/campaigns/{id}. */
function campaignId(page) {
  const m = pathname(page).match(/^\/admin\/campaigns\/(\d+)$/);
  assert.ok(m, `the page should be /admin/campaigns/{id}; it is ${page.url()}`);
  return m[1];
}

test('recipients sign up on form 1 in one postcode district, some to the news and one to the tracking of emails', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    for (const p of Object.values(people)) {
      await page.goto(url('/forms/1'));
      await page.getByLabel('Email address').fill(p.email);
      await page.getByLabel('Your name').fill(p.name);
      await page.getByLabel('Postcode').fill(`${district} 1AB`);
      if (p.news) await page.getByLabel(NEWS_BOX).check();
      if (p.tracking) await page.getByLabel(TRACKING_BOX).check();
      const sent = await submit(page, page.locator('main').getByRole('button', { name: 'Send', exact: true }), '/forms/1');
      assert.equal(sent.status(), 200, `form 1 should accept ${p.email}; it answered ${sent.status()}: ${await page.locator('main').innerText()}`);
      assert.equal(await h1(page), THANK_YOU);
      // Each confirms from their address; until then the consent does not count.
      if (p.news || p.tracking) await confirmFormConsent(page, p.email);
    }
    assertNoForeignRequests(context, 'signing up on form 1');
  } finally {
    await context.close();
  }

  // The consents are on record: Ada's tracking consent too.
  const admin = await adminContext();
  const page2 = await admin.newPage();
  try {
    people.ada.path = await personPath(page2, people.ada.email);
    await page2.goto(url(people.ada.path));
    const now = page2.getByRole('table', { name: /consent to each purpose and channel/ });
    assert.equal(await cellAfter(now, TRACKING_BOX), 'Agreed', 'Ada agreed to the tracking of our emails on form 1');
    assert.equal(await cellAfter(now, NEWS_BOX), 'Agreed');
    for (const key of ['ben', 'cal', 'dee']) {
      people[key].path = await personPath(page2, people[key].email);
      await page2.goto(url(people[key].path));
      const table = page2.getByRole('table', { name: /consent to each purpose and channel/ });
      assert.equal(await cellAfter(table, TRACKING_BOX), 'Not agreed', `${people[key].name} did not agree to tracking`);
      assert.equal(await cellAfter(table, NEWS_BOX), people[key].news ? 'Agreed' : 'Not agreed');
    }
  } finally {
    await admin.close();
  }
});

test('"Write a campaign": bad input is refused with the error summary focused and what was typed kept; then a draft is saved', async () => {
  const context = await adminContext();
  const page = await context.newPage();
  try {
    // The list, reached from the admin console's navigation.
    const listed = await page.goto(url('/admin/campaigns'));
    assert.equal(listed.status(), 200, `/admin/campaigns should answer 200 to the demo admin; it answered ${listed.status()}`);
    assert.equal(await h1(page), 'Campaigns');
    const current = page.locator('.admin-nav a[aria-current="page"]');
    assert.equal(await current.getAttribute('href'), '/admin/campaigns', 'the admin navigation should mark Campaigns as the current page');
    const write = page.locator('main').getByRole('link', { name: 'Write a campaign' });
    assert.equal(await write.getAttribute('href'), '/admin/campaigns/new');
    await axeCheck(page, '/admin/campaigns');

    await Promise.all([page.waitForURL((u) => u.pathname === '/admin/campaigns/new'), write.click()]);
    assert.equal(await h1(page), 'Write a campaign');
    assert.doesNotMatch(await page.title(), /^Error: /);
    const form = page.locator('main form[action="/admin/campaigns"]');
    assert.equal(await form.getAttribute('method'), 'post');
    assert.equal(await form.locator('input[type=hidden][name=csrf]').count(), 1, 'the form carries a form token');
    for (const [label, name] of [['Name', 'name'], ['Subject', 'subject'], ['Preview text (optional)', 'preheader'],
      ['Message', 'body'], ['Only people in these postcode areas (optional)', 'postcode_areas']]) {
      assert.equal(await page.getByLabel(label, { exact: true }).getAttribute('name'), name, `the field "${label}" should be named ${name}`);
    }
    assert.equal(await page.getByLabel('Message', { exact: true }).evaluate((e) => e.tagName), 'TEXTAREA');
    assert.ok((await page.locator('#body-hint').innerText()).includes(`Placeholders: ${PLACEHOLDERS}.`),
      'the hint of the message lists the placeholders');
    const purpose = page.getByRole('group', { name: 'Purpose' });
    const news = purpose.getByRole('radio', { name: 'News, appeals and safety advice' });
    assert.equal(await news.getAttribute('value'), 'news');
    assert.equal(await news.isChecked(), true, 'the first marketing purpose is chosen to start with');
    const interests = page.getByRole('group', { name: 'Only people interested in (optional)' });
    assert.ok(await interests.getByRole('checkbox').count() > 0, 'the demo\'s interests are offered');
    await axeCheck(page, '/admin/campaigns/new');

    // An empty subject, a placeholder that does not exist, and an interest ticked.
    const badBody = `Hello {{name}},\n\nYour settings: {{ config }}\n`;
    await fillCampaign(page, { name: live.name, subject: '', preheader: live.preheader, body: badBody, areas: district });
    await interests.getByRole('checkbox', { name: 'Road safety' }).check();
    const refused = await saveDraft(page, '/admin/campaigns');
    assert.equal(refused.status(), 422, `an empty subject and an unknown placeholder should answer 422; it answered ${refused.status()}`);
    assert.equal(pathname(page), '/admin/campaigns');
    assert.match(await page.title(), /^Error: Write a campaign/);
    await assertSummaryFocused(page);
    await assertSummary(page, [
      ['#subject', 'Subject is required'],
      ['#body', `Message names {{config}}, which is not a placeholder; the placeholders are ${PLACEHOLDERS}`],
    ]);
    assert.equal(await page.getByLabel('Name', { exact: true }).inputValue(), live.name, 'the name should be kept');
    assert.equal(await page.getByLabel('Preview text (optional)').inputValue(), live.preheader, 'the preview text should be kept');
    assert.equal((await page.getByLabel('Message', { exact: true }).inputValue()).replace(/\r\n/g, '\n'), badBody, 'the message should be kept as typed');
    assert.equal(await page.getByLabel('Only people in these postcode areas (optional)').inputValue(), district, 'the postcode areas should be kept');
    assert.equal(await interests.getByRole('checkbox', { name: 'Road safety' }).isChecked(), true, 'the ticked interest should stay ticked');
    assert.equal(await purpose.getByRole('radio', { name: 'News, appeals and safety advice' }).isChecked(), true, 'the purpose should stay chosen');
    // The summary's link takes the keyboard to the field.
    await page.locator('main .error-summary').getByRole('link', { name: /^Message names/ }).click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'body', 'the summary link should move the focus to the message');
    await axeCheck(page, '/admin/campaigns refused (empty subject, unknown placeholder)');

    // A javascript: link.
    await fillCampaign(page, { subject: live.subject, body: 'Hello,\n\n[Click me](javascript:alert(1))\n' });
    const refusedLink = await saveDraft(page, '/admin/campaigns');
    assert.equal(refusedLink.status(), 422, `a javascript: link should be refused with 422; it answered ${refusedLink.status()}`);
    await assertSummaryFocused(page);
    await assertSummary(page, [['#body', /^Message links to "javascript:alert\(1\)": links must start with https:\/\/, http:\/\/ or mailto:/]]);
    assert.equal(await page.getByLabel('Subject', { exact: true }).inputValue(), live.subject, 'the subject should be kept');

    // Put right: the draft is saved (without the interest, which none of the recipients gave).
    await fillCampaign(page, { body: live.body });
    await interests.getByRole('checkbox', { name: 'Road safety' }).uncheck();
    const saved = await saveDraft(page, '/admin/campaigns');
    assert.equal(saved.status(), 303, `a valid campaign should be saved with a redirect (303); it answered ${saved.status()}: ${await page.locator('main').innerText()}`);
    live.id = campaignId(page);
    assert.equal(new URL(page.url()).searchParams.get('done'), 'created');
    assert.match(await page.locator('main .notice[role=status]').innerText(), /The campaign has been saved as a draft\./);
    assert.equal(await h1(page), `Campaign: ${live.name}`);
    assert.equal((await page.locator('#campaign-status').innerText()).trim(), 'Draft');
    assert.equal(await fact(page, 'Subject'), live.subject);

    // Listed.
    await page.goto(url('/admin/campaigns'));
    const row = page.locator('main table tbody tr', { has: page.getByRole('link', { name: live.name, exact: true }) });
    assert.equal(await row.count(), 1, 'the new campaign should be listed');
    assert.equal(await row.getByRole('link').getAttribute('href'), `/admin/campaigns/${live.id}`);
    assert.equal((await row.locator('td').nth(1).innerText()).trim(), 'Draft');
    await assertOnlyDeclaredCookies(context, '(writing a campaign)');
    assertNoForeignRequests(context, 'writing a campaign');
  } finally {
    await context.close();
  }
});

test('the draft: its audience, a sandboxed preview that shows a typed <script> as text, and a test sent to the signed-in staff member', async () => {
  const { id } = needLive();
  const context = await adminContext();
  const page = await context.newPage();
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  try {
    const opened = await page.goto(url(`/admin/campaigns/${id}`));
    assert.equal(opened.status(), 200);
    assert.equal(await fact(page, 'Audience now'), '3 people',
      `the audience should be the three people in ${district} who agreed to the news by email (not Dee)`);
    assert.equal(await page.locator('#audience-count').innerText(), '3 people');

    // The preview: in a frame with every sandbox restriction, loading the preview page.
    const frame = page.locator('main iframe');
    assert.equal(await frame.count(), 1, 'the campaign page should have one frame, the preview');
    assert.equal(await page.locator('main iframe[sandbox=""]').count(), 1, 'the preview frame should be sandboxed with no exception (sandbox="")');
    assert.equal(await frame.getAttribute('src'), `/admin/campaigns/${id}/preview`);
    assert.equal(await frame.getAttribute('title'), 'Preview of the campaign email', 'the frame should have a title');
    await frame.scrollIntoViewIfNeeded();
    const preview = page.frameLocator('main iframe');
    await preview.locator('body').waitFor();
    const shown = await preview.locator('body').innerText();
    assert.ok(shown.includes('Hello Jo Example,'), `the preview should fill {{name}} with a sample name; it shows: ${shown}`);
    assert.ok(shown.includes('<script>alert("e2e-campaign")</script>'), `the <script> typed in the body should be shown as text; the preview shows: ${shown}`);
    assert.ok(shown.includes('From all of us at Northmoor Police.'), 'the preview should fill {{organisation}}');
    assert.equal(await preview.locator('script').count(), 0, 'the preview should have no script element');
    assert.equal(await preview.getByRole('link', { name: 'Read the advice' }).getAttribute('href'), LINK,
      'the preview shows the link as a recipient without tracking gets it');
    assert.equal(await preview.getByRole('link', { name: 'Unsubscribe' }).count(), 1, 'every email ends with an unsubscribe link');

    // The preview's own answer: its policy sandboxes it even when opened on its own.
    const answer = await context.request.get(url(`/admin/campaigns/${id}/preview`));
    assert.equal(answer.status(), 200);
    assert.match(answer.headers()['content-type'], /^text\/html/);
    const csp = answer.headers()['content-security-policy'] || '';
    assert.match(csp, /(^|;)\s*sandbox\s*(;|$)/, `the preview's policy should be "sandbox" with no exception; it is ${csp}`);
    assert.match(csp, /default-src 'none'/, `the preview's policy should allow nothing by default; it is ${csp}`);
    assert.doesNotMatch(csp, /script-src/, 'the preview\'s policy should allow no script');
    const html = await answer.text();
    assert.doesNotMatch(html, /<script/i, 'the preview\'s HTML should have no script element');
    assert.match(html, /&lt;script&gt;alert\((&quot;|&#34;|")e2e-campaign(&quot;|&#34;|")\)&lt;\/script&gt;/, 'the typed <script> should be escaped in the preview\'s HTML');
    const alone = await page.goto(url(`/admin/campaigns/${id}/preview`));
    assert.equal(alone.status(), 200);
    assert.ok((await page.locator('body').innerText()).includes('<script>alert("e2e-campaign")</script>'));
    await page.goBack();

    // A test to the staff member who pressed the button.
    const staff = STAFF().email;
    const button = page.locator('main').getByRole('button', { name: `Send a test to ${staff}` });
    assert.equal(await button.count(), 1, `the page should offer "Send a test to ${staff}"`);
    const tested = await submit(page, button, `/admin/campaigns/${id}/test`);
    assert.equal(tested.status(), 303, `sending a test should redirect; it answered ${tested.status()}: ${await page.locator('main').innerText()}`);
    assert.equal(new URL(page.url()).searchParams.get('done'), 'tested');
    assert.equal((await page.locator('main .notice[role=status]').innerText()).trim(), `A test has been sent to ${staff}.`);
    const mail = await waitForEmail(staff, new RegExp(`^\\[Test\\] .*road safety week ${escapeRe(stamp)}$`));
    assert.doesNotMatch(mail.headers.subject, /\{\{/, `the test's subject should have its placeholders filled: ${mail.headers.subject}`);
    const parts = await mimeParts(mail);
    assert.ok(parts.text.includes('<script>alert("e2e-campaign")</script>'), 'the text part has the typed text as it is');
    assert.doesNotMatch(parts.html, /<script/i, 'the test\'s HTML part should have no script element');
    assert.ok(parts.html.includes('&lt;script&gt;'), 'the test\'s HTML part shows the <script> as text');
    assert.equal((await page.locator('#campaign-status').innerText()).trim(), 'Draft', 'a test does not send the campaign');
    await axeCheck(page, `/admin/campaigns/${id} (draft)`);

    assert.deepEqual(dialogs, [], `no dialog should open: the typed script must never run; dialogs: ${dialogs.join(', ')}`);
    assertNoForeignRequests(context, 'the draft and its preview');
  } finally {
    await context.close();
  }
});

test('scheduled now, with JavaScript: the status and the figures change without a reload until "Sent", and the report appears', async () => {
  const { id } = needLive();
  const context = await adminContext();
  const page = await context.newPage();
  try {
    await page.goto(url(`/admin/campaigns/${id}`));
    const when = page.getByRole('group', { name: 'When to send it' });
    assert.equal(await when.getByRole('radio', { name: 'Now', exact: true }).isChecked(), true, '"Now" is chosen to start with');
    assert.equal(await when.getByRole('radio', { name: 'At a time I choose' }).count(), 1);
    await when.getByRole('radio', { name: 'Now', exact: true }).check();
    const asked = await submit(page, page.locator('main').getByRole('button', { name: 'Schedule the campaign' }), `/admin/campaigns/${id}/schedule`);
    assert.equal(asked.status(), 200, `scheduling should first ask; it answered ${asked.status()}: ${await page.locator('main').innerText()}`);
    assert.equal(await h1(page), 'Send to 3 people now?', 'sending asks with the number of people');
    await axeCheck(page, `/admin/campaigns/${id}/schedule (the question)`);
    const scheduled = await submit(page, page.locator('main').getByRole('button', { name: 'Yes, send it now' }), `/admin/campaigns/${id}/schedule`);
    assert.equal(scheduled.status(), 303, `scheduling should redirect; it answered ${scheduled.status()}: ${await page.locator('main').innerText()}`);
    assert.equal(new URL(page.url()).searchParams.get('done'), 'scheduled');
    assert.match(await page.locator('main .notice[role=status]').innerText(), /The campaign has been scheduled\./);

    // The page as it answered: not sent yet, with the progress figures.
    const navigations = countNavigations(page);
    const status = page.locator('#campaign-status');
    const first = (await status.innerText()).trim();
    assert.ok(['Scheduled', 'Sending'].includes(first), `just after scheduling the status should be Scheduled (or Sending); it is ${first}`);
    assert.ok(await page.locator('#campaign-progress').isVisible(), 'a scheduled campaign should show its progress');
    const before = await figures(page);
    assert.ok(Number(before.sent) < 3, `the page should be loaded before the campaign is sent; it shows ${JSON.stringify(before)}`);
    if (first === 'Scheduled') {
      assert.equal(await page.locator('main').getByRole('heading', { name: 'Report' }).count(), 0, 'no report before the campaign starts');
    }

    // The script asks for the figures and changes the page, without loading it again.
    await page.waitForFunction(() => document.getElementById('campaign-status')?.textContent.trim() === 'Sent', null, { timeout: 30_000 });
    assert.equal(navigations.main, 0, 'the page should change without being loaded again');
    assert.ok(requestsTo(context, `/admin/campaigns/${id}/progress.json`).length > 0, 'the figures should come from progress.json');
    assert.deepEqual(await figures(page), { sent: '3', remaining: '0', failed: '0', skipped: '0', per_minute: '3', possible_duplicates: '0' },
      'the figures should show the three messages sent');
    const eta = page.locator('#campaign-progress [data-field=eta]');
    assert.match(await eta.innerText(), /^Finished: every message was sent, failed or skipped\./);
    const again = eta.getByRole('link', { name: 'Refresh the page to see the report' });
    assert.equal(await again.count(), 1, 'once sent, the page should offer to load the report');

    // The JSON the script reads.
    const json = await (await context.request.get(url(`/admin/campaigns/${id}/progress.json`))).json();
    assert.equal(json.state, 'sent');
    assert.equal(json.status, 'Sent');
    assert.equal(json.total, 3);
    assert.equal(json.sent, 3);
    assert.equal(json.remaining, 0);

    await Promise.all([page.waitForNavigation(), again.click()]);
    assert.equal(pathname(page), `/admin/campaigns/${id}`);
    assert.equal((await status.innerText()).trim(), 'Sent');
    assert.match(await fact(page, 'Finished'), /^\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4} at (\d{1,2}:\d{2}(am|pm)|midnight|midday)$/, 'times read in UK time, in the GOV.UK style');
    assert.equal(await page.locator('main').getByRole('heading', { name: 'Report' }).count(), 1, 'a sent campaign has a report');
    const delivery = page.getByRole('table', { name: 'Delivery' });
    assert.equal(await cellAfter(delivery, 'Delivered'), '3');
    assert.equal(await cellAfter(delivery, 'Bounced (address suppressed)'), '0');
    assert.equal(await cellAfter(delivery, 'Unsubscribed'), '0 (0.0%)');
    assert.equal(await page.getByRole('table', { name: 'Opens and clicks' }).count(), 1);
    assert.deepEqual(await bodyRows(page.getByRole('table', { name: 'Clicks per link' })), [[LINK, '0', '0', '0']],
      'the report lists the campaign\'s link');
    assert.equal(await page.locator('main').getByRole('button', { name: 'Schedule the campaign' }).count(), 0, 'a sent campaign cannot be scheduled again');
    assert.equal(await page.locator('main').getByRole('button', { name: 'Delete draft' }).count(), 0, 'a sent campaign cannot be deleted');
    assertNoForeignRequests(context, 'sending with JavaScript');
  } finally {
    await context.close();
  }
});

test('each message has the one-click unsubscribe headers, a text and an HTML part, and tracking only with consent; a click is counted', async () => {
  const { id } = needLive();
  const unsubscribe = new RegExp(`^<(${escapeRe(ORIGIN)}/unsubscribe/([A-Za-z0-9_.-]+))>$`);
  for (const key of ['ada', 'ben', 'cal']) {
    const p = people[key];
    const mail = await waitForEmail(p.email, new RegExp(`^${escapeRe(subjectFor(p.name))}$`));
    assert.ok(mail.headers.to.includes(p.email));
    const m = unsubscribe.exec(mail.headers['list-unsubscribe'] || '');
    assert.ok(m, `${p.name}'s message should have List-Unsubscribe: <${ORIGIN}/unsubscribe/TOKEN>; it has ${mail.headers['list-unsubscribe']}`);
    assert.equal(mail.headers['list-unsubscribe-post'], 'List-Unsubscribe=One-Click', 'the message should offer one-click unsubscribe (RFC 8058)');
    const parts = await mimeParts(mail);
    const unsubscribeUrl = m[1];
    assert.ok(parts.text.includes(`Hello ${p.name},`), `the text part should greet ${p.name}`);
    assert.ok(parts.text.includes(unsubscribeUrl), 'the text part should have the same unsubscribe link as the header');
    assert.ok(parts.html.includes(`href="${unsubscribeUrl}"`), 'the HTML part should link the same unsubscribe link');
    assert.doesNotMatch(parts.html, /<script/i, 'the HTML part should have no script element');
    const clickLinks = [...parts.html.matchAll(/href="([^"]*\/t\/c\/[^"]+)"/g)].map((x) => x[1]);
    const pixels = [...parts.html.matchAll(/<img[^>]*src="([^"]*\/t\/o\/[^"]+)"/g)].map((x) => x[1]);
    if (p.tracking) {
      assert.equal(clickLinks.length, 1, `${p.name} agreed to tracking: the link should go through /t/c/`);
      assert.ok(clickLinks[0].startsWith(`${ORIGIN}/t/c/`));
      assert.equal(pixels.length, 1, `${p.name} agreed to tracking: the message should have an open pixel`);
      assert.ok(!parts.html.includes(`href="${LINK}"`), 'a tracked message should not link the address directly');
      assert.ok(parts.text.includes(clickLinks[0]), 'the text part should have the tracked link too');
    } else {
      assert.deepEqual(clickLinks, [], `${p.name} did not agree to tracking: no tracked link`);
      assert.deepEqual(pixels, [], `${p.name} did not agree to tracking: no open pixel`);
      assert.ok(parts.html.includes(`href="${LINK}"`), 'without tracking the link goes straight to its address');
      assert.doesNotMatch(parts.text + parts.html, /\/t\/[oc]\//, 'without tracking nothing in the message goes through /t/');
    }
    live.mail[key] = { mail, unsubscribeUrl, clickLinks, pixels };
  }
  await assert.rejects(waitForEmail(people.dee.email, /road safety week/, { timeout: 1_500 }), /no email to/,
    'Dee did not agree to the news: she should get nothing');

  // Ada opens the message and clicks its link (as her mail program would: no cookie).
  const api = await request.newContext();
  try {
    const pixel = await api.get(live.mail.ada.pixels[0]);
    assert.equal(pixel.status(), 200);
    assert.equal(pixel.headers()['content-type'], 'image/gif');
    const click = await api.get(live.mail.ada.clickLinks[0], { maxRedirects: 0 });
    assert.equal(click.status(), 302, `the tracked link should redirect; it answered ${click.status()}`);
    assert.equal(click.headers().location, LINK, 'the tracked link should redirect to the campaign\'s own link');
    const token = live.mail.ada.clickLinks[0].split('/t/c/')[1];
    const tampered = `${ORIGIN}/t/c/${token.slice(0, 10)}${token[10] === 'A' ? 'B' : 'A'}${token.slice(11)}`;
    const refused = await api.get(tampered, { maxRedirects: 0 });
    assert.equal(refused.status(), 404, 'a tampered tracked link should answer 404');
  } finally {
    await api.dispose();
  }

  // The report counts the click (the events are written in batches, so give it a moment).
  const context = await adminContext();
  const page = await context.newPage();
  try {
    let rows = [];
    for (let i = 0; i < 20; i += 1) {
      await page.goto(url(`/admin/campaigns/${id}`));
      rows = await bodyRows(page.getByRole('table', { name: 'Clicks per link' }));
      if (rows[0]?.[1] === '1') break;
      await page.waitForTimeout(250);
    }
    assert.deepEqual(rows.map((r) => r.slice(0, 2)), [[LINK, '1']], 'the report should count Ada\'s click on the link');
    const engagement = page.getByRole('table', { name: 'Opens and clicks' });
    assert.equal(await cellAfter(engagement, 'Clicks'), '1');
    assert.equal(await cellAfter(engagement, 'Opens'), '1');
    assert.match(await page.locator('main').innerText(), /rates below are of the 1 message sent to them/,
      'the report says the rates are of the one tracked message');
    await axeCheck(page, `/admin/campaigns/${id} (sent, with its report)`);
    assertNoForeignRequests(context, 'the report');
  } finally {
    await context.close();
  }
});

test('without JavaScript: a campaign scheduled now shows its progress table and a refresh link, followed by hand until "Sent"', async () => {
  const context = await adminContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    await page.goto(url('/admin/campaigns/new'));
    await fillCampaign(page, { name: noJs.name, subject: noJs.subject, body: 'Hello {{name}},\n\nNo script was needed to send this.\n', areas: district });
    const saved = await saveDraft(page, '/admin/campaigns');
    assert.equal(saved.status(), 303, `the draft should be saved without JavaScript; it answered ${saved.status()}: ${await page.locator('main').innerText()}`);
    noJs.id = campaignId(page);
    assert.equal(await fact(page, 'Audience now'), '3 people');

    await page.getByRole('radio', { name: 'Now', exact: true }).check();
    const asked = await submit(page, page.locator('main').getByRole('button', { name: 'Schedule the campaign' }), `/admin/campaigns/${noJs.id}/schedule`);
    assert.equal(asked.status(), 200);
    assert.equal(await h1(page), 'Send to 3 people now?');
    const scheduled = await submit(page, page.locator('main').getByRole('button', { name: 'Yes, send it now' }), `/admin/campaigns/${noJs.id}/schedule`);
    assert.equal(scheduled.status(), 303);
    const status = page.locator('#campaign-status');
    assert.ok(['Scheduled', 'Sending'].includes((await status.innerText()).trim()),
      `just after scheduling the status should be Scheduled or Sending; it is ${await status.innerText()}`);
    const progress = page.getByRole('table', { name: 'Messages by outcome' });
    assert.ok(await progress.isVisible(), 'without JavaScript the page should show the progress table');
    for (const name of ['Sent', 'Still to send', 'Failed', 'Not sent (consent withdrawn, objection or erased)']) {
      assert.equal(await progress.getByRole('rowheader', { name, exact: true }).count(), 1, `the progress table should have the row "${name}"`);
    }
    const refresh = () => page.locator('#campaign-progress').getByRole('link', { name: 'Refresh to see the latest figures' });
    assert.equal(await refresh().count(), 1, 'without JavaScript the page should offer a link to refresh the figures');
    assert.equal(await refresh().getAttribute('href'), `/admin/campaigns/${noJs.id}`);

    // Refresh by hand until it is sent.
    let clicks = 0;
    while ((await status.innerText()).trim() !== 'Sent') {
      assert.ok(clicks < 40, `the campaign should be sent within 20 s; it is ${await status.innerText()} with ${JSON.stringify(await figures(page))}`);
      assert.equal(await refresh().count(), 1, 'while not sent, the page keeps its refresh link');
      await page.waitForTimeout(500);
      await Promise.all([page.waitForNavigation(), refresh().click()]);
      clicks += 1;
    }
    assert.ok(clicks > 0, 'the link should have been followed at least once');
    assert.equal(pathname(page), `/admin/campaigns/${noJs.id}`);
    assert.deepEqual(await figures(page), { sent: '3', remaining: '0', failed: '0', skipped: '0', per_minute: '3', possible_duplicates: '0' });
    assert.equal(await refresh().count(), 0, 'once sent there is nothing more to refresh');
    assert.equal(await page.locator('main').getByRole('heading', { name: 'Report' }).count(), 1, 'the report appears once sent');
    await axeCheck(page, `/admin/campaigns/${noJs.id} (sent, no JS)`);

    for (const key of ['ada', 'ben', 'cal']) {
      await waitForEmail(people[key].email, new RegExp(`^${escapeRe(noJs.subject)}$`));
    }
    assertNoForeignRequests(context, 'sending without JavaScript');
  } finally {
    await context.close();
  }
});

test('unsubscribe links: opening one changes nothing; a cookie-less one-click POST withdraws the consent; the button confirms; a tampered link is refused', async () => {
  const { id } = needLive();
  assert.ok(live.mail.ben && live.mail.cal, 'this test needs the messages read by the test before it');
  const admin = await adminContext();
  const adminPage = await admin.newPage();
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    // Ben's link opened in a browser: a page with a button, and nothing changed.
    const link = live.mail.ben.unsubscribeUrl;
    const opened = await page.goto(link);
    assert.equal(opened.status(), 200, `the unsubscribe link should open a page; it answered ${opened.status()}`);
    assert.equal(await h1(page), 'Unsubscribe');
    assert.match(await page.title(), /^Unsubscribe – Northmoor Police$/);
    const button = page.locator('main').getByRole('button', { name: 'Unsubscribe', exact: true });
    assert.equal(await button.count(), 1, 'the page should have an Unsubscribe button');
    const form = page.locator('main form', { has: page.getByRole('button', { name: 'Unsubscribe', exact: true }) });
    assert.equal(await form.getAttribute('method'), 'post');
    assert.equal(await form.getAttribute('action'), new URL(link).pathname);
    assert.equal(await page.locator('main').getByRole('link', { name: 'your choices' }).getAttribute('href'), '/preferences');
    await axeCheck(page, '/unsubscribe/{token}');
    // A mail scanner may open it too, any number of times.
    assert.equal((await fetch(link)).status, 200);
    assert.equal((await fetch(link)).status, 200);
    const afterGet = await newsConsent(adminPage, people.ben.path);
    assert.equal(afterGet.now, 'Agreed', 'opening the unsubscribe link should change nothing');
    assert.deepEqual(afterGet.ledger, [['Agreed', 'Form 1 (version 1), sent (time) and confirmed from the address']]);

    // The one-click POST, as a mail provider sends it: no cookie, no form token.
    const api = await request.newContext();
    try {
      assert.deepEqual((await api.storageState()).cookies, [], 'the one-click POST is sent with no cookie');
      const posted = await api.post(link, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: 'List-Unsubscribe=One-Click',
        maxRedirects: 0,
      });
      assert.equal(posted.status(), 200, `the one-click POST should answer 200; it answered ${posted.status()}`);
      assert.match(await posted.text(), /<h1>You have unsubscribed<\/h1>/);
      // Sent again (providers retry): still 200, and nothing more recorded.
      const again = await api.post(link, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: 'List-Unsubscribe=One-Click',
        maxRedirects: 0,
      });
      assert.equal(again.status(), 200, 'a second one-click POST should answer 200 too');

      // A tampered link changes nothing, with a page that says so.
      const token = new URL(link).pathname.split('/').pop();
      const tamperedToken = `${token.slice(0, -6)}${token.at(-6) === 'A' ? 'B' : 'A'}${token.slice(-5)}`;
      const tamperedLink = url(`/unsubscribe/${tamperedToken}`);
      const tamperedPost = await api.post(tamperedLink, {
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        data: 'List-Unsubscribe=One-Click',
        maxRedirects: 0,
      });
      assert.equal(tamperedPost.status(), 404, 'a one-click POST with a tampered token should answer 404');
      const refused = await page.goto(tamperedLink);
      assert.equal(refused.status(), 404, 'a tampered unsubscribe link should answer 404');
      assert.equal(await h1(page), 'This link cannot be used');
      assert.equal(await page.locator('main').getByRole('button', { name: 'Unsubscribe' }).count(), 0, 'a tampered link offers no button');
      assert.equal(await page.locator('main').getByRole('link', { name: 'your choices' }).getAttribute('href'), '/preferences');
      await axeCheck(page, '/unsubscribe/{tampered token}');
    } finally {
      await api.dispose();
    }
    const afterPost = await newsConsent(adminPage, people.ben.path);
    assert.match(afterPost.now, /^Not agreed/, `the one-click POST should withdraw Ben's consent; it is ${afterPost.now}`);
    assert.deepEqual(afterPost.ledger, [['Withdrawn', 'Unsubscribe link'], ['Agreed', 'Form 1 (version 1), sent (time) and confirmed from the address']],
      'the record of consents should show one withdrawal by the unsubscribe link, newest first');

    // Cal presses the button.
    await page.goto(live.mail.cal.unsubscribeUrl);
    const pressed = await submit(page, page.locator('main').getByRole('button', { name: 'Unsubscribe', exact: true }), new URL(live.mail.cal.unsubscribeUrl).pathname);
    assert.equal(pressed.status(), 200, `pressing Unsubscribe should answer 200; it answered ${pressed.status()}`);
    assert.equal(await h1(page), 'You have unsubscribed');
    assert.match(await page.title(), /^You have unsubscribed – Northmoor Police$/);
    assert.match(await page.locator('main [role=status]').innerText(), /You have unsubscribed\./);
    assert.equal(await page.locator('main').getByRole('link', { name: 'your choices' }).getAttribute('href'), '/preferences');
    assert.equal(await page.locator('main').getByRole('button', { name: 'Unsubscribe' }).count(), 0);
    await axeCheck(page, '/unsubscribe/{token} (confirmation)');
    const cal = await newsConsent(adminPage, people.cal.path);
    assert.match(cal.now, /^Not agreed/, 'the button should withdraw Cal\'s consent');
    assert.deepEqual(cal.ledger[0], ['Withdrawn', 'Unsubscribe link']);

    // Ada did nothing: still agreed.
    assert.equal((await newsConsent(adminPage, people.ada.path)).now, 'Agreed');

    // The report counts the two.
    await adminPage.goto(url(`/admin/campaigns/${id}`));
    assert.equal(await cellAfter(adminPage.getByRole('table', { name: 'Delivery' }), 'Unsubscribed'), '2 (66.7%)',
      'the report should count the two who unsubscribed from this campaign');

    await assertOnlyDeclaredCookies(context, '(unsubscribe pages)');
    assertNoForeignRequests(context, 'unsubscribe pages');
  } finally {
    await context.close();
    await admin.close();
  }
});

test('a new draft to the same district leaves out those who unsubscribed; the draft is deleted', async () => {
  const context = await adminContext();
  const page = await context.newPage();
  try {
    await page.goto(url('/admin/campaigns/new'));
    const name = `E2E after unsubscribing ${stamp}`;
    await fillCampaign(page, { name, subject: `After ${stamp}`, body: 'Hello {{name}},\n\nStill here.\n', areas: district });
    const saved = await saveDraft(page, '/admin/campaigns');
    assert.equal(saved.status(), 303);
    const id = campaignId(page);
    assert.equal(await fact(page, 'Audience now'), '1 person', 'only Ada still agrees to the news in this district');

    const deleted = await submit(page, page.locator('main').getByRole('button', { name: 'Delete draft' }), `/admin/campaigns/${id}/delete`);
    assert.equal(deleted.status(), 303);
    assert.equal(pathname(page), '/admin/campaigns');
    assert.match(await page.locator('main .notice[role=status]').innerText(), /The campaign has been deleted\./);
    assert.equal(await page.locator('main table').getByRole('link', { name, exact: true }).count(), 0, 'the deleted draft is no longer listed');
    assert.equal((await page.goto(url(`/admin/campaigns/${id}`))).status(), 404, 'the deleted draft\'s page should answer 404');

    // The two sent campaigns, listed with their figures.
    await page.goto(url('/admin/campaigns'));
    const rows = await bodyRows(page.getByRole('table', { name: 'Campaigns, newest first' }));
    for (const c of [live, noJs]) {
      assert.deepEqual(rows.find((r) => r[0] === c.name), [c.name, 'Sent', '3', '0'], `the list should show "${c.name}" as sent to 3`);
    }
    await axeCheck(page, '/admin/campaigns (with campaigns)');
    assertNoForeignRequests(context, 'deleting a draft');
  } finally {
    await context.close();
  }
});
