"""lava-publisher's WebSocket side as real processes (lava-server, lava-publisher,
PostgreSQL): each client gets the events of what it may see (anonymous:
public objects; a user: what that user may view; a worker: its own jobs),
bad credentials get an error then the close, a client that does not read is
disconnected without holding up the others, SIGTERM closes every client."""

import base64
import json
import threading

import pytest
import requests
import websocket
import zmq

from conftest import psql, rest_lab, wait_for
from test_rest_jobs import job

QUEUE_LIMIT = 100


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env, publisher_args=["--websocket-queue-limit", str(QUEUE_LIMIT)])


def basic(user, token):
    return "Authorization: Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()


def connect(lab, *headers):
    return websocket.create_connection(lab.publisher.ws_url, header=list(headers), timeout=15)


def events(ws, until):
    """The events `ws` receives, decoded, up to the first for which until(topic, payload) holds."""
    out = []
    while True:
        frames = json.loads(ws.recv())
        assert isinstance(frames, list) and len(frames) == 5 and all(isinstance(f, str) for f in frames)
        topic, payload = frames[0], json.loads(frames[4])
        out.append((topic, payload))
        if until(topic, payload):
            return out


def job_ids(received):
    return [p["job"] for t, p in received if t == "org.lavasoftware.testjob"]


