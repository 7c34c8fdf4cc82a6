"""A corpus of LAVA job definitions, valid and invalid, written from the job
format of lava-protocols.md §7 (not from LAVA's source): a valid job per
deploy/boot/test method, and mutations that each break (or stretch) one rule.
Each entry is (name, document); the expected verdict comes from LAVA's own
validator at test time."""

import copy

BASE = {
    "job_name": "qemu smoke",
    "device_type": "qemu",
    "visibility": "public",
    "priority": "medium",
    "timeouts": {"job": {"minutes": 30}, "action": {"minutes": 5},
                 "connection": {"minutes": 2}},
    "context": {"arch": "amd64"},
    "actions": [
        {"deploy": {"to": "tmpfs", "images": {"rootfs": {
            "url": "https://example.com/rootfs.img.gz",
            "image_arg": "-drive format=raw,file={rootfs}", "compression": "gz"}}}},
        {"boot": {"method": "qemu", "media": "tmpfs", "prompts": ["root@debian:~#"],
                  "auto_login": {"login_prompt": "login:", "username": "root"}}},
        {"test": {"definitions": [{"from": "git", "repository": "https://example.com/t.git",
                                   "path": "smoke.yaml", "name": "smoke"}]}},
    ],
}

URL = {"url": "https://example.com/file"}

# A minimal body for each deploy `to:` and boot `method:`.
DEPLOYS = {
    "docker": {"image": "debian:bookworm"},
    "download": {"images": {"a": URL}},
    "downloads": {"images": {"a": URL}},
    "fastboot": {"images": {"boot": dict(URL, reboot="hard-reset")}},
    "flasher": {"images": {"a": URL}},
    "fvp": {"images": {"a": URL}},
    "iso-installer": {"images": {"iso": URL, "preseed": URL},
                      "iso": {"installation_size": "2G"}},
    "lxc": {"packages": ["a"]},
    "mps": {"images": {"test_binary_1": URL}},
    "musca": {"images": {"test_binary": URL}},
    "nbd": {"kernel": URL, "nbdroot": URL, "initrd": URL},
    "nfs": {"nfsrootfs": URL},
    "overlay": {},
    "recovery": {"images": {"a": URL}},
    "sata": {"image": URL, "device": "sda"},
    "ssh": {"rootfs": URL},
    "tftp": {"kernel": dict(URL, type="zimage"), "ramdisk": dict(URL, header="u-boot")},
    "tmpfs": {"images": {"rootfs": URL}},
    "u-boot-ums": {"image": dict(URL, root_partition=1)},
    "usb": {"images": {"image": URL}, "device": "sdb"},
    "uuu": {"images": {"boot": URL}},
    "vemsd": {"recovery_image": URL},
}

BOOTS = {
    "barebox": {"commands": "ramdisk"},
    "bootloader": {"bootloader": "u-boot", "commands": ["boot"]},
    "cmsis-dap": {},
    "depthcharge": {"commands": "nfs"},
    "dfu": {},
    "docker": {"command": "bash"},
    "fastboot": {"commands": ["reboot"]},
    "fvp": {"console_string": "x", "image": "/img", "arguments": ["-a"], "prompts": ["$"],
            "docker": {"name": "fvp:latest"}},
    "gdb": {"commands": "x"},
    "grub": {"commands": "ramdisk"},
    "grub-efi": {"commands": ["ramdisk"], "expect_shell": False},
    "ipxe": {"commands": "ramdisk"},
    "jlink": {},
    "kexec": {"boot_message": "Booting"},
    "lxc": {"prompts": ["#"]},
    "minimal": {"reset": True},
    "monitor": {},
    "musca": {},
    "new_connection": {"connection": "uart1"},
    "openocd": {},
    "pyocd": {},
    "qemu": {"media": "tmpfs"},
    "qemu-iso": {"media": "img"},
    "qemu-nfs": {"connection": "serial"},
    "recovery": {"commands": "recovery"},
    "schroot": {"connection": "ssh", "schroot": "unstable"},
    "ssh": {"connection": "ssh", "parameters": {"hostID": "x"}},
    "u-boot": {"commands": "ramdisk", "prompts": "=> "},
    "uefi": {"commands": ["x"]},
    "uefi-menu": {"commands": "fastboot"},
    "uuu": {"commands": [{"uuu": "-b sd"}]},
}

