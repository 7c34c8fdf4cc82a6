"""The u-boot bench (bench/uboot/run): see the header of `run`."""

import argparse
import datetime
import os
import shutil
import statistics
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from job_phases import run_measured  # noqa: E402 (bench/, shared)


def when(record):
    return datetime.datetime.fromisoformat(record["dt"]).timestamp()


def end_of(records, action):
    """When `action` ended: its "end: <level> <name> (duration ...)" line (LAVA logs a results
    record only for some actions)."""
    return next(when(r) for r in records if isinstance(r["msg"], str) and r["msg"].startswith("end: ")
                and r["msg"].split(" ")[2] == action)


def phases(records):
    """Seconds spent by the board and in the tests, from a job's log."""
    power_on = end_of(records, "pdu-reboot")
    interrupted = end_of(records, "bootloader-interrupt")
    kernel = end_of(records, "bootloader-commands")
    shell = end_of(records, "auto-login-action")
    test_start = next(when(r) for r in records if r["lvl"] == "input" and "lava-test-runner" in str(r["msg"]))
    test_end = next(when(r) for r in records if r["lvl"] == "target" and "<LAVA_TEST_RUNNER EXIT>" in str(r["msg"]))
    # The PDU's own time: pduclient and PDUDaemon (the reboot's off-delay-on, the final off).
    pdu = sum(float(r["msg"].get("duration", 0)) for r in records if r["lvl"] == "results"
              and isinstance(r["msg"], dict) and r["msg"].get("case") in ("pdu-reboot", "power-off"))
    return {"board": shell - power_on, "u-boot": interrupted - power_on, "commands": kernel - interrupted,
            "kernel": shell - kernel, "test": test_end - test_start, "pdu": pdu}


