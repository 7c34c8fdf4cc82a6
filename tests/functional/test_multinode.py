"""MultiNode end to end: a lab from tools/lab (three QEMU DUTs, lava-coordinator,
every daemon of ours), jobs submitted with Debian's lavacli. The nodes of a
group talk through lava-coordinator with LAVA's helpers on the DUT: a role
that starts when another sends lava_start, a message and its data, a
three-node lava-sync, a sync nobody answers (MultinodeTimeout), an essential
role that fails (the group is canceled), and a group larger than the free
devices (it waits without holding any, then runs)."""

import json
import os
import shutil
import socket
import subprocess

import pytest
import requests
import yaml

from conftest import lab_lavacli, lab_psql, missing_reference, tools_lab, wait_for
from test_lab_e2e import Gate

PROMPT = "root@dut:~# "


@pytest.fixture(scope="module")
def lab():
    yield from tools_lab("lava-multinode-", "--devices", "3", "--no-health-checks")


def lavacli(lab, *args, timeout=120):
    return lab_lavacli(lab, *args, timeout=timeout)


def psql(lab, sql):
    return lab_psql(lab, sql)


def deploy_boot(lab, roles=None):
    images = lab["LAVA_IMAGES_URL"]
    deploy = {"to": "tmpfs", "images": {
        "kernel": {"url": images + "/vmlinux", "image_arg": "-kernel {kernel}"},
        "initrd": {"url": images + "/initramfs.cpio.gz",
                   "image_arg": '-initrd {initrd} -append "console=ttyS0,115200 panic=-1"'}}}
    boot = {"method": "qemu", "media": "tmpfs", "prompts": [PROMPT]}
    if roles:
        deploy["role"] = boot["role"] = roles
    return [{"deploy": deploy}, {"boot": boot}]


def shell_block(role, name, steps, protocols=None):
    block = {"role": [role], "definitions": [{
        "from": "inline", "name": name, "path": "inline/%s.yaml" % name, "repository": {
            "metadata": {"format": "Lava-Test Test Definition 1.0", "name": name},
            "run": {"steps": steps}}}]}
    if protocols:
        block["protocols"] = {"lava-multinode": protocols}
    return {"test": block}


def submit(lab, tmp_path, name, roles, tests, timeout=None):
    """A MultiNode job: `roles` {role: count or dict}, `tests` [test blocks]."""
    role_defs = {}
    for role, spec in roles.items():
        spec = {"count": spec} if isinstance(spec, int) else dict(spec)
        role_defs[role] = dict({"device_type": "qemu", "context": {"arch": "amd64"}}, **spec)
    protocol = {"roles": role_defs}
    if timeout:
        protocol["timeout"] = timeout
    job = {"job_name": name, "visibility": "public", "priority": "medium",
           "timeouts": {"job": {"minutes": 8}, "action": {"minutes": 3}, "connection": {"minutes": 2}},
           "protocols": {"lava-multinode": protocol},
           "actions": deploy_boot(lab, list(roles)) + tests}
    path = tmp_path / (name.replace(" ", "-") + ".yaml")
    path.write_text(yaml.safe_dump(job))
    out = lavacli(lab, "jobs", "submit", str(path))
    ids = out.split()
    assert len(ids) == sum(r.get("count", 1) for r in role_defs.values()), out
    assert all(i.startswith(ids[0].split(".")[0] + ".") for i in ids), ids  # LAVA's N.M sub ids
    return ids


def shown(lab, job_id):
    return yaml.safe_load(lavacli(lab, "jobs", "show", job_id, "--yaml"))


def wait_finished(lab, ids, timeout=300):
    wait_for(lambda: all(shown(lab, i)["state"] == "Finished" for i in ids), timeout=timeout, interval=1,
             what="jobs %s to finish" % ", ".join(ids))
    return {i: shown(lab, i) for i in ids}


def results(lab, job_id):
    return {(r["suite"], r["name"]): r for r in yaml.safe_load(lavacli(lab, "results", job_id, "--yaml"))}


