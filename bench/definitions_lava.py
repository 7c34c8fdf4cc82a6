"""LAVA 2023.01's figures on bench/definitions' inputs: lava_common's
validate() and Jinja2 (as LAVA configures it) on the same device chain."""

import os
import shlex
import statistics
import sys
import time

import yaml

fixtures = sys.argv[1]


def validation(label, path, n):
    try:
        from lava_common.schemas import validate
    except ImportError:
        print("LAVA      validate: lava-common not installed")
        return
    text = open(path).read()
    start = time.perf_counter()
    for _ in range(n):
        validate(yaml.load(text, Loader=yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader),
                 strict=True)
    secs = time.perf_counter() - start
    print("LAVA      validate %-22s %9.0f jobs/s  (%.1f us/job, %d jobs)" % (label, n / secs, 1e6 * secs / n, n))


validation("3-action job", os.path.join(fixtures, "job-3-actions.yaml"), 1000)
validation("10-node MultiNode job", os.path.join(fixtures, "job-multinode-10.yaml"), 300)

try:
    import jinja2
    from jinja2.sandbox import SandboxedEnvironment
except ImportError:
    sys.exit(0)
dc = os.path.join(fixtures, "dispatcher-config")
env = SandboxedEnvironment(loader=jinja2.FileSystemLoader([os.path.join(dc, "devices"), os.path.join(dc, "device-types")]),
                           autoescape=False, trim_blocks=True)
env.filters["shlex_quote"] = shlex.quote
env.filters["yaml_quote"] = lambda v: '"%s"' % str(v).replace("\\", "\\\\").replace('"', '\\"')
env.filters["qemu_guest_fs_interface"] = lambda a, i=None: i or ("ide" if a in ("amd64", "x86_64", "i386") else "virtio")
times = []
for _ in range(500):
    t0 = time.perf_counter()
    env.get_template("deep01.jinja2").render(arch="arm64")
    times.append((time.perf_counter() - t0) * 1e6)
times.sort()
print("LAVA      render 5-deep chain + dictionary: p50 %.0f us, p99 %.0f us (Jinja2 %s, cached templates)"
      % (times[len(times) // 2], times[int(len(times) * 0.99)], jinja2.__version__))
