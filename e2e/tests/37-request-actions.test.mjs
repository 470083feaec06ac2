// Acting on requests, in the browser:
//  - a signed-in person asks for a correction of their postcode, naming the part of their
//    record (a postcode that is not one is refused on its field, the choice kept);
//  - the demo's administrator opens the case from the queue, follows "Act on the person's
//    record", sees the record's value beside the proposal, and accepts it: the page says so,
//    the history records it and the person is emailed;
//  - the administrator opens the emails about requests, tries a placeholder that is not
//    one (refused on its field, with the error summary), previews an edit, saves it and goes
//    back to the built-in wording (a step no other test reads, so the suites can run
//    together); and opens the reports page and its CSV.
// axe on each state, no request to another host, no undeclared cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch, newContext, url, assertNoForeignRequests } from './helpers.mjs';
import {
  STAFF, freshEmail, submit, signIn, pathname, h1, axeCheck, assertOnlyDeclaredCookies,
  waitForEmail, register, confirmEmail, assertErrorSummaryLists,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The request the person made: { id, email }, for the staff test. */
const made = [];

test('a signed-in person proposes a correction to a named part of their record', async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    const who = { name: 'Ash Pennant', email: freshEmail('request-correction'), password: 'lantern orbit cabbage 9' };
    await register(page, who);
    await confirmEmail(page, who.email);
    await signIn(page, who);

    await page.goto(url('/requests'));
    await page.getByLabel('Correct data about me that is wrong or incomplete').check();
    await page.locator('#name').fill(who.name);
    await page.locator('#email').fill(who.email);
    await page.locator('#correction_field').selectOption('postcode');
    await page.locator('#correction').fill('nowhere');
    let response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
    assert.equal(response.status(), 422, 'a postcode that is not one should be refused with 422');
    await assertErrorSummaryLists(page, [['#correction', /postcode/i]]);
    assert.equal(await page.locator('#correction_field').inputValue(), 'postcode', 'the choice should be kept');
    await axeCheck(page, '/requests with a bad correction');

    await page.locator('#correction').fill('nm1 2ab');
    response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
    assert.equal(response.status(), 200, `the request should answer 200; it answered ${response.status()}`);
    assert.equal(await h1(page), 'We have received your request');
    const ack = await waitForEmail(who.email, /^We have received your request \(number \d+\)$/);
    made.push({ id: Number(ack.headers.subject.match(/number (\d+)/)[1]), email: who.email });
    assertNoForeignRequests(context, 'a correction request');
    await assertOnlyDeclaredCookies(context, 'after a correction request');
  } finally {
    await context.close();
  }
});

test('the privacy officer accepts the correction, edits an email and reads the reports', async () => {
  assert.equal(made.length, 1, 'the person should have made a request');
  const { id, email } = made[0];
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await page.goto(url('/account/sign-in'));
    await signIn(page, STAFF());

    await page.goto(url(`/admin/requests/${id}`));
    const act = page.locator('main').getByRole('link', { name: "Act on the person's record" });
    assert.equal(await act.count(), 1, 'the case page should link to its actions');
    await Promise.all([page.waitForNavigation(), act.click()]);
    assert.equal(pathname(page), `/admin/requests/${id}/act`);
    assert.equal(await h1(page), `Act on request ${id}: Correct data about me that is wrong or incomplete`);
    const row = (await page.locator('main table tbody tr').innerText()).replace(/\s+/g, ' ').trim();
    assert.equal(row, 'Postcode Empty NM1 2AB', `the record and the proposal side by side: ${row}`);
    await axeCheck(page, 'a correction to act on');

    let response = await submit(page, page.getByRole('button', { name: 'Accept: change the record' }), `/admin/requests/${id}/act`);
    assert.equal(response.status(), 303);
    assert.match(await page.locator('main [role=status]').innerText(), /The record has been corrected/);
    await axeCheck(page, 'a correction accepted');
    const mail = await waitForEmail(email, new RegExp(`^We have corrected your data \\(request ${id}\\)$`));
    assert.match(mail.body, /NM1 2AB/);
    await page.goto(url(`/admin/requests/${id}`));
    assert.match(await page.locator('main table').last().innerText(), /Correction made\s+Postcode changed/);

    // The emails: a placeholder that is not one is refused on its field.
    await page.goto(url('/admin/requests'));
    await Promise.all([page.waitForNavigation(), page.locator('main').getByRole('link', { name: 'Emails about requests' }).click()]);
    assert.equal(await h1(page), 'Emails about requests');
    await axeCheck(page, '/admin/requests/templates');
    await Promise.all([page.waitForNavigation(), page.locator('main').getByRole('link', { name: 'Record restricted' }).click()]);
    assert.equal(pathname(page), '/admin/requests/templates/restricted');
    await axeCheck(page, 'a template');
    await page.locator('#subject').fill('Restricted {{secret}}');
    response = await submit(page, page.getByRole('button', { name: 'Save' }), '/admin/requests/templates/restricted');
    assert.equal(response.status(), 422);
    await assertErrorSummaryLists(page, [['#subject', /\{\{secret\}\}/]]);
    await axeCheck(page, 'a template with a bad placeholder');

    // A preview, then a save, then back to the built-in wording.
    await page.locator('#subject').fill('Your data is on hold (request {{request_number}})');
    response = await submit(page, page.getByRole('button', { name: 'Preview' }), '/admin/requests/templates/restricted');
    assert.equal(response.status(), 200);
    assert.match(await page.locator('main .preview').innerText(), /Your data is on hold \(request 123\)/);
    await axeCheck(page, 'a template preview');
    response = await submit(page, page.getByRole('button', { name: 'Save' }), '/admin/requests/templates/restricted');
    assert.equal(response.status(), 303);
    assert.match(await page.locator('main [role=status]').innerText(), /The wording is saved/);
    response = await submit(page, page.getByRole('button', { name: 'Go back to the built-in wording' }), '/admin/requests/templates/restricted');
    assert.equal(response.status(), 303);
    assert.equal(await page.locator('#subject').inputValue(), 'We have restricted the use of your data (request {{request_number}})');

    // The reports: a table, and the same as CSV.
    await page.goto(url('/admin/requests/reports'));
    assert.equal(await h1(page), 'Reports on requests');
    const all = (await page.locator('main table tbody tr').last().innerText()).replace(/\s+/g, ' ').trim();
    assert.match(all, /^All /, `the last row should cover the whole range: ${all}`);
    await axeCheck(page, '/admin/requests/reports');
    const csvHref = await page.locator('main').getByRole('link', { name: 'Download as CSV' }).getAttribute('href');
    const csv = await page.request.get(url(csvHref));
    assert.equal(csv.status(), 200);
    assert.match(await csv.text(), /^month,access,correction,erasure/);
    await page.goto(url('/admin/requests/reports?from=2026-02-30'));
    await assertErrorSummaryLists(page, [['#from', /not a date/]]);
    await axeCheck(page, '/admin/requests/reports with a bad date');

    assertNoForeignRequests(context, 'acting on requests');
    await assertOnlyDeclaredCookies(context, 'after acting on requests');
  } finally {
    await context.close();
  }
});
