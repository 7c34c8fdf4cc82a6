"""Browser sessions on the real lava-server: sign-in sets the sessionid and
csrftoken cookies, the cookie authenticates REST reads, writes need the CSRF
token as well, sign-out ends the session, and the database never holds a
usable session secret."""

import pytest
import requests

from conftest import browser_sign_in, psql, rest_lab

JOB = """\
job_name: session-job
device_type: qemu
visibility: personal
timeouts: {job: {minutes: 5}}
actions:
- deploy: {to: tmpfs, images: {rootfs: {url: "https://example.com/r.img"}}}
- boot: {method: qemu, media: tmpfs, prompts: ["# "]}
"""


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


def root(lab):
    return lab.api[: -len("/api/v0.2/")]


def sign_in(lab, username, password, next_url=None):
    return browser_sign_in(root(lab), username, password, next_url)


def whoami(lab, session):
    return session.get(lab.api + "system/whoami/", timeout=30).json()["user"]


def test_sign_in_page_is_served(lab):
    r = requests.get(root(lab) + "/accounts/login/?next=/scheduler/", timeout=30)
    assert r.status_code == 200 and 'name="password"' in r.text and 'value="/scheduler/"' in r.text


def test_sign_in_form_needs_its_csrf_token(lab):
    # Without the token of the page's cookie (another site's form), no session.
    for data in ({"username": "alice", "password": "alice-pw"},
                 {"username": "alice", "password": "alice-pw", "csrfmiddlewaretoken": "x" * 48}):
        s = requests.Session()
        r = s.post(root(lab) + "/accounts/login/", data=data, allow_redirects=False, timeout=30)
        assert r.status_code == 403 and "security token" in r.text
        assert "sessionid" not in s.cookies and whoami(lab, s) == ""
    s, r = sign_in(lab, "alice", "alice-pw")
    assert r.status_code == 302 and whoami(lab, s) == "alice"


def test_wrong_password_sets_no_cookie(lab):
    s, r = sign_in(lab, "alice", "not-her-password")
    assert r.status_code == 200 and "correct username and password" in r.text
    assert "sessionid" not in s.cookies
    assert whoami(lab, s) == ""


def test_sign_in_sets_cookies_and_authenticates(lab):
    s, r = sign_in(lab, "alice", "alice-pw", "/scheduler/jobs")
    assert r.status_code == 302 and r.headers["Location"] == "/scheduler/jobs"
    cookies = r.headers["Set-Cookie"]
    assert "sessionid=" in cookies and "HttpOnly" in cookies and "SameSite=Lax" in cookies
    assert "csrftoken" in s.cookies
    assert whoami(lab, s) == "alice"


def test_redirect_stays_on_this_site(lab):
    for target in ("//evil.example/", "http://evil.example/", "/\\evil.example"):
        _, r = sign_in(lab, "alice", "alice-pw", target)
        assert r.status_code == 302 and r.headers["Location"] == "/", target


def test_session_writes_need_the_csrf_token(lab):
    s, _ = sign_in(lab, "alice", "alice-pw")
    r = s.post(lab.api + "jobs/", data={"definition": JOB}, timeout=30)
    assert r.status_code == 403 and r.json() == {"detail": "CSRF Failed: CSRF token missing or incorrect."}
    r = s.post(lab.api + "jobs/", data={"definition": JOB}, headers={"X-CSRFToken": "0" * 48}, timeout=30)
    assert r.status_code == 403
    # Nothing was written by the refused requests.
    assert psql(lab.env, "SELECT count(*) FROM test_jobs WHERE description = 'session-job'") == "0"
    r = s.post(lab.api + "jobs/", data={"definition": JOB}, headers={"X-CSRFToken": s.cookies["csrftoken"]},
               timeout=30)
    assert r.status_code == 201, r.text
    [job_id] = r.json()["job_ids"]
    # The cookie sees alice's personal job; bob's does not.
    assert s.get(lab.api + "jobs/%d/" % job_id, timeout=30).status_code == 200
    bob, _ = sign_in(lab, "bob", "bob-pw")
    assert bob.get(lab.api + "jobs/%d/" % job_id, timeout=30).status_code == 404


def test_form_field_csrf_token_is_accepted(lab):
    s, _ = sign_in(lab, "alice", "alice-pw")
    r = s.post(lab.api + "jobs/", data={"definition": JOB, "csrfmiddlewaretoken": s.cookies["csrftoken"]},
               timeout=30)
    assert r.status_code == 201, r.text


def test_token_header_wins_over_the_cookie(lab):
    s, _ = sign_in(lab, "alice", "alice-pw")
    r = s.get(lab.api + "system/whoami/", headers=lab.headers("bob"), timeout=30)
    assert r.json()["user"] == "bob"


def test_sign_out_ends_the_session(lab):
    s, _ = sign_in(lab, "carol", "carol-pw")
    stolen = s.cookies["sessionid"]
    assert whoami(lab, s) == "carol"
    r = s.post(root(lab) + "/accounts/logout/", allow_redirects=False, timeout=30)
    assert r.status_code == 302
    assert whoami(lab, s) == ""
    # The old cookie is dead on the server too, not only forgotten by the client.
    r = requests.get(lab.api + "system/whoami/", cookies={"sessionid": stolen}, timeout=30)
    assert r.json()["user"] == ""


def test_database_holds_only_hashes(lab):
    s, _ = sign_in(lab, "alice", "alice-pw")
    key = s.cookies["sessionid"]
    stored = psql(lab.env, "SELECT string_agg(key_hash, ',') FROM user_sessions").split(",")
    assert key not in stored and len(stored) >= 1
    import hashlib
    assert hashlib.sha256(key.encode()).hexdigest() in stored


def test_expired_and_inactive_sessions_authenticate_no_one(lab):
    s, _ = sign_in(lab, "bob", "bob-pw")
    psql(lab.env, "UPDATE user_sessions SET expires_on = now() - interval '1 second' "
                  "WHERE user_id = (SELECT id FROM users WHERE username = 'bob')")
    assert whoami(lab, s) == ""
    s, _ = sign_in(lab, "carol", "carol-pw")
    psql(lab.env, "UPDATE users SET is_active = false WHERE username = 'carol'")
    try:
        assert whoami(lab, s) == ""
    finally:
        psql(lab.env, "UPDATE users SET is_active = true WHERE username = 'carol'")


def test_xmlrpc_takes_the_session_only_with_its_csrf_token(lab):
    import xmlrpc.client
    s, _ = sign_in(lab, "alice", "alice-pw")
    body = xmlrpc.client.dumps((), "system.whoami")
    headers = {"Content-Type": "text/xml"}
    r = s.post(root(lab) + "/RPC2", data=body, headers=headers, timeout=30)
    assert xmlrpc.client.loads(r.content)[0][0] is None  # a cross-site POST carries the cookie alone
    r = s.post(root(lab) + "/RPC2", data=body, headers=dict(headers, **{"X-CSRFToken": s.cookies["csrftoken"]}),
               timeout=30)
    assert xmlrpc.client.loads(r.content)[0][0] == "alice"
