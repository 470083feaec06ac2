// Forgotten password: ask for the link, open it from the email, choose a new password (after a
// too-short one), then sign in with the new password; the old one no longer works. axe checks
// the forgot-password page, its "Check your email" answer, the reset form, and its error state.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, assertNoForeignRequests, cookieNamed,
} from './helpers.mjs';
import {
  freshEmail, register, confirmEmail, signIn, submit, pathname, h1, waitForEmail, linkIn,
  assertErrorSummary, assertSessionCookie, assertOnlyDeclaredCookies, axeCheck, SESSION_COOKIE,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('password reset through the emailed link, then sign in with the new password', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const oldPassword = 'harbour violet pencil 3';
  const newPassword = 'saddle quarry lemon 8';
  const who = { name: 'Reset Me', email: freshEmail('reset'), password: oldPassword };
  try {
    await register(page, who);
    await confirmEmail(page, who.email);

    // Ask for the link from the sign-in page.
    await page.goto(url('/account/sign-in'));
    await page.getByRole('link', { name: 'I have forgotten my password' }).click();
    await page.waitForURL((u) => u.pathname === '/account/forgot-password');
    assert.equal(await h1(page), 'Reset your password');
    await axeCheck(page, '/account/forgot-password');
    await page.locator('#email').fill(who.email);
    const asked = await submit(page, page.getByRole('button', { name: 'Send the link' }), '/account/forgot-password');
    assert.ok(asked.status() < 400, `asking for a reset link should succeed; it answered ${asked.status()}`);
    assert.equal(await h1(page), 'Check your email');
    await axeCheck(page, '/account/forgot-password → Check your email');

    // The emailed link opens the new-password form.
    const mail = await waitForEmail(who.email, /password/i);
    assert.doesNotMatch(mail.headers.subject, /^Confirm your email/, 'the reset email should not be the confirmation email');
    const link = linkIn(mail, '/account/reset-password');
    const opened = await page.goto(link);
    assert.equal(opened.status(), 200, 'the reset link should open a page');
    assert.equal(await h1(page), 'Choose a new password');
    await axeCheck(page, '/account/reset-password');

    // Too short first: an error, and the token still works afterwards.
    await page.locator('#password').fill('short');
    const refused = await submit(page, page.getByRole('button', { name: 'Save the new password' }), '/account/reset-password');
    assert.equal(refused.status(), 422, 'a too-short new password should answer 422');
    assert.match(await page.title(), /^Error: /);
    assert.equal(await page.locator('.error-summary a[href="#password"]').count(), 1, 'the error summary should link to the password field');
    assert.equal(await page.locator('#password').inputValue(), '', 'the password should not be sent back');
    await axeCheck(page, '/account/reset-password with an error');

    await page.locator('#password').fill(newPassword);
    const saved = await submit(page, page.getByRole('button', { name: 'Save the new password' }), '/account/reset-password');
    assert.ok(saved.status() < 400, `saving the new password should succeed; it answered ${saved.status()}`);
    assert.equal(await page.locator('.error-summary').count(), 0, `saving the new password should not show an error: ${await page.locator('main').innerText()}`);
    assert.equal(pathname(page), '/account/sign-in', 'after the new password is saved, the sign-in page should show');
    assert.equal(await cookieNamed(context, SESSION_COOKIE), undefined, 'resetting the password should not sign anyone in');

    // The link is used up.
    const again = await page.goto(link);
    const reused = again.status() >= 400 || (await page.getByRole('button', { name: 'Save the new password' }).count()) === 0;
    if (!reused) {
      await page.locator('#password').fill('another fresh phrase 5');
      const second = await submit(page, page.getByRole('button', { name: 'Save the new password' }), '/account/reset-password');
      assert.ok(second.status() >= 400, `a used reset link should not set a password again; it answered ${second.status()}`);
    }

    // The old password no longer works; the new one does.
    await page.goto(url('/account/sign-in'));
    await signIn(page, { email: who.email, password: oldPassword }, { expect: 422 });
    await assertErrorSummary(page, 'The email address or password is not right', 'email');
    await signIn(page, { email: who.email, password: newPassword });
    assert.equal(pathname(page), '/account', 'signing in with the new password should reach /account');
    assertSessionCookie(await cookieNamed(context, SESSION_COOKIE));

    await assertOnlyDeclaredCookies(context, '(password reset)');
    assertNoForeignRequests(context, 'password reset');
  } finally {
    await context.close();
  }
});
