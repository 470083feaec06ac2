// Helpers for the account tests: the demo's email outbox, the staff sign-in, and the steps
// every account test repeats (register, confirm the emailed link, sign in, sign out).
//
// run.sh reads these from the demo's output and exports them:
//   CANDOUR_E2E_OUTBOX          folder the demo writes its emails to (*.eml) instead of sending
//   CANDOUR_E2E_STAFF_EMAIL     the demo's admin account
//   CANDOUR_E2E_STAFF_PASSWORD  and its password
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ORIGIN, url, declaredCookies, assertNoAxeViolations } from './helpers.mjs';

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run the suite with e2e/run.sh, which reads it from the output of \`candour demo\``);
  }
  return value;
}

export const OUTBOX = () => env('CANDOUR_E2E_OUTBOX');
export const STAFF = () => ({ email: env('CANDOUR_E2E_STAFF_EMAIL'), password: env('CANDOUR_E2E_STAFF_PASSWORD') });

/** The session cookie's name (declared in /privacy.json as necessary). */
export const SESSION_COOKIE = 'clientvars';

/** A fresh address for this run, so a re-run against a long-lived server does not collide. */
export function freshEmail(label) {
  return `e2e-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}@example.com`;
}

// ---------------------------------------------------------------------------------------------
// Email

