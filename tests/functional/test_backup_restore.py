"""Backup and restore as docs/admin/backup.md says: pg_dump of the database
plus a tar of the job output, restored into a new database and directory
that a second lava-server serves. Everything comes back: jobs (private ones
private), their logs, users and their tokens."""

import os
import shutil
import subprocess
import tarfile
import tempfile

import pytest
import requests

from conftest import Server, lava_server, psql, qemu_job, rest_lab



@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


def run(cmd, env):
    r = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True)
    assert r.returncode == 0, (cmd, r.stderr)
    return r.stdout


def test_a_lab_restored_from_its_backup_serves_the_same_jobs_logs_and_tokens(lab, pg_env):
    public = lab.submit(qemu_job("kept"), user="alice")[0]
    private = lab.submit(qemu_job("secret", "personal"), user="alice")[0]
    # The public job ran and logged, as a worker uploads logs (its job token).
    psql(lab.env, "UPDATE test_jobs SET state = 3, start_time = now() - interval '1 minute' WHERE id = %d" % public)
    token = psql(lab.env, "SELECT token FROM test_jobs WHERE id = %d" % public)
    root = lab.api[: -len("/api/v0.2/")]
    r = requests.post(root + "/scheduler/internal/v1/jobs/%d/logs/" % public,
                      data={"lines": '- {"dt": "2026-12-05T10:00:00.000000", "lvl": "target", "msg": "restored line"}',
                            "index": 0},
                      headers={"LAVA-Token": token, "User-Agent": "lava 2023.01"}, timeout=30)
    assert r.status_code == 200, r.text
    psql(lab.env, "UPDATE test_jobs SET state = 5, health = 1, start_time = coalesce(start_time, now()), "
                  "end_time = now() WHERE id IN (%d, %d)" % (public, private))
    before = {
        "jobs": lab.get("jobs/?ordering=id", "alice").json()["results"],
        "anonymous": lab.get("jobs/?ordering=id").json()["results"],
        "log": lab.get("jobs/%d/logs/" % public).text,
    }
    anonymous_ids = [j["id"] for j in before["anonymous"]]
    assert public in anonymous_ids and private not in anonymous_ids
    assert "restored line" in before["log"]

    backup = tempfile.mkdtemp(prefix="lava-backup-")
    restored_db = lab.env["PGDATABASE"] + "_restored"
    restored = None
    try:
        # The backup: a consistent dump, and the job output.
        dump = os.path.join(backup, "lava.dump")
        run(["pg_dump", "-Fc", "-f", dump], lab.env)
        with tarfile.open(os.path.join(backup, "job-output.tar.gz"), "w:gz") as tar:
            tar.add(lab.server.job_output, arcname="job-output")

        # The restore, elsewhere: a new database and directory.
        psql(pg_env, 'CREATE DATABASE "%s"' % restored_db)
        env = dict(lab.env, PGDATABASE=restored_db)
        run(["pg_restore", "--no-owner", "--exit-on-error", "-d", restored_db, dump], env)
        workdir = os.path.join(backup, "restored")
        os.makedirs(workdir)
        with tarfile.open(os.path.join(backup, "job-output.tar.gz")) as tar:
            tar.extractall(workdir)
        r = lava_server(env, "manage", "migrate")
        assert r.code == 0 and "no migrations to apply" in r.out, (r.out, r.err)
        restored = Server(env, workdir)

        def get(path, user=None):
            headers = {"Authorization": "Token " + lab.tokens[user]} if user else {}
            return requests.get(restored.api + path, headers=headers, timeout=30)

        # The same tokens authenticate; the same jobs, private ones still private; the same log.
        assert get("system/whoami/", "alice").json() == {"user": "alice"}
        assert get("jobs/?ordering=id", "alice").json()["results"] == before["jobs"]
        assert get("jobs/?ordering=id").json()["results"] == before["anonymous"]
        assert get("jobs/%d/" % private).status_code == 404
        assert get("jobs/%d/logs/" % public).text == before["log"]
        # New work continues after the restored ids.
        r = requests.post(restored.api + "jobs/", headers={"Authorization": "Token " + lab.tokens["alice"]},
                          data={"definition": qemu_job("after")}, timeout=30)
        assert r.status_code == 201, r.text
        assert r.json()["job_ids"][0] > private
    finally:
        if restored is not None:
            assert restored.stop() == 0, restored.output()
        psql(pg_env, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % restored_db)
        shutil.rmtree(backup, ignore_errors=True)
