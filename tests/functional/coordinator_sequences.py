"""The golden lava-coordinator sequences (proto/coordinator/sequences/*.json):
requests as LAVA 2023.01's client sends them, each with the exact reply bytes
LAVA's own coordinator gives.

A sequence file:

    {"description": "...", "group_name": "...",
     "clients": {"<client_name>": {"hostname": "...", "role": "..."}},
     "steps": [{"client": "<client_name>", "call": {"request": "...", ...},
                "reply": "<8 hex digits + JSON>" or null}]}

The request of a step is LAVA's client's base message for that client
(port, blocksize, poll_delay, host, hostname, client_name, group_name, role)
updated with the step's call, written by json.dumps, one request per TCP
connection; its reply is every byte the coordinator sent before closing
(null: it closed without a reply).

Used by test_coordinator.py and bench/coordinator; as a program it writes
the replies of LAVA's own coordinator into the files (then read them by eye):

    /usr/bin/python3 tests/functional/coordinator_sequences.py [--lava ROOT] [--check] [FILE...]

ROOT holds LAVA's unpacked lava-coordinator package (usr/bin/lava-coordinator,
usr/lib/python3/dist-packages/lava/coordinator); default $LAVA_REFERENCE_DIR
or build/ci/lava-reference (tools/fetch-lava-reference). --check compares
instead of writing.
"""

import argparse
import copy
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))
SEQUENCES_DIR = os.path.join(SOURCE_DIR, "proto", "coordinator", "sequences")

# The settings part of LAVA's client's base message (what it read from
# /etc/lava-coordinator/lava-coordinator.conf).
BASE_SETTINGS = {"port": 3079, "blocksize": 4096, "poll_delay": 3, "host": "localhost"}


def sequence_files():
    return sorted(glob.glob(os.path.join(SEQUENCES_DIR, "*.json")))


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def request(seq, step, group_name=None):
    """The request a step sends, as LAVA's client builds it (MultinodeProtocol._send)."""
    client = step["client"]
    message = dict(BASE_SETTINGS)
    message.update({
        "hostname": seq["clients"][client]["hostname"],
        "client_name": client,
        "group_name": group_name if group_name is not None else seq["group_name"],
        "role": seq["clients"][client]["role"],
    })
    message.update(copy.deepcopy(step["call"]))
    return message


def frame(payload):
    """LAVA's frame: "%08X" % len(payload), then the payload (bytes)."""
    return b"%08X" % len(payload) + payload


def exchange(host, port, data, timeout=10.0):
    """Sends `data` on a new connection, half-closes it as LAVA's client
    does, and returns every byte received until the coordinator closed."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def run_sequence(host, port, seq, group_name=None):
    """Runs the steps of `seq` in order; returns each step's reply as text
    (None: closed without a reply). `group_name` replaces the sequence's
    own (to run it again against the same coordinator)."""
    replies = []
    for step in seq["steps"]:
        payload = json.dumps(request(seq, step, group_name)).encode("utf-8")
        got = exchange(host, port, frame(payload))
        replies.append(got.decode("utf-8") if got else None)
    return replies


def mismatches(seq, replies):
    """Human-readable differences between the golden replies and `replies`."""
    out = []
    for i, (step, got) in enumerate(zip(seq["steps"], replies)):
        if step["reply"] != got:
            out.append("step %d (%s %s): expected %r, got %r"
                       % (i, step["client"], json.dumps(step["call"]), step["reply"], got))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lava_root(explicit=None):
    """The directory holding LAVA's unpacked lava-coordinator, or None."""
    candidates = [explicit] if explicit else [
        os.environ.get("LAVA_REFERENCE_DIR"), os.path.join(SOURCE_DIR, "build", "ci", "lava-reference")]
    for root in candidates:
        if root and os.path.exists(os.path.join(root, "usr", "bin", "lava-coordinator")):
            return root
    return None


class LavaCoordinator:
    """LAVA 2023.01's own lava-coordinator (Python, from `root`), on a free
    loopback port, logging to a file in a temporary directory. A context
    manager; `port` is where it listens."""

    def __init__(self, root, loglevel="INFO", port=None):
        self.dir = tempfile.mkdtemp(prefix="lava-coordinator-")
        self.port = port or free_port()
        config = os.path.join(self.dir, "lava-coordinator.conf")
        with open(config, "w") as f:
            json.dump({"port": self.port, "blocksize": 4096, "poll_delay": 1,
                       "coordinator_hostname": "localhost"}, f)
        self.log_path = os.path.join(self.dir, "lava-coordinator.log")
        env = dict(os.environ, PYTHONPATH=os.path.join(root, "usr", "lib", "python3", "dist-packages"),
                   PYTHONDONTWRITEBYTECODE="1")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(root, "usr", "bin", "lava-coordinator"), "--config", config,
             "--logfile", self.log_path, "--loglevel", loglevel],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while "Ready to accept new connections" not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("LAVA's lava-coordinator did not start:\n" + self.output())
            time.sleep(0.05)

    def output(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _readable(text):
    # UTF-8 as it is, but what does not print (DEL, U+2028...) as \u escapes.
    return "".join(c if c.isprintable() or c == "\n" else "\\u%04x" % ord(c) for c in text)


def dump(seq):
    """A sequence file's text: two-space indented, one step per line."""
    head = {k: v for k, v in seq.items() if k != "steps"}
    text = json.dumps(head, indent=2, ensure_ascii=False)
    steps = ",\n".join("    " + json.dumps(step, ensure_ascii=False) for step in seq["steps"])
    return _readable(text[:-2] + ',\n  "steps": [\n' + steps + "\n  ]\n}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lava", help="root of LAVA's unpacked lava-coordinator package")
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    parser.add_argument("files", nargs="*")
    options = parser.parse_args()
    root = lava_root(options.lava)
    if root is None:
        sys.exit("no LAVA lava-coordinator found: run tools/fetch-lava-reference build/ci/lava-reference")
    failed = False
    with LavaCoordinator(root) as lava:
        for path in options.files or sequence_files():
            seq = load(path)
            replies = run_sequence("127.0.0.1", lava.port, seq)
            if not lava.alive():
                sys.exit("LAVA's coordinator died during %s:\n%s" % (path, lava.output()[-3000:]))
            if options.check:
                problems = mismatches(seq, replies)
                failed = failed or bool(problems)
                print("%s: %s" % (os.path.basename(path), "ok" if not problems else "\n  ".join([""] + problems)))
                continue
            for step, got in zip(seq["steps"], replies):
                step["reply"] = got
            with open(path, "w", encoding="utf-8") as f:
                f.write(dump(seq))
            print("%s: %d steps written" % (os.path.basename(path), len(replies)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
