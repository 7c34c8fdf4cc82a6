"""Where the time of a LAVA job goes, from its log (a list of records):
the DUT's boot to its prompt, and the test commands (lava-test-runner typed
to <LAVA_TEST_RUNNER EXIT>); and a job process's wall time and peak RSS.
Shared by bench/lava-run, bench/lab and bench/uboot."""

import datetime
import subprocess
import time


def when(record):
    return datetime.datetime.fromisoformat(record["dt"]).timestamp()


def boot_and_test_seconds(records):
    boot_start = next(when(r) for r in records if r["lvl"] == "info" and str(r["msg"]).startswith("Boot command:"))
    boot_end = next(when(r) for r in records if r["lvl"] == "results" and r["msg"].get("case") == "auto-login-action")
    test_start = next(when(r) for r in records if r["lvl"] == "input" and "lava-test-runner" in r["msg"])
    test_end = next(when(r) for r in records if r["lvl"] == "target" and "<LAVA_TEST_RUNNER EXIT>" in r["msg"])
    return boot_end - boot_start, test_end - test_start


def run_measured(argv, **popen_args):
    """Runs `argv` to its end: (exit code, wall seconds, peak RSS MB (VmHWM), peak anonymous RSS MB)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, **popen_args)
    peak = anon = 0
    while proc.poll() is None:
        try:
            with open("/proc/%d/status" % proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
                    if line.startswith("RssAnon:"):
                        anon = max(anon, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)  # sampling period of the RSS probe, not synchronisation
    return proc.returncode, time.monotonic() - start, peak / 1024.0, anon / 1024.0
