"""lava-coordinator as a real process, over TCP: LAVA 2023.01's exact reply
bytes for every golden sequence of proto/coordinator/sequences (and the same
sequences against LAVA's own coordinator, which proves the goldens are
LAVA's); many groups at once; malformed and silent connections; and LAVA's
own client code (lava_dispatcher's MultinodeProtocol) driving it."""

import errno
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import threading
import time
import urllib.request

import jsonschema
import pytest

from conftest import SOURCE_DIR, Daemon, missing_reference, program, wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import coordinator_sequences as cs  # noqa: E402

CLIENT_TIMEOUT_S = 2
MAX_MESSAGE_BYTES = 4096


class Coordinator(Daemon):
    """The built lava-coordinator on a free port, with LAVA's JSON settings
    file (plus ours) and /metrics on another free port."""

    def __init__(self, workdir, **settings):
        config = {"port": 0, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "localhost",
                  "bind": "127.0.0.1", "client_timeout_s": CLIENT_TIMEOUT_S,
                  "max_message_bytes": MAX_MESSAGE_BYTES}
        config.update(settings)
        path = os.path.join(workdir, "lava-coordinator.conf")
        with open(path, "w") as f:
            json.dump(config, f)
        self.start(os.path.join(workdir, "lava-coordinator.log"),
                   [program("lava-coordinator"), "--config", path, "--logfile", "-", "--loglevel", "INFO",
                    "--metrics-port", "0"], None)

        def started():
            assert self.alive(), self.output()
            port = re.search(r"lava-coordinator \S+ listening on [0-9.]+:([0-9]+)", self.output())
            metrics = re.search(r"metrics on (http://[0-9.]+:[0-9]+/metrics)", self.output())
            return port and metrics and (int(port.group(1)), metrics.group(1))

        self.port, self.metrics_url = wait_for(started, what="lava-coordinator to listen")

    def metrics(self):
        """{(name, ((label, value), ...)): value} from /metrics."""
        text = urllib.request.urlopen(self.metrics_url, timeout=10).read().decode()
        out = {}
        for line in text.splitlines():
            m = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
            if m:
                labels = tuple(sorted(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or "")))
                out[(m.group(1), labels)] = float(m.group(3))
        return out

    def metric(self, name, **labels):
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def coordinator():
    workdir = tempfile.mkdtemp(prefix="lava-coordinator-")
    daemon = Coordinator(workdir)
    try:
        yield daemon
    finally:
        alive = daemon.alive()
        code = daemon.stop()
        output = daemon.output()
        shutil.rmtree(workdir, ignore_errors=True)
    assert alive, output
    assert code == 0, output


def sequences():
    return [cs.load(path) for path in cs.sequence_files()]


def raw_exchange(port, data, half_close=True, timeout=10.0):
    """Sends `data`; returns what came back before the coordinator closed
    (b"" when it closed without a reply, or reset the connection)."""
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except OSError as e:
            if e.errno != errno.ENOTCONN:  # closed by the coordinator before our shutdown()
                raise
    return b"".join(chunks)


def request(port, message):
    """One request as LAVA's client sends it; the reply's JSON (None: no reply)."""
    got = cs.exchange("127.0.0.1", port, cs.frame(json.dumps(message).encode()))
    if not got:
        return None
    assert int(got[:8], 16) == len(got) - 8, got
    return json.loads(got[8:])


def base(client, group, role="node"):
    message = dict(cs.BASE_SETTINGS)
    message.update({"hostname": "worker-" + client, "client_name": client, "group_name": group, "role": role})
    return message


# ---- (a) and (b): the golden sequences --------------------------------------


def test_golden_replies_are_frames_of_the_reply_schema():
    with open(os.path.join(SOURCE_DIR, "proto", "coordinator", "reply.schema.json")) as f:
        validator = jsonschema.Draft202012Validator(json.load(f))
    seqs = sequences()
    assert len(seqs) >= 10
    closed = 0
    for seq in seqs:
        assert seq["clients"] and seq["steps"], seq["description"]
        for step in seq["steps"]:
            assert step["client"] in seq["clients"]
            if step["reply"] is None:
                closed += 1
                continue
            raw = step["reply"].encode("utf-8")
            assert re.match(rb"^[0-9A-F]{8}", raw) and int(raw[:8], 16) == len(raw) - 8, step
            assert raw.isascii(), step  # json.dumps writes ASCII only
            errors = list(validator.iter_errors(json.loads(raw[8:])))
            assert not errors, (step, str(errors[0]))
    assert closed >= 1  # "complete"


