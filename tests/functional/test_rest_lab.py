"""REST API v0.2 for the lab's catalogue against the real lava-server and
PostgreSQL: devices (dictionary, set_health, validate), device types
(template, health check), workers (env, config, health), aliases, tags and
group permissions, each with LAVA's permission rules and shapes."""

import os
import shutil

import pytest
import requests
import yaml

from conftest import SOURCE_DIR, rest_lab, typed


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


@pytest.fixture(scope="module")
def dictionaries(lab):
    devices = os.path.join(lab.server.dispatcher_config, "devices")
    src = os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "devices", "qemu01.jinja2")
    for name in ("qemu01", "qemu02"):
        shutil.copy(src, os.path.join(devices, name + ".jinja2"))
    return devices


# ---------------------------------------------------------------- devices

def test_device_list_and_detail(lab):
    r = lab.get("devices/")
    assert r.status_code == 200
    body = r.json()
    hostnames = [d["hostname"] for d in body["results"]]
    assert hostnames == ["qemu01", "qemu02"]  # secret01's type is restricted to "team"
    d = body["results"][0]
    assert sorted(d) == sorted(["hostname", "device_type", "device_version", "physical_owner", "physical_group",
                                "description", "tags", "state", "health", "last_health_report_job", "worker_host",
                                "is_synced"])
    assert (d["device_type"], d["worker_host"], d["state"], d["health"]) == ("qemu", "worker01", "Idle", "Good")
    # Never given: null, as LAVA's nullable columns (not "").
    assert typed([d["description"], d["device_version"], d["physical_owner"], d["is_synced"]]) == typed(
        [None, None, None, False])
    assert len(d["tags"]) == 1  # usb, by id
    assert [x["hostname"] for x in lab.get("devices/", "bob").json()["results"]] == ["qemu01", "qemu02", "secret01"]
    assert [x["hostname"] for x in lab.get("devices/", "admin").json()["results"]] == ["qemu01", "qemu02", "secret01"]
    assert lab.get("devices/secret01/").status_code == 404
    assert lab.get("devices/secret01/", "bob").json()["device_type"] == "secret-type"
    assert lab.get("devices/nosuch/").status_code == 404


def test_device_filters_and_ordering(lab):
    def names(query, user="admin"):
        r = lab.get("devices/?" + query, user)
        assert r.status_code == 200, r.text
        return [d["hostname"] for d in r.json()["results"]]

    assert names("device_type=qemu") == ["qemu01", "qemu02"]
    assert names("device_type__name=secret-type") == ["secret01"]
    assert names("hostname__in=qemu02,secret01") == ["qemu02", "secret01"]
    assert names("hostname__startswith=qemu&ordering=-hostname") == ["qemu02", "qemu01"]
    assert names("worker_host__hostname=worker01&health=Good&state=Idle&limit=1") == ["qemu01"]
    r = lab.get("devices/?health=Sick")
    assert r.status_code == 400 and "Sick" in r.json()["health"][0]


def test_device_set_health(lab):
    r = lab.post("devices/qemu02/set_health/", "alice", data={"health": "MAINTENANCE"})
    assert r.status_code == 403
    assert r.json() == {"detail": "Insufficient permissions. Please contact system administrator."}
    r = lab.post("devices/qemu02/set_health/", "admin", data={"health": "sick"})
    assert r.status_code == 400 and r.json() == {"message": "Wrong device health SICK"}
    r = lab.post("devices/qemu02/set_health/", "admin", data={"health": "maintenance", "reason": "cable"})
    assert r.status_code == 202 and r.json() == {"message": "OK"}
    assert lab.get("devices/qemu02/").json()["health"] == "Maintenance"
    r = lab.post("devices/qemu02/set_health/", "admin", json={"health": "RETIRED"})
    assert r.status_code == 202
    assert lab.get("devices/qemu02/").status_code == 404  # retired devices need ?all
    assert lab.get("devices/qemu02/?all=1").json()["health"] == "Retired"
    assert "qemu02" not in [d["hostname"] for d in lab.get("devices/").json()["results"]]
    assert "qemu02" in [d["hostname"] for d in lab.get("devices/?all=true").json()["results"]]
    assert lab.post("devices/qemu02/set_health/?all=1", "admin", data={"health": "GOOD"}).status_code == 202


