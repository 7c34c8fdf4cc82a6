"""Where the time of a LAVA job goes, from its log (a list of records):
the DUT's boot to its prompt, and the test commands (lava-test-runner typed
to <LAVA_TEST_RUNNER EXIT>). Shared by bench/lava-run and bench/lab."""

import datetime


def when(record):
    return datetime.datetime.fromisoformat(record["dt"]).timestamp()


def boot_and_test_seconds(records):
    boot_start = next(when(r) for r in records if r["lvl"] == "info" and str(r["msg"]).startswith("Boot command:"))
    boot_end = next(when(r) for r in records if r["lvl"] == "results" and r["msg"].get("case") == "auto-login-action")
    test_start = next(when(r) for r in records if r["lvl"] == "input" and "lava-test-runner" in r["msg"])
    test_end = next(when(r) for r in records if r["lvl"] == "target" and "<LAVA_TEST_RUNNER EXIT>" in r["msg"])
    return boot_end - boot_start, test_end - test_start