def test_golden_sequences_give_lavas_exact_bytes(coordinator):
    for seq in sequences():
        problems = cs.mismatches(seq, cs.run_sequence("127.0.0.1", coordinator.port, seq))
        assert not problems, (seq["group_name"], problems)
    # Groups are independent: each sequence again, in a new group, gives the same bytes.
    for seq in sequences():
        replies = cs.run_sequence("127.0.0.1", coordinator.port, seq, "again-" + seq["group_name"])
        problems = cs.mismatches(seq, replies)
        assert not problems, (seq["group_name"], problems)
    assert coordinator.metric("lava_coordinator_requests_total", request="complete", response="") == 2
    assert coordinator.metric("lava_coordinator_requests_total", request="other", response="nack") >= 4


def test_golden_sequences_are_lavas_own():
    root = os.environ.get("LAVA_REFERENCE_DIR", "")
    if not os.path.exists(os.path.join(root, "usr", "bin", "lava-coordinator")):
        missing_reference("LAVA's lava-coordinator is not unpacked in LAVA_REFERENCE_DIR (tools/fetch-lava-reference)")
    with cs.LavaCoordinator(root) as lava:
        for seq in sequences():
            problems = cs.mismatches(seq, cs.run_sequence("127.0.0.1", lava.port, seq))
            assert lava.alive(), lava.output()[-3000:]
            assert not problems, (seq["group_name"], problems)


# ---- (c): many groups at once ----------------------------------------------------


def poll(port, message, until, deadline):
    """LAVA's client loop (with a short poll delay): repeats `message` while
    the reply is wait; returns the first other reply."""
    while True:
        reply = request(port, message)
        assert reply is not None, message
        if reply["response"] != "wait":
            assert reply["response"] in until, (message, reply)
            return reply
        assert time.monotonic() < deadline, ("still waiting", message)
        time.sleep(0.02)


def test_64_clients_in_16_groups_at_once(coordinator):
    groups, size = 16, 4
    errors = []
    deadline = time.monotonic() + 120

    def node(g, i):
        try:
            group = "group-%02d" % g
            client = "%d" % (1000 * (g + 1) + i)
            role = "server" if i == 0 else "client"
            me = base(client, group, role)
            reply = poll(coordinator.port, dict(me, request="group_data", group_size=size), {"group_data"}, deadline)
            assert len(reply["roles"]) == size and reply["roles"][client] == role, reply
            assert request(coordinator.port, dict(me, request="lava_send", messageID="hello",
                                                  message={"n": i, "group": group})) == {"response": "ack"}
            reply = poll(coordinator.port, dict(me, request="lava_wait_all", messageID="hello"), {"ack"}, deadline)
            assert sorted(m["n"] for m in reply["message"].values()) == list(range(size)), reply
            assert {m["group"] for m in reply["message"].values()} == {group}, reply
            reply = poll(coordinator.port, dict(me, request="lava_sync", messageID="done"), {"ack"}, deadline)
            assert reply == {"response": "ack", "message": "done"}
            synced.wait(timeout=120)
            clear.wait(timeout=120)
            assert request(coordinator.port, dict(me, request="clear_group", group_size=size)) == {"response": "ack"}
        except BaseException as e:  # noqa: B902 (reported by the main thread)
            errors.append("%s/%s: %r" % (g, i, e))
            synced.abort()

    n = groups * size
    synced = threading.Barrier(n + 1)  # every node has synced: all groups are complete
    clear = threading.Event()
    threads = [threading.Thread(target=node, args=(g, i)) for g in range(groups) for i in range(size)]
    for t in threads:
        t.start()
    try:
        synced.wait(timeout=120)
        # The gauges (updated once a second) count every group and node...
        wait_for(lambda: coordinator.metric("lava_coordinator_groups") == groups
                 and coordinator.metric("lava_coordinator_clients") == n, timeout=10, what="16 groups, 64 nodes")
    except threading.BrokenBarrierError:
        pass  # a node failed: reported below
    finally:
        clear.set()
    for t in threads:
        t.join(timeout=150)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
    for name in ("lava_send", "clear_group"):
        assert coordinator.metric("lava_coordinator_requests_total", request=name, response="ack") == n
    assert coordinator.metric("lava_coordinator_requests_total", request="group_data", response="group_data") == n
    assert coordinator.metric("lava_coordinator_requests_total", request="lava_sync", response="ack") == n
    # ...and return to 0 once every group has cleared itself.
    wait_for(lambda: coordinator.metric("lava_coordinator_groups") == 0
             and coordinator.metric("lava_coordinator_clients") == 0, timeout=10, what="no groups left")
    drops = [k for k, v in coordinator.metrics().items() if k[0] == "lava_coordinator_connections_dropped_total" and v]
    assert not drops, drops


