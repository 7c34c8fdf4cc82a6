"""The web UI's pages on the real lava-server (issue 15, docs/adr/0011-web-ui.md):
user text is escaped, private jobs are invisible to those who may not see them
(in the HTML, in ?format=json and in the log's line ranges), keyset paging
walks every job once, filters name a bad value, the log is served by line
range, every page carries the security headers, static files are cached by
content hash, and a page's writes need the session's CSRF token."""

import json
import os
import re
import struct
import urllib.parse

import pytest
import requests

from conftest import browser_sign_in, psql, rest_lab

XSS = "<script>alert(1)</script>&\"'"


def job(name, visibility="public"):
    return ("job_name: %s\ndevice_type: qemu\nvisibility: %s\ntimeouts: {job: {minutes: 5}}\n"
            "actions:\n- deploy: {to: tmpfs, images: {rootfs: {url: \"https://example.com/r.img\"}}}\n"
            "- boot: {method: qemu, media: tmpfs, prompts: [\"# \"]}\n") % (json.dumps(name), visibility)


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


@pytest.fixture(scope="module")
def jobs(lab):
    """Jobs: one public with a hostile description, one personal to alice, 25 public paging jobs."""
    xss = lab.submit(job(XSS))[0]
    private = lab.submit(job("alice only", "personal"))[0]
    paging = [lab.submit(job("paging %d" % i), user="bob")[0] for i in range(25)]
    return {"xss": xss, "private": private, "paging": paging}


def root(lab):
    return lab.api[: -len("/api/v0.2/")]


def get(lab, path, user=None, **kw):
    return requests.get(root(lab) + path, headers=lab.headers(user), timeout=30, allow_redirects=False, **kw)


def page_json(lab, path, user=None):
    r = get(lab, path + ("&" if "?" in path else "?") + "format=json", user)
    assert r.status_code == 200, r.text
    return r.json()


def test_user_text_is_escaped_everywhere(lab, jobs):
    for path in ("/scheduler/alljobs", "/scheduler/job/%d" % jobs["xss"], "/scheduler/queue"):
        r = get(lab, path)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&amp;&#34;&#39;" in r.text, path
        assert "<script>alert" not in r.text, path
    # The same text, unescaped, in the page's JSON (what its scripts read).
    data = page_json(lab, "/scheduler/job/%d" % jobs["xss"])
    assert data["job"]["description"] == XSS


def test_private_jobs_are_invisible_to_others(lab, jobs):
    private = jobs["private"]
    for user in (None, "bob"):
        listed = [j["id"] for j in page_json(lab, "/scheduler/alljobs?length=500", user)["jobs"]]
        assert private not in listed and jobs["xss"] in listed
        assert get(lab, "/scheduler/job/%d" % private, user).status_code == 404
        assert get(lab, "/scheduler/job/%d/log_lines" % private, user).status_code == 404
        assert "alice only" not in get(lab, "/scheduler/alljobs?length=500", user).text
    for user in ("alice", "admin"):
        listed = [j["id"] for j in page_json(lab, "/scheduler/alljobs?length=500", user)["jobs"]]
        assert private in listed
        assert get(lab, "/scheduler/job/%d" % private, user).status_code == 200


def test_keyset_paging_walks_every_job_once(lab, jobs):
    expected = [j["id"] for j in page_json(lab, "/scheduler/alljobs?length=500")["jobs"]]
    assert expected == sorted(expected, reverse=True) and len(expected) >= 26
    seen, pages, path = [], [], "/scheduler/alljobs?length=10"
    while path:
        data = page_json(lab, path)
        pages.append(data)
        seen += [j["id"] for j in data["jobs"]]
        path = "/scheduler/alljobs?length=10&before=%d" % data["older"] if data["older"] is not None else None
    assert seen == expected
    assert pages[0]["newer"] is None and all(len(p["jobs"]) == 10 for p in pages[:-1])
    # And back: newer pages from the last one end at the first page's rows.
    back, data = [], pages[-1]
    while data["newer"] is not None:
        data = page_json(lab, "/scheduler/alljobs?length=10&after=%d" % data["newer"])
        back = [j["id"] for j in data["jobs"]] + back
    assert back + [j["id"] for j in pages[-1]["jobs"]] == expected
    # The HTML pager links to the same keys, keeping the filters.
    html = get(lab, "/scheduler/alljobs?length=10&submitter=bob").text
    older = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert "submitter=bob" in older and "length=10" in older and "before=" in older


