"""Our Jinja2 engine renders byte for byte what Debian's python3-jinja2 renders,
with the environment LAVA uses (sandboxed, trim_blocks, autoescape off, plus
upstream's filters shlex_quote, yaml_quote and qemu_guest_fs_interface):
  - a synthetic corpus of every construct and edge case (jinja_corpus.py);
  - lava-cpp's own device-type templates with their sample dictionaries;
  - every device-type template of Debian's lava-server 2023.01 (when
    available: /usr/share/lava-server/device-types, or the package unpacked
    by tools/fetch-lava-reference into the build tree; never committed),
    each under several device dictionaries and job contexts.
The templates are rendered through `lava-server manage device-dictionary render`."""

import json
import os
import shlex
import subprocess
import tempfile

import pytest

from conftest import SOURCE_DIR, missing_reference, program
from jinja_corpus import CASES

try:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment
except ImportError:
    missing_reference("Debian's python3-jinja2 is not installed")

X86 = ("amd64", "x86_64", "i386", "i686", "x86")


def qemu_guest_fs_interface(arch, guestfs_interface=None):
    if guestfs_interface:
        return guestfs_interface
    return "ide" if arch in X86 else "virtio"


def yaml_quote(value):
    return json.dumps(str(value), ensure_ascii=False)


def lava_environment(search_path):
    env = SandboxedEnvironment(loader=jinja2.FileSystemLoader(search_path), autoescape=False,
                               trim_blocks=True)
    env.filters["shlex_quote"] = shlex.quote
    env.filters["yaml_quote"] = yaml_quote
    env.filters["qemu_guest_fs_interface"] = qemu_guest_fs_interface
    return env


_ENVIRONMENTS = {}


def jinja2_render(root, types_dirs, hostname, context):
    # One environment per search path, so each template is compiled once.
    search_path = tuple([os.path.join(root, "devices")] + types_dirs)
    env = _ENVIRONMENTS.get(search_path)
    if env is None:
        env = _ENVIRONMENTS[search_path] = lava_environment(list(search_path))
    try:
        return env.get_template(hostname + ".jinja2").render(**context), None
    except Exception as e:  # noqa: BLE001 - any failure is a verdict
        return None, "%s: %s" % (type(e).__name__, e)


def our_render(root, extra_dirs, hostname, context):
    args = [program("lava-server"), "manage", "device-dictionary", "render",
            "--dispatcher-config", root, hostname]
    for d in extra_dirs:
        args += ["--template-dir", d]
    for k, v in context.items():
        args += ["--context", "%s=%s" % (k, json.dumps(v))]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, r.stderr.strip()
    return r.stdout, None


def compare(root, extra_dirs, hostname, context):
    """'' when both engines agree, else a description of the difference."""
    types_dirs = [os.path.join(root, "device-types")] + extra_dirs
    expected, expected_error = jinja2_render(root, types_dirs, hostname, context)
    got, error = our_render(root, extra_dirs, hostname, context)
    if expected_error or error:
        if expected_error and error:
            return ""
        return "%s with %s: Jinja2 %s; lava-cpp %s" % (
            hostname, context, "fails (%s)" % expected_error if expected_error else "renders",
            "fails (%s)" % error if error else "renders")
    if expected == got:
        return ""
    import difflib
    diff = "".join(list(difflib.unified_diff(expected.splitlines(True), got.splitlines(True),
                                             "jinja2", "lava-cpp"))[:40])
    return "%s with %s differs:\n%s" % (hostname, context, diff)


def make_root():
    root = tempfile.mkdtemp(prefix="lava-jinja-")
    os.makedirs(os.path.join(root, "devices"))
    os.makedirs(os.path.join(root, "device-types"))
    return root


@pytest.mark.parametrize("name,files,context", CASES, ids=[c[0] for c in CASES])
def test_synthetic_corpus(name, files, context):
    root = make_root()
    for fname, text in files.items():
        path = os.path.join(root, "devices", name + ".jinja2") if fname == "main" else \
            os.path.join(root, "device-types", fname)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    problem = compare(root, [], name, context)
    assert not problem, problem
    if name.startswith("error-"):
        assert our_render(root, [], name, context)[1], "must fail"
    else:
        assert our_render(root, [], name, context)[1] is None


