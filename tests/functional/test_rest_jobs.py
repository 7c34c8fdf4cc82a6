"""REST API v0.2 jobs/ against the real lava-server and PostgreSQL: submission
and its errors, visibility for every kind of caller, listing with filters,
ordering and paging, cancel, resubmit, validate; the token/ and system/
endpoints. Clients are python3-requests, as CI pipelines use."""

import uuid

import pytest
import requests
import yaml

from conftest import psql, rest_lab, typed, wait_for

JOB = """\
job_name: {name}
device_type: {device_type}
visibility: {visibility}
priority: medium
timeouts: {{job: {{minutes: 30}}, action: {{minutes: 5}}}}
context: {{arch: amd64}}
actions:
- deploy: {{to: tmpfs, images: {{rootfs: {{url: "https://example.com/rootfs.img.gz", compression: gz}}}}}}
- boot: {{method: qemu, media: tmpfs, prompts: ["root@debian:~#"]}}
- test: {{definitions: [{{from: git, repository: "https://example.com/tests.git", path: smoke.yaml, name: smoke}}]}}
"""

MULTINODE = """\
job_name: mn
visibility: public
timeouts: {job: {minutes: 30}}
protocols:
  lava-multinode:
    roles:
      server: {device_type: qemu, count: 1}
      client: {device_type: qemu, count: %d}
actions:
- deploy: {role: [server, client], to: tmpfs, images: {rootfs: {url: "https://example.com/r.img"}}}
- boot: {role: [server, client], method: qemu, media: tmpfs, prompts: ["# "]}
"""


def job(name="smoke", device_type="qemu", visibility="public", extra=""):
    return JOB.format(name=name, device_type=device_type, visibility=visibility) + extra


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


# ---------------------------------------------------------------- submission

def test_submit_returns_201_and_the_job_is_stored(lab):
    definition = job(name="stored")
    [job_id] = lab.submit(definition)
    r = lab.get("jobs/%d/" % job_id, "alice")
    assert r.status_code == 200
    j = r.json()
    assert j["id"] == job_id and j["submitter"] == "alice" and j["description"] == "stored"
    assert j["state"] == "Submitted" and j["health"] == "Unknown"
    assert j["requested_device_type"] == "qemu" and j["actual_device"] is None
    assert j["original_definition"] == definition and j["multinode_definition"] == ""
    assert yaml.safe_load(j["definition"]) == yaml.safe_load(definition)
    assert j["priority"] == 50 and j["submit_time"].endswith("Z") and j["end_time"] is None
    assert "token" not in j  # only superusers see the job token
    assert len(lab.get("jobs/%d/" % job_id, "admin").json()["token"]) == 32


def test_submit_json_body_and_priority_names(lab):
    r = lab.post("jobs/", "alice", json={"definition": job().replace("priority: medium", "priority: high")})
    assert r.status_code == 201, r.text
    assert lab.get("jobs/%d/" % r.json()["job_ids"][0]).json()["priority"] == 100


def test_submit_needs_a_user(lab):
    r = lab.post("jobs/", data={"definition": job()})
    assert r.status_code == 403
    assert r.json() == {"detail": "Authentication credentials were not provided."}
    r = requests.post(lab.api + "jobs/", data={"definition": job()}, headers={"Authorization": "Token nope"})
    assert r.status_code == 403 and r.json() == {"detail": "Invalid token."}


def test_submit_without_definition(lab):
    r = lab.post("jobs/", "alice", data={})
    assert r.status_code == 400 and r.json() == {"definition": ["This field is required."]}


def test_bad_yaml_is_rejected_with_its_line(lab):
    r = lab.post("jobs/", "alice", data={"definition": job() + "broken: [\n"})
    assert r.status_code == 400
    message = r.json()["message"]
    assert message.startswith("Problem with submitted job data: ") and "(line 12, column 1)" in message, message


def test_schema_errors_name_the_field_and_line(lab):
    bad = job().replace("name: smoke}", "name: 'bad name!'}")
    r = lab.post("jobs/", "alice", data={"definition": bad})
    assert r.status_code == 400
    message = r.json()["message"]
    assert "actions[2].test.definitions[0].name" in message and "(line 10," in message, message


def test_missing_visibility(lab):
    r = lab.post("jobs/", "alice", data={"definition": job().replace("visibility: public\n", "")})
    assert r.status_code == 400
    assert r.json()["message"].startswith("Problem with submitted job data: ")
    assert "visibility" in r.json()["message"]


def test_unknown_device_type(lab):
    r = lab.post("jobs/", "alice", data={"definition": job(device_type="nosuch")})
    assert r.status_code == 400
    assert r.json() == {"message": "Devices unavailable: Device type 'nosuch' is unavailable."}


