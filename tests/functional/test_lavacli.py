"""The real lavacli (Debian's) against lava-server's /RPC2: every command a
lab's scripts use, checked for what lavacli prints, plus its error paths
(unknown job, bad token, another user's private job). Identities live in a
private XDG_CONFIG_HOME; lavacli is run as users run it."""

import os
import subprocess
import tempfile

import pytest
import requests
import yaml

from conftest import SOURCE_DIR, psql, rest_lab, typed, wait_for

LAVACLI = "/usr/bin/lavacli"

JOB = """\
job_name: {name}
device_type: qemu
visibility: {visibility}
priority: medium
timeouts: {{job: {{minutes: 30}}, action: {{minutes: 5}}}}
context: {{arch: amd64}}
actions:
- deploy: {{to: tmpfs, images: {{rootfs: {{url: "https://example.com/rootfs.img.gz", compression: gz}}}}}}
- boot: {{method: qemu, media: tmpfs, prompts: ["root@debian:~#"]}}
"""


class Cli:
    def __init__(self, lab, home):
        self.lab = lab
        self.env = dict(os.environ, XDG_CONFIG_HOME=home, LC_ALL="C.UTF-8")
        rpc = lab.api[: -len("/api/v0.2/")] + "/RPC2"
        config = {user: {"uri": rpc, "username": user, "token": lab.tokens[user]}
                  for user in ("admin", "alice", "bob")}
        config["bad"] = {"uri": rpc, "username": "alice", "token": "0" * 128}
        config["anonymous"] = {"uri": rpc}
        with open(os.path.join(home, "lavacli.yaml"), "w") as f:
            yaml.safe_dump(config, f)

    def run(self, *args, identity="admin", stdin=None):
        ident = ["-i", identity] if identity else []
        r = subprocess.run([LAVACLI] + ident + [str(a) for a in args], env=self.env,
                           capture_output=True, text=True, input=stdin, timeout=60)
        return r

    def ok(self, *args, **kw):
        r = self.run(*args, **kw)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    def yaml(self, *args, **kw):
        return yaml.safe_load(self.ok(*args, "--yaml", **kw))


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env, publisher_args=[])


@pytest.fixture(scope="module")
def cli(lab):
    with tempfile.TemporaryDirectory(prefix="lavacli-") as home:
        yield Cli(lab, home)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def submit(cli, tmp_path, name="cli-job", visibility="public", identity="alice"):
    out = cli.ok("jobs", "submit", write(tmp_path, name + ".yaml", JOB.format(name=name, visibility=visibility)),
                 identity=identity)
    return int(out.strip())


# ---------------------------------------------------------------- system, identities

def test_system(cli):
    assert cli.ok("system", "version").strip() == "2023.01"
    assert cli.ok("system", "whoami").strip() == "admin"
    assert cli.ok("system", "whoami", identity="alice").strip() == "alice"
    assert cli.ok("system", "whoami", identity="anonymous").strip() == "<AnonymousUser>"
    assert cli.ok("system", "api").strip() == "2"
    methods = cli.ok("system", "methods", "list").split()
    assert "scheduler.jobs.submit" in methods and "system.multicall" in methods
    # As LAVA's docstrings: the method's name and arguments first.
    help_text = cli.ok("system", "methods", "help", "scheduler.jobs.submit")
    assert help_text.startswith("Name\n----\n`scheduler.jobs.submit` (`definition`)\n"), help_text
    assert "Submits a job definition" in help_text
    assert cli.ok("system", "methods", "signature", "system.methodHelp").strip() == "['str', 'str']"
    assert cli.ok("system", "methods", "signature", "scheduler.jobs.submit").strip() == "undef"


def test_identities(cli):
    cli.ok("identities", "add", "--uri", "http://example.com/RPC2", "--username", "u", "--token", "t", "extra",
           identity=None)
    assert "extra" in cli.ok("identities", "list", identity=None)
    shown = yaml.safe_load(cli.ok("identities", "show", "extra", identity=None))
    assert shown["uri"] == "http://example.com/RPC2" and shown["username"] == "u"
    cli.ok("identities", "delete", "extra", identity=None)
    assert "extra" not in cli.ok("identities", "list", identity=None)


