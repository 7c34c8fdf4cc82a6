"""Real boards end to end: a lab from tools/lab with one u-boot board from
tools/board (arm64 QEMU running Debian's u-boot, powered through PDUDaemon,
its console behind ser2net, network boot from the worker's tftpd-hpa), jobs
submitted with Debian's lavacli. The board's health check runs first; a
ramdisk job (and the same with a gzip kernel and a u-boot-header ramdisk,
and with the overlay fetched by the board: transfer_overlay) completes with
its test results; a device configuration rendered from LAVA
2023.01's own base-uboot.jinja2 boots the same board; a file missing on the
TFTP server, a dead PDU, a console taken over mid-test end the job
Incomplete with an Infrastructure error naming the cause, and the device
goes through LAVA's transitions (Unknown, a health check, Bad when that
fails too, back to Good by hand); a job canceled at the u-boot prompt leaves
the board powered off."""

import os
import re
import shutil
import socket
import subprocess

import pytest
import requests
import yaml

from conftest import BUILD_DIR, SOURCE_DIR, lab_lavacli, lab_psql, missing_reference, tools_lab, wait_for

PROMPT = "root@dut:~# "
BOARD = "uboot01"


@pytest.fixture(scope="module")
def lab():
    yield from tools_lab("lava-uboot-", "--boards", "1", timeout=900)


def lavacli(lab, *args, timeout=120):
    return lab_lavacli(lab, *args, timeout=timeout)


def psql(lab, sql):
    return lab_psql(lab, sql)


def board_dir(lab):
    return os.path.join(lab["dir"], "boards", BOARD)


