"""The lab benchmark (bench/lab/run): see the header of `run`."""

import argparse
import datetime
import os
import statistics
import sys
import time

import requests
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from job_phases import boot_and_test_seconds  # noqa: E402 (bench/, shared)


def env_file(path):
    out = {}
    for line in open(path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            out[k] = v
    return out


def rss(pidfile):
    pid = open(pidfile).read().strip()
    r = p = 0
    for line in open("/proc/%s/smaps_rollup" % pid):
        if line.startswith("Rss:"):
            r = int(line.split()[1])
        elif line.startswith("Pss:"):
            p = int(line.split()[1])
    return r / 1024.0, p / 1024.0



def main():
    a = argparse.ArgumentParser()
    a.add_argument("--lab", required=True)
    a.add_argument("--runs", type=int, default=5)
    a.add_argument("--job", required=True)
    args = a.parse_args()
    lab = env_file(os.path.join(args.lab, "lab.env"))
    api = lab["LAVA_URL"] + "/api/v0.2/"
    headers = {"Authorization": "Token " + lab["LAVA_ADMIN_TOKEN"]}
    job = open(args.job).read().replace("IMAGES_URL", lab["LAVA_IMAGES_URL"])

    def state(job_id):
        return requests.get(api + "jobs/%d/" % job_id, headers=headers, timeout=30).json()

    def run_one():
        start = time.monotonic()
        r = requests.post(api + "jobs/", headers=headers, data={"definition": job}, timeout=30)
        assert r.status_code == 201, r.text
        job_id = r.json()["job_ids"][0]
        deadline = start + 600
        while True:
            s = state(job_id)
            if s["state"] == "Finished":
                break
            assert time.monotonic() < deadline, s
            time.sleep(0.05)  # the probe's polling period (as a CI script polls), not synchronisation
        wall = time.monotonic() - start
        assert s["health"] == "Complete", s
        log = yaml.load(requests.get(api + "jobs/%d/logs/" % job_id, headers=headers, timeout=30).text,
                        Loader=yaml.CSafeLoader)
        boot, test = boot_and_test_seconds(log)
        return wall, boot, test, wall - boot - test

    print("== lab bench: %d cores, %s, %d runs" % (os.cpu_count(), datetime.datetime.utcnow().isoformat(), args.runs))
    # A new device's health check runs first: wait for the device to be Good and Idle.
    deadline = time.monotonic() + 300
    while True:
        d = requests.get(api + "devices/qemu01/", headers=headers, timeout=30).json()
        if d.get("health") == "Good" and d.get("state") == "Idle":
            break
        assert time.monotonic() < deadline, d
        time.sleep(0.2)
    time.sleep(2)  # let the daemons settle before measuring idle RSS
    run_dir = os.path.join(args.lab, "run")
    total_r = total_p = 0.0
    for name in ("lava-server", "lava-publisher", "lava-scheduler", "lava-worker"):
        r, p = rss(os.path.join(run_dir, name + ".pid"))
        total_r += r
        total_p += p
        print("%-44s RSS %.1f MB, PSS %.1f MB" % ("idle (%s)" % name, r, p))
    print("%-44s RSS %.1f MB, PSS %.1f MB   [LAVA 2023.01: ~750 MB; target <= 60 MB]" % ("idle, the lab's daemons", total_r, total_p))

    rows = [run_one() for _ in range(args.runs)]
    for i, (wall, boot, test, overhead) in enumerate(rows):
        print("run %d: submit -> Finished %.2f s = boot to prompt %.2f s + test commands %.2f s + overhead %.2f s"
              % (i + 1, wall, boot, test, overhead))
    med = lambda k: statistics.median(r[k] for r in rows)
    print("%-44s %.2f s   [LAVA 2023.01: ~50 s; target <= 2 s]" % ("end-to-end overhead (median)", med(3)))
    print("%-44s %.2f s" % ("submit -> Finished (median)", med(0)))


if __name__ == "__main__":
    main()