def test_device_type_without_devices(lab):
    r = lab.post("jobs/", "alice", data={"definition": job(device_type="empty-type")})
    assert r.status_code == 400
    assert r.json() == {"message": "Devices unavailable: No devices of type empty-type are available."}


def test_restricted_device_type(lab):
    r = lab.post("jobs/", "carol", data={"definition": job(device_type="secret-type")})
    assert r.status_code == 400
    assert r.json() == {"message": "Devices unavailable: Device type 'secret-type' is unavailable to user 'carol'"}
    assert lab.post("jobs/", "bob", data={"definition": job(device_type="secret-type")}).status_code == 201


def test_tags(lab):
    r = lab.post("jobs/", "alice", data={"definition": job(extra="tags: [nosuchtag]\n")})
    assert r.status_code == 400 and "nosuchtag" in r.json()["message"]
    r = lab.post("jobs/", "alice", data={"definition": job(extra="tags: [rare]\n")})
    assert r.status_code == 400
    assert r.json()["message"] == ("Devices unavailable: No devices of type qemu are available which have "
                                   "all of the tags 'rare'.")
    [job_id] = lab.submit(job(extra="tags: [usb]\n"))
    assert len(lab.get("jobs/%d/" % job_id).json()["tags"]) == 1


def test_a_rejected_submission_stores_nothing(lab):
    before = lab.get("jobs/", "admin").json()["count"]
    lab.post("jobs/", "alice", data={"definition": job(extra="tags: [rare]\n")})
    lab.post("jobs/", "alice", data={"definition": job(device_type="nosuch")})
    assert lab.get("jobs/", "admin").json()["count"] == before


def test_multinode_split(lab):
    r = lab.post("jobs/", "alice", data={"definition": MULTINODE % 1})
    assert r.status_code == 201, r.text
    ids = r.json()["job_ids"]
    assert len(ids) == 2 and all(isinstance(i, str) for i in ids)
    first = int(ids[0].split(".")[0])
    assert ids == ["%d.0" % first, "%d.1" % first]
    roles = []
    for n in range(2):
        j = lab.get("jobs/%d/" % (first + n), "alice").json()
        assert j["multinode_definition"] == MULTINODE % 1
        params = yaml.safe_load(j["definition"])["protocols"]["lava-multinode"]
        assert params["group_size"] == 2 and params["sub_id"] == n
        roles.append(params["role"])
    assert sorted(roles) == ["client", "server"]


def test_multinode_needs_devices_for_every_role(lab):
    r = lab.post("jobs/", "alice", data={"definition": MULTINODE % 3})
    assert r.status_code == 400
    assert r.json()["message"] == ("Devices unavailable: Not enough devices of type qemu are currently "
                                   "available to user alice")


# ---------------------------------------------------------------- visibility

def test_visibility_for_each_kind_of_caller(lab):
    [public] = lab.submit(job(name="vis-public"))
    [personal] = lab.submit(job(name="vis-personal", visibility="personal"))
    [grouped] = lab.submit(job(name="vis-group", visibility="{group: [team]}"))
    [restricted] = lab.submit(job(name="vis-type", device_type="secret-type"), user="bob")
    expected = {
        None: {public},
        "alice": {public, personal, grouped},
        "bob": {public, grouped, restricted},
        "carol": {public},
        "admin": {public, personal, grouped, restricted},
    }
    for user, visible in expected.items():
        for job_id in (public, personal, grouped, restricted):
            code = lab.get("jobs/%d/" % job_id, user).status_code
            assert code == (200 if job_id in visible else 404), (user, job_id)
        listed = {j["id"] for j in lab.get("jobs/?description__startswith=vis-&limit=100", user).json()["results"]}
        assert listed == visible, user
        for action in ("metadata/", "cancel/"):
            if personal not in visible:
                assert lab.get("jobs/%d/%s" % (personal, action), user).status_code == 404


def test_unknown_group_in_visibility(lab):
    r = lab.post("jobs/", "alice", data={"definition": job(visibility="{group: [nosuchgroup]}")})
    assert r.status_code == 400
    assert r.json()["message"] == ("Problem with submitted job data: No known groups were found in the "
                                   "visibility list.")


# ---------------------------------------------------------------- listing

def test_pagination_envelope_and_links(lab):
    tag = uuid.uuid4().hex[:8]
    ids = [lab.submit(job(name="page-" + tag))[0] for _ in range(5)]
    base = "jobs/?description=page-%s" % tag
    first = lab.get(base + "&limit=2").json()
    assert first["count"] == 5 and [j["id"] for j in first["results"]] == ids[::-1][:2]
    assert first["previous"] is None
    assert first["next"] == lab.server.url + "/api/v0.2/jobs/?description=page-%s&limit=2&offset=2" % tag
    second = requests.get(first["next"], timeout=30).json()
    assert [j["id"] for j in second["results"]] == ids[::-1][2:4]
    assert second["previous"] == lab.server.url + "/api/v0.2/jobs/?description=page-%s&limit=2" % tag
    last = lab.get(base + "&limit=2&offset=4").json()
    assert last["next"] is None and [j["id"] for j in last["results"]] == [ids[0]]
    assert [j["id"] for j in lab.get(base + "&ordering=id").json()["results"]] == ids
    # Invalid limit/offset fall back to the defaults, as DRF does.
    assert len(lab.get(base + "&limit=zero&offset=-3").json()["results"]) == 5


