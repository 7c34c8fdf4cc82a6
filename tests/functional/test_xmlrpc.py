"""/RPC2 with Python's xmlrpc.client, as scripts call LAVA: the legacy
scheduler.* calls, system.* introspection and multicall, the XML-RPC types
on the wire, every fault code and the transport's HTTP errors."""

import base64
import xmlrpc.client

import pytest
import requests
import yaml

from conftest import missing_reference, psql, rest_lab, typed

JOB = """\
job_name: {name}
device_type: qemu
visibility: public
timeouts: {{job: {{minutes: 30}}, action: {{minutes: 5}}}}
actions:
- deploy: {{to: tmpfs, images: {{rootfs: {{url: "https://example.com/r.img"}}}}}}
- boot: {{method: qemu, media: tmpfs, prompts: ["# "]}}
"""


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


def rpc_url(lab, user=None, token=None):
    host = lab.api[len("http://"): -len("/api/v0.2/")]
    if user:
        return "http://%s:%s@%s/RPC2" % (user, token or lab.tokens[user], host)
    return "http://%s/RPC2" % host


def proxy(lab, user=None, **kw):
    return xmlrpc.client.ServerProxy(rpc_url(lab, user), allow_none=True, **kw)


def fault(call, *args):
    with pytest.raises(xmlrpc.client.Fault) as e:
        call(*args)
    return e.value.faultCode, e.value.faultString


def post(lab, body, headers=None):
    return requests.post(rpc_url(lab), data=body, headers=dict({"Content-Type": "text/xml"}, **(headers or {})),
                         timeout=30)


# ---------------------------------------------------------------- transport

