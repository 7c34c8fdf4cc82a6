"""How the daemons log, as a sysadmin sees it: under systemd's journal
(JOURNAL_STREAM names stderr) lines carry the syslog priority and no
timestamp of their own; elsewhere, a timestamp; a log file is reopened on
SIGHUP (logrotate moves it away), and SIGHUP stops nothing. lava-publisher
stands for every daemon: they share common/log."""

import os
import re
import signal
import subprocess
import tempfile

import pytest

from conftest import program, wait_for


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="lava-logging-") as d:
        yield d


def publisher(workdir, stderr_path, extra_args=(), extra_env=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "LAVA_", "JOURNAL_"))}
    env.update({"LAVA_METRICS_PORT": "0"}, **(extra_env or {}))
    stderr = open(stderr_path, "w")
    proc = subprocess.Popen(
        [program("lava-publisher"), "--event-socket", "ipc://" + os.path.join(workdir, "events"),
         "--publish-socket", "tcp://127.0.0.1:*", "--websocket-bind", "127.0.0.1", "--websocket-port", "0"]
        + list(extra_args), env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr)
    stderr.close()
    return proc


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def test_under_the_journal_lines_carry_their_priority_and_no_timestamp(workdir):
    err = os.path.join(workdir, "stderr")
    open(err, "w").close()
    st = os.stat(err)
    proc = publisher(workdir, err, extra_env={"JOURNAL_STREAM": "%d:%d" % (st.st_dev, st.st_ino)})
    try:
        wait_for(lambda: "publishing on" in read(err), what="lava-publisher to start")
    finally:
        stop(proc)
    lines = read(err).splitlines()
    assert any(re.fullmatch(r"<6>info +\[lava-publisher\] lava-publisher \S+ receiving on .*", line) for line in lines), lines
    assert all(re.match(r"<[0-7]>", line) for line in lines), lines
    assert not any(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line) for line in lines), lines


def test_elsewhere_lines_carry_a_timestamp(workdir):
    err = os.path.join(workdir, "stderr")
    # JOURNAL_STREAM inherited from a parent, naming another file: not the journal.
    proc = publisher(workdir, err, extra_env={"JOURNAL_STREAM": "1:1"})
    try:
        wait_for(lambda: "publishing on" in read(err), what="lava-publisher to start")
    finally:
        stop(proc)
    first = read(err).splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} info +\[lava-publisher\] ", first), first


def test_a_log_file_is_reopened_on_sighup(workdir):
    log = os.path.join(workdir, "publisher.log")
    err = os.path.join(workdir, "stderr")
    proc = publisher(workdir, err, ["--log-file", log])
    try:
        wait_for(lambda: os.path.exists(log) and "publishing on" in read(log), what="lava-publisher to start")
        # logrotate: move the file away, then SIGHUP.
        os.rename(log, log + ".1")
        proc.send_signal(signal.SIGHUP)
        assert proc.poll() is None
    finally:
        stop(proc)
    assert "publishing on" in read(log + ".1")
    assert "stopping" not in read(log + ".1")
    # The lines after SIGHUP went to a new file at the configured path.
    assert "signal 15: stopping" in read(log), read(log)
    assert read(err) == ""


def test_a_log_file_that_cannot_be_opened_is_a_clear_error(workdir):
    err = os.path.join(workdir, "stderr")
    proc = publisher(workdir, err, ["--log-file", os.path.join(workdir, "missing", "publisher.log")])
    assert proc.wait(timeout=30) == 1
    assert read(err).startswith("lava-publisher: error: cannot open the log file " + workdir), read(err)
