// The answer to a request for a copy of one's data, in the browser: a signed-in person finds
// "Download your data now" on their account page, reads what the download holds, presses the
// button (a POST; with JavaScript off and on) and gets one ZIP file. The ZIP reads back whole
// (each entry's CRC checked), its data.json names their account, and its index.html, the
// readable summary, opened as a page on its own, states the rights and the right to complain
// to the ICO and has no axe violations (WCAG 2.2 AA). The page itself is axe-clean; no request
// to another host, no undeclared cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { launch, newContext, url, assertNoForeignRequests, assertNoAxeViolations } from './helpers.mjs';
import {
  freshEmail, signIn, pathname, h1, axeCheck, assertOnlyDeclaredCookies, register, confirmEmail,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The entries of a ZIP of stored entries, by its central directory: name -> Buffer. */
function unzip(zip) {
  const end = zip.length - 22;
  assert.equal(zip.readUInt32LE(end), 0x06054b50, 'the file should end with a ZIP directory');
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const out = new Map();
  for (let i = 0; i < count; i++) {
    assert.equal(zip.readUInt32LE(at), 0x02014b50);
    assert.equal(zip.readUInt16LE(at + 10), 0, 'entries are stored, not compressed');
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    assert.ok(start + size <= zip.length, `${name} should be whole`);
    const data = Buffer.from(zip.subarray(start, start + size));
    assert.equal(crc32(data), zip.readUInt32LE(at + 16), `${name} should match its CRC`);
    out.set(name, data);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return out;
}

for (const js of [false, true]) {
  test(`a signed-in person downloads their data from their account, JavaScript ${js ? 'on' : 'off'}`, async () => {
    const context = await newContext(browser, { javaScriptEnabled: js, acceptDownloads: true });
    try {
      const page = await context.newPage();
      const who = { name: 'Ash Moor', email: freshEmail(js ? 'answer-js' : 'answer-nojs'), password: 'lantern orbit cabbage 9' };
      await register(page, who);
      await confirmEmail(page, who.email);
      await signIn(page, who);

      await page.goto(url('/account'));
      const link = page.locator('main').getByRole('link', { name: 'Download your data now' });
      assert.equal(await link.count(), 1, 'the account page should offer the download');
      await Promise.all([page.waitForNavigation(), link.click()]);
      assert.equal(pathname(page), '/requests/my-data');
      assert.equal(await h1(page), 'Download your data');
      await axeCheck(page, '/requests/my-data');

      const button = page.getByRole('button', { name: 'Download your data (ZIP file)' });
      const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
      assert.equal(download.suggestedFilename(), 'my-data.zip');
      const entries = unzip(await readFile(await download.path()));
      for (const name of ['data.json', 'index.html', 'csv/accounts.csv']) {
        assert.ok(entries.has(name), `the ZIP should hold ${name}; it holds ${[...entries.keys()].join(', ')}`);
      }
      const data = JSON.parse(entries.get('data.json').toString('utf8'));
      assert.equal(data.tables.accounts[0].email, who.email);
      assert.match(data.tables.accounts[0].password_hash, /^withheld/);
      assert.match(data.supplementary.complaint, /Information Commissioner/);

      // The readable summary, as the person opens it from the ZIP (it needs no script).
      const viewer = await newContext(browser);
      const summary = await viewer.newPage();
      await summary.setContent(entries.get('index.html').toString('utf8'));
      assert.match(await summary.locator('h1').innerText(), /^Your data held by /);
      const body = await summary.locator('main').innerText();
      assert.match(body, new RegExp(who.email.replace(/[.+]/g, '\\$&')));
      assert.match(body, /Information Commissioner/);
      await assertNoAxeViolations(summary, 'the bundle\'s index.html');
      await viewer.close();

      assertNoForeignRequests(context, 'downloading one\'s data');
      await assertOnlyDeclaredCookies(context, 'downloading one\'s data');
    } finally {
      await context.close();
    }
  });
}
