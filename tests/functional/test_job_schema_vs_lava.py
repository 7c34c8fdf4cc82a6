"""lava-server manage validate-job accepts exactly the jobs that LAVA 2023.01's
own validator (lava_common.schemas.validate from Debian's lava-common)
accepts, in both its strict and lenient modes, over the corpus in
job_corpus.py and a few hand-written YAML texts."""

import os
import subprocess

import pytest
import yaml

from conftest import missing_reference, program
from job_corpus import corpus

try:
    import lava_common.schemas as lava_schemas
except ImportError:
    missing_reference("Debian's lava-common is not installed")

# Deliberate difference (docs/adr/0005-job-validation.md): LAVA validates only
# the first key of an action item and silently ignores the rest; we reject an
# item with several keys. No corpus entry has one; test_multi_key_actions
# checks the difference itself.

RAW = {
    # YAML 1.1 typing as PyYAML does it.
    "yes-as-bool": "job_name: t\ndevice_type: qemu\nvisibility: public\n"
                   "timeouts: {job: {minutes: 1}}\nreboot_to_fastboot: yes\nactions: []\n",
    "octal-minutes": "job_name: t\ndevice_type: qemu\nvisibility: public\n"
                     "timeouts: {job: {minutes: 0755}}\nactions: []\n",
    "sexagesimal": "job_name: t\ndevice_type: qemu\nvisibility: public\n"
                   "timeouts: {job: {minutes: 1:30}}\nactions: []\n",
    "exp-without-dot-is-a-string": "job_name: t\ndevice_type: qemu\nvisibility: public\n"
                                   "timeouts: {job: {minutes: 1e3}}\nactions: []\n",
    "date-name": "job_name: 2023-01-01\ndevice_type: qemu\nvisibility: public\n"
                 "timeouts: {job: {minutes: 1}}\nactions: []\n",
    "quoted-number-name": "job_name: '1'\ndevice_type: qemu\nvisibility: public\n"
                          "timeouts: {job: {minutes: 1}}\nactions: []\n",
    "null-priority": "job_name: t\ndevice_type: qemu\nvisibility: public\npriority:\n"
                     "timeouts: {job: {minutes: 1}}\nactions: []\n",
    "duplicate-key-last-wins": "job_name: t\ndevice_type: qemu\nvisibility: nope\n"
                               "visibility: public\ntimeouts: {job: {minutes: 1}}\nactions: []\n",
    "merge-key": "base: &b {minutes: 1}\njob_name: t\ndevice_type: qemu\nvisibility: public\n"
                 "timeouts: {job: {<<: *b}}\nactions: []\n",
    "not-a-mapping": "- a\n- b\n",
}


def lava_verdict(doc, strict):
    try:
        lava_schemas.validate(doc, strict=strict)
        return True
    except Exception:  # voluptuous.Invalid, or LAVA tripping over bad data
        return False


def our_verdicts(paths, strict):
    args = [program("lava-server"), "manage", "validate-job"] + paths
    if not strict:
        args.insert(3, "--lenient")
    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1), r.stderr
    verdicts = {}
    for line in r.stdout.splitlines():
        path, _, rest = line.partition(": ")
        verdicts[path] = verdicts.get(path, True) and rest == "OK"
    assert set(verdicts) == set(paths), r.stdout
    return verdicts


def write_corpus(tmp_path):
    files = {}
    for name, doc in corpus():
        path = tmp_path / (name + ".yaml")
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        files[str(path)] = doc
    for name, text in RAW.items():
        path = tmp_path / ("raw-" + name + ".yaml")
        path.write_text(text)
        files[str(path)] = yaml.safe_load(text)
    return files


@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_same_verdicts_as_lava(tmp_path, strict):
    files = write_corpus(tmp_path)
    ours = our_verdicts(sorted(files), strict)
    differences = []
    accepted = 0
    for path, doc in sorted(files.items()):
        theirs = lava_verdict(doc, strict)
        accepted += theirs
        if ours[path] != theirs:
            differences.append("%s: LAVA %s, lava-cpp %s" % (
                os.path.basename(path), "accepts" if theirs else "rejects",
                "accepts" if ours[path] else "rejects"))
    assert not differences, "\n".join(differences)
    # The corpus exercises both outcomes in volume.
    assert accepted > 50 and len(files) - accepted > 50, (accepted, len(files))


def test_multi_key_actions(tmp_path):
    doc = yaml.safe_load(yaml.safe_dump(corpus()[0][1]))
    doc["actions"] = [{"deploy": {"to": "overlay"}, "boot": {"method": "minimal"}}]
    path = tmp_path / "two-keys.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert lava_verdict(doc, True)  # LAVA looks at "deploy" only
    r = subprocess.run([program("lava-server"), "manage", "validate-job", str(path)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "an action item must have exactly one key, found: deploy, boot" in r.stdout
