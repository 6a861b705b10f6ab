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
lo's own 127.0.0.1/8 and ::1/128; with "check", also the plugin's outputs before and after
(bootns.booted_with_check).
"""

import json
import os
import subprocess
import sys

import bootns

MOUNT = "/usr/bin/mount"
HOOK_DIRECTORIES = ("if-pre-up.d", "if-up.d", "if-down.d", "if-post-down.d")


def main():
    ifup = sys.argv[1]
    ifquery = os.path.join(os.path.dirname(ifup), "ifquery")
    case = json.load(sys.stdin)
    bootns.overlay("/etc")
    subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", "/run"], check=True)
    os.makedirs("/run/network")
    subprocess.run(["/usr/bin/rm", "-rf", "/etc/network"], check=True)
    for name in HOOK_DIRECTORIES:
        os.makedirs("/etc/network/" + name)
    bootns.write_tree(case["files"], ("/etc/network/",), case.get("mode"))
    bootns.boot_interfaces(case["boot"])
    log = []

    def boot():
        bootns.run([ifup, "-a", "--read-environment"], log)
        for name in case["boot"]:
            if bootns.run([ifquery, "--allow", "hotplug", "-l", name], log).split():
                bootns.run([ifup, "--allow=hotplug", name], log)
        return bootns.addresses()
    print(json.dumps(bootns.booted_with_check(case, boot, log)))


if __name__ == "__main__":
    main()
