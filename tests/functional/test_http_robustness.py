"""Bad input never kills lava-server: malformed requests, truncated bodies,
oversized bodies, invalid UTF-8, unknown routes, SQL metacharacters. After
the barrage the daemon answers normally and shuts down cleanly."""

import socket
import uuid

import pytest
import requests

from conftest import rest_lab, wait_for


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


def raw(lab, data, read=True, timeout=10):
    """Sends bytes on a fresh connection; returns what came back (maybe nothing)."""
    host, port = lab.server.url[len("http://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close on a bad request before all of it is sent
        if not read:
            return b""
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server already answered and closed: read what it sent
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else None


def test_malformed_requests_get_400_or_a_closed_connection(lab):
    for data in [b"GARBAGE\r\n\r\n", b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                 b"GET /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
                 b"GET /api/v0.2/jobs/ HTTP/1.1\r\n" + b"X-Long: " + b"a" * 100000 + b"\r\n\r\n",
                 b"POST /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                 b"POST /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 b"\x00\x01\x02\xff" * 100]:
        reply = raw(lab, data)
        assert reply == b"" or status_of(reply) in (400, 413, 431), (data[:40], reply[:80])
    assert lab.get("system/version/").status_code == 200


def test_truncated_bodies_and_idle_clients(lab):
    # The body never arrives in full; the client goes away.
    raw(lab, b"POST /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial", read=False)
    raw(lab, b"POST /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\npartial")
    raw(lab, b"GET /api/v0.2/jobs/ HTTP/1.1\r\nHost: x\r\n", read=False)  # headers never end
    assert lab.get("system/version/").status_code == 200


def test_a_10_mb_body(lab):
    big = "x" * (10 * 1024 * 1024)
    r = lab.post("jobs/", "alice", data={"definition": "job_name: " + big})
    assert r.status_code == 400 and r.json()["message"].startswith("Problem with submitted job data")
    r = requests.post(lab.api + "jobs/validate/", data=big.encode(), timeout=60,
                      headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 400
    assert lab.get("system/version/").status_code == 200


def test_invalid_utf8_everywhere(lab):
    bad = b"\xff\xfe\xc3\x28"
    r = requests.post(lab.api + "jobs/", data=b"definition=" + bad, headers=dict(
        lab.headers("alice"), **{"Content-Type": "application/x-www-form-urlencoded"}), timeout=30)
    assert r.status_code == 400
    r = requests.post(lab.api + "jobs/", data=b'{"definition": "' + bad + b'"}', headers=dict(
        lab.headers("alice"), **{"Content-Type": "application/json"}), timeout=30)
    assert r.status_code == 400
    reply = raw(lab, b"GET /api/v0.2/jobs/?description=" + bad + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(reply) == 200
    reply = raw(lab, b"GET /api/v0.2/" + bad + b"/ HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(reply) == 404
    r = requests.get(lab.api + "jobs/", headers={"Authorization": "Token \xe9\xff"}, timeout=30)
    assert r.status_code == 403
    assert lab.get("system/version/").status_code == 200


def test_unknown_routes_and_sql_metacharacters(lab):
    for path in ["../../etc/passwd", "jobs/1/../../", "%2e%2e/", "jobs/%00/", "devices/%27%20OR%201=1/",
                 "jobs/99999999999999999999999/", "workers/;DROP TABLE workers;/"]:
        r = requests.get(lab.api + path, timeout=30)
        assert r.status_code in (400, 404), (path, r.status_code)
    for value in ["'; DROP TABLE test_jobs; --", "\\", "%", "_", "\x00"]:
        for param in ["description", "description__icontains", "submitter__username__in", "id__in", "ordering"]:
            r = lab.get("jobs/", params={param: value})
            assert r.status_code in (200, 400), (param, value, r.status_code)
        r = lab.get("devices/", params={"hostname__contains": value})
        assert r.status_code == 200
    assert lab.get("jobs/", "admin").status_code == 200
    assert lab.get("devices/").json()["count"] >= 1


def test_many_connections_at_once(lab):
    socks = []
    host, port = lab.server.url[len("http://"):].split(":")
    for _ in range(200):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(b"GET /api/v0.2/system/version/ HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    assert lab.get("system/version/").status_code == 200
    for s in socks:
        s.close()


def test_still_serving_after_the_barrage(lab):
    tag = uuid.uuid4().hex[:8]
    r = lab.post("jobs/", "alice", data={"definition": (
        "job_name: after-%s\ndevice_type: qemu\nvisibility: public\ntimeouts: {job: {minutes: 5}}\n"
        "actions:\n- boot: {method: qemu, media: tmpfs, prompts: ['# ']}\n") % tag})
    assert r.status_code == 201, r.text
    assert wait_for(lambda: lab.get("jobs/?description=after-" + tag).json()["count"] == 1, what="the job")
    assert lab.server.alive()
