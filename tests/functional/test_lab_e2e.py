"""The whole lab, end to end, with real processes: lava-server, lava-publisher,
lava-scheduler, lava-worker (our build) spawning lava-run on QEMU DUTs, and
Debian's lavacli as the user: submit, wait, show, results, logs; cancel; the
worker killed with SIGKILL mid-job and restarted."""

import functools
import http.server
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest
import requests
import yaml

from conftest import Daemon, SOURCE_DIR, Scheduler, dut_images, processes_mentioning, program, psql, rest_lab, wait_for

LAVACLI = "/usr/bin/lavacli"
PROMPT = "root@dut:~# "


class QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class Worker(Daemon):
    def __init__(self, lab, worker_dir, *extra):
        token = psql(lab.env, "SELECT token FROM workers WHERE hostname = 'worker01'")
        self.start(os.path.join(worker_dir + ".log"),
                   [program("lava-worker"), "--name", "worker01", "--url", lab.server.url,
                    "--ws-url", lab.publisher.ws_url, "--token", token, "--worker-dir", worker_dir,
                    "--lava-run", program("lava-run"), "--level", "DEBUG", *extra], {})
        wait_for(lambda: not self.alive() or "events: listening" in self.output(), what="lava-worker to listen")
        assert self.alive(), self.output()


@pytest.fixture(scope="module")
def images():
    path = dut_images()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=path))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


class Gate:
    """A door a job waits at: its test step polls a URL of this HTTP server
    (the host is 10.0.2.2 from the DUT) until the test opens the door. So a
    test knows the job is still running when it restarts something."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lava-gate-")
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      functools.partial(QuietFiles, directory=self.dir))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def step(self, name):
        return "until wget -q -O /dev/null http://10.0.2.2:%d/%s; do sleep 0.2; done" % (
            self.server.server_address[1], name)

    def open(self, name):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write("open\n")

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def gate():
    g = Gate()
    yield g
    g.close()


@pytest.fixture(scope="module")
def lab(pg_env, images):
    for lab in rest_lab(pg_env, publisher_args=[]):
        workdir = lab.server.dispatcher_config.rsplit("/", 1)[0]
        with open(os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "devices", "qemu01.jinja2")) as f:
            dictionary = f.read()
        for i, device in enumerate(("qemu01", "qemu02")):
            with open(os.path.join(lab.server.dispatcher_config, "devices", device + ".jinja2"), "w") as f:
                f.write(dictionary.replace("52:54:00:12:34:01", "52:54:00:12:34:%02x" % (i + 1)))
        psql(lab.env, "UPDATE devices SET health = 0; UPDATE device_types SET disable_health_check = true")
        lab.workdir = workdir
        lab.scheduler = Scheduler(workdir, lab.env, lab.publisher, "scheduler", "--worker-timeout-s", "3600")
        lab.worker_dir = os.path.join(workdir, "worker")
        # Pings every 60 s: a job starts fast only because the publisher's event wakes the worker.
        lab.worker = Worker(lab, lab.worker_dir, "--ping-interval", "60")
        lab.home = tempfile.mkdtemp(prefix="lavacli-")
        rpc = lab.server.url + "/RPC2"
        with open(os.path.join(lab.home, "lavacli.yaml"), "w") as f:
            yaml.safe_dump({user: {"uri": rpc, "username": user, "token": lab.tokens[user]}
                            for user in ("alice", "admin")}, f)
        try:
            yield lab
        finally:
            if lab.worker.alive():
                code = lab.worker.stop()
                assert code == 0, lab.worker.output()
            assert lab.scheduler.stop() == 0, lab.scheduler.output()
            shutil.rmtree(lab.home, ignore_errors=True)


def lavacli(lab, *args, timeout=120, identity="alice"):
    r = subprocess.run([LAVACLI, "-i", identity, *[str(a) for a in args]], capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ, XDG_CONFIG_HOME=lab.home, LC_ALL="C.UTF-8"))
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def job_file(tmp_path, images, steps, name="e2e"):
    job = {"job_name": name, "device_type": "qemu", "visibility": "public", "priority": "medium",
           "timeouts": {"job": {"minutes": 5}, "action": {"minutes": 2}, "connection": {"minutes": 1}},
           "context": {"arch": "amd64"},
           "actions": [
               {"deploy": {"to": "tmpfs", "images": {
                   "kernel": {"url": images + "/vmlinux",
                              "image_arg": '-kernel {kernel} -append "console=ttyS0,115200 panic=-1"'},
                   "initrd": {"url": images + "/initramfs.cpio.gz", "image_arg": "-initrd {initrd}"}}}},
               {"boot": {"method": "qemu", "media": "tmpfs", "prompts": [PROMPT]}},
               {"test": {"definitions": [{"from": "inline", "name": "smoke", "path": "inline/smoke.yaml", "repository": {
                   "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "smoke"},
                   "run": {"steps": steps}}}]}}]}
    path = tmp_path / (name + ".yaml")
    path.write_text(yaml.safe_dump(job))
    return str(path)


def show(lab, job_id):
    r = requests.get(lab.api + "jobs/%d/" % job_id, headers=lab.headers("alice"), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def stored_log(lab, job_id, allow_empty=False):
    r = requests.get(lab.api + "jobs/%d/logs/" % job_id, headers=lab.headers("alice"), timeout=30)
    if allow_empty and r.status_code == 404:
        return []  # nothing uploaded yet
    assert r.status_code == 200, r.text
    return yaml.load(r.text, Loader=yaml.CSafeLoader)


def keep_local_log(lab, job_id, tmp_path):
    """A hard link to lava-run's local copy of the log (logs.yaml), which the
    worker deletes with the job's directory once the end is reported."""
    local = os.path.join(lab.worker_dir, "tmp", str(job_id), "logs.yaml")
    wait_for(lambda: os.path.exists(local), what="lava-run's local log")
    kept = str(tmp_path / ("local-%d.yaml" % job_id))
    os.link(local, kept)
    return kept