def test_transport_and_authentication(lab):
    assert proxy(lab, "alice").system.whoami() == "alice"
    assert proxy(lab).system.whoami() is None
    assert xmlrpc.client.ServerProxy(rpc_url(lab) + "/").system.version() == "2023.01"
    # A token that does not match: 401 with the Basic challenge.
    with pytest.raises(xmlrpc.client.ProtocolError) as e:
        xmlrpc.client.ServerProxy(rpc_url(lab, "alice", "x" * 128)).system.whoami()
    assert e.value.errcode == 401
    assert e.value.headers["WWW-Authenticate"] == 'Basic realm="XML-RPC Authentication token"'
    # Another user's token is not alice's.
    with pytest.raises(xmlrpc.client.ProtocolError):
        xmlrpc.client.ServerProxy(rpc_url(lab, "alice", lab.tokens["bob"])).system.whoami()
    body = xmlrpc.client.dumps((), "system.whoami")
    r = post(lab, body, {"Authorization": "Token " + lab.tokens["alice"]})
    assert r.status_code == 400 and "only Basic scheme is supported" in r.text
    r = post(lab, body, {"Authorization": "Basic !!!"})
    assert r.status_code == 400 and "bad base64" in r.text
    r = post(lab, body, {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()})
    assert r.status_code == 400 and "no user:pass" in r.text
    r = requests.get(rpc_url(lab), allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/api/help/"
    r = post(lab, body)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/xml")
    # The token's last use is recorded.
    used = psql(lab.env, "SELECT count(*) FROM auth_tokens t JOIN users u ON u.id = t.user_id "
                         "WHERE u.username = 'alice' AND t.last_used_on IS NOT NULL")
    assert used == "1"


def test_every_fault_code(lab):
    r = post(lab, "<methodCall><methodName>x")
    assert xmlrpc_fault(r)[0] == -32700
    r = post(lab, "<notACall/>")
    assert xmlrpc_fault(r)[0] == -32600
    r = post(lab, "<methodCall><methodName>x</methodName><params><param><value><int>one</int></value></param>"
                  "</params></methodCall>")
    assert xmlrpc_fault(r)[0] == -32600
    admin = proxy(lab, "admin")
    assert fault(admin.no.such.method) == (-32601, "No such method: 'no.such.method'")
    code, text = fault(admin.scheduler.jobs.show)
    assert code == -32602 and "takes 1 argument (0 given)" in text
    code, text = fault(admin.scheduler.jobs.show, [1])
    assert code == -32602 and "'job_id' must be int or str, not list" in text
    code, text = fault(admin.scheduler.jobs.submit, xmlrpc.client.Binary(b"job"))
    assert code == -32602 and "must be str, not Binary" in text
    assert fault(proxy(lab).scheduler.jobs.submit, "x")[0] == 401
    assert fault(admin.scheduler.jobs.show, "999999") == (404, "Job '999999' was not found.")
    assert fault(admin.scheduler.jobs.list, "NOSUCHSTATE")[0] == 400
    job = proxy(lab, "alice").scheduler.jobs.submit(JOB.format(name="f"))
    assert fault(proxy(lab, "bob").scheduler.jobs.cancel, job) == (403, "Permission denied.")


def yaml_load(text):
    return yaml.safe_load(text)


def xmlrpc_fault(response):
    assert response.status_code == 200
    with pytest.raises(xmlrpc.client.Fault) as e:
        xmlrpc.client.loads(response.content)
    return e.value.faultCode, e.value.faultString


# ---------------------------------------------------------------- types on the wire

def test_types_round_trip(lab):
    alice = proxy(lab, "alice")
    job_id = alice.scheduler.jobs.submit(JOB.format(name="types"))
    assert isinstance(job_id, int)
    shown = alice.scheduler.jobs.show(job_id)
    assert isinstance(shown.pop("submit_time"), xmlrpc.client.DateTime)
    shown.pop("waiting_reason", None)  # lava-cpp's addition, a string
    # Every field with LAVA 2023.01's type: the id an int (display_id), nil where unset.
    assert typed(shown) == typed({"id": job_id, "description": "types", "device": None, "device_type": "qemu",
                                  "health_check": False, "pipeline": True, "health": "Unknown",
                                  "state": "Submitted", "submitter": "alice", "start_time": None, "end_time": None,
                                  "tags": [], "visibility": "Public", "failure_comment": None})
    # nil for optional arguments, as lavacli sends them.
    listed = [j for j in alice.scheduler.jobs.list(None, None, 0, 5, None, False) if j["id"] == job_id]
    assert typed(listed) == typed([{"id": job_id, "description": "types", "device_type": "qemu", "health": "Unknown",
                                    "state": "Submitted", "submitter": "alice"}])
    queued = [j for j in alice.scheduler.jobs.queue(None, 0, 100) if j["id"] == job_id]
    assert typed(queued) == typed([{"id": job_id, "description": "types", "requested_device_type": "qemu",
                                    "submitter": "alice"}])
    details = alice.scheduler.job_details(job_id)
    assert typed([details["id"], details["status"], details["sub_id"]]) == typed([job_id, "Submitted", ""])
    finished, data = alice.scheduler.jobs.logs(job_id)
    assert finished is False and isinstance(data, xmlrpc.client.Binary) and data.data == b"[]"
    # Markup and control whitespace survive (a raw CR in a request becomes LF
    # by XML's end-of-line rule; responses carry CR as &#13;, see xmlrpc_test).
    text = "a < b & c\nd\ttab ]]> \u00e9"
    alice_dt = proxy(lab, "admin")
    alice_dt.scheduler.tags.add("crlf-tag", text)
    assert [t["description"] for t in alice_dt.scheduler.tags.list() if t["name"] == "crlf-tag"] == [text]
    # Descriptions never given are nil, as LAVA's nullable columns; given empty, ''.
    alice_dt.scheduler.tags.add("bare-tag")
    alice_dt.scheduler.tags.add("empty-tag", "")
    assert typed(alice_dt.scheduler.tags.show("bare-tag")) == typed({"name": "bare-tag", "description": None,
                                                                     "devices": []})
    assert typed(alice_dt.scheduler.tags.show("empty-tag")["description"]) == typed("")
    alice_dt.scheduler.workers.add("bare-worker")
    w = alice_dt.scheduler.workers.show("bare-worker")
    assert typed([w["description"], w["version"], w["job_limit"]]) == typed([None, None, 0])
    alice_dt.scheduler.device_types.add("bare-type", None, True, False, 24, "hours")
    assert typed(alice_dt.scheduler.device_types.show("bare-type")["description"]) == typed(None)
    alice_dt.scheduler.devices.add("bare01", "bare-type", "bare-worker")
    assert typed(alice_dt.scheduler.devices.show("bare01")["description"]) == typed(None)
    # show_all adds the templates that have no device type, as LAVA (base* excepted).
    listed = {t["name"]: t for t in alice_dt.scheduler.device_types.list(True)}
    assert typed(listed["ssh"]) == typed({"name": "ssh", "devices": 0, "installed": False, "template": True})
    assert "base" not in listed and "base-uboot" not in listed and listed["qemu"]["installed"] is True
    assert "ssh" not in {t["name"] for t in alice_dt.scheduler.device_types.list()}


def test_validate_reports_the_path_lava_reports(lab):
    """scheduler.jobs.validate's "path" is str() of voluptuous's path as LAVA
    2023.01 builds it (an action's problems under 'actions[N]', its type and
    its schema module): compared with lava_common's own validate()."""
    try:
        import voluptuous
        from lava_common.schemas import validate as lava_validate
    except ImportError:
        missing_reference("Debian's lava-common is not installed")
    good = JOB.format(name="paths")
    cases = [
        good.replace("visibility: public", "visibility: everyone"),
        good.replace('url: "https://example.com/r.img"', 'url: "https://example.com/r.img", compression: lz4'),
        good.replace('prompts: ["# "]', 'prompts: [""]'),
        good.replace("media: tmpfs", "media: tmpfs, timeout: {hours: 0}"),
        good + "- test:\n    definitions:\n    - {from: git, repository: r, path: p, name: 'a b'}\n",
        good + "- test:\n    definitions:\n    - {from: git, repository: r, name: x}\n",
        good.replace("timeouts: {job: {minutes: 30}, action: {minutes: 5}}", "timeouts: {job: {minutes: 30}}"
                     ).replace("job_name: paths", "job_name: paths\npriority: 101"),
    ]
    for text in cases:
        try:
            lava_validate(yaml.safe_load(text), False, [])
            pytest.fail("LAVA accepts: " + text)
        except voluptuous.Invalid as exc:
            expected = str(exc.path)
        got = proxy(lab).scheduler.jobs.validate(text)
        assert typed(got["path"]) == typed(expected), (text, got)


# ---------------------------------------------------------------- introspection, multicall

def test_introspection(lab):
    p = proxy(lab)
    methods = p.system.listMethods()
    assert methods == sorted(methods)
    for name in ("system.multicall", "scheduler.jobs.submit", "scheduler.submit_job", "results.get_testjob_results_yaml",
                 "scheduler.devices.tags.add", "scheduler.device_types.aliases.list", "scheduler.workers.get_env"):
        assert name in methods, name
    # Each help starts as LAVA's docstrings do: the method's name and arguments.
    for m in methods:
        assert p.system.methodHelp(m).startswith("Name\n----\n`%s` (" % m), m
    assert p.system.methodHelp("scheduler.jobs.list").startswith(
        "Name\n----\n`scheduler.jobs.list` ([`state`], [`health`], [`start`], [`limit`], [`since`], [`verbose`])")
    assert p.system.methodHelp("no.such") == ""
    # Signatures as LAVA's: one flat list, for methodHelp and multicall only.
    assert typed(p.system.methodSignature("system.multicall")) == typed(["array", "array"])
    assert typed(p.system.methodSignature("system.methodHelp")) == typed(["str", "str"])
    for m in ("system.whoami", "system.version", "scheduler.jobs.cancel", "system.listMethods"):
        assert p.system.methodSignature(m) == "undef", m
    assert p.system.methodSignature("no.such") == ""
    assert p.system.getCapabilities()["auth_token"]["specVersion"] == 20110516
    assert p.system.api_version() == 2
    assert set(p.system.master_config()) == {"EVENT_TOPIC", "EVENT_SOCKET", "EVENT_NOTIFICATION", "LOG_SIZE_LIMIT"}
    assert "introspect" in p.system.getCapabilities()


def test_multicall(lab):
    admin = proxy(lab, "admin")
    calls = xmlrpc.client.MultiCall(admin)
    calls.system.version()
    calls.scheduler.tags.add("mc-one")
    calls.scheduler.tags.add("mc-one")  # fails: exists
    calls.no.such.method()
    calls.scheduler.tags.add("mc-two")
    results = calls()
    assert results[0] == "2023.01"
    assert results[1] is None
    with pytest.raises(xmlrpc.client.Fault) as e:
        results[2]
    assert e.value.faultCode == 400
    with pytest.raises(xmlrpc.client.Fault) as e:
        results[3]
    assert e.value.faultCode == -32601
    assert results[4] is None
    names = [t["name"] for t in admin.scheduler.tags.list()]
    assert "mc-one" in names and "mc-two" in names
    # Malformed entries fault one by one.
    out = admin.system.multicall([{"methodName": "system.version"}, "junk",
                                  {"methodName": "system.version", "params": [], "extra": 1}])
    assert [o["faultCode"] for o in out] == [-32602, -32602, -32602]
    assert "additional arguments ['extra']" in out[2]["faultString"]
    assert fault(admin.system.multicall, "not a list")[0] == -32602


# ---------------------------------------------------------------- legacy scheduler.*

def test_legacy_job_calls(lab):
    alice = proxy(lab, "alice")
    job_id = alice.scheduler.submit_job(JOB.format(name="legacy"))
    assert alice.scheduler.job_state(job_id) == {"job_id": job_id, "job_state": "Submitted"}
    assert alice.scheduler.job_health(job_id) == {"job_id": job_id, "job_health": "Unknown"}
    details = alice.scheduler.job_details(job_id)
    assert details["id"] == job_id and details["description"] == "legacy" and details["is_pipeline"] is True
    assert [j[0] for j in alice.scheduler.all_jobs()].count(job_id) == 1
    assert alice.scheduler.pending_jobs_by_device_type()["qemu"] >= 1
    assert alice.scheduler.validate_yaml(JOB.format(name="ok")) is None
    code, text = fault(alice.scheduler.validate_yaml, JOB.format(name="bad") + "priority: urgent\n")
    assert code == 400 and "priority" in text and "line 8" in text, text
    new_id = alice.scheduler.resubmit_job(job_id)
    assert new_id > job_id
    assert alice.scheduler.cancel_job(new_id) is True
    assert alice.scheduler.job_state(new_id)["job_state"] == "Finished"
    assert alice.scheduler.get_publisher_event_socket().startswith("tcp://")


def test_legacy_device_calls(lab, tmp_path):
    admin = proxy(lab, "admin")
    alice = proxy(lab, "alice")
    assert ["qemu01", "qemu", "idle", None, True] in [d for d in admin.scheduler.all_devices()] or \
        any(d[0] == "qemu01" for d in admin.scheduler.all_devices())
    assert not any(d[0] == "secret01" for d in alice.scheduler.all_devices())
    types = {t["name"]: t for t in admin.scheduler.all_device_types()}
    assert set(types["qemu"]) == {"name", "idle", "busy", "offline"}
    status = alice.scheduler.get_device_status("qemu02")
    assert status["hostname"] == "qemu02" and status["is_pipeline"] is True
    assert fault(alice.scheduler.get_device_status, "secret01")[0] == 403
    assert fault(alice.scheduler.get_device_status, "nosuch")[0] == 404

    assert fault(alice.scheduler.put_into_maintenance_mode, "qemu02", "why")[0] == 403
    assert fault(admin.scheduler.put_into_maintenance_mode, "qemu02", "")[0] == 400
    admin.scheduler.put_into_maintenance_mode("qemu02", "cable swap")
    assert admin.scheduler.devices.show("qemu02")["health"] == "Maintenance"
    admin.scheduler.put_into_online_mode("qemu02", "cable fixed")
    assert admin.scheduler.devices.show("qemu02")["health"] == "Unknown"
    reasons = psql(lab.env, "SELECT string_agg(reason, '|' ORDER BY id) FROM device_state_changes "
                            "WHERE device = 'qemu02'")
    assert "cable swap" in reasons and "cable fixed" in reasons

    dictionary = "{% extends 'qemu.jinja2' %}\n{% set mac_addr = '52:54:00:aa:bb:cc' %}\n"
    assert admin.scheduler.import_device_dictionary("qemu02", dictionary) == "Device dictionary updated for qemu02"
    assert admin.scheduler.export_device_dictionary("qemu02").data.decode() == dictionary
    config = admin.scheduler.get_device_config("qemu02", "arch: amd64")
    assert b"52:54:00:aa:bb:cc" in config.data
    assert fault(alice.scheduler.import_device_dictionary, "qemu02", "x")[0] == 403
    assert fault(admin.scheduler.get_device_config, "nosuch")[0] == 404


def test_user_can_view(lab):
    alice = proxy(lab, "alice")
    admin = proxy(lab, "admin")
    private = proxy(lab, "bob").scheduler.jobs.submit(JOB.format(name="bobs").replace("public", "personal"))
    public = alice.scheduler.jobs.submit(JOB.format(name="pub"))
    assert alice.system.user_can_view_jobs([private, public, 999999]) == {str(private): False, str(public): True}
    assert admin.system.user_can_view_jobs([private], "bob") == {str(private): True}
    assert fault(alice.system.user_can_view_jobs, [private], "bob")[0] == 401
    seen = alice.system.user_can_view_devices(["qemu01", "secret01"])
    assert seen["qemu"] == [{"qemu01": {"is_pipeline": True, "visible": True, "exclusive": True}}]
    assert seen["secret-type"] == [{"secret01": {"visible": False}}]
    assert alice.system.user_can_submit_to_types(["qemu", "secret-type", "nosuch"]) == {"qemu": True,
                                                                                       "secret-type": False}


def test_more_legacy_calls(lab):
    admin = proxy(lab, "admin")
    alice = proxy(lab, "alice")
    # Finished jobs of a type and a device, newest first.
    first = alice.scheduler.jobs.submit(JOB.format(name="recent-1"))
    second = alice.scheduler.jobs.submit(JOB.format(name="recent-2"))
    alice.scheduler.jobs.cancel(first)
    alice.scheduler.jobs.cancel(second)
    recent = alice.scheduler.get_recent_jobs_for_device_type("qemu", 2)
    assert [j["id"] for j in recent] == [second, first]
    assert recent[0] == {"id": second, "description": "recent-2", "status": "Canceled", "device": ""}
    assert alice.scheduler.get_recent_jobs_for_device_type("qemu", 0) == []
    assert fault(alice.scheduler.get_recent_jobs_for_device_type, "qemu", -1)[0] == 400
    assert fault(alice.scheduler.get_recent_jobs_for_device_type, "nosuch")[0] == 404
    assert alice.scheduler.get_recent_jobs_for_device("qemu01") == []
    assert fault(alice.scheduler.get_recent_jobs_for_device, "secret01")[0] == 403

    admin.scheduler.aliases.add("q-alias", "qemu")
    assert alice.scheduler.get_device_type_by_alias("q-al") == {"q-al": ["qemu"]}
    assert alice.scheduler.get_device_type_by_alias("zzz") == {"zzz": []}

    assert admin.scheduler.validate_pipeline_devices("qemu01").data.decode() == \
        '"qemu01": {Invalid: Missing device dictionary}\n'
    admin.scheduler.import_device_dictionary("qemu02", "{% extends 'qemu.jinja2' %}\n")
    assert admin.scheduler.validate_pipeline_devices("qemu02").data.decode() == '"qemu02": {Valid: null}\n'
    admin.scheduler.import_device_dictionary("qemu02", "{% extends 'no-such-template.jinja2' %}\n")
    assert "Invalid" in admin.scheduler.validate_pipeline_devices("qemu02").data.decode()
    both = yaml_load(admin.scheduler.validate_pipeline_devices("qemu").data.decode())
    assert set(both) == {"qemu01", "qemu02"}
    assert fault(alice.scheduler.validate_pipeline_devices, "nothing-like-this")[0] == 404

    assert alice.system.user_can_view_bundles(["x"]) is False
    finished, _ = alice.scheduler.jobs.logs(first)
    assert finished is True
    assert fault(alice.scheduler.job_output, first)[0] == 404  # canceled before it ran: no log


def test_group_and_permission_calls(lab):
    admin = proxy(lab, "admin")
    alice = proxy(lab, "alice")
    psql(lab.env, "UPDATE users SET email = 'carol@example.com' WHERE username = 'carol'")
    assert fault(alice.system.set_user_groups, "carol@example.com", ["team"]) == (403, "forbidden")
    admin.system.set_user_groups("carol@example.com", ["team", "no-such-group"])
    assert psql(lab.env, "SELECT string_agg(g.name, ',') FROM user_groups ug JOIN groups g ON g.id = ug.group_id "
                         "JOIN users u ON u.id = ug.user_id WHERE u.username = 'carol'") == "team"
    assert fault(admin.system.set_user_groups, "nobody@example.com", [])[0] == 400
    # carol (now in team) sees secret-type; alice does not, until her group may.
    carol = proxy(lab, "carol")
    assert carol.system.user_can_submit_to_types(["secret-type"]) == {"secret-type": True}
    psql(lab.env, "INSERT INTO groups (name) VALUES ('alices') ON CONFLICT DO NOTHING")
    assert fault(alice.system.assign_perm_device_type, "view_devicetype", "secret-type", "alices")[0] == 403
    assert fault(admin.system.assign_perm_device_type, "view_devicetype", "nosuch", "alices")[0] == 400
    assert fault(admin.system.assign_perm_device_type, "view_devicetype", "secret-type", "nosuch")[0] == 400
    admin.system.assign_perm_device_type("view_devicetype", "secret-type", "alices")
    admin.system.assign_perm_device_type("view_devicetype", "secret-type", "alices")  # again: no error
    assert psql(lab.env, "SELECT count(*) FROM group_device_type_permissions p JOIN groups g ON g.id = p.group_id "
                         "WHERE g.name = 'alices'") == "1"
    admin.system.revoke_perm_device_type("view_devicetype", "secret-type", "alices")
    assert psql(lab.env, "SELECT count(*) FROM group_device_type_permissions p JOIN groups g ON g.id = p.group_id "
                         "WHERE g.name = 'alices'") == "0"
    admin.system.assign_perm_device("change_device", "qemu02", "alices")
    assert psql(lab.env, "SELECT count(*) FROM group_device_permissions WHERE device = 'qemu02'") == "1"
    admin.system.revoke_perm_device("change_device", "qemu02", "alices")
    assert psql(lab.env, "SELECT count(*) FROM group_device_permissions WHERE device = 'qemu02'") == "0"


def test_worker_env_dut_files_in_lavas_order(lab):
    import os
    admin = proxy(lab, "admin")
    etc = os.path.join(os.path.dirname(lab.server.dispatcher_config), "etc")
    os.makedirs(etc, exist_ok=True)
    assert fault(admin.scheduler.workers.get_env_dut, "worker01")[0] == 404
    with open(os.path.join(etc, "env.dut.yaml"), "w") as f:  # the name before 2020.10
        f.write("legacy: true\n")
    assert admin.scheduler.workers.get_env_dut("worker01").data == b"legacy: true\n"
    with open(os.path.join(etc, "env-dut.yaml"), "w") as f:
        f.write("lab: true\n")
    assert admin.scheduler.workers.get_env_dut("worker01").data == b"lab: true\n"
    assert admin.scheduler.workers.set_env_dut("worker01", "own: true\n") is True
    assert admin.scheduler.workers.get_env_dut("worker01").data == b"own: true\n"
