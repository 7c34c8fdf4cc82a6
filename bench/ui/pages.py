"""Server time of the web UI's pages (keep-alive, one client), p50/p99, beside
LAVA 2023.01's (../shared/reference/lava-ui.md, 2,904 jobs, median of 5)."""

import argparse
import http.client
import os
import re
import statistics
import time
import urllib.parse


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


class Client:
    def __init__(self, url, cookie=None):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        self.headers = {"Cookie": cookie} if cookie else {}

    def get(self, path):
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        body = r.read()
        return r.status, body, (time.perf_counter() - t0) * 1000


def sign_in(url, user, password):
    c = Client(url)
    status, body, _ = c.get("/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = urllib.parse.urlencode({"username": user, "password": password, "csrfmiddlewaretoken": token})
    c.conn.request("POST", "/accounts/login/", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": "csrftoken=" + token})
    r = c.conn.getresponse()
    r.read()
    cookies = [v.split(";")[0] for k, v in r.getheaders() if k.lower() == "set-cookie"]
    return "; ".join(cookies)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    url = os.environ["LAVA_URL"]
    server = os.environ["LAVA_SERVER"]
    import subprocess
    password = "bench-" + os.urandom(6).hex()
    subprocess.run([server, "manage", "users", "update", os.environ["LAVA_ADMIN_USER"], "--passwd", password],
                   check=True, stdout=subprocess.DEVNULL)
    admin = Client(url, sign_in(url, os.environ["LAVA_ADMIN_USER"], password))
    anon = Client(url)
    last = int(subprocess.run(["psql", "-X", "-tA", "-c", "SELECT max(id) FROM test_jobs WHERE is_public"], check=True,
                              capture_output=True, text=True).stdout)
    deep = int(subprocess.run(["psql", "-X", "-tA", "-c", "SELECT id FROM test_jobs ORDER BY id LIMIT 1 OFFSET 1000"],
                              check=True, capture_output=True, text=True).stdout)
    pages = [
        ("job list, first page (50 rows)", anon, "/scheduler/alljobs", "95-104 ms (25 rows), 283 ms (100 rows)"),
        ("job list, signed in (admin)", admin, "/scheduler/alljobs", "95 ms"),
        ("job list, deep page (before=)", anon, "/scheduler/alljobs?before=%d" % deep, "112-120 ms (page 100)"),
        ("job list, filtered (health, description)", anon, "/scheduler/alljobs?health=Incomplete&q=smoke", "n/a"),
        ("job list as JSON (?format=json)", anon, "/scheduler/alljobs?format=json", "n/a"),
        ("queue", admin, "/scheduler/queue", "85-103 ms"),
        ("job page, first screen (HTML)", anon, "/scheduler/job/%d" % last, "134-177 ms"),
        ("job log, first 200 lines (log_lines)", anon, "/scheduler/job/%d/log_lines?start=0&end=200" % last,
         "70-228 ms (log_pipeline_incremental)"),
        ("device page", anon, "/scheduler/device/qemu01", "118-157 ms"),
        ("device type page", anon, "/scheduler/device_type/qemu", "167-196 ms"),
        ("dashboard /", anon, "/", "59 ms (static text)"),
        ("results overview", anon, "/results/", "81-117 ms"),
        ("workers", anon, "/scheduler/allworkers", "62-69 ms"),
    ]
    print("%-44s %9s %9s %9s   %s" % ("page (server time)", "p50", "p99", "KB", "LAVA 2023.01 (2,904 jobs)"))
    for name, client, path, lava in pages:
        times = []
        size = 0
        for i in range(args.requests + 5):
            status, body, ms = client.get(path)
            assert status == 200, (path, status, body[:300])
            if i >= 5:  # warm-up
                times.append(ms)
            size = len(body)
        print("%-44s %7.1f ms %6.1f ms %7.1f   %s" % (name, statistics.median(times), percentile(times, 99),
                                                     size / 1024.0, lava))


if __name__ == "__main__":
    main()