def same_log(lab, job_id, kept):
    """The stored log is exactly lava-run's local copy: no line lost, none twice."""
    r = requests.get(lab.api + "jobs/%d/logs/" % job_id, headers=lab.headers("alice"), timeout=30)
    assert r.status_code == 200, r.text
    stored = r.text.rstrip("\n").split("\n")
    with open(kept) as f:
        local = f.read().rstrip("\n").split("\n")
    assert len(stored) == len(local) and stored == local, (len(stored), len(local))


def test_submit_wait_show_results_logs_with_lavacli(lab, images, tmp_path):
    path = job_file(tmp_path, images, ["lava-test-case pass-case --result pass",
                                       "lava-test-case fail-case --result fail",
                                       "lava-test-case measured --result pass --measurement 3.5 --units s",
                                       "echo marker-from-the-dut"])
    started = time.monotonic()
    job_id = int(lavacli(lab, "jobs", "submit", path).strip())
    # Running within seconds although the worker pings once a minute: the event woke it.
    wait_for(lambda: show(lab, job_id)["state"] in ("Running", "Finished"), timeout=15, what="the job to run")
    assert time.monotonic() - started < 15
    lavacli(lab, "jobs", "wait", job_id, "--polling", "1", timeout=240)
    shown = yaml.safe_load(lavacli(lab, "jobs", "show", job_id, "--yaml"))
    assert shown["state"] == "Finished" and shown["health"] == "Complete", shown
    results = yaml.safe_load(lavacli(lab, "results", job_id, "--yaml"))
    cases = {(r["suite"], r["name"]): r for r in results}
    assert cases[("0_smoke", "pass-case")]["result"] == "pass"
    assert cases[("0_smoke", "fail-case")]["result"] == "fail"
    assert cases[("0_smoke", "measured")]["result"] == "pass"
    assert float(cases[("0_smoke", "measured")]["measurement"]) == 3.5
    assert cases[("lava", "job")]["result"] == "pass"
    logs = lavacli(lab, "jobs", "logs", job_id, "--raw")
    assert "marker-from-the-dut" in logs and PROMPT in logs
    # The stored log is lava-run's, whole: ends with the job's result, no line twice.
    records = stored_log(lab, job_id)
    assert records[-1]["msg"] == {"definition": "lava", "case": "job", "result": "pass"}
    assert len({(r["dt"], r["lvl"], str(r["msg"])) for r in records}) == len(records)
    # The worker cleaned up; the device is free again.
    wait_for(lambda: not os.path.exists(os.path.join(lab.worker_dir, "tmp", str(job_id))), what="cleanup")
    assert psql(lab.env, "SELECT state FROM devices WHERE hostname = 'qemu02'") == "0"


