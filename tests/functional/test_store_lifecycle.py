"""tools/pg: the private PostgreSQL that tests and the demo lab use. A durable
cluster keeps its data across restarts; stop --remove leaves nothing; the
README's main command brings up a migrated store and prints its status."""

import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD_DIR, SCHEMA_VERSION, SOURCE_DIR, lava_server, psql, read_env_file

PG = os.path.join(SOURCE_DIR, "tools", "pg")


def pg(*args):
    r = subprocess.run([PG] + list(args), capture_output=True, text=True, timeout=120)
    return r


@pytest.fixture
def scratch():
    """A directory the postgres user can reach (pytest's own tmp_path is private)."""
    d = tempfile.mkdtemp(prefix="lava-ftest-", dir="/var/tmp")
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def cluster_dir(scratch):
    d = os.path.join(scratch, "pg")
    yield d
    pg("stop", d, "--remove")


def test_durable_cluster_survives_a_restart(cluster_dir):
    r = pg("start", cluster_dir)
    assert r.returncode == 0, r.stderr
    env = read_env_file(os.path.join(cluster_dir, "pg.env"))
    assert env["PGUSER"] == "lava" and env["PGDATABASE"] == "lava"
    assert psql(env, "SHOW fsync") == "on"
    assert psql(env, "SHOW listen_addresses") == ""
    assert lava_server(env, "manage", "migrate").code == 0
    assert lava_server(env, "manage", "workers", "add", "w1").code == 0
    assert pg("status", cluster_dir).returncode == 0

    assert pg("stop", cluster_dir).returncode == 0
    assert pg("status", cluster_dir).returncode != 0
    assert pg("start", cluster_dir).returncode == 0
    r = lava_server(env, "manage", "workers", "list")
    assert r.code == 0 and "w1" in r.out


def test_throwaway_cluster_is_fast_and_removed(cluster_dir):
    assert pg("start", cluster_dir, "--throwaway").returncode == 0
    env = read_env_file(os.path.join(cluster_dir, "pg.env"))
    assert psql(env, "SHOW fsync") == "off"
    assert pg("stop", cluster_dir, "--remove").returncode == 0
    assert not os.path.exists(cluster_dir)
    # Nothing of it still runs.
    r = subprocess.run(["pgrep", "-f", cluster_dir], capture_output=True)
    assert r.returncode == 1


def test_demo_brings_up_a_lab_that_runs_the_sample_job(scratch):
    demo_dir = os.path.join(scratch, "demo")
    env = dict(os.environ, LAVA_DEMO_BUILD_DIR=BUILD_DIR)
    try:
        r = subprocess.run([os.path.join(SOURCE_DIR, "tools", "demo"), "--dir", str(demo_dir),
                            "--detach", "--no-install"],
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "schema_version : %d" % SCHEMA_VERSION in r.stdout
        assert 'lava-server answers: {"version":"2023.01"}' in r.stdout
        # The README's main command ran the sample job on the virtual DUT, through lavacli.
        assert "* 0_smoke.kernel-version [pass]" in r.stdout, r.stdout[-3000:]
        assert "* lava.job [pass]" in r.stdout
        lab = read_env_file(os.path.join(demo_dir, "lab.env"))
        pg_env = {k: v for k, v in lab.items() if k.startswith("PG")}
        assert lava_server(pg_env, "manage", "status").code == 0
    finally:
        subprocess.run([os.path.join(SOURCE_DIR, "tools", "demo"), "down", "--dir", str(demo_dir)],
                       capture_output=True, timeout=120)
    assert pg("status", os.path.join(demo_dir, "pg")).returncode != 0
    # tools/lab down stopped lava-server too.
    assert subprocess.run(["pgrep", "-f", demo_dir], capture_output=True).returncode == 1