def job(images):
    steps = ["lava-test-case case-%d --result pass" % i for i in range(10)]
    return {
        "job_name": "bench u-boot", "device_type": "base-uboot", "visibility": "public", "priority": "medium",
        "timeouts": {"job": {"minutes": 5}, "action": {"minutes": 3}, "connection": {"minutes": 1}},
        "actions": [
            {"deploy": {"to": "tftp",
                        "kernel": {"url": "file://%s/Image" % images, "type": "image"},
                        "ramdisk": {"url": "file://%s/initramfs.cpio.gz" % images, "compression": "gz"}}},
            {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": ["root@dut:~# "]}},
            {"test": {"definitions": [{"from": "inline", "name": "bench", "path": "inline/bench.yaml", "repository": {
                "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "bench"}, "run": {"steps": steps}}}]}},
        ],
    }


def one_run(argv, env, log_path, logs_from_file):
    with open(log_path, "w") as err:
        rc, wall, peak, _ = run_measured(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
    if logs_from_file:
        with open(logs_from_file) as f:
            records = yaml.load(f, Loader=yaml.CSafeLoader)
    else:  # LAVA's lava-run without --url: one YAML flow mapping per line on stderr
        with open(log_path) as f:
            records = [yaml.load(line, Loader=yaml.CSafeLoader) for line in f if line.startswith("{")]
    result = [r for r in records if r["lvl"] == "results" and isinstance(r["msg"], dict)
              and r["msg"].get("case") == "job"]
    if rc != 0 or not result or result[-1]["msg"].get("result") != "pass":
        raise SystemExit("the bench job failed (exit %d): see %s" % (rc, logs_from_file or log_path))
    p = phases(records)
    p["wall"] = wall
    p["overhead"] = wall - p["board"] - p["test"] - p["pdu"]
    p["rss"] = peak
    return p


def report(name, rows):
    med = lambda k: statistics.median(r[k] for r in rows)
    for i, r in enumerate(rows):
        print("  run %d: wall %.2f s = power on -> shell %.2f s (u-boot %.2f, commands and TFTP %.2f, kernel %.2f) "
              "+ PDU commands %.2f s + tests %.2f s + overhead %.2f s; peak RSS %.1f MB"
              % (i + 1, r["wall"], r["board"], r["u-boot"], r["commands"], r["kernel"], r["pdu"], r["test"],
                 r["overhead"], r["rss"]))
    print("%-12s overhead (median) %.2f s; power on -> shell (median) %.2f s; wall (median) %.2f s; peak RSS %.1f MB"
          % (name, med("overhead"), med("board"), med("wall"), max(r["rss"] for r in rows)))
    return med("overhead")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--lava", default="")
    a = p.parse_args()
    boards = os.path.join(a.work, "boards")
    env_file = {}
    with open(os.path.join(boards, "board.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                env_file[k] = v.strip('"')

    # The board's dictionary rendered from LAVA 2023.01's templates (ours when not fetched).
    dc = os.path.join(a.work, "dispatcher-config")
    lava_types = os.path.join(a.lava, "usr", "share", "lava-server", "device-types") if a.lava else ""
    source = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "etc", "dispatcher-config",
                          "device-types")
    shutil.copytree(lava_types if lava_types and os.path.isdir(lava_types) else source, os.path.join(dc, "device-types"))
    os.makedirs(os.path.join(dc, "devices"))
    shutil.copy(os.path.join(boards, "devices", "uboot01.jinja2"), os.path.join(dc, "devices"))
    device = os.path.join(a.work, "device.yaml")
    with open(device, "w") as f:
        f.write(subprocess.run([os.path.join(a.build, "src", "lava-server"), "manage", "device-dictionary", "render",
                                "uboot01", "--dispatcher-config", dc], check=True, capture_output=True,
                               text=True).stdout)
    job_path = os.path.join(a.work, "job.yaml")
    with open(job_path, "w") as f:
        yaml.safe_dump(job(env_file["LAVA_ARM64_IMAGES"]), f)

    print("== u-boot board bench: %d cores, %s, %d runs each; device configuration from %s templates"
          % (os.cpu_count(), datetime.datetime.utcnow().isoformat(), a.runs, "LAVA's" if lava_types else "lava-cpp's"))
    ours = []
    for i in range(a.runs):
        out = os.path.join(a.work, "ours-%d" % i)
        ours.append(one_run([os.path.join(a.build, "src", "lava-run"), "--device", device, "--output-dir", out,
                             "--job-id", str(100 + i), "--tmp-dir", os.path.join(a.work, "tmp"),
                             "--tftp-dir", env_file["LAVA_TFTP_DIR"], job_path],
                            None, os.path.join(a.work, "ours-%d.err" % i), os.path.join(out, "logs.yaml")))
    print("lava-cpp lava-run:")
    ours_overhead = report("lava-cpp", ours)
    lava_bin = os.path.join(a.lava, "usr", "bin", "lava-run") if a.lava else ""
    if lava_bin and os.path.exists(lava_bin):
        # Stubs for what LAVA imports or looks for but this job does not use:
        # libguestfs (tmpfs overlays) and udevadm (LXC's udev rules).
        stub = os.path.join(a.work, "stub")
        os.makedirs(stub)
        open(os.path.join(stub, "guestfs.py"), "w").close()
        with open(os.path.join(stub, "udevadm"), "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(os.path.join(stub, "udevadm"), 0o755)
        env = dict(os.environ, PYTHONPATH="%s/usr/lib/python3/dist-packages:%s" % (a.lava, stub),
                   PATH=stub + ":" + os.environ.get("PATH", "/usr/bin:/bin"))
        theirs = []
        for i in range(a.runs):
            theirs.append(one_run(["/usr/bin/python3", lava_bin, "--device", device, "--output-dir",
                                   os.path.join(a.work, "lava-%d" % i), "--job-id", str(200 + i), job_path],
                                  env, os.path.join(a.work, "lava-%d.log" % i), None))
        print("LAVA 2023.01 lava-run (same board, same files):")
        lava_overhead = report("LAVA", theirs)
        print("lava-run overhead around the board: lava-cpp %.2f s, LAVA 2023.01 %.2f s (%.0fx); target <= 1 s"
              % (ours_overhead, lava_overhead, lava_overhead / max(ours_overhead, 0.001)))
    else:
        print("lava-run overhead around the board: lava-cpp %.2f s (LAVA 2023.01 not run); target <= 1 s"
              % ours_overhead)


if __name__ == "__main__":
    main()
