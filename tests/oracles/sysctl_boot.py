#!/usr/bin/env python3
"""The real systemd-sysctl as an oracle: boot a sysctl.d tree into this network namespace.

Run as root in a new network namespace and a private mount namespace of its own (``unshare
--net --mount --propagation private python3 sysctl_boot.py``: both vanish when it exits),
with a JSON object on stdin: {"files": {path: text or "->target"}, "boot": [names], "later":
[names], "tool": "systemd" or "procps"}. It puts an overlay over /etc and tmpfs over the other
sysctl.d directories (in this mount namespace only), writes the tree there, creates the
interfaces present at boot (veths), runs systemd-sysctl as systemd-sysctl.service does, then
once per interface with --prefix as udev's 99-systemd.rules does for every interface but lo,
then creates the later interfaces with the same udev run for each. With "procps", it runs
procps' `sysctl --system` instead, as a boot without systemd does, and nothing per interface.
Then runs each command of "run" (argv lists, optional: a plugin judging the booted
namespace). Prints {"values": {scope: {key: value}}, "runs": [stdout]}.

all/default are not reset by writing them: a write marks a key as written, and a new
interface copies that mark from default (it would then never follow default again). A new
namespace inherits them from the initial one; they must be 0 there, as at boot.

Only net.ipv4 keys (this network namespace's own) may be in the tree: every other key would
reach the machine itself (refuse_foreign_keys).
"""

import glob
import json
import os
import re
import subprocess
import sys

import bootns

SYSTEMD_SYSCTL = "/lib/systemd/systemd-sysctl"
PROCPS_SYSCTL = "/usr/sbin/sysctl"
IP = "/usr/sbin/ip"
MOUNT = "/usr/bin/mount"
KEYS = ("arp_ignore", "arp_announce", "proxy_arp", "proxy_arp_pvlan", "arp_filter")
CONF = "/proc/sys/net/ipv4/conf"
# Where systemd-sysctl looks, and a tmpfs that may stand over each (a directory that exists).
DIRECTORIES = {"/etc/sysctl.d": "/etc/sysctl.d", "/run/sysctl.d": "/run",
               "/usr/local/lib/sysctl.d": "/usr/local/lib", "/usr/lib/sysctl.d": "/usr/lib/sysctl.d"}


def refuse_foreign_keys(files):
    """Only keys under net.ipv4 may be written: lines are cut as systemd cuts them (at \n, \r
    and NUL) and as procps does (at \n; NUL ends its line), and stripped of more whitespace
    than either strips, so that no way of reading a junk tree finds a key of the machine's
    own (kernel.*, vm.*) in it. A key naming no directory of /proc/sys writes nothing."""
    for path, text in files.items():
        target = os.path.normpath(os.path.join(os.path.dirname(path), text[2:]))
        if text.startswith("->") and text != "->/dev/null" and target not in files:
            sys.exit("refusing {}: a link may only mask (to /dev/null) or name a file of "
                     "the tree".format(path))
        if text.startswith("->"):
            continue
        procps = {line.split("\0")[0] for line in text.split("\n")}
        for line in set(re.split("[\n\r\0]", text)) | procps:
            line = line.strip()  # Python's whitespace: more than either tool strips
            if not line or line[0] in "#;":
                continue
            if "=" not in line and not line.startswith("-"):
                continue  # not an assignment: no tool writes it
            key = line.split("=", 1)[0].strip().lstrip("-").strip()
            parts = [p for p in key.replace(".", "/").split("/") if p]
            if not parts or _nowhere(parts):
                continue  # nothing is written
            if parts[:2] != ["net", "ipv4"]:  # net.ipv4 is this network namespace's own
                sys.exit("refusing {}: {!r} is not a key of net.ipv4".format(path, key))


def _nowhere(parts):
    """Whether a key's path (globs matched as glob(3) does) names nothing in /proc/sys."""
    for depth in range(1, len(parts) + 1):
        if not glob.glob(os.path.join("/proc/sys", *parts[:depth])):
            return True
    return False


def write_tree(files):
    # sysfs as this network namespace sees it (the one inherited shows the machine's own).
    subprocess.run([MOUNT, "-t", "sysfs", "sysfs", "/sys"], check=True)
    bootns.overlay("/etc")  # /etc/sysctl.conf and /etc/sysctl.d, in this namespace only
    subprocess.run(["/usr/bin/rm", "-rf", "/etc/sysctl.d", "/etc/sysctl.conf"], check=True)
    for over in sorted(set(DIRECTORIES.values()) - {"/etc/sysctl.d"}):
        subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", over], check=True)
    for directory in DIRECTORIES:
        os.makedirs(directory, exist_ok=True)
    for path, text in files.items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], path)
        else:
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
                handle.write(text)


def veth(name):
    subprocess.run([IP, "link", "add", name, "type", "veth", "peer", "name", name + "p"],
                   check=True)
    subprocess.run([IP, "link", "set", name + "p", "down"], check=True)


def udev_run(name):
    subprocess.run([SYSTEMD_SYSCTL, "--prefix=/net/ipv4/conf/" + name], check=False,
                   capture_output=True)


def main():
    case = json.load(sys.stdin)
    refuse_foreign_keys(case["files"])
    write_tree(case["files"])
    for scope in ("all", "default"):
        for key in KEYS:
            with open("{}/{}/{}".format(CONF, scope, key)) as handle:
                if int(handle.read()) != 0:
                    sys.exit("{}.{} is not 0 in the initial namespace: no boot to compare "
                             "with".format(scope, key))
    for name in case["boot"]:
        veth(name)
    procps = case.get("tool") == "procps"
    subprocess.run([PROCPS_SYSCTL, "--system"] if procps else [SYSTEMD_SYSCTL], check=False,
                   capture_output=True)
    for name in [] if procps else case["boot"]:
        udev_run(name)
    for name in case["later"]:
        veth(name)
        if not procps:
            udev_run(name)
    values = {}
    for scope in ["all", "default", "lo"] + case["boot"] + case["later"]:
        values[scope] = {}
        for key in KEYS:
            with open("{}/{}/{}".format(CONF, scope, key)) as handle:
                values[scope][key] = int(handle.read())
    runs = [subprocess.run(argv, capture_output=True, text=True, check=False).stdout
            for argv in case.get("run", [])]
    print(json.dumps({"values": values, "runs": runs}))


if __name__ == "__main__":
    main()