def close_of(ws):
    """Reads to the close frame; returns (code, reason), or None when the connection just ended."""
    try:
        while True:
            opcode, data = ws.recv_data(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                return code, data[2:].decode(errors="replace")
    except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
        return None


def test_health_and_plain_http(lab):
    r = requests.get(lab.publisher.http_url + "/ws/v1/healthz", timeout=10)
    assert r.status_code == 200 and r.json() == {"health": "good"}
    r = requests.get(lab.publisher.http_url + "/ws/", timeout=10)
    assert r.status_code == 426 and "WebSocket" in r.json()["error"]
    assert requests.get(lab.publisher.http_url + "/elsewhere", timeout=10).status_code == 404


def test_anonymous_clients_get_public_objects_only(lab):
    ws = connect(lab)
    try:
        secret = lab.submit(job("secret", visibility="personal"))[0]
        hidden_type = lab.submit(job("team-only", device_type="secret-type"), user="bob")[0]
        public = lab.submit(job("open"))[0]
        received = events(ws, lambda t, p: p.get("job") == public)
        assert secret not in job_ids(received) and hidden_type not in job_ids(received)
        topic, payload = received[-1]
        assert payload["state"] == "Submitted" and payload["submitter"] == "alice"
        assert payload["description"] == "open"
    finally:
        ws.close()


def test_users_get_what_they_may_view(lab):
    clients = {user: connect(lab, basic(user, lab.tokens[user])) for user in ("alice", "bob", "carol", "admin")}
    try:
        personal = lab.submit(job("mine", visibility="personal"))[0]
        team = lab.submit(job("team", visibility="{group: [team]}"))[0]
        marker = lab.submit(job("marker"))[0]
        seen = {user: job_ids(events(ws, lambda t, p: p.get("job") == marker)) for user, ws in clients.items()}
        assert personal in seen["alice"] and team in seen["alice"]  # the submitter sees her jobs
        assert personal not in seen["bob"] and team in seen["bob"]  # bob is in team
        assert personal not in seen["carol"] and team not in seen["carol"]
        assert personal in seen["admin"] and team in seen["admin"]  # a superuser sees all
    finally:
        for ws in clients.values():
            ws.close()


def schedule_and_run(lab, job_id, device):
    """What lava-scheduler and the device's worker do: Scheduled on `device`, then Running."""
    psql(lab.env, "UPDATE test_jobs SET state = 2, actual_device = '%s' WHERE id = %d" % (device, job_id))
    psql(lab.env, "UPDATE devices SET state = 1 WHERE hostname = '%s'" % device)
    token = psql(lab.env, "SELECT token FROM test_jobs WHERE id = %d" % job_id)
    url = lab.server.url + "/scheduler/internal/v1/jobs/%d/" % job_id
    r = requests.post(url, data={"state": "RUNNING"}, headers={"LAVA-Token": token}, timeout=30)
    assert r.status_code == 200, r.text


def test_a_worker_gets_only_the_events_of_its_jobs(lab):
    lab.manage("workers", "add", "worker02")
    lab.manage("devices", "add", "qemu03", "--device-type", "qemu", "--worker", "worker02")
    token = psql(lab.env, "SELECT token FROM workers WHERE hostname = 'worker01'")
    ws = connect(lab, "LAVA-Token: " + token, "LAVA-Host: worker01")
    try:
        elsewhere = lab.submit(job("elsewhere"))[0]
        schedule_and_run(lab, elsewhere, "qemu03")
        private = lab.submit(job("here", visibility="personal"))[0]
        schedule_and_run(lab, private, "qemu01")
        received = events(ws, lambda t, p: p.get("job") == private)
        # Nothing but its own job's testjob event: no submissions, devices, other workers' jobs.
        assert received == [("org.lavasoftware.testjob", received[0][1])]
        assert received[0][1]["worker"] == "worker01" and received[0][1]["state"] == "Running"
    finally:
        ws.close()


@pytest.mark.parametrize("headers,error", [
    ([basic("alice", "not-her-token")], "Invalid token for user 'alice'"),
    (["Authorization: Token abc"], "only Basic"),
    (["LAVA-Token: nope", "LAVA-Host: worker01"], "Invalid token for worker 'worker01'"),
    (["LAVA-Host: worker01"], "both LAVA-Host and LAVA-Token"),
])
def test_bad_credentials_get_an_error_then_the_close(lab, headers, error):
    ws = connect(lab, *headers)
    message = json.loads(ws.recv())
    assert error in message["error"]
    assert close_of(ws)[0] == 1008


def test_a_client_that_does_not_read_is_dropped_and_holds_up_no_one(lab):
    """Big events fill the stuck client's socket buffers, then its queue
    (QUEUE_LIMIT); it is disconnected while the reading client gets every event."""
    reader, stuck = connect(lab), connect(lab)
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(lab.publisher.input)
    padding = "x" * 65536
    try:
        total = 0
        for batch in range(8):
            for i in range(QUEUE_LIMIT):
                push.send_multipart([b"org.lavasoftware.worker", b"id", b"2026-01-01T00:00:00", b"lavaserver",
                                     json.dumps({"hostname": "w", "n": total, "pad": padding}).encode()])
                total += 1
            last = total - 1
            got = events(reader, lambda t, p: p.get("n") == last)
            assert [p["n"] for t, p in got] == list(range(last - QUEUE_LIMIT + 1, last + 1))
        wait_for(lambda: "messages waiting (queue limit)" in lab.publisher.output(),
                 what="the stuck client to be disconnected")
        stuck.settimeout(30)
        received = 0
        try:
            while True:
                opcode, data = stuck.recv_data(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    assert int.from_bytes(data[:2], "big") == 1008 and b"too slow" in data[2:]
                    break
                received += 1
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            pass  # it read too late for the close frame: the connection was cut
        assert received < total
    finally:
        push.close(linger=0)
        ctx.term()
        reader.close()
        stuck.close()


def test_zmq_and_websocket_clients_get_the_same_event(lab):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.connect(lab.publisher.output_url)
    sub.setsockopt_string(zmq.SUBSCRIBE, "org.lavasoftware.testjob")
    ws = connect(lab)
    try:
        # A ZMQ subscription takes effect asynchronously: submit until it sees one.
        wait_for(lambda: lab.submit(job("probe")) and sub.poll(300), what="the ZMQ subscription")
        while sub.poll(300):
            sub.recv_multipart()
        public = lab.submit(job("both"))[0]
        from_ws = json.loads(ws.recv())
        while json.loads(from_ws[4])["job"] != public:
            from_ws = json.loads(ws.recv())
        assert sub.poll(5000)
        from_zmq = [f.decode() for f in sub.recv_multipart()]
        while json.loads(from_zmq[4])["job"] != public:
            assert sub.poll(5000)
            from_zmq = [f.decode() for f in sub.recv_multipart()]
        assert from_ws == from_zmq
    finally:
        sub.close(linger=0)
        ctx.term()
        ws.close()


def test_sigterm_closes_every_client(lab):
    clients = [connect(lab) for _ in range(3)]
    closes = [None] * len(clients)

    def read(i):
        closes[i] = close_of(clients[i])

    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(clients))]
    for t in readers:
        t.start()
    assert lab.publisher.stop() == 0
    for t in readers:
        t.join(timeout=30)
    assert all(c is not None and c[0] == 1001 for c in closes), closes