def test_cancel_mid_test(lab, images, tmp_path):
    job_id = int(lavacli(lab, "jobs", "submit",
                         job_file(tmp_path, images, ["lava-test-case started --result pass", "sleep 600"])).strip())

    def started():
        return any(r["lvl"] == "results" and isinstance(r["msg"], dict) and r["msg"].get("case") == "started"
                   for r in stored_log(lab, job_id, allow_empty=True))

    wait_for(lambda: show(lab, job_id)["state"] == "Running", timeout=30, what="the job to run")
    wait_for(started, timeout=120, interval=0.5, what="the test to start")
    # Issue 14: the job's token is on no command line (lava-run reads it from
    # a file), and its files are the worker's user's only.
    token = psql(lab.env, "SELECT token FROM test_jobs WHERE id = %d" % job_id)
    assert processes_mentioning("--job-id=%d" % job_id) and processes_mentioning(token) == []
    job_dir = os.path.join(lab.worker_dir, "tmp", str(job_id))
    for name in ("job.yaml", "device.yaml", "token", "stdout", "stderr"):
        assert stat.S_IMODE(os.stat(os.path.join(job_dir, name)).st_mode) == 0o600, name
    for d in (lab.worker_dir, os.path.join(lab.worker_dir, "tmp"), job_dir, os.path.join(lab.worker_dir, "run")):
        assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
    lavacli(lab, "jobs", "cancel", job_id)
    t0 = time.monotonic()
    wait_for(lambda: show(lab, job_id)["state"] == "Finished", timeout=10, what="the job to end after the cancel")
    assert time.monotonic() - t0 < 10
    assert show(lab, job_id)["health"] == "Canceled"
    device = show(lab, job_id)["actual_device"]
    wait_for(lambda: psql(lab.env, "SELECT state FROM devices WHERE hostname = '%s'" % device) == "0", timeout=10,
             what="the device to be Idle (%s)" % psql(lab.env, "SELECT hostname, state, health FROM devices"))
    # QEMU of this job (its images are in the job's lava-run directory) is gone.
    job_files = os.path.join(lab.worker_dir, "run", str(job_id)) + "/"
    assert processes_mentioning(job_files) == []


def cases_of(lab, job_id):
    return {r["name"]: r["result"] for r in yaml.safe_load(lavacli(lab, "results", job_id, "--yaml"))
            if r["suite"] == "0_smoke"}


def test_worker_killed_and_restarted_mid_job(lab, images, gate, tmp_path):
    job_id = int(lavacli(lab, "jobs", "submit", job_file(
        tmp_path, images, ["lava-test-case before --result pass", gate.step("worker"),
                           "lava-test-case after --result pass"])).strip())
    wait_for(lambda: cases_of(lab, job_id) == {"before": "pass"}, timeout=60, what="the job's first case")
    kept = keep_local_log(lab, job_id, tmp_path)
    lab.worker.proc.send_signal(signal.SIGKILL)
    lab.worker.proc.wait()
    lab.worker.log.close()
    # lava-run goes on without its worker; a new worker finds the job and reports its end.
    lab.worker = Worker(lab, lab.worker_dir, "--ping-interval", "60")
    assert "found again after a restart" in lab.worker.output()
    # The job waits at the gate: it really is still running after the restart.
    assert show(lab, job_id)["state"] == "Running"
    assert processes_mentioning("--job-id=%d" % job_id)
    gate.open("worker")
    wait_for(lambda: show(lab, job_id)["state"] == "Finished", timeout=180, interval=0.5, what="the job to end")
    assert show(lab, job_id)["health"] == "Complete"
    results = yaml.safe_load(lavacli(lab, "results", job_id, "--yaml"))
    assert {r["name"]: r["result"] for r in results if r["suite"] == "0_smoke"} == {"before": "pass", "after": "pass"}
    records = stored_log(lab, job_id)
    assert records[-1]["msg"] == {"definition": "lava", "case": "job", "result": "pass"}
    same_log(lab, job_id, kept)


