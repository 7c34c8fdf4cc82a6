// Signing in and out in a real Chromium: the form, a wrong password, the
// redirect to `next` with the sessionid (HttpOnly) and csrftoken cookies, the
// session used by the page's own requests, and sign-out ending it on the
// server (the old cookie is anonymous afterwards).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertNoProblems, screenshot, takeProblems, useBrowser } from './lib/browser.mjs';
import { useLab } from './lib/lab.mjs';

const lab = useLab('signin', { setup: (lab) => lab.addUser('alice', 'alice-pw') });
const browser = useBrowser();

const NEXT = '/api/v0.2/jobs/';
const WRONG_PASSWORD = /Please enter a correct username and password/;
const NOT_AUTHENTICATED = 'Authentication credentials were not provided.';
// Fails the job schema (no device_type, no actions): a signed-in POST is
// answered 400, an anonymous one 403 before the definition is read.
const BAD_JOB = 'job_name: browser-signin\n';

// Fills the sign-in form of a page showing it and submits it; resolves with
// the response to the POST once the browser has it.
async function submitSignIn(page, username, password) {
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST'
                                && new URL(r.url()).pathname === '/accounts/login/'),
    page.locator('form[action="/accounts/login/"] [type="submit"]').click(),
  ]);
  return response;
}

async function signIn(page, username, password, next = NEXT) {
  await page.goto(`${lab.url}/accounts/login/?next=${encodeURIComponent(next)}`);
  await submitSignIn(page, username, password);
  await page.waitForURL(lab.url + next);
}

// A request from inside the page (same origin, the browser's cookies), with
// the CSRF token from document.cookie as the UI's scripts send it.
function pageFetch(page, path, method = 'GET', form = null) {
  return page.evaluate(async ({ path, method, form }) => {
    const csrf = document.cookie.split('; ').find((c) => c.startsWith('csrftoken='))?.slice('csrftoken='.length);
    const init = { method, headers: csrf ? { 'X-CSRFToken': csrf } : {} };
    if (form) init.body = new URLSearchParams(form);
    const r = await fetch(path, init);
    return { status: r.status, body: await r.text() };
  }, { path, method, form });
}

async function whoami(page) {
  const r = await pageFetch(page, '/api/v0.2/system/whoami/');
  assert.equal(r.status, 200, r.body);
  return JSON.parse(r.body).user;
}

test('the sign-in page shows a form that keeps `next`', async () => {
  const page = await browser.newPage();
  const response = await page.goto(`${lab.url}/accounts/login/?next=${encodeURIComponent(NEXT)}`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /^text\/html/);
  const form = page.locator('form[action="/accounts/login/"]');
  await form.waitFor({ state: 'visible' });
  assert.equal((await form.getAttribute('method')).toLowerCase(), 'post');
  assert.equal(await form.locator('input[name="username"]').isVisible(), true);
  assert.equal(await form.locator('input[name="password"]').getAttribute('type'), 'password');
  assert.equal(await form.locator('input[name="next"]').inputValue(), NEXT);
  assert.equal(await form.locator('[type="submit"]').isEnabled(), true);
  assert.match(await page.title(), /Sign in/i);
  await screenshot(page, 'signin');
  assertNoProblems(page, 'the sign-in page');
});

test('a wrong password shows the error and starts no session', async () => {
  const page = await browser.newPage();
  await page.goto(`${lab.url}/accounts/login/?next=${encodeURIComponent(NEXT)}`);
  const response = await submitSignIn(page, 'alice', 'not-her-password');
  assert.equal(response.status(), 200);
  await page.getByText(WRONG_PASSWORD).waitFor({ state: 'visible' });
  assert.equal(new URL(page.url()).pathname, '/accounts/login/');
  // The form is there again, for a second try, still going to `next`.
  assert.equal(await page.locator('input[name="next"]').inputValue(), NEXT);
  const names = (await page.context().cookies(lab.url)).map((c) => c.name);
  assert.ok(!names.includes('sessionid'), `cookies: ${names}`);
  assert.equal(await whoami(page), '');
  await screenshot(page, 'signin-wrong-password');
  assertNoProblems(page, 'the sign-in page after a wrong password');
});

