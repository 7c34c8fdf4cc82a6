"""Device configuration from the command line (`lava-server manage
device-dictionary render`, `validate-testdef`), with lava-cpp's own
templates, sample dictionaries and health checks: they render, validate
with our device schema and with LAVA's (when lava-common is installed), and
errors name the device and what is wrong."""

import glob
import json
import os
import subprocess

import pytest
import yaml

from conftest import SOURCE_DIR, missing_reference, program

CONFIG = os.path.join(SOURCE_DIR, "etc", "dispatcher-config")
SAMPLES = sorted(os.path.basename(p)[:-len(".jinja2")]
                 for p in glob.glob(os.path.join(CONFIG, "devices", "*.jinja2")))


def render(root, hostname, *args):
    return subprocess.run([program("lava-server"), "manage", "device-dictionary", "render",
                           "--dispatcher-config", root, hostname] + list(args),
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("hostname", SAMPLES)
def test_samples_render_and_validate(hostname):
    r = render(CONFIG, hostname, "--yaml")
    assert r.returncode == 0, r.stderr
    config = yaml.safe_load(r.stdout)
    assert "actions" in config and "timeouts" in config and "constants" in config
    text = render(CONFIG, hostname)
    assert text.returncode == 0
    try:
        from lava_common.schemas.device import validate as lava_validate_device
    except ImportError:
        missing_reference("Debian's lava-common is not installed")
    lava_validate_device(yaml.safe_load(text.stdout))


def test_samples_cover_every_template():
    templates = {os.path.basename(p)[:-len(".jinja2")]
                 for p in glob.glob(os.path.join(CONFIG, "device-types", "*.jinja2"))} - {"base"}
    extended = set()
    for hostname in SAMPLES:
        with open(os.path.join(CONFIG, "devices", hostname + ".jinja2")) as f:
            for line in f:
                if "extends" in line:
                    extended.add(line.split("'")[1][:-len(".jinja2")])
    assert extended == templates
    checks = {os.path.basename(p)[:-len(".yaml")] for p in glob.glob(os.path.join(CONFIG, "health-checks", "*.yaml"))}
    assert checks == templates


def test_health_checks_are_valid_jobs():
    files = sorted(glob.glob(os.path.join(CONFIG, "health-checks", "*.yaml")))
    r = subprocess.run([program("lava-server"), "manage", "validate-job"] + files,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines() == ["%s: OK" % f for f in files]


def test_job_context_reaches_the_template():
    r = render(CONFIG, "qemu01", "--yaml", "--context", "arch=arm64", "--context",
               "extra_options=['-smp 2']")
    assert r.returncode == 0, r.stderr
    qemu = yaml.safe_load(r.stdout)["actions"]["boot"]["methods"]["qemu"]["parameters"]
    # The dictionary sets arch itself, which wins over the job context (LAVA's precedence);
    # extra_options from the dictionary win too.
    assert qemu["command"] == "qemu-system-x86_64"
    assert "-smp 2" not in qemu["options"]


def test_context_values_are_yaml(tmp_path):
    os.makedirs(tmp_path / "devices")
    os.symlink(os.path.join(CONFIG, "device-types"), tmp_path / "device-types")
    (tmp_path / "devices" / "q.jinja2").write_text("{% extends 'qemu.jinja2' %}\n")
    r = render(str(tmp_path), "q", "--yaml", "--context", "arch=arm64", "--context", "memory=1024",
               "--context", "no_kvm=true", "--context", "extra_options=['-smp 2']")
    assert r.returncode == 0, r.stderr
    qemu = yaml.safe_load(r.stdout)["actions"]["boot"]["methods"]["qemu"]["parameters"]
    assert qemu["command"] == "qemu-system-aarch64"
    assert "-m 1024" in qemu["options"] and "-smp 2" in qemu["options"]
    assert "-accel tcg" in qemu["options"]
    # A value YAML cannot read is the text itself (issue 14: ",vers=4" was refused).
    (tmp_path / "devices" / "n.jinja2").write_text(
        "{% extends 'qemu.jinja2' %}\n{% set marker = extra_nfsroot_args ~ '|' ~ (count + 1) %}\n"
        "{% set extra_options = [marker] %}\n")
    r = render(str(tmp_path), "n", "--yaml", "--context", "arch=amd64", "--context", "extra_nfsroot_args=,vers=4",
               "--context", "count=41")
    assert r.returncode == 0, r.stderr
    assert ",vers=4|42" in yaml.safe_load(r.stdout)["actions"]["boot"]["methods"]["qemu"]["parameters"]["options"]


def test_errors_name_the_device_and_the_problem(tmp_path):
    os.makedirs(tmp_path / "devices")
    os.makedirs(tmp_path / "device-types")
    r = render(str(tmp_path), "nope")
    assert r.returncode == 1
    assert "device 'nope' has no device dictionary" in r.stderr
    (tmp_path / "devices" / "broken.jinja2").write_text("{% extends 'missing.jinja2' %}\n")
    r = render(str(tmp_path), "broken")
    assert r.returncode == 1
    assert "device 'broken'" in r.stderr and "template 'missing.jinja2' not found" in r.stderr
    (tmp_path / "devices" / "syntax.jinja2").write_text("line one\n{% if %}\n")
    r = render(str(tmp_path), "syntax")
    assert r.returncode == 1
    assert "syntax.jinja2, line 2" in r.stderr
    # Renders, but is not a valid device configuration: names the device and the key.
    (tmp_path / "device-types" / "bad.jinja2").write_text(
        "constants: {}\nparameters: {}\nactions: {deploy: {methods: {}}, boot: {methods: {}}}\n"
        "timeouts: {actions: {}, connections: {}}\ncommands: {power_on: 1}\n")
    (tmp_path / "devices" / "invalid.jinja2").write_text("{% extends 'bad.jinja2' %}\n")
    assert render(str(tmp_path), "invalid").returncode == 0  # the text renders
    r = render(str(tmp_path), "invalid", "--yaml")
    assert r.returncode == 1
    assert "device 'invalid': invalid configuration" in r.stderr
    assert "actions.boot.connections: required key not provided" in r.stderr
    assert "commands.power_on" in r.stderr
    r = render(str(tmp_path), "invalid", "--context", "novalue")
    assert r.returncode == 1 and "--context takes KEY=VALUE" in r.stderr


def test_validate_testdef_contract(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({
        "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "smoke",
                     "description": "x"},
        "install": {"deps": ["curl"], "deps-debian": ["curl"], "steps": ["true"]},
        "params": {"A": 1},
        "parse": {"pattern": r"^(?P<test_case_id>\S+): (?P<result>PASS|FAIL)$",
                  "fixupdict": {"PASS": "pass", "FAIL": "fail"}},
        "run": {"steps": ["./run.sh"]}}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({
        "metadata": {"format": "Lava-Test Test Definition 2.0", "name": "smoke"},
        "parse": {"pattern": r"(?P<test_case_id>\S+) (?P<result", "fixupdict": {"X": "ok"}},
        "run": {"steps": "one string"}}))
    nogroups = tmp_path / "nogroups.yaml"
    nogroups.write_text(yaml.safe_dump({
        "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "smoke"},
        "parse": {"pattern": r"(?P<name>\S+)"}, "run": {"steps": ["x"]}}))
    r = subprocess.run([program("lava-server"), "manage", "validate-testdef", str(good), str(bad),
                        str(nogroups)], capture_output=True, text=True)
    assert r.returncode == 1
    lines = r.stdout.splitlines()
    assert lines[0] == "%s: OK" % good
    bad_lines = [l for l in lines if l.startswith(str(bad))]
    assert any("metadata.format: expected 'Lava-Test Test Definition 1.0'" in l for l in bad_lines)
    assert any("parse.fixupdict.X: expected 'pass' or 'fail' or 'skip' or 'unknown'" in l
               for l in bad_lines)
    assert any("run.steps: expected a list" in l for l in bad_lines)
    assert any("parse.pattern: invalid regular expression" in l for l in bad_lines)
    assert any("parse.pattern: the pattern has no named group test_case_id, result" in l
               for l in lines if l.startswith(str(nogroups)))
    r = subprocess.run([program("lava-server"), "manage", "validate-testdef", str(good)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "%s: OK\n" % good
