// The register of disclosures and an export that asks for whom, as the demo's administrator
// (JavaScript on: axe can only re-check without JavaScript a state reached by a GET, and
// several states here answer a POST; nothing on these pages needs a script):
//  - /admin/disclosures: a recipient is added (an empty form first: the GOV.UK error summary,
//    422) and listed as active;
//  - someone signs up on form 1; on their record the export asks "Who is this export for?":
//    sent without an answer it is refused (422, no file: the person's page again, the error
//    summary linking to the field, which says why beside it and is marked invalid), then
//    internal use without a purpose is refused the same way with the choice kept, then made
//    for the new recipient it downloads their JSON;
//  - the register's latest disclosures name the recipient, the export and the one person;
//  - /privacy lists the recipient with its purpose and lawful basis;
//  - a form's responses and the audit log refuse their CSV export the same way, each drawing
//    its own page again.
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

/** A refused export: the error summary links to the field, which shows the message beside it,
 *  is described by it and is marked invalid. */
async function assertRefusedOn(page, message, field) {
  await assertErrorSummary(page, message, field);
  const input = page.locator(`#${field}`);
  assert.equal(await input.getAttribute('aria-invalid'), 'true', `#${field} should be marked invalid`);
  assert.match(await input.getAttribute('aria-describedby'), new RegExp(`\\b${field}-error\\b`));
}

test('an export asks for whom, is refused without an answer and is recorded as a disclosure', async () => {
  const email = freshEmail('disclosed');
  const visitor = await newContext(browser);
  try {
    const pub = await visitor.newPage();
    await pub.goto(url('/forms/1'));
    await pub.getByLabel('Email address').fill(email);
    await pub.getByLabel('Your name').fill('Dee Closure');
    const sent = await submit(pub, pub.locator('main').getByRole('button', { name: 'Send', exact: true }), '/forms/1');
    assert.equal(sent.status(), 200, 'form 1 should be accepted');
  } finally {
    await visitor.close();
  }

  const context = await newContext(browser, { storageState: adminState, acceptDownloads: true });
  const page = await context.newPage();
  const recipient = `Parcel couriers ${Date.now()}`;
  try {
    // The register: an empty form is refused field by field, then a recipient is added.
    await page.goto(url('/admin/disclosures'));
    assert.equal(await h1(page), 'Disclosures');
    await axeCheck(page, '/admin/disclosures');
    const add = page.getByRole('form', { name: 'Add a recipient' });
    let r = await submit(page, add.getByRole('button', { name: 'Add the recipient' }), '/admin/disclosures');
    assert.equal(r.status(), 422);
    await assertErrorSummary(page, "Enter the recipient's name", 'name');
    await axeCheck(page, '/admin/disclosures (an empty recipient)');
    await add.getByLabel("Recipient's name").fill(recipient);
    await add.getByLabel('What they receive it for').fill('Delivering the leaflets people order');
    await add.getByLabel('Legitimate interests').check();
    r = await submit(page, add.getByRole('button', { name: 'Add the recipient' }), '/admin/disclosures');
    assert.equal(r.status(), 303);
    const listed = page.getByRole('table', { name: 'Recipients of personal data' }).getByRole('row').filter({ hasText: recipient });
    assert.deepEqual((await listed.locator('td').allInnerTexts()).slice(0, 4).map((t) => t.trim()),
      [recipient, 'Delivering the leaflets people order', 'Legitimate interests', 'Active']);

    // The person's record: the export asks for whom.
    await page.goto(url(`/admin/people?q=${encodeURIComponent(email)}`));
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.getByRole('link', { name: email, exact: true }).click()]);
    const record = pathname(page);
    assert.match(record, /^\/admin\/people\/\d+$/);
    const id = record.split('/').pop();
    const forWhom = page.getByLabel('Who is this export for?');
    assert.ok((await forWhom.locator('option').allInnerTexts()).includes(recipient), 'the register is offered');
    await axeCheck(page, `${record} (the export asks for whom)`);
    const download = page.getByRole('button', { name: 'Download everything we hold (JSON)' });
    r = await submit(page, download, `${record}/export`);
    assert.equal(r.status(), 422, 'no answer: refused');
    assert.equal(r.headers()['content-disposition'], undefined, 'and no file');
    // The person's page again, the problem beside the field.
    assert.equal(await h1(page), `Person: ${email}`);
    await assertRefusedOn(page, 'Choose who the export is for', 'for');
    await axeCheck(page, `${record}/export (refused)`);
    // Internal use without saying what for: the choice is kept, the purpose asked for.
    await page.getByLabel('Who is this export for?').selectOption('internal');
    r = await submit(page, download, `${record}/export`);
    assert.equal(r.status(), 422);
    await assertRefusedOn(page, 'Say what the export is for inside the organisation', 'for_purpose');
    assert.equal(await page.getByLabel('Who is this export for?').inputValue(), 'internal');
    await axeCheck(page, `${record}/export (refused: no purpose)`);

    await page.getByLabel('Who is this export for?').selectOption({ label: recipient });
    const [file] = await Promise.all([page.waitForEvent('download'), download.click()]);
    assert.equal(file.suggestedFilename(), `person-${id}.json`);
    const data = JSON.parse(await readFile(await file.path(), 'utf8'));
    assert.equal(data.people[0].email, email);

    // The register lists the disclosure.
    await page.goto(url('/admin/disclosures'));
    const latest = page.getByRole('table', { name: 'The latest exports of personal data, newest first' }).locator('tbody tr').first();
    const cells = (await latest.locator('td').allInnerTexts()).map((t) => t.trim());
    assert.deepEqual(cells.slice(1), [recipient, `person: person ${id}`, '1', STAFF().email]);
    await axeCheck(page, '/admin/disclosures (with a disclosure)');

    // The privacy notice names the recipient.
    await page.goto(url('/privacy'));
    const row = page.locator('main table').getByRole('row').filter({ hasText: recipient });
    assert.deepEqual((await row.locator('td').allInnerTexts()).map((t) => t.trim()),
      [recipient, 'Delivering the leaflets people order', 'our legitimate interests']);
    await axeCheck(page, '/privacy (with the register)');
    assertNoForeignRequests(context, 'disclosures');
  } finally {
    // Retire the recipient again, so the demo's notice is as it was for the other files.
    await page.goto(url('/admin/disclosures'));
    const retire = page.getByRole('button', { name: `Retire ${recipient}` });
    if (await retire.count()) await submit(page, retire);
    await context.close();
  }
});

