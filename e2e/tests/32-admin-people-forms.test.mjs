// The admin console's forms and people, as the demo's administrator (signed in once in
// `before`; each test gets a new browser context with that session):
//  - /admin lists the sections "Forms and surveys" and "People";
//  - the form builder: the list of forms, the parts of a question (q1.label, q1.kind, ...), a
//    consent question without a required email question refused (422, the error summary,
//    everything typed kept), then a valid form created (email + single choice), answered on its
//    public page, its responses tallied and listed, and closed (410 on its public page);
//  - people: someone who signed up on form 1 with the news box ticked is found by their
//    address; their consent shows from the ledger; an objection to marketing by email is
//    recorded and withdraws it; staff are then refused (409) when they record consent to
//    marketing by email;
//  - import: a CSV file with one good row and two bad ones is previewed with each bad row's
//    line and imported; a file whose header names an unknown column is refused (422); and a
//    file with CRLF line endings gives the same line numbers as one with LF.
// axe on each state. The pages that answer a POST are checked with JavaScript on (axe can only
// re-check without JavaScript a state reached by a GET; see assertNoAxeViolations); some of the
// GET pages are checked without JavaScript too.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, ORIGIN, assertNoForeignRequests,
} from './helpers.mjs';
import {
  STAFF, freshEmail, submit, signIn, pathname, h1, axeCheck, assertOnlyDeclaredCookies,
  confirmFormConsent,
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
    const response = await signIn(page, STAFF());
    assert.equal(new URL(response.headers().location, ORIGIN).pathname, '/admin',
      'the demo admin should be sent to /admin after signing in (the demo asks for no second factor)');
    assert.equal(pathname(page), '/admin');
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

const NEWS_BY_EMAIL = 'Send me news, appeals and safety advice by email';
const THANK_YOU = 'Thank you: your answers have been sent';
/** How the ledger names a consent given on form 1 and confirmed from the address (a pattern). */
/** A time as the console shows it: UK time in the GOV.UK style (a pattern). */
const UK_TIME = '\\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \\d{4} at (\\d{1,2}:\\d{2}(am|pm)|midnight|midday)';
const CONFIRMED_FORM_1 = `Form 1 \\(version 1\\), sent ${UK_TIME} and confirmed from the address`;

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** An element by id, whatever characters the id has (the builder's ids have dots: q1.label). */
function byId(page, id) {
  return page.locator(`[id="${id}"]`);
}

/**
 * The GOV.UK error summary: title "Error: ...", one summary headed "There is a problem",
 * listing exactly `expected` ([href, message or RegExp] pairs), each link pointing at an
 * element on the page.
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
    assert.equal(await byId(page, href.slice(1)).count(), 1,
      `the summary link ${href} should point at one element on the page`);
  }
}

/** The text of the row of `table` whose row header (or first cell) is `name`. */
async function rowText(table, name) {
  const row = table.locator('tr', { has: table.page().getByRole('rowheader', { name, exact: true }) });
  assert.equal(await row.count(), 1, `the table should have one row for "${name}"`);
  return (await row.innerText()).replace(/\s+/g, ' ').trim();
}

/** The cells of each body row of `table`, as trimmed text. */
function bodyRows(table) {
  return table.locator('tbody tr').evaluateAll((rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent.replace(/\s+/g, ' ').trim())));
}

/** The `<dd>` that follows the `<dt>` with `term` in the page's facts list. */
async function fact(page, term) {
  return page.locator('main dl.facts').evaluate((dl, t) => {
    const dt = [...dl.querySelectorAll('dt')].find((d) => d.textContent.trim() === t);
    return dt?.nextElementSibling?.textContent.trim() ?? null;
  }, term);
}

test('the admin console lists "Forms and surveys" and "People"', async () => {
  const context = await adminContext();
  const page = await context.newPage();
  try {
    const r = await page.goto(url('/admin'));
    assert.equal(r.status(), 200, `/admin should answer 200 to the demo admin; it answered ${r.status()}`);
    assert.equal(await h1(page), 'Admin console');
    const cards = page.locator('main ul.cards');
    for (const [name, href] of [['Forms and surveys', '/admin/forms'], ['People', '/admin/people']]) {
      const link = cards.getByRole('link', { name, exact: true });
      assert.equal(await link.count(), 1, `/admin should list the section "${name}"`);
      assert.equal(await link.getAttribute('href'), href, `the section "${name}" should link to ${href}`);
      const navLink = page.locator('.admin-nav').getByRole('link', { name, exact: true });
      assert.equal(await navLink.getAttribute('href'), href, `the admin navigation should link "${name}" to ${href}`);
    }
    assertNoForeignRequests(context, '/admin');
  } finally {
    await context.close();
  }
});

test('the forms and people pages reached by a GET pass axe without JavaScript', async () => {
  const context = await adminContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  try {
    for (const [path, heading] of [
      ['/admin/forms', 'Forms and surveys'],
      ['/admin/forms/new', 'Create a form'],
      ['/admin/people', 'People'],
      ['/admin/people/import', 'Import people'],
    ]) {
      const r = await page.goto(url(path));
      assert.equal(r.status(), 200, `${path} should answer 200 to the demo admin; it answered ${r.status()}`);
      assert.equal(await h1(page), heading);
      if (path === '/admin/forms' || path === '/admin/people') {
        const current = page.locator('.admin-nav a[aria-current="page"]');
        assert.equal(await current.count(), 1, `${path}: the admin navigation should mark one link as the current page`);
        assert.equal(await current.getAttribute('href'), path);
      }
      await axeCheck(page, `${path} (no JS)`);
    }
    assertNoForeignRequests(context, 'admin pages without JavaScript');
  } finally {
    await context.close();
  }
});

// The form the builder creates, shared by the three tests that follow it.
const built = { id: null, title: `E2E colours ${Date.now()}`, emailLabel: 'Your email address', colourLabel: 'Favourite colour' };

function builtForm() {
  assert.ok(built.id, 'this test needs the form created by the form builder test before it, which did not create one');
  return built;
}

test('form builder: a consent form without an email question is refused with what was typed kept; then a valid form is created', async () => {
  const context = await adminContext();
  const page = await context.newPage();
  const stamp = Date.now();
  try {
    // The list has the demo's two forms.
    const listed = await page.goto(url('/admin/forms'));
    assert.equal(listed.status(), 200, '/admin/forms should answer 200');
    assert.equal(await h1(page), 'Forms and surveys');
    for (const title of ['Stay in touch', 'How did we do?']) {
      assert.equal(await page.locator('main table').getByRole('link', { name: title, exact: true }).count(), 1,
        `/admin/forms should list the demo form "${title}"`);
    }
    assert.equal(await page.locator('main').getByRole('link', { name: 'Create a form' }).getAttribute('href'), '/admin/forms/new');

    // The builder: one blank question, each part named q1.<part>.
    const opened = await page.goto(url('/admin/forms/new'));
    assert.equal(opened.status(), 200, '/admin/forms/new should answer 200');
    assert.equal(await h1(page), 'Create a form');
    const form = page.locator('main form[action="/admin/forms"]');
    assert.equal(await form.getAttribute('method'), 'post');
    assert.equal(await form.locator('input[type=hidden][name=csrf]').count(), 1, 'the builder carries a form token');
    assert.equal(await page.getByLabel('Title', { exact: true }).getAttribute('name'), 'title');
    assert.equal(await page.getByLabel('Introduction (optional)').getAttribute('name'), 'intro');
    const purposeBoxes = await page.getByRole('group', { name: 'What the answers are used for' })
      .locator('input[type=checkbox]').evaluateAll((bs) => bs.map((b) => `${b.name}=${b.value}`));
    assert.ok(purposeBoxes.length > 0 && purposeBoxes.every((b) => b.startsWith('purposes=')),
      `the purposes should be checkboxes named "purposes"; they are ${JSON.stringify(purposeBoxes)}`);
    for (const id of ['records', 'service-improvement', 'news', 'research', 'partner-information']) {
      assert.ok(purposeBoxes.includes(`purposes=${id}`), `the demo's purpose "${id}" should be offered; the boxes: ${JSON.stringify(purposeBoxes)}`);
    }
    assert.equal(await page.getByRole('checkbox', { name: 'Keeping a record of our contact with you' }).getAttribute('value'), 'records',
      'each purpose box is labelled with the purpose\'s name');

    const questions = page.locator('main fieldset.question');
    assert.equal(await questions.count(), 3, 'a new form starts with three question blocks, so several questions go in at once');
    const q1 = page.getByRole('group', { name: /^New question 1\b/ });
    assert.equal(await q1.count(), 1, 'the question block is a fieldset with the legend "New question 1 …"');
    const names = await q1.locator('input, select, textarea').evaluateAll((els) =>
      els.map((e) => `${e.tagName.toLowerCase()}${e.type && e.tagName === 'INPUT' ? ':' + e.type : ''} ${e.name}`));
    assert.deepEqual(names, [
      'input:text q1.label', 'input:text q1.hint', 'select q1.kind', 'textarea q1.choices',
      'select q1.saves_to', 'select q1.purpose', 'input:checkbox q1.required', 'input:text q1.position',
    ], 'the question block should have these fields');
    const options = (name) => byId(page, name).locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(await options('q1.kind'), ['short-text', 'long-text', 'email', 'phone', 'postcode',
      'single-choice', 'multiple-choice', 'rating', 'date', 'consent']);
    assert.deepEqual(await options('q1.saves_to'), ['', 'email', 'name', 'job-title', 'phone', 'postal-address', 'postcode']);
    assert.deepEqual(await options('q1.purpose'), ['', 'email-tracking', 'news', 'research', 'partner-information'],
      'only the purposes people consent to are offered to a consent question (with campaigns on, the tracking of emails is one)');
    assert.equal(await byId(page, 'q1.required').getAttribute('value'), 'yes');
    assert.equal(await byId(page, 'q1.position').inputValue(), '1');
    // Each part has a label.
    assert.equal(await q1.getByLabel('Question text').getAttribute('name'), 'q1.label');
    assert.equal(await q1.getByLabel('Kind of answer').getAttribute('name'), 'q1.kind');
    assert.equal(await q1.getByLabel('An answer is required').getAttribute('name'), 'q1.required');
    await axeCheck(page, '/admin/forms/new');

    // A consent question and no email question: refused, and everything typed comes back.
    const badTitle = `E2E consent only ${stamp}`;
    const intro = 'Tell us what you think.\n\nIt takes a minute.';
    await page.getByLabel('Title', { exact: true }).fill(badTitle);
    await page.getByLabel('Introduction (optional)').fill(intro);
    await page.getByLabel('Keeping a record of our contact with you').check();
    await byId(page, 'q1.label').fill('Keep me posted');
    await byId(page, 'q1.hint').fill('Only if you want to');
    await byId(page, 'q1.kind').selectOption('consent');
    await byId(page, 'q1.purpose').selectOption('news');
    const refused = await submit(page, page.getByRole('button', { name: 'Save form' }), '/admin/forms');
    assert.equal(refused.status(), 422, `a consent form without an email question should answer 422; it answered ${refused.status()}`);
    assert.equal(pathname(page), '/admin/forms');
    await assertSummary(page, [
      ['#fields', 'A form that asks for consent or fills in a person\'s record needs a required email question that fills in their email address'],
    ]);
    assert.equal(await page.getByLabel('Title', { exact: true }).inputValue(), badTitle, 'the title should be kept');
    assert.equal((await page.getByLabel('Introduction (optional)').inputValue()).replace(/\r\n/g, '\n'), intro, 'the introduction should be kept');
    assert.equal(await page.getByLabel('Keeping a record of our contact with you').isChecked(), true, 'the ticked purpose should stay ticked');
    assert.equal(await byId(page, 'q1.label').inputValue(), 'Keep me posted', 'the question text should be kept');
    assert.equal(await byId(page, 'q1.hint').inputValue(), 'Only if you want to', 'the hint should be kept');
    assert.equal(await byId(page, 'q1.kind').inputValue(), 'consent', 'the kind should be kept');
    assert.equal(await byId(page, 'q1.purpose').inputValue(), 'news', 'the purpose should be kept');
    assert.equal(await questions.count(), 4, 'the page should come back with the question and three new blank ones');
    assert.equal(await byId(page, 'q2.label').inputValue(), '', 'the new block is blank');
    await axeCheck(page, '/admin/forms refused (consent without an email question)');

    // Put right: q1 a required email question that fills in the email address, q2 a
    // required single choice.
    const { title, emailLabel, colourLabel } = built;
    await page.getByLabel('Title', { exact: true }).fill(title);
    await byId(page, 'q1.label').fill(emailLabel);
    await byId(page, 'q1.hint').fill('');
    await byId(page, 'q1.kind').selectOption('email');
    await byId(page, 'q1.purpose').selectOption('');
    await byId(page, 'q1.saves_to').selectOption('email');
    await byId(page, 'q1.required').check();
    await byId(page, 'q2.label').fill(colourLabel);
    await byId(page, 'q2.kind').selectOption('single-choice');
    await byId(page, 'q2.choices').fill('Red\nBlue');
    await byId(page, 'q2.required').check();
    const created = await submit(page, page.getByRole('button', { name: 'Save form' }), '/admin/forms');
    assert.equal(created.status(), 303, `a valid form should be created with a redirect (303); it answered ${created.status()}: ${await page.locator('main').innerText()}`);
    const location = new URL(created.headers().location, ORIGIN);
    const match = location.pathname.match(/^\/admin\/forms\/(\d+)$/);
    assert.ok(match, `creating should redirect to /admin/forms/{id}; it redirected to ${location.href}`);
    assert.equal(location.searchParams.get('done'), 'created');
    const id = match[1];
    built.id = id;
    assert.equal(pathname(page), `/admin/forms/${id}`);
    assert.equal(await h1(page), `Form: ${title}`);
    const notice = page.locator('main .notice[role=status]');
    assert.match(await notice.innerText(), /The form has been created/);
    assert.match(await page.locator('main').innerText(), /Status: Open, version 1, 0 responses\./);
    assert.equal(await page.locator('main').getByRole('link', { name: `/forms/${id}` }).getAttribute('href'), `/forms/${id}`);
    assert.equal(await byId(page, 'q1.label').inputValue(), emailLabel);
    assert.equal(await byId(page, 'q1.kind').inputValue(), 'email');
    assert.equal(await byId(page, 'q1.saves_to').inputValue(), 'email');
    assert.equal(await byId(page, 'q1.required').isChecked(), true);
    assert.equal(await byId(page, 'q2.label').inputValue(), colourLabel);
    assert.equal(await byId(page, 'q2.kind').inputValue(), 'single-choice');
    assert.equal((await byId(page, 'q2.choices').inputValue()).replace(/\r\n/g, '\n'), 'Red\nBlue');
    assert.equal(await byId(page, 'q2.required').isChecked(), true);
    assert.equal(await page.getByRole('group', { name: /^New question/ }).count(), 3, 'the edit page offers three blocks for new questions');
    await assertOnlyDeclaredCookies(context, '(form builder)');
    assertNoForeignRequests(context, 'form builder');
    await axeCheck(page, `/admin/forms/${id} (just created)`);

    // The preview shows the form as the public sees it, and sends nothing.
    await page.getByRole('link', { name: 'Preview as the public sees it' }).click();
    await page.waitForURL((u) => u.pathname === `/admin/forms/${id}/preview`);
    assert.equal(await h1(page), title);
    assert.match(await page.locator('main .notice').innerText(), /Nothing sent from this page is stored/);
    assert.equal(await page.getByLabel(emailLabel).count(), 1, 'the preview has the questions');
    assert.equal(await page.locator('main form[method=post]').count(), 0, 'the preview posts nothing');
    await axeCheck(page, `/admin/forms/${id}/preview`);
  } finally {
    await context.close();
  }
});

test('the created form is answered on its public page, and its responses are tallied and listed', async () => {
  const { id, title, emailLabel, colourLabel } = builtForm();
  const context = await adminContext();
  const page = await context.newPage();
  try {
    // Answered on its public page, in a browser that is not signed in.
    const respondent = freshEmail('builder');
    const visitor = await newContext(browser);
    try {
      const pub = await visitor.newPage();
      const shown = await pub.goto(url(`/forms/${id}`));
      assert.equal(shown.status(), 200, `/forms/${id} should answer 200 while open`);
      assert.equal(await h1(pub), title);
      await pub.getByLabel(emailLabel).fill(respondent);
      await pub.getByRole('group', { name: colourLabel }).getByRole('radio', { name: 'Red' }).check();
      const sent = await submit(pub, pub.locator('main').getByRole('button', { name: 'Send', exact: true }), `/forms/${id}`);
      assert.equal(sent.status(), 200, `the answers should be accepted with 200; it answered ${sent.status()}: ${await pub.locator('main').innerText()}`);
      assert.equal(await h1(pub), THANK_YOU);
      assertNoForeignRequests(visitor, `/forms/${id}`);
    } finally {
      await visitor.close();
    }

    // The responses: a tally of the choice question and the answers.
    const read = await page.goto(url(`/admin/forms/${id}/responses`));
    assert.equal(read.status(), 200, `/admin/forms/${id}/responses should answer 200`);
    assert.equal(await h1(page), `Responses: ${title}`);
    assert.match(await page.locator('main').innerText(), /1 response to every version\./);
    const tally = page.getByRole('table', { name: `${colourLabel}: 1 answer`, exact: true });
    assert.equal(await tally.count(), 1, `there should be a table captioned "${colourLabel}: 1 answer"`);
    assert.match(await rowText(tally, 'Red'), /^Red 1 100%$/, 'Red: one answer, 100%');
    assert.match(await rowText(tally, 'Blue'), /^Blue 0 0%$/, 'Blue: no answers, 0%');
    const answers = page.getByRole('region', { name: 'Answers' }).locator('table');
    assert.equal(await answers.count(), 1, 'the answers table should be in a region named "Answers"');
    const heads = await answers.locator('thead th').evaluateAll((ths) => ths.map((t) => t.textContent.trim()));
    assert.deepEqual(heads, ['Sent', 'Person', emailLabel, colourLabel]);
    const rows = await bodyRows(answers);
    assert.equal(rows.length, 1, 'one response');
    assert.match(rows[0][0], /^\d{1,2} (January|February|March|April|May|June|July|August|September|October|November|December) \d{4}$/, 'the date it was sent, in the GOV.UK style');
    assert.match(rows[0][1], /^Person \d+$/, 'the response is linked to the person it filled in');
    assert.deepEqual(rows[0].slice(2), [respondent, 'Red']);
    assertNoForeignRequests(context, 'form responses');
    await axeCheck(page, `/admin/forms/${id}/responses`);
  } finally {
    await context.close();
  }
});

test('the created form is closed with "Close form", and its public page then answers 410', async () => {
  const { id } = builtForm();
  const context = await adminContext();
  const page = await context.newPage();
  try {
    await page.goto(url(`/admin/forms/${id}`));
    const closed = await submit(page, page.locator('main').getByRole('button', { name: 'Close form' }), `/admin/forms/${id}/close`);
    assert.equal(closed.status(), 303, `closing should redirect (303); it answered ${closed.status()}`);
    assert.equal(pathname(page), `/admin/forms/${id}`);
    assert.equal(new URL(page.url()).searchParams.get('done'), 'closed');
    assert.match(await page.locator('main .notice[role=status]').innerText(), /The form is closed/);
    assert.match(await page.locator('main').innerText(), /Status: Closed, version 1, \d+ responses?\./);
    assert.equal(await page.locator('main').getByRole('button', { name: 'Open form' }).count(), 1, 'a closed form can be opened again');
    const gone = await page.goto(url(`/forms/${id}`));
    assert.equal(gone.status(), 410, `/forms/${id} should answer 410 once closed; it answered ${gone.status()}`);
    assert.equal(await h1(page), 'This form is closed');
    assert.equal(await page.locator('main form[action^="/forms/"]').count(), 0, 'a closed form shows no form');
    await axeCheck(page, `/forms/${id} (closed)`);
    assertNoForeignRequests(context, 'closing a form');
  } finally {
    await context.close();
  }
});

test('people: a sign-up on form 1 is found with its consent; an objection withdraws it, and staff cannot then record consent by that channel (409)', async () => {
  // Sign up on form 1 with the news box ticked, in a browser that is not signed in.
  const email = freshEmail('people');
  const visitor = await newContext(browser);
  try {
    const pub = await visitor.newPage();
    await pub.goto(url('/forms/1'));
    await pub.getByLabel('Email address').fill(email);
    await pub.getByLabel('Your name').fill('Pat Ledger');
    const news = pub.locator('main input[type=checkbox][name=q4][value=email]');
    assert.equal(await news.count(), 1, 'form 1 should have the news-by-email box (q4=email)');
    await news.check();
    const sent = await submit(pub, pub.locator('main').getByRole('button', { name: 'Send', exact: true }), '/forms/1');
    assert.equal(sent.status(), 200, `form 1 should be accepted; it answered ${sent.status()}: ${await pub.locator('main').innerText()}`);
    assert.equal(await h1(pub), THANK_YOU);
    // Nothing counts until the address confirms it.
    await confirmFormConsent(pub, email);
  } finally {
    await visitor.close();
  }

  const context = await adminContext();
  const page = await context.newPage();
  try {
    // Found by their address.
    const searched = await page.goto(url(`/admin/people?q=${encodeURIComponent(email)}`));
    assert.equal(searched.status(), 200, '/admin/people?q= should answer 200');
    assert.equal(await h1(page), 'People');
    assert.equal(await page.getByRole('searchbox', { name: 'Email address or name' }).inputValue(), email, 'the search box keeps the query');
    assert.equal((await page.locator('main h2').first().innerText()).trim(), '1 found');
    const results = page.getByRole('table', { name: 'People matching the search' });
    assert.deepEqual((await bodyRows(results)).map((r) => r.slice(0, 3)), [[email, 'Pat Ledger', 'Form 1']]);
    await axeCheck(page, '/admin/people?q= (one found)');

    const link = results.getByRole('link', { name: email, exact: true });
    const href = await link.getAttribute('href');
    assert.match(href, /^\/admin\/people\/\d+$/);
    await Promise.all([page.waitForURL((u) => u.pathname === href), link.click()]);
    assert.equal(await h1(page), `Person: ${email}`);
    assert.equal(await fact(page, 'Source'), 'Form 1');
    assert.equal(await fact(page, 'Objections to marketing'), 'None');

    const now = page.getByRole('table', { name: /consent to each purpose and channel/ });
    assert.equal((await page.locator('main h2', { hasText: 'Consent now' }).count()), 1, 'the page should have the heading "Consent now"');
    assert.match(await rowText(now, NEWS_BY_EMAIL), new RegExp(`^${escapeRe(NEWS_BY_EMAIL)} Agreed ${UK_TIME} ${CONFIRMED_FORM_1}$`),
      'the news-by-email consent should be agreed, through form 1, confirmed from the address');
    assert.match(await rowText(now, 'Ask me to take part in research about policing here by email'), /Not agreed/,
      'an unticked box is not consent');
    assert.equal((await page.locator('main h2', { hasText: 'The record of consents' }).count()), 1);
    const ledger = page.getByRole('table', { name: /The ledger for this person/ });
    const history = await bodyRows(ledger);
    assert.equal(history.length, 1, `the record of consents should have one entry; it has ${JSON.stringify(history)}`);
    assert.deepEqual(history[0].slice(1, 3), ['News, appeals and safety advice, by email', 'Agreed']);
    assert.match(history[0][3], new RegExp(`^${CONFIRMED_FORM_1}$`), 'the ledger says the form\'s consent was confirmed from the address');
    assert.match(history[0][4], new RegExp(`^Shown: “${escapeRe(NEWS_BY_EMAIL)}”\\.`), 'the ledger keeps the words the person was shown');
    const personPath = pathname(page);
    await axeCheck(page, `${personPath} (consent given on form 1)`);

    // An objection to marketing by email, sent by letter.
    const objectForm = page.locator('main form', { has: page.getByRole('button', { name: 'Record objection' }) });
    assert.equal(await objectForm.getAttribute('action'), `${personPath}/object`);
    await objectForm.locator('select[name=channel]').selectOption('email');
    await objectForm.locator('select[name=evidence]').selectOption('letter');
    await objectForm.locator('input[name=note]').fill('Letter of 1 May 2026, ref. E2E-1');
    const objected = await submit(page, page.getByRole('button', { name: 'Record objection' }), `${personPath}/object`);
    assert.equal(objected.status(), 303, `recording an objection should redirect (303); it answered ${objected.status()}: ${await page.locator('main').innerText()}`);
    assert.equal(pathname(page), personPath);
    assert.equal(new URL(page.url()).searchParams.get('done'), 'objection');
    assert.match(await page.locator('main .notice[role=status]').innerText(), /The objection has been recorded/);
    assert.equal(await fact(page, 'Objections to marketing'), 'email');
    assert.match(await rowText(now, NEWS_BY_EMAIL), new RegExp(`^${escapeRe(NEWS_BY_EMAIL)} Not agreed `),
      'the objection should withdraw the news-by-email consent');
    const afterObjection = await bodyRows(ledger);
    assert.deepEqual(afterObjection[0].slice(1, 3), ['News, appeals and safety advice, by email', 'Withdrawn'],
      'the withdrawal is the newest entry in the record of consents');

    // Staff cannot sign the address up again by email.
    const consentForm = page.locator('main form', { has: page.getByRole('button', { name: 'Record consent' }) });
    await consentForm.locator('select[name=consent]').selectOption('news|email');
    await consentForm.getByRole('radio', { name: 'Gave consent' }).check();
    assert.equal(await consentForm.locator('input[name=grant]:checked').inputValue(), 'yes');
    await consentForm.locator('select[name=evidence]').selectOption('call');
    await consentForm.locator('input[name=note]').fill('Call log 1');
    const conflict = await submit(page, page.getByRole('button', { name: 'Record consent' }), `${personPath}/consent`);
    assert.equal(conflict.status(), 409, `recording consent by a channel the address objected to should answer 409; it answered ${conflict.status()}`);
    const message = 'this address has objected to direct marketing by email; only the person can agree again, through a form or the preference centre';
    await assertSummary(page, [['#consent', message]]);
    assert.match(await page.title(), new RegExp(`^Error: Person: ${escapeRe(email)}`));
    assert.match(await page.locator('#consent-error').innerText(), new RegExp(escapeRe(message)),
      'the message should also show next to the consent field');
    assert.match(await rowText(page.getByRole('table', { name: /consent to each purpose and channel/ }), NEWS_BY_EMAIL),
      new RegExp(`^${escapeRe(NEWS_BY_EMAIL)} Not agreed `), 'nothing should have been recorded');
    assert.equal(await fact(page, 'Objections to marketing'), 'email');
    await axeCheck(page, `${personPath}/consent refused (409)`);

    // The search page with nothing searched yet.
    await page.goto(url('/admin/people'));
    assert.match(await page.locator('main').innerText(), /\d+ (people are|person is) on record\./);
    await axeCheck(page, '/admin/people');

    await assertOnlyDeclaredCookies(context, '(people)');
    assertNoForeignRequests(context, 'people');
  } finally {
    await context.close();
  }
});

test('import: a CSV file is checked row by row, previewed and imported; a file with an unknown column is refused', async () => {
  const context = await adminContext();
  const page = await context.newPage();
  const good = freshEmail('import-good');
  const badPostcode = freshEmail('import-badpc');
  try {
    const opened = await page.goto(url('/admin/people/import'));
    assert.equal(opened.status(), 200, '/admin/people/import should answer 200');
    assert.equal(await h1(page), 'Import people');
    const file = page.getByLabel('CSV file');
    assert.equal(await file.getAttribute('type'), 'file');
    assert.equal(await page.locator('main form[action="/admin/people/import"]').getAttribute('enctype'), 'multipart/form-data');
    await axeCheck(page, '/admin/people/import');

    const csv = [
      'email,name,postcode',
      `${good},Imogen Good,NM1 2AB`,
      `${badPostcode},Bad Postcode,XYZ`,
      'not-an-email,Bad Email,NM1 2AB',
      '',
    ].join('\n');
    await file.setInputFiles({ name: 'people.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
    const uploaded = await submit(page, page.getByRole('button', { name: 'Check the file' }), '/admin/people/import');
    assert.equal(uploaded.status(), 303, `the upload should redirect to its preview (303); it answered ${uploaded.status()}: ${await page.locator('main').innerText()}`);
    const m = pathname(page).match(/^\/admin\/people\/import\/(\d+)$/);
    assert.ok(m, `the upload should lead to /admin/people/import/{id}; it led to ${page.url()}`);
    const n = m[1];
    assert.equal(await h1(page), `Check import ${n}`);
    const counts = page.locator('main p', { hasText: 'can be imported' });
    assert.match(await counts.innerHTML(), /<strong>1<\/strong> row can be imported; <strong>2<\/strong> have errors\./);
    const errors = page.getByRole('table', { name: 'Rows that cannot be imported' });
    assert.deepEqual(await bodyRows(errors), [
      ['3', 'postcode', 'Enter a real UK postcode, like SW1A 1AA'],
      ['4', 'email', 'Enter an email address in the correct format, like name@example.org'],
    ], 'the two bad rows, each with its line (the header is line 1), column and problem');
    const toImport = page.getByRole('table', { name: 'The first rows that will be imported' });
    assert.deepEqual(await bodyRows(toImport), [['2', good, 'Imogen Good', 'NM1 2AB']]);
    await axeCheck(page, `/admin/people/import/${n} (preview)`);

    const detailsOnly = page.getByRole('radio', { name: 'No: import the details only' });
    await detailsOnly.check();
    const button = page.locator('main').getByRole('button', { name: /^Import 1 row/ });
    assert.equal(await button.count(), 1, 'the import button should say how many rows it imports');
    const done = await submit(page, button, `/admin/people/import/${n}`);
    assert.equal(done.status(), 200, `the import should answer 200; it answered ${done.status()}: ${await page.locator('main').innerText()}`);
    assert.equal(await h1(page), `Import ${n} is done`);
    const outcome = await page.locator('main .notice[role=status]').innerText();
    assert.match(outcome, /\b1 people added\b/);
    assert.match(outcome, /\b0 consents recorded\b/, 'importing the details only records no consent');
    assert.match(outcome, /\b2 rows with errors were left out\b/);
    await axeCheck(page, `/admin/people/import/${n} (done)`);

    // The imported person is on record; the rows with errors are not.
    await page.goto(url(`/admin/people?q=${encodeURIComponent(good)}`));
    const found = page.getByRole('table', { name: 'People matching the search' });
    assert.deepEqual((await bodyRows(found)).map((r) => r.slice(0, 3)), [[good, 'Imogen Good', `Import ${n}`]]);
    await page.goto(url(`/admin/people?q=${encodeURIComponent(badPostcode)}`));
    assert.equal((await page.locator('main h2').first().innerText()).trim(), '0 found', 'the row with a bad postcode should not be imported');

    // A header with a column that cannot be imported.
    await page.goto(url('/admin/people/import'));
    await page.getByLabel('CSV file').setInputFiles({
      name: 'wrong.csv', mimeType: 'text/csv', buffer: Buffer.from(`mail,name\r\n${freshEmail('import-wrong')},Wrong Header\r\n`, 'utf8'),
    });
    const wrong = await submit(page, page.getByRole('button', { name: 'Check the file' }), '/admin/people/import');
    assert.equal(wrong.status(), 422, `a header naming \`mail\` should answer 422; it answered ${wrong.status()}`);
    assert.equal(await h1(page), 'Import people');
    await assertSummary(page, [['#file', /^The header names a column `mail` that cannot be imported\. Allowed columns: email, name,/]]);
    assert.match(await page.locator('#file-error').innerText(), /`mail`/, 'the message should also show next to the file field');
    assert.match(await page.getByLabel('CSV file').getAttribute('aria-describedby'), /\bfile-error\b/);
    await axeCheck(page, '/admin/people/import refused (unknown column)');

    await assertOnlyDeclaredCookies(context, '(import)');
    assertNoForeignRequests(context, 'import');
  } finally {
    await context.close();
  }
});

// RFC 4180 ends CSV lines with CRLF, and that is what spreadsheet programs save ("CSV UTF-8"
// from Excel on Windows). The line numbers in the preview must be the same as for a file with
// LF line endings: the header is line 1.
test('import: the preview gives the right line numbers for a file with CRLF line endings', async () => {
  const context = await adminContext();
  const page = await context.newPage();
  const good = freshEmail('import-crlf');
  try {
    await page.goto(url('/admin/people/import'));
    const csv = [
      'email,name,postcode',
      `${good},Carla Return,NM1 2AB`,
      `${freshEmail('import-crlf-badpc')},Bad Postcode,XYZ`,
      'not-an-email,Bad Email,NM1 2AB',
      `${good},Carla Again,`,
      '',
    ].join('\r\n');
    await page.getByLabel('CSV file').setInputFiles({ name: 'crlf.csv', mimeType: 'text/csv', buffer: Buffer.from(csv, 'utf8') });
    const uploaded = await submit(page, page.getByRole('button', { name: 'Check the file' }), '/admin/people/import');
    assert.equal(uploaded.status(), 303, `the upload should redirect to its preview (303); it answered ${uploaded.status()}`);
    assert.match(await h1(page), /^Check import \d+$/);
    assert.deepEqual(await bodyRows(page.getByRole('table', { name: 'The first rows that will be imported' })),
      [['2', good, 'Carla Return', 'NM1 2AB']], 'the first data row is line 2 (the header is line 1)');
    assert.deepEqual(await bodyRows(page.getByRole('table', { name: 'Rows that cannot be imported' })), [
      ['3', 'postcode', 'Enter a real UK postcode, like SW1A 1AA'],
      ['4', 'email', 'Enter an email address in the correct format, like name@example.org'],
      ['5', 'email', 'This address is already on line 2 of the file'],
    ], 'each bad row should be reported with its own line number, as for a file with LF line endings');
    assertNoForeignRequests(context, 'import with CRLF');
  } finally {
    await context.close();
  }
});