INLINE = {"metadata": {"format": "Lava-Test Test Definition 1.0", "name": "smoke"},
          "run": {"steps": ["lava-test-case pass --result pass"]}}


def job(**changes):
    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        if v is DROP:
            d.pop(k, None)
        else:
            d[k] = v
    return d


DROP = object()


def with_actions(*actions):
    d = copy.deepcopy(BASE)
    d["actions"] = list(actions)
    return d


def corpus():
    c = [("base", copy.deepcopy(BASE))]
    # ---- top-level keys
    for key in ["job_name", "timeouts", "visibility", "actions", "device_type"]:
        c.append(("drop-" + key, job(**{key: DROP})))
    c.append(("extra-top-level-key", job(colour="red")))
    c += [("job_name-%d" % i, job(job_name=v)) for i, v in
          enumerate([1, "", "x" * 200, "x" * 201, ["a"], None])]
    c += [("priority-%s" % v, job(priority=v)) for v in
          ["high", "low", "urgent", 0, 100, 101, -1, 50.5, True]]
    c += [("visibility-%d" % i, job(visibility=v)) for i, v in enumerate(
        ["personal", "private", {"group": ["lab"]}, {"group": "lab"}, {"grp": ["a"]}, {}])]
    for i, t in enumerate([{"minutes": 0}, {"minutes": 1.5}, {"minutes": True},
                           {"minutes": "5"}, {"minutes": 5, "seconds": 3},
                           {"minutes": 5, "skip": True}, {}, {"weeks": 1}, None]):
        c.append(("job-timeout-%d" % i, job(timeouts={"job": t})))
    c.append(("action-timeout-too-long",
              job(timeouts={"job": {"minutes": 1}, "action": {"hours": 1}})))
    c.append(("named-timeouts", job(timeouts={"job": {"hours": 1},
                                              "actions": {"http-download": {"minutes": 5}},
                                              "connections": {"lava-test-shell": {"seconds": 5}},
                                              "queue": {"days": 1}})))
    c.append(("named-timeout-too-long", job(timeouts={"job": {"minutes": 1},
                                                      "connections": {"x": {"minutes": 2}}})))
    c.append(("timeouts-extra", job(timeouts={"job": {"minutes": 1}, "boot": {"minutes": 1}})))
    c += [("context-%d" % i, job(context=v)) for i, v in enumerate(
        [{"arch": "arm64", "memory": 1024, "extra_options": ["-smp", 2]},
         {"colour": "red"}, {"memory": {"a": 1}}, {"memory": 1.5}, {"no_kvm": True}, []])]
    c += [("tags-%d" % i, job(tags=v)) for i, v in enumerate([["a", "b"], "a", [1]])]
    c += [("metadata-%d" % i, job(metadata=v)) for i, v in enumerate(
        [{"a": 1, "b": [1]}, {1: "a"}, ["a"]])]
    c += [("secrets-%d" % i, job(secrets=v)) for i, v in enumerate([{"a": "b"}, ["a"]])]
    c += [("environment-%d" % i, job(environment=v)) for i, v in enumerate([{"A": "1"}, "A=1"])]
    c.append(("reboot_to_fastboot", job(reboot_to_fastboot=True)))
    c.append(("reboot_to_fastboot-str", job(reboot_to_fastboot="yes")))
    # ---- notify
    cb = {"url": "https://ci/cb", "method": "POST", "dataset": "results", "content-type": "json"}
    for i, n in enumerate([
            {"criteria": {"status": "complete"}, "verbosity": "quiet"},
            {"criteria": {"status": "all"}},
            {"criteria": {"status": "all", "dependency_query": "q"}},
            {"criteria": {"status": "finished", "dependency_query": "q"}},
            {"criteria": {"status": "complete", "type": "regression"}},
            {"criteria": {"status": "running", "type": "regression"}},
            {"criteria": {"status": "nope"}},
            {"criteria": {"status": "complete"}, "callback": cb},
            {"criteria": {"status": "complete"}, "callbacks": [cb, cb]},
            {"criteria": {"status": "complete"}, "callback": cb, "callbacks": [cb]},
            {"criteria": {"status": "complete"}, "callback": dict(cb, method="PUT")},
            {"criteria": {"status": "complete"},
             "recipients": [{"to": {"method": "email", "email": "a@b"}}]},
            {"criteria": {"status": "complete"}, "recipients": [{"to": {"method": "sms"}}]},
            {"criteria": {"status": "complete"}, "compare": {"query": {"entity": "x"}}},
            {"verbosity": "quiet"}]):
        c.append(("notify-%d" % i, job(notify=n)))
    # ---- protocols
    c.append(("xnbd", job(protocols={"lava-xnbd": {"port": "auto"}})))
    c.append(("xnbd-bad", job(protocols={"lava-xnbd": {"port": "any"}})))
    c.append(("unknown-protocol", job(protocols={"lava-foo": {}})))
    c.append(("lxc", job(protocols={"lava-lxc": {"name": "c", "distribution": "debian",
                                                 "release": "sid"}})))
    # ---- actions
    c.append(("no-actions", job(actions=[])))
    c.append(("action-not-a-mapping", job(actions=["deploy"])))
    c.append(("action-unknown-type", with_actions({"flash": {"to": "x"}})))
    c.append(("action-body-not-mapping", with_actions({"deploy": "tmpfs"})))
    c.append(("test-without-kind", with_actions({"test": {"timeout": {"minutes": 1}}})))
    for to, body in DEPLOYS.items():
        d = dict(body, to=to)
        c.append(("deploy-%s" % to, with_actions({"deploy": d})))
        c.append(("deploy-%s-extra" % to, with_actions({"deploy": dict(d, colour="red")})))
        c.append(("deploy-%s-underscored" % to,
                  with_actions({"deploy": dict(d, to=to.replace("-", "_"))})))
        for key in body:
            broken = dict(d)
            broken.pop(key)
            c.append(("deploy-%s-without-%s" % (to, key), with_actions({"deploy": broken})))
    c.append(("deploy-unknown", with_actions({"deploy": {"to": "nowhere"}})))
    c.append(("deploy-sd", with_actions({"deploy": {"to": "sd", "image": URL, "device": "x"}})))
    c.append(("deploy-no-to", with_actions({"deploy": {"images": {"a": URL}}})))
    c.append(("deploy-os-authorize", with_actions(
        {"deploy": {"to": "overlay", "os": "debian", "authorize": "ssh"}})))
    c.append(("deploy-authorize-bad", with_actions(
        {"deploy": {"to": "overlay", "authorize": "key"}})))
    for i, img in enumerate([
            dict(URL, compression="zstd", archive="tar", sha256sum="x"),
            dict(URL, compression="lz4"),
            dict(URL, compression=None),
            dict(URL, format="ext4", overlays={"lava": True, "modules": dict(
                URL, format="tar", path="/")}),
            dict(URL, format="ext4"),
            dict(URL, format="qcow2"),
            dict(URL, format="cpio.newc", overlays={"x": dict(URL, format="zip", path="/")}),
            {"headers": {"a": "b"}},
            dict(URL, headers=["a"])]):
        c.append(("image-%d" % i, with_actions({"deploy": {"to": "tmpfs", "images": {"r": img}}})))
    c.append(("images-empty", with_actions({"deploy": {"to": "tmpfs", "images": {}}})))
    c.append(("tftp-nfs-exclusive", with_actions({"deploy": {
        "to": "tftp", "kernel": URL, "nfsrootfs": URL, "persistent_nfs": {"address": "a"}}})))
    c.append(("usb-image-exclusive", with_actions({"deploy": {
        "to": "usb", "device": "x", "image": URL, "images": {"image": URL}}})))
    c.append(("nfs-images", with_actions({"deploy": {"to": "nfs", "images": {
        "nfsrootfs": dict(URL, image_arg="x")}}})))
    c.append(("docker-image-bad", with_actions({"deploy": {"to": "docker", "image": "UPPER"}})))
    c.append(("docker-image-dict", with_actions({"deploy": {
        "to": "docker", "image": {"name": "debian", "local": True}}})))
    for method, body in BOOTS.items():
        d = dict(body, method=method)
        c.append(("boot-%s" % method, with_actions({"boot": d})))
        c.append(("boot-%s-extra" % method, with_actions({"boot": dict(d, colour="red")})))
        for key in body:
            broken = dict(d)
            broken.pop(key)
            c.append(("boot-%s-without-%s" % (method, key), with_actions({"boot": broken})))
    c.append(("boot-unknown", with_actions({"boot": {"method": "pxe"}})))
    c.append(("boot-qemu_nfs", with_actions({"boot": {"method": "qemu_nfs"}})))
    c.append(("boot-new-connection", with_actions({"boot": {"method": "new-connection",
                                                            "connection": "x"}})))
    for i, login in enumerate([
            {"login_prompt": "login:", "username": "root", "login_commands": ["sudo su"]},
            {"login_prompt": "", "username": "root"},
            {"login_prompt": "login:", "username": "root", "password_prompt": "Password:",
             "password": "x", "login_commands": [""]},
            {"login_prompt": "login:", "username": "root", "password": "x"},
            {"username": "root"}]):
        c.append(("auto_login-%d" % i, with_actions({"boot": {"method": "minimal",
                                                              "auto_login": login}})))
    for i, p in enumerate(["#", "", ["#", "$"], ["#", ""], [1], 5]):
        c.append(("prompts-%d" % i, with_actions({"boot": {"method": "minimal", "prompts": p}})))
    c.append(("boot-parameters", with_actions({"boot": {
        "method": "minimal", "parameters": {"kernel-start-message": "Linux", "x": 1}}})))
    c.append(("boot-transfer_overlay", with_actions({"boot": {
        "method": "minimal", "transfer_overlay": {"download_command": "wget",
                                                  "unpack_command": "tar -C / -xzf"}}})))
    # ---- common action keys
    for i, extra in enumerate([
            {"namespace": "target"}, {"namespace": "common"}, {"connection-namespace": "x"},
            {"role": ["a"]}, {"role": "a"}, {"repeat": 2}, {"repeat": 0},
            {"failure_retry": 3}, {"failure_retry_interval": 0},
            {"timeouts": {"http-download": {"minutes": 2}}}, {"protocols": {"x": 1}}]):
        c.append(("action-key-%d" % i, with_actions({"deploy": dict(DEPLOYS["overlay"],
                                                                    to="overlay", **extra)})))
    c.append(("namespaces-partial", with_actions(
        {"deploy": {"to": "overlay", "namespace": "a"}}, {"boot": {"method": "minimal"}})))
    c.append(("namespaces-all", with_actions(
        {"deploy": {"to": "overlay", "namespace": "a"}},
        {"boot": {"method": "minimal", "namespace": "a"}})))
    # ---- tests
    definition = {"from": "git", "repository": "r", "path": "p.yaml", "name": "n"}
    for i, d in enumerate([
            dict(definition, branch="main", history=False, revision="abc",
                 parameters={"A": 1}, params={"B": 2}, skip_install=["deps", "all"]),
            dict(definition, name="bad name"),
            dict(definition, name="lava"),
            dict(definition, skip_install=["everything"]),
            dict(definition, **{"lava-signal": "kmsg"}),
            dict(definition, **{"lava-signal": "uart"}),
            dict(definition, history="no"),
            {"from": "url", "repository": "https://x/t.tar.gz", "compression": "gz",
             "path": "t.yaml", "name": "t"},
            {"from": "url", "repository": "https://x/t.tar.gz", "path": "t.yaml", "name": "t"},
            {"from": "inline", "repository": INLINE, "path": "inline/t.yaml", "name": "t"},
            {"from": "inline", "repository": dict(INLINE, parse={"pattern": "(?P<test_case_id>.*)"}),
             "path": "inline/t.yaml", "name": "t"},
            {"from": "inline", "repository": dict(INLINE, parse={"fixupdict": {"PASS": "pass"}}),
             "path": "inline/t.yaml", "name": "t"},
            {"from": "inline", "repository": dict(INLINE, parse={"fixupdict": {"X": "ok"}}),
             "path": "inline/t.yaml", "name": "t"},
            {"from": "inline", "repository": {"metadata": {"name": "t"}},
             "path": "inline/t.yaml", "name": "t"},
            {"from": "inline", "repository": dict(INLINE, install={"deps": ["a"],
                                                                    "deps-debian": ["b"]}),
             "path": "inline/t.yaml", "name": "t"},
            {"from": "inline", "repository": dict(INLINE, install={"git-repos": [{"url": "x"}]}),
             "path": "inline/t.yaml", "name": "t"},
            {"from": "svn", "repository": "r", "path": "p", "name": "n"}]):
        c.append(("definition-%d" % i, with_actions({"test": {"definitions": [d]}})))
    c.append(("test-docker", with_actions({"test": {"definitions": [definition],
                                                    "docker": {"image": "debian"}}})))
    c.append(("interactive", with_actions({"test": {"interactive": [{
        "name": "uboot", "prompts": ["=> "], "echo": "discard",
        "script": [{"command": "help", "name": "help", "delay": 1,
                    "successes": [{"message": "bootm"}],
                    "failures": [{"message": "Unknown", "exception": "TestError",
                                  "error": "bad"}]},
                   {"command": None, "wait_for_prompt": False}]}]}})))
    c.append(("interactive-bad", with_actions({"test": {"interactive": [{
        "name": "uboot", "prompts": [""], "script": [{"failures": [{"message": "x",
                                                                    "exception": "Oops"}]}]}]}})))
    c.append(("monitors", with_actions({"test": {"monitors": [{
        "name": "tests", "start": "BOOTING", "end": "DONE",
        "pattern": "(?P<result>(PASS|FAIL))", "fixupdict": {"PASS": "pass"}}]}})))
    c.append(("monitors-bad", with_actions({"test": {"monitors": [{
        "name": "tests", "start": "BOOTING", "pattern": "x"}]}})))
    c.append(("command", with_actions({"command": {"name": "pdu_reboot"}})))
    c.append(("command-bad", with_actions({"command": {"name": 1}})))
    # ---- multinode
    mn_actions = [{"deploy": {"to": "overlay", "role": ["server", "client"]}},
                  {"boot": {"method": "minimal", "role": ["server"]}},
                  {"boot": {"method": "minimal", "role": ["client"]}}]
    roles = {"server": {"device_type": "qemu", "count": 1, "context": {"arch": "amd64"},
                        "tags": ["big"], "essential": True, "timeout": {"minutes": 5}},
             "client": {"device_type": "qemu", "count": 2}}
    mn = {k: v for k, v in job().items() if k not in ("device_type", "context")}
    mn.update(protocols={"lava-multinode": {"roles": roles, "timeout": {"minutes": 10}}},
              actions=mn_actions)
    c.append(("multinode", copy.deepcopy(mn)))
    c.append(("multinode-with-device_type", dict(copy.deepcopy(mn), device_type="qemu")))
    c.append(("multinode-with-context", dict(copy.deepcopy(mn), context={"arch": "x"})))
    broken = copy.deepcopy(mn)
    del broken["actions"][1]["boot"]["role"]
    c.append(("multinode-action-without-role", broken))
    broken = copy.deepcopy(mn)
    broken["protocols"]["lava-multinode"]["roles"]["client"]["count"] = -1
    c.append(("multinode-negative-count", broken))
    broken = copy.deepcopy(mn)
    broken["protocols"]["lava-multinode"]["roles"]["guest"] = {
        "connection": "ssh", "count": 1, "expect_role": "server", "host_role": "server",
        "request": "lava-start"}
    c.append(("multinode-secondary", broken))
    broken = copy.deepcopy(mn)
    broken["protocols"]["lava-multinode"]["roles"]["guest"] = {
        "connection": "ssh", "count": 1, "expect_role": "server"}
    c.append(("multinode-secondary-incomplete", broken))
    broken = copy.deepcopy(mn)
    broken["protocols"]["lava-multinode"]["roles"]["client"]["colour"] = "red"
    c.append(("multinode-role-extra", broken))
    return c