def test_device_dictionary(lab, dictionaries):
    r = lab.get("devices/qemu01/dictionary/")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain"
    assert "{% extends 'qemu.jinja2' %}" in r.text
    r = lab.get("devices/qemu01/dictionary/?render=1&context={guestfs_size: 4242}")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/yaml"
    rendered = yaml.safe_load(r.text)
    assert rendered["actions"]["boot"]["methods"]["qemu"]
    assert "4242" in r.text
    r = lab.get("devices/qemu01/dictionary/?render=1&context={bad")
    assert r.status_code == 400 and r.json()["detail"].startswith("Job Context '{bad' is not valid")
    os.remove(os.path.join(dictionaries, "qemu02.jinja2"))
    r = lab.get("devices/qemu02/dictionary/")
    assert r.status_code == 400 and r.json() == {"detail": "Device 'qemu02' does not have a configuration"}
    new = "{% extends 'qemu.jinja2' %}\n{% set memory = 1024 %}\n"
    assert lab.post("devices/qemu02/dictionary/", "alice", data={"dictionary": new}).status_code == 403
    r = lab.post("devices/qemu02/dictionary/", "admin", data={"dictionary": new})
    assert r.status_code == 200 and r.json() == {"message": "device config successfully updated"}
    assert lab.get("devices/qemu02/dictionary/").text == new


