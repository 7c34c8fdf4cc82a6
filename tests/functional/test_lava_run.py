"""lava-run on its own (no server): LAVA job files run on the virtual x86_64
DUT under QEMU. Deploy to tmpfs over HTTP, boot qemu, lava-test-shell with
inline / git definitions, the overlay carried in the initramfs or fetched by
the DUT (transfer_overlay); failures with LAVA's error types (boot timeout,
TESTRAISE, wrong checksum, SIGTERM); the log uploaded to a server that fails
now and then; and LAVA 2023.01's own `lava-run --validate` agreeing on the
same job and device files."""

import functools
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse

import pytest
import yaml

from conftest import SOURCE_DIR, dut_images, missing_reference, processes_mentioning, program, wait_for

PROMPT = "root@dut:~# "


# ----------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def images():
    return dut_images()


class FileHandler(http.server.SimpleHTTPRequestHandler):
    """Files, plus /chunked/<name> (the file with chunked transfer encoding)
    and /redirect/<name> (a 302 to /<name>)."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect"):])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/chunked/"):
            with open(os.path.join(self.directory, self.path[len("/chunked/"):]), "rb") as f:
                data = f.read()
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            for at in range(0, len(data), 7777):
                chunk = data[at:at + 7777]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        else:
            super().do_GET()

    def do_HEAD(self):
        if self.path.startswith(("/redirect/", "/chunked/")):
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            super().do_HEAD()


class Files:
    """A directory served over HTTP on 127.0.0.1 (the DUT's 10.0.2.2)."""

    def __init__(self, root):
        self.root = root
        handler = functools.partial(FileHandler, directory=root)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def files(images, tmp_path_factory):
    root = str(tmp_path_factory.mktemp("served"))
    for name in ("vmlinux", "initramfs.cpio.gz"):
        os.symlink(os.path.join(images, name), os.path.join(root, name))
    # Compressed copies, which lava-run must decompress back to what boots.
    for name, tool, suffix in (("vmlinux", ["zstd", "-1", "-q"], ".zst"), ("initramfs.cpio.gz", ["xz", "-0"], ".xz"),
                               ("initramfs.cpio.gz", ["bzip2", "-1"], ".bz2"), ("initramfs.cpio.gz", ["gzip", "-1"], ".gz")):
        with open(os.path.join(images, name), "rb") as src, open(os.path.join(root, name + suffix), "wb") as dst:
            subprocess.run(tool + ["-c"], stdin=src, stdout=dst, check=True)
    f = Files(root)
    yield f
    f.close()


@pytest.fixture(scope="module")
def device(tmp_path_factory):
    """qemu01 rendered by our lava-server, as lava-worker will receive it."""
    path = str(tmp_path_factory.mktemp("device") / "device.yaml")
    r = subprocess.run([program("lava-server"), "manage", "device-dictionary", "render", "qemu01",
                        "--dispatcher-config", os.path.join(SOURCE_DIR, "etc", "dispatcher-config"),
                        "--context", "arch=amd64", "--yaml"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    with open(path, "w") as f:
        f.write(r.stdout)
    return path


def smoke_job(files, steps, boot_extra=None, deploy_extra=None, definition_extra=None, top_extra=None,
              boot_timeout=None, test_timeout=None):
    """A LAVA QEMU smoke job: kernel + initrd over HTTP, boot, one inline definition."""
    kernel = {"url": files.url + "/vmlinux", "image_arg": '-kernel {kernel} -append "console=ttyS0,115200 panic=-1"'}
    initrd = {"url": files.url + "/initramfs.cpio.gz", "image_arg": "-initrd {initrd}"}
    deploy = {"to": "tmpfs", "images": {"kernel": kernel, "initrd": initrd}}
    deploy.update(deploy_extra or {})
    boot = {"method": "qemu", "media": "tmpfs", "prompts": [PROMPT]}
    boot.update(boot_extra or {})
    if boot_timeout:
        boot["timeout"] = boot_timeout
    definition = {"from": "inline", "name": "smoke", "path": "inline/smoke.yaml",
                  "repository": {"metadata": {"format": "Lava-Test Test Definition 1.0", "name": "smoke"},
                                 "run": {"steps": steps}}}
    definition.update(definition_extra or {})
    test = {"definitions": [definition]}
    if test_timeout:
        test["timeout"] = test_timeout
    job = {"job_name": "lava-run functional", "device_type": "qemu", "visibility": "public", "priority": "medium",
           "timeouts": {"job": {"minutes": 4}, "action": {"minutes": 2}, "connection": {"seconds": 60}},
           "context": {"arch": "amd64"},
           "actions": [{"deploy": deploy}, {"boot": boot}, {"test": test}]}
    job.update(top_extra or {})
    return job


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def use_compressed(files, job, kernel=None, initrd=None):
    """Points the job's images at compressed copies (suffix -> compression)."""
    names = {".zst": "zstd", ".xz": "xz", ".bz2": "bz2", ".gz": "gz"}
    images = job["actions"][0]["deploy"]["images"]
    for label, base, suffix in (("kernel", "vmlinux", kernel), ("initrd", "initramfs.cpio.gz", initrd)):
        if suffix:
            images[label]["url"] = "%s/%s%s" % (files.url, base, suffix)
            images[label]["compression"] = names[suffix]
            # Checksums are of the bytes downloaded, as in LAVA.
            images[label]["sha256sum"] = sha256(os.path.join(files.root, base + suffix))
    return job


class Run:
    """One lava-run process and what it left behind."""

    def __init__(self, tmp_path, device, job, args=(), dispatcher=None, env=None):
        self.dir = str(tmp_path)
        os.makedirs(self.dir, exist_ok=True)
        self.out = os.path.join(self.dir, "out")
        self.tmp = os.path.join(self.dir, "tmp")
        self.job_path = os.path.join(self.dir, "job.yaml")
        with open(self.job_path, "w") as f:
            yaml.safe_dump(job, f)
        cmd = [program("lava-run"), "--device", device, "--output-dir", self.out, "--job-id", "42",
               "--tmp-dir", self.tmp, *args, self.job_path]
        if dispatcher is not None:
            path = os.path.join(self.dir, "dispatcher.yaml")
            with open(path, "w") as f:
                yaml.safe_dump(dispatcher, f)
            cmd[1:1] = ["--dispatcher", path]
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.stderr_path, "w"),
                                     stdin=subprocess.DEVNULL, env=env)

    def wait(self, timeout=240):
        self.rc = self.proc.wait(timeout=timeout)
        self.elapsed = time.monotonic() - self.started
        return self

    def result(self):
        with open(os.path.join(self.out, "result.yaml")) as f:
            return yaml.safe_load(f)

    def records(self):
        with open(os.path.join(self.out, "logs.yaml")) as f:
            return yaml.load(f, Loader=yaml.CSafeLoader) or []

    def results(self, suite=None):
        return [r["msg"] for r in self.records()
                if r["lvl"] == "results" and (suite is None or r["msg"].get("definition") == suite)]

    def messages(self, lvl=None):
        return [r["msg"] for r in self.records() if lvl is None or r["lvl"] == lvl]


def action_names(pipeline):
    for action in pipeline:
        yield action["name"]
        yield from action_names(action.get("pipeline", []))


# ----------------------------------------------------------------- jobs on the DUT

def test_smoke_job_passes_with_every_result(files, device, tmp_path):
    steps = [
        "lava-test-case pass-case --result pass",
        "lava-test-case fail-case --result fail",
        "lava-test-case measure --result pass --measurement 12.5 --units ms",
        "lava-test-case shell-case --shell test -d /proc",
        "lava-test-case \"param-$GREETING\" --result pass",
        "lava-test-set start set1",
        "lava-test-case in-set --result skip",
        "lava-test-set stop",
        "lava-test-reference ref-case --result pass --reference http://example.com/ref",
        "lava-test-event an-event",
        "printf 'pattern-case: PASS\\n'",
        ". $LAVA_RESULT_DIR/../../../secrets; echo \"the secret is $API_TOKEN\"",
    ]
    job = smoke_job(files, steps,
                    definition_extra={"parameters": {"GREETING": "hello"}},
                    top_extra={"secrets": {"API_TOKEN": "s3cr3t-t0ken-value"}})
    with open(os.path.join(files.root, "initramfs.cpio.gz"), "rb") as f:
        data = f.read()
    job["actions"][0]["deploy"]["images"]["initrd"].update(
        md5sum=hashlib.md5(data).hexdigest(), sha512sum=hashlib.sha512(data).hexdigest())
    job["actions"][2]["test"]["definitions"][0]["repository"]["parse"] = {
        "pattern": r"^(?P<test_case_id>[a-z-]+): (?P<result>[A-Z]+)", "fixupdict": {"PASS": "pass"}}
    # A second definition whose install step fails: its run never starts.
    job["actions"][2]["test"]["definitions"].append(
        {"from": "inline", "name": "broken", "path": "inline/broken.yaml",
         "repository": {"metadata": {"format": "Lava-Test Test Definition 1.0", "name": "broken"},
                        "install": {"steps": ["false"]}, "run": {"steps": ["lava-test-case never --result pass"]}}})
    run = Run(tmp_path, device, job).wait()
    assert run.rc == 0, run.messages()[-5:]
    assert run.result() == {"definition": "lava", "case": "job", "result": "pass"}

    cases = {r["case"]: r for r in run.results("0_smoke")}
    assert cases["pass-case"]["result"] == "pass"
    assert cases["fail-case"]["result"] == "fail"
    assert cases["measure"]["result"] == "pass"
    assert cases["measure"]["measurement"] == 12.5 and cases["measure"]["units"] == "ms"
    assert cases["shell-case"]["result"] == "pass"
    assert 0 < cases["shell-case"]["starttc"] <= cases["shell-case"]["endtc"]
    assert cases["param-hello"]["result"] == "pass"
    assert cases["in-set"]["result"] == "skip" and cases["in-set"]["set"] == "set1"
    assert "set" not in cases["pass-case"]
    assert cases["ref-case"]["reference"] == "http://example.com/ref"
    assert cases["pattern-case"]["result"] == "pass"
    assert "an-event" in run.messages("event")
    assert run.results("1_broken") == []
    assert any("install.sh failed" in m for m in run.messages("error"))
    assert "1_broken" not in {r["case"] for r in run.results("lava")}

    # The `lava` suite: the run itself, and every action of description.yaml.
    lava = {r["case"]: r for r in run.results("lava")}
    assert lava["0_smoke"]["result"] == "pass" and lava["0_smoke"]["repository"] == "inline"
    with open(os.path.join(run.out, "description.yaml")) as f:
        described = set(action_names(yaml.safe_load(f)["pipeline"]))
    assert {"deployimages", "http-download", "lava-overlay", "apply-overlay-initrd", "boot-image-retry",
            "execute-qemu", "auto-login-action", "lava-test-shell", "finalize", "power-off"} <= described
    assert described <= set(lava), described - set(lava)
    assert all(lava[name]["result"] == "pass" for name in described)
    assert lava["validate"]["result"] == "pass"

    # Log format: every record has dt/lvl/msg; the DUT's output is there as
    # `target`; stderr (no --url) carries the same lines as the local copy.
    records = run.records()
    assert all(set(r) >= {"dt", "lvl", "msg"} for r in records)
    assert any(PROMPT in m for m in run.messages("target") if isinstance(m, str))
    with open(run.stderr_path) as f, open(os.path.join(run.out, "logs.yaml")) as g:
        assert f.read() == g.read()
    assert records[-1]["msg"] == {"definition": "lava", "case": "job", "result": "pass"}
    # The secret reached the DUT but never the log.
    text = open(os.path.join(run.out, "logs.yaml")).read()
    assert "s3cr3t-t0ken-value" not in text
    assert "the secret is [MASKED]" in text
    # Temporary files and QEMU are gone.
    assert not os.path.exists(os.path.join(run.tmp, "42"))
    assert processes_mentioning(run.tmp) == []


def test_dut_without_prompt_times_out_in_the_boot_timeout(files, device, tmp_path):
    job = smoke_job(files, ["true"], boot_extra={"prompts": ["this-prompt-never-comes"]},
                    boot_timeout={"seconds": 25})
    run = Run(tmp_path, device, job).wait()
    assert run.rc == 1
    result = run.result()
    assert result["error_type"] == "LAVATimeout", result
    assert "timed out" in result["error_msg"]
    assert run.elapsed < 60
    # The boot ran, got output, and the test never started.
    assert any("Linux version" in m for m in run.messages("target") if isinstance(m, str))
    assert "lava-test-shell" not in {r["case"] for r in run.results("lava")}
    assert processes_mentioning(run.tmp) == []


def test_testraise_fails_the_job_with_a_test_error(files, device, tmp_path):
    job = smoke_job(files, ["lava-test-case before --result pass", "lava-test-raise the-device-is-on-fire",
                            "lava-test-case after --result pass"])
    use_compressed(files, job, kernel=".zst", initrd=".xz")
    run = Run(tmp_path, device, job).wait()
    assert run.rc == 1
    result = run.result()
    assert result["error_type"] == "Test" and "the-device-is-on-fire" in result["error_msg"], result
    cases = {r["case"] for r in run.results("0_smoke")}
    assert "before" in cases and "after" not in cases


def test_sigterm_cancels_the_job_and_cleans_up(files, device, tmp_path):
    job = smoke_job(files, ["lava-test-case started --result pass", "sleep 600"])
    use_compressed(files, job, initrd=".bz2")
    run = Run(tmp_path, device, job)

    def started():
        try:
            return any(m.get("case") == "started" for m in run.results("0_smoke"))
        except (OSError, yaml.YAMLError):
            return False

    wait_for(started, timeout=120, interval=0.2, what="the test to start")
    assert processes_mentioning(run.tmp), "QEMU should be running"
    run.proc.send_signal(signal.SIGTERM)
    run.wait(timeout=30)
    assert run.rc == 1
    result = run.result()
    assert result["error_type"] == "Canceled" and "SIGTERM" in result["error_msg"], result
    assert processes_mentioning(run.tmp) == []
    assert not os.path.exists(os.path.join(run.tmp, "42"))
    lava = {r["case"]: r for r in run.results("lava")}
    assert lava["finalize"]["result"] == "pass"


def test_git_definition_from_a_local_repository(files, device, tmp_path):
    repo = os.path.join(files.root, "tests.git")
    work = str(tmp_path / "work")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    subprocess.run(["git", "init", "-q", "-b", "main", work], check=True)
    os.makedirs(os.path.join(work, "smoke"))
    with open(os.path.join(work, "smoke", "hello.yaml"), "w") as f:
        yaml.safe_dump({"metadata": {"format": "Lava-Test Test Definition 1.0", "name": "hello"},
                        "run": {"steps": ["lava-test-case from-git --shell test -f smoke/hello.yaml",
                                          "lava-test-case helper --shell ./smoke/check.sh"]}}, f)
    with open(os.path.join(work, "smoke", "check.sh"), "w") as f:
        f.write("#!/bin/sh\ntest \"$(cat ../../../environment | grep -c LAVA_JOB_ID)\" = 1\n")
    os.chmod(os.path.join(work, "smoke", "check.sh"), 0o755)
    subprocess.run(["git", "-C", work, "add", "."], check=True)
    subprocess.run(["git", "-C", work, "commit", "-q", "-m", "tests"], check=True, env=env)
    head = subprocess.run(["git", "-C", work, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    # Served by git daemon on 127.0.0.1 (git://, which allows the default shallow clone).
    subprocess.run(["git", "clone", "-q", "--bare", work, repo], check=True)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    daemon = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                               "--port=%d" % port, "--base-path=" + files.root, files.root],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "git://127.0.0.1:%d/tests.git" % port
    try:
        wait_for(lambda: subprocess.run(["git", "ls-remote", url], capture_output=True).returncode == 0,
                 what="git daemon")
        job = use_compressed(files, smoke_job(files, []), initrd=".gz")
        job["actions"][2]["test"]["definitions"] = [
            {"from": "git", "repository": url, "path": "smoke/hello.yaml", "name": "hello"}]
        run = Run(tmp_path, device, job).wait()
        assert run.rc == 0, run.messages()[-8:]
        cases = {r["case"]: r["result"] for r in run.results("0_hello")}
        assert cases == {"from-git": "pass", "helper": "pass"}
        lava = {r["case"]: r for r in run.results("lava")}
        assert lava["0_hello"]["commit_id"] == head
        assert lava["0_hello"]["repository"] == url
    finally:
        daemon.kill()
        daemon.wait()
        shutil.rmtree(repo)


def test_transfer_overlay_interactive_and_url_definitions(files, device, tmp_path):
    """No initramfs carries the overlay: the DUT downloads it from lava-run.
    Before the test shell, an interactive test; the definition comes from a URL."""
    # from: url is a compressed tar of tests, as in LAVA.
    tests = tmp_path / "url-tests"
    (tests / "smoke").mkdir(parents=True)
    with open(tests / "smoke" / "from-url.yaml", "w") as f:
        yaml.safe_dump({"metadata": {"format": "Lava-Test Test Definition 1.0", "name": "from-url"},
                        "run": {"steps": ["lava-test-case fetched --result pass"]}}, f)
    subprocess.run(["tar", "-C", str(tests), "-czf", os.path.join(files.root, "url-tests.tar.gz"), "smoke"], check=True)
    job = smoke_job(files, [], boot_extra={"transfer_overlay": {"download_command": "cd /tmp && wget -q",
                                                                "unpack_command": "tar -C / -xzf"}})
    job["actions"][2]["test"]["definitions"] = [
        {"from": "url", "repository": files.url + "/url-tests.tar.gz", "compression": "gz",
         "path": "smoke/from-url.yaml", "name": "viaurl"}]
    interactive = {"interactive": [{"name": "shell-checks", "prompts": [PROMPT], "script": [
        {"name": "echo-works", "command": "echo hel''lo", "successes": [{"message": "hello"}]},
        {"name": "false-fails", "command": "echo status=$((1+1))", "successes": [{"message": "status=1"}],
         "failures": [{"message": "status=2"}]},
        {"command": "uname -a"},
    ]}]}
    job["actions"].insert(2, {"test": interactive})
    # The DUT sees the host as 10.0.2.2 (QEMU user networking).
    run = Run(tmp_path, device, job, dispatcher={"dispatcher_ip": "10.0.2.2"}).wait()
    assert run.rc == 0, run.messages()[-8:]
    assert {r["case"]: r["result"] for r in run.results("0_viaurl")} == {"fetched": "pass"}
    assert {r["case"]: r["result"] for r in run.results("shell-checks")} == {"echo-works": "pass",
                                                                              "false-fails": "fail"}
    lava = {r["case"]: r for r in run.results("lava")}
    assert "overlay-unpack" in lava and "compress-overlay" in lava and "apply-overlay-initrd" not in lava
    assert lava["0_viaurl"]["repository"] == files.url + "/url-tests.tar.gz"
    assert lava["lava-test-interactive"]["result"] == "pass"


def test_minimal_boot_with_auto_login(images, device, tmp_path):
    """boot: minimal — the device's connection command (here QEMU itself, its
    serial console on the pty) and LAVA's auto_login against `dut login:`;
    no deploy, so the boot builds the overlay and the DUT fetches it."""
    with open(device) as f:
        config = yaml.safe_load(f)
    marker = "lava-run-minimal-%d" % os.getpid()
    qemu = ["qemu-system-x86_64", "-name", marker, "-accel", "tcg", "-machine", "pc", "-bios", "/usr/share/qemu/qboot.rom",
            "-m", "256", "-nographic", "-monitor", "none", "-no-user-config", "-display", "none",
            "-kernel", os.path.join(images, "vmlinux"), "-initrd", os.path.join(images, "initramfs.cpio.gz"),
            "-append", "'console=ttyS0,115200 panic=-1 dut.login=1'",
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"]
    config["commands"] = {"connect": " ".join(qemu)}
    minimal = str(tmp_path / "minimal.yaml")
    with open(minimal, "w") as f:
        yaml.safe_dump(config, f)
    job = {"job_name": "minimal", "device_type": "qemu", "visibility": "public",
           "timeouts": {"job": {"minutes": 3}, "action": {"minutes": 2}}, "context": {"arch": "amd64"},
           "actions": [
               {"boot": {"method": "minimal", "prompts": [PROMPT],
                         "auto_login": {"login_prompt": "dut login:", "username": "root",
                                        "login_commands": ["export LOGGED_IN=yes"]},
                         "transfer_overlay": {"download_command": "cd /tmp && wget -q",
                                              "unpack_command": "tar -C / -xzf"}}},
               {"test": {"interactive": [{"name": "after-login", "prompts": [PROMPT], "script": [
                   {"name": "login-commands-ran", "command": "echo \"[$LOGGED_IN]\"",
                    "successes": [{"message": "\\[yes\\]"}]}]}]}},
               {"test": {"definitions": [{"from": "inline", "name": "onboard", "path": "inline/onboard.yaml",
                                          "repository": {"metadata": {"format": "Lava-Test Test Definition 1.0",
                                                                      "name": "onboard"},
                                                         "run": {"steps": ["lava-test-case ran --result pass"]}}}]}}]}
    run = Run(tmp_path, minimal, job, dispatcher={"dispatcher_ip": "10.0.2.2"}).wait()
    assert run.rc == 0, run.messages()[-8:]
    assert {r["case"]: r["result"] for r in run.results("after-login")} == {"login-commands-ran": "pass"}
    assert {r["case"]: r["result"] for r in run.results("0_onboard")} == {"ran": "pass"}
    assert "root" in [m.strip() for m in run.messages("input")]
    lava = {r["case"] for r in run.results("lava")}
    assert {"minimal-boot", "lava-overlay", "compress-overlay", "connect-device", "reset-device",
            "auto-login-action", "overlay-unpack"} <= lava
    assert processes_mentioning(marker) == []


# ----------------------------------------------------------------- failures before the boot

def test_wrong_sha256_is_an_infrastructure_error_before_boot(files, device, tmp_path):
    job = smoke_job(files, ["true"])
    job["actions"][0]["deploy"]["images"]["initrd"]["sha256sum"] = "0" * 64
    run = Run(tmp_path, device, job).wait()
    assert run.rc == 1
    result = run.result()
    assert result["error_type"] == "Infrastructure", result
    assert "sha256sum" in result["error_msg"]
    assert sha256(os.path.join(files.root, "initramfs.cpio.gz")) in result["error_msg"]
    assert "execute-qemu" not in {r["case"] for r in run.results("lava")}


def test_unreachable_url_and_unknown_arch_fail_validation(files, device, tmp_path):
    job = smoke_job(files, ["true"])
    job["actions"][0]["deploy"]["images"]["kernel"]["url"] = files.url + "/no-such-kernel"
    job["context"]["arch"] = "sparc"
    run = Run(tmp_path, device, job).wait()
    assert run.rc == 1
    result = run.result()
    assert result["error_type"] == "Job", result
    assert "no-such-kernel" in result["error_msg"] and "'sparc'" in result["error_msg"]
    assert [r["result"] for r in run.results("lava") if r["case"] == "validate"] == ["fail"]


def test_https_downloads_verify_the_server(files, device, tmp_path):
    """https: the server's certificate must chain to a trusted CA and name the host."""
    ca_key, ca, key, csr, cert = (str(tmp_path / n) for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))
    ext = tmp_path / "ext.cnf"
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca, "-days", "2",
            "-subj", "/CN=lava-cpp test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert, "-days", "2",
            "-extfile", str(ext))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(FileHandler, directory=files.root))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        data = open(os.path.join(files.root, "initramfs.cpio.gz.xz"), "rb").read()
        images = {"by-name": {"url": "https://localhost:%d/initramfs.cpio.gz.xz" % port, "compression": "xz",
                              "sha256sum": hashlib.sha256(data).hexdigest()},
                  "by-address": {"url": "https://127.0.0.1:%d/initramfs.cpio.gz" % port}}
        job = {"job_name": "https", "device_type": "qemu", "visibility": "public",
               "timeouts": {"job": {"minutes": 2}}, "context": {"arch": "amd64"},
               "actions": [{"deploy": {"to": "downloads", "images": images}}]}
        trusted = dict(os.environ, SSL_CERT_FILE=ca)
        run = Run(tmp_path / "trusted", device, job, env=trusted).wait(timeout=60)
        assert run.rc == 0, run.messages()[-6:]
        sizes = {r["extra"]["label"]: r["extra"]["size"] for r in run.results("lava") if r["case"] == "http-download"}
        assert sizes == {"by-name": len(data),
                         "by-address": os.path.getsize(os.path.join(files.root, "initramfs.cpio.gz"))}
        # Without the CA: refused at validation, saying why.
        run = Run(tmp_path / "untrusted", device, job).wait(timeout=60)
        assert run.rc == 1
        result = run.result()
        assert result["error_type"] == "Job" and "certificate" in result["error_msg"], result
    finally:
        server.shutdown()
        server.server_close()


