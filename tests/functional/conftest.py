"""Shared fixtures for functional tests: the built programs, run as real
processes by their build path, against databases in the throwaway
PostgreSQL that ctest's "pg" fixture started."""

import os
import subprocess
import uuid

import pytest

BUILD_DIR = os.environ.get("LAVA_BUILD_DIR", "")
SOURCE_DIR = os.environ.get("LAVA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


# The schema version this tree's programs know: its newest migration.
SCHEMA_VERSION = len([f for f in os.listdir(os.path.join(SOURCE_DIR, "sql", "migrations")) if f.endswith(".sql")])


def program(name):
    path = os.path.join(BUILD_DIR, "src", name)
    if not os.access(path, os.X_OK):
        pytest.fail("%s not built (LAVA_BUILD_DIR=%r); run through ctest" % (name, BUILD_DIR))
    return path


def read_env_file(path):
    out = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.strip().partition("=")
            if sep:
                out[key] = value
    return out


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


class Server:
    """`lava-server serve` on a free loopback port, against the database in `env`."""

    def __init__(self, env, workdir, *extra_args):
        import re
        self.log_path = os.path.join(workdir, "lava-server.log")
        dc = os.path.join(workdir, "dispatcher-config")
        os.makedirs(os.path.join(dc, "devices"), exist_ok=True)
        self.dispatcher_config = dc
        self.job_output = os.path.join(workdir, "job-output")
        e = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LAVA_"))}
        e.update(env)
        args = [program("lava-server"), "--port", "0", "--dispatcher-config", dc,
                "--device-template-dirs", os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "device-types"),
                "--job-output", self.job_output] + list(extra_args) + ["serve"]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, env=e, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

        def listening():
            if self.proc.poll() is not None:
                pytest.fail("lava-server exited with %s:\n%s" % (self.proc.returncode, self.output()))
            m = re.search(r"listening on (http://[0-9.]+:[0-9]+)/", self.output())
            return m.group(1) if m else None

        self.url = wait_for(listening, what="lava-server to listen")
        self.api = self.url + "/api/v0.2/"

    def output(self):
        with open(self.log_path) as f:
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
