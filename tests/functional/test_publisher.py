"""lava-publisher as a real process: events lava-server pushes after each
commit reach every ZMQ subscriber as LAVA's five frames; a subscriber that
does not read never holds up the others; malformed input is dropped without
stopping the fan-out; SIGTERM stops it cleanly; a bad endpoint is a clear
error."""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import uuid

import pytest
import requests
import zmq

from conftest import Publisher, Server, lava_server, program, psql, wait_for


@pytest.fixture(scope="module")
def lab(pg_env):
    name = "lava_pub_" + uuid.uuid4().hex[:10]
    psql(pg_env, 'CREATE DATABASE "%s"' % name)
    env = dict(pg_env, PGDATABASE=name)
    workdir = tempfile.mkdtemp(prefix="lava-pub-")
    publisher = server = None
    try:
        for args in (["migrate"], ["users", "add", "admin", "--superuser"]):
            r = lava_server(env, "manage", *args)
            assert r.code == 0, r.err
        token = lava_server(env, "manage", "tokens", "add", "--user", "admin").out.strip().splitlines()[-1]
        publisher = Publisher(workdir, env)
        server = Server(env, workdir, "--event-socket", publisher.input, "--publisher-url", publisher.output_url)
        yield {"publisher": publisher, "server": server, "token": token, "env": env}
    finally:
        if server:
            server.stop()
        if publisher and publisher.proc.poll() is None:
            publisher.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        psql(pg_env, 'DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)


def subscriber(ctx, url, hwm=100000):
    s = ctx.socket(zmq.SUB)
    s.setsockopt(zmq.RCVHWM, hwm)
    s.connect(url)
    s.setsockopt_string(zmq.SUBSCRIBE, "")
    return s


def add_worker(lab, name):
    r = requests.post(lab["server"].api + "workers/", data={"hostname": name},
                      headers={"Authorization": "Token " + lab["token"]}, timeout=30)
    assert r.status_code == 201, r.text


def subscribed(lab, sockets):
    """Returns once every socket receives events (ZMQ subscriptions take effect asynchronously):
    creates workers until each socket has seen one, then drains them."""
    counter = [0]

    def all_receive():
        counter[0] += 1
        add_worker(lab, "probe-%s-%d" % (uuid.uuid4().hex[:6], counter[0]))
        return all(s.poll(200) for s in sockets)

    wait_for(all_receive, timeout=30, what="the subscriptions to take effect")
    for s in sockets:
        while s.poll(200):
            s.recv_multipart()


def test_events_reach_every_subscriber_as_five_frames(lab):
    ctx = zmq.Context()
    a, b = subscriber(ctx, lab["publisher"].output_url), subscriber(ctx, lab["publisher"].output_url)
    try:
        subscribed(lab, [a, b])
        add_worker(lab, "worker-fanout")
        for s in (a, b):
            assert s.poll(5000)
            topic, ident, dt, user, payload = [f.decode() for f in s.recv_multipart()]
            assert topic == "org.lavasoftware.worker"
            assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", ident)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?", dt)
            assert user == "lavaserver"
            assert json.loads(payload) == {"health": "Active", "hostname": "worker-fanout", "state": "Offline"}
    finally:
        a.close(linger=0)
        b.close(linger=0)
        ctx.term()


def test_clients_learn_the_publisher_address_from_the_server(lab):
    import xmlrpc.client
    url = lab["publisher"].output_url
    assert requests.get(lab["server"].api + "system/master_config/", timeout=30).json()["EVENT_SOCKET"] == url
    rpc = xmlrpc.client.ServerProxy(lab["server"].url + "/RPC2")
    assert rpc.system.master_config()["EVENT_SOCKET"] == url
    assert rpc.scheduler.get_publisher_event_socket() == url


def test_a_subscriber_that_never_reads_holds_up_no_one(lab):
    ctx = zmq.Context()
    reader = subscriber(ctx, lab["publisher"].output_url)
    stuck = subscriber(ctx, lab["publisher"].output_url, hwm=10)
    push = ctx.socket(zmq.PUSH)
    push.connect(lab["publisher"].input)
    try:
        subscribed(lab, [reader, stuck])
        n = 15000  # more than the stuck subscriber can queue (10,000 at the publisher + 10 at its end)
        for i in range(n):
            push.send_multipart([b"org.lavasoftware.test", b"id-%d" % i, b"2026-01-01T00:00:00", b"t",
                                 json.dumps({"n": i}).encode()])
        got = []
        while len(got) < n and reader.poll(5000):
            got.append(json.loads(reader.recv_multipart()[4])["n"])
        assert got == list(range(n))
    finally:
        for s in (reader, stuck, push):
            s.close(linger=0)
        ctx.term()


def test_malformed_messages_are_dropped_and_the_fan_out_goes_on(lab):
    ctx = zmq.Context()
    reader = subscriber(ctx, lab["publisher"].output_url)
    push = ctx.socket(zmq.PUSH)
    push.connect(lab["publisher"].input)
    try:
        subscribed(lab, [reader])
        push.send_multipart([b"only", b"three", b"frames"])
        push.send_multipart([b"org.lavasoftware.test", b"x", b"2026-01-01T00:00:00", b"t", b"{}"])
        assert reader.poll(5000)
        assert reader.recv_multipart()[0] == b"org.lavasoftware.test"
        wait_for(lambda: "dropped a message of 3 frames" in lab["publisher"].output(), what="the drop to be logged")
    finally:
        reader.close(linger=0)
        push.close(linger=0)
        ctx.term()


def test_a_bad_endpoint_is_a_clear_error(tmp_path):
    r = subprocess.run([program("lava-publisher"), "--event-socket", "ipc://" + str(tmp_path / "in"),
                        "--publish-socket", "tcp://256.1.1.1:5"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "cannot bind the publish socket tcp://256.1.1.1:5" in r.stderr, r.stderr


def test_sigterm_stops_it_cleanly(lab):
    publisher = lab["publisher"]
    assert publisher.stop() == 0
    assert re.search(r"lava-publisher stopped \(\d+ events forwarded\)", publisher.output())