def power_status(lab):
    r = subprocess.run([os.path.join(SOURCE_DIR, "tools", "board"), "power", board_dir(lab), "status"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip()


def listening(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def device(lab):
    return yaml.safe_load(lavacli(lab, "devices", "show", BOARD, "--yaml"))


def wait_health(lab, health, timeout=180):
    wait_for(lambda: device(lab)["health"] == health and device(lab)["state"] == "Idle", timeout=timeout,
             interval=1, what="%s to be %s and Idle" % (BOARD, health))


def wait_health_check_after(lab, job_id):
    """The device's health check that an Infrastructure error in `job_id` caused, completed: Good again."""
    wait_health(lab, "Good")
    checks = psql(lab, "SELECT count(*) FROM test_jobs WHERE health_check AND health = 1 "
                       "AND actual_device = '%s' AND id > %s" % (BOARD, job_id))
    assert int(checks) == 1, "no health check ran after job %s" % job_id


def shown(lab, job_id):
    return yaml.safe_load(lavacli(lab, "jobs", "show", job_id, "--yaml"))


def wait_finished(lab, job_id, timeout=240):
    wait_for(lambda: shown(lab, job_id)["state"] == "Finished", timeout=timeout, interval=1,
             what="job %s to finish" % job_id)
    return shown(lab, job_id)


def results(lab, job_id):
    return {(r["suite"], r["name"]): r for r in yaml.safe_load(lavacli(lab, "results", job_id, "--yaml"))}


def log_text(lab, job_id):
    return lavacli(lab, "jobs", "logs", job_id, "--no-follow", "--raw")


def typed(lab, job_id):
    """What lava-run typed on the console (the log's `input` lines)."""
    out = lavacli(lab, "jobs", "logs", job_id, "--no-follow", "--raw", "--filters", "input")
    return [str(r["msg"]).rstrip("\n") for r in yaml.safe_load(out) or []]


def board_said(lab, job_id, text):
    """Whether the board printed `text` (a `target` line of the job's log)."""
    out = lavacli(lab, "jobs", "logs", job_id, "--no-follow", "--raw", "--filters", "target")
    return any(text in str(r.get("msg", "")) for r in yaml.safe_load(out) or [])


def job_error(lab, job_id):
    case = yaml.safe_load(lavacli(lab, "results", job_id, "lava", "job", "--yaml"))
    metadata = (case[0] if isinstance(case, list) else case)["metadata"]
    return metadata.get("error_type"), metadata.get("error_msg", "")


def tftp_deploy(lab, kernel="Image", ramdisk="initramfs.cpio.gz", kernel_extra=None, ramdisk_extra=None):
    images = lab["LAVA_ARM64_IMAGES_URL"]
    deploy = {"to": "tftp", "kernel": dict({"url": images + "/" + kernel, "type": "image"}, **(kernel_extra or {})),
              "ramdisk": dict({"url": images + "/" + ramdisk, "compression": "gz"}, **(ramdisk_extra or {}))}
    return {"deploy": deploy}


def shell_test(name, steps):
    return {"test": {"definitions": [{
        "from": "inline", "name": name, "path": "inline/%s.yaml" % name, "repository": {
            "metadata": {"format": "Lava-Test Test Definition 1.0", "name": name},
            "run": {"steps": steps}}}]}}


def submit(lab, tmp_path, name, actions, minutes=6):
    job = {"job_name": name, "device_type": "base-uboot", "visibility": "public", "priority": "medium",
           "timeouts": {"job": {"minutes": minutes}, "action": {"minutes": 3}, "connection": {"minutes": 1}},
           "actions": actions}
    path = tmp_path / (name.replace(" ", "-") + ".yaml")
    path.write_text(yaml.safe_dump(job))
    return lavacli(lab, "jobs", "submit", str(path)).strip()


SMOKE = ["lava-test-case arch --shell test \"$(uname -m)\" = aarch64",
         "lava-test-case overlay --shell test -x /lava-$LAVA_JOB_ID/bin/lava-test-runner"]


def test_the_health_check_runs_first_then_a_ramdisk_job_completes(lab, tmp_path):
    wait_health(lab, "Good")
    checks = psql(lab, "SELECT count(*) FROM test_jobs WHERE health_check AND health = 1 "  # Complete
                       "AND actual_device = '%s'" % BOARD)
    assert int(checks) >= 1, "no completed health check on the board"
    job_id = submit(lab, tmp_path, "u-boot ramdisk", [
        tftp_deploy(lab),
        {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT]}},
        shell_test("smoke", SMOKE)])
    job = wait_finished(lab, job_id)
    assert job["health"] == "Complete", log_text(lab, job_id)[-3000:]
    r = results(lab, job_id)
    assert r[("0_smoke", "arch")]["result"] == "pass"
    assert r[("0_smoke", "overlay")]["result"] == "pass"
    for action in ("tftp-deploy", "bootloader-overlay", "pdu-reboot", "bootloader-interrupt", "bootloader-commands",
                   "auto-login-action", "uboot-action"):
        assert r[("lava", action)]["result"] == "pass", action
    log = log_text(lab, job_id)
    # The device's commands, substituted: the worker's address, the per-job
    # TFTP paths, booti with the u-boot-header ramdisk.
    assert "setenv serverip " + lab["LAVA_SERVER_IP"] in log
    assert "tftp ${kernel_addr_r} %s/tftp-deploy-" % job_id in log
    assert "/ramdisk/initramfs.cpio.gz.uboot" in log
    assert "booti ${kernel_addr_r} ${ramdisk_addr_r} ${fdt_addr}" in log
    # Finalize powered the board off; the job's TFTP files are gone.
    assert power_status(lab) == "off"
    assert os.listdir(lab["LAVA_TFTP_DIR"]) == []


def test_a_gzip_kernel_and_a_uboot_header_ramdisk(lab, tmp_path):
    wait_health(lab, "Good")
    job_id = submit(lab, tmp_path, "u-boot compressed", [
        tftp_deploy(lab, kernel="Image.gz", ramdisk="initramfs.cpio.gz.uboot",
                    kernel_extra={"compression": "gz"}, ramdisk_extra={"header": "u-boot"}),
        {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT]}},
        shell_test("smoke", SMOKE)])
    job = wait_finished(lab, job_id)
    assert job["health"] == "Complete", log_text(lab, job_id)[-3000:]
    assert results(lab, job_id)[("0_smoke", "arch")]["result"] == "pass"
    # The kernel was decompressed on download (as LAVA does), the ramdisk's
    # header replaced by one over the ramdisk with the overlay.
    assert any(re.fullmatch(r"tftp \$\{kernel_addr_r\} %s/tftp-deploy-\w+/kernel/Image" % job_id, line)
               for line in typed(lab, job_id)), typed(lab, job_id)
    assert "Removed the u-boot header" in log_text(lab, job_id)


def test_the_board_fetches_the_overlay_over_http_with_transfer_overlay(lab, tmp_path):
    wait_health(lab, "Good")
    job_id = submit(lab, tmp_path, "u-boot transfer overlay", [
        tftp_deploy(lab),
        {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT],
                  "transfer_overlay": {"download_command": "cd /tmp && wget -q", "unpack_command": "tar -C / -xzf"}}},
        shell_test("smoke", SMOKE)])
    job = wait_finished(lab, job_id)
    assert job["health"] == "Complete", log_text(lab, job_id)[-3000:]
    r = results(lab, job_id)
    assert r[("0_smoke", "overlay")]["result"] == "pass"
    assert r[("lava", "overlay-unpack")]["result"] == "pass"
    assert ("lava", "apply-overlay-tftp") not in r  # not in the ramdisk: fetched after login
    assert any(line.startswith("cd /tmp && wget -q http://%s:" % lab["LAVA_SERVER_IP"]) for line in typed(lab, job_id))


