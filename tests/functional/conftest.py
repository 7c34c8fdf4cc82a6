"""Shared fixtures for functional tests: the built programs, run as real
processes by their build path, against databases in the throwaway
PostgreSQL that ctest's "pg" fixture started."""

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest
import requests

BUILD_DIR = os.environ.get("LAVA_BUILD_DIR", "")
SOURCE_DIR = os.environ.get("LAVA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


# The schema version this tree's programs know: its newest migration.
SCHEMA_VERSION = len([f for f in os.listdir(os.path.join(SOURCE_DIR, "sql", "migrations")) if f.endswith(".sql")])


# A small valid QEMU job (it never runs: tests move it through states themselves).
QEMU_JOB = """\
job_name: {name}
device_type: qemu
visibility: {visibility}
timeouts: {{job: {{minutes: 30}}, action: {{minutes: 5}}}}
actions:
- deploy: {{to: tmpfs, images: {{rootfs: {{url: "https://example.com/rootfs.img.gz", compression: gz}}}}}}
- boot: {{method: qemu, media: tmpfs, prompts: ["root@debian:~#"]}}
"""


def qemu_job(name, visibility="public"):
    return QEMU_JOB.format(name=name, visibility=visibility)


def program(name):
    path = os.path.join(BUILD_DIR, "src", name)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built (LAVA_BUILD_DIR=%r); run through ctest" % (name, BUILD_DIR))
    return path


def missing_reference(what):
    """A comparison with LAVA 2023.01 (or a reference tool) that cannot run
    here: skipped on a developer's machine, a failure under CI=true, where
    tools/test installs and unpacks every reference."""
    if os.environ.get("CI"):
        pytest.fail("CI must compare with LAVA 2023.01, but " + what, pytrace=False)
    pytest.skip(what, allow_module_level=True)


def typed(value):
    """`value` with every scalar's type made explicit, so that comparing two
    of them sees what == does not: 3 vs '3', None vs '', True vs 1, 1 vs 1.0
    (a contract with LAVA is about types as much as values)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [typed(v) for v in value]
    return (type(value).__name__, value)


def read_env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                out[key] = value
    return out


def tools_lab(prefix, *args, timeout=600):
    """A lab from `tools/lab up` (with `args`) in a new directory, for a
    module-scoped fixture to `yield from`: yields lab.env as a dict plus
    `dir` (the lab) and `home` (XDG_CONFIG_HOME with a lavacli identity
    for the lab's admin), then brings the lab down."""
    import yaml
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)  # the lab's PostgreSQL runs as postgres
    lab_dir = os.path.join(d, "lab")
    up = subprocess.run([os.path.join(SOURCE_DIR, "tools", "lab"), "up", lab_dir, "--build-dir", BUILD_DIR, *args],
                        capture_output=True, text=True, timeout=timeout)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        env = {k: v.strip('"') for k, v in read_env_file(os.path.join(lab_dir, "lab.env")).items()}
        env["dir"] = lab_dir
        env["home"] = os.path.join(d, "home")
        os.makedirs(env["home"])
        with open(os.path.join(env["home"], "lavacli.yaml"), "w") as f:
            yaml.safe_dump({"default": {"uri": env["LAVA_RPC_URL"], "username": env["LAVA_ADMIN_USER"],
                                        "token": env["LAVA_ADMIN_TOKEN"]}}, f)
        yield env
    finally:
        subprocess.run([os.path.join(SOURCE_DIR, "tools", "lab"), "down", lab_dir], timeout=300)
        shutil.rmtree(d, ignore_errors=True)


def lab_lavacli(lab, *args, timeout=120):
    """Debian's lavacli as the admin of a tools_lab lab; its output (it must succeed)."""
    r = subprocess.run(["/usr/bin/lavacli", *[str(a) for a in args]], capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, XDG_CONFIG_HOME=lab["home"], LC_ALL="C.UTF-8"))
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def lab_psql(lab, sql):
    """One query on a tools_lab lab's database; its unaligned output."""
    env = dict(os.environ, **{k: lab[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")})
    return subprocess.run(["psql", "-XtA", "-c", sql], env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="session")
def pg_env():
    path = os.environ.get("LAVA_TEST_PG_ENV")
    if not path or not os.path.exists(path):
        pytest.fail("LAVA_TEST_PG_ENV does not name a pg.env file: run through ctest -L functional")
    return read_env_file(path)


def psql(env, sql, dbname=None):
    e = dict(os.environ, **env)
    if dbname:
        e["PGDATABASE"] = dbname
    r = subprocess.run(["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       env=e, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture
def database(pg_env):
    """A fresh, empty database; yields the libpq environment that selects it."""
    name = "lava_f_" + uuid.uuid4().hex[:12]
    psql(pg_env, 'CREATE DATABASE "%s"' % name)
    env = dict(pg_env, PGDATABASE=name)
    yield env
    psql(pg_env, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


class Result:
    def __init__(self, p):
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr


def lava_server(env, *args, extra_env=None):
    """Runs the built lava-server with `env` (PG* variables) and no settings file."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LAVA_"))}
    e.update(env)
    if extra_env:
        e.update(extra_env)
    p = subprocess.run([program("lava-server")] + list(args), env=e, capture_output=True,
                       text=True, timeout=120)
    return Result(p)


def dut_images():
    """The virtual DUT's images (tools/dut-images builds them once, then reuses them): their directory."""
    r = subprocess.run([os.path.join(SOURCE_DIR, "tools", "dut-images")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip().splitlines()[-1]


def processes_mentioning(text):
    """The pids whose command line contains `text`."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if text.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def wait_for(predicate, timeout=30.0, interval=0.05, what="condition"):
    """Polls `predicate` until it returns a true value or the deadline passes."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


class Daemon:
    """A built program run in the background with its output in a log file;
    `env` (PG* variables) replaces this process's PG* and LAVA_* variables."""

    def start(self, log_path, args, env):
        self.log_path = log_path
        self.log = open(log_path, "w")
        e = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LAVA_"))}
        # lava-scheduler, lava-publisher and lava-worker serve /metrics on
        # fixed ports by default; tests run many at once, each on a free port.
        e["LAVA_METRICS_PORT"] = "0"
        e.update(env or {})
        self.proc = subprocess.Popen(args, env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        """SIGTERM; returns the exit code."""
        import signal
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self.log.close()
        return code


class Server(Daemon):
    """`lava-server serve` on a free loopback port, against the database in `env`."""

    def __init__(self, env, workdir, *extra_args):
        import re
        dc = os.path.join(workdir, "dispatcher-config")
        os.makedirs(os.path.join(dc, "devices"), exist_ok=True)
        self.dispatcher_config = dc
        self.job_output = os.path.join(workdir, "job-output")
        args = [program("lava-server"), "--port", "0", "--dispatcher-config", dc,
                "--device-template-dirs", os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "device-types"),
                "--job-output", self.job_output]
        # Nothing from this machine's /etc: worker files live in the work directory too.
        if "--env-dir" not in extra_args:
            args += ["--env-dir", os.path.join(workdir, "etc")]
        if "--worker-config-dir" not in extra_args:
            args += ["--worker-config-dir", os.path.join(workdir, "etc", "dispatcher.d")]
        args += list(extra_args) + ["serve"]
        self.start(os.path.join(workdir, "lava-server.log"), args, env)

        def listening():
            if self.proc.poll() is not None:
                pytest.fail("lava-server exited with %s:\n%s" % (self.proc.returncode, self.output()))
            m = re.search(r"listening on (http://[0-9.]+:[0-9]+)/", self.output())
            return m.group(1) if m else None

        try:
            self.url = wait_for(listening, what="lava-server to listen")
        except BaseException:
            self.proc.kill()  # a server that never listened outlives no test
            self.proc.wait()
            self.log.close()
            raise
        self.api = self.url + "/api/v0.2/"


class Publisher(Daemon):
    """lava-publisher on free loopback ports (ZMQ PUB and WebSocket), reading
    the database in `env` for who may see what."""

    def __init__(self, workdir, env=None, *extra_args):
        import re
        self.input = "ipc://" + os.path.join(workdir, "events")
        self.start(os.path.join(workdir, "publisher.log"),
                   [program("lava-publisher"), "--event-socket", self.input, "--publish-socket", "tcp://127.0.0.1:*",
                    "--websocket-bind", "127.0.0.1", "--websocket-port", "0", "--log-level", "debug"]
                   + list(extra_args), env)

        def address():
            assert self.proc.poll() is None, self.output()
            return re.search(r"publishing on (tcp://[0-9.]+:[0-9]+) and ws://([0-9.]+:[0-9]+)/ws/", self.output())

        m = wait_for(address, what="lava-publisher to bind")
        self.output_url = m.group(1)
        self.ws_address = m.group(2)
        self.http_url = "http://" + m.group(2)
        self.ws_url = "ws://" + m.group(2) + "/ws/"


class Scheduler(Daemon):
    """lava-scheduler against the database in `env`, woken by `publisher`'s events."""

    def __init__(self, workdir, env, publisher, name="lava-scheduler", *extra_args):
        self.start(os.path.join(workdir, name + ".log"),
                   [program("lava-scheduler"), "--dispatcher-config", os.path.join(workdir, "dispatcher-config"),
                    "--event-socket", publisher.input, "--events-url", publisher.output_url, "--log-level", "debug"]
                   + list(extra_args), env)
        wait_for(lambda: self.proc.poll() is not None or "active: scheduling" in self.output()
                 or "standby:" in self.output(), what=name + " to start")
        assert self.proc.poll() is None, self.output()

    def active(self):
        return "active: scheduling" in self.output()


class RestLab:
    """A lab for REST tests: users admin (superuser), alice, bob (group team), carol;
    device types qemu, secret-type (team only), empty-type; worker01 with
    qemu01 (tag usb), qemu02, secret01; lava-server serving it."""

    def __init__(self, env, workdir, server_args=()):
        self.env = env
        self.tokens = {}
        self.manage("migrate")
        self.manage("groups", "add", "team")
        self.manage("users", "add", "admin", "--superuser", "--passwd", "admin-pw")
        self.manage("users", "add", "alice", "--passwd", "alice-pw")
        self.manage("users", "add", "bob", "--passwd", "bob-pw")
        self.manage("users", "update", "bob", "--group", "team")
        self.manage("users", "add", "carol", "--passwd", "carol-pw")
        for user in ("admin", "alice", "bob", "carol"):
            self.tokens[user] = self.manage("tokens", "add", "--user", user).strip().splitlines()[-1]
        for dt in ("qemu", "secret-type", "empty-type"):
            self.manage("device-types", "add", dt)
        self.manage("workers", "add", "worker01")
        for device, dt in (("qemu01", "qemu"), ("qemu02", "qemu"), ("secret01", "secret-type")):
            self.manage("devices", "add", device, "--device-type", dt, "--worker", "worker01")
        self.manage("tags", "add", "usb")
        self.manage("tags", "add", "rare")  # no device carries "rare"
        self.manage("device-tags", "add", "qemu01", "--tags", "usb")
        # secret-type is visible to (and usable by) the members of "team" only.
        psql(env, "INSERT INTO group_device_type_permissions (group_id, device_type, permission) "
                  "SELECT g.id, 'secret-type', p FROM groups g, unnest(ARRAY['view_devicetype', "
                  "'submit_to_devicetype']) p WHERE g.name = 'team'")
        self.server = Server(env, workdir, *server_args)
        self.api = self.server.api

    def manage(self, *args):
        r = lava_server(self.env, "manage", *args)
        assert r.code == 0, (args, r.out, r.err)
        return r.out

    def headers(self, user):
        return {"Authorization": "Token " + self.tokens[user]} if user else {}

    def get(self, path, user=None, headers=None, **kw):
        return requests.get(self.api + path, headers=dict(self.headers(user), **(headers or {})), timeout=30, **kw)

    def post(self, path, user=None, headers=None, **kw):
        return requests.post(self.api + path, headers=dict(self.headers(user), **(headers or {})), timeout=30, **kw)

    def submit(self, definition, user="alice"):
        r = self.post("jobs/", user, data={"definition": definition})
        assert r.status_code == 201, r.text
        return r.json()["job_ids"]


def rest_lab(pg_env, publisher_args=None):
    """Generator for a module fixture: yields a RestLab, then tears it down.
    With `publisher_args` (a list), a lava-publisher runs too (lab.publisher),
    started first, and lava-server sends it its events."""
    name = "lava_rest_" + uuid.uuid4().hex[:10]
    psql(pg_env, 'CREATE DATABASE "%s"' % name)
    env = dict(pg_env, PGDATABASE=name)
    workdir = tempfile.mkdtemp(prefix="lava-rest-")
    lab = publisher = None
    try:
        server_args = ()
        if publisher_args is not None:
            publisher = Publisher(workdir, env, *publisher_args)
            server_args = ("--event-socket", publisher.input, "--publisher-url", publisher.output_url,
                           "--websocket-upstream", publisher.ws_address)
        lab = RestLab(env, workdir, server_args)
        lab.publisher = publisher
        yield lab
    finally:
        # Even when setting up failed: nothing of this lab outlives the module.
        server = getattr(lab, "server", None)
        code = server.stop() if server else 0
        output = server.output() if server else ""
        publisher_code = publisher.stop() if publisher else 0
        publisher_output = publisher.output() if publisher else ""
        shutil.rmtree(workdir, ignore_errors=True)
        psql(pg_env, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    assert code == 0, output
    assert "error [http]" not in output, output
    assert publisher_code == 0, publisher_output


def browser_sign_in(root, username, password, next_url=None, form=None):
    """Signs in as a browser does: the sign-in page first (its csrftoken
    cookie), then the form with that token. Returns (requests.Session, the
    POST's response)."""
    import requests
    s = requests.Session()
    page = s.get(root + "/accounts/login/", timeout=30)
    assert page.status_code == 200 and "csrftoken" in s.cookies, page.text[:200]
    data = {"username": username, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"]}
    if next_url is not None:
        data["next"] = next_url
    data.update(form or {})
    return s, s.post(root + "/accounts/login/", data=data, allow_redirects=False, timeout=60)