# Device dictionaries and job contexts each template is rendered with.
DICTIONARIES = {
    "minimal": "",
    "board": "{% set connection_command = 'telnet ser2net 7001' %}\n"
             "{% set power_on_command = '/usr/bin/pduclient --port 1 --command on' %}\n"
             "{% set power_off_command = '/usr/bin/pduclient --port 1 --command off' %}\n"
             "{% set hard_reset_command = ['pdu off 1', 'sleep 5', 'pdu on 1'] %}\n"
             "{% set soft_reboot_command = 'reboot' %}\n"
             "{% set device_info = [{'board_id': '0123456789'}] %}\n"
             "{% set static_info = [{'board_id': 'abc'}] %}\n"
             "{% set mac_addr = '52:54:00:12:34:59' %}\n"
             "{% set memory = 2048 %}\n"
             "{% set usb_uuid = 'usb-SanDisk' %}\n"
             "{% set board_id = '0123456789' %}\n",
}
CONTEXTS = [{}, {"arch": "arm64", "no_kvm": True, "extra_options": ["-smp", 2],
                 "boot_character_delay": 30, "console_device": "ttyAMA0",
                 "bootloader_prompt": "=>", "kernel_start_message": "Linux version"}]


def lava_template_dirs():
    dirs = []
    for d in ("/usr/share/lava-server/device-types",
              os.path.join(os.environ.get("LAVA_REFERENCE_DIR", "/nonexistent"),
                           "usr/share/lava-server/device-types")):
        if os.path.isdir(d):
            dirs.append(d)
    return dirs


def render_all(template_dirs, names, dictionaries, contexts):
    root = make_root()
    problems, renders = [], 0
    for template in names:
        for dname, body in dictionaries.items():
            hostname = "%s-%s" % (template[:-len(".jinja2")], dname)
            with open(os.path.join(root, "devices", hostname + ".jinja2"), "w") as f:
                f.write("{%% extends '%s' %%}\n%s" % (template, body))
            for context in contexts:
                renders += 1
                problem = compare(root, template_dirs, hostname, context)
                if problem:
                    problems.append(problem)
    return problems, renders


def test_lava_device_type_templates():
    dirs = lava_template_dirs()
    if not dirs:
        missing_reference("LAVA's device-type templates are not available (no lava-server package and "
                          "no reference unpacked by tools/fetch-lava-reference)")
    names = sorted(n for n in os.listdir(dirs[0]) if n.endswith(".jinja2"))
    assert len(names) > 300
    problems, renders = render_all([dirs[0]], names, DICTIONARIES, CONTEXTS)
    print("LAVA device-type templates: %d templates, %d renders, %d identical"
          % (len(names), renders, renders - len(problems)))
    assert not problems, "%d of %d renders differ:\n%s" % (len(problems), renders,
                                                            "\n".join(problems[:5]))


def test_our_device_type_templates():
    ours = os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "device-types")
    names = sorted(n for n in os.listdir(ours) if n.endswith(".jinja2") and n != "base.jinja2")
    assert names
    samples = os.path.join(SOURCE_DIR, "etc", "dispatcher-config", "devices")
    dictionaries = dict(DICTIONARIES)
    for sample in sorted(os.listdir(samples)):
        with open(os.path.join(samples, sample)) as f:
            text = f.read()
        # The sample's own body, re-targeted at each template below.
        dictionaries["sample-" + sample[:-len(".jinja2")]] = "\n".join(
            line for line in text.splitlines() if "extends" not in line) + "\n"
    problems, renders = render_all([ours], names, dictionaries, CONTEXTS)
    assert not problems, "%d of %d renders differ:\n%s" % (len(problems), renders,
                                                            "\n".join(problems[:5]))