def test_filters_and_lookups(lab):
    tag = uuid.uuid4().hex[:8]
    [a] = lab.submit(job(name="f-" + tag), user="alice")
    [b] = lab.submit(job(name="f-" + tag), user="bob")
    lab.get("jobs/%d/cancel/" % b, "bob")

    def ids(query, user="admin"):
        r = lab.get("jobs/?description=f-%s&%s" % (tag, query), user)
        assert r.status_code == 200, r.text
        return {j["id"] for j in r.json()["results"]}

    assert ids("submitter__username=alice") == {a}
    assert ids("state=Submitted") == {a}
    assert ids("state=Finished&health=Canceled") == {b}
    assert ids("health__in=Canceled,Complete") == {b}
    assert ids("state__iexact=finished") == {b}
    assert ids("id__gt=%d" % a) == {b}
    assert ids("id__in=%d,%d" % (a, b)) == {a, b}
    assert ids("requested_device_type__name=qemu") == {a, b}
    assert ids("requested_device_type__name=other") == set()
    assert ids("description__icontains=F-" + tag.upper()) == {a, b}
    assert ids("end_time__isnull=true") == {a}
    assert ids("unknown_field=1") == {a, b}  # django-filter ignores unknown parameters

    r = lab.get("jobs/?state=Bogus")
    assert r.status_code == 400 and "Bogus" in r.json()["state"][0]
    assert lab.get("jobs/?id=abc").status_code == 400
    assert lab.get("jobs/?submit_time__gt=yesterday").status_code == 400
    # SQL metacharacters are plain values.
    for value in ("x' OR '1'='1", "1; DROP TABLE test_jobs; --", "%", "\\", "_"):
        r = lab.get("jobs/", params={"description": value, "submitter__username__contains": value})
        assert r.status_code == 200 and r.json()["count"] == 0, value
    assert lab.get("jobs/").status_code == 200


# ---------------------------------------------------------------- cancel, resubmit

def test_cancel_permissions_and_states(lab):
    [job_id] = lab.submit(job(name="cancel-me"))
    r = lab.get("jobs/%d/cancel/" % job_id)
    assert r.status_code == 403 and r.json() == {"detail": "Insufficient permissions"}
    assert lab.get("jobs/%d/cancel/" % job_id, "carol").status_code == 403
    assert lab.get("jobs/%d/" % job_id).json()["state"] == "Submitted"
    r = lab.get("jobs/%d/cancel/" % job_id, "alice")
    assert r.status_code == 200 and r.json() == {"message": "Job cancel signal sent."}
    j = lab.get("jobs/%d/" % job_id).json()
    assert (j["state"], j["health"]) == ("Finished", "Canceled") and j["end_time"]
    # Canceling a finished job is not an error, for anyone who can see it.
    assert lab.get("jobs/%d/cancel/" % job_id, "carol").status_code == 200
    assert lab.get("jobs/%d/cancel/" % (job_id + 100000), "admin").status_code == 404


def test_superuser_cancels_anything_and_multinode_cancels_the_group(lab):
    ids = lab.post("jobs/", "alice", data={"definition": MULTINODE % 1}).json()["job_ids"]
    first = int(ids[0].split(".")[0])
    assert lab.get("jobs/%d/cancel/" % (first + 1), "admin").status_code == 200
    for n in range(2):
        j = lab.get("jobs/%d/" % (first + n)).json()
        assert (j["state"], j["health"]) == ("Finished", "Canceled")


def test_batch_cancel(lab):
    [mine] = lab.submit(job(name="batch"), user="alice")
    [theirs] = lab.submit(job(name="batch"), user="bob")
    r = lab.post("jobs/batch_cancel/", "alice", json={"job_ids": [mine, theirs, 999999]})
    assert r.status_code == 200
    body = r.json()
    assert body["job_ids"] == [mine] and body["invalid_job_ids"] == [str(theirs), "999999"]
    assert lab.get("jobs/%d/" % theirs).json()["state"] == "Submitted"
    assert lab.post("jobs/batch_cancel/", json={"job_ids": [mine]}).status_code == 403