def by_suite(lab, ids):
    """{test suite: sub-job id}: each role here runs a test definition of its
    own ("0_srv"), and `lavacli jobs definition` shows the whole MultiNode
    job for every sub-job, as LAVA's does."""
    out = {}
    for i in ids:
        suites = {suite for suite, _ in results(lab, i)} - {"lava"}
        assert len(suites) == 1, (i, suites)
        out[suites.pop()] = i
    return out


def job_error(lab, job_id):
    case = yaml.safe_load(lavacli(lab, "results", job_id, "lava", "job", "--yaml"))
    metadata = (case[0] if isinstance(case, list) else case)["metadata"]
    return metadata.get("error_type"), metadata.get("error_msg", "")


def test_messages_and_their_data_between_a_server_and_a_client(lab, tmp_path):
    """The server's test action sends `ready` as it starts (a protocol call
    in the job); the client waits for it, then sends its own message with
    data; the server waits for that and reads the data; both see the group."""
    ids = submit(lab, tmp_path, "multinode message", {"server": 1, "client": 1}, [
        shell_block("server", "srv", [
            "lava-wait client-ready",
            "lava-test-case got-client-data --shell grep -q ':name=client' /tmp/lava_multi_node_cache.txt",
            "lava-test-case got-client-ip --shell grep -q ':ip=10.0.2.15' /tmp/lava_multi_node_cache.txt",
            "lava-test-case group-size --shell test $(lava-group | wc -l) -eq 2",
            "lava-role list > /tmp/roles",
            "cat /tmp/roles",
            "lava-test-case roles --shell test $(grep -c -x -e server -e client /tmp/roles) -eq 2",
            "lava-test-case self --shell test \"$(lava-self)\" = \"$LAVA_JOB_ID\"",
            "lava-send server-done result=ok",
        ], protocols=[{"action": "multinode-test", "request": "lava-send", "messageID": "ready",
                       "message": {"from": "server"}}]),
        shell_block("client", "cli", [
            "lava-test-case role --shell test \"$(lava-role)\" = client",
            "lava-test-case server-in-group --shell lava-group server",
            "lava-wait ready",
            "lava-test-case ready-data --shell grep -q ':from=server' /tmp/lava_multi_node_cache.txt",
            "lava-send client-ready ip=10.0.2.15 name=client",
            "lava-wait server-done",
            "lava-test-case got-result --shell grep -q ':result=ok' /tmp/lava_multi_node_cache.txt",
        ]),
    ])
    jobs = wait_finished(lab, ids)
    assert {j["health"] for j in jobs.values()} == {"Complete"}, jobs
    roles = by_suite(lab, ids)
    server, client = roles["0_srv"], roles["0_cli"]
    srv = results(lab, server)
    for case in ("multinode-wait-client-ready", "got-client-data", "got-client-ip", "group-size", "roles", "self",
                 "multinode-send-server-done"):
        assert srv[("0_srv", case)]["result"] == "pass", case
    assert srv[("lava", "multinode-test")]["result"] == "pass"  # LAVA's name for a MultiNode test shell
    cli = results(lab, client)
    for case in ("role", "server-in-group", "multinode-wait-ready", "ready-data", "multinode-send-client-ready",
                 "multinode-wait-server-done", "got-result"):
        assert cli[("0_cli", case)]["result"] == "pass", case
    server_log = lavacli(lab, "jobs", "logs", server, "--raw")
    assert "Making protocol call for multinode-test using lava-multinode: lava_send 'ready'" in server_log
    # Each node registered, and the group was complete before any action ran.
    for job_id in ids:
        log = lavacli(lab, "jobs", "logs", job_id, "--raw")
        assert log.index("lava-multinode: group complete: ") < log.index("start: 1 ")


