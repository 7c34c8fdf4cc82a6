"""The worker API (/scheduler/internal/v1/) played byte for byte as LAVA
2023.01's lava-worker and lava-run play it, against the real lava-server and
PostgreSQL: register, ping, the start list, fetch, RUNNING, logs in batches
with overlaps and a retried batch, FINISHED; then the job, the device, the
stored log and the test cases. The scheduler's step (Submitted -> Scheduled
on a device) is a later daemon: here it is done with SQL."""

import os
import shutil
import struct
import tempfile
import uuid

import json
import re

import pytest
import requests
import yaml
import zmq

from conftest import SOURCE_DIR, Server, lava_server, psql, typed

JOB = """\
job_name: worker-api
device_type: qemu
visibility: public
timeouts: {job: {minutes: 30}, action: {minutes: 5}}
context: {arch: amd64, guestfs_size: 777}
actions:
- deploy: {to: tmpfs, images: {rootfs: {url: "https://example.com/rootfs.img.gz", compression: gz}}}
- boot: {method: qemu, media: tmpfs, prompts: ["root@debian:~#"]}
"""
HEADERS = {"User-Agent": "lava-worker 2023.01"}


def conform(message, document):
    """Checks a message the server sent against the contract in proto/."""
    import jsonschema
    with open(os.path.join(SOURCE_DIR, "proto", message + ".schema.json")) as f:
        jsonschema.validate(document, json.load(f))
    return document


def checked(response, message):
    """The reply's JSON, checked against `message`'s schema (or error_reply's)."""
    body = response.json()
    conform(message if response.status_code == 200 else "worker/error_reply", body)
    return body