/** Undo quoted-printable: soft line breaks (`=\r\n`) and `=XX` escapes, then decode UTF-8. */
export function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const ch = joined[i];
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(ch, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Parse one RFC 5322 message: lower-cased headers (unfolded) and the decoded body. */
export function parseEmail(raw) {
  const split = raw.search(/\r?\n\r?\n/);
  const head = split === -1 ? raw : raw.slice(0, split);
  let body = split === -1 ? '' : raw.slice(split).replace(/^\r?\n\r?\n/, '');
  const headers = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const encoding = (headers['content-transfer-encoding'] || '').toLowerCase();
  if (encoding === 'quoted-printable') body = decodeQuotedPrintable(body);
  else if (encoding === 'base64') body = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return { headers, body };
}

async function readOutbox() {
  const dir = OUTBOX();
  let names;
  try {
    names = await readdir(dir);
  } catch (e) {
    if (e.code === 'ENOENT') return [];
    throw e;
  }
  const mails = [];
  for (const name of names.filter((n) => n.endsWith('.eml'))) {
    const file = path.join(dir, name);
    try {
      const [raw, info] = await Promise.all([readFile(file, 'utf8'), stat(file)]);
      mails.push({ file, mtime: info.mtimeMs, ...parseEmail(raw) });
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
  return mails.sort((a, b) => a.mtime - b.mtime);
}

/**
 * Wait (up to `timeout` ms) for an email to `to` whose subject matches `subject`, and that is
 * not one of the files in `skip`; returns the newest such email.
 */
export async function waitForEmail(to, subject, { timeout = 10_000, skip = [] } = {}) {
  const deadline = Date.now() + timeout;
  let seen = [];
  for (;;) {
    seen = await readOutbox();
    const matching = seen.filter((m) =>
      (m.headers.to || '').toLowerCase().includes(to.toLowerCase())
      && subject.test(m.headers.subject || '')
      && !skip.includes(m.file));
    if (matching.length > 0) return matching[matching.length - 1];
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no email to ${to} with a subject matching ${subject} in ${OUTBOX()} within ${timeout} ms; there are ${seen.length}: ${seen.map((m) => `${m.headers.to} "${m.headers.subject}"`).join('; ')}`);
}

/** The one link in the email's body whose path is `pathname`; it must be on the server under test. */
export function linkIn(mail, pathname) {
  const links = [...mail.body.matchAll(/https?:\/\/[^\s<>"]+/g)].map((m) => m[0]);
  const wanted = links.filter((l) => {
    try {
      return new URL(l).pathname === pathname;
    } catch {
      return false;
    }
  });
  assert.equal(wanted.length, 1, `the email "${mail.headers.subject}" should have one link to ${pathname}; its links: ${links.join(', ')}`);
  const link = new URL(wanted[0]);
  assert.equal(link.origin, ORIGIN, `the emailed link should point at the server under test (${ORIGIN}); it is ${link.href}`);
  assert.ok(link.searchParams.get('token'), `the emailed link should carry a token: ${link.href}`);
  return link.href;
}

// ---------------------------------------------------------------------------------------------
// Pages and forms

/** axe with the suite's WCAG tags, in legacy mode (same results on these frameless pages, faster). */
export function axeCheck(page, label) {
  return assertNoAxeViolations(page, label, { legacyMode: true });
}

/**
 * Click `clickable` (which submits a form by POST), wait for the page that answers to load,
 * and return the response to the POST itself (a 303 when the server redirected). `action`,
 * when given, is the path the POST must go to.
 */
export async function submit(page, clickable, action) {
  const [landed] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), clickable.click()]);
  assert.ok(landed, 'submitting the form should load a page');
  let request = landed.request();
  while (request.redirectedFrom()) request = request.redirectedFrom();
  assert.equal(request.method(), 'POST', `the form should be posted; the browser sent ${request.method()} ${request.url()}`);
  if (action) assert.equal(new URL(request.url()).pathname, action, `the form should post to ${action}`);
  const response = await request.response();
  assert.ok(response, 'the POST should have an answer');
  return response;
}

export function pathname(page) {
  return new URL(page.url()).pathname;
}

export async function h1(page) {
  return (await page.locator('main h1').innerText()).trim();
}

/** Assert the GOV.UK error-summary pattern: title prefix, summary with the message, link to a field. */
export async function assertErrorSummary(page, message, field) {
  assert.match(await page.title(), /^Error: /, 'the title should start with "Error: "');
  const summary = page.locator('.error-summary');
  assert.ok(await summary.isVisible(), 'the error summary should show');
  const link = summary.getByRole('link', { name: message });
  assert.equal(await link.count(), 1, `the error summary should link "${message}"; it says: ${await summary.innerText()}`);
  const href = await link.getAttribute('href');
  assert.equal(href, `#${field}`, `the error summary link should point at #${field}`);
  assert.equal(await page.locator(href).count(), 1, `the error summary link ${href} should point at a field on the page`);
  const inline = page.locator(`#${field}-error`);
  if (await inline.count() > 0) assert.match(await inline.innerText(), new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
}

/**
 * The GOV.UK error summary: title "Error: ...", one summary headed "There is a problem",
 * listing exactly `expected` ([href, message or RegExp] pairs), each link pointing at one
 * element on the page, and that element's form group showing the message inline.
 */
export async function assertErrorSummaryLists(page, expected) {
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
    const target = page.locator(`[id="${href.slice(1)}"]`);
    assert.equal(await target.count(), 1, `the summary link ${href} should point at one element on the page`);
    const inline = page.locator('.form-group--error', { has: target }).locator('.error-message');
    assert.equal(await inline.count(), 1, `the field ${href} should show its error beside it`);
    assert.ok((await inline.innerText()).includes(gotText),
      `the field ${href} should say "${gotText}" beside it; it says "${await inline.innerText()}"`);
  }
}

export function header(page) {
  return page.locator('header .site-header__account');
}

/** Fill and post the registration form; expects the "Check your email" page. */
export async function register(page, { name, email, password }) {
  await page.goto(url('/account/register'));
  await page.locator('#name').fill(name);
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  const response = await submit(page, page.getByRole('button', { name: 'Create account' }), '/account/register');
  assert.equal(response.status(), 200, `registering should answer 200; it answered ${response.status()}: ${await h1(page).catch(() => '')}`);
  assert.equal(await h1(page), 'Check your email');
}

/** Open the confirmation link from the outbox and press its button; expects "Email address confirmed". */
export async function confirmEmail(page, email, { onConfirmPage } = {}) {
  const mail = await waitForEmail(email, /^Confirm your email address for Northmoor Police$/);
  const link = linkIn(mail, '/account/verify');
  const opened = await page.goto(link);
  assert.equal(opened.status(), 200, 'the confirmation link should open a page');
  const button = page.getByRole('button', { name: 'Confirm my email address' });
  assert.equal(await button.count(), 1, 'the link should show a "Confirm my email address" button, not confirm by GET');
  if (onConfirmPage) await onConfirmPage(page);
  const response = await submit(page, button);
  assert.ok(response.status() < 400, `confirming should succeed; it answered ${response.status()}`);
  assert.equal(await h1(page), 'Email address confirmed');
  const signIn = page.locator('main').getByRole('link', { name: 'Sign in' });
  assert.equal(await signIn.count(), 1, 'the confirmed page should link to Sign in');
  return { mail, link };
}

/**
 * Confirm, as the address's owner, what a public form agreed to: the emailed link opens a page
 * with a button (a GET confirms nothing), and pressing it records the consent.
 */
export async function confirmFormConsent(page, email) {
  const mail = await waitForEmail(email, /^Please confirm what you agreed to with Northmoor Police$/);
  const link = linkIn(mail, '/preferences/confirm');
  const opened = await page.goto(link);
  assert.equal(opened.status(), 200, 'the confirmation link should open a page');
  assert.equal(await h1(page), 'Confirm what you agreed to');
  const button = page.getByRole('button', { name: 'Confirm' });
  assert.equal(await button.count(), 1, 'the link should show a Confirm button, not confirm by GET');
  const response = await submit(page, button);
  assert.equal(response.status(), 200, `confirming should succeed; it answered ${response.status()}`);
  assert.equal(await h1(page), 'You have confirmed what you agreed to');
  return { mail, link };
}

/** Post the sign-in form (from the page the browser is on, when it is the sign-in page). */
export async function signIn(page, { email, password }, { expect = 303 } = {}) {
  if (pathname(page) !== '/account/sign-in') await page.goto(url('/account/sign-in'));
  await page.locator('#email').fill(email);
  await page.locator('#password').fill(password);
  const response = await submit(page, page.locator('main').getByRole('button', { name: 'Sign in' }), '/account/sign-in');
  assert.equal(response.status(), expect, `signing in as ${email} should answer ${expect}; it answered ${response.status()}`);
  return response;
}

/** Press the header's Sign out button. */
export async function signOut(page) {
  const button = header(page).getByRole('button', { name: 'Sign out' });
  assert.equal(await button.count(), 1, 'the header should have a Sign out button when signed in');
  const response = await submit(page, button, '/account/sign-out');
  assert.ok([200, 303].includes(response.status()), `signing out should answer 303 (or 200); it answered ${response.status()}`);
  assert.equal(await header(page).getByRole('link', { name: 'Sign in' }).count(), 1, 'after signing out the header should offer Sign in');
  return response;
}

/** Every cookie in the context must be declared in /privacy.json. */
export async function assertOnlyDeclaredCookies(context, where = '') {
  const declared = await declaredCookies();
  const cookies = await context.cookies();
  const undeclared = cookies.filter((c) => !declared.some((d) => d.re.test(c.name)));
  assert.deepEqual(
    undeclared.map((c) => c.name),
    [],
    `undeclared cookie(s)${where ? ' ' + where : ''}: ${undeclared.map((c) => `${c.name} (domain ${c.domain}, path ${c.path})`).join(', ')}; declared: ${declared.map((d) => d.name).join(', ')}`,
  );
}

/** The session cookie must be HttpOnly, SameSite=Lax and last only for the browser session. */
export function assertSessionCookie(cookie) {
  assert.ok(cookie, `the ${SESSION_COOKIE} cookie should be set after signing in`);
  assert.equal(cookie.httpOnly, true, `${SESSION_COOKIE} should be HttpOnly`);
  assert.equal(cookie.sameSite, 'Lax', `${SESSION_COOKIE} should be SameSite=Lax`);
  assert.equal(cookie.expires, -1, `${SESSION_COOKIE} should be a session cookie (no Expires or Max-Age); expires=${cookie.expires}`);
  assert.equal(cookie.path, '/', `${SESSION_COOKIE} should have Path=/`);
  assert.ok(cookie.value.length >= 16, `${SESSION_COOKIE} should hold a long random value`);
}