def test_bad_token_is_refused(cli):
    r = cli.run("system", "whoami", identity="bad")
    assert r.returncode == 1
    assert "Unable to connect" in r.stdout and "401" in r.stdout


# ---------------------------------------------------------------- jobs

def test_jobs_submit_show_list_queue_definition(cli, tmp_path):
    job_id = submit(cli, tmp_path, "cli-submit")
    shown = cli.yaml("jobs", "show", job_id)
    # Types as LAVA 2023.01's: the id of a single-node job is an int.
    submit_time = shown.pop("submit_time")
    shown.pop("waiting_reason", None)  # lava-cpp's addition, a string
    assert typed(shown) == typed({"id": job_id, "description": "cli-submit", "device": None, "device_type": "qemu",
                                  "health_check": False, "pipeline": True, "health": "Unknown",
                                  "state": "Submitted", "submitter": "alice", "start_time": None,
                                  "end_time": None, "tags": [], "visibility": "Public", "failure_comment": None})
    assert submit_time is not None
    text = cli.ok("jobs", "show", job_id)
    assert "state       : Submitted" in text and "description : cli-submit" in text
    listed = cli.yaml("jobs", "list")
    assert typed([j for j in listed if j["id"] == job_id]) == typed(
        [{"id": job_id, "description": "cli-submit", "device_type": "qemu", "health": "Unknown",
          "state": "Submitted", "submitter": "alice"}])
    assert job_id in [j["id"] for j in cli.yaml("jobs", "list", "--state", "SUBMITTED")]
    assert job_id not in [j["id"] for j in cli.yaml("jobs", "list", "--state", "RUNNING")]
    assert "* %d: Submitted,Unknown [alice] (cli-submit) - qemu" % job_id in cli.ok("jobs", "list")
    queued = cli.yaml("jobs", "queue")
    assert typed([j for j in queued if j["id"] == job_id]) == typed(
        [{"id": job_id, "description": "cli-submit", "requested_device_type": "qemu", "submitter": "alice"}])
    assert cli.ok("jobs", "definition", job_id).startswith("job_name: cli-submit")


def test_jobs_validate(cli, tmp_path):
    good = write(tmp_path, "good.yaml", JOB.format(name="ok", visibility="public"))
    assert cli.run("jobs", "validate", good).returncode == 0
    bad = write(tmp_path, "bad.yaml", JOB.format(name="ok", visibility="public").replace("priority: medium",
                                                                                          "priority: urgent"))
    r = cli.run("jobs", "validate", bad)
    assert r.returncode == 1
    assert "key: ['priority']" in r.stdout and "line 4" in r.stdout, r.stdout


def test_jobs_submit_errors(cli, tmp_path):
    # lavacli reports submission faults and still exits 0 (as against LAVA).
    r = cli.run("jobs", "submit", write(tmp_path, "broken.yaml", "job_name: [unclosed\n"))
    assert "Unable to submit" in r.stdout and "Fault 400" in r.stdout, r.stdout
    assert "Problem with submitted job data" in r.stdout and "line 2" in r.stdout, r.stdout
    r = cli.run("jobs", "submit", write(tmp_path, "nodt.yaml",
                                        JOB.format(name="x", visibility="public").replace("qemu", "nosuchtype", 1)))
    assert "Fault 400: \"Device unavailable: Device type 'nosuchtype' is unavailable.\"" in r.stdout, r.stdout
    r = cli.run("jobs", "submit", write(tmp_path, "anon.yaml", JOB.format(name="x", visibility="public")),
                identity="anonymous")
    assert "Fault 401" in r.stdout and "Authentication with user and token required" in r.stdout, r.stdout


