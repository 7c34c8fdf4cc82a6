"""lava-scheduler with lava-server, lava-publisher and PostgreSQL as real
processes: a job submitted over REST reaches WebSocket and ZMQ clients as
Submitted, then Scheduled with its device and worker, the Scheduled event
only after the commit (the API agrees when the client reads back); private
jobs' events stay with those allowed to see them; a waiting job says why;
killing the active scheduler hands over to the standby."""

import base64
import json
import signal

import pytest
import requests
import websocket
import zmq

from conftest import Scheduler, psql, rest_lab, wait_for
from test_rest_jobs import job

TESTJOB = "org.lavasoftware.testjob"


@pytest.fixture(scope="module")
def lab(pg_env):
    for lab in rest_lab(pg_env, publisher_args=[]):
        workdir = lab.server.dispatcher_config.rsplit("/", 1)[0]
        psql(lab.env, "UPDATE devices SET health = 0")  # Good (new devices are in Maintenance)
        lab.schedulers = [Scheduler(workdir, lab.env, lab.publisher, "scheduler-a", "--worker-timeout-s", "3600")]
        lab.workdir = workdir
        worker_online(lab)
        try:
            yield lab
        finally:
            for s in lab.schedulers:
                if s.proc.poll() is None:  # the ones still running stop cleanly
                    assert s.stop() == 0, s.output()


def worker_online(lab):
    token = psql(lab.env, "SELECT token FROM workers WHERE hostname = 'worker01'")
    r = requests.get(lab.server.url + "/scheduler/internal/v1/workers/worker01/", params={"version": "2023.01"},
                     headers={"LAVA-Token": token}, timeout=30)
    assert r.status_code == 200, r.text
    return token


@pytest.fixture(autouse=True)
def free_devices(lab):
    """Each test starts with every device Idle and no job holding one."""
    yield
    psql(lab.env, "UPDATE test_jobs SET state = 5, health = 3, end_time = now() WHERE state IN (0, 1, 2, 3, 4);"
                  "UPDATE devices SET state = 0")


def ws_client(lab, *headers):
    return websocket.create_connection(lab.publisher.ws_url, header=list(headers), timeout=15)


def job_states(ws, job_id, until_state):
    """The states of `job_id` the client sees, up to `until_state`."""
    states = []
    while not states or states[-1]["state"] != until_state:
        topic, _, _, _, payload = json.loads(ws.recv())
        payload = json.loads(payload)
        if topic == TESTJOB and payload["job"] == job_id:
            states.append(payload)
    return states


def test_submitted_then_scheduled_on_websocket_and_zmq(lab):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.connect(lab.publisher.output_url)
    sub.setsockopt_string(zmq.SUBSCRIBE, TESTJOB)
    ws = ws_client(lab)
    try:
        wait_for(lambda: lab.submit(job("probe")) and sub.poll(300), what="the ZMQ subscription")
        while sub.poll(500):
            sub.recv_multipart()
        psql(lab.env, "UPDATE test_jobs SET state = 5, health = 3, end_time = now() WHERE state IN (0, 2);"
                      "UPDATE devices SET state = 0")
        job_id = lab.submit(job("scheduled"))[0]
        seen = job_states(ws, job_id, "Scheduled")
        assert [s["state"] for s in seen] == ["Submitted", "Scheduled"]
        scheduled = seen[-1]
        assert scheduled["device"] in ("qemu01", "qemu02") and scheduled["worker"] == "worker01"
        # Sent after the commit: what the API says agrees with it.
        detail = lab.get("jobs/%d/" % job_id, "alice").json()
        assert (detail["state"], detail["actual_device"]) == ("Scheduled", scheduled["device"])
        zmq_states = []
        while "Scheduled" not in zmq_states:
            assert sub.poll(10000)
            frames = [f.decode() for f in sub.recv_multipart()]
            payload = json.loads(frames[4])
            if payload["job"] == job_id:
                zmq_states.append(payload["state"])
        assert zmq_states == ["Submitted", "Scheduled"]
    finally:
        sub.close(linger=0)
        ctx.term()
        ws.close()


def test_private_jobs_events_reach_only_who_may_see_them(lab):
    basic = "Authorization: Basic " + base64.b64encode(("alice:" + lab.tokens["alice"]).encode()).decode()
    anonymous, alice = ws_client(lab), ws_client(lab, basic)
    carol = ws_client(lab, "Authorization: Basic " +
                      base64.b64encode(("carol:" + lab.tokens["carol"]).encode()).decode())
    token = psql(lab.env, "SELECT token FROM workers WHERE hostname = 'worker01'")
    worker = ws_client(lab, "LAVA-Token: " + token, "LAVA-Host: worker01")
    try:
        private = lab.submit(job("private", visibility="personal"))[0]
        assert [s["state"] for s in job_states(alice, private, "Scheduled")] == ["Submitted", "Scheduled"]
        # The worker hears of its job being scheduled (the only event it gets).
        scheduled = job_states(worker, private, "Scheduled")
        assert [s["state"] for s in scheduled] == ["Scheduled"]
        marker = lab.submit(job("public marker"))[0]
        for client in (anonymous, carol):
            seen = []
            while not any(p.get("job") == marker for p in seen):
                seen.append(json.loads(json.loads(client.recv())[4]))
            assert private not in [p.get("job") for p in seen]
    finally:
        for c in (anonymous, alice, carol, worker):
            c.close()


def test_a_waiting_job_says_why(lab):
    psql(lab.env, "UPDATE devices SET state = 2 WHERE hostname = 'qemu01'")  # the usb device is in use
    usb = lab.submit(job("usb", extra="tags: [usb]\n"))[0]

    def says(job_id, text):
        return lambda: text in (lab.get("jobs/%d/" % job_id, "alice").json()["waiting_reason"] or "")

    wait_for(says(usb, "no available device of type 'qemu' has the tags usb"), what="the reason")
    plain = lab.submit(job("plain"))[0]
    wait_for(lambda: lab.get("jobs/%d/" % plain, "alice").json()["state"] == "Scheduled", what="qemu02 to be taken")
    queued = lab.submit(job("queued"))[0]
    wait_for(says(queued, "all usable devices of type 'qemu' are busy"), what="the queued job's reason")
    # A job that is not waiting has no reason.
    assert lab.get("jobs/%d/" % plain, "alice").json()["waiting_reason"] is None


def test_the_standby_takes_over_when_the_active_scheduler_dies(lab):
    active = lab.schedulers[0]
    standby = Scheduler(lab.workdir, lab.env, lab.publisher, "scheduler-b", "--worker-timeout-s", "3600",
                        "--standby-poll-ms", "200")
    lab.schedulers.append(standby)
    assert active.active()
    wait_for(lambda: "standby: another lava-scheduler is active" in standby.output(), what="the standby")
    active.proc.send_signal(signal.SIGKILL)
    active.proc.wait(timeout=30)
    wait_for(standby.active, what="the standby to take over")
    job_id = lab.submit(job("after failover"))[0]
    wait_for(lambda: lab.get("jobs/%d/" % job_id, "alice").json()["state"] == "Scheduled",
             what="scheduling to go on")