def test_two_devices_at_once_and_a_third_job_queued(lab, images, tmp_path):
    path = job_file(tmp_path, images, ["lava-test-case a --result pass", "sleep 4"], name="parallel")
    ids = [int(lavacli(lab, "jobs", "submit", path).strip()) for _ in range(3)]

    def two_running():
        states = [show(lab, i)["state"] for i in ids]
        return states.count("Running") == 2 and states.count("Submitted") == 1 and states

    wait_for(two_running, timeout=60, interval=0.2, what="two jobs running and one queued")
    devices = {show(lab, i)["actual_device"] for i in ids if show(lab, i)["state"] == "Running"}
    assert devices == {"qemu01", "qemu02"}
    wait_for(lambda: all(show(lab, i)["state"] == "Finished" for i in ids), timeout=240, interval=0.5,
             what="the three jobs to end")
    assert [show(lab, i)["health"] for i in ids] == ["Complete"] * 3


def restart_server(lab):
    """SIGTERM lava-server and start it again on the same port."""
    args = list(lab.server.proc.args)
    port = lab.server.url.rsplit(":", 1)[1]
    args[args.index("--port") + 1] = port
    assert lab.server.stop() == 0, lab.server.output()
    lab.server.start(lab.server.log_path + ".2", args, lab.env)
    wait_for(lambda: "listening on" in lab.server.output(), what="lava-server to listen again")


def test_server_restarted_mid_job(lab, images, gate, tmp_path):
    job_id = int(lavacli(lab, "jobs", "submit", job_file(
        tmp_path, images, ["lava-test-case before --result pass", gate.step("server"),
                           "lava-test-case after --result pass"])).strip())
    wait_for(lambda: cases_of(lab, job_id) == {"before": "pass"}, timeout=60, what="the job's first case")
    kept = keep_local_log(lab, job_id, tmp_path)
    restart_server(lab)
    # The job waits at the gate: the restarted server finds it running, and
    # the rest of its log and results arrive through the new server.
    assert show(lab, job_id)["state"] == "Running"
    assert cases_of(lab, job_id) == {"before": "pass"}
    gate.open("server")
    wait_for(lambda: show(lab, job_id)["state"] == "Finished", timeout=180, interval=0.5, what="the job to end")
    assert show(lab, job_id)["health"] == "Complete"
    cases = {r["name"]: r["result"] for r in yaml.safe_load(lavacli(lab, "results", job_id, "--yaml"))
             if r["suite"] == "0_smoke"}
    assert cases == {"before": "pass", "after": "pass"}
    records = stored_log(lab, job_id)
    assert records[-1]["msg"] == {"definition": "lava", "case": "job", "result": "pass"}
    same_log(lab, job_id, kept)


def test_job_waits_for_an_offline_worker(lab, images, tmp_path):
    assert lab.worker.stop() == 0, lab.worker.output()
    # What lava-scheduler does to a silent worker (its timeout is long in this lab).
    psql(lab.env, "UPDATE workers SET state = 1 WHERE hostname = 'worker01'")
    job_id = int(lavacli(lab, "jobs", "submit", job_file(tmp_path, images, ["lava-test-case a --result pass"])).strip())
    reason = wait_for(lambda: show(lab, job_id).get("waiting_reason"), timeout=30, what="a waiting reason")
    assert show(lab, job_id)["state"] == "Submitted", reason
    lab.worker = Worker(lab, lab.worker_dir, "--ping-interval", "60")
    wait_for(lambda: show(lab, job_id)["state"] == "Finished", timeout=120, interval=0.5, what="the job to run")
    assert show(lab, job_id)["health"] == "Complete"


