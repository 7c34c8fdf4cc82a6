"""Hostile input at every public entry point (issue 14): REST, XML-RPC, the
worker API, lava-publisher's WebSocket and ZMQ input, lava-run's job file
and device configuration. Each class of input (deep nesting, huge scalars,
billion-laughs aliases, invalid UTF-8, NUL bytes, giant Jinja loops and
outputs, truncated and oversized frames) must get a clear error naming what
was refused; afterwards the daemon answers an ordinary request, its peak RSS
stays bounded, and nothing is half-written in the store."""

import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import xmlrpc.client

import pytest
import requests
import websocket
import yaml
import zmq

from conftest import SOURCE_DIR, browser_sign_in, lava_server, program, psql, rest_lab, wait_for

# ---------------------------------------------------------------- the inputs

DEPTH = 200000


def laughs(levels=10, width=10):
    text = "a: &a [" + ", ".join(["lol"] * width) + "]\n"
    prev = "a"
    for i in range(1, levels):
        name = "b%d" % i
        text += "%s: &%s [%s]\n" % (name, name, ", ".join(["*" + prev] * width))
        prev = name
    return text


# name -> (YAML text, what the error must say)
YAML_CASES = {
    "deep-flow-sequence": ("[" * DEPTH + "]" * DEPTH, "yaml_max_depth"),
    "deep-flow-mapping": ("{a: " * DEPTH + "1" + "}" * DEPTH, "yaml_max_depth"),
    "deep-block-mapping": ("".join(" " * i + "k:\n" for i in range(3000)), "yaml_max_depth"),
    "billion-laughs": (laughs(), "yaml_max_nodes"),
    "huge-scalar": ("job_name: " + "x" * (16 << 20) + "\n", "job_name"),
    "huge-number": ("job_name: " + "9" * (8 << 20) + "\n", "job_name"),
    "nul-byte": ("job_name: a\x00b\n", "control characters are not allowed"),
}
INVALID_UTF8 = b"job_name: \xff\xfe\xfd\ndevice_type: qemu\n"

OK_JOB = """\
job_name: ordinary
device_type: qemu
visibility: public
timeouts: {job: {minutes: 10}}
actions:
- boot: {method: qemu, media: tmpfs, timeout: {minutes: 2}, prompts: ['root@dut:~# ']}
"""

# Device dictionaries (Jinja2) -> the limit the error names.
JINJA_CASES = {
    "huge-range": ("{% extends 'qemu.jinja2' %}{% set x = range(10**12) %}", "jinja_max_range"),
    "nested-loops": ("{% extends 'qemu.jinja2' %}{% set x %}{% for i in range(100000) %}{% for j in range(100000) %}"
                     "{% endfor %}{% endfor %}{% endset %}", "jinja_max_iterations"),
    "repetition": ("{% extends 'qemu.jinja2' %}{% set x = 'x' * 10**12 %}", "jinja_max_output_bytes"),
    "doubling": ("{% extends 'qemu.jinja2' %}{% set x = 'x' * 1000000 %}" + "{% set x = x ~ x %}" * 10,
                 "jinja_max_output_bytes"),
    "deep-expression": ("{% extends 'qemu.jinja2' %}{% set x = " + "(" * DEPTH + "1" + ")" * DEPTH + " %}",
                        "jinja_max_depth"),
    "long-chain": ("{% extends 'qemu.jinja2' %}{% set x = 1" + " + 1" * DEPTH + " %}", "jinja_max_depth"),
    "deep-blocks": ("{% extends 'qemu.jinja2' %}" + "{% if true %}" * 20000 + "{% endif %}" * 20000,
                    "jinja_max_depth"),
    "self-recursive-block": ("{% extends 'qemu.jinja2' %}{% block rec %}{{ self.rec() }}{% endblock %}"
                             "{% set x = self.rec() %}", "jinja_max_depth"),
    "huge-template": ("{% extends 'qemu.jinja2' %}" + "x" * (2 << 20), "jinja_max_template_bytes"),
}


def vm_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for %d" % (field, pid))


# ---------------------------------------------------------------- the lab

@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env, publisher_args=[])


