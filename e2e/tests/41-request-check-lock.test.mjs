// Checking an answer before it is released, and an answered case keeping its answer, in the
// browser:
//  - a signed-in person asks for a copy of their data; the demo's administrator builds the
//    bundle on the case page, presses "Download the bundle to check it" and gets a whole ZIP
//    named for the request (audited as a check, not a disclosure), then releases it;
//  - the answered case page says its answer is fixed and why, shows the file as it stands
//    and offers no form to change it; a second tab opened before the release, pressing
//    "Add the file", gets the case page again (409) with the error summary saying why;
//  - the demo's own requests: the queue lists open and closed requests; the open request for a
//    copy shows its added file and withheld item, the answered one (from "Answered or
//    refused") says its answer is fixed; the register lists recipients, one retired, and
//    disclosures, and /privacy names the active ones.
// axe on each state; no request to another host.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { launch, newContext, url, assertNoForeignRequests } from './helpers.mjs';
import {
  STAFF, freshEmail, submit, signIn, pathname, h1, axeCheck, waitForEmail, register,
  confirmEmail, assertErrorSummary,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('staff download a built bundle to check it; once answered, the case keeps its answer and says why', async () => {
  const person = await newContext(browser);
  const staff = await newContext(browser, { acceptDownloads: true });
  try {
    const page = await person.newPage();
    const who = { name: 'Ellis Marsh', email: freshEmail('check'), password: 'harbour velvet turnip 5' };
    await register(page, who);
    await confirmEmail(page, who.email);
    await signIn(page, who);
    await page.goto(url('/requests'));
    await page.getByLabel('A copy of the data you hold about me').check();
    await page.locator('#name').fill(who.name);
    await page.locator('#email').fill(who.email);
    let response = await submit(page, page.getByRole('button', { name: 'Send my request' }), '/requests');
    assert.equal(response.status(), 200);
    const ack = await waitForEmail(who.email, /^We have received your request \(number \d+\)$/);
    const id = Number(ack.headers.subject.match(/number (\d+)/)[1]);

    const desk = await staff.newPage();
    await signIn(desk, STAFF());
    await desk.goto(url(`/admin/requests/${id}`));
    assert.equal(await desk.getByRole('button', { name: 'Download the bundle to check it' }).count(), 0,
      'nothing to check before the bundle is built');
    await desk.locator('#file').setInputFiles({ name: 'letter.txt', mimeType: 'text/plain', buffer: Buffer.from('Our letter.') });
    response = await submit(desk, desk.getByRole('button', { name: 'Add the file' }), `/admin/requests/${id}/files`);
    assert.equal(response.status(), 303);
    await desk.getByLabel('Who is this export for?').selectOption('internal');
    await desk.getByLabel('If for internal use, what for').fill('Answering the request');
    response = await submit(desk, desk.getByRole('button', { name: 'Build the bundle' }), `/admin/requests/${id}/bundle`);
    assert.equal(response.status(), 303);
    assert.match(await desk.locator('[role="status"]').innerText(), /Download it to check it/);
    await axeCheck(desk, 'the case page with a bundle to check');

    // The check: a whole ZIP named for the request, holding the added file.
    const [file] = await Promise.all([
      desk.waitForEvent('download'),
      desk.getByRole('button', { name: 'Download the bundle to check it' }).click(),
    ]);
    assert.equal(file.suggestedFilename(), `request-${id}-bundle.zip`);
    const zip = await readFile(await file.path());
    assert.equal(zip.readUInt32LE(zip.length - 22), 0x06054b50, 'a whole ZIP');
    assert.ok(zip.includes(Buffer.from('data.json')) && zip.includes(Buffer.from('letter.txt')));

    // A second tab, opened before the release.
    const stale = await staff.newPage();
    await stale.goto(url(`/admin/requests/${id}`));

    response = await submit(desk, desk.getByRole('button', { name: 'Release it to the person' }), `/admin/requests/${id}/release`);
    assert.equal(response.status(), 303);
    const main = await desk.locator('main').innerText();
    assert.match(main, /This request has been answered, so its answer is fixed/);
    assert.match(main, /letter\.txt/, 'the file is shown as it stands');
    for (const gone of ['Add the file', 'Withhold it', 'Remove letter.txt', 'Build the bundle again']) {
      assert.equal(await desk.getByRole('button', { name: gone }).count(), 0, `${gone} should not be offered once answered`);
    }
    assert.equal(await desk.getByRole('button', { name: 'Send a new download link' }).count(), 1);
    assert.equal(await desk.getByRole('button', { name: 'Download the bundle to check it' }).count(), 1);
    await axeCheck(desk, 'the answered case page');

    // The old tab's form is refused, and the page says why.
    await stale.locator('#file').setInputFiles({ name: 'late.txt', mimeType: 'text/plain', buffer: Buffer.from('Late.') });
    response = await submit(stale, stale.getByRole('button', { name: 'Add the file' }), `/admin/requests/${id}/files`);
    assert.equal(response.status(), 409);
    assert.equal(await h1(stale), `Request ${id}: A copy of the data you hold about me`);
    await assertErrorSummary(stale, 'This request has been answered, so its answer is fixed', 'items');
    assert.doesNotMatch(await stale.locator('main').innerText(), /late\.txt/);
    await axeCheck(stale, 'the answered case page, a change refused');

    assertNoForeignRequests(staff, 'the case page');
  } finally {
    await person.close();
    await staff.close();
  }
});

test('the demo shows an answer being prepared, an answered case, and the register', async () => {
  const context = await newContext(browser);
  try {
    const page = await context.newPage();
    await signIn(page, STAFF());
    await page.goto(url('/admin/requests'));
    await axeCheck(page, '/admin/requests with open and closed requests');
    const open = page.getByRole('row').filter({ hasText: 'Dafydd Rees' }).getByRole('link');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), open.click()]);
    assert.match(pathname(page), /^\/admin\/requests\/\d+$/);
    const main = await page.locator('main').innerText();
    assert.match(main, /101-calls-2019-2025\.csv/);
    assert.match(main, /witness-statement-NM-23-8820\.txt/);
    assert.match(main, /Another person's data/);
    await axeCheck(page, 'the demo case with an answer being prepared');

    // The answered request is listed under "Answered or refused", and says its answer is fixed.
    await page.goto(url('/admin/requests'));
    const closed = page.getByRole('table', { name: 'Answered or refused' });
    const answered = closed.getByRole('row').filter({ hasText: 'Morag Campbell' }).getByRole('link');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), answered.click()]);
    assert.match(await page.locator('main').innerText(), /answered without a bundle, so its answer is fixed/);
    await axeCheck(page, 'the demo\'s answered case');

    await page.goto(url('/admin/disclosures'));
    const recipients = await page.getByRole('table', { name: 'Recipients of personal data' }).innerText();
    assert.match(recipients, /Crown Prosecution Service/);
    assert.match(recipients, /Northmoor Print and Post Ltd[\s\S]*Retired/);
    const latest = await page.getByRole('table', { name: 'The latest exports of personal data, newest first' }).innerText();
    assert.match(latest, /Northmoor County Council/);
    await page.goto(url('/privacy'));
    assert.match(await page.locator('main').innerText(), /Crown Prosecution Service/);
    assertNoForeignRequests(context, 'the demo');
  } finally {
    await context.close();
  }
});
