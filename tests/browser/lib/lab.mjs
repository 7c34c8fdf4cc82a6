// A private lab for one scenario file: `tools/lab up DIR` before its tests,
// `tools/lab down DIR` after them (even when they fail), its lab.env parsed,
// and users with known passwords made by `lava-server manage`.
//
//   import { useLab } from './lib/lab.mjs';
//   const lab = useLab('signin', { setup: (lab) => lab.addUser('alice', 'alice-pw') });
//   test('...', async () => { lab.url; lab.env.LAVA_ADMIN_TOKEN; });   // useLab registered before/after hooks
//
// Binaries come from $LAVA_BUILD_DIR (ctest sets it; default build/ci). The
// lab's logs are copied to $LAVA_BUILD_DIR/artifacts/ui/lab-<name>/ when it
// stops, and lava-server logging `error [http]` fails the file, as in the
// functional tests' fixture.

import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before } from 'node:test';

const run = promisify(execFile);

export const SOURCE_DIR = process.env.LAVA_SOURCE_DIR
  || path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BUILD_DIR = process.env.LAVA_BUILD_DIR || path.join(SOURCE_DIR, 'build', 'ci');
export const ARTIFACTS_DIR = path.join(BUILD_DIR, 'artifacts', 'ui');
const LAB = path.join(SOURCE_DIR, 'tools', 'lab');

export function readEnvFile(file) {
  const out = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith('#')) out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

// This process's environment without PG* and LAVA_* (a lab's PG* replace them).
function cleanEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('PG') && !k.startsWith('LAVA_')) env[k] = v;
  }
  return Object.assign(env, extra);
}

export class Lab {
  constructor(name) {
    this.name = name;
    this.dir = null;
    this.env = null;
    this.url = null;
  }

  // Starts the lab; on failure stops whatever part of it started, then throws.
  async up() {
    // tools/pg runs PostgreSQL as `postgres` when we are root: the directory
    // must be traversable by it (mkdtemp makes it 0700).
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `lava-browser-${this.name}-`));
    fs.chmodSync(this.dir, 0o755);
    installSignalHandlers(this);
    try {
      await run(LAB, ['up', this.dir, '--build-dir', BUILD_DIR],
                { env: cleanEnv(), timeout: 300_000, maxBuffer: 16 << 20 });
    } catch (e) {
      const logs = this.tail();
      this.down({ check: false });
      const why = e.killed ? `killed (${e.signal})` : `exit ${e.code}`;
      throw new Error(`tools/lab up ${this.name} failed (${why}):\n${e.stdout ?? ''}${e.stderr ?? ''}${logs}`);
    }
    this.env = readEnvFile(path.join(this.dir, 'lab.env'));
    this.url = this.env.LAVA_URL;
    this.api = `${this.url}/api/v0.2/`;
    this.pgEnv = Object.fromEntries(Object.entries(this.env).filter(([k]) => k.startsWith('PG')));
    return this;
  }

  // `lava-server manage ARGS...` against the lab's database; its stdout.
  manage(...args) {
    if (!this.env) throw new Error('the lab is not up (use useLab\'s setup, not a hook of your own)');
    const r = spawnSync(this.env.LAVA_SERVER, ['manage', ...args],
                        { env: cleanEnv(this.pgEnv), encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) {
      throw new Error(`lava-server manage ${args.join(' ')} exited with ${r.status}: ${r.stdout}${r.stderr}`);
    }
    return r.stdout;
  }

  // A user who can sign in with `password`; returns the username.
  addUser(username, password, { superuser = false, staff = false, groups = [] } = {}) {
    const flags = [...(superuser ? ['--superuser'] : []), ...(staff ? ['--staff'] : [])];
    this.manage('users', 'add', username, '--passwd', password, ...flags);
    for (const g of groups) this.manage('users', 'update', username, '--group', g);
    return username;
  }

  // The admin's password is random and not kept by tools/lab: set one to sign in as admin.
  setPassword(username, password) {
    this.manage('users', 'update', username, '--passwd', password);
  }

  // An API token for `username` (the admin's is this.env.LAVA_ADMIN_TOKEN).
  addToken(username) {
    return this.manage('tokens', 'add', '--user', username).trim().split('\n').pop();
  }

  // fetch() on the lab: `p` is a path ("/api/v0.2/jobs/") or a full URL.
  fetch(p, init = {}) {
    return fetch(p.startsWith('http') ? p : this.url + p, { redirect: 'manual', ...init });
  }

  log(daemon = 'lava-server') {
    try {
      return fs.readFileSync(path.join(this.dir, 'logs', `${daemon}.log`), 'utf8');
    } catch {
      return '';
    }
  }

  tail(lines = 20) {
    if (!this.dir) return '';
    let out = '';
    for (const d of ['lava-publisher', 'lava-server', 'lava-scheduler', 'dut-images', 'lava-worker']) {
      const text = this.log(d);
      if (text) out += `--- ${d}.log (last ${lines} lines)\n${text.split('\n').slice(-lines - 1).join('\n')}\n`;
    }
    return out;
  }

  // Stops every process of the lab (synchronous: also usable from a signal
  // handler), keeps its logs in the artifacts directory, removes the lab.
  // With `check`, throws when lava-server logged an HTTP error.
  down({ check = true } = {}) {
    if (!this.dir) return;
    const dir = this.dir;
    this.dir = null;
    const r = spawnSync(LAB, ['down', dir], { env: cleanEnv(), encoding: 'utf8', timeout: 180_000 });
    let serverLog = '';
    try {
      serverLog = fs.readFileSync(path.join(dir, 'logs', 'lava-server.log'), 'utf8');
      const keep = path.join(ARTIFACTS_DIR, `lab-${this.name}`);
      fs.rmSync(keep, { recursive: true, force: true });
      fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
      fs.cpSync(path.join(dir, 'logs'), keep, { recursive: true });
    } catch {
      // no logs: the lab did not get that far
    }
    fs.rmSync(dir, { recursive: true, force: true });
    if (r.status !== 0) throw new Error(`tools/lab down ${dir} exited with ${r.status}: ${r.stdout}${r.stderr}`);
    if (check && /error \[http\]/.test(serverLog)) {
      const errors = serverLog.split('\n').filter((l) => l.includes('error [http]'));
      throw new Error(`lava-server logged HTTP errors:\n${errors.slice(0, 20).join('\n')}`);
    }
  }
}

// A signal (ctest's timeout, Ctrl-C) stops the lab before the process ends.
const running = new Set();
let handlersInstalled = false;
function installSignalHandlers(lab) {
  running.add(lab);
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      for (const l of running) {
        try { l.down({ check: false }); } catch { /* stopping anyway */ }
      }
      process.exit(128 + os.constants.signals[sig]);
    });
  }
}

// A lab for the current test file: up in before(), then `setup(lab)` (users,
// tokens, ...), down in after(). The returned object's fields (url, env, ...)
// are set once before() ran. Setup goes in `setup`, not in a hook of its own:
// Node 20 runs the before() hooks of the top level concurrently (inside a
// describe() they run in turn).
export function useLab(name, { setup } = {}) {
  const lab = new Lab(name);
  let starting = null;
  before(async () => {
    starting = lab.up();
    await starting;
    if (setup) await setup(lab);
  }, { timeout: 300_000 });
  after(async () => {
    // Another hook failing can bring after() while the lab is still starting.
    await starting?.catch(() => {});
    running.delete(lab);
    lab.down();
  }, { timeout: 300_000 });
  return lab;
}