@pytest.fixture(scope="module")
def rpc(lab):
    def proxy(user=None):
        host = lab.server.url[len("http://"):]
        auth = "%s:%s@" % (user, lab.tokens[user]) if user else ""
        return xmlrpc.client.ServerProxy("http://%s%s/RPC2" % (auth, host), allow_none=True)
    return proxy


def count_jobs(lab):
    return int(psql(lab.env, "SELECT count(*) FROM test_jobs"))


def alive(lab, rpc):
    """The server answers ordinary requests: anonymous, authenticated, XML-RPC."""
    assert lab.server.alive(), lab.server.output()[-3000:]
    assert lab.get("system/version/").status_code == 200
    r = lab.post("jobs/validate/", data={"definition": OK_JOB})
    assert r.status_code == 200 and r.json()["message"] == "Job valid.", r.text
    assert lab.get("jobs/", "alice").status_code == 200
    assert rpc("alice").system.whoami() == "alice"


# ---------------------------------------------------------------- REST and XML-RPC

@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_job_definitions(lab, rpc, case):
    text, says = YAML_CASES[case]
    before = count_jobs(lab)
    # Anonymous validation, REST and XML-RPC.
    r = lab.post("jobs/validate/", data={"definition": text})
    assert r.status_code == 200 and r.json()["message"].startswith("Job invalid:"), r.text[:300]
    assert says in r.json()["message"], r.json()["message"][:300]
    if case != "nul-byte":  # XML cannot carry a NUL
        answer = rpc().scheduler.jobs.validate(text)
        assert says in answer["path"] + answer["msg"], answer
    # Submission: 400 naming the problem, nothing stored.
    r = lab.post("jobs/", "alice", data={"definition": text})
    assert r.status_code == 400, r.text[:300]
    assert says in r.json()["message"], r.json()["message"][:300]
    if case != "nul-byte":
        with pytest.raises(xmlrpc.client.Fault) as fault:
            rpc("alice").scheduler.jobs.submit(text)
        assert fault.value.faultCode == 400 and says in fault.value.faultString, fault.value.faultString[:300]
    # A test definition, the same way.
    r = lab.post("jobs/validate_testdef/", data={"definition": text})
    assert r.status_code == 200 and "invalid" in r.json()["message"], r.text[:300]
    assert count_jobs(lab) == before
    alive(lab, rpc)


def test_ids_in_paths(lab, rpc):
    job_id = lab.submit(OK_JOB)[0]
    for path in ("jobs/%s/", "jobs/%s/tests/", "jobs/%s/suites/", "jobs/1/tests/%s/", "jobs/1/suites/%s/tests/",
                 "jobs/1/suites/1/tests/%s/", "jobs/%s/logs/?start=-1&end=99999999999999999999"):
        for bad in ("99999999999999999999999", "-1", "0x10", "1e3", "%00", "%FF", "a" * 4000):
            r = lab.get(path % bad, "alice")
            assert r.status_code in (400, 404), (path % bad, r.status_code, r.text[:200])
    assert lab.get("jobs/%d/" % job_id, "alice").status_code == 200
    alive(lab, rpc)


