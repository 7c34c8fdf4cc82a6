// Debian's Chromium, headless, driven by playwright-core (never a downloaded
// browser), and pages that record what went wrong in them.
//
//   import { useBrowser, screenshot, assertNoProblems } from './lib/browser.mjs';
//   const browser = useBrowser();            // registers node:test before/after hooks
//   test('...', async () => {
//     const page = await browser.newPage();  // its own context: no cookies shared between tests
//     await page.goto(lab.url + '/accounts/login/');
//     await screenshot(page, 'signin');
//     assertNoProblems(page);
//   });
//
// $LAVA_CHROMIUM overrides the browser's path (default /usr/bin/chromium).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

import { ARTIFACTS_DIR } from './lab.mjs';

export const CHROMIUM = process.env.LAVA_CHROMIUM || '/usr/bin/chromium';
export const VIEWPORT = { width: 1400, height: 1000 };

export async function launch() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: tools/install-deps --test installs Debian's chromium`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox'],
    timeout: 60_000,
  });
}

// Reports a CSP violation to the console listener below, with what was
// blocked (Chromium's own console message does not always say where).
function reportCspViolations() {
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'}`
                  + ` at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
  });
}

function isFaviconProbe(url) {
  try {
    return new URL(url).pathname === '/favicon.ico';
  } catch {
    return false;
  }
}

// A page in a fresh browser context (cookies of its own), the fixed viewport,
// UTC and a fixed locale for stable screenshots. page.problems collects
// console errors, uncaught exceptions, CSP violations and failed requests.
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({
    viewport: VIEWPORT,
    locale: 'en-GB',
    timezoneId: 'UTC',
    colorScheme: 'light',
    ...options,
  });
  context.setDefaultTimeout(30_000);
  context.setDefaultNavigationTimeout(30_000);
  await context.addInitScript(reportCspViolations);
  const page = await context.newPage();
  const problems = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') {
      const where = msg.location();
      // The browser's own probe for /favicon.ico on a page that declares no
      // icon: not a request of the page's (an icon it declares is checked).
      if (isFaviconProbe(where.url)) return;
      problems.push(`console: ${msg.text()}${where.url ? ` (${where.url}:${where.lineNumber})` : ''}`);
    }
  });
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.stack || err.message}`));
  // net::ERR_ABORTED is a request the page itself gave up (a navigation
  // replacing it; a 404 is reported by the console listener above).
  page.on('requestfailed', (req) => {
    const error = req.failure()?.errorText;
    if (error !== 'net::ERR_ABORTED') problems.push(`request failed: ${req.method()} ${req.url()}: ${error}`);
  });
  page.problems = problems;
  return page;
}

// The problems recorded so far on `page`, then forgets them.
export function takeProblems(page) {
  return page.problems.splice(0);
}

export function assertNoProblems(page, what = 'the page') {
  assert.deepEqual(takeProblems(page), [], `problems in ${what}`);
}

// Writes $LAVA_BUILD_DIR/artifacts/ui/<name>.png (the viewport); returns its path.
export async function screenshot(page, name) {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled', caret: 'hide' });
  return file;
}

// One browser for the current test file: launched in before(), closed in
// after(). browser.newPage() gives a page as newPage() does; every context
// it opened is closed with the browser.
export function useBrowser() {
  const holder = {
    browser: null,
    newPage(options) {
      assert.ok(holder.browser, 'the browser is not running (did before() fail?)');
      return newPage(holder.browser, options);
    },
  };
  let launching = null;
  before(async () => {
    launching = launch();
    holder.browser = await launching;
  }, { timeout: 120_000 });
  after(async () => {
    // Another hook failing can bring after() while the browser is still launching.
    const browser = await launching?.catch(() => null);
    holder.browser = null;
    if (browser) await browser.close();
  }, { timeout: 60_000 });
  return holder;
}
