"""The sysadmin's front proxy: Debian's nginx with the shipped site file
(etc/nginx/lava-server.conf) in front of a lab, with TLS from a CA of the
test's own. The real lavacli and a WebSocket client go through it; HTTP is
redirected to HTTPS; the metrics stay inside."""

import json
import os
import queue
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading

import pytest
import requests
import yaml

from conftest import SOURCE_DIR, qemu_job, rest_lab, wait_for

NGINX = "/usr/sbin/nginx"
LAVACLI = "/usr/bin/lavacli"



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificates(d):
    """A CA and a certificate for localhost signed by it; the CA's path."""
    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=lava-cpp test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return os.path.join(d, "ca.pem")


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env, publisher_args=[])


@pytest.fixture(scope="module")
def proxy(lab):
    """nginx with the shipped site: its upstreams, ports and certificate
    pointed at this lab, nothing else changed."""
    if not os.access(NGINX, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail("nginx is not installed (tools/install-deps --test)")
        pytest.skip("nginx is not installed")
    d = tempfile.mkdtemp(prefix="lava-nginx-")
    try:
        ca = certificates(d)
        http_port, https_port = free_port(), free_port()
        with open(os.path.join(SOURCE_DIR, "etc", "nginx", "lava-server.conf")) as f:
            site = f.read()
        server = lab.server.url[len("http://"):]
        for old, new in (("127.0.0.1:8000", server), ("127.0.0.1:8001", lab.publisher.ws_address),
                         ("listen 80;", "listen 127.0.0.1:%d;" % http_port), ("listen [::]:80;", ""),
                         ("listen 443 ssl http2;", "listen 127.0.0.1:%d ssl http2;" % https_port),
                         ("listen [::]:443 ssl http2;", ""), ("lava.example.com;", "localhost;"),
                         ("/etc/ssl/certs/lava.example.com.pem", os.path.join(d, "server.pem")),
                         ("/etc/ssl/private/lava.example.com.key", os.path.join(d, "server.key"))):
            assert old in site, old
            site = site.replace(old, new)
        with open(os.path.join(d, "site.conf"), "w") as f:
            f.write(site)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write("user root;\nworker_processes 1;\npid %(d)s/nginx.pid;\nerror_log %(d)s/error.log;\n"
                    "events {}\nhttp {\n  access_log %(d)s/access.log;\n  client_body_temp_path %(d)s/body;\n"
                    "  proxy_temp_path %(d)s/proxy;\n  fastcgi_temp_path %(d)s/fastcgi;\n"
                    "  uwsgi_temp_path %(d)s/uwsgi;\n  scgi_temp_path %(d)s/scgi;\n  include %(d)s/site.conf;\n}\n"
                    % {"d": d})
        check = subprocess.run([NGINX, "-t", "-p", d, "-c", os.path.join(d, "nginx.conf")], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stderr
        nginx = subprocess.Popen([NGINX, "-p", d, "-c", os.path.join(d, "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

        def answers():
            assert nginx.poll() is None, nginx.stderr.read()
            try:
                return requests.get("https://localhost:%d/api/v0.2/system/version/" % https_port, verify=ca,
                                    timeout=5).status_code == 200
            except requests.ConnectionError:
                return False
        wait_for(answers, what="nginx to serve")
        yield {"ca": ca, "https": "https://localhost:%d" % https_port, "http": "http://localhost:%d" % http_port,
               "dir": d}
        nginx.terminate()
        nginx.wait(timeout=30)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_http_is_redirected_to_https(proxy):
    r = requests.get(proxy["http"] + "/scheduler/alljobs?state=running", allow_redirects=False, timeout=10)
    assert r.status_code == 301
    assert r.headers["Location"] == "https://localhost/scheduler/alljobs?state=running"


def test_lavacli_through_the_proxy(proxy, lab, tmp_path):
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path), LC_ALL="C.UTF-8", REQUESTS_CA_BUNDLE=proxy["ca"],
               SSL_CERT_FILE=proxy["ca"])
    with open(tmp_path / "lavacli.yaml", "w") as f:
        yaml.safe_dump({"lab": {"uri": proxy["https"] + "/RPC2", "username": "admin", "token": lab.tokens["admin"]}}, f)

    def lavacli(*args):
        r = subprocess.run([LAVACLI, "-i", "lab"] + list(args), env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    assert lavacli("system", "version").strip() == "2023.01"
    assert lavacli("system", "whoami").strip() == "admin"
    (tmp_path / "job.yaml").write_text(qemu_job("through the proxy"))
    job_id = int(lavacli("jobs", "submit", str(tmp_path / "job.yaml")).strip())
    shown = yaml.safe_load(lavacli("jobs", "show", str(job_id), "--yaml"))
    assert shown["id"] == job_id and shown["state"] == "Submitted"
    # Events: lavacli derives https://localhost:<port>/ws/ from the URI; nginx relays it to lava-publisher.
    connections = lab.publisher.output().count("websocket ")
    listen = subprocess.Popen([LAVACLI, "-i", "lab", "events", "listen"], env=dict(env, PYTHONUNBUFFERED="1"),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in listen.stdout], daemon=True).start()
    try:
        wait_for(lambda: lab.publisher.output().count("websocket ") > connections, what="lavacli to connect")
        seen = []
        second = int(lavacli("jobs", "submit", str(tmp_path / "job.yaml")).strip())
        while not any("org.lavasoftware.testjob" in line and "[%d]" % second in line for line in seen):
            seen.append(lines.get(timeout=30))
        assert seen[0] == "Connecting to %s/ws/\n" % proxy["https"], seen
    finally:
        listen.kill()
        listen.wait()


def test_a_websocket_client_through_the_proxy(proxy, lab):
    import websocket
    before = lab.publisher.output().count(": anonymous")
    ws = websocket.create_connection(proxy["https"].replace("https", "wss") + "/ws/", timeout=30,
                                     sslopt={"ca_certs": proxy["ca"], "cert_reqs": ssl.CERT_REQUIRED})
    try:
        wait_for(lambda: lab.publisher.output().count(": anonymous") > before, what="the publisher to see the client")
        job_id = lab.submit(qemu_job("through the proxy"), user="admin")[0]
        while True:
            topic, _, _, _, payload = json.loads(ws.recv())
            if topic.endswith(".testjob") and json.loads(payload)["job"] == job_id:
                break
    finally:
        ws.close()


def test_metrics_and_probes_stay_inside(proxy, lab):
    for path in ("/metrics", "/healthz", "/readyz"):
        assert requests.get(proxy["https"] + path, verify=proxy["ca"], timeout=10).status_code == 404, path
        assert requests.get(lab.server.url + path, timeout=10).status_code == 200, path
