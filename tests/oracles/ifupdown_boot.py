#!/usr/bin/env python3
"""The real ifupdown as an oracle: boot an /etc/network tree into this network namespace.

Run as root in a new network namespace and a private mount namespace of its own (``unshare
--net --mount --propagation private python3 ifupdown_boot.py IFUP``, IFUP being the ifup of
Debian's package, extracted, never installed), with a JSON object on stdin: {"files": {path:
text}, "boot": [interface names], "mode": {path: octal}}. It lays an overlay over /etc and a
tmpfs over /run (in this mount namespace only), writes the tree with the empty hook
directories the package ships, creates the interfaces present at boot (veths), then does what
a boot does: networking.service's `ifup -a --read-environment`, then udev's ifupdown-hotplug
for every interface present but lo (`ifup --allow=hotplug NAME` when `ifquery --allow hotplug
-l NAME` lists it). Prints {"addresses": [[label, "address/prefix"]], "log": text}, without
lo's own 127.0.0.1/8 and ::1/128.

With "check": [argv] (a plugin), it is run twice and its outputs are "before" (the boot not yet
done, the addresses of "live" on lo) and "after" (those removed, then the boot, the plugin
given --no-persistence): the boot verdict and the verdict on what the real boot left.
"""

import json
import os
import subprocess
import sys
import tempfile

IP = "/usr/sbin/ip"
MOUNT = "/usr/bin/mount"
HOOK_DIRECTORIES = ("if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d")
LOOPBACK = {"127.0.0.1/8", "::1/128"}


def overlay_etc():
    work = tempfile.mkdtemp()
    subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", work], check=True)
    os.makedirs(work + "/upper")
    os.makedirs(work + "/work")
    subprocess.run([MOUNT, "-t", "overlay", "overlay", "-o",
                    "lowerdir=/etc,upperdir={0}/upper,workdir={0}/work".format(work), "/etc"],
                   check=True)
    subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", "/run"], check=True)
    os.makedirs("/run/network")
    subprocess.run(["/usr/bin/rm", "-rf", "/etc/network"], check=True)


def write_tree(files, modes):
    for name in HOOK_DIRECTORIES:
        os.makedirs("/etc/network/" + name)
    for path, text in files.items():
        if not path.startswith("/etc/network/"):
            sys.exit("refusing {}: only /etc/network may be in the tree".format(path))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], path)
            continue
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.chmod(path, int(modes.get(path, "644"), 8))


def run(argv, log):
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    log.append("$ {} -> {}\n{}{}".format(" ".join(argv), done.returncode, done.stdout,
                                         done.stderr))
    return done.stdout


def main():
    ifup = sys.argv[1]
    ifquery = os.path.join(os.path.dirname(ifup), "ifquery")
    case = json.load(sys.stdin)
    overlay_etc()
    write_tree(case["files"], case.get("mode", {}))
    for name in case["boot"]:
        subprocess.run([IP, "link", "add", name, "type", "veth", "peer", "name", name + "p"],
                       check=True)
    log = []
    outputs = {}
    if case.get("check"):
        for address in case.get("live", []):
            subprocess.run([IP, "address", "add", address, "dev", "lo"], check=True)
        outputs["before"] = run(case["check"], log)
        for address in case.get("live", []):
            subprocess.run([IP, "address", "del", address, "dev", "lo"], check=True)
    run([ifup, "-a", "--read-environment"], log)
    for name in case["boot"]:
        if run([ifquery, "--allow", "hotplug", "-l", name], log).split():
            run([ifup, "--allow=hotplug", name], log)
    listing = json.loads(subprocess.run([IP, "-j", "address", "show"], capture_output=True,
                                        text=True, check=True).stdout)
    addresses = sorted([info.get("label", link["ifname"]),
                        "{}/{}".format(info["local"], info["prefixlen"])]
                       for link in listing for info in link.get("addr_info", [])
                       if "{}/{}".format(info["local"], info["prefixlen"]) not in LOOPBACK
                       and not info["local"].startswith("fe80:"))
    if case.get("check"):
        outputs["after"] = run(case["check"] + ["--no-persistence"], log)
    print(json.dumps(dict(outputs, addresses=addresses, log="\n".join(log))))


if __name__ == "__main__":
    main()
