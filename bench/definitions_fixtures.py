"""Writes the inputs of bench/definitions: a typical 3-action job, a 10-node
MultiNode job, and a device dictionary on a 5-deep template chain whose
leaf is lava-cpp's qemu template (base -> qemu -> l1 -> l2 -> l3 -> device)."""

import os
import shutil
import sys

import yaml

out, repo = sys.argv[1], sys.argv[2]
job = {
    "job_name": "qemu smoke", "device_type": "qemu", "visibility": "public", "priority": "medium",
    "timeouts": {"job": {"minutes": 30}, "action": {"minutes": 5}, "connection": {"minutes": 2}},
    "context": {"arch": "amd64"}, "metadata": {"build": "1234", "branch": "main"},
    "actions": [
        {"deploy": {"to": "tmpfs", "images": {
            "kernel": {"url": "https://ci.example.com/1234/vmlinux", "image_arg": "-kernel {kernel}"},
            "rootfs": {"url": "https://ci.example.com/1234/rootfs.ext4.gz", "compression": "gz",
                       "image_arg": "-drive format=raw,file={rootfs}",
                       "sha256sum": "0" * 64}}}},
        {"boot": {"method": "qemu", "media": "tmpfs", "prompts": ["root@debian:~#"],
                  "auto_login": {"login_prompt": "login:", "username": "root"},
                  "timeout": {"minutes": 3}}},
        {"test": {"timeout": {"minutes": 10}, "definitions": [
            {"from": "git", "repository": "https://git.example.com/tests.git", "path": "smoke.yaml",
             "name": "smoke", "parameters": {"SKIP": "none"}},
            {"from": "inline", "name": "quick", "path": "inline/quick.yaml", "repository": {
                "metadata": {"format": "Lava-Test Test Definition 1.0", "name": "quick"},
                "run": {"steps": ["lava-test-case uname --shell uname -a"]}}}]}},
    ],
}
with open(os.path.join(out, "job-3-actions.yaml"), "w") as f:
    yaml.safe_dump(job, f, sort_keys=False)

roles = {"server": {"device_type": "qemu", "count": 1, "context": {"arch": "amd64"}},
         "client": {"device_type": "qemu", "count": 9, "tags": ["net"]}}
mn = {k: v for k, v in job.items() if k not in ("device_type", "context")}
mn["protocols"] = {"lava-multinode": {"roles": roles, "timeout": {"minutes": 10}}}
mn["actions"] = [dict((k, dict(v, role=["server", "client"])) for k, v in a.items())
                 for a in job["actions"]]
mn["actions"].append({"test": {"role": ["client"], "definitions": [
    {"from": "git", "repository": "https://git.example.com/mn.git", "path": "client.yaml",
     "name": "client"}]}})
with open(os.path.join(out, "job-multinode-10.yaml"), "w") as f:
    yaml.safe_dump(mn, f, sort_keys=False)

dc = os.path.join(out, "dispatcher-config")
types = os.path.join(dc, "device-types")
os.makedirs(os.path.join(dc, "devices"))
shutil.copytree(os.path.join(repo, "etc", "dispatcher-config", "device-types"), types)
parent = "qemu"
for level in ("l1", "l2", "l3"):
    with open(os.path.join(types, level + ".jinja2"), "w") as f:
        f.write("{%% extends '%s.jinja2' %%}\n{%% set memory = memory | default(1024) %%}\n"
                "{%% block parameters %%}{{ super() }}{%% endblock %%}\n" % parent)
    parent = level
with open(os.path.join(dc, "devices", "deep01.jinja2"), "w") as f:
    f.write("{% extends 'l3.jinja2' %}\n{% set no_kvm = True %}\n{% set mac_addr = '52:54:00:00:00:01' %}\n"
            "{% set connection_command = 'telnet localhost 7001' %}\n"
            "{% set hard_reset_command = ['pdu off', 'pdu on'] %}\n")