def test_filters(lab, jobs):
    assert {j["state"] for j in page_json(lab, "/scheduler/alljobs?state=Submitted&length=500")["jobs"]} == {"Submitted"}
    assert page_json(lab, "/scheduler/alljobs?state=Running")["jobs"] == []
    mine = page_json(lab, "/scheduler/alljobs?submitter=bob&length=500")["jobs"]
    assert sorted(j["id"] for j in mine) == sorted(jobs["paging"])
    found = page_json(lab, "/scheduler/alljobs?q=PAGING%2012")["jobs"]
    assert [j["id"] for j in found] == [jobs["paging"][12]]
    r = get(lab, "/scheduler/alljobs?state=Sleeping")
    assert r.status_code == 400 and "state" in r.text and "Sleeping" in r.text
    # Sign-in is needed for "my jobs"; then it lists only the caller's.
    r = get(lab, "/scheduler/myjobs")
    assert r.status_code == 302 and r.headers["Location"].startswith("/accounts/login/?next=")
    assert {j["submitter"] for j in page_json(lab, "/scheduler/myjobs?length=500", "bob")["jobs"]} == {"bob"}


def test_queue_shows_position_and_reason(lab, jobs):
    data = page_json(lab, "/scheduler/queue?length=500", "admin")
    queued = data["jobs"]
    assert data["count"] == len(queued) >= 27
    assert [j["position"] for j in queued] == list(range(1, len(queued) + 1))
    assert all("waiting_reason" in j for j in queued)
    # lava-scheduler's order: priority, then submission.
    keys = [(-j["priority"], j["id"]) for j in queued]
    assert keys == sorted(keys)


def write_log(lab, job_id, lines):
    """A log as lava-server stores it (output.yaml + output.idx) with its committed extent."""
    submit = lab.get("jobs/%d/" % job_id, "admin").json()["submit_time"]
    y, m, d = submit[:4], submit[5:7], submit[8:10]
    out = os.path.join(lab.server.job_output, y, m, d, str(job_id))
    os.makedirs(out, exist_ok=True)
    offsets, data = [], b""
    for text in lines:
        offsets.append(len(data))
        data += text.encode() + b"\n"
    with open(os.path.join(out, "output.yaml"), "wb") as f:
        f.write(data)
    with open(os.path.join(out, "output.idx"), "wb") as f:
        f.write(b"".join(struct.pack("=Q", o) for o in offsets))
    psql(lab.env, "UPDATE test_jobs SET log_lines = %d, log_bytes = %d WHERE id = %d" % (len(lines), len(data), job_id))


def test_log_lines_by_range(lab, jobs):
    job_id = jobs["paging"][0]
    lines = ['- {"dt": "2026-12-05T10:00:00.%06d", "lvl": "target", "msg": "line %d"}' % (i % 1000000, i)
             for i in range(12000)]
    lines[9001] = '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "results", "msg": {"case": "c", "definition": "d", "result": "pass"}}'
    lines[9002] = '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "target", "msg": "%s"}' % XSS.replace('"', '\\"')
    write_log(lab, job_id, lines)
    r = get(lab, "/scheduler/job/%d/log_lines?start=9000&end=9003" % job_id)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    data = r.json()
    assert data["total"] == 12000 and data["start"] == 9000
    assert [l["lvl"] for l in data["lines"]] == ["target", "results", "target"]
    assert data["lines"][0]["msg"] == "line 9000"
    assert data["lines"][1]["msg"] == {"case": "c", "definition": "d", "result": "pass"}
    assert data["lines"][2]["msg"] == XSS
    # At most 5,000 lines a request; past the end, none.
    assert len(get(lab, "/scheduler/job/%d/log_lines?start=0&end=12000" % job_id).json()["lines"]) == 5000
    assert get(lab, "/scheduler/job/%d/log_lines?start=12000&end=12100" % job_id).json()["lines"] == []
    tail = get(lab, "/scheduler/job/%d/log_lines?start=11998&end=99999" % job_id).json()["lines"]
    assert [l["msg"] for l in tail] == ["line 11998", "line 11999"]
    # The page says how many lines there are; the viewer fetches them.
    assert 'data-lines="12000"' in get(lab, "/scheduler/job/%d" % job_id).text
    # Without JavaScript: LAVA's plain log, shown by the browser.
    r = get(lab, "/scheduler/job/%d/log_file/plain" % job_id)
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.text.splitlines() == lines and "Content-Disposition" not in r.headers
    assert get(lab, "/scheduler/job/%d/log_file/plain" % jobs["private"]).status_code == 404


def log_json(lab, job_id, what, status=200):
    r = get(lab, "/scheduler/job/%d/%s" % (job_id, what))
    assert r.status_code == status, r.text
    return r.json()


