"""systemd's notify protocol from each server daemon (issue 16): READY=1 once
it really serves, STATUS= lines, WATCHDOG=1 from its own loop every half of
WatchdogSec (WATCHDOG_USEC), none when the watchdog is another process's
(WATCHDOG_PID), and STOPPING=1 on SIGTERM. The daemons run as real
processes; the test plays systemd's side of the socket."""

import os
import shutil
import socket
import tempfile
import time
import urllib.request

import pytest

from conftest import Daemon, Publisher, Scheduler, Server, program, rest_lab


class NotifySocket:
    """The datagram socket systemd gives a Type=notify service ($NOTIFY_SOCKET)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lava-notify-")
        self.path = os.path.join(self.dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def env(self, watchdog_usec=None, watchdog_pid=None):
        e = {"NOTIFY_SOCKET": self.path}
        if watchdog_usec is not None:
            e["WATCHDOG_USEC"] = str(watchdog_usec)
        if watchdog_pid is not None:
            e["WATCHDOG_PID"] = str(watchdog_pid)
        return e

    def next(self, timeout=30.0):
        """The next message as a dict of its KEY=VALUE lines, or None at the deadline."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        return dict(line.split("=", 1) for line in data.splitlines() if "=" in line)

    def until(self, key, timeout=30.0):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            m = self.next(deadline - time.monotonic())
            if m is None:
                break
            seen.append(m)
            if key in m:
                return m, seen
        pytest.fail("no %s within %s s; got %r" % (key, timeout, seen))

    def close(self):
        self.sock.close()
        os.unlink(self.path)
        os.rmdir(self.dir)


@pytest.fixture
def notify():
    n = NotifySocket()
    yield n
    n.close()


@pytest.fixture(scope="module")
def lab(pg_env):
    yield from rest_lab(pg_env)


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="lava-notify-work-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_lava_server_is_ready_once_it_serves_and_feeds_the_watchdog(lab, notify, workdir):
    server = Server(dict(lab.env, **notify.env(watchdog_usec=300000)), workdir)
    try:
        ready, _ = notify.until("READY")
        assert ready["READY"] == "1" and ready["STATUS"] == "serving on %s/" % server.url
        # Ready means serving: the API answers now.
        with urllib.request.urlopen(server.api + "system/version/", timeout=10) as r:
            assert r.status == 200
        # WATCHDOG=1 from the event loop, every half of WATCHDOG_USEC.
        start = time.monotonic()
        pings = [notify.until("WATCHDOG", 5)[0] for _ in range(4)]
        elapsed = time.monotonic() - start
        assert all(p == {"WATCHDOG": "1"} for p in pings)
        assert 0.3 < elapsed < 3.0, elapsed
    finally:
        code = server.stop()
    assert code == 0
    assert notify.until("STOPPING", 10)[0]["STOPPING"] == "1"


def test_no_watchdog_pings_for_another_process(lab, notify, workdir):
    server = Server(dict(lab.env, **notify.env(watchdog_usec=200000, watchdog_pid=1)), workdir)
    try:
        notify.until("READY")
        # Nothing else (no pings) while it serves.
        assert notify.next(1.0) is None
    finally:
        assert server.stop() == 0


def test_publisher_and_scheduler_notify(lab, notify, workdir):
    os.makedirs(os.path.join(workdir, "dispatcher-config"), exist_ok=True)
    publisher = Publisher(workdir, dict(lab.env, **notify.env(watchdog_usec=400000)))
    try:
        ready, _ = notify.until("READY")
        assert ready["STATUS"].startswith("publishing on tcp://127.0.0.1:") and ready["STATUS"].endswith("/ws/")
        notify.until("WATCHDOG", 5)
        assert publisher.stop() == 0
        notify.until("STOPPING", 10)
        publisher = Publisher(workdir, lab.env)  # the scheduler's events, without notifications
        scheduler = Scheduler(workdir, dict(lab.env, **notify.env(watchdog_usec=400000)), publisher)
        try:
            ready, _ = notify.until("READY")
            assert ready["STATUS"] == "waiting to be the active scheduler"
            active, _ = notify.until("STATUS")
            assert active["STATUS"] == "active: scheduling"
            notify.until("WATCHDOG", 5)
        finally:
            assert scheduler.stop() == 0
        notify.until("STOPPING", 10)
    finally:
        publisher.stop()


def test_coordinator_notifies(notify, workdir):
    """lava-coordinator (no database): READY=1 with its port once it listens,
    WATCHDOG=1 from its I/O loop, STOPPING=1 on SIGTERM."""
    config = os.path.join(workdir, "lava-coordinator.conf")
    with open(config, "w") as f:
        f.write('{"port": 0, "bind": "127.0.0.1"}')
    coordinator = Daemon()
    coordinator.start(os.path.join(workdir, "lava-coordinator.log"),
                      [program("lava-coordinator"), "--config", config, "--logfile", "-"],
                      notify.env(watchdog_usec=400000))
    try:
        ready, _ = notify.until("READY")
        assert ready["STATUS"].startswith("listening on port "), ready
        port = int(ready["STATUS"].rsplit(" ", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # it does listen where it says
        notify.until("WATCHDOG", 5)
        notify.until("WATCHDOG", 5)
    finally:
        assert coordinator.stop() == 0, coordinator.output()
    notify.until("STOPPING", 10)