def test_device_validate(lab):
    r = lab.post("devices/validate/", data={"device": "{% extends 'qemu.jinja2' %}\n"})
    assert r.json() == {"message": "Device dictionary valid."}
    r = lab.post("devices/validate/", data="{% extends 'nosuch.jinja2' %}\n", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200 and r.json()["message"].startswith("Device dictionary invalid: ")
    assert lab.post("devices/validate/", data="{% if %}", headers={"Content-Type": "text/plain"}).json()[
        "message"].startswith("Device dictionary invalid: ")


# ---------------------------------------------------------------- device types

def test_device_types(lab):
    types = lab.get("devicetypes/").json()["results"]
    assert [t["name"] for t in types] == ["empty-type", "qemu"]
    t = lab.get("devicetypes/qemu/").json()
    assert t["health_denominator"] == "hours" and t["health_frequency"] == 24 and t["display"] is True
    assert t["aliases"] == [] and t["cores"] == []
    assert typed([t["description"], t["bits"], t["health_frequency"]]) == typed([None, None, 24])
    assert lab.get("devicetypes/secret-type/").status_code == 404
    assert lab.get("devicetypes/secret-type/", "bob").status_code == 200
    assert lab.get("devicetypes/?health_denominator=weeks").status_code == 400


def test_device_type_template_and_health_check(lab):
    r = lab.get("devicetypes/qemu/template/")
    assert r.status_code == 200 and "qemu" in r.text
    r = lab.get("devicetypes/qemu/health_check/")
    assert r.status_code == 400 and r.json() == {"detail": "Device-type 'qemu' health check was not found."}
    hc = "job_name: qemu health check\n"
    assert lab.post("devicetypes/qemu/health_check/", "alice", data={"config": hc}).status_code == 403
    assert lab.post("devicetypes/qemu/health_check/", "admin", data={}).json() == {
        "config": "Health check configuration is required."}
    assert lab.post("devicetypes/qemu/health_check/", "admin", data={"config": hc}).status_code == 204
    assert lab.get("devicetypes/qemu/health_check/").text == hc


# ---------------------------------------------------------------- workers

def test_workers(lab):
    w = lab.get("workers/").json()["results"]
    assert [x["hostname"] for x in w] == ["worker01"] and "token" not in w[0]
    assert typed([w[0]["description"], w[0]["version"]]) == typed([None, None])
    assert len(lab.get("workers/worker01/", "admin").json()["token"]) == 32
    r = requests.patch(lab.api + "workers/worker01/", data={"health": "Maintenance"},
                       headers=lab.headers("alice"), timeout=30)
    assert r.status_code == 403
    r = requests.patch(lab.api + "workers/worker01/", data={"health": "Maintenance", "description": "rack 2"},
                       headers=lab.headers("admin"), timeout=30)
    assert r.status_code == 200 and r.json()["health"] == "Maintenance" and r.json()["description"] == "rack 2"
    assert lab.get("workers/?health=Maintenance").json()["count"] == 1
    r = lab.post("workers/worker01/set_health/", "admin", data={"health": "Active"})
    assert r.status_code == 200 and r.json()["health"] == "Active"
    # Back to Active from Maintenance: Good devices are re-checked (Unknown), as LAVA does.
    assert lab.get("devices/qemu01/").json()["health"] == "Unknown"


def test_worker_create(lab):
    assert lab.post("workers/", "alice", data={"hostname": "worker02"}).status_code == 403
    r = lab.post("workers/", "admin", data={"hostname": "worker02", "description": "spare", "job_limit": "2"})
    assert r.status_code == 201, r.text
    w = r.json()
    assert w["hostname"] == "worker02" and w["health"] == "Active" and w["state"] == "Offline"
    assert w["job_limit"] == 2 and len(w["token"]) == 32
    r = lab.post("workers/", "admin", data={"hostname": "worker02"})
    assert r.status_code == 400 and "already exists" in r.text
    assert lab.post("workers/", "admin", data={}).json() == {"hostname": ["This field is required."]}
    r = requests.patch(lab.api + "workers/worker02/", data={"health": "Retired"}, headers=lab.headers("admin"),
                       timeout=30)
    assert r.status_code == 200 and r.json()["health"] == "Retired"


def test_worker_env_and_config(lab):
    r = lab.get("workers/worker01/env/")
    assert r.status_code == 400 and r.json() == {"detail": "Worker 'worker01' does not have 'env' file"}
    assert lab.post("workers/worker01/env/", "alice", data={"env": "purge: true\n"}).status_code == 403
    r = lab.post("workers/worker01/env/", "admin", data={"env": "purge: true\n"})
    assert r.status_code == 200 and r.json() == {"message": "content successfully updated"}
    assert lab.get("workers/worker01/env/").text == "purge: true\n"
    assert lab.post("workers/worker01/config/", "admin", data={"config": "dispatcher_ip: 192.0.2.9\n"}).status_code == 200
    assert yaml.safe_load(lab.get("workers/worker01/config/").text) == {"dispatcher_ip": "192.0.2.9"}


# ---------------------------------------------------------------- aliases, tags, permissions

def test_aliases_and_tags_need_a_login(lab):
    assert lab.get("aliases/").status_code == 403
    assert lab.get("tags/").status_code == 403
    assert lab.post("aliases/", "alice", data={"name": "q", "device_type": "qemu"}).status_code == 403
    r = lab.post("aliases/", "admin", data={"name": "kvm", "device_type": "qemu"})
    assert r.status_code == 201 and r.json() == {"name": "kvm", "device_type": "qemu"}
    assert lab.get("aliases/", "carol").json()["results"] == [{"name": "kvm", "device_type": "qemu"}]
    assert lab.get("devicetypes/qemu/").json()["aliases"] == ["kvm"]
    tags = lab.get("tags/", "carol").json()["results"]
    assert sorted(t["name"] for t in tags) == ["rare", "usb"]
    r = lab.post("tags/", "admin", data={"name": "gpu", "description": "has a GPU"})
    assert r.status_code == 201 and r.json()["name"] == "gpu"
    assert lab.get("tags/?name=gpu", "carol").json()["results"][0]["description"] == "has a GPU"
    gpu = r.json()["id"]
    assert typed(lab.get("tags/%d/" % gpu, "carol").json()) == typed({"id": gpu, "name": "gpu",
                                                                     "description": "has a GPU"})
    bare = lab.post("tags/", "admin", data={"name": "bare"}).json()
    assert typed(bare) == typed({"id": bare["id"], "name": "bare", "description": None})
    assert lab.get("tags/%d/" % gpu).status_code == 403
    assert requests.delete(lab.api + "tags/%d/" % gpu, headers=lab.headers("carol"), timeout=30).status_code == 403
    assert requests.delete(lab.api + "tags/%d/" % gpu, headers=lab.headers("admin"), timeout=30).status_code == 204
    assert lab.get("tags/%d/" % gpu, "carol").status_code == 404
    assert lab.get("aliases/kvm/", "carol").json() == {"name": "kvm", "device_type": "qemu"}
    assert lab.get("aliases/nope/", "carol").status_code == 404
    r = requests.delete(lab.api + "aliases/kvm/", headers=lab.headers("admin"), timeout=30)
    assert r.status_code == 204
    # Jobs may name a device type by an alias (checked at submission).


def test_group_permissions(lab):
    assert lab.get("permissions/devicetypes/", "alice").status_code == 403
    perms = lab.get("permissions/devicetypes/", "admin").json()["results"]
    assert {(p["group"], p["permission"], p["devicetype"]) for p in perms} == {
        ("team", "view_devicetype", "secret-type"), ("team", "submit_to_devicetype", "secret-type")}
    r = lab.post("permissions/devices/", "admin", data={"group": "team", "permission": "view_device",
                                                         "device": "qemu01"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    # qemu01 is now visible to team members only.
    assert lab.get("devices/qemu01/", "carol").status_code == 404
    assert lab.get("devices/qemu01/", "bob").status_code == 200
    r = lab.post("permissions/devices/", "admin", data={"group": "team", "permission": "view_device",
                                                         "device": "qemu01"})
    assert r.status_code == 400 and "unique" in r.json()["non_field_errors"][0]
    r = lab.post("permissions/devices/", "admin", data={"group": "nosuch", "permission": "view_device",
                                                         "device": "qemu01"})
    assert r.status_code == 400 and "group" in r.json()
    r = lab.post("permissions/devices/", "admin", data={"group": "team", "permission": "fly", "device": "qemu01"})
    assert r.status_code == 400 and "permission" in r.json()
    assert requests.delete(lab.api + "permissions/devices/%d/" % pid, headers=lab.headers("admin")).status_code == 204
    assert lab.get("devices/qemu01/", "carol").status_code == 200


def test_device_and_device_type_crud_is_for_superusers(lab):
    r = lab.post("devicetypes/", "alice", data={"name": "bbb"})
    assert r.status_code == 403
    r = lab.post("devicetypes/", "admin", data={"name": "bbb", "description": "BeagleBone Black",
                                                 "health_frequency": "12", "health_denominator": "jobs"})
    assert r.status_code == 201, r.text
    assert (r.json()["name"], r.json()["health_denominator"], r.json()["health_frequency"]) == ("bbb", "jobs", 12)
    r = requests.patch(lab.api + "devicetypes/bbb/", data={"display": "false"}, headers=lab.headers("admin"))
    assert r.status_code == 200 and r.json()["display"] is False

    usb = [t["id"] for t in lab.get("tags/", "admin").json()["results"] if t["name"] == "usb"]
    r = lab.post("devices/", "admin", json={"hostname": "bbb01", "device_type": "bbb", "worker_host": "worker01",
                                             "tags": usb, "health": "Good"})
    assert r.status_code == 201, r.text
    d = r.json()
    assert (d["hostname"], d["device_type"], d["worker_host"], d["health"], d["tags"]) == (
        "bbb01", "bbb", "worker01", "Good", usb)
    assert lab.post("devices/", "admin", data={"hostname": "bbb01", "device_type": "bbb"}).status_code == 400
    r = lab.post("devices/", "admin", data={"hostname": "bbb02", "device_type": "bbb", "health": "Sick"})
    assert r.status_code == 400 and "health" in r.json()
    r = lab.post("devices/", "admin", json={"hostname": "bbb02", "device_type": "bbb", "tags": [99999]})
    assert r.status_code == 400 and "tags" in r.json()
    r = requests.patch(lab.api + "devices/bbb01/", json={"description": "desk 3", "tags": []},
                       headers=lab.headers("admin"), timeout=30)
    assert r.status_code == 200 and r.json()["description"] == "desk 3" and r.json()["tags"] == []
    assert requests.patch(lab.api + "devices/bbb01/", json={"description": "x"}, headers=lab.headers("alice"),
                          timeout=30).status_code == 403
    # A device type in use cannot go; its device can, then it can.
    r = requests.delete(lab.api + "devicetypes/bbb/", headers=lab.headers("admin"), timeout=30)
    assert r.status_code == 400
    assert requests.delete(lab.api + "devices/bbb01/", headers=lab.headers("admin"), timeout=30).status_code == 204
    assert lab.get("devices/bbb01/?all=1", "admin").status_code == 404
    assert requests.delete(lab.api + "devicetypes/bbb/", headers=lab.headers("admin"), timeout=30).status_code == 204
    assert lab.get("devicetypes/bbb/", "admin").status_code == 404
