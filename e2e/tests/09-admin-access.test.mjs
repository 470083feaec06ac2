// The admin console: signed out, each page redirects to sign in; a signed-in account without a
// staff role gets the 403 page; the demo's admin (its sign-in read from the demo's output by
// run.sh) can open all four pages. axe checks the 403 page and each admin page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newContext, url, ORIGIN, assertNoForeignRequests, cookieNamed,
} from './helpers.mjs';
import {
  STAFF, freshEmail, register, confirmEmail, signIn, signOut, pathname, h1, header,
  assertSessionCookie, assertOnlyDeclaredCookies, axeCheck, SESSION_COOKIE,
} from './account-helpers.mjs';

const ADMIN_PAGES = [
  { path: '/admin', heading: 'Admin console' },
  { path: '/admin/staff', heading: 'Staff' },
  { path: '/admin/audit', heading: 'Audit log' },
  { path: '/admin/consent', heading: 'Cookie choices' },
];

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('admin pages redirect to sign in when signed out', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    for (const { path } of ADMIN_PAGES) {
      const responses = [];
      const onResponse = (r) => { if (r.request().isNavigationRequest()) responses.push(r); };
      page.on('response', onResponse);
      await page.goto(url(path));
      page.off('response', onResponse);
      const first = responses.find((r) => new URL(r.url()).pathname === path);
      assert.ok(first, `the browser should have asked for ${path}`);
      assert.equal(first.status(), 303, `${path} signed out should redirect (303); it answered ${first.status()}`);
      const landed = new URL(page.url());
      assert.equal(landed.pathname, '/account/sign-in', `${path} signed out should redirect to the sign-in page`);
      assert.equal(landed.searchParams.get('return_to'), path, `the sign-in page should come back to ${path}`);
      assert.equal(await h1(page), 'Sign in');
    }
    assert.equal(await cookieNamed(context, SESSION_COOKIE), undefined);
    await assertOnlyDeclaredCookies(context, '(admin pages signed out)');
    assertNoForeignRequests(context, 'admin pages signed out');
  } finally {
    await context.close();
  }
});

test('admin pages answer 403 to a signed-in account without a staff role', async () => {
  const context = await newContext(browser);
  const page = await context.newPage();
  const who = { name: 'Not Staff', email: freshEmail('not-staff'), password: 'copper kettle meadow 4' };
  try {
    await register(page, who);
    await confirmEmail(page, who.email);
    await signIn(page, who);
    assert.equal(pathname(page), '/account', 'a non-staff account should land on /account');
    assertSessionCookie(await cookieNamed(context, SESSION_COOKIE));
    assert.equal(await header(page).getByRole('link', { name: 'Admin console' }).count(), 0,
      'the header should not link to the admin console for a non-staff account');

    for (const { path } of ADMIN_PAGES) {
      const response = await page.goto(url(path));
      assert.equal(response.status(), 403, `${path} should answer 403 to a non-staff account; it answered ${response.status()}`);
      assert.equal(pathname(page), path, `${path} should not redirect a signed-in non-staff account`);
      assert.ok(await page.getByText('This part of the site is for staff only.').isVisible(),
        `${path} should say "This part of the site is for staff only."`);
      assert.equal(await page.locator('.admin-nav').count(), 0, `${path} should not show the admin navigation`);
      if (path === '/admin') await axeCheck(page, `${path} (403, non-staff)`);
    }
    await assertOnlyDeclaredCookies(context, '(non-staff account)');
    assertNoForeignRequests(context, 'non-staff account');
  } finally {
    await context.close();
  }
});

test('the demo admin can open all four admin pages', async () => {
  const staff = STAFF();
  const context = await newContext(browser);
  const page = await context.newPage();
  try {
    await page.goto(url('/account/sign-in'));
    const response = await signIn(page, staff);
    assert.equal(new URL(response.headers().location, ORIGIN).pathname, '/admin', 'staff should be sent to /admin after signing in');
    assert.equal(pathname(page), '/admin');
    assertSessionCookie(await cookieNamed(context, SESSION_COOKIE));
    const consoleLink = header(page).getByRole('link', { name: 'Admin console' });
    assert.equal(await consoleLink.count(), 1, 'the header should link to the admin console for staff');
    assert.equal(await consoleLink.getAttribute('href'), '/admin');

    for (const { path, heading } of ADMIN_PAGES) {
      const r = await page.goto(url(path));
      assert.equal(r.status(), 200, `${path} should answer 200 to the demo admin; it answered ${r.status()}`);
      assert.equal(pathname(page), path);
      assert.equal(await h1(page), heading, `${path} should have the heading "${heading}"`);
      const current = page.locator('.admin-nav a[aria-current="page"]');
      assert.equal(await current.count(), 1, `${path}: the admin navigation should mark one link as the current page`);
      assert.equal(await current.getAttribute('href'), path);
      if (path === '/admin/staff') {
        assert.equal(await page.getByRole('cell', { name: `${staff.email} (you)` }).count(), 1,
          '/admin/staff should list the demo admin, marked "(you)"');
      }
      await axeCheck(page, `${path} (demo admin)`);
    }

    await signOut(page);
    const r = await page.goto(url('/admin'));
    assert.ok(r, 'the admin console should answer');
    assert.equal(pathname(page), '/account/sign-in', 'after signing out, /admin should redirect to sign in');
    await assertOnlyDeclaredCookies(context, '(demo admin)');
    assertNoForeignRequests(context, 'demo admin');
  } finally {
    await context.close();
  }
});