# ----------------------------------------------------------------- log upload

class LogServer:
    """The worker API's log endpoint, as LAVA's server answers it, failing on
    purpose: the 2nd and 5th requests get a 500, and batches over 40 lines a 413."""

    def __init__(self):
        self.lines = []
        self.requests = 0
        self.statuses = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                form = urllib.parse.parse_qs(body, keep_blank_values=True)
                server.requests += 1
                batch = form["lines"][0].split("\n")
                status = 200
                if self.headers.get("LAVA-Token") != "job-token" or self.path != "/scheduler/internal/v1/jobs/42/logs/":
                    status = 404
                elif server.requests in (2, 5):
                    status = 500
                elif len(batch) > 40:
                    status = 413
                server.statuses.append(status)
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    return
                skip = len(server.lines) - int(form["index"][0])
                assert skip >= 0
                server.lines.extend(batch[skip:])
                payload = json.dumps({"line_count": len(batch)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_log_upload_survives_errors_without_loss_or_duplicates(files, device, tmp_path):
    # A job without a DUT: downloads only, many log lines.
    images = {"file%d" % i: {"url": files.url + "/initramfs.cpio.gz"} for i in range(10)}
    # Also: a chunked response and a redirect (whose HEAD is refused: lava-run then tries a GET).
    digest = sha256(os.path.join(files.root, "initramfs.cpio.gz"))
    images["chunked"] = {"url": files.url + "/chunked/initramfs.cpio.gz", "sha256sum": digest}
    images["redirected"] = {"url": files.url + "/redirect/initramfs.cpio.gz", "sha256sum": digest}
    job = {"job_name": "upload", "device_type": "qemu", "visibility": "public",
           "timeouts": {"job": {"minutes": 2}}, "context": {"arch": "amd64"},
           "actions": [{"deploy": {"to": "downloads", "images": images}}]}
    server = LogServer()
    try:
        run = Run(tmp_path, device, job, args=["--url", server.url, "--token", "job-token",
                                               "--job-log-interval", "1"]).wait(timeout=120)
    finally:
        server.close()
    assert run.rc == 0
    with open(os.path.join(run.out, "logs.yaml")) as f:
        local = f.read().split("\n")[:-1]
    assert len(local) > 100
    assert server.lines == local
    assert 500 in server.statuses and 413 in server.statuses
    # With a server, the log does not go to stderr.
    assert "http-download" not in open(run.stderr_path).read()


# ----------------------------------------------------------------- LAVA agrees

LAVA_ROOT = os.path.join(os.environ.get("LAVA_REFERENCE_DIR", "/nonexistent"), "usr")


def lava_validate(tmp_path, device, job):
    """LAVA 2023.01's own lava-run --validate on the same files; its exit code."""
    stub = tmp_path / "stub"
    stub.mkdir(exist_ok=True)
    # libguestfs is only imported, never used, by --validate; its Python
    # binding is not worth 100 packages here.
    (stub / "guestfs.py").write_text("")
    out = tmp_path / ("lava-out-%d" % time.monotonic_ns())
    job_path = tmp_path / "lava-job.yaml"
    job_path.write_text(yaml.safe_dump(job))
    env = dict(os.environ, PYTHONPATH="%s/lib/python3/dist-packages:%s" % (LAVA_ROOT, stub))
    r = subprocess.run(["/usr/bin/python3", os.path.join(LAVA_ROOT, "bin", "lava-run"), "--validate",
                        "--device", device, "--output-dir", str(out), "--job-id", "42", str(job_path)],
                       capture_output=True, text=True, env=env, timeout=120)
    return r.returncode, r.stdout + r.stderr


def our_validate(tmp_path, device, job):
    out = tmp_path / ("our-out-%d" % time.monotonic_ns())
    job_path = tmp_path / "our-job.yaml"
    job_path.write_text(yaml.safe_dump(job))
    r = subprocess.run([program("lava-run"), "--validate", "--device", device, "--output-dir", str(out),
                        "--job-id", "42", "--tmp-dir", str(tmp_path / "tmp"), str(job_path)],
                       capture_output=True, text=True, timeout=120)
    assert os.path.exists(out / "description.yaml")
    return r.returncode, r.stderr


def test_lava_2023_01_validates_the_same_job_and_device(files, device, tmp_path):
    if not os.path.exists(os.path.join(LAVA_ROOT, "bin", "lava-run")):
        missing_reference("LAVA's lava-dispatcher is not unpacked (tools/fetch-lava-reference)")
    good = smoke_job(files, ["lava-test-case a --result pass"])
    rc, out = lava_validate(tmp_path, device, good)
    assert rc == 0, out[-2000:]
    assert our_validate(tmp_path, device, good)[0] == 0
    # Both refuse a job without the arch its qemu boot needs.
    bad = smoke_job(files, ["true"])
    del bad["context"]
    rc, out = lava_validate(tmp_path, device, bad)
    assert rc != 0 and "arch" in out
    rc, err = our_validate(tmp_path, device, bad)
    assert rc != 0 and "Missing 'arch' in job context" in err
