// Following and triaging jobs in a real Chromium (issue 15): the job page
// follows a QEMU job live to Complete without a reload (state, log, results
// with pass, fail and a measurement), hostile text renders as text, lists
// update in place, keyboard navigation, cancel from the page, private jobs
// invisible to anonymous, and a 100 MB log that opens at line 900,000 and is
// searched on the server.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

import { writeBigLog } from './lib/biglog.mjs';
import { assertNoProblems, screenshot, useBrowser } from './lib/browser.mjs';
import { useLab } from './lib/lab.mjs';

const lab = useLab('jobs', {
  setup: (lab) => {
    lab.addUser('alice', 'alice-pw');
    lab.addUser('bob', 'bob-pw');
  },
});
const browser = useBrowser();

const XSS = '<img src=x onerror="window.__xss=1">&<script>window.__xss=2</script>';

function qemuJob(name, { visibility = 'public', steps } = {}) {
  const run = (steps || [
    'lava-test-case kernel-version --shell uname -a',
    'lava-test-case must-fail --shell false',
    'lava-test-case boot-time --result pass --measurement 1.5 --units seconds',
  ]).map((s) => `          - ${JSON.stringify(s)}`).join('\n');
  return `job_name: ${JSON.stringify(name)}
device_type: qemu
visibility: ${visibility}
timeouts:
  job: {minutes: 10}
  action: {minutes: 3}
  connection: {minutes: 2}
context:
  arch: amd64
actions:
- deploy:
    to: tmpfs
    images:
      kernel:
        url: ${lab.env.LAVA_IMAGES_URL}/vmlinux
        image_arg: -kernel {kernel} -append "console=ttyS0,115200 panic=-1"
      initrd:
        url: ${lab.env.LAVA_IMAGES_URL}/initramfs.cpio.gz
        image_arg: -initrd {initrd}
- boot:
    method: qemu
    media: tmpfs
    prompts: ['root@dut:~# ']
- test:
    definitions:
    - from: inline
      name: smoke
      path: inline/smoke.yaml
      repository:
        metadata:
          format: Lava-Test Test Definition 1.0
          name: smoke
          description: checks
        run:
          steps:
${run}
`;
}

async function api(method, p, token, form) {
  const r = await lab.fetch(`/api/v0.2/${p}`, {
    method,
    headers: { Authorization: `Token ${token}` },
    body: form ? new URLSearchParams(form) : undefined,
  });
  const body = await r.text();
  return { status: r.status, json: body ? JSON.parse(body) : null, body };
}

async function submit(definition, token = lab.env.LAVA_ADMIN_TOKEN) {
  const r = await api('POST', 'jobs/', token, { definition });
  assert.equal(r.status, 201, r.body);
  return r.json.job_ids[0];
}

async function signIn(page, user) {
  await page.goto(`${lab.url}/accounts/login/?next=/scheduler/alljobs`);
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(`${user}-pw`);
  await Promise.all([page.waitForURL(`${lab.url}/scheduler/alljobs`), page.locator('[type="submit"]').click()]);
}

