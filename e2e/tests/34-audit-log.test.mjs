// The audit log as a data protection officer uses it, in a browser without JavaScript, as the
// demo's administrator:
//  - someone signs up on form 1; the admin opens their record, follows "Who has seen this
//    record" and finds their own look at it, in words, with a UK time and a link back;
//  - the filter is a plain GET form: choosing an action and submitting keeps it in the
//    address and on the form;
//  - an impossible date gives the GOV.UK error summary (422) linked to the day field, with
//    what was typed kept;
//  - the CSV export of the filter downloads, once it says for whom.
// axe on each state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { launch, newContext, url, ORIGIN, assertNoForeignRequests } from './helpers.mjs';
import {
  STAFF, freshEmail, submit, signIn, pathname, h1, axeCheck, assertErrorSummary,
} from './account-helpers.mjs';

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

/** Follow a link or press a GET form's button, and return the response to the page it loads. */
async function go(page, clickable) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), clickable.click()]);
  assert.ok(response, 'a page should load');
  return response;
}

test('a privacy officer finds who looked at a record, filters the log and downloads it, without JavaScript', async () => {
  const email = freshEmail('audit');
  const visitor = await newContext(browser);
  try {
    const pub = await visitor.newPage();
    await pub.goto(url('/forms/1'));
    await pub.getByLabel('Email address').fill(email);
    await pub.getByLabel('Your name').fill('Sam Audit');
    const sent = await submit(pub, pub.locator('main').getByRole('button', { name: 'Send', exact: true }), '/forms/1');
    assert.equal(sent.status(), 200, 'form 1 should be accepted');
  } finally {
    await visitor.close();
  }

  const staff = STAFF();
  const context = await newContext(browser, { javaScriptEnabled: false, storageState: adminState, acceptDownloads: true });
  const page = await context.newPage();
  try {
    await page.goto(url(`/admin/people?q=${encodeURIComponent(email)}`));
    await go(page, page.getByRole('link', { name: email, exact: true }));
    const record = pathname(page);
    assert.match(record, /^\/admin\/people\/\d+$/);
    const id = record.split('/').pop();

    // From the record to the log filtered by that person.
    let r = await go(page, page.getByRole('link', { name: 'Who has seen this record' }));
    assert.equal(r.status(), 200);
    assert.equal(pathname(page), '/admin/audit');
    assert.equal(new URL(page.url()).searchParams.get('person'), id);
    assert.equal(await h1(page), 'Audit log');
    assert.equal(await page.getByLabel("Person's email address or record number").inputValue(), id, 'the filter is kept on the form');
    const table = page.getByRole('table', { name: 'Staff actions, newest first' });
    const rows = table.locator('tbody tr');
    assert.equal(await rows.count(), 1, 'one look at the new record: the admin just now');
    const cells = (await rows.first().locator('td').allInnerTexts()).map((t) => t.trim());
    assert.match(cells[0], /^\d{1,2} [A-Z][a-z]+ \d{4} at (\d{1,2}:\d{2}(am|pm)|midnight|midday)$/, `a UK time in words: ${cells[0]}`);
    assert.deepEqual(cells.slice(1, 4), [staff.email, "Viewed a person's record", `Person ${id}`]);
    assert.equal(await table.getByRole('link', { name: `Person ${id}` }).getAttribute('href'), record);
    await axeCheck(page, '/admin/audit?person= (one entry)');

    // The form is a GET: an action chosen and sent stays in the address and on the form.
    await page.getByLabel("Person's email address or record number").fill('');
    await page.getByLabel('Action').selectOption({ label: "Viewed a person's record" });
    r = await go(page, page.getByRole('button', { name: 'Show entries' }));
    assert.equal(r.status(), 200);
    assert.equal(r.request().method(), 'GET');
    const query = new URL(page.url()).searchParams;
    assert.equal(query.get('action'), 'person.viewed');
    assert.equal(query.get('person'), '');
    assert.equal(await page.getByLabel('Action').inputValue(), 'person.viewed');
    assert.ok(await rows.count() >= 1);
    for (const words of await rows.locator('td:nth-child(3)').allInnerTexts()) {
      assert.equal(words.trim(), "Viewed a person's record");
    }
    await axeCheck(page, '/admin/audit?action= (filtered)');

    // The export of this filter downloads as CSV, once it says for whom (internal use here).
    const exportForm = page.locator('form[action="/admin/audit.csv?action=person.viewed"]');
    assert.equal(await exportForm.count(), 1, 'the export keeps the filter');
    await exportForm.getByLabel('Who is this export for?').selectOption({ label: 'Internal use' });
    await exportForm.getByLabel('If for internal use, what for').fill('Checking who viewed records');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      exportForm.getByRole('button', { name: 'Download these entries as CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'audit-log.csv');
    const lines = (await readFile(await download.path(), 'utf8')).trim().split('\n');
    assert.equal(lines[0], 'time,staff_email,action,action_in_words,target,detail');
    assert.ok(lines.slice(1).some((l) => l.endsWith(`person.viewed,Viewed a person's record,person:${id},`)), lines.join('\n'));

    // An impossible date: the GOV.UK error summary, linked to the day, with what was typed kept.
    const from = page.getByRole('group', { name: 'From', exact: true });
    await from.getByLabel('Day').fill('31');
    await from.getByLabel('Month').fill('2');
    await from.getByLabel('Year').fill('2026');
    r = await go(page, page.getByRole('button', { name: 'Show entries' }));
    assert.equal(r.status(), 422);
    await assertErrorSummary(page, 'The from date must be a real date', 'from_day');
    assert.equal(await page.getByRole('group', { name: 'From', exact: true }).getByLabel('Day').inputValue(), '31');
    assert.equal(await page.getByRole('table', { name: 'Staff actions, newest first' }).count(), 0);
    await axeCheck(page, '/admin/audit (an impossible date)');
    assertNoForeignRequests(context, 'audit log');
  } finally {
    await context.close();
  }
});
