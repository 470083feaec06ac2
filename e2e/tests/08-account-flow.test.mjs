// An account from start to end, once with JavaScript and once without: register, confirm the
// emailed link, sign in (after a wrong password), fill the profile (after a bad postcode), see
// the topics followed on the home page, sign out with the header's button, and sign in again.
// Along the way: the session cookie's attributes, that each sign-in gets a new session, that a
// signed-out session cannot be used again, axe on each page, no request to another host and no
// undeclared cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, ORIGIN, assertNoForeignRequests, cookieNamed,
} from './helpers.mjs';
import {
  freshEmail, register, confirmEmail, signIn, signOut, submit, pathname, h1, header,
  assertErrorSummary, assertSessionCookie, assertOnlyDeclaredCookies, axeCheck, SESSION_COOKIE,
} from './account-helpers.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const PROFILE = {
  name: 'Robin Ashdown',
  job_title: 'Parish clerk',
  phone: '01632 960123',
  postal_address: '3 Mill Row\nUpper Northmoor',
};

async function fillProfile(page, postcode) {
  await page.locator('#name').fill(PROFILE.name);
  await page.locator('#job_title').fill(PROFILE.job_title);
  await page.locator('#phone').fill(PROFILE.phone);
  await page.locator('#postal_address').fill(PROFILE.postal_address);
  await page.locator('#postcode').fill(postcode);
  await page.locator('#interest-road-safety').check();
}

async function assertProfileShows(page, postcode, when) {
  assert.equal(await page.locator('#name').inputValue(), PROFILE.name, `the name should be kept ${when}`);
  assert.equal(await page.locator('#job_title').inputValue(), PROFILE.job_title, `the job title should be kept ${when}`);
  // The server may tidy the spaces out of a telephone number once it is saved.
  assert.equal((await page.locator('#phone').inputValue()).replace(/\s+/g, ''), PROFILE.phone.replace(/\s+/g, ''), `the telephone number should be kept ${when}`);
  assert.equal((await page.locator('#postal_address').inputValue()).replace(/\r\n/g, '\n'), PROFILE.postal_address, `the postal address should be kept ${when}`);
  assert.equal(await page.locator('#postcode').inputValue(), postcode, `the postcode should show as typed ${when}`);
  assert.equal(await page.locator('#interest-road-safety').isChecked(), true, `"Road safety" should stay ticked ${when}`);
  assert.equal(await page.locator('#interest-fraud').isChecked(), false, `"Fraud and scams" should stay unticked ${when}`);
}

