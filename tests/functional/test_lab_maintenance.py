"""Keeping a lab healthy with the real lava-server binary: `manage jobs rm`
removes old jobs' rows and job output in batches and never an active job;
`manage check` says, one line per check, what is wrong, with an exit code
for scripts."""

import os

import pytest

from conftest import SOURCE_DIR, lava_server, psql, qemu_job, rest_lab



@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


def paths(lab):
    """lava-server's flags naming this lab's files, as its settings would."""
    return ["--job-output", lab.server.job_output,
            "--dispatcher-config", lab.server.dispatcher_config,
            "--device-template-dirs", os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "device-types")]


def output_dir(lab, job_id):
    day = psql(lab.env, "SELECT to_char(submit_time AT TIME ZONE 'UTC', 'YYYY/MM/DD') FROM test_jobs WHERE id = %d"
               % job_id).strip()
    return os.path.join(lab.server.job_output, day, str(job_id))


def jobs(lab):
    return {int(i) for i in psql(lab.env, "SELECT id FROM test_jobs").split()}


def test_jobs_rm_removes_old_jobs_and_their_output_but_never_an_active_one(lab):
    ids = {name: lab.submit(qemu_job(name), user="admin")[0]
           for name in ("old-finished", "new-finished", "old-running", "old-canceling", "old-submitted", "old-too")}
    # Their ages and states, as years of a lab would leave them.
    for name, state, days in (("old-finished", 5, 100), ("new-finished", 5, 1), ("old-running", 3, 100),
                              ("old-canceling", 4, 100), ("old-submitted", 0, 100), ("old-too", 5, 95)):
        psql(lab.env, "UPDATE test_jobs SET state = %d, submit_time = now() - interval '%d days' - interval '1 hour', "
                      "start_time = CASE WHEN %d > 0 THEN now() - interval '%d days' END, "
                      "end_time = CASE WHEN %d = 5 THEN now() - interval '%d days' END WHERE id = %d"
             % (state, days, state, days, state, days, ids[name]))
        os.makedirs(output_dir(lab, ids[name]), exist_ok=True)
        with open(os.path.join(output_dir(lab, ids[name]), "output.yaml"), "w") as f:
            f.write("- {dt: x, lvl: info, msg: hello}\n")
    psql(lab.env, "INSERT INTO test_suites (job_id, name) VALUES (%d, 'lava')" % ids["old-finished"])

    r = lava_server(lab.env, *paths(lab), "manage", "jobs", "rm", "--older-than", "90d", "--dry-run")
    assert r.code == 0, r.err
    assert r.out == "2 jobs would be removed (dry run)\n"
    assert set(ids.values()) <= jobs(lab)

    r = lava_server(lab.env, *paths(lab), "manage", "jobs", "rm", "--older-than", "90d", "--batch", "1")
    assert r.code == 0, r.err
    # One transaction per batch, with its progress.
    assert r.out.splitlines() == ["removed 1 of 2 jobs (up to job %d)" % ids["old-finished"],
                                  "removed 2 of 2 jobs (up to job %d)" % ids["old-too"],
                                  "2 jobs removed"], r.out
    left = jobs(lab)
    assert ids["old-finished"] not in left and ids["old-too"] not in left
    for kept in ("new-finished", "old-running", "old-canceling", "old-submitted"):
        assert ids[kept] in left, kept
        assert os.path.isdir(output_dir(lab, ids[kept])), kept
    assert not os.path.exists(os.path.join(lab.server.job_output, "job-%d" % ids["old-finished"]))
    assert psql(lab.env, "SELECT count(*) FROM test_suites WHERE job_id = %d" % ids["old-finished"]).strip() == "0"

    # Old queued jobs go only when asked; active jobs never, whatever is asked.
    r = lava_server(lab.env, *paths(lab), "manage", "jobs", "rm", "--older-than", "90d", "--state", "SUBMITTED",
                    "--state", "finished")
    assert r.code == 0, r.err
    assert r.out.splitlines()[-1] == "1 jobs removed"
    assert ids["old-submitted"] not in jobs(lab)
    assert not os.path.exists(output_dir(lab, ids["old-submitted"]))
    r = lava_server(lab.env, *paths(lab), "manage", "jobs", "rm", "--older-than", "1s", "--state", "RUNNING")
    assert r.code == 2
    assert {ids["old-running"], ids["old-canceling"], ids["new-finished"]} <= jobs(lab)


def test_jobs_rm_refuses_an_age_it_cannot_read(lab):
    r = lava_server(lab.env, "manage", "jobs", "rm", "--older-than", "ninety days")
    assert r.code == 1
    assert r.err == "lava-server: error: --older-than: 'ninety days' is not an age like 90d, 12h or 30m\n"
    r = lava_server(lab.env, "manage", "jobs", "rm")
    assert r.code == 2 and "--older-than is required" in r.err


def test_check_says_what_is_fine_and_what_is_not(lab, tmp_path):
    dc = lab.server.dispatcher_config
    os.makedirs(os.path.join(dc, "devices"), exist_ok=True)
    with open(os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "devices", "qemu01.jinja2")) as f:
        dictionary = f.read()
    for device in ("qemu01", "qemu02", "secret01"):
        with open(os.path.join(dc, "devices", device + ".jinja2"), "w") as f:
            f.write(dictionary)
    r = lava_server(lab.env, *paths(lab), "--websocket-upstream", "", "manage", "check")
    assert r.code == 0, (r.out, r.err)
    lines = r.out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "ok    settings", "ok    database", "ok    schema", "ok    dispatcher-config", "ok    job-output",
        "ok    publisher"], lines
    assert lines[3] == "ok    dispatcher-config: 3 device dictionaries render (%s)" % dc

    # A broken dictionary, an unwritable job output, a publisher that is not there.
    with open(os.path.join(dc, "devices", "broken01.jinja2"), "w") as f:
        f.write("{% extends 'no-such-type.jinja2' %}\n")
    r = lava_server(lab.env, *paths(lab)[2:], "--job-output", str(tmp_path / "missing"),
                    "--websocket-upstream", "127.0.0.1:1", "manage", "check")
    assert r.code == 1, r.out
    failed = [line for line in r.out.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failed] == ["FAIL  device broken01", "FAIL  job-output", "FAIL  publisher"], r.out
    assert "no-such-type.jinja2" in failed[0]
    assert r.err == ""
    os.remove(os.path.join(dc, "devices", "broken01.jinja2"))


def test_check_without_a_database_fails_on_that_line(lab):
    env = dict(lab.env, PGDATABASE="lava_no_such_database")
    r = lava_server(env, *paths(lab), "--websocket-upstream", "", "manage", "check")
    assert r.code == 1
    assert "FAIL  database: " in r.out
    assert "ok    job-output" in r.out