test('a job submitted in the editor: an invalid field at its line, fixed, then followed live to Complete', async () => {
  const page = await browser.newPage();
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
  await signIn(page, 'alice');
  const good = qemuJob(XSS, {
    steps: [
      'lava-test-case kernel-version --shell uname -a',
      'lava-test-case must-fail --shell false',
      'lava-test-case boot-time --result pass --measurement 1.5 --units seconds',
      `echo '${XSS.replace(/'/g, '')}'`,
    ],
  });
  // `timeouts.connection` misspelt on line 7.
  const bad = good.replace('  connection: {minutes: 2}', '  conection: {minutes: 2}');
  assert.equal(bad.split('\n')[6], '  conection: {minutes: 2}');
  await page.goto(`${lab.url}/scheduler/jobsubmit`);
  await page.locator('#definition').fill(bad);
  await page.locator('#validity.bad').waitFor();
  const issue = page.locator('#issues li', { hasText: 'conection' });
  await issue.waitFor();
  assert.match(await issue.textContent(), /^line 7: timeouts\.conection: /);
  assert.equal(await page.locator('#submit').isDisabled(), true);
  assert.match(await page.locator('#gutter').textContent(), /\n7 ●\n/);
  await screenshot(page, 'submit-invalid');
  await page.locator('#definition').fill(good);
  await page.locator('#validity.ok').waitFor();
  assert.equal(await page.locator('#issues li').count(), 0);
  assert.equal(await page.locator('#submit').isEnabled(), true);
  await Promise.all([page.waitForURL(/\/scheduler\/job\/[0-9]+$/), page.locator('#submit').click()]);
  const id = Number(new URL(page.url()).pathname.split('/').pop());
  // The page load's mark: a reload would lose it.
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.waitForFunction(() => document.body.dataset.live === 'up');
  await page.locator('#job-state .state-running').waitFor({ timeout: 60_000 });
  await page.locator('#log .ln.target').first().waitFor({ timeout: 60_000 });
  // The pipeline shows the current action while the job runs.
  await page.locator('#pipeline li.current').first().waitFor({ timeout: 60_000 });
  assert.match(await page.locator('#pipeline-current').textContent(), /^now: /);
  await screenshot(page, 'job-running');
  await page.locator('#job-health .health-complete').waitFor({ timeout: 120_000 });
  await page.waitForFunction(() => document.getElementById('job')?.dataset.updated === 'yes');
  assert.equal(await page.evaluate(() => window.__sameDocument), true, 'the page reloaded');
  assert.equal(await page.locator('#job-state').textContent(), 'Finished');
  assert.match(await page.locator('#job-end').textContent(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  assert.equal(await page.locator('#job-worker').textContent(), 'worker01');
  assert.equal(await page.locator('.facts .waiting').count(), 0);
  // The whole pipeline, every action done, none current.
  assert.ok(await page.locator('#pipeline li.done').count() >= 10);
  assert.equal(await page.locator('#pipeline li.current').count(), 0);
  assert.equal(await page.locator('#pipeline li:not(.done)').count(), 0);
  // Results with a pass, a fail and a measurement, inline.
  const results = page.locator('#results-body');
  await results.locator('tr.result-fail', { hasText: 'must-fail' }).waitFor();
  await results.locator('tr.result-pass', { hasText: 'kernel-version' }).waitFor();
  assert.match(await results.locator('tr', { hasText: 'boot-time' }).textContent(), /1\.5 seconds/);
  // The log: every line committed, the hostile line as text.
  const lines = Number((await page.locator('#log-count').textContent()).replace(/[^0-9]/g, ''));
  const stored = (await api('GET', `jobs/${id}/`, lab.env.LAVA_ADMIN_TOKEN)).json;
  assert.ok(lines > 100, `${lines} lines`);
  assert.equal(stored.health, 'Complete');
  await page.locator('#log-search').fill('onerror');
  await page.locator('#log-search').press('Enter');
  await page.locator('#log .ln.match.here').waitFor();
  assert.match(await page.locator('#log .ln.match.here .m').textContent(), /<img src=x onerror=/);
  // Hostile text is text: in the header, the log and the title.
  assert.match(await page.locator('.description').textContent(), /<img src=x onerror=/);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(dialogs, 0);
  await screenshot(page, 'job-complete');
  assertNoProblems(page, 'the job page');
});

test('the jobs list updates in place and keys navigate it', async () => {
  const page = await browser.newPage();
  await signIn(page, 'bob');
  await page.waitForFunction(() => document.body.dataset.live === 'up');
  const rows = page.locator('#jobs tbody tr[data-job]');
  const before = await rows.count();
  assert.ok(before >= 2, `${before} rows`);
  // A job submitted now: counted in a pill without a reload.
  lab.manage('devices', 'update', 'qemu01', '--health', 'MAINTENANCE');
  const id = await submit(qemuJob('queued while you watch'), lab.addToken('bob'));
  await page.locator('#jobs-new').waitFor();
  await screenshot(page, 'jobs-list');
  // j/k select rows, Enter opens the selected one.
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  await page.keyboard.press('k');
  const selected = page.locator('#jobs tbody tr.selected');
  assert.equal(await selected.count(), 1);
  const target = await selected.getAttribute('data-href');
  await Promise.all([page.waitForURL(lab.url + target), page.keyboard.press('Enter')]);
  // g, a job id, Enter: that job.
  await page.keyboard.press('g');
  for (const ch of String(id)) await page.keyboard.press(ch);
  await Promise.all([page.waitForURL(`${lab.url}/scheduler/job/${id}`), page.keyboard.press('Enter')]);
  // `/` focuses the search of the page (the log's, here).
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'log-search');
  // bob's queued job: cancelled from its page.
  await page.locator('#job-state .state-submitted').waitFor();
  await Promise.all([page.waitForURL(`${lab.url}/scheduler/job/${id}`), page.locator('#cancel').click()]);
  await page.locator('#job-health .health-canceled').waitFor();
  assert.equal(await page.locator('#cancel').count(), 0);
  // ...and resubmitted: the editor with its definition, valid, then a new job.
  await Promise.all([page.waitForURL(`${lab.url}/scheduler/job/${id}/resubmit`),
                     page.locator('a', { hasText: 'Resubmit' }).click()]);
  assert.match(await page.locator('#definition').inputValue(), /^job_name: "queued while you watch"/);
  await page.locator('#validity.ok').waitFor();
  await Promise.all([page.waitForURL(/\/scheduler\/job\/[0-9]+$/), page.locator('#submit').click()]);
  const again = Number(new URL(page.url()).pathname.split('/').pop());
  assert.ok(again > id);
  await page.locator('#job-state .state-submitted').waitFor();
  assert.equal(await page.locator('.description').textContent(), 'queued while you watch');
  assertNoProblems(page, 'the jobs list, job page and resubmission');
});

test('every page renders without a script error or CSP violation', async () => {
  const page = await browser.newPage();
  let dialogs = 0;
  page.on('dialog', (d) => { dialogs += 1; d.dismiss(); });
  // A hostile test case name in job 2's results.
  const r0 = spawnSync('psql', ['-X', '-tA', '-v', 'ON_ERROR_STOP=1', '-c',
    `INSERT INTO test_cases (suite_id, name, result) SELECT id, $q$${XSS}$q$, 0 FROM test_suites `
    + `WHERE job_id = 2 AND name = '0_smoke'`], { env: { ...process.env, ...lab.pgEnv }, encoding: 'utf8' });
  assert.equal(r0.status, 0, r0.stderr);
  lab.setPassword('admin', 'admin-pw');
  await signIn(page, 'admin');
  const pages = [
    ['/', 'dashboard'], ['/scheduler/alljobs', 'jobs-all'], ['/scheduler/queue', 'jobs-queue'],
    ['/scheduler/activejobs', 'jobs-active'], ['/scheduler/job/1', 'job-health-check'],
    ['/scheduler/job/1/definition', 'job-definition'], ['/scheduler/job/2/configuration', 'job-configuration'], ['/scheduler/jobsubmit', 'submit'],
    ['/scheduler/alldevices', 'devices'], ['/scheduler/device/qemu01', 'device'],
    ['/scheduler/device/qemu01/devicedict', 'device-dictionary'], ['/scheduler/device_types', 'device-types'],
    ['/scheduler/device_type/qemu', 'device-type'], ['/scheduler/allworkers', 'workers'],
    ['/scheduler/worker/worker01', 'worker'], ['/results/', 'results'], ['/results/2', 'job-results'],
    ['/api/tokens/', 'tokens'], ['/me/', 'profile'], ['/api/help/', 'api-help'],
  ];
  for (const [p, name] of pages) {
    const r = await page.goto(lab.url + p);
    assert.equal(r.status(), 200, p);
    assert.match(r.headers()['content-security-policy'], /script-src 'self'/);
    await page.waitForFunction(() => document.body.dataset.live === 'up');
    await screenshot(page, `page-${name}`);
    assertNoProblems(page, p);
  }
  // The hostile case name was shown as text, in the results and on the job page.
  await page.goto(`${lab.url}/results/2`);
  assert.equal(await page.locator('#cases td', { hasText: '<img src=x onerror=' }).count(), 1);
  await page.goto(`${lab.url}/scheduler/job/2`);
  assert.equal(await page.locator('#results-body td', { hasText: '<img src=x onerror=' }).count(), 1);
  assert.equal(await page.locator('img[src="x"]').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  assert.equal(dialogs, 0);
  // Dark mode is the same page with the system's colours.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(`${lab.url}/scheduler/job/2`);
  await page.locator('#log .ln.target').first().waitFor();
  await screenshot(page, 'page-job-dark');
  assertNoProblems(page, 'the job page in dark mode');
});

test('anonymous visitors see public jobs only', async () => {
  const alice = lab.addToken('alice');
  const secret = await submit(qemuJob('alice private plans', { visibility: 'personal' }), alice);
  const page = await browser.newPage();
  await page.goto(`${lab.url}/scheduler/alljobs`);
  await page.locator('#jobs tbody tr[data-job]').first().waitFor();
  assert.equal(await page.locator(`#jobs tr[data-job="${secret}"]`).count(), 0);
  assert.equal(await page.getByText('alice private plans').count(), 0);
  const r = await page.goto(`${lab.url}/scheduler/job/${secret}`);
  assert.equal(r.status(), 404);
  assert.equal(await page.getByText('alice private plans').count(), 0);
  // Signed in as alice, it is there.
  await signIn(page, 'alice');
  await page.locator(`#jobs tr[data-job="${secret}"]`).waitFor();
  assert.equal((await api('GET', `jobs/${secret}/cancel/`, alice)).status, 200);
  takeAll(page);
});

function takeAll(page) {
  page.problems.splice(0);  // the 404 above is expected
}

test('a 100 MB log opens at line 900,000 and is searched on the server', async () => {
  const id = await submit(qemuJob('the big log'));
  assert.equal((await api('GET', `jobs/${id}/cancel/`, lab.env.LAVA_ADMIN_TOKEN)).status, 200);
  const job = (await api('GET', `jobs/${id}/`, lab.env.LAVA_ADMIN_TOKEN)).json;
  assert.equal(job.state, 'Finished');
  const lines = 1_050_000;
  const bytes = writeBigLog({ jobOutput: lab.env.LAVA_JOB_OUTPUT, pgEnv: lab.pgEnv, id, submitTime: job.submit_time, lines });
  assert.ok(bytes >= 100e6, `${bytes} bytes`);
  const page = await browser.newPage();
  const started = Date.now();
  await page.goto(`${lab.url}/scheduler/job/${id}#L900000`);
  const row = page.locator('#L900000.here');
  await row.waitFor();
  const firstScreen = Date.now() - started;
  assert.match(await row.locator('.m').textContent(), /^line 0900000 x+$/);
  assert.equal((await page.locator('#log-count').textContent()).replace(/[^0-9]/g, ''), String(lines));
  // Only what is on screen is in the DOM.
  const nodes = await page.locator('#log .ln').count();
  assert.ok(nodes < 200, `${nodes} rows in the DOM`);
  // Search: every match, found by the server.
  const searched = Date.now();
  await page.locator('#log-search').fill('needle-in');
  await page.locator('#log-search').press('Enter');
  await page.locator('#L987655.match.here').waitFor();
  const search = Date.now() - searched;
  assert.equal(await page.locator('#log-matches').textContent(), '1 / 1');
  // Level filters: the info lines only (one in 1,000).
  await page.locator('#log-levels input[value="target"]').uncheck();
  await page.waitForFunction(() => /^1,050 lines shown/.test(document.getElementById('log-count').textContent));
  await screenshot(page, 'job-big-log');
  console.log(`100 MB log (${lines} lines, ${bytes} bytes): line 900,000 on screen in ${firstScreen} ms, `
              + `a search over the whole log in ${search} ms, ${nodes} rows in the DOM`);
  assertNoProblems(page, 'the big log');
  lab.manage('devices', 'update', 'qemu01', '--health', 'GOOD');
});
