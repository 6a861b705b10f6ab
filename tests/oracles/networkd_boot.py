#!/usr/bin/env python3
"""The real systemd-networkd (and netplan before it) as an oracle: boot a tree of .network
files or netplan YAML into this network namespace.

Run as root in a new network namespace and a private mount namespace of its own (``unshare
--net --mount --propagation private python3 networkd_boot.py [GENERATE LIBDIR]``), with a
JSON object on stdin: {"files": {path: text or "->target"}, "boot": [interface names]}. It
lays an overlay over /etc and /usr and a tmpfs over /run (in this mount namespace only, so
nothing of the tree reaches the machine), writes the tree, creates the interfaces present at boot (veths), runs
netplan's generator when given (GENERATE, with its library in LIBDIR, as the systemd
generator runs it at boot), then the real /lib/systemd/systemd-networkd until every link is
configured, unmanaged or failed, or configuring with its addresses unchanged for 0.6 s (sysfs
read-only, as in a container: no udev to wait for). Prints {"addresses": [[interface,
"address/prefix"]], "log": text} of lo and the boot interfaces, without 127.0.0.1/8, ::1/128
and fe80::/64; with "check", also the plugin's outputs before and after.
"""

import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time

import bootns

MOUNT = "/usr/bin/mount"
NETWORKD = "/lib/systemd/systemd-networkd"
OVERLAID = ("/etc", "/usr")  # /lib is /usr/lib on Debian 12
ALLOWED = ("/etc/systemd/network/", "/run/systemd/network/", "/usr/lib/systemd/network/",
           "/usr/local/lib/systemd/network/", "/etc/netplan/", "/run/netplan/", "/lib/netplan/",
           "/usr/lib/netplan/")
SETTLED = ("configured", "unmanaged", "failed", "linger")


def prepare():
    for directory in OVERLAID:
        if os.path.isdir(directory):
            bootns.overlay(directory)
    subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", "/run"], check=True)
    subprocess.run([MOUNT, "-t", "sysfs", "-o", "ro", "sysfs", "/sys"], check=True)
    user = pwd.getpwnam("systemd-network")
    for name in ("", "links", "leases", "lldp"):
        os.makedirs("/run/systemd/netif/" + name, exist_ok=True)
        os.chown("/run/systemd/netif/" + name, user.pw_uid, user.pw_gid)
    for directory in ("/etc/systemd/network", "/etc/netplan"):
        subprocess.run(["/usr/bin/rm", "-rf", directory], check=True)


def handled(names):
    """Every link past networkd's first look (an ethernet link may stay "configuring" while
    it waits for DHCPv6 or router advertisements: its static addresses are in place)."""
    return settled(names, SETTLED + ("configuring",))


def settled(names, states=SETTLED):
    for name in names:
        with open("/sys/class/net/{}/ifindex".format(name)) as handle:
            index = handle.read().strip()
        try:
            with open("/run/systemd/netif/links/" + index) as handle:
                state = dict(line.split("=", 1) for line in handle.read().splitlines()
                             if "=" in line)
        except OSError:
            return False
        if state.get("ADMIN_STATE") not in states:
            return False
    return True


def run_networkd(names, log):
    with tempfile.TemporaryFile("w+") as output:
        daemon = subprocess.Popen([NETWORKD], stdout=output, stderr=output)
        deadline = time.monotonic() + 10
        found, stable_since = None, time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = bootns.addresses(names)
            if now != found:
                found, stable_since = now, time.monotonic()
            if settled(names) or (time.monotonic() - stable_since > 0.6 and handled(names)):
                break
        time.sleep(0.2)  # addresses are configured before the state file says so
        found = bootns.addresses(names)
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
        output.seek(0)
        log.append(output.read())
    return [[label.split(":")[0], address] for label, address in found]


def main():
    case = json.load(sys.stdin)
    prepare()
    bootns.write_tree(case["files"], ALLOWED, {path: "600" for path in case["files"]
                                               if "/netplan/" in path})
    bootns.boot_interfaces(case["boot"])
    log = []

    def boot():
        if len(sys.argv) > 2:
            bootns.run([sys.argv[1], "--root-dir", "/"], log,
                       env=dict(os.environ, LD_LIBRARY_PATH=sys.argv[2]))
        return run_networkd(["lo"] + case["boot"], log)
    print(json.dumps(bootns.booted_with_check(case, boot, log)))


if __name__ == "__main__":
    main()