def test_jobs_unknown_and_private(cli, tmp_path):
    r = cli.run("jobs", "show", 999999)
    assert r.returncode == 1
    assert r.stdout.strip() == "Unable to call 'jobs.show': <Fault 404: \"Job '999999' was not found.\">"
    private = submit(cli, tmp_path, "alice-private", visibility="personal", identity="alice")
    # LAVA stores "personal" as a group named after the submitter.
    assert cli.yaml("jobs", "show", private, identity="alice")["visibility"] == "Group (alice)"
    r = cli.run("jobs", "show", private, identity="bob")
    assert r.returncode == 1 and "Fault 403" in r.stdout and "not available to user 'bob'" in r.stdout
    assert str(private) not in [j["id"] for j in cli.yaml("jobs", "list", identity="bob")]
    r = cli.run("jobs", "cancel", private, identity="bob")
    assert "Unable to cancel job %d" % private in r.stdout and "403" in r.stdout


def test_jobs_cancel_and_resubmit(cli, tmp_path, lab):
    job_id = submit(cli, tmp_path, "cli-cancel")
    r = cli.run("jobs", "cancel", job_id, identity="bob")
    assert "Unable to cancel job %d" % job_id in r.stdout and "Permission denied" in r.stdout
    assert cli.yaml("jobs", "show", job_id)["state"] == "Submitted"
    cli.ok("jobs", "cancel", job_id, identity="alice")
    shown = cli.yaml("jobs", "show", job_id)
    assert shown["state"] == "Finished" and shown["health"] == "Canceled"
    new_id = int(cli.ok("jobs", "resubmit", job_id, identity="alice").strip())
    assert new_id > job_id
    assert cli.ok("jobs", "definition", new_id).startswith("job_name: cli-cancel")
    assert cli.yaml("jobs", "show", new_id)["state"] == "Submitted"