def test_health_checks_run_and_a_failing_one_makes_the_device_bad(lab, images, tmp_path):
    checks = os.path.join(lab.server.dispatcher_config, "health-checks")
    os.makedirs(checks, exist_ok=True)
    check = yaml.safe_load(open(job_file(tmp_path, images, ["lava-test-case alive --result pass"], name="hc")))
    check["job_name"] = "qemu health check"
    with open(os.path.join(checks, "qemu.yaml"), "w") as f:
        yaml.safe_dump(check, f)
    psql(lab.env, "UPDATE device_types SET disable_health_check = false")
    lavacli(lab, "devices", "update", "qemu02", "--health", "MAINTENANCE", identity="admin")  # only qemu01 is checked
    try:
        def health_check(device):
            return psql(lab.env, "SELECT id FROM test_jobs WHERE health_check AND actual_device = '%s' "
                                 "ORDER BY id DESC LIMIT 1" % device)

        # The device event (Idle, Unknown) wakes the scheduler, which starts the health check first.
        lavacli(lab, "devices", "update", "qemu01", "--health", "UNKNOWN", identity="admin")
        first = int(wait_for(lambda: health_check("qemu01"), timeout=60, what="a health check on qemu01"))
        wait_for(lambda: show(lab, first)["state"] == "Finished", timeout=120, interval=0.5, what="the check to end")
        assert show(lab, first)["health"] == "Complete"
        assert psql(lab.env, "SELECT health FROM devices WHERE hostname = 'qemu01'") == "0"  # Good

        # A failing health check: the device goes Bad and takes no job.
        check["actions"][2]["test"]["definitions"][0]["repository"]["run"]["steps"] = ["lava-test-raise broken-board"]
        with open(os.path.join(checks, "qemu.yaml"), "w") as f:
            yaml.safe_dump(check, f)
        lavacli(lab, "devices", "update", "qemu01", "--health", "UNKNOWN", identity="admin")
        second = int(wait_for(lambda: (health_check("qemu01") or "0") != str(first) and health_check("qemu01"),
                              timeout=60, what="a second health check"))
        wait_for(lambda: show(lab, second)["state"] == "Finished", timeout=120, interval=0.5, what="the check to end")
        assert show(lab, second)["health"] == "Incomplete"
        assert psql(lab.env, "SELECT health FROM devices WHERE hostname = 'qemu01'") == "3"  # Bad
        job_id = int(lavacli(lab, "jobs", "submit", job_file(tmp_path, images, ["true"], name="after-bad")).strip())
        reason = wait_for(lambda: show(lab, job_id).get("waiting_reason"), timeout=30, what="a waiting reason")
        assert show(lab, job_id)["state"] == "Submitted" and show(lab, job_id)["actual_device"] is None, reason
        lavacli(lab, "jobs", "cancel", job_id)
    finally:
        psql(lab.env, "UPDATE device_types SET disable_health_check = true; UPDATE devices SET health = 0")


def test_a_worker_without_a_token_registers_itself(lab, tmp_path):
    worker_dir = str(tmp_path / "auto")
    auto = Daemon()
    auto.start(worker_dir + ".log", [program("lava-worker"), "--name", "auto01", "--url", lab.server.url,
                                     "--worker-dir", worker_dir, "--ping-interval", "1",
                                     "--lava-run", program("lava-run")], {})
    try:
        token_file = os.path.join(worker_dir, "token")
        wait_for(lambda: os.path.exists(token_file), what="the worker to register")
        assert os.stat(token_file).st_mode & 0o777 == 0o600
        token = open(token_file).read().strip()
        assert token == psql(lab.env, "SELECT token FROM workers WHERE hostname = 'auto01'")
        wait_for(lambda: psql(lab.env, "SELECT state FROM workers WHERE hostname = 'auto01'") == "0",
                 what="the new worker to be Online")
    finally:
        assert auto.stop() == 0, auto.output()
    # Started again, it uses the token it kept.
    auto.start(worker_dir + ".2.log", [program("lava-worker"), "--name", "auto01", "--url", lab.server.url,
                                       "--worker-dir", worker_dir, "--ping-interval", "1",
                                       "--lava-run", program("lava-run")], {})
    try:
        wait_for(lambda: "serving" in auto.output(), what="the worker to start")
        assert "registered" not in auto.output()
    finally:
        assert auto.stop() == 0, auto.output()