class Lab:
    def __init__(self, env, workdir):
        self.env = env
        self.workdir = workdir
        self.manage("migrate")
        self.manage("users", "add", "admin", "--superuser", "--passwd", "admin-pw")
        self.manage("users", "add", "alice", "--passwd", "alice-pw")
        self.admin_token = self.manage("tokens", "add", "--user", "admin").strip().splitlines()[-1]
        self.manage("device-types", "add", "qemu")
        self.env_dir = os.path.join(workdir, "etc")
        os.makedirs(os.path.join(self.env_dir, "dispatcher.d", "w1"))
        with open(os.path.join(self.env_dir, "env.yaml"), "w") as f:
            f.write("purge: true\noverrides: {LANG: C}\n")
        with open(os.path.join(self.env_dir, "dispatcher.d", "w1", "dispatcher.yaml"), "w") as f:
            f.write("dispatcher_ip: 192.0.2.1\n")
        # lava-publisher's input, played by the test: lava-server pushes here.
        self.zmq = zmq.Context()
        self.pull = self.zmq.socket(zmq.PULL)
        port = self.pull.bind_to_random_port("tcp://127.0.0.1")
        self.server = Server(env, workdir, "--env-dir", self.env_dir,
                             "--worker-config-dir", os.path.join(self.env_dir, "dispatcher.d"),
                             "--event-socket", "tcp://127.0.0.1:%d" % port)
        shutil.copy(os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "devices", "qemu01.jinja2"),
                    os.path.join(self.server.dispatcher_config, "devices"))
        self.base = self.server.url + "/scheduler/internal/v1/"

    def next_event(self, timeout_ms=10000):
        """The next event pushed by lava-server: 5 frames, the payload parsed."""
        assert self.pull.poll(timeout_ms), "no event within %d ms" % timeout_ms
        frames = [f.decode() for f in self.pull.recv_multipart()]
        assert len(frames) == 5, frames
        conform("events/frames", frames)
        topic, uid, dt, user, payload = frames
        conform("events/" + topic.rsplit(".", 1)[1], json.loads(payload))
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", uid), uid
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?", dt), dt
        return topic, user, json.loads(payload)

    def drain(self):
        while self.pull.poll(0):
            self.pull.recv_multipart()

    def manage(self, *args):
        r = lava_server(self.env, "manage", *args)
        assert r.code == 0, (args, r.out, r.err)
        return r.out

    def sql(self, query):
        return psql(self.env, query)

    def submit(self):
        r = requests.post(self.server.api + "jobs/", data={"definition": JOB},
                          headers={"Authorization": "Token " + self.admin_token}, timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["job_ids"][0]

    def schedule(self, job_id, device="qemu01", health_check=False):
        """What lava-scheduler does: Submitted -> Scheduled on an idle device."""
        self.sql("UPDATE test_jobs SET state = 2, actual_device = '%s', health_check = %s WHERE id = %d"
                 % (device, "true" if health_check else "false", job_id))
        self.sql("UPDATE devices SET state = 1 WHERE hostname = '%s'" % device)

    def job(self, job_id):
        r = requests.get(self.server.api + "jobs/%d/" % job_id,
                         headers={"Authorization": "Token " + self.admin_token}, timeout=30)
        assert r.status_code == 200
        return r.json()

    def device(self, hostname="qemu01"):
        state, health = self.sql("SELECT state, health FROM devices WHERE hostname = '%s'" % hostname).split("|")
        return int(state), int(health)


@pytest.fixture(scope="module")
def lab(pg_env):
    name = "lava_wapi_" + uuid.uuid4().hex[:10]
    psql(pg_env, 'CREATE DATABASE "%s"' % name)
    workdir = tempfile.mkdtemp(prefix="lava-wapi-")
    lab = Lab(dict(pg_env, PGDATABASE=name), workdir)
    yield lab
    code = lab.server.stop()
    output = lab.server.output()
    shutil.rmtree(workdir, ignore_errors=True)
    psql(pg_env, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
    lab.pull.close()
    lab.zmq.term()
    assert code == 0, output


@pytest.fixture(scope="module")
def worker(lab):
    """w1, registered by the API as lava-worker does (auto-registration from loopback)."""
    r = requests.post(lab.base + "workers/", data={"name": "w1"}, headers=HEADERS, timeout=30)
    assert r.status_code == 200, r.text
    body = checked(r, "worker/register_reply")
    assert body["name"] == "w1" and len(body["token"]) == 32
    lab.manage("devices", "add", "qemu01", "--device-type", "qemu", "--worker", "w1")
    lab.manage("devices", "update", "qemu01", "--health", "GOOD")
    return body["token"]


def ping(lab, token, version="2023.01", name="w1"):
    h = dict(HEADERS)
    if token is not None:
        h["LAVA-Token"] = token
    params = {"version": version} if version is not None else {}
    r = requests.get(lab.base + "workers/%s/" % name, params=params, headers=h, timeout=30)
    checked(r, "worker/ping_reply")
    return r


def jheaders(token):
    return dict(HEADERS, **{"LAVA-Token": token})


def log_line(n, lvl="target", msg=None):
    msg = msg if msg is not None else "line %d" % n
    return yaml.dump({"dt": "2023-01-10T10:00:%02d.%06d" % (n % 60, n), "lvl": lvl, "msg": msg},
                     Dumper=yaml.CDumper, default_flow_style=True, default_style='"', width=10 ** 6)[:-1]


def post_logs(lab, job_id, token, records, index):
    lines = "- " + "\n- ".join(records)
    conform("worker/log_batch", {"lines": lines, "index": str(index)})
    r = requests.post(lab.base + "jobs/%d/logs/" % job_id, data={"lines": lines, "index": index},
                      headers=dict(jheaders(token), **{"User-Agent": "lava 2023.01"}), timeout=60)
    checked(r, "worker/log_reply")
    return r


# ---------------------------------------------------------------- registration

def test_registration_rules(lab, worker):
    r = requests.post(lab.base + "workers/", data={"name": "w1"}, timeout=30)
    assert r.status_code == 403 and r.json() == {"error": "Worker 'w1' already registered"}
    r = requests.post(lab.base + "workers/", data={}, timeout=30)
    assert r.status_code == 400 and r.json() == {"error": "Missing 'name'"}
    r = requests.post(lab.base + "workers/", data={"name": "w1", "username": "admin", "password": "admin-pw"})
    assert r.status_code == 200 and r.json() == {"name": "w1", "token": worker}
    r = requests.post(lab.base + "workers/", data={"name": "w1", "username": "alice", "password": "alice-pw"})
    assert r.status_code == 403 and r.json() == {"error": "Worker 'w1' already registered"}
    r = requests.post(lab.base + "workers/", data={"name": "w9", "username": "alice", "password": "bad"})
    assert r.status_code == 403 and r.json() == {"error": "Unknown user alice"}
    r = requests.post(lab.base + "workers/", data={"name": "bad name!"}, timeout=30)
    assert r.status_code == 400
    # X-Forwarded-For means nothing unless the peer is a trusted proxy (none by default).
    r = requests.post(lab.base + "workers/", data={"name": "w8"}, headers={"X-Forwarded-For": "192.0.2.7"})
    assert r.status_code == 200 and r.json()["name"] == "w8", r.text
    r = requests.post(lab.base + "workers/w1/", data={}, timeout=30)
    assert r.status_code == 403 and r.json() == {"error": "POST is forbidden for such url"}


def test_forwarded_addresses_count_only_from_trusted_proxies(lab):
    """Issue 14: behind a proxy that appends to X-Forwarded-For, a client
    that writes 127.0.0.1 into the header must not pass as local. The
    address that counts is the right-most one that is not a trusted proxy."""
    workdir = tempfile.mkdtemp(prefix="lava-proxy-")
    server = Server(lab.env, workdir, "--trusted-proxies", "127.0.0.0/8,192.0.2.250")
    try:
        base = server.url + "/scheduler/internal/v1/"

        def register(name, forwarded):
            return requests.post(base + "workers/", data={"name": name}, headers={"X-Forwarded-For": forwarded},
                                 timeout=30)

        forbidden = {"error": "Auto registration is forbidden for '192.0.2.7'"}
        # The client claimed 127.0.0.1; the proxy appended what it saw.
        assert register("p1", "127.0.0.1, 192.0.2.7").json() == forbidden
        assert register("p2", "192.0.2.7").json() == forbidden
        # Two trusted proxies in a row: the address before them counts.
        assert register("p3", "10.9.9.9, 192.0.2.7, 192.0.2.250").json() == forbidden
        # A client really on loopback, through trusted proxies only.
        r = register("p4", "127.0.0.1, 192.0.2.250")
        assert r.status_code == 200 and r.json()["name"] == "p4", r.text
        assert register("p5", "not an address").json() == {"error": "Auto registration is forbidden for 'not an address'"}
        assert lab.sql("SELECT count(*) FROM workers WHERE hostname IN ('p1', 'p2', 'p3', 'p5')") == "0"
    finally:
        code, output = server.stop(), server.output()
        shutil.rmtree(workdir, ignore_errors=True)
        assert code == 0, output


# ---------------------------------------------------------------- ping

def test_ping_errors_and_version_rule(lab, worker):
    assert ping(lab, worker, name="nosuch").json() == {"error": "Unknown worker 'nosuch'"}
    r = ping(lab, None)
    assert r.status_code == 400 and r.json() == {"error": "Missing 'token'"}
    r = ping(lab, "x" * 32)
    assert r.status_code == 400 and r.json() == {"error": "Invalid 'token'"}
    r = ping(lab, worker, version=None)
    assert r.status_code == 400 and r.json() == {"error": "Missing 'version'"}
    r = ping(lab, worker, version="2022.11")
    assert r.status_code == 409 and r.json() == {"error": "Version mismatch '2022.11' vs '2023.01'"}
    assert lab.sql("SELECT state, version FROM workers WHERE hostname = 'w1'") == "1|2022.11"
    r = ping(lab, worker)
    assert r.status_code == 200 and r.json() == {"cancel": [], "running": [], "start": []}
    assert lab.sql("SELECT state, version, last_ping IS NOT NULL FROM workers WHERE hostname = 'w1'") == "0|2023.01|t"
    history = lab.sql("SELECT reason FROM worker_state_changes WHERE worker = 'w1' ORDER BY id")
    assert "Online → Offline" not in history.splitlines()[0]
    assert any(line.startswith("Offline → Online") for line in history.splitlines())


# ---------------------------------------------------------------- one job, end to end

def test_one_job_like_a_real_worker(lab, worker):
    job_id = lab.submit()
    lab.schedule(job_id)
    start = ping(lab, worker).json()["start"]
    assert [s["id"] for s in start] == [job_id]
    job_token = start[0]["token"]
    assert len(job_token) == 32

    # Fetch: wrong token, unknown job, then the real thing.
    r = requests.get(lab.base + "jobs/%d/" % job_id, headers=jheaders("y" * 32), timeout=30)
    assert r.status_code == 400 and r.json() == {"error": "Invalid 'token'"}
    r = requests.get(lab.base + "jobs/999999/", headers=jheaders(job_token), timeout=30)
    assert r.status_code == 404 and r.json() == {"error": "Unknown job '999999'"}
    r = requests.get(lab.base + "jobs/%d/" % job_id, headers=jheaders(job_token), timeout=30)
    assert r.status_code == 200, r.text
    payload = checked(r, "worker/job_payload")
    definition = yaml.safe_load(payload["definition"])
    assert definition["job_name"] == "worker-api" and definition["compatibility"] == 0
    device = yaml.safe_load(payload["device"])
    assert "qemu-system-x86_64" in yaml.dump(device["actions"]["boot"]["methods"]["qemu"])
    assert "777" in yaml.dump(device)  # rendered with the job's context
    assert yaml.safe_load(payload["env"]) == {"purge": True, "overrides": {"LANG": "C"}}
    assert yaml.safe_load(payload["dispatcher"]) == {"dispatcher_ip": "192.0.2.1"}
    assert payload["env-dut"] == ""
    submit = lab.job(job_id)["submit_time"]
    out_dir = os.path.join(lab.server.job_output, submit[0:4], submit[5:7], submit[8:10], str(job_id))
    for name in ("job.yaml", "device.yaml", "env.yaml", "dispatcher.yaml"):
        assert os.path.exists(os.path.join(out_dir, name)), name

    # RUNNING (lava-worker posts it again when it already runs the job).
    for _ in range(2):
        r = requests.post(lab.base + "jobs/%d/" % job_id, data={"state": "RUNNING"}, headers=jheaders(job_token))
        assert r.status_code == 200 and r.json() == {}
    assert lab.job(job_id)["state"] == "Running" and lab.device()[0] == 2
    assert [j["id"] for j in ping(lab, worker).json()["running"]] == [job_id]

    # Logs: 200 lines in batches; the second overlaps the first by 20 lines,
    # then is retried as a whole (its reply was "lost"); results in the overlap.
    records = [log_line(n) for n in range(200)]
    records[90] = log_line(90, "results", {"definition": "0_smoke", "case": "c90", "result": "pass",
                                           "measurement": 1.5, "units": "s", "starttc": 85, "endtc": 90})
    records[150] = log_line(150, "results", {"definition": "0_smoke", "case": "c150", "result": "fail",
                                             "set": "set1", "starttc": 140, "endtc": 142})
    records[160] = log_line(160, "results", {"definition": "lava", "case": "job", "result": "pass",
                                             "duration": "12.50", "level": "1.2", "extra": {"k": "v"}})
    records[170] = log_line(170, "event", "a lava-test-event")
    r = post_logs(lab, job_id, job_token, records[0:100], 0)
    assert r.status_code == 200 and r.json() == {"line_count": 100}
    r = post_logs(lab, job_id, job_token, records[80:200], 80)
    assert r.status_code == 200 and r.json() == {"line_count": 120}
    r = post_logs(lab, job_id, job_token, records[80:200], 80)  # retried
    assert r.status_code == 200 and r.json() == {"line_count": 120}
    # Bad uploads change nothing.
    assert post_logs(lab, job_id, "z" * 32, records[:1], 200).status_code == 400
    r = requests.post(lab.base + "jobs/%d/logs/" % job_id, data={"index": 200}, headers=jheaders(job_token))
    assert r.status_code == 400 and r.json() == {"error": "Missing 'lines'"}
    r = requests.post(lab.base + "jobs/%d/logs/" % job_id, data={"lines": "- {}"}, headers=jheaders(job_token))
    assert r.status_code == 400 and r.json() == {"error": "Missing 'index'"}
    r = requests.post(lab.base + "jobs/%d/logs/" % job_id, data={"lines": "- {}", "index": "x"},
                      headers=jheaders(job_token))
    assert r.status_code == 400 and r.json() == {"error": "Invalid 'index'"}
    r = requests.post(lab.base + "jobs/%d/logs/" % job_id, data={"lines": "- {bad", "index": 200},
                      headers=jheaders(job_token))
    assert r.status_code == 400 and r.json()["error"].startswith("Invalid 'lines': line 1")
    r = post_logs(lab, 999999, job_token, records[:1], 0)
    assert r.status_code == 404 and r.json() == {"error": "Unknown job '999999'"}

    with open(os.path.join(out_dir, "output.yaml")) as f:
        stored = f.read().splitlines()
    expected = ["- " + line for line in records]
    expected[170] = "- " + log_line(170, "debug", "a lava-test-event")  # events are stored as debug
    assert stored == expected
    with open(os.path.join(out_dir, "output.idx"), "rb") as f:
        index = f.read()
    assert len(index) == 200 * 8
    offsets = struct.unpack("=200Q", index)
    assert offsets[0] == 0 and offsets[1] == len(expected[0]) + 1 and offsets[199] == sum(len(x) + 1 for x in expected[:199])

    # Test cases: stored once each, with LAVA's fields.
    cases = requests.get(lab.server.api + "jobs/%d/tests/" % job_id, timeout=30).json()
    assert cases["count"] == 3
    by_name = {c["name"]: c for c in cases["results"]}
    assert by_name["c90"]["result"] == "pass" and float(by_name["c90"]["measurement"]) == 1.5
    assert by_name["c90"]["unit"] == "s" and (by_name["c90"]["start_log_line"], by_name["c90"]["end_log_line"]) == (85, 90)
    assert by_name["c150"]["result"] == "fail" and by_name["c150"]["test_set"] is not None
    assert by_name["job"]["unit"] == "seconds" and float(by_name["job"]["measurement"]) == 12.5
    # LAVA v0.2's fields, with its types; resource_uri leads to the same case.
    c90 = by_name["c90"]
    assert sorted(c90) == ["end_log_line", "id", "logged", "measurement", "metadata", "name", "resource_uri", "result",
                           "start_log_line", "suite", "test_set", "unit"]
    assert typed([c90["id"], c90["suite"], c90["measurement"], c90["start_log_line"]]) == typed(
        [c90["id"], c90["suite"], "1.5000000000", 85])
    assert requests.get(c90["resource_uri"], timeout=30).json() == c90
    assert requests.get(lab.server.api + "jobs/%d/tests/%d/" % (job_id, c90["id"]), timeout=30).json() == c90
    meta = yaml.safe_load(by_name["job"]["metadata"])
    assert meta["extra"].endswith("metadata/lava-job-1.2.yaml") and os.path.exists(meta["extra"])
    suites = requests.get(lab.server.api + "jobs/%d/suites/" % job_id, timeout=30).json()
    assert sorted(s["name"] for s in suites["results"]) == ["0_smoke", "lava"]
    for s in suites["results"]:
        assert sorted(s) == ["id", "job", "name", "resource_uri"] and typed(s["job"]) == typed(job_id)
        assert requests.get(s["resource_uri"], timeout=30).json() == s
    smoke = [s for s in suites["results"] if s["name"] == "0_smoke"][0]
    assert requests.get(smoke["resource_uri"] + "tests/%d/" % c90["id"], timeout=30).json() == c90
    assert requests.get(smoke["resource_uri"] + "tests/999999/", timeout=30).status_code == 404

    # The log by line range, through the REST API.
    r = requests.get(lab.server.api + "jobs/%d/logs/?start=10&end=12" % job_id, timeout=30)
    assert r.status_code == 200 and r.text.splitlines() == expected[10:12]
    assert r.headers["Content-Type"] == "application/yaml"
    r = requests.get(lab.server.api + "jobs/%d/logs/" % job_id, timeout=30)
    assert r.text.splitlines() == expected
    assert requests.get(lab.server.api + "jobs/%d/logs/?start=500" % job_id, timeout=30).status_code == 404

    # Exports, as LAVA's REST API makes them.
    api = lab.server.api + "jobs/%d/" % job_id
    import csv
    import io
    import xml.etree.ElementTree as ET
    root = ET.fromstring(requests.get(api + "junit/?classname_prefix=ci", timeout=30).content)
    assert (root.tag, root.get("tests"), root.get("failures")) == ("testsuites", "3", "1")
    suites = {s.get("name"): s for s in root}
    assert sorted(suites) == ["0_smoke", "lava"]
    failed = [c for c in suites["0_smoke"] if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["c150"] and failed[0].get("classname") == "ci_0_smoke"
    assert failed[0].find("failure").text == "\n".join(expected[140:142]) + "\n"
    assert [c.get("time") for c in suites["lava"]] == ["12.500000"]
    tap = requests.get(api + "tap13/", timeout=30).text
    assert tap.startswith("TAP version 13\n1..3\n# TAP results for 0_smoke\nok 1 c90\nnot ok 2 c150\n ---\n ")
    assert "ok 3 job" in tap
    rows = list(csv.DictReader(io.StringIO(requests.get(api + "csv/", timeout=30).text)))
    assert [(r["job"], r["suite"], r["name"], r["result"]) for r in rows] == [
        (str(job_id), "0_smoke", "c90", "pass"), (str(job_id), "0_smoke", "c150", "fail"),
        (str(job_id), "lava", "job", "pass")]
    assert rows[0]["unit"] == "s" and rows[0]["log_start_line"] == "85" and rows[2]["level"] == "1.2"
    exported = yaml.safe_load(requests.get(api + "yaml/", timeout=30).text)
    assert [e["name"] for e in exported] == ["c90", "c150", "job"]
    assert exported[2]["metadata"]["extra"] == [{"k": "v"}] and exported[2]["measurement"].startswith("12.5")

    # FINISHED: the job completes and the device is free again.
    r = requests.post(lab.base + "jobs/%d/" % job_id, headers=jheaders(job_token),
                      data={"state": "FINISHED", "result": "pass", "error_type": "", "errors": "",
                            "description": "pipeline: []\n"})
    assert r.status_code == 200 and r.json() == {}
    j = lab.job(job_id)
    assert (j["state"], j["health"]) == ("Finished", "Complete") and j["end_time"]
    assert lab.device() == (0, 0)  # Idle, Good
    with open(os.path.join(out_dir, "description.yaml")) as f:
        assert f.read() == "pipeline: []\n"
    assert ping(lab, worker).json() == {"cancel": [], "running": [], "start": []}


def test_bad_state_posts(lab, worker):
    job_id = lab.submit()
    lab.schedule(job_id)
    token = lab.sql("SELECT token FROM test_jobs WHERE id = %d" % job_id)
    url = lab.base + "jobs/%d/" % job_id
    r = requests.post(url, data={"state": "BOGUS"}, headers=jheaders(token))
    assert r.status_code == 400 and r.json() == {"error": "Invalid state 'Bogus'"}
    r = requests.post(url, data={"state": "SCHEDULED"}, headers=jheaders(token))
    assert r.status_code == 400 and r.json() == {"error": "Not handled state 'Scheduled'"}
    r = requests.post(url, data={"state": "FINISHED", "result": "maybe"}, headers=jheaders(token))
    assert r.status_code == 400 and r.json() == {"error": "Invalid health 'maybe'"}
    assert lab.job(job_id)["state"] == "Scheduled"
    # An infrastructure error leaves the device Unknown, so a health check runs next.
    r = requests.post(url, data={"state": "FINISHED", "result": "fail", "error_type": "Infrastructure",
                                 "errors": "boom\n"}, headers=jheaders(token))
    assert r.status_code == 200
    j = lab.job(job_id)
    assert (j["state"], j["health"], j["failure_comment"]) == ("Finished", "Incomplete", "boom\n")
    assert lab.device() == (0, 1)


def test_health_check_sets_device_health(lab, worker):
    for result, health in (("fail", 3), ("pass", 0)):  # Bad, then Good
        job_id = lab.submit()
        lab.schedule(job_id, health_check=True)
        token = lab.sql("SELECT token FROM test_jobs WHERE id = %d" % job_id)
        requests.post(lab.base + "jobs/%d/" % job_id, data={"state": "RUNNING"}, headers=jheaders(token))
        r = requests.post(lab.base + "jobs/%d/" % job_id, data={"state": "FINISHED", "result": result},
                          headers=jheaders(token))
        assert r.status_code == 200
        assert lab.device() == (0, health)
    reasons = lab.sql("SELECT reason FROM device_state_changes WHERE device = 'qemu01' ORDER BY id").splitlines()
    assert any("health-check job" in r and "failed" in r for r in reasons), reasons
    assert reasons[-1].startswith("Bad → Good (health-check job")


def test_cancel_reaches_the_worker(lab, worker):
    job_id = lab.submit()
    lab.schedule(job_id)
    token = lab.sql("SELECT token FROM test_jobs WHERE id = %d" % job_id)
    requests.post(lab.base + "jobs/%d/" % job_id, data={"state": "RUNNING"}, headers=jheaders(token))
    r = requests.get(lab.server.api + "jobs/%d/cancel/" % job_id,
                     headers={"Authorization": "Token " + lab.admin_token}, timeout=30)
    assert r.status_code == 200
    assert lab.job(job_id)["state"] == "Canceling"
    assert [c["id"] for c in ping(lab, worker).json()["cancel"]] == [job_id]
    r = requests.post(lab.base + "jobs/%d/" % job_id, headers=jheaders(token),
                      data={"state": "FINISHED", "result": "fail", "error_type": "Canceled"})
    assert r.status_code == 200
    j = lab.job(job_id)
    assert (j["state"], j["health"]) == ("Finished", "Canceled")
    assert lab.device()[0] == 0


# ---------------------------------------------------------------- events

def test_events_are_pushed_after_each_commit(lab, worker):
    lab.drain()
    job_id = lab.submit()
    topic, user, payload = lab.next_event()
    assert (topic, user) == ("org.lavasoftware.testjob", "admin")
    assert payload["job"] == job_id and payload["state"] == "Submitted" and payload["health"] == "Unknown"
    assert payload["description"] == "worker-api" and payload["device_type"] == "qemu"
    assert payload["submit_time"].endswith("+00:00") and payload["submitter"] == "admin"
    # A rejected submission publishes nothing: the next event is the next commit's.
    r = requests.post(lab.server.api + "jobs/", data={"definition": JOB.replace("qemu", "nosuch", 1)},
                      headers={"Authorization": "Token " + lab.admin_token}, timeout=30)
    assert r.status_code == 400
    lab.schedule(job_id)
    token = lab.sql("SELECT token FROM test_jobs WHERE id = %d" % job_id)
    requests.post(lab.base + "jobs/%d/" % job_id, data={"state": "RUNNING"}, headers=jheaders(token))
    topic, user, payload = lab.next_event()
    assert topic == "org.lavasoftware.testjob" and payload["state"] == "Running"
    assert payload["device"] == "qemu01" and payload["worker"] == "w1" and "start_time" in payload
    topic, user, payload = lab.next_event()
    assert (topic, user) == ("org.lavasoftware.device", "lavaserver")
    assert payload == {"device": "qemu01", "device_type": "qemu", "health": payload["health"], "state": "Running",
                       "worker": "w1", "job": str(job_id)}
    assert post_logs(lab, job_id, token, [log_line(0, "event", "hello")], 0).status_code == 200
    assert lab.next_event() == ("org.lavasoftware.event", "lavaserver", {"message": "hello", "job": job_id})
    # The web UI's log notice (lava-publisher keeps it off its PUB socket).
    assert lab.next_event() == ("org.lavasoftware.log", "lavaserver", {"job": job_id, "lines": 1})
    requests.post(lab.base + "jobs/%d/" % job_id, data={"state": "FINISHED", "result": "pass"},
                  headers=jheaders(token))
    topic, _, payload = lab.next_event()
    assert topic == "org.lavasoftware.testjob" and (payload["state"], payload["health"]) == ("Finished", "Complete")
    topic, _, payload = lab.next_event()
    assert topic == "org.lavasoftware.device" and payload["state"] == "Idle" and "job" not in payload
    # A worker going Offline (version mismatch) and back.
    assert ping(lab, worker, version="1999.01").status_code == 409
    assert lab.next_event() == ("org.lavasoftware.worker", "lavaserver",
                                {"hostname": "w1", "health": "Active", "state": "Offline"})
    assert ping(lab, worker).status_code == 200
    assert lab.next_event()[2]["state"] == "Online"