def test_invalid_utf8_and_raw_xml(lab, rpc):
    before = count_jobs(lab)
    r = requests.post(lab.api + "jobs/", data=b"definition=" + INVALID_UTF8.replace(b"\n", b"%0A"),
                      headers={"Authorization": "Token " + lab.tokens["alice"],
                               "Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
    assert r.status_code == 400 and "Problem with submitted job data" in r.json()["message"], r.text
    body = (b"<?xml version='1.0'?><methodCall><methodName>scheduler.jobs.submit</methodName><params><param>"
            b"<value><string>" + INVALID_UTF8 + b"</string></value></param></params></methodCall>")
    r = requests.post(lab.server.url + "/RPC2", data=body, timeout=60,
                      auth=("alice", lab.tokens["alice"]), headers={"Content-Type": "text/xml"})
    assert r.status_code == 200 and b"<fault>" in r.content, r.content[:300]
    # XML-RPC's own limits: nesting, and entities it never expands.
    nested = (b"<?xml version='1.0'?><methodCall><methodName>scheduler.jobs.validate</methodName><params><param>"
              + b"<value><array><data>" * 100000 + b"</data></array></value>" * 100000 + b"</param></params></methodCall>")
    r = requests.post(lab.server.url + "/RPC2", data=nested, timeout=60, headers={"Content-Type": "text/xml"})
    assert b"<fault>" in r.content and b"nested deeper than 64" in r.content, r.content[:300]
    entities = (b"<?xml version='1.0'?><!DOCTYPE l [<!ENTITY a 'lol'>"
                + b"".join(b"<!ENTITY %c '&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;'>" % ((c,) + (c - 1,) * 10)
                           for c in range(ord("b"), ord("k")))
                + b"]><methodCall><methodName>scheduler.jobs.validate</methodName><params><param><value><string>&j;"
                  b"</string></value></param></params></methodCall>")
    r = requests.post(lab.server.url + "/RPC2", data=entities, timeout=60, headers={"Content-Type": "text/xml"})
    # Answered (the definition "&j;" is not a job) without expanding a single entity.
    assert r.status_code == 200 and b"<methodResponse>" in r.content and b"lol" not in r.content, r.content[:300]
    assert count_jobs(lab) == before
    alive(lab, rpc)


def test_json_bodies(lab, rpc):
    before = count_jobs(lab)
    headers = {"Authorization": "Token " + lab.tokens["alice"], "Content-Type": "application/json"}
    deep = '{"definition": ' + "[" * DEPTH + "]" * DEPTH + "}"
    r = requests.post(lab.api + "jobs/", data=deep, headers=headers, timeout=60)
    assert r.status_code == 400 and "json_max_depth" in r.json()["detail"], r.text[:300]
    wide = '{"definition": "x", "tags": [' + "1," * 2000000 + "1]}"
    r = requests.post(lab.api + "jobs/", data=wide, headers=headers, timeout=60)
    assert r.status_code == 400 and "json_max_nodes" in r.json()["detail"], r.text[:300]
    r = requests.post(lab.api + "jobs/", data='{"definition": "a\\u0000b"}', headers=headers, timeout=60)
    assert r.status_code == 400, r.text[:300]
    r = requests.post(lab.api + "jobs/", data=b'{"definition": "\xff\xfe"}', headers=headers, timeout=60)
    assert r.status_code == 400, r.text[:300]
    assert count_jobs(lab) == before
    alive(lab, rpc)


@pytest.mark.parametrize("case", sorted(JINJA_CASES))
def test_device_dictionaries(lab, rpc, case):
    text, says = JINJA_CASES[case]
    # Anonymous validation.
    r = lab.post("devices/validate/", data={"device": text})
    assert r.status_code == 200 and r.json()["message"].startswith("Device dictionary invalid:"), r.text[:300]
    assert says in r.json()["message"], r.json()["message"][:300]
    # Stored by an administrator (LAVA stores dictionaries as given), every
    # render of it fails with the limit named.
    r = lab.post("devices/qemu02/dictionary/", "admin", data={"dictionary": text})
    assert r.status_code == 200, r.text[:300]
    r = lab.get("devices/qemu02/dictionary/?render=true", "admin")
    assert r.status_code == 400 and says in r.text, r.text[:300]
    with pytest.raises(xmlrpc.client.Fault) as fault:
        rpc("admin").scheduler.devices.get_dictionary("qemu02", True)
    assert says in fault.value.faultString, fault.value.faultString[:300]
    assert rpc("admin").scheduler.devices.set_dictionary("qemu02", "{% extends 'qemu.jinja2' %}\n")
    alive(lab, rpc)


def test_a_hostile_device_type_template_fails_only_its_renders(lab, rpc):
    """An administrator may store any template text; rendering it then fails
    with the limit named, and the server keeps serving."""
    admin = rpc("admin")
    admin.scheduler.device_types.set_template("empty-type", "{% for i in range(10**12) %}x{% endfor %}")
    lab.manage("devices", "add", "empty01", "--device-type", "empty-type", "--worker", "worker01")
    admin.scheduler.devices.set_dictionary("empty01", "{% extends 'empty-type.jinja2' %}")
    r = lab.get("devices/empty01/dictionary/?render=true", "admin")
    assert r.status_code == 400 and "jinja_max_range" in r.text, r.text[:300]
    with pytest.raises(xmlrpc.client.Fault) as fault:
        admin.scheduler.devices.get_dictionary("empty01", True)
    assert "jinja_max_range" in fault.value.faultString
    alive(lab, rpc)


def test_login_form(lab, rpc):
    root = lab.server.url
    for form in ({"username": "x" * (1 << 20), "password": "p"}, {"username": "a\x00b", "password": "p\x00"},
                 {"username": "[" * DEPTH, "password": "{" * DEPTH}):
        # With the form's CSRF token, so the hostile fields reach the password check.
        s, r = browser_sign_in(root, form["username"], form["password"])
        assert r.status_code == 200 and "sessionid" not in s.cookies, (r.status_code, r.text[:200])
        assert "correct username and password" in r.text
    s, _ = browser_sign_in(root, "nobody", "x")
    body = b"username=%FF%FE&password=%00&csrfmiddlewaretoken=" + s.cookies["csrftoken"].encode()
    r = s.post(root + "/accounts/login/", data=body, allow_redirects=False,
               headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
    assert r.status_code == 200 and "sessionid" not in s.cookies and "correct username" in r.text
    alive(lab, rpc)


# ---------------------------------------------------------------- the worker API

def test_worker_api_log_batches_and_forms(lab, rpc):
    before = count_jobs(lab)
    job_id = lab.submit(OK_JOB)[0]
    psql(lab.env, "UPDATE test_jobs SET state = 2, actual_device = 'qemu01' WHERE id = %d" % job_id)
    token = psql(lab.env, "SELECT token FROM test_jobs WHERE id = %d" % job_id)
    base = lab.server.url + "/scheduler/internal/v1/"
    h = {"LAVA-Token": token}
    ok = '- {"dt": "2023-01-10T10:00:00.000000", "lvl": "target", "msg": "one"}'
    r = requests.post(base + "jobs/%d/logs/" % job_id, data={"lines": ok, "index": 0}, headers=h, timeout=60)
    assert r.status_code == 200, r.text
    batches = [text for text, _ in YAML_CASES.values()] + [laughs(12, 12), "- " + "[" * DEPTH]
    for lines in batches:
        r = requests.post(base + "jobs/%d/logs/" % job_id, data={"lines": lines, "index": 1}, headers=h, timeout=120)
        assert r.status_code == 400 and "Invalid 'lines'" in r.json()["error"], r.text[:300]
    r = requests.post(base + "jobs/%d/logs/" % job_id, data=b"lines=%FF%FE&index=1", timeout=60,
                      headers=dict(h, **{"Content-Type": "application/x-www-form-urlencoded"}))
    assert r.status_code == 400, r.text[:300]
    # Registration and state forms with hostile values.
    for form in ({"name": "x" * (1 << 20)}, {"name": "w\x00x"}, {"name": "[" * DEPTH}):
        r = requests.post(base + "workers/", data=form, timeout=60)
        assert r.status_code in (400, 403), r.text[:300]
    r = requests.post(base + "jobs/%d/" % job_id, data={"state": "x" * (1 << 20), "result": "[" * DEPTH},
                      headers=h, timeout=60)
    assert r.status_code == 400, r.text[:300]
    # Nothing of the refused batches was stored: the log has its one line.
    r = lab.get("jobs/%d/logs/" % job_id, "alice")
    assert r.status_code == 200 and [rec["msg"] for rec in yaml.safe_load(r.text)] == ["one"], r.text[:300]
    assert count_jobs(lab) == before + 1
    alive(lab, rpc)


# ---------------------------------------------------------------- lava-publisher

def ws_frame(opcode, payload, fin=True, length=None):
    """A masked client frame; `length` may lie about the payload's size."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    mask = b"\x01\x02\x03\x04"
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def raw_ws(lab, through_server=False):
    """A WebSocket to lava-publisher: directly, or through lava-server's /ws/ relay."""
    address = lab.server.url[len("http://"):] if through_server else lab.publisher.ws_address
    host, port = address.split(":")
    s = socket.create_connection((host, int(port)), timeout=15)
    s.sendall(b"GET /ws/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    reply = b""
    while b"\r\n\r\n" not in reply:
        chunk = s.recv(4096)
        assert chunk, reply
        reply += chunk
    assert reply.startswith(b"HTTP/1.1 101"), reply
    return s


def send(s, data):
    """Sends what the server takes before it closes the connection."""
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass


def closed_by_server(s, timeout=15):
    """True when the server closes the connection (after a close frame or not)."""
    s.settimeout(timeout)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_publisher_websocket_frames(lab):
    pid = lab.publisher.proc.pid
    # An oversized message (one frame, then fragments that add up), a frame
    # that claims more than it sends, a binary and an invalid UTF-8 text frame.
    s = raw_ws(lab)
    send(s, ws_frame(0x1, b"x" * (2 << 20)))
    assert closed_by_server(s)
    s = raw_ws(lab)
    for i in range(40):
        send(s, ws_frame(0x1 if i == 0 else 0x0, b"y" * (64 << 10), fin=False))
    assert closed_by_server(s)
    s = raw_ws(lab)
    send(s, ws_frame(0x1, b"abc", length=1 << 40)[:20])
    s.close()
    s = raw_ws(lab)
    send(s, ws_frame(0x1, b"\xff\xfe\xfd"))
    assert closed_by_server(s)
    # Through lava-server's relay: the publisher refuses, lava-server keeps serving.
    s = raw_ws(lab, through_server=True)
    send(s, ws_frame(0x1, b"z" * (2 << 20)))
    assert closed_by_server(s)
    assert lab.get("system/version/").status_code == 200
    # Plain HTTP garbage and an endless header on the publisher's port.
    host, port = lab.publisher.ws_address.split(":")
    for data in (b"\x00\xff GARBAGE\r\n\r\n", b"GET /ws/ HTTP/1.1\r\nX-Long: " + b"a" * (1 << 20) + b"\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=15) as s:
            send(s, data)
            assert closed_by_server(s)
    # A client still gets its events.
    ws = websocket.create_connection(lab.publisher.ws_url, timeout=15)
    job_id = lab.submit(OK_JOB)[0]
    wait_for(lambda: json.loads(json.loads(ws.recv())[4]).get("job") == job_id, timeout=15, what="the job's event")
    ws.close()
    assert vm_kb(pid, "VmHWM") < 64 * 1024


def test_publisher_zmq_input(lab):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(lab.publisher.output_url)

    def event(n):
        return [b"org.lavasoftware.test", b"11111111-2222-1333-8444-%012d" % n, b"2023-01-10T10:00:00.000000",
                b"lavaserver", b'{"n": %d}' % n]

    def push(frames):
        s = ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 5000)
        s.connect(lab.publisher.input)
        s.send_multipart(frames)
        s.close()

    # ZMQ's slow joiner: resend the first event until the subscription is through.
    deadline = time.monotonic() + 15
    while not sub.poll(200):
        assert time.monotonic() < deadline, "the publisher forwarded nothing"
        push(event(1))
    while sub.poll(200):
        assert sub.recv_multipart() == event(1)
    hostile = [
        [b"x" * (6 << 20)],                                     # past zmq_max_message_bytes: the peer is dropped
        [b"org.lavasoftware.testjob"] * 1000,                   # 1000 frames
        [b"t", b"u", b"d", b"u", b"not json"],                  # not JSON
        [b"t", b"u", b"d", b"u", b"[" * DEPTH + b"]" * DEPTH],  # past json_max_depth
        [b"t", b"u", b"d", b"u", b"\xff\xfe"],                  # invalid UTF-8
        [b"t"],                                                 # one frame of five
    ]
    for frames in hostile:
        push(frames)
    push(event(2))
    assert sub.poll(15000), "the publisher stopped forwarding"
    assert sub.recv_multipart() == event(2)  # the hostile messages were dropped, not forwarded
    sub.close()
    ctx.term()
    wait_for(lambda: "dropped" in lab.publisher.output(), what="the publisher's warning")
    assert lab.publisher.alive()


def test_peak_memory_stays_bounded(lab, rpc):
    # Runs last in this module: after every barrage above.
    alive(lab, rpc)
    # Measured: ~310 MB for the server (16 MB scalars go through the body,
    # the form or XML decoder and the YAML loader), ~16 MB for the publisher.
    assert vm_kb(lab.server.proc.pid, "VmHWM") < 512 * 1024
    assert vm_kb(lab.publisher.proc.pid, "VmHWM") < 64 * 1024


def test_limits_are_settings(tmp_path):
    """Each limit is a setting (flag, LAVA_* variable, settings file) of the daemons that read outside input."""
    job = tmp_path / "nested.yaml"
    job.write_text("job_name: [[[[1]]]]\n")
    assert lava_server({}, "manage", "validate-job", str(job)).out.count("yaml_max_depth") == 0
    for args, env in ((["--yaml-max-depth", "3"], None), ([], {"LAVA_YAML_MAX_DEPTH": "3"})):
        r = lava_server({}, *args, "manage", "validate-job", str(job), extra_env=env)
        assert r.code == 1 and "collections nested deeper than 3 (yaml_max_depth)" in r.out, (r.out, r.err)
    settings = tmp_path / "settings.yaml"
    settings.write_text("jinja_max_range: 5\n")
    (tmp_path / "devices").mkdir()
    os.symlink(os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "device-types"), tmp_path / "device-types")
    (tmp_path / "devices" / "d.jinja2").write_text("{% extends 'qemu.jinja2' %}{% set x = range(6) %}\n")
    r = lava_server({}, "--settings", str(settings), "manage", "device-dictionary", "render", "d",
                    "--dispatcher-config", str(tmp_path))
    assert r.code == 1 and "range() of more items than 5 (jinja_max_range)" in r.err, (r.out, r.err)
    r = lava_server({}, "--yaml-max-depth", "0", "manage", "validate-job", str(job))
    assert r.code == 2 and "--yaml-max-depth" in r.err and "between 1 and 10000" in r.err


# ---------------------------------------------------------------- lava-run

@pytest.fixture(scope="module")
def device_yaml():
    r = subprocess.run([program("lava-server"), "manage", "device-dictionary", "render", "qemu01",
                        "--dispatcher-config", os.path.join(SOURCE_DIR, "etc", "dispatcher-config"),
                        "--context", "arch=amd64", "--yaml"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


# Runs a program and prints its exit code and peak RSS (kB). A small process
# of its own forks it: Linux counts in a child's ru_maxrss the memory of the
# process it was forked from, and this test process holds the large inputs.
MEASURE = """
import os, sys
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
pid = os.fork()
if pid == 0:
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def run_lava_run(job_text, device_text, tmp):
    """lava-run --validate on the files: exit code, output, peak RSS (kB)."""
    job = os.path.join(tmp, "job.yaml")
    device = os.path.join(tmp, "device.yaml")
    for path, text in ((job, job_text), (device, device_text)):
        with open(path, "w") as f:
            f.write(text)
    output = os.path.join(tmp, "output")
    r = subprocess.run(["/usr/bin/python3", "-c", MEASURE, output, program("lava-run"), "--validate",
                        "--job-id", "1", "--device", device, "--output-dir", os.path.join(tmp, "out"),
                        "--tmp-dir", os.path.join(tmp, "run"), job], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    code, peak_kb = (int(x) for x in r.stdout.split())
    with open(output, errors="replace") as f:
        return code, f.read(), peak_kb


@pytest.mark.parametrize("case", sorted(YAML_CASES))
def test_lava_run_job_files_and_device_configurations(device_yaml, case):
    text, says = YAML_CASES[case]
    tmp = tempfile.mkdtemp(prefix="lava-hostile-")
    try:
        for job_text, device_text in ((text, device_yaml), (OK_JOB, text)):
            code, output, peak_kb = run_lava_run(job_text, device_text, tmp)
            assert code == 1, (code, output[-2000:])  # an error, not a signal
            assert says in output or "invalid" in output.lower(), output[-2000:]
            assert peak_kb < 160 * 1024, peak_kb  # measured: 91 MB for the 16 MB scalar, ~10 MB otherwise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