def play_job(cli, lab, tmp_path, records):
    """What lava-scheduler and a worker do to a job: schedule it on qemu01,
    fetch it, run it, upload `records` as its log, finish it."""
    dictionary = open(os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "devices", "qemu01.jinja2")).read()
    cli.ok("devices", "dict", "set", "qemu01", write(tmp_path, "qemu01.jinja2", dictionary))
    job_id = submit(cli, tmp_path, "cli-played")
    psql(lab.env, "UPDATE test_jobs SET state = 2, actual_device = 'qemu01' WHERE id = %d" % job_id)
    psql(lab.env, "UPDATE devices SET state = 1 WHERE hostname = 'qemu01'")
    token = psql(lab.env, "SELECT token FROM test_jobs WHERE id = %d" % job_id)
    base = lab.api[: -len("/api/v0.2/")] + "/scheduler/internal/v1/jobs/%d/" % job_id
    headers = {"LAVA-Token": token}
    assert requests.get(base, headers=headers, timeout=30).status_code == 200
    assert requests.post(base, data={"state": "RUNNING"}, headers=headers, timeout=30).status_code == 200
    lines = "\n".join("- " + yaml.safe_dump(r, default_flow_style=True, width=10 ** 6).strip() for r in records)
    r = requests.post(base + "logs/", data={"lines": lines, "index": 0}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    r = requests.post(base, data={"state": "FINISHED", "result": "pass", "errors": "[]"}, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return job_id


def test_jobs_logs_config_and_results(cli, lab, tmp_path):
    records = [{"dt": "2026-11-30T10:00:0%d.000000" % i, "lvl": "target", "msg": "serial line %d" % i}
               for i in range(5)]
    records.append({"dt": "2026-11-30T10:00:05.000000", "lvl": "results",
                    "msg": {"definition": "0_smoke", "case": "boot-ok", "result": "pass"}})
    records.append({"dt": "2026-11-30T10:00:06.000000", "lvl": "results",
                    "msg": {"definition": "0_smoke", "case": "net", "result": "fail", "measurement": 3.5,
                            "units": "ms"}})
    job_id = play_job(cli, lab, tmp_path, records)
    assert cli.yaml("jobs", "show", job_id)["state"] == "Finished"
    raw = cli.ok("jobs", "logs", job_id, "--raw")
    assert "serial line 0" in raw and "serial line 4" in raw
    assert yaml.safe_load(raw)[2]["msg"] == "serial line 2"
    assert "serial line 3" in cli.ok("jobs", "logs", job_id, "--start", 3, "--end", 4)
    assert "serial line 1" not in cli.ok("jobs", "logs", job_id, "--start", 3, "--end", 4)

    dest = tmp_path / "config"
    cli.ok("jobs", "config", job_id, "--dest", str(dest))
    assert yaml.safe_load((dest / "definition.yaml").read_text())["job_name"] == "cli-played"
    assert "qemu" in (dest / "device.yaml").read_text()

    results = cli.yaml("results", job_id)
    by_name = {r["name"]: r for r in results}
    assert by_name["boot-ok"]["result"] == "pass" and by_name["net"]["result"] == "fail"
    assert by_name["net"]["measurement"] == "3.5000000000" or by_name["net"]["measurement"].startswith("3.5")
    assert by_name["net"]["unit"] == "ms" and by_name["net"]["suite"] == "0_smoke"
    suite = cli.ok("results", job_id, "0_smoke")
    assert "boot-ok" in suite and "net" in suite
    assert cli.ok("results", job_id, "0_smoke", "net").strip() == "fail"
    r = cli.run("results", job_id, "nosuchsuite")
    assert r.returncode == 1 and "Specified test suite not found." in r.stdout

    # Not started yet: no configuration.
    queued = submit(cli, tmp_path, "cli-queued")
    r = cli.run("jobs", "config", queued, "--dest", str(tmp_path / "none"))
    assert r.returncode == 1 and "has not started yet" in r.stdout


# ---------------------------------------------------------------- devices

def test_devices(cli, tmp_path):
    cli.ok("devices", "add", "cli01", "--type", "qemu", "--worker", "worker01", "--description", "from lavacli")
    shown = cli.yaml("devices", "show", "cli01")
    assert shown["device_type"] == "qemu" and shown["worker"] == "worker01" and shown["health"] == "Unknown"
    assert shown["description"] == "from lavacli" and shown["has_device_dict"] is False
    assert any(d["hostname"] == "cli01" for d in cli.yaml("devices", "list"))
    assert "cli01" in cli.ok("devices", "list")
    cli.ok("devices", "update", "cli01", "--health", "MAINTENANCE", "--description", "changed")
    shown = cli.yaml("devices", "show", "cli01")
    assert shown["health"] == "Maintenance" and shown["description"] == "changed"
    cli.ok("devices", "update", "cli01", "--health", "RETIRED")
    assert not any(d["hostname"] == "cli01" for d in cli.yaml("devices", "list"))
    assert any(d["hostname"] == "cli01" for d in cli.yaml("devices", "list", "--all"))
    # Without a description: None, as LAVA.
    cli.ok("devices", "add", "cli03", "--type", "qemu", "--worker", "worker01")
    assert typed(cli.yaml("devices", "show", "cli03")["description"]) == typed(None)

    dictionary = "{% extends 'qemu.jinja2' %}\n{% set mac_addr = '52:54:00:12:34:99' %}\n"
    cli.ok("devices", "dict", "set", "cli01", write(tmp_path, "cli01.jinja2", dictionary))
    assert cli.ok("devices", "dict", "get", "cli01").strip() == dictionary.strip()
    rendered = cli.ok("devices", "dict", "get", "cli01", "--render")
    assert "52:54:00:12:34:99" in rendered and "qemu" in yaml.safe_load(rendered)["actions"]["boot"]["methods"]
    assert cli.yaml("devices", "show", "cli01")["has_device_dict"] is True

    cli.ok("devices", "tags", "add", "cli01", "fast")  # created on the way
    cli.ok("devices", "tags", "add", "cli01", "usb")
    assert sorted(cli.yaml("devices", "tags", "list", "cli01")) == ["fast", "usb"]
    cli.ok("devices", "tags", "delete", "cli01", "usb")
    assert cli.yaml("devices", "tags", "list", "cli01") == ["fast"]

    r = cli.run("devices", "show", "nosuchdevice")
    assert r.returncode == 1 and "Device 'nosuchdevice' was not found." in r.stdout
    r = cli.run("devices", "add", "cli02", "--type", "qemu", "--worker", "worker01", identity="alice")
    assert r.returncode == 1 and "Fault 403" in r.stdout and "missing permission" in r.stdout
    r = cli.run("devices", "add", "cli01", "--type", "qemu", "--worker", "worker01")
    assert r.returncode == 1 and "already exists" in r.stdout


# ---------------------------------------------------------------- device types

def test_device_types(cli, tmp_path):
    cli.ok("device-types", "add", "cli-type", "--description", "made by lavacli", "--health-frequency", "7",
           "--health-denominator", "jobs")
    shown = cli.yaml("device-types", "show", "cli-type")
    assert shown["description"] == "made by lavacli" and shown["health_frequency"] == 7
    assert shown["health_denominator"] == "jobs" and shown["health_disabled"] is False
    assert any(t["name"] == "cli-type" for t in cli.yaml("device-types", "list"))
    cli.ok("device-types", "update", "cli-type", "--description", "updated", "--health-disabled")
    shown = cli.yaml("device-types", "show", "cli-type")
    assert shown["description"] == "updated" and shown["health_disabled"] is True
    cli.ok("device-types", "add", "cli-bare-type")
    assert typed(cli.yaml("device-types", "show", "cli-bare-type")["description"]) == typed(None)

    template = "{% extends 'base.jinja2' %}\n{# cli-type #}\n"
    cli.ok("device-types", "template", "set", "cli-type", write(tmp_path, "t.jinja2", template))
    assert cli.ok("device-types", "template", "get", "cli-type").strip() == template.strip()
    health = "job_name: health\n"
    cli.ok("device-types", "health-check", "set", "cli-type", write(tmp_path, "hc.yaml", health))
    assert cli.ok("device-types", "health-check", "get", "cli-type").strip() == health.strip()

    cli.ok("device-types", "aliases", "add", "cli-type", "cli-alias")
    assert cli.yaml("device-types", "aliases", "list", "cli-type") == ["cli-alias"]
    assert cli.yaml("device-types", "show", "cli-type")["aliases"] == ["cli-alias"]
    cli.ok("device-types", "aliases", "delete", "cli-type", "cli-alias")
    assert cli.yaml("device-types", "aliases", "list", "cli-type") == []

    r = cli.run("device-types", "show", "secret-type", identity="alice")
    assert r.returncode == 1 and "Device-type 'secret-type' was not found." in r.stdout
    assert cli.yaml("device-types", "show", "secret-type", identity="bob")["name"] == "secret-type"
    r = cli.run("device-types", "add", "nope", identity="bob")
    assert r.returncode == 1 and "403" in r.stdout


# ---------------------------------------------------------------- workers

def test_workers(cli, tmp_path):
    cli.ok("workers", "add", "cli-worker", "--description", "lavacli's")
    assert "cli-worker" in cli.yaml("workers", "list")
    shown = cli.yaml("workers", "show", "cli-worker")
    assert shown["hostname"] == "cli-worker" and shown["health"] == "Active" and shown["state"] == "Offline"
    assert shown["description"] == "lavacli's" and shown["default_config"] is True and "token" in shown
    assert "token" not in cli.yaml("workers", "show", "cli-worker", identity="alice")
    cli.ok("workers", "update", "cli-worker", "--health", "MAINTENANCE", "--description", "resting")
    shown = cli.yaml("workers", "show", "cli-worker")
    assert shown["health"] == "Maintenance" and shown["description"] == "resting"

    config = "dispatcher_ip: 192.0.2.7\n"
    cli.ok("workers", "config", "set", "cli-worker", write(tmp_path, "dispatcher.yaml", config))
    assert cli.ok("workers", "config", "get", "cli-worker").strip() == config.strip()
    assert cli.yaml("workers", "show", "cli-worker")["default_config"] is False
    env = "overrides: {LANG: C}\n"
    cli.ok("workers", "env", "set", "cli-worker", write(tmp_path, "env.yaml", env))
    assert cli.ok("workers", "env", "get", "cli-worker").strip() == env.strip()

    # Never given a description, never pinged: None for both, as LAVA.
    cli.ok("workers", "add", "cli-bare-worker")
    bare = cli.yaml("workers", "show", "cli-bare-worker")
    assert typed([bare["description"], bare["version"]]) == typed([None, None])
    r = cli.run("workers", "config", "get", "worker01")
    assert r.returncode == 1 and "does not have a dispatcher configuration" in r.stdout
    r = cli.run("workers", "show", "nosuchworker")
    assert r.returncode == 1 and "Worker 'nosuchworker' was not found." in r.stdout
    r = cli.run("workers", "update", "cli-worker", "--health", "ACTIVE", identity="alice")
    assert r.returncode == 1 and "403" in r.stdout


# ---------------------------------------------------------------- tags, aliases

def test_tags(cli):
    cli.ok("tags", "add", "cli-tag", "--description", "a tag")
    assert any(t["name"] == "cli-tag" and t["description"] == "a tag" for t in cli.yaml("tags", "list"))
    assert typed(cli.yaml("tags", "show", "cli-tag")) == typed({"name": "cli-tag", "description": "a tag", "devices": []})
    # A tag added without a description has None, not '' (LAVA's Tag.description is nullable).
    cli.ok("tags", "add", "cli-bare-tag")
    assert typed(cli.yaml("tags", "show", "cli-bare-tag")) == typed(
        {"name": "cli-bare-tag", "description": None, "devices": []})
    assert "description: None" in cli.ok("tags", "show", "cli-bare-tag")
    cli.ok("tags", "add", "cli-empty-tag", "--description", "")
    assert typed(cli.yaml("tags", "show", "cli-empty-tag")["description"]) == typed("")
    r = cli.run("tags", "add", "cli-tag")
    assert r.returncode == 1 and "already exists" in r.stdout
    cli.ok("tags", "delete", "cli-tag")
    r = cli.run("tags", "show", "cli-tag")
    assert r.returncode == 1 and "Tag 'cli-tag' was not found." in r.stdout
    assert cli.yaml("tags", "show", "usb")["devices"] == ["qemu01"]


def test_aliases(cli):
    cli.ok("aliases", "add", "cli-q", "qemu")
    assert "cli-q" in cli.yaml("aliases", "list")
    assert cli.yaml("aliases", "show", "cli-q") == {"name": "cli-q", "device_type": "qemu"}
    r = cli.run("aliases", "add", "cli-q", "qemu")
    assert r.returncode == 1 and "already exists" in r.stdout
    cli.ok("aliases", "delete", "cli-q")
    r = cli.run("aliases", "show", "cli-q")
    assert r.returncode == 1 and "Alias 'cli-q' was not found." in r.stdout


def test_events_listen_through_the_server_url(cli, lab, tmp_path):
    """lavacli derives ws://<server>/ws/ from the RPC URL; lava-server relays it to lava-publisher."""
    import queue
    import threading
    connections = lab.publisher.output().count(": anonymous")
    listen = subprocess.Popen([LAVACLI, "-i", "anonymous", "events", "listen"], env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in listen.stdout], daemon=True).start()
    try:
        wait_for(lambda: lab.publisher.output().count(": anonymous") > connections, what="lavacli to connect")
        job_id = submit(cli, tmp_path, "listened")
        seen = []
        while not any("org.lavasoftware.testjob" in line and "[%d] <??> state=Submitted" % job_id in line
                      for line in seen):
            seen.append(lines.get(timeout=30))
        assert any(line.startswith("Connecting to " + lab.server.url + "/ws/") for line in seen), seen
    finally:
        listen.kill()
        listen.wait()


def test_events_wait_for_a_worker_state(cli, lab):
    cli.ok("workers", "add", "waited")
    wait = subprocess.Popen([LAVACLI, "-i", "admin", "events", "wait", "worker", "waited", "--health", "MAINTENANCE"],
                            env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # Its ZMQ subscription starts at some point: change the worker until it sees one.
        def ended():
            cli.ok("workers", "maintenance", "waited")
            cli.ok("workers", "update", "waited", "--health", "ACTIVE")
            return wait.poll() is not None

        wait_for(ended, what="lavacli events wait to see the worker go to maintenance")
        assert wait.returncode == 0, wait.stdout.read()
    finally:
        if wait.poll() is None:
            wait.kill()
            wait.wait()