def test_resubmit(lab):
    [original] = lab.submit(job(name="again"))
    r = lab.post("jobs/%d/resubmit/" % original, "alice")
    assert r.status_code == 201, r.text
    [copy] = r.json()["job_ids"]
    assert copy != original
    # A list of one-key mappings, as LAVA's get_metadata_dict() (not an object).
    meta = lab.get("jobs/%d/metadata/" % copy).json()["metadata"]
    assert typed(meta) == typed([{"job.original": lab.server.url + "/scheduler/job/%d" % original}])
    assert lab.post("jobs/%d/resubmit/" % original).status_code == 403


# ---------------------------------------------------------------- validate

def test_validate_and_validate_testdef_are_open_to_anyone(lab):
    assert lab.post("jobs/validate/", data={"definition": job()}).json() == {"message": "Job valid."}
    r = lab.post("jobs/validate/", data={"definition": job(extra="bogus: 1\n"), "strict": "true"})
    assert r.status_code == 200 and r.json()["message"].startswith("Job invalid: bogus: extra keys not allowed")
    assert lab.post("jobs/validate/", data={"definition": job(extra="bogus: 1\n")}).json() == {
        "message": "Job valid."}  # lenient unless strict is asked for, as LAVA
    r = lab.post("jobs/validate/", data={})
    assert r.status_code == 400 and r.json() == {"definition": "Test job definition is required."}
    testdef = "metadata: {format: Lava-Test Test Definition 1.0, name: t, description: d}\nrun: {steps: ['true']}\n"
    r = lab.post("jobs/validate_testdef/", data={"definition": testdef})
    assert r.json() == {"message": "Test definition valid."}
    r = lab.post("jobs/validate_testdef/", data={"definition": "metadata: {name: t}\n"})
    assert r.json()["message"].startswith("Test defnition invalid: ")


# ---------------------------------------------------------------- token/, system/

def test_token_endpoint(lab):
    # LAVA returns the user's first token; lava-cpp keeps only tokens'
    # hashes (issue 14), so each login creates a token, which then works.
    r = lab.post("token/", data={"username": "carol", "password": "carol-pw"})
    assert r.status_code == 200 and set(r.json()) == {"token"}
    token = r.json()["token"]
    assert len(token) == 128 and token != lab.tokens["carol"]
    whoami = requests.get(lab.api + "system/whoami/", headers={"Authorization": "Token " + token}, timeout=30)
    assert whoami.json() == {"user": "carol"}
    again = lab.post("token/", data={"username": "carol", "password": "carol-pw"}).json()["token"]
    assert again != token
    r = lab.post("token/", json={"username": "carol", "password": "wrong"})
    assert r.status_code == 400
    assert r.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    r = lab.post("token/", data={})
    assert r.json() == {"username": ["This field is required."], "password": ["This field is required."]}


def test_system_endpoints(lab):
    assert lab.get("system/version/").json() == {"version": "2023.01"}
    assert lab.get("system/whoami/", "bob").json() == {"user": "bob"}
    assert lab.get("system/whoami/").json() == {"user": ""}
    assert lab.get("system/master_config/").json()["EVENT_TOPIC"] == "org.lavasoftware"


def test_unknown_routes_and_methods(lab):
    r = lab.get("nosuch/")
    assert r.status_code == 404 and r.json() == {"detail": "Not found."}
    r = requests.delete(lab.api + "jobs/validate/", timeout=30)
    assert r.status_code == 405
    assert lab.get("jobs/notanumber/").status_code == 404


# ---------------------------------------------------------------- the read cache (ADR 0006)

def test_reads_see_every_write_at_once_and_other_writers_soon(lab):
    [job_id] = lab.submit(job(name="cached"))
    assert lab.get("jobs/%d/" % job_id).json()["state"] == "Submitted"
    assert lab.get("jobs/%d/" % job_id).json()["state"] == "Submitted"  # may be served from memory
    assert lab.get("jobs/%d/cancel/" % job_id, "alice").status_code == 200  # a write through this server
    assert lab.get("jobs/%d/" % job_id).json()["state"] == "Finished"    # seen at once
    # Another writer (here SQL; in a lab, lava-scheduler): seen within the cache's lifetime.
    psql(lab.env, "UPDATE test_jobs SET priority = 7 WHERE id = %d" % job_id)
    import time
    start = time.monotonic()
    wait_for(lambda: lab.get("jobs/%d/" % job_id).json()["priority"] == 7, timeout=10, what="the SQL change")
    assert time.monotonic() - start < 5
    # Credentials are part of the key: one caller's answer is never another's.
    [private] = lab.submit(job(name="cached-private", visibility="personal"))
    assert lab.get("jobs/%d/" % private, "alice").status_code == 200
    assert lab.get("jobs/%d/" % private).status_code == 404
    assert lab.get("jobs/%d/" % private, "carol").status_code == 404