test('the right password redirects to `next` with the session cookies', async () => {
  const page = await browser.newPage();
  await page.goto(`${lab.url}/accounts/login/?next=${encodeURIComponent(NEXT)}`);
  const landed = page.waitForResponse((r) => r.url() === lab.url + NEXT && r.request().method() === 'GET');
  const response = await submitSignIn(page, 'alice', 'alice-pw');
  assert.equal(response.status(), 302);
  assert.equal(response.headers().location, NEXT);
  await page.waitForURL(lab.url + NEXT);
  // The jobs list the redirect landed on: the REST answer, to alice.
  const list = await landed;
  assert.equal(list.status(), 200);
  assert.equal(typeof (await list.json()).count, 'number');

  const cookies = Object.fromEntries((await page.context().cookies(lab.url)).map((c) => [c.name, c]));
  assert.ok(cookies.sessionid, `cookies: ${Object.keys(cookies)}`);
  assert.equal(cookies.sessionid.httpOnly, true);
  assert.equal(cookies.sessionid.sameSite, 'Lax');
  assert.equal(cookies.sessionid.path, '/');
  assert.ok(cookies.csrftoken, `cookies: ${Object.keys(cookies)}`);
  assert.equal(cookies.csrftoken.httpOnly, false);
  // What the page's scripts see: the CSRF token, never the session key.
  const visible = await page.evaluate(() => document.cookie);
  assert.match(visible, /(^|; )csrftoken=/);
  assert.doesNotMatch(visible, /sessionid/);

  assert.equal(await whoami(page), 'alice');
  assertNoProblems(page, 'the page after signing in');
});

test('/accounts/logout/ ends the session, on the server too', async () => {
  const page = await browser.newPage();
  await signIn(page, 'alice', 'alice-pw');
  const old = Object.fromEntries((await page.context().cookies(lab.url)).map((c) => [c.name, c.value]));
  assert.ok(old.sessionid && old.csrftoken);
  // Signed in, a write with the CSRF token gets past authentication (to the
  // job schema, which refuses this definition).
  const before = await pageFetch(page, '/api/v0.2/jobs/', 'POST', { definition: BAD_JOB });
  assert.equal(before.status, 400, before.body);
  takeProblems(page);  // the console's "Failed to load resource: 400" for that POST

  // Sign-out redirects to "/" (which redirects on to the home page).
  const response = await page.goto(`${lab.url}/accounts/logout/`);
  let logout = response.request();
  while (logout.redirectedFrom()) logout = logout.redirectedFrom();
  assert.equal(new URL(logout.url()).pathname, '/accounts/logout/');
  assert.notEqual(logout, response.request(), `no redirect from /accounts/logout/ (landed on ${page.url()})`);
  const answer = await logout.response();
  assert.equal(answer.status(), 302);
  assert.equal(answer.headers().location, '/');
  const names = (await page.context().cookies(lab.url)).map((c) => c.name);
  assert.ok(!names.includes('sessionid') && !names.includes('csrftoken'), `cookies: ${names}`);
  assert.equal(await whoami(page), '');
  // Where "/" leads is the home page's scenario, not this one's.
  takeProblems(page);

  // The old cookie, replayed outside the browser, is anonymous: reads are
  // answered as to anyone, writes are refused as unauthenticated.
  const cookie = `sessionid=${old.sessionid}; csrftoken=${old.csrftoken}`;
  const headers = { Cookie: cookie, 'X-CSRFToken': old.csrftoken };
  let r = await lab.fetch('/api/v0.2/system/whoami/', { headers });
  assert.equal(r.status, 200);
  assert.equal((await r.json()).user, '');
  r = await lab.fetch('/api/v0.2/jobs/', { headers });
  assert.equal(r.status, 200);
  r = await lab.fetch('/api/v0.2/jobs/', {
    method: 'POST', headers, body: new URLSearchParams({ definition: BAD_JOB }),
  });
  assert.equal(r.status, 403);
  assert.deepEqual(await r.json(), { detail: NOT_AUTHENTICATED });
});