def lava_coordinator(tmp_path):
    """Debian's lava-coordinator (LAVA 2023.01) on a free port: (process, port)."""
    reference = os.environ.get("LAVA_REFERENCE_DIR", "")
    program = os.path.join(reference, "usr", "bin", "lava-coordinator")
    if not reference or not os.path.exists(program):
        missing_reference("LAVA's lava-coordinator is not unpacked (tools/fetch-lava-reference)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path / "lava-coordinator.conf"
    conf.write_text(json.dumps({"port": port, "blocksize": 4096, "poll_delay": 1,
                                "coordinator_hostname": "127.0.0.1"}))
    log = open(tmp_path / "lava-coordinator.log", "w")
    proc = subprocess.Popen(["/usr/bin/python3", program, "--config", str(conf), "--logfile", "-",
                             "--loglevel", "DEBUG"], stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=os.path.join(reference, "usr", "lib", "python3",
                                                                         "dist-packages")))

    def listening():
        assert proc.poll() is None, (tmp_path / "lava-coordinator.log").read_text()
        with socket.socket() as c:
            return c.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, what="LAVA's lava-coordinator to listen")
    return proc, port, conf


def test_our_lava_run_with_lavas_coordinator(lab, tmp_path):
    """The same protocol from the other side: our lava-run's group, messages
    and sync through Debian's lava-coordinator (the lab's lava-run reads the
    coordinator's address from the file for every job)."""
    proc, port, conf = lava_coordinator(tmp_path)
    ours = lab["LAVA_COORDINATOR_CONFIG"]
    saved = open(ours).read()
    try:
        shutil.copy(conf, ours)
        ids = submit(lab, tmp_path, "multinode with lava's coordinator", {"server": 1, "client": 1}, [
            shell_block("server", "srv", ["lava-wait client-ready",
                                          "lava-test-case data --shell grep -q ':name=client' "
                                          "/tmp/lava_multi_node_cache.txt",
                                          "lava-sync done"]),
            shell_block("client", "cli", ["lava-send client-ready name=client", "lava-sync done"]),
        ])
        jobs = wait_finished(lab, ids)
        assert {j["health"] for j in jobs.values()} == {"Complete"}, jobs
        roles = by_suite(lab, ids)
        assert results(lab, roles["0_srv"])[("0_srv", "data")]["result"] == "pass"
        assert results(lab, roles["0_cli"])[("0_cli", "multinode-sync-done")]["result"] == "pass"
        log = (tmp_path / "lava-coordinator.log").read_text()
        assert "Group complete, starting tests" in log and "clear Group Data: 2 of 2" in log, log[-2000:]
    finally:
        with open(ours, "w") as f:
            f.write(saved)
        proc.terminate()
        proc.wait(timeout=10)


def test_a_group_larger_than_the_free_devices_waits_without_holding_any_then_syncs(lab, tmp_path):
    gate = Gate()
    try:
        blocker = tmp_path / "blocker.yaml"
        job = {"job_name": "blocker", "device_type": "qemu", "visibility": "public", "context": {"arch": "amd64"},
               "timeouts": {"job": {"minutes": 8}, "action": {"minutes": 5}, "connection": {"minutes": 2}},
               "actions": deploy_boot(lab)}
        job["actions"].append({"test": {"definitions": [{
            "from": "inline", "name": "block", "path": "inline/block.yaml", "repository": {
                "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "block"},
                "run": {"steps": [gate.step("open")]}}}]}})
        blocker.write_text(yaml.safe_dump(job))
        blocker_id = lavacli(lab, "jobs", "submit", str(blocker)).strip()
        wait_for(lambda: shown(lab, blocker_id)["state"] == "Running", timeout=60, what="the blocker to run")

        steps = ["lava-sync first", "lava-test-case after-first --result pass",
                 "lava-send ready self=$(lava-self)", "lava-wait-all ready",
                 "lava-test-case all-ready --shell test $(grep -c ':self=' /tmp/lava_multi_node_cache.txt) -eq 3",
                 "lava-sync second"]
        ids = submit(lab, tmp_path, "multinode sync", {"a": 1, "b": 2},
                     [shell_block("a", "sync-a", steps), shell_block("b", "sync-b", steps)])
        # The scheduler looked at the group and let it wait: all Submitted, and
        # the two free devices stay Idle (nothing reserved for the group).
        wait_for(lambda: "waits for all its devices" in psql(
            lab, "SELECT coalesce(string_agg(waiting_reason, ','), '') FROM test_jobs WHERE sub_id = '%s'" % ids[0]),
            timeout=30, what="the group's waiting reason")
        assert {shown(lab, i)["state"] for i in ids} == {"Submitted"}
        devices = yaml.safe_load(lavacli(lab, "devices", "list", "--yaml"))
        states = sorted(d["state"] for d in devices)
        assert states == ["Idle", "Idle", "Running"], devices

        gate.open("open")
        jobs = wait_finished(lab, ids + [blocker_id])
        assert {j["health"] for j in jobs.values()} == {"Complete"}, jobs
        for i in ids:
            r = results(lab, i)
            suite = "0_sync-a" if ("0_sync-a", "after-first") in r else "0_sync-b"
            for case in ("multinode-sync-first", "after-first", "multinode-send-ready", "multinode-wait_all-ready",
                         "all-ready", "multinode-sync-second"):
                assert r[(suite, case)]["result"] == "pass", (i, case)
    finally:
        gate.close()


