#!/usr/bin/env python3
"""The real NetworkManager as an oracle: boot a tree of keyfiles into this network namespace.

Run as root in a new network namespace and a private mount namespace of its own (``unshare
--net --mount --propagation private python3 nm_boot.py NETWORKMANAGER LIBDIR``: Debian's
NetworkManager 1.42, extracted, never installed, its libraries in LIBDIR), with a JSON object
on stdin: {"files": {path: text}, "mode": {path: octal}, "boot": [interface names]}. It lays
overlays over /etc and /var and a tmpfs over /run (in this mount namespace only), writes the
tree (keyfiles 0600 unless "mode" says otherwise), starts a private system bus (dbus-daemon,
its socket under this /run) and the real daemon with the keyfile plugin, and waits until the
addresses have been still for a second. Prints {"addresses": [[label, "address/prefix"]],
"log": text} of lo and the boot interfaces; with "check", also the plugin's outputs before
and after (bootns.booted_with_check).
"""

import json
import os
import signal
import subprocess
import sys
import time

import bootns

MOUNT = "/usr/bin/mount"
DBUS_DAEMON = "/usr/bin/dbus-daemon"
BUS = "/run/dbus/system_bus_socket"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/>
<allow receive_sender="*"/></policy></busconfig>
""".format(BUS)
ALLOWED = ("/etc/NetworkManager/", "/run/NetworkManager/", "/usr/lib/NetworkManager/")


def prepare(case):
    for directory in ("/etc", "/var", "/usr"):
        bootns.overlay(directory)
    subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", "/run"], check=True)
    subprocess.run([MOUNT, "-t", "sysfs", "-o", "ro", "sysfs", "/sys"], check=True)
    subprocess.run(["/usr/bin/rm", "-rf", "/etc/NetworkManager", "/var/lib/NetworkManager",
                    "/usr/lib/NetworkManager"], check=True)
    for directory in ("/run/dbus", "/var/lib/NetworkManager",
                      "/etc/NetworkManager/system-connections"):
        os.makedirs(directory, exist_ok=True)
    with open("/etc/NetworkManager/NetworkManager.conf", "w") as handle:
        handle.write("[main]\nplugins=keyfile\n")
    modes = {path: "600" for path in case["files"]}
    modes.update(case.get("mode", {}))
    bootns.write_tree(case["files"], ALLOWED, modes)
    for path, owner in case.get("owner", {}).items():
        os.chown(path, owner, owner)


def run_networkmanager(daemon, library, names, log):
    with open("/run/dbus.conf", "w") as handle:
        handle.write(BUS_CONFIG)
    bus = subprocess.Popen([DBUS_DAEMON, "--config-file=/run/dbus.conf", "--nofork"])
    deadline = time.monotonic() + 5
    while not os.path.exists(BUS) and time.monotonic() < deadline:
        time.sleep(0.02)
    environment = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=" + BUS,
                       LD_LIBRARY_PATH=library)
    with open("/run/nm.log", "w+") as output:
        manager = subprocess.Popen([daemon, "--no-daemon", "--debug"], stdout=output, stderr=output,
                                   env=environment)
        started, found, still_since = time.monotonic(), None, time.monotonic()
        while time.monotonic() - started < 10:
            time.sleep(0.1)
            now = bootns.addresses(names)
            if now != found:
                found, still_since = now, time.monotonic()
            if time.monotonic() - started > 1.5 and time.monotonic() - still_since > 1.0:
                break
        manager.send_signal(signal.SIGTERM)
        manager.wait(timeout=10)
        output.seek(0)
        log.append(output.read())
    bus.terminate()
    bus.wait(timeout=10)
    return found


def main():
    case = json.load(sys.stdin)
    prepare(case)
    bootns.boot_interfaces(case["boot"])
    log = []
    print(json.dumps(bootns.booted_with_check(case, lambda: run_networkmanager(
        sys.argv[1], sys.argv[2], ["lo"] + case["boot"], log), log)))


if __name__ == "__main__":
    main()