# ---- (d) and (e): malformed and silent connections --------------------------------


def dropped(coordinator, reason):
    return coordinator.metric("lava_coordinator_connections_dropped_total", reason=reason)


def test_malformed_frames_are_closed_and_others_still_served(coordinator):
    port = coordinator.port
    good = cs.frame(json.dumps(dict(base("1", "g"), request="group_data", group_size=2)).encode())
    cases = [
        # (bytes, half-close, reply expected, dropped reason)
        (b"zzzzzzzz" + b"{}", True, b"", "bad_header"),
        (b'{"request": "group_data"}', True, b"", "bad_header"),
        (cs.frame(b"{not json"), True, b"", "bad_json"),
        (cs.frame(b""), True, b"", "bad_json"),
        (cs.frame(b'{"request": "lava_send", "message": "caf\xe9"}'), True, b"", "bad_json"),  # not UTF-8
        (b"00000064" + good[8:18], True, b"", "closed"),  # 100 bytes announced, 10 sent, then EOF
        (b"0000000", True, b"", "closed"),  # half a header, then EOF
        (b"%08X" % (MAX_MESSAGE_BYTES + 1), False, b"", "too_large"),  # closed without reading on
        (b"FFFFFFFF", False, b"", "too_large"),
        (cs.frame(b'["request", "group_data"]'), True, b'00000014{"response": "nack"}', None),
        (cs.frame(b'"request"'), True, b'00000014{"response": "nack"}', None),
        (cs.frame(b"42"), True, b'00000014{"response": "nack"}', None),
        (cs.frame(b"null"), True, b'00000014{"response": "nack"}', None),
    ]
    for data, half_close, expected, reason in cases:
        before = dropped(coordinator, reason) if reason else None
        got = raw_exchange(port, data, half_close=half_close)
        assert got == expected, (data[:40], got)
        if reason:
            wait_for(lambda: dropped(coordinator, reason) == before + 1, timeout=5, what="dropped{%s}" % reason)
        # ...and a well-formed request right after is answered.
        assert raw_exchange(port, good) == b'00000014{"response": "wait"}'
    assert coordinator.alive()
    # Non-objects get nack, counted under request "other".
    assert coordinator.metric("lava_coordinator_requests_total", request="other", response="nack") == 4


def test_silent_clients_delay_nobody_and_are_closed_after_client_timeout(coordinator):
    port = coordinator.port
    before = dropped(coordinator, "timeout")
    silent = socket.create_connection(("127.0.0.1", port), timeout=15)
    half = socket.create_connection(("127.0.0.1", port), timeout=15)
    half.sendall(b"0000")
    opened = time.monotonic()
    try:
        # While both hold a connection, a whole sequence is answered at once
        # (LAVA's own coordinator would wait for them: it serves one connection at a time).
        seq = cs.load(cs.sequence_files()[0])
        start = time.monotonic()
        problems = cs.mismatches(seq, cs.run_sequence("127.0.0.1", port, seq, "beside-silent-clients"))
        took = time.monotonic() - start
        assert not problems, problems
        assert took < CLIENT_TIMEOUT_S / 2, took
        # Then each is closed, without a reply, about client_timeout_s after it connected.
        for s in (silent, half):
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
        closed_after = time.monotonic() - opened
        assert CLIENT_TIMEOUT_S - 0.5 <= closed_after <= CLIENT_TIMEOUT_S + 3, closed_after
    finally:
        silent.close()
        half.close()
    wait_for(lambda: dropped(coordinator, "timeout") == before + 2, timeout=5, what="dropped{timeout} + 2")


# ---- (f): LAVA's own client ---------------------------------------------------------


@pytest.fixture
def lava_client_module():
    root = os.environ.get("LAVA_REFERENCE_DIR", "")
    packages = os.path.join(root, "usr", "lib", "python3", "dist-packages")
    if not os.path.exists(os.path.join(packages, "lava_dispatcher", "protocols", "multinode.py")):
        missing_reference("LAVA's lava-dispatcher is not unpacked in LAVA_REFERENCE_DIR (tools/fetch-lava-reference)")
    sys.path.insert(0, packages)
    try:
        from lava_dispatcher.protocols import multinode
        yield multinode
    finally:
        sys.path.remove(packages)