def test_a_sync_nobody_answers_times_out_and_the_group_ends(lab, tmp_path):
    ids = submit(lab, tmp_path, "multinode timeout", {"waiter": 1, "absent": 1}, [
        shell_block("waiter", "wait", ["lava-sync never"]),
        shell_block("absent", "gone", ["lava-test-case here --result pass"]),
    ], timeout={"seconds": 20})
    jobs = wait_finished(lab, ids)
    roles = by_suite(lab, ids)
    assert jobs[roles["0_gone"]]["health"] == "Complete", jobs
    assert jobs[roles["0_wait"]]["health"] == "Incomplete", jobs
    error_type, message = job_error(lab, roles["0_wait"])
    assert error_type == "MultinodeTimeout", (error_type, message)
    assert "'never'" in message, message
    assert results(lab, roles["0_wait"])[("0_wait", "multinode-sync-never")]["result"] == "fail"
    # Both nodes left the group: the coordinator forgot it.
    coordinator = lab["LAVA_COORDINATOR_METRICS"] + "/metrics"
    wait_for(lambda: "lava_coordinator_groups 0" in requests.get(coordinator, timeout=10).text, timeout=30,
             what="the coordinator to forget the group")


def test_canceling_one_node_cancels_the_group_while_it_waits(lab, tmp_path):
    """lavacli cancels one sub-job while both wait on the coordinator: the
    server cancels the whole group, each lava-run stops polling and ends Canceled."""
    ids = submit(lab, tmp_path, "multinode cancel", {"left": 1, "right": 1}, [
        shell_block("left", "l", ["lava-wait never-sent"]),
        shell_block("right", "r", ["lava-wait never-sent"]),
    ], timeout={"minutes": 5})
    wait_for(lambda: all("<LAVA_WAIT never-sent>" in lavacli(lab, "jobs", "logs", i, "--raw", "--no-follow")
                         for i in ids),
             timeout=180, interval=1, what="both nodes to wait")
    lavacli(lab, "jobs", "cancel", ids[1])
    jobs = wait_finished(lab, ids, timeout=120)
    assert {j["health"] for j in jobs.values()} == {"Canceled"}, jobs
    for i in ids:
        assert job_error(lab, i)[0] == "Canceled"


def test_an_essential_role_failing_cancels_the_group(lab, tmp_path):
    ids = submit(lab, tmp_path, "multinode essential", {
        "server": {"count": 1, "essential": True}, "client": 1}, [
        shell_block("server", "srv", ["lava-wait client-testing", "lava-test-raise server-broke"]),
        shell_block("client", "cli", ["lava-send client-testing", "lava-wait never-sent"]),
    ], timeout={"minutes": 5})
    jobs = wait_finished(lab, ids, timeout=240)
    logs = {i: lavacli(lab, "jobs", "logs", i, "--raw") for i in ids}
    server = next(i for i in ids if "TESTRAISE server-broke" in logs[i])
    client = next(i for i in ids if i != server)
    assert jobs[server]["health"] == "Incomplete", jobs
    assert jobs[client]["health"] == "Canceled", jobs
    assert "<LAVA_SEND client-testing>" in logs[client]  # it was in its test when the group was canceled
    assert job_error(lab, client)[0] == "Canceled"
