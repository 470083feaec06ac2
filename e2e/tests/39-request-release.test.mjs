// Answering a request for a copy of one's data from the case page, in the browser:
//  - a signed-in person asks for a copy of their data (a case at once);
//  - the demo's administrator opens the case, adds two files from other systems (one with a
//    hostile name, shown sanitised), withholds one of them as another person's data, builds
//    the bundle and releases it; each state of the case page is axe-clean;
//  - the person's email carries the single-use link; its page has one button; the download
//    is a whole ZIP holding the kept file as it was sent and not the withheld one, and its
//    data.json and index.html say what was left out and why; index.html, opened on its own,
//    is axe-clean; the used link then says so (410).
// No request to another host, no undeclared cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { launch, newContext, url, assertNoForeignRequests, assertNoAxeViolations } from './helpers.mjs';
import {
  STAFF, freshEmail, submit, signIn, pathname, h1, axeCheck, assertOnlyDeclaredCookies,
  waitForEmail, linkIn, register, confirmEmail,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** A ZIP of stored entries read by its central directory, each entry's CRC checked. */
function entriesOf(zip) {
  const end = zip.length - 22;
  assert.equal(zip.readUInt32LE(end), 0x06054b50, 'the file should end with a ZIP directory');
  const out = new Map();
  let at = zip.readUInt32LE(end + 16);
  for (let i = zip.readUInt16LE(end + 10); i > 0; i--) {
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = Buffer.from(zip.subarray(start, start + size));
    assert.equal(crc32(data), zip.readUInt32LE(at + 16), `${name} should match its CRC`);
    out.set(name, data);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return out;
}

/** Upload a file through the case page's form. */
async function addFile(page, id, name, content) {
  await page.locator('#file').setInputFiles({ name, mimeType: 'application/octet-stream', buffer: Buffer.from(content) });
  const response = await submit(page, page.getByRole('button', { name: 'Add the file' }), `/admin/requests/${id}/files`);
  assert.equal(response.status(), 303, `adding ${name} should answer 303; it answered ${response.status()}`);
  assert.equal(pathname(page), `/admin/requests/${id}`);
}

test('staff add a file, withhold another, build and release; the person downloads the answer once', async () => {
  const person = await newContext(browser, { acceptDownloads: true });
  const staff = await newContext(browser);
  try {
    // The person's request, received at once since they are signed in.
    const page = await person.newPage();
    const who = { name: 'Rowan Vale', email: freshEmail('release'), password: 'lantern orbit cabbage 8' };
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

    // The case page, for the demo's administrator.
    const desk = await staff.newPage();
    await signIn(desk, STAFF());
    await desk.goto(url(`/admin/requests/${id}`));
    assert.equal(await h1(desk), `Request ${id}: A copy of the data you hold about me`);
    assert.match(await desk.locator('main').innerText(), /No files added\.[\s\S]*Nothing withheld\./);
    await axeCheck(desk, 'the case page before the answer');

    await addFile(desk, id, '..\\letters\\<script>reply.txt', 'Dear Rowan, this is our reply.');
    await addFile(desk, id, 'neighbour.txt', 'A statement by a neighbour.');
    assert.match(await desk.locator('[role="status"]').innerText(), /The file has been added/);
    const files = desk.locator('main table').filter({ has: desk.locator('caption', { hasText: 'Files added to the answer' }) });
    const rows = await files.locator('tbody tr').allInnerTexts();
    assert.equal(rows.length, 2, `two files should be listed: ${rows}`);
    assert.match(rows[0], /_script_reply\.txt/, 'the hostile name should be shown sanitised');
    assert.doesNotMatch(await desk.content(), /<script>reply/);
    const neighbour = Number(rows[1].match(/^\s*(\d+)/)[1]);
    await axeCheck(desk, 'the case page with two files');

    // Withhold the neighbour's statement.
    await desk.getByLabel('Kind of data').selectOption('request_files');
    await desk.getByLabel('Row number').fill(String(neighbour));
    await desk.getByLabel('Ground').selectOption('other-person');
    await desk.getByLabel('Note for the person').fill('A statement about you by someone else.');
    response = await submit(desk, desk.getByRole('button', { name: 'Withhold it' }), `/admin/requests/${id}/withhold`);
    assert.equal(response.status(), 303);
    const withheld = desk.locator('main table').filter({ has: desk.locator('caption', { hasText: 'Items withheld from the answer' }) });
    assert.match(await withheld.innerText(), new RegExp(`the added file ${neighbour}[\\s\\S]*Another person's data`));
    await axeCheck(desk, 'the case page with a withheld item');

    // Build (an export: it says for whom), then release.
    await desk.getByLabel('Who is this export for?').selectOption('internal');
    await desk.getByLabel('If for internal use, what for').fill('Answering the request');
    response = await submit(desk, desk.getByRole('button', { name: 'Build the bundle' }), `/admin/requests/${id}/bundle`);
    assert.equal(response.status(), 303);
    assert.match(await desk.locator('[role="status"]').innerText(), /The bundle has been built/);
    await axeCheck(desk, 'the case page with the bundle built');
    response = await submit(desk, desk.getByRole('button', { name: 'Release it to the person' }), `/admin/requests/${id}/release`);
    assert.equal(response.status(), 303);
    assert.match(await desk.locator('[role="status"]').innerText(), /emailed a link to download the bundle/);
    assert.match(await desk.locator('main').innerText(), /Link works until/);
    await axeCheck(desk, 'the case page once released');

    // The person's email and the page its link opens.
    const mail = await waitForEmail(who.email, new RegExp(`^Your data is ready to download \\(request ${id}\\)$`));
    assert.match(mail.body, /works once/);
    assert.match(mail.body, /left some information out/);
    const link = linkIn(mail, '/requests/answer');
    const opened = await page.goto(link);
    assert.equal(opened.status(), 200);
    assert.equal(await h1(page), 'Download your data');
    await axeCheck(page, '/requests/answer');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Download your data (ZIP file)' }).click(),
    ]);
    const entries = entriesOf(await readFile(await download.path()));
    const added = [...entries.keys()].filter((n) => n.startsWith('files/'));
    assert.equal(added.length, 1, `one added file should be in the answer: ${[...entries.keys()]}`);
    assert.match(added[0], /^files\/\d+-_script_reply\.txt$/);
    assert.equal(entries.get(added[0]).toString('utf8'), 'Dear Rowan, this is our reply.');
    const data = JSON.parse(entries.get('data.json').toString('utf8'));
    assert.equal(data.withheld.length, 1);
    assert.equal(data.withheld[0].item, `the added file ${neighbour}`);
    assert.match(data.withheld[0].reason, /another person's data/);
    assert.equal(data.withheld[0].note, 'A statement about you by someone else.');

    // The summary, opened on its own, says what was left out and why.
    const viewer = await newContext(browser);
    const summary = await viewer.newPage();
    await summary.setContent(entries.get('index.html').toString('utf8'));
    const body = await summary.locator('main').innerText();
    assert.match(body, /What we have left out/);
    assert.match(body, /A statement about you by someone else\./);
    assert.match(body, /Documents from our other records/);
    await assertNoAxeViolations(summary, 'the released bundle\'s index.html');
    await viewer.close();

    // Used once: the link now says so.
    const again = await page.goto(link);
    assert.equal(again.status(), 410);
    assert.equal(await h1(page), 'This link has been used');
    await axeCheck(page, '/requests/answer, used');

    for (const [context, where] of [[person, 'the person'], [staff, 'the case page']]) {
      assertNoForeignRequests(context, where);
      await assertOnlyDeclaredCookies(context, where);
    }
  } finally {
    await person.close();
    await staff.close();
  }
});