test('a refused export of form responses or the audit log draws its page again, the problem beside the field', async () => {
  const context = await newContext(browser, { storageState: adminState, acceptDownloads: true });
  const page = await context.newPage();
  try {
    for (const [path, button, action] of [
      ['/admin/forms/1/responses', 'Download all as CSV', '/admin/forms/1/responses.csv'],
      ['/admin/audit?action=person.viewed', 'Download these entries as CSV', '/admin/audit.csv'],
    ]) {
      await page.goto(url(path));
      const heading = await h1(page);
      const r = await submit(page, page.getByRole('button', { name: button }), action);
      assert.equal(r.status(), 422, `${action} without an answer should be refused`);
      assert.equal(r.headers()['content-disposition'], undefined, 'and no file');
      assert.equal(await h1(page), heading, 'the same page, drawn again');
      await assertRefusedOn(page, 'Choose who the export is for', 'for');
      await axeCheck(page, `${action} (refused)`);
      // Internal use without saying what for: the choice is kept, the purpose asked for.
      await page.getByLabel('Who is this export for?').selectOption('internal');
      const again = await submit(page, page.getByRole('button', { name: button }), action);
      assert.equal(again.status(), 422);
      await assertRefusedOn(page, 'Say what the export is for inside the organisation', 'for_purpose');
      assert.equal(await page.getByLabel('Who is this export for?').inputValue(), 'internal');
    }
    assertNoForeignRequests(context, 'refused exports');
  } finally {
    await context.close();
  }
});