async function accountFlow({ js }) {
  const mode = js ? 'JS' : 'no JS';
  const context = await newContext(browser, js ? {} : { javaScriptEnabled: false });
  const page = await context.newPage();
  const who = { name: `Flow ${mode}`, email: freshEmail(js ? 'flow-js' : 'flow-nojs'), password: 'lantern orbit cabbage 7' };
  // The server sends the same HTML with or without JavaScript, so axe checks each page in the
  // JS run. Without JS it checks the signed-in account page once, through the helper's reload
  // (which works only for pages reached by a GET, and costs a second browser context).
  const axe = async (label) => { if (js) await axeCheck(page, `${label} (${mode})`); };
  try {
    // Register: the empty form, then (with JS) a first try with a weak password.
    await page.goto(url('/account/register'));
    assert.equal(await h1(page), 'Create an account');
    await axe('/account/register');
    if (js) {
      await page.locator('#name').fill(who.name);
      await page.locator('#email').fill(who.email);
      await page.locator('#password').fill('short');
      const refused = await submit(page, page.getByRole('button', { name: 'Create account' }), '/account/register');
      assert.equal(refused.status(), 422, 'a too-short password should answer 422');
      assert.match(await page.title(), /^Error: /);
      const summaryLink = page.locator('.error-summary a[href="#password"]');
      assert.equal(await summaryLink.count(), 1, 'the error summary should link to the password field');
      assert.equal(await page.locator('#name').inputValue(), who.name, 'the name should be kept after an error');
      assert.equal(await page.locator('#email').inputValue(), who.email, 'the email address should be kept after an error');
      assert.equal(await page.locator('#password').inputValue(), '', 'the password should not be sent back');
      await axe('/account/register with errors');
    }
    await register(page, who);
    await axe('/account/register → Check your email');

    // The emailed link, and its confirmation button.
    await confirmEmail(page, who.email, {
      onConfirmPage: () => axe('/account/verify'),
    });
    await axe('Email address confirmed');
    await page.locator('main').getByRole('link', { name: 'Sign in' }).click();
    await page.waitForURL((u) => u.pathname === '/account/sign-in');
    await axe('/account/sign-in');

    // A wrong password first.
    const wrong = await signIn(page, { email: who.email, password: 'not the right one 9' }, { expect: 422 });
    assert.equal(wrong.status(), 422);
    await assertErrorSummary(page, 'The email address or password is not right', 'email');
    assert.equal(await page.locator('#email').inputValue(), who.email, 'the email address should be kept after a failed sign-in');
    assert.equal(await cookieNamed(context, SESSION_COOKIE), undefined, 'a failed sign-in should not set a session cookie');
    await axe('/account/sign-in with an error');

    // Signed in.
    const ok = await signIn(page, who);
    assert.equal(new URL(ok.headers().location, ORIGIN).pathname, '/account', 'signing in should redirect to /account');
    assert.equal(pathname(page), '/account');
    const first = await cookieNamed(context, SESSION_COOKIE);
    assertSessionCookie(first);
    assert.equal(await header(page).getByRole('link', { name: 'Your account' }).count(), 1, 'the header should link to Your account');
    assert.equal(await header(page).getByRole('link', { name: 'Sign in' }).count(), 0, 'the header should not offer Sign in when signed in');
    assert.equal(await header(page).getByRole('link', { name: 'Admin console' }).count(), 0, 'the header should not link to the admin console for a non-staff account');
    assert.match(await page.locator('main').innerText(), new RegExp(`signed in as\\s+${who.email.replace(/[.+]/g, '\\$&')}`));
    await axe('/account');

    // The profile: a bad postcode first; everything typed comes back.
    await fillProfile(page, 'NOT A CODE');
    const bad = await submit(page, page.getByRole('button', { name: 'Save profile' }), '/account/profile');
    assert.equal(bad.status(), 422, 'a bad postcode should answer 422');
    await assertErrorSummary(page, 'Enter a real UK postcode', 'postcode');
    await assertProfileShows(page, 'NOT A CODE', 'after an error');
    await axe('/account with errors');

    await page.locator('#postcode').fill('NM1 2AB');
    const saved = await submit(page, page.getByRole('button', { name: 'Save profile' }), '/account/profile');
    assert.equal(saved.status(), 303, 'saving the profile should redirect');
    assert.equal(new URL(page.url()).pathname + new URL(page.url()).search, '/account?done=profile');
    assert.ok(await page.getByText('Your profile has been saved.').isVisible(), 'the page should say the profile was saved');
    assert.equal(await page.locator('.error-summary').count(), 0);
    await assertProfileShows(page, 'NM1 2AB', 'once saved');
    await axeCheck(page, `/account?done=profile (${mode})`);

    // The topic followed shows on the home page.
    await page.goto(url('/'));
    const aside = page.locator('aside', { hasText: 'On the topics you follow' });
    assert.equal(await aside.count(), 1, 'the home page should have an aside "On the topics you follow"');
    assert.equal(await aside.locator('a[href="/news/road-safety-week"]').count(), 1, 'the aside should link the road safety news');

    if (js) {
      for (const path of ['/account/two-factor', '/account/delete']) {
        const r = await page.goto(url(path));
        assert.equal(r.status(), 200, `${path} should answer 200 when signed in`);
        await axeCheck(page, `${path} (${mode})`);
      }
      assert.ok(await page.getByRole('button', { name: 'Delete my account' }).isVisible());
    }

    // Sign out with the header's button: the session ends and /account asks to sign in.
    await signOut(page);
    assert.equal(await cookieNamed(context, SESSION_COOKIE), undefined, 'signing out should remove the session cookie');
    await page.goto(url('/account'));
    assert.equal(pathname(page), '/account/sign-in', '/account should redirect to the sign-in page when signed out');
    assert.equal(new URL(page.url()).searchParams.get('return_to'), '/account');

    // The old session's value no longer signs anyone in (checked once, in the JS run).
    if (js) {
      const replay = await newContext(browser);
      try {
        await replay.addCookies([first]);
        const replayPage = await replay.newPage();
        await replayPage.goto(url('/account'));
        assert.equal(pathname(replayPage), '/account/sign-in', 'a signed-out session cookie should not be accepted again');
        assertNoForeignRequests(replay, 'replaying the old session');
      } finally {
        await replay.close();
      }
    }

    // Signing in again gives a new session, and goes back to where the person was going.
    await signIn(page, who);
    assert.equal(pathname(page), '/account', 'signing in from the redirect should come back to /account');
    const second = await cookieNamed(context, SESSION_COOKIE);
    assertSessionCookie(second);
    assert.notEqual(second.value, first.value, 'each sign-in should start a new session with a new cookie value');

    await assertOnlyDeclaredCookies(context, `(${mode} account flow)`);
    assertNoForeignRequests(context, `${mode} account flow`);
  } finally {
    await context.close();
  }
}

test('account flow with JavaScript: register, confirm, sign in, profile, sign out, sign in again', async () => {
  await accountFlow({ js: true });
});

test('account flow without JavaScript: register, confirm, sign in, profile, sign out, sign in again', async () => {
  await accountFlow({ js: false });
});
