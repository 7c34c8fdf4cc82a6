"""The virtual x86_64 DUT (tools/dut-images): built from Debian packages,
cached, booted under QEMU (TCG) with the device dictionary's settings, it
reaches `root@dut:~# ` on its serial console, runs commands, and fetches
files from the host over QEMU's user network (the DUT's 10.0.2.2 is the
host's loopback) — what lava-run's deploy, boot and test actions build on.
With dut.login=1 it asks for a login first (LAVA's auto_login)."""

import hashlib
import http.server
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import dut_images, wait_for

PROMPT = b"root@dut:~# "


@pytest.fixture(scope="module")
def images():
    path = dut_images()
    # A second run reuses what the first built.
    before = os.stat(os.path.join(path, "vmlinux")).st_mtime_ns
    assert dut_images() == path and os.stat(os.path.join(path, "vmlinux")).st_mtime_ns == before
    return path


class Dut:
    """QEMU with the serial console on a TCP port (nodelay), killed on close."""

    def __init__(self, images, append=""):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.qemu = subprocess.Popen(
            ["qemu-system-x86_64", "-nodefaults", "-no-user-config", "-accel", "tcg", "-machine", "pc",
             "-bios", "/usr/share/qemu/qboot.rom", "-m", "256", "-smp", "1", "-display", "none",
             "-kernel", os.path.join(images, "vmlinux"), "-initrd", os.path.join(images, "initramfs.cpio.gz"),
             "-append", "console=ttyS0,115200 quiet panic=-1 " + append,
             "-chardev", "socket,id=ser0,host=127.0.0.1,port=%d,server=on,wait=on,nodelay=on" % self.port,
             "-serial", "chardev:ser0", "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def connect():
            assert self.qemu.poll() is None, self.qemu.stderr.read()
            try:
                return socket.create_connection(("127.0.0.1", self.port), timeout=5)
            except OSError:
                return None

        self.sock = wait_for(connect, what="QEMU's serial port")
        self.sock.settimeout(1)
        self.seen = b""

    def expect(self, pattern, timeout=60):
        """Reads until `pattern` (bytes) shows up; returns what came before it."""
        deadline = time.monotonic() + timeout
        while pattern not in self.seen:
            assert time.monotonic() < deadline, "no %r within %d s; console: %r" % (pattern, timeout, self.seen[-500:])
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            assert data, "console closed; %r" % self.seen[-500:]
            self.seen += data
        before, _, self.seen = self.seen.partition(pattern)
        return before

    def run(self, command, timeout=30):
        """Runs a shell command; returns its output (the echo of the command stripped)."""
        self.sock.sendall(command.encode() + b"\n")
        output = self.expect(PROMPT, timeout)
        return output.decode(errors="replace").split("\n", 1)[-1].replace("\r", "")

    def close(self):
        self.sock.close()
        self.qemu.kill()
        self.qemu.wait()


class Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_boots_to_a_shell_and_reaches_the_host(images, tmp_path):
    blob = os.urandom(256 * 1024)
    (tmp_path / "blob.bin").write_bytes(blob)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            lambda *a: Files(*a, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dut = Dut(images)
    try:
        start = time.monotonic()
        dut.expect(PROMPT, timeout=120)
        print("power on -> prompt: %.1f s" % (time.monotonic() - start))
        assert dut.run("echo $((6 * 7))").strip().endswith("42")
        assert "10.0.2.15/24" in dut.run("ip addr show eth0")
        out = dut.run("wget -q -O - http://10.0.2.2:%d/blob.bin | md5sum" % server.server_address[1], timeout=60)
        assert hashlib.md5(blob).hexdigest() in out
    finally:
        dut.close()
        server.shutdown()


def test_login_variant_asks_for_root(images):
    dut = Dut(images, "dut.login=1")
    try:
        dut.expect(b"dut login: ", timeout=120)
        dut.sock.sendall(b"root\n")
        dut.expect(PROMPT, timeout=30)
        assert dut.run("id -u").strip().endswith("0")
    finally:
        dut.close()
