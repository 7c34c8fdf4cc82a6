"""tools/check-deps catches each forbidden include and passes clean trees."""

import os
import subprocess
import sys

import pytest

TOOL = os.path.join(os.environ.get("LAVA_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")),
                    "tools", "check-deps")


def run(tree, tmp_path):
    for path, text in tree.items():
        f = tmp_path / "src" / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return subprocess.run([sys.executable, TOOL, str(tmp_path / "src")],
                          capture_output=True, text=True)


def test_clean_tree_passes(tmp_path):
    r = run({
        "common/db/pool.hpp": '#include "common/base/error.hpp"\n',
        "server/store/users.cpp": '#include "common/db/pool.hpp"\n#include "server/store/users.hpp"\n',
        "server/web/main.cpp": '#include "server/manage/manage.hpp"\n#include "server/store/users.hpp"\n',
        "server/scheduler/pass.cpp": '#include "server/store/devices.hpp"\n#include <vector>\n',
        "worker/run/main.cpp": '#include "common/proto/states.hpp"\n',
    }, tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


@pytest.mark.parametrize("path,include,rule", [
    ("worker/worker/loop.cpp", "server/store/users.hpp", "worker code must not include server code"),
    ("server/web/jobs.cpp", "worker/run/log.hpp", "server code must not include worker code"),
    ("server/scheduler/pass.cpp", "server/publisher/zmq.hpp",
     "daemon server/scheduler must not include daemon server/publisher"),
    ("server/web/api.cpp", "server/coordinator/group.hpp",
     "daemon server/web must not include daemon server/coordinator"),
    ("common/db/pool.cpp", "server/store/schema.hpp", "common/ must not include server/"),
    ("common/job/model.cpp", "worker/run/x.hpp", "common/ must not include worker/"),
    ("server/store/users.cpp", "server/web/auth.hpp", "server/store must not include server/web"),
    ("server/scheduler/x.cpp", "server/manage/manage.hpp",
     "only lava-server (server/web) may include server/manage"),
    ("worker/worker/spawn.cpp", "worker/run/pipeline.hpp",
     "worker/worker must not include worker/run (separate programs)"),
])
def test_each_rule_is_enforced(tmp_path, path, include, rule):
    r = run({path: '// a file\n#include "%s"\n' % include}, tmp_path)
    assert r.returncode == 1
    assert r.stdout == "src/%s:2: includes %s: %s\n" % (path, include, rule)
    assert "1 dependency violation(s)" in r.stderr


def test_missing_directory_is_a_usage_error(tmp_path):
    r = subprocess.run([sys.executable, TOOL, str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2