def test_log_levels_and_search_run_on_the_server(lab, jobs):
    job_id = jobs["paging"][1]
    lines = ['- {"dt": "2026-12-05T10:00:00.000000", "lvl": "target", "msg": "line %d"}' % i for i in range(12000)]
    lines[7000] = '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "results", "msg": {"case": "c", "definition": "d", "result": "fail"}}'
    lines[7001] = '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "error", "msg": "it broke: %s"}' % XSS.replace('"', '\\"')
    lines[7002] = '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "info", "msg": "caf\\u00e9 line"}'
    lines[7003] = '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "target", "msg": "%s"}' % ("x" * 40)
    write_log(lab, job_id, lines)
    out_dir = os.path.dirname(os.path.join(lab.server.job_output, "x"))
    # Levels: the rows are the lines at those levels, each with its number.
    data = log_json(lab, job_id, "log_lines?levels=results,error&start=0&end=10")
    assert data["total"] == 2 and data["lines_in_log"] == 12000
    assert [(l["n"], l["lvl"]) for l in data["lines"]] == [(7000, "results"), (7001, "error")]
    data = log_json(lab, job_id, "log_lines?levels=target&start=6999&end=7002")
    assert [l["n"] for l in data["lines"]] == [6999, 7003, 7004] and data["total"] == 11997
    assert "unknown level 'loud'" in log_json(lab, job_id, "log_lines?levels=loud", 400)["detail"]
    # A log stored without output.lvl was indexed by that first request.
    lvl = [os.path.join(d, "output.lvl") for d, _, files in os.walk(lab.server.job_output)
           if "output.lvl" in files and d.endswith("/%d" % job_id)]
    assert len(lvl) == 1 and os.path.getsize(lvl[0]) == 12000
    # Search: a regular expression over the messages, every match in order.
    assert log_json(lab, job_id, "log_search?q=line%2011[0-9]{3}$&from=0")["matches"] == list(range(11000, 12000))
    first = log_json(lab, job_id, "log_search?q=line%205")  # caseless: 5, 50-59, 500-599, 5000-5999
    assert len(first["matches"]) == 1000 and first["matches"][:3] == [5, 50, 51] and first["next"] is not None
    rest = log_json(lab, job_id, "log_search?q=line%%205&from=%d" % first["next"])
    assert len(first["matches"]) + len(rest["matches"]) == 1111 and rest["next"] is None
    assert log_json(lab, job_id, "log_search?q=LINE%205")["matches"] == []  # a capital: case-sensitive
    back = log_json(lab, job_id, "log_search?q=line%205&dir=prev&from=100")["matches"]
    assert back == [59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 5]
    # Escaped text is searched as shown: quotes, markup and non-ASCII.
    assert log_json(lab, job_id, "log_search?q=%3Cscript%3E.*%22")["matches"] == [7001]
    assert log_json(lab, job_id, "log_search?q=caf\u00e9")["matches"] == [7002]
    assert log_json(lab, job_id, "log_search?q=result.*fail")["matches"] == [7000]
    # The first error, as the banner's link finds it.
    assert log_json(lab, job_id, "log_search?levels=error,exception")["matches"] == [7001]
    assert "q:" in log_json(lab, job_id, "log_search?q=(", 400)["detail"]
    # A pattern that backtracks without end is stopped, and the server goes on serving.
    evil = "log_search?q=" + urllib.parse.quote(r"(x+x+)+\d")
    r = get(lab, "/scheduler/job/%d/%s" % (job_id, evil))
    assert r.status_code == 400 and "backtracks too much (on line 7004)" in r.json()["detail"], r.text
    assert log_json(lab, job_id, "log_search?q=line%2011999$")["matches"] == [11999]
    assert log_json(lab, jobs["paging"][2], "log_search?q=x")["matches"] == []  # no log at all


def test_security_headers_and_static_files(lab, jobs):
    for path in ("/scheduler/alljobs", "/scheduler/job/%d" % jobs["xss"], "/scheduler/job/999999"):
        r = get(lab, path)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert get(lab, "/scheduler/job/999999").status_code == 404
    html = get(lab, "/scheduler/alljobs").text
    assert "<script>" not in html and " on" + "click=" not in html  # no inline script or handlers
    css = re.search(r'href="(/static/ui/ui\.[0-9a-f]{12}\.css)"', html).group(1)
    r = get(lab, css)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/css")
    assert "immutable" in r.headers["Cache-Control"]
    stale = get(lab, "/static/ui/ui.000000000000.css")
    assert stale.status_code == 200 and stale.content == r.content and "immutable" not in stale.headers["Cache-Control"]
    for bad in ("/static/ui/nope.000000000000.css", "/static/ui/..%2F..%2Fetc%2Fpasswd", "/static/ui/ui"):
        assert get(lab, bad).status_code == 404, bad