def test_a_device_configuration_rendered_from_lavas_own_templates(lab, tmp_path):
    """A lab that keeps LAVA 2023.01's device-type templates: the board's
    dictionary extends LAVA's base-uboot.jinja2, rendered by lava-server."""
    reference = os.environ.get("LAVA_REFERENCE_DIR", os.path.join(BUILD_DIR, "lava-reference"))
    lava_types = os.path.join(reference, "usr", "share", "lava-server", "device-types")
    if not os.path.isfile(os.path.join(lava_types, "base-uboot.jinja2")):
        missing_reference("LAVA's device-type templates are not in %s (tools/fetch-lava-reference)" % lava_types)
    wait_health(lab, "Good")
    lavacli(lab, "devices", "update", BOARD, "--health", "MAINTENANCE")
    try:
        dc = tmp_path / "dispatcher-config"
        shutil.copytree(lava_types, dc / "device-types")
        os.makedirs(dc / "devices")
        shutil.copy(os.path.join(lab["dir"], "boards", "devices", BOARD + ".jinja2"), dc / "devices")
        rendered = subprocess.run([lab["LAVA_SERVER"], "manage", "device-dictionary", "render", BOARD,
                                   "--dispatcher-config", str(dc)], capture_output=True, text=True, check=True)
        config = yaml.safe_load(rendered.stdout)
        # LAVA's template, not ours: its bootloader prompt and its bootargs.
        assert config["actions"]["boot"]["methods"]["u-boot"]["parameters"]["bootloader_prompt"] == "=>"
        assert "ums" in config["actions"]["boot"]["methods"]["u-boot"]
        (tmp_path / "device.yaml").write_text(rendered.stdout)
        job = {"job_name": "LAVA template", "device_type": "base-uboot", "visibility": "public",
               "priority": "medium", "timeouts": {"job": {"minutes": 5}, "action": {"minutes": 3}},
               "actions": [tftp_deploy(lab),
                           {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT]}},
                           shell_test("smoke", SMOKE)]}
        (tmp_path / "job.yaml").write_text(yaml.safe_dump(job))
        out = tmp_path / "out"
        run = subprocess.run([os.path.join(BUILD_DIR, "src", "lava-run"), "--device", str(tmp_path / "device.yaml"),
                              "--output-dir", str(out), "--job-id", "9000", "--tmp-dir", str(tmp_path / "tmp"),
                              "--tftp-dir", lab["LAVA_TFTP_DIR"], str(tmp_path / "job.yaml")],
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-4000:]
        records = yaml.safe_load((out / "logs.yaml").read_text())
        passed = {r["msg"]["case"] for r in records if r["lvl"] == "results" and r["msg"].get("result") == "pass"}
        assert {"arch", "overlay", "bootloader-commands", "job"} <= passed
        typed = [r["msg"] for r in records if r["lvl"] == "input"]
        assert any("console=ttyAMA0,115200n8 root=/dev/ram0" in t for t in typed), typed  # LAVA's bootargs
        assert power_status(lab) == "off"
    finally:
        lavacli(lab, "devices", "update", BOARD, "--health", "GOOD")


def test_a_file_missing_on_the_tftp_server_is_reported_as_u_boot_says(lab, tmp_path):
    wait_health(lab, "Good")
    job_id = submit(lab, tmp_path, "u-boot missing file", [
        {"boot": {"method": "u-boot", "prompts": [PROMPT], "commands": [
            "setenv autoload no", "dhcp", "setenv serverip {SERVER_IP}",
            "tftp ${kernel_addr_r} lava-no-such-dir/Image", "booti ${kernel_addr_r} - ${fdt_addr}"]}}])
    job = wait_finished(lab, job_id)
    assert job["health"] == "Incomplete"
    error_type, message = job_error(lab, job_id)
    assert error_type == "Infrastructure"
    assert "matched a bootloader error message: 'File not found'" in message
    assert "TFTP error: 'File not found'" in log_text(lab, job_id)
    # LAVA's transitions: an Infrastructure error sends the device to
    # Unknown, whose health check runs and brings it back to Good.
    wait_health_check_after(lab, job_id)
    assert power_status(lab) == "off"