def lava_protocol(multinode, port, group, job_id, role, sub_id, **extra):
    """A MultinodeProtocol as lava-run builds one for a sub-job, set up as
    its set_up() does, but with our coordinator's port instead of
    /etc/lava-coordinator/lava-coordinator.conf's."""
    params = {"target_group": group, "role": role, "group_size": 2, "sub_id": sub_id,
              "roles": {"1001": "server", "1002": "client"}}
    params.update(extra)
    protocol = multinode.MultinodeProtocol({"protocols": {"lava-multinode": params}}, job_id)
    protocol.settings = {"port": port, "blocksize": 4096, "poll_delay": 1, "coordinator_hostname": "127.0.0.1"}
    protocol.base_message = {
        "port": port, "blocksize": 4096, "poll_delay": 1, "host": "127.0.0.1",
        "hostname": socket.gethostname(), "client_name": job_id, "group_name": group, "role": role,
    }
    return protocol


def in_threads(*calls):
    """Runs each function in its own thread; returns their results in order."""
    results = [None] * len(calls)
    errors = []

    def run(i, fn):
        try:
            results[i] = fn()
        except BaseException as e:  # noqa: B902 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
    return results


def test_lava_2023_01_multinode_client(coordinator, lava_client_module):
    group = "lava-client-group"
    server = lava_protocol(lava_client_module, coordinator.port, group, "1001", "server", 0)
    # The client role's delayed start, as in a job with request: lava-start, expect_role: server.
    client = lava_protocol(lava_client_module, coordinator.port, group, "1002", "client", 1,
                           request="lava-start", expect_role="server")
    assert client.delayed_start

    # Both start at once; initialise_group() polls group_data until the
    # group is complete (it returns nothing).
    def client_start():
        client.initialise_group()
        # set_up()'s delayed start: wait for the server role's lava_start.
        return json.loads(client._send({"request": "lava_wait_all", "waitrole": "server",
                                        "messageID": "lava_start"}, True))

    def server_start():
        server.initialise_group()
        # Booted: the server role sends lava_start (a protocol action in its job).
        return server({"request": "lava-send", "messageID": "lava_start", "message": {}})

    started, sent = in_threads(client_start, server_start)
    assert sent == "ack"
    assert started == {"response": "ack", "message": {"1001": {}}}
    assert coordinator.metric("lava_coordinator_requests_total", request="group_data", response="group_data") == 2
    assert request(coordinator.port, dict(base("1001", group, "server"), request="group_data", group_size=2)) == \
        {"response": "group_data", "roles": {"1001": "server", "1002": "client"}}

    # lava-send / lava-wait: the client waits (polls) until the server has sent.
    waits_before = coordinator.metric("lava_coordinator_requests_total", request="lava_wait", response="wait")

    def client_wait():
        return client({"request": "lava-wait", "messageID": "ready"})

    def server_send():
        wait_for(lambda: coordinator.metric("lava_coordinator_requests_total", request="lava_wait",
                                            response="wait") > waits_before, what="the client to wait")
        return server({"request": "lava-send", "messageID": "ready", "message": {"ipaddr": "10.0.0.1"}})

    got, sent = in_threads(client_wait, server_send)
    assert sent == "ack"
    assert got == {"1001": {"ipaddr": "10.0.0.1"}}

    # lava-wait-all: the server waits (polls) for everyone, the client, once
    # it has sent too, for the server role.
    waits_before = coordinator.metric("lava_coordinator_requests_total", request="lava_wait_all", response="wait")

    def server_wait_all():
        assert server({"request": "lava-send", "messageID": "done", "message": {"result": "pass"}}) == "ack"
        return server({"request": "lava-wait-all", "messageID": "done"})

    def client_wait_all():
        wait_for(lambda: coordinator.metric("lava_coordinator_requests_total", request="lava_wait_all",
                                            response="wait") > waits_before, what="the server to wait")
        # Not a dict: LAVA's client sends {"finished": None}.
        assert client({"request": "lava-send", "messageID": "done", "message": "finished"}) == "ack"
        return client({"request": "lava-wait-all", "messageID": "done", "role": "server"})

    everyone = {"1001": {"result": "pass"}, "1002": {"finished": None}}
    assert in_threads(server_wait_all, client_wait_all) == [everyone, everyone]
    # lava-sync from both at once.
    assert in_threads(lambda: server({"request": "lava-sync", "messageID": "end"}),
                      lambda: client({"request": "lava-sync", "messageID": "end"})) == ["end", "end"]
    # The job's end: clear_group from both forgets the group.
    in_threads(server.finalise_protocol, client.finalise_protocol)
    assert request(coordinator.port, dict(base("1001", group), request="lava_wait", messageID="ready")) == \
        {"response": "nack"}