def sign_in(lab, user):
    s, r = browser_sign_in(root(lab), user, user + "-pw")
    assert r.status_code == 302
    return s


def test_cancel_from_the_page_needs_csrf_and_permission(lab, jobs):
    target = jobs["paging"][24]
    url = root(lab) + "/scheduler/job/%d/cancel" % target
    bob = sign_in(lab, "bob")
    page = bob.get(root(lab) + "/scheduler/job/%d" % target, timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert token == bob.cookies["csrftoken"] and 'id="cancel"' in page
    # Without the token the cookie does not authenticate a write.
    r = bob.post(url, data={}, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert lab.get("jobs/%d/" % target, "admin").json()["state"] == "Submitted"
    # Another user's job: refused, and no Cancel button on its page.
    carol = sign_in(lab, "carol")
    carol_page = carol.get(root(lab) + "/scheduler/job/%d" % target, timeout=30).text
    assert 'id="cancel"' not in carol_page
    r = carol.post(url, data={"csrfmiddlewaretoken": carol.cookies["csrftoken"]}, allow_redirects=False, timeout=30)
    assert r.status_code == 403 and "Insufficient permissions" in r.text
    r = bob.post(url, data={"csrfmiddlewaretoken": token}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/scheduler/job/%d" % target
    assert lab.get("jobs/%d/" % target, "admin").json()["state"] in ("Canceling", "Finished")


def test_submit_validate_and_resubmit_pages(lab, jobs):
    # The editor needs a session; the check does not (as REST's jobs/validate/).
    r = get(lab, "/scheduler/jobsubmit")
    assert r.status_code == 302 and r.headers["Location"] == "/accounts/login/?next=/scheduler/jobsubmit"
    bad = job("typo").replace("timeouts:", "timeoutz:")
    r = requests.post(root(lab) + "/scheduler/jobsubmit/validate", data={"definition": bad}, timeout=30)
    assert r.status_code == 200 and r.json()["valid"] is False
    assert {"path": "timeoutz", "line": 4} in [{"path": i["path"], "line": i["line"]} for i in r.json()["issues"]]
    r = requests.post(root(lab) + "/scheduler/jobsubmit/validate", data={"definition": job("fine")}, timeout=30)
    assert r.json() == {"valid": True, "issues": []}
    # Submitting: with the session's CSRF token only.
    alice = sign_in(lab, "alice")
    url = root(lab) + "/scheduler/jobsubmit"
    r = alice.post(url, data={"definition": job("from the form")}, allow_redirects=False, timeout=30)
    assert r.status_code == 403
    token = alice.cookies["csrftoken"]
    r = alice.post(url, data={"definition": job("from the form"), "csrfmiddlewaretoken": token},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 302 and re.fullmatch(r"/scheduler/job/[0-9]+", r.headers["Location"])
    new_id = int(r.headers["Location"].rsplit("/", 1)[1])
    stored = lab.get("jobs/%d/" % new_id, "admin").json()
    assert stored["submitter"] == "alice" and stored["description"] == "from the form"
    # A refused definition: the editor again, with LAVA's error and the text kept (escaped).
    r = alice.post(url, data={"definition": bad + "# " + XSS, "csrfmiddlewaretoken": token},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 400 and "Problem with submitted job data" in r.text and "timeoutz" in r.text
    assert "# &lt;script&gt;alert(1)&lt;/script&gt;" in r.text and "<script>alert" not in r.text
    # Resubmit: the editor with the job's definition, which submits a new job.
    page = alice.get(root(lab) + "/scheduler/job/%d/resubmit" % new_id, timeout=30).text
    assert "job_name: &#34;from the form&#34;" in page and 'name="original" value="%d"' % new_id in page
    r = alice.post(url, data={"definition": job("again"), "original": str(new_id), "csrfmiddlewaretoken": token},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] != "/scheduler/job/%d" % new_id
    # The definition, numbered and escaped, and as a download.
    r = get(lab, "/scheduler/job/%d/definition" % jobs["xss"])
    assert r.status_code == 200 and 'id="L1"' in r.text and "&lt;script&gt;alert(1)" in r.text
    r = get(lab, "/scheduler/job/%d/definition/plain" % jobs["xss"])
    assert r.headers["Content-Type"].startswith("text/plain") and "job_name: %s\n" % json.dumps(XSS) in r.text
    assert get(lab, "/scheduler/job/%d/definition" % jobs["private"]).status_code == 404


def test_lab_pages_and_their_visibility(lab, jobs):
    # Private device types (secret-type: group "team", which bob is in) and their devices.
    for user in (None, "alice"):
        devices = [d["hostname"] for d in page_json(lab, "/scheduler/alldevices", user)["devices"]]
        assert devices == ["qemu01", "qemu02"]
        types = [t["name"] for t in page_json(lab, "/scheduler/device_types", user)["types"]]
        assert "secret-type" not in types and "qemu" in types
        assert get(lab, "/scheduler/device/secret01", user).status_code == 404
        assert get(lab, "/scheduler/device/secret01/devicedict", user).status_code == 404
        assert get(lab, "/scheduler/device_type/secret-type", user).status_code == 404
        assert "secret01" not in get(lab, "/scheduler/alldevices", user).text
        assert "secret01" not in get(lab, "/", user).text
    assert "secret01" in [d["hostname"] for d in page_json(lab, "/scheduler/alldevices", "bob")["devices"]]
    assert get(lab, "/scheduler/device/secret01", "bob").status_code == 200
    # The dashboard counts each visible type's devices and queue.
    qemu = [t for t in page_json(lab, "/", "admin")["types"] if t["name"] == "qemu"][0]
    assert qemu["devices"] == 2 and qemu["queue"] >= 25
    assert sum(qemu[k] for k in ("idle", "busy", "offline", "maintenance", "bad")) == 2
    # Worker pages.
    workers = page_json(lab, "/scheduler/allworkers")["workers"]
    assert [w["hostname"] for w in workers] == ["worker01"] and workers[0]["devices"] == 2
    assert get(lab, "/scheduler/worker/worker01").status_code == 200
    assert get(lab, "/scheduler/worker/nope").status_code == 404
    assert get(lab, "/scheduler/device_type/qemu").status_code == 200


def test_health_changes_need_permission_csrf_and_keep_the_reason(lab, jobs):
    url = root(lab) + "/scheduler/device/qemu02/health"
    alice = sign_in(lab, "alice")
    page = alice.get(root(lab) + "/scheduler/device/qemu02", timeout=30).text
    assert 'id="health-dialog"' not in page  # not hers to change
    r = alice.post(url, data={"health": "Bad", "reason": "x", "csrfmiddlewaretoken": alice.cookies["csrftoken"]},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 403 and "may not change" in r.text
    admin = sign_in(lab, "admin")
    assert 'id="health-dialog"' in admin.get(root(lab) + "/scheduler/device/qemu02", timeout=30).text
    r = admin.post(url, data={"health": "Bad", "reason": "broken"}, allow_redirects=False, timeout=30)
    assert r.status_code == 403  # no CSRF token: not authenticated for a write
    r = admin.post(url, data={"health": "Sleepy", "reason": "x", "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 400 and "Sleepy" in r.text
    r = admin.post(url, data={"health": "Maintenance", "reason": "<b>cable</b> swap",
                              "csrfmiddlewaretoken": admin.cookies["csrftoken"]}, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/scheduler/device/qemu02"
    data = page_json(lab, "/scheduler/device/qemu02", "admin")
    assert data["device"]["health"] == "Maintenance"
    last = data["transitions"][0]
    assert (last["actor"], last["new_health"]) == ("admin", "Maintenance")
    assert last["reason"] == "Good → Maintenance (<b>cable</b> swap)" 
    assert "&lt;b&gt;cable&lt;/b&gt; swap" in get(lab, "/scheduler/device/qemu02").text
    # Worker health: administrators only.
    wurl = root(lab) + "/scheduler/worker/worker01/health"
    r = alice.post(wurl, data={"health": "Maintenance", "csrfmiddlewaretoken": alice.cookies["csrftoken"]},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 403
    r = admin.post(wurl, data={"health": "Maintenance", "reason": "upgrade",
                               "csrfmiddlewaretoken": admin.cookies["csrftoken"]}, allow_redirects=False, timeout=30)
    assert r.status_code == 302
    assert page_json(lab, "/scheduler/worker/worker01")["worker"]["health"] == "Maintenance"
    r = admin.post(wurl, data={"health": "Active", "csrfmiddlewaretoken": admin.cookies["csrftoken"]},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 302


def add_results(lab, job_id, cases):
    """Test cases as lava-server stores them: [(suite, name, result 0-3, measurement or None)]."""
    for suite, name, result, measurement in cases:
        psql(lab.env, "INSERT INTO test_suites (job_id, name) VALUES (%d, '%s') ON CONFLICT DO NOTHING" % (job_id, suite))
        psql(lab.env, "INSERT INTO test_cases (suite_id, name, result, measurement) SELECT id, $q$%s$q$, %d, %s "
                      "FROM test_suites WHERE job_id = %d AND name = '%s'"
             % (name, result, "NULL" if measurement is None else measurement, job_id, suite))


def test_results_pages_compare_with_the_previous_run(lab, jobs):
    old, new = lab.submit(job("nightly"), user="bob")[0], lab.submit(job("nightly"), user="bob")[0]
    psql(lab.env, "UPDATE test_jobs SET state = 5, health = 1, start_time = now(), end_time = now() "
                  "WHERE id IN (%d, %d)" % (old, new))
    add_results(lab, old, [("0_smoke", "boot", 0, None), ("0_smoke", "net", 1, None), ("0_smoke", "disk", 0, None)])
    add_results(lab, new, [("0_smoke", "boot", 1, None), ("0_smoke", "net", 0, None), ("0_smoke", "disk", 0, "12.5"),
                           ("0_smoke", XSS, 0, None), ("lava", "job", 0, None)])
    add_results(lab, jobs["private"], [("0_secret", "hidden-case", 0, None)])
    data = page_json(lab, "/results/%d" % new)
    assert data["previous"]["id"] == old
    changes = {c["name"]: (c["result"], c["previous"], c["change"]) for c in data["cases"]}
    assert changes["boot"] == ("fail", "pass", "regression")
    assert changes["net"] == ("pass", "fail", "fixed")
    assert changes["disk"] == ("pass", "pass", "")
    assert changes[XSS] == ("pass", None, "new")
    assert (data["regressions"], data["fixes"], data["added"]) == (1, 1, 2)
    assert {(s["name"], s["pass"], s["fail"], s["total"]) for s in data["suites"]} == {("0_smoke", 3, 1, 4), ("lava", 1, 0, 1)}
    assert [c["measurement"] for c in data["cases"] if c["name"] == "disk"] == ["12.5"]
    html = get(lab, "/results/%d" % new).text
    assert "change-regression" in html and "&lt;script&gt;alert(1)" in html and "<script>alert" not in html
    # A suite, and a case by its id.
    suite = page_json(lab, "/results/%d/0_smoke" % new)
    assert len(suite["cases"]) == 4 and suite["suite"]["name"] == "0_smoke"
    case_id = [c["id"] for c in data["cases"] if c["name"] == "boot"][0]
    case = page_json(lab, "/results/%d/0_smoke/%d" % (new, case_id))
    assert case["case"]["name"] == "boot" and case["case"]["result"] == "fail"
    assert get(lab, "/results/%d/nosuite" % new).status_code == 404
    # The overview: newest jobs first; a private job's suites only to who may see it.
    overview = page_json(lab, "/results/")["suites"]
    assert [s["job"] for s in overview][:3] == [new, new, old]
    assert jobs["private"] not in [s["job"] for s in overview]
    assert "0_secret" not in get(lab, "/results/").text
    assert jobs["private"] in [s["job"] for s in page_json(lab, "/results/", "alice")["suites"]]
    assert get(lab, "/results/%d" % jobs["private"]).status_code == 404
    assert get(lab, "/results/%d" % jobs["private"], "alice").status_code == 200


def test_tokens_profile_and_api_help(lab, jobs):
    assert get(lab, "/api/tokens/").status_code == 302
    carol = sign_in(lab, "carol")
    token = carol.cookies["csrftoken"]
    r = carol.post(root(lab) + "/api/tokens/create", data={"description": "<i>ci</i>"}, timeout=30)
    assert r.status_code == 403  # no CSRF token
    r = carol.post(root(lab) + "/api/tokens/create", data={"description": "<i>ci</i>", "csrfmiddlewaretoken": token},
                   timeout=30)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    secret = re.search(r'<pre class="code" id="token-secret">([0-9a-z]{128})</pre>', r.text).group(1)
    assert "&lt;i&gt;ci&lt;/i&gt;" in r.text
    # It works, and is never shown again (only its prefix).
    assert requests.get(lab.api + "system/whoami/", headers={"Authorization": "Token " + secret},
                        timeout=30).json()["user"] == "carol"
    page = carol.get(root(lab) + "/api/tokens/", timeout=30).text
    assert secret not in page and secret[:8] in page
    token_id = int(re.search(r'data-token="([0-9]+)"><td><code>%s' % secret[:8], page).group(1))
    r = carol.post(root(lab) + "/api/tokens/%d/delete" % token_id, data={"csrfmiddlewaretoken": token},
                   allow_redirects=False, timeout=30)
    assert r.status_code == 302
    gone = requests.get(lab.api + "system/whoami/", headers={"Authorization": "Token " + secret}, timeout=30)
    assert gone.status_code == 403 and gone.json() == {"detail": "Invalid token."}
    # Another user's token cannot be deleted through the page.
    other = sign_in(lab, "bob")
    assert other.post(root(lab) + "/api/tokens/%d/delete" % token_id,
                      data={"csrfmiddlewaretoken": other.cookies["csrftoken"]}, timeout=30).status_code == 404
    assert carol.get(root(lab) + "/me/", timeout=30).status_code == 200
    help_page = get(lab, "/api/help/").text
    assert 'id="scheduler.submit_job"' in help_page and 'id="system.listMethods"' in help_page
    # The sign-in page: the UI's, with the form's CSRF token in a cookie.
    r = get(lab, "/accounts/login/?next=/results/")
    assert r.status_code == 200 and 'name="csrfmiddlewaretoken"' in r.text and "csrftoken=" in r.headers["Set-Cookie"]
    assert "Content-Security-Policy" in r.headers


def test_pipeline_from_the_log(lab, jobs):
    job_id = jobs["paging"][3]
    lines = [
        '- {"dt": "2026-12-05T10:00:00.000000", "lvl": "info", "msg": "start: 1 deployimages (timeout 00:03:00) [common]"}',
        '- {"dt": "2026-12-05T10:00:01.000000", "lvl": "debug", "msg": "start: 1.1 download-retry (timeout 00:02:59) [common]"}',
        '- {"dt": "2026-12-05T10:00:02.000000", "lvl": "target", "msg": "start: 9 not an action line (timeout 00:00:01) [x]"}',
        '- {"dt": "2026-12-05T10:00:03.000000", "lvl": "debug", "msg": "end: 1.1 download-retry (duration 00:00:02) [common]"}',
        '- {"dt": "2026-12-05T10:00:04.000000", "lvl": "info", "msg": "end: 1 deployimages (duration 00:00:04) [common]"}',
        '- {"dt": "2026-12-05T10:00:05.000000", "lvl": "info", "msg": "start: 2 boot-qemu-image (timeout 00:05:00) [common]"}',
        '- {"dt": "2026-12-05T10:00:05.000000", "lvl": "info", "msg": "start: not parsed"}',
    ]
    write_log(lab, job_id, lines)
    data = log_json(lab, job_id, "pipeline")
    assert data["next"] == 7
    assert [(e["kind"], e["level"], e["name"], e["n"], e.get("timeout") or e.get("duration")) for e in data["events"]] == [
        ("start", "1", "deployimages", 0, "00:03:00"), ("start", "1.1", "download-retry", 1, "00:02:59"),
        ("end", "1.1", "download-retry", 3, "00:00:02"), ("end", "1", "deployimages", 4, "00:00:04"),
        ("start", "2", "boot-qemu-image", 5, "00:05:00")]
    assert data["events"][0]["dt"] == "2026-12-05T10:00:00.000000"
    assert [e["n"] for e in log_json(lab, job_id, "pipeline?from=4")["events"]] == [4, 5]
    assert get(lab, "/scheduler/job/%d/pipeline" % jobs["private"]).status_code == 404


def test_bulk_cancel_and_resubmit_from_the_lists(lab, jobs):
    bob = sign_in(lab, "bob")
    token = bob.cookies["csrftoken"]
    page = bob.get(root(lab) + "/scheduler/alljobs?submitter=bob", timeout=30).text
    assert 'name="job" value="%d"' % jobs["paging"][20] in page and 'id="bulk-cancel"' in page
    assert 'id="bulk-cancel"' not in get(lab, "/scheduler/alljobs").text  # anonymous: no bulk actions
    mine = [jobs["paging"][20], jobs["paging"][21]]
    form = [("csrfmiddlewaretoken", token), ("next", "/scheduler/alljobs?submitter=bob")] + [("job", str(j)) for j in mine]
    r = bob.post(root(lab) + "/scheduler/jobs/cancel", data=form, allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == "/scheduler/alljobs?submitter=bob"
    assert {lab.get("jobs/%d/" % j, "admin").json()["state"] for j in mine} <= {"Canceling", "Finished"}
    # A job bob may not see, and one he may not cancel: said; his own still canceled.
    theirs = lab.submit(job("carol's"), user="carol")[0]
    form = [("csrfmiddlewaretoken", token), ("job", str(jobs["private"])), ("job", str(theirs)),
            ("job", str(jobs["paging"][22]))]
    r = bob.post(root(lab) + "/scheduler/jobs/cancel", data=form, allow_redirects=False, timeout=30)
    assert r.status_code == 403 and "1 canceled" in r.text and "%d: not found" % jobs["private"] in r.text
    assert "%d: Insufficient permissions" % theirs in r.text
    assert lab.get("jobs/%d/" % jobs["paging"][22], "admin").json()["state"] in ("Canceling", "Finished")
    assert lab.get("jobs/%d/" % theirs, "admin").json()["state"] == "Submitted"
    # Resubmit one: straight to the new job.
    r = bob.post(root(lab) + "/scheduler/jobs/resubmit", data=[("csrfmiddlewaretoken", token), ("job", str(mine[0]))],
                 allow_redirects=False, timeout=30)
    assert r.status_code == 302 and re.fullmatch(r"/scheduler/job/[0-9]+", r.headers["Location"])
    again = lab.get("jobs/%s/" % r.headers["Location"].rsplit("/", 1)[1], "admin").json()
    assert again["submitter"] == "bob" and again["description"] == "paging 20"
    # Without the CSRF token: refused.
    r = bob.post(root(lab) + "/scheduler/jobs/cancel", data=[("job", str(theirs))], allow_redirects=False, timeout=30)
    assert r.status_code == 403 and lab.get("jobs/%d/" % theirs, "admin").json()["state"] == "Submitted"


def test_configuration_files_of_a_job(lab, jobs):
    job_id = jobs["paging"][5]
    assert "Nothing yet" in get(lab, "/scheduler/job/%d/configuration" % job_id).text
    submit = lab.get("jobs/%d/" % job_id, "admin").json()["submit_time"]
    out = os.path.join(lab.server.job_output, submit[:4], submit[5:7], submit[8:10], str(job_id))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "device.yaml"), "w") as f:
        f.write("device_type: qemu\n# <b>not markup</b>\n")
    page = get(lab, "/scheduler/job/%d/configuration" % job_id).text
    assert "device.yaml" in page and "&lt;b&gt;not markup&lt;/b&gt;" in page and "job.yaml" not in page
    r = get(lab, "/scheduler/job/%d/configuration/device.yaml" % job_id)
    assert r.status_code == 200 and r.text.startswith("device_type: qemu") and "attachment" in r.headers["Content-Disposition"]
    for bad in ("job.yaml", "output.yaml", "..%2Foutput.yaml", "secrets"):
        assert get(lab, "/scheduler/job/%d/configuration/%s" % (job_id, bad)).status_code == 404, bad
    assert get(lab, "/scheduler/job/%d/configuration" % jobs["private"]).status_code == 404


def test_dashboard_shows_each_running_jobs_current_action(lab, jobs):
    job_id = jobs["paging"][6]
    lines = [
        '- {"dt": "2026-12-05T10:00:00.000000", "lvl": "info", "msg": "start: 1 deployimages (timeout 00:03:00) [common]"}',
        '- {"dt": "2026-12-05T10:00:04.000000", "lvl": "info", "msg": "end: 1 deployimages (duration 00:00:04) [common]"}',
        '- {"dt": "2026-12-05T10:00:05.000000", "lvl": "info", "msg": "start: 2 boot-qemu-image (timeout 00:05:00) [common]"}',
        '- {"dt": "2026-12-05T10:00:05.000000", "lvl": "debug", "msg": "start: 2.1 execute-qemu (timeout 00:05:00) [common]"}',
        '- {"dt": "2026-12-05T10:00:06.000000", "lvl": "debug", "msg": "end: 2.1 execute-qemu (duration 00:00:01) [common]"}',
    ] + ['- {"dt": "2026-12-05T10:00:07.000000", "lvl": "target", "msg": "booting %d"}' % i for i in range(3000)]
    write_log(lab, job_id, lines)
    psql(lab.env, "UPDATE test_jobs SET state = 3, start_time = now(), actual_device = 'qemu01' WHERE id = %d" % job_id)
    running = {j["id"]: j for j in page_json(lab, "/")["running"]}
    assert running[job_id]["action"] == {"level": "2", "name": "boot-qemu-image", "line": 2}
    assert 'href="/scheduler/job/%d#L3">2 boot-qemu-image</a>' % job_id in get(lab, "/").text
    psql(lab.env, "UPDATE test_jobs SET state = 5, end_time = now() WHERE id = %d" % job_id)