def test_a_console_taken_over_mid_test_is_an_infrastructure_error(lab, tmp_path):
    wait_health(lab, "Good")
    job_id = submit(lab, tmp_path, "u-boot console drop", [
        tftp_deploy(lab),
        {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT]}},
        shell_test("hold", ["echo HOLD-$((40 + 2))", "sleep 120"])])
    wait_for(lambda: board_said(lab, job_id, "HOLD-42"), timeout=180, interval=1, what="the test to start")
    # Another client on the console server: ser2net (kickolduser) drops the job's connection.
    port = int(lab["LAVA_BOARD_UBOOT01_CONSOLE"])
    with socket.create_connection(("127.0.0.1", port), timeout=10):
        job = wait_finished(lab, job_id, timeout=60)
    assert job["health"] == "Incomplete"
    error_type, message = job_error(lab, job_id)
    assert error_type == "Infrastructure"
    assert "the connection to the device ('telnet 127.0.0.1 %d') closed" % port in message, message
    wait_health_check_after(lab, job_id)
    assert power_status(lab) == "off"


def test_a_dead_pdu_fails_the_job_then_the_health_check_and_the_board_goes_bad(lab, tmp_path):
    wait_health(lab, "Good")
    pidfile = os.path.join(lab["dir"], "boards", "run", "pdudaemon.pid")
    with open(pidfile) as f:
        pid = int(f.read().strip())
    os.kill(pid, 15)
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=30, what="pdudaemon to stop")
    job_id = submit(lab, tmp_path, "u-boot dead pdu", [
        tftp_deploy(lab), {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT]}}])
    job = wait_finished(lab, job_id)
    assert job["health"] == "Incomplete"
    error_type, message = job_error(lab, job_id)
    assert error_type == "Infrastructure"
    assert message.startswith("Unable to reboot: '") and "pduclient" in message, message
    # The health check that follows fails the same way: the board goes Bad
    # and a job for it waits.
    wait_health(lab, "Bad")
    waiting = submit(lab, tmp_path, "u-boot waits", [
        tftp_deploy(lab), {"boot": {"method": "u-boot", "commands": "ramdisk", "prompts": [PROMPT]}},
        shell_test("smoke", SMOKE)])
    reason = wait_for(lambda: psql(lab, "SELECT waiting_reason FROM device_type_queues WHERE device_type = "
                                        "'base-uboot'").startswith("no usable device"),
                      timeout=60, what="the scheduler's reason for the waiting job")
    assert reason and shown(lab, waiting)["state"] == "Submitted"
    # The PDU back (the same daemon, settings and port), the admin sets the
    # board Good (REST): the job runs.
    boards = os.path.join(lab["dir"], "boards")
    with open(os.path.join(boards, "logs", "pdudaemon.log"), "a") as log:
        daemon = subprocess.Popen(["/usr/sbin/pdudaemon", "--conf", os.path.join(boards, "pdudaemon.conf"),
                                   "--logfile", "-"], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                  start_new_session=True)
    with open(pidfile, "w") as f:
        f.write("%d\n" % daemon.pid)  # tools/board down stops it
    host, port = lab["LAVA_PDU_DAEMON"].rsplit(":", 1)
    wait_for(lambda: listening(host, int(port)), timeout=30, what="pdudaemon to listen again")
    r = requests.post("%s/api/v0.2/devices/%s/set_health/" % (lab["LAVA_URL"], BOARD),
                      data={"health": "GOOD", "reason": "the PDU is back"},
                      headers={"Authorization": "Token " + lab["LAVA_ADMIN_TOKEN"]}, timeout=30)
    assert r.status_code in (200, 202), r.text
    job = wait_finished(lab, waiting)
    assert job["health"] == "Complete", log_text(lab, waiting)[-3000:]


def test_a_job_canceled_at_the_u_boot_prompt_leaves_the_board_off(lab, tmp_path):
    wait_health(lab, "Good")
    job_id = submit(lab, tmp_path, "u-boot cancel", [
        {"boot": {"method": "u-boot", "prompts": [PROMPT], "commands": ["sleep 100", "version"]}}])
    # u-boot echoes the command it runs (the log's "Parsed boot commands" come before the power-on).
    wait_for(lambda: board_said(lab, job_id, "sleep 100"), timeout=120, interval=0.5, what="u-boot's sleep")
    assert power_status(lab) == "on"
    lavacli(lab, "jobs", "cancel", job_id)
    job = wait_finished(lab, job_id, timeout=60)
    assert job["health"] == "Canceled"
    assert power_status(lab) == "off"
