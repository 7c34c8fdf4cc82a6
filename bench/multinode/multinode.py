"""The MultiNode benchmark (bench/multinode/run): see the header of `run`."""

import argparse
import datetime
import os
import statistics
import sys
import subprocess
import time

import requests
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from job_phases import boot_and_test_seconds, when  # noqa: E402 (bench/, shared)

STEPS = ["lava-test-case uname --shell uname -a", "lava-test-case net --shell ip link show eth0"]


def env_file(path):
    out = {}
    for line in open(path):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            out[k] = v.strip('"')
    return out


def job(images, multinode):
    deploy = {"to": "tmpfs", "images": {
        "kernel": {"url": images + "/vmlinux", "image_arg": "-kernel {kernel}"},
        "initrd": {"url": images + "/initramfs.cpio.gz",
                   "image_arg": '-initrd {initrd} -append "console=ttyS0,115200 panic=-1"'}}}
    boot = {"method": "qemu", "media": "tmpfs", "prompts": ["root@dut:~# "]}
    steps = STEPS + (["lava-sync done"] if multinode else [])
    test = {"definitions": [{"from": "inline", "name": "bench", "path": "inline/bench.yaml", "repository": {
        "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "bench"}, "run": {"steps": steps}}}]}
    j = {"job_name": "multinode bench" if multinode else "single bench", "visibility": "public",
         "timeouts": {"job": {"minutes": 10}, "action": {"minutes": 3}, "connection": {"minutes": 2}},
         "actions": [{"deploy": deploy}, {"boot": boot}, {"test": test}]}
    if multinode:
        j["protocols"] = {"lava-multinode": {"roles": {
            r: {"device_type": "qemu", "count": 1, "context": {"arch": "amd64"}} for r in ("a", "b")}}}
        for action in j["actions"]:
            next(iter(action.values()))["role"] = ["a", "b"]
    else:
        j["device_type"] = "qemu"
        j["context"] = {"arch": "amd64"}
    return yaml.safe_dump(j)


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--lab", required=True)
    a.add_argument("--runs", type=int, default=3)
    args = a.parse_args()
    lab = env_file(os.path.join(args.lab, "lab.env"))
    api = lab["LAVA_URL"] + "/api/v0.2/"
    headers = {"Authorization": "Token " + lab["LAVA_ADMIN_TOKEN"]}
    pg = {k: lab[k] for k in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")}

    def get(path):
        r = requests.get(api + path, headers=headers, timeout=30)
        assert r.status_code == 200, (path, r.text)
        return r

    def run_one(multinode):
        start = time.monotonic()
        r = requests.post(api + "jobs/", headers=headers, data={"definition": job(lab["LAVA_IMAGES_URL"], multinode)},
                          timeout=30)
        assert r.status_code == 201, r.text
        ids = r.json()["job_ids"]
        if multinode:  # sub ids ("12.1"); REST, as LAVA's, takes job ids
            ids = [int(subprocess.run(["psql", "-XtA", "-c", "SELECT id FROM test_jobs WHERE sub_id = '%s'" % sub],
                                      env=dict(os.environ, **pg), check=True, capture_output=True,
                                      text=True).stdout) for sub in ids]
        deadline = start + 600
        while True:
            states = [get("jobs/%d/" % i).json() for i in ids]
            if all(s["state"] == "Finished" for s in states):
                break
            assert time.monotonic() < deadline, states
            time.sleep(0.05)  # the probe's polling period (as a CI script polls), not synchronisation
        wall = time.monotonic() - start
        assert all(s["health"] == "Complete" for s in states), states
        parts, group_waits, sync_arrivals, sync_releases = [], [], [], []
        for i in ids:
            log = yaml.load(get("jobs/%d/logs/" % i).text, Loader=yaml.CSafeLoader)
            boot, test = boot_and_test_seconds(log)
            parts.append(boot + test)
            if multinode:
                text = [(when(rec), str(rec["msg"])) for rec in log]
                joined = next(t for t, m in text if m.startswith("lava-multinode: group "))
                complete = next(t for t, m in text if m.startswith("lava-multinode: group complete"))
                group_waits.append(complete - joined)
                sync_arrivals.append(next(t for t, m in text if m == "Received Multi_Node API <LAVA_SYNC>"))
                sync_releases.append(next(t for t, m in text if "multinode-sync-done" in m))
        row = {"wall": wall, "parts": max(parts), "overhead": wall - max(parts)}
        if multinode:
            row["group_wait"] = max(group_waits)
            row["sync_release"] = max(sync_releases) - max(sync_arrivals)
        return row

    print("== MultiNode bench: %d cores, %s, %d runs, poll_delay 1 s"
          % (os.cpu_count(), datetime.datetime.utcnow().isoformat(), args.runs))
    run_one(False)  # warm-up: the first job of a lab fetches the images into the worker's cache
    single = [run_one(False) for _ in range(args.runs)]
    multi = [run_one(True) for _ in range(args.runs)]
    for name, rows in (("single-node", single), ("2-node", multi)):
        for i, r in enumerate(rows):
            extra = ""
            if "group_wait" in r:
                extra = ", group_data wait %.2f s, lava-sync release %.2f s" % (r["group_wait"], r["sync_release"])
            print("%s run %d: submit -> Finished %.2f s = slowest node's boot + tests %.2f s + overhead %.2f s%s"
                  % (name, i + 1, r["wall"], r["parts"], r["overhead"], extra))
    med = lambda rows, k: statistics.median(r[k] for r in rows)
    print("%-48s %.2f s" % ("single-node job overhead (median)", med(single, "overhead")))
    print("%-48s %.2f s" % ("2-node job overhead (median)", med(multi, "overhead")))
    print("%-48s %.2f s" % ("MultiNode's own cost (2-node - single-node)", med(multi, "overhead") - med(single, "overhead")))
    print("%-48s %.2f s" % ("  of which: group_data wait (median)", med(multi, "group_wait")))
    print("%-48s %.2f s   (<= poll_delay: LAVA's clients poll)" % ("  lava-sync release after the last arrival", med(multi, "sync_release")))


if __name__ == "__main__":
    main()
