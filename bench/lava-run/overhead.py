"""The lava-run benchmark (bench/lava-run/run): see the header of `run`."""

import argparse
import datetime
import functools
import http.server
import os
import statistics
import sys
import subprocess
import tempfile
import threading
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from job_phases import boot_and_test_seconds, run_measured  # noqa: E402 (bench/, shared)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(root):
    handler = functools.partial(QuietHandler, directory=root)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % server.server_address[1]


def job(url):
    steps = ["lava-test-case case-%d --result pass" % i for i in range(10)]
    return {
        "job_name": "bench", "device_type": "qemu", "visibility": "public", "priority": "medium",
        "timeouts": {"job": {"minutes": 5}, "action": {"minutes": 2}, "connection": {"minutes": 1}},
        "context": {"arch": "amd64"},
        "actions": [
            {"deploy": {"to": "tmpfs", "images": {
                "kernel": {"url": url + "/vmlinux", "image_arg": '-kernel {kernel} -append "console=ttyS0,115200 panic=-1"'},
                "initrd": {"url": url + "/initramfs.cpio.gz", "image_arg": "-initrd {initrd}"}}}},
            {"boot": {"method": "qemu", "media": "tmpfs", "prompts": ["root@dut:~# "]}},
            {"test": {"definitions": [{"from": "inline", "name": "bench", "path": "inline/bench.yaml", "repository": {
                "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "bench"}, "run": {"steps": steps}}}]}},
        ],
    }



def one_run(lava_run, device, job_path, work):
    out = os.path.join(work, "out-%d" % time.monotonic_ns())
    rc, wall, peak, anon = run_measured([lava_run, "--device", device, "--output-dir", out, "--job-id", "1",
                                         "--tmp-dir", os.path.join(work, "tmp"), job_path],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert rc == 0, "the bench job failed: see %s" % out
    with open(os.path.join(out, "logs.yaml")) as f:
        records = yaml.load(f, Loader=yaml.CSafeLoader)
    boot, test = boot_and_test_seconds(records)
    return wall, boot, test, wall - boot - test, peak, anon


def timed(cmd, env=None, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, env=env)
        times.append(time.monotonic() - start)
    return statistics.median(times), r.returncode


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--images", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--lava", required=True)
    p.add_argument("--dispatcher-config", required=True)
    a = p.parse_args()
    lava_run = os.path.join(a.build, "src", "lava-run")
    work = tempfile.mkdtemp(prefix="lava-bench-run-")
    device = os.path.join(work, "device.yaml")
    with open(device, "w") as f:
        f.write(subprocess.run([os.path.join(a.build, "src", "lava-server"), "manage", "device-dictionary", "render",
                                "qemu01", "--dispatcher-config", a.dispatcher_config, "--context", "arch=amd64",
                                "--yaml"], check=True, capture_output=True, text=True).stdout)
    job_path = os.path.join(work, "job.yaml")
    with open(job_path, "w") as f:
        yaml.safe_dump(job(serve(a.images)), f)

    print("== lava-run bench: %d cores, %s, %d runs" % (os.cpu_count(), datetime.datetime.utcnow().isoformat(), a.runs))
    rows = [one_run(lava_run, device, job_path, work) for _ in range(a.runs)]
    for i, (wall, boot, test, overhead, peak, _) in enumerate(rows):
        print("run %d: wall %.2f s = boot to prompt %.2f s + test commands %.2f s + overhead %.2f s; peak RSS %.1f MB"
              % (i + 1, wall, boot, test, overhead, peak))
    med = lambda k: statistics.median(r[k] for r in rows)
    print("%-44s %.2f s   [LAVA 2023.01: ~50 s, of which ~41 s libguestfs; target <= 2 s]" % ("per-job overhead (median)", med(3)))
    print("%-44s %.2f s" % ("job wall time (median)", med(0)))
    print("%-44s %.2f s" % ("DUT boot to prompt (median)", med(1)))
    print("%-44s %.1f MB   [LAVA 2023.01: ~120 MB; target <= 15 MB]" % ("lava-run peak RSS (max)", max(r[4] for r in rows)))
    print("%-44s %.1f MB   (the rest: pages of shared libraries)" % ("  of which anonymous (max)", max(r[5] for r in rows)))

    ours, rc = timed([lava_run, "--validate", "--device", device, "--output-dir", os.path.join(work, "v1"),
                      "--tmp-dir", os.path.join(work, "tmp"), job_path])
    assert rc == 0
    line = "%-44s %.3f s" % ("lava-run --validate (median of 3)", ours)
    lava_bin = os.path.join(a.lava, "usr", "bin", "lava-run")
    if os.path.exists(lava_bin):
        stub = os.path.join(work, "stub")
        os.makedirs(stub)
        open(os.path.join(stub, "guestfs.py"), "w").close()
        env = dict(os.environ, PYTHONPATH="%s/usr/lib/python3/dist-packages:%s" % (a.lava, stub))
        theirs, rc = timed(["/usr/bin/python3", lava_bin, "--validate", "--device", device, "--output-dir",
                            os.path.join(work, "v2"), "--job-id", "1", job_path], env=env)
        line += "   [LAVA 2023.01, same files, this run: %.3f s%s]" % (theirs, "" if rc == 0 else ", FAILED")
    print(line)
    subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    main()
