#!/usr/bin/env python3
"""Install the project's .deb on a private copy of this machine, use it, and purge it.

Run as root in a new mount and network namespace (``unshare --mount --net --propagation
private python3 deb_install.py DEB COMMAND...``): /etc, /usr and /var get overlays and /run a
tmpfs, in this mount namespace only, so dpkg's writes never reach the machine. Then:
dpkg -i; each plugin from /usr/lib/nagios/plugins (-V, and check_vip_on_lo for real in this
empty network namespace, and check_vip_arp_cache over SNMP with Debian's pysnmp against a
real snmpd on this namespace's loopback); man -w; `icinga2 daemon -C` on a configuration that only includes
the ITL with plugins-contrib and uses every CheckCommand; dpkg -r (conffiles stay); dpkg -P
(nothing stays). Prints {step: [exit code, output]} and {"left": {after remove, after purge}}.
"""

import glob
import json
import os
import shlex
import subprocess
import sys
import time

import bootns

MOUNT = "/usr/bin/mount"
PLUGINS = ("check_arp_sysctl", "check_vip_on_lo", "check_vip_arp_owner", "check_lvs_realservers",
           "check_vip_arp_cache", "check_vip_arp_watch")
SNMPD = "/usr/sbin/snmpd"
PLUGIN_DIR = "/usr/lib/nagios/plugins"
CONFFILES = ("/etc/nagios-plugins/config/lvs-dr-checks.cfg", "/etc/default/lvs-dr-watch")
WATCH_UNIT = "/lib/systemd/system/lvs-dr-watch.service"
# What would grant or run anything: installed as examples only, each enabled by the command
# at the top of its example (the text after "Enable (as root...):").
EXAMPLES = "/usr/share/doc/lvs-dr-checks/examples/"
GRANTS = {"sudo": (EXAMPLES + "sudoers.d/lvs-dr-checks", "/etc/sudoers.d/lvs-dr-checks"),
          "nrpe": (EXAMPLES + "nrpe.d/lvs-dr-checks.cfg", "/etc/nagios/nrpe.d/lvs-dr-checks.cfg"),
          "capability": (EXAMPLES + "systemd/icinga2.service.d/lvs-dr-checks.conf",
                         "/etc/systemd/system/icinga2.service.d/lvs-dr-checks.conf")}
BASKET = EXAMPLES + "lvs-dr-checks-director-basket.json"
INSTALLED = ["{}/{}".format(PLUGIN_DIR, name) for name in PLUGINS] + [
    "/usr/share/icinga2/include/plugins-contrib.d/lvs-dr-checks.conf",
    "/usr/lib/python3/dist-packages/lvs_dr_checks/cli.py",
    "/usr/share/man/man1/check_vip_on_lo.1.gz", BASKET, "/usr/sbin/lvs-dr-watch", WATCH_UNIT,
    "/usr/share/man/man8/lvs-dr-watch.8.gz"]
ICINGA_CONF = """const PluginDir = "/usr/lib/nagios/plugins"
const PluginContribDir = "/usr/lib/nagios/plugins"
const ManubulonPluginDir = "/usr/lib/nagios/plugins"
include <itl>
include <plugins>
include <plugins-contrib>
object Host "rs1" {{ address = "192.0.2.11"; check_command = "dummy" }}
{}
"""


def run(argv, results, name, **kwargs):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120,
                              **kwargs)
    except OSError as exc:
        results[name] = [127, str(exc)]
        return
    results[name] = [done.returncode, (done.stdout + done.stderr)[-4000:]]


def snmp_check(results):
    """The router check as installed, over SNMP v2c to snmpd on 127.0.0.1 (an empty table)."""
    subprocess.run(["/usr/sbin/ip", "link", "set", "lo", "up"], check=True)
    os.makedirs("/run/lvs-snmpd")
    with open("/run/lvs-snmpd/snmpd.conf", "w") as handle:
        handle.write("agentAddress udp:127.0.0.1:161\nrocommunity lvs-test 127.0.0.1\n")
    with open(os.open("/run/lvs-snmpd/community", os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write("lvs-test\n")
    daemon = subprocess.Popen([SNMPD, "-f", "-C", "-c", "/run/lvs-snmpd/snmpd.conf", "-Lf",
                               "/dev/null", "--persistentDir=/run/lvs-snmpd"])
    try:
        for _ in range(100):
            if subprocess.run(["/usr/bin/ss", "-Hlun", "sport = :161"], capture_output=True,
                              text=True).stdout.strip():
                break
            time.sleep(0.05)
        run([os.path.join(PLUGIN_DIR, "check_vip_arp_cache"), "-H", "127.0.0.1",
             "--snmp-community-file", "/run/lvs-snmpd/community", "--vip", "192.0.2.100",
             "--expect-mac", "02:00:5e:00:00:01"], results, "check_vip_arp_cache")
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def documented_install(example):
    """The install command an example documents at its top (its first step, before '&&')."""
    with open(example) as handle:
        lines = handle.read().splitlines()
    at = next(n for n, line in enumerate(lines) if "Enable (as root" in line)
    return shlex.split(lines[at + 1].lstrip("#").split("&&")[0])


def enable_grants(results):
    """Nothing granted by the install; then each grant enabled by its documented command and
    checked by the tool that reads it."""
    results["granted by the install"] = [0, [active for _, active in GRANTS.values()
                                             if os.path.exists(active)]]
    for name, (example, active) in GRANTS.items():
        run(documented_install(example), results, "enable " + name)
        results["enable " + name].append(os.path.exists(active))
    run(["/usr/sbin/visudo", "-c", "-f", GRANTS["sudo"][1]], results, "visudo")
    run(["/usr/bin/systemd-analyze", "verify", "icinga2.service"], results, "systemd")
    run(["/usr/bin/systemd-analyze", "verify", "lvs-dr-watch.service"], results,
        "lvs-dr-watch unit")
    results["lvs-dr-watch enabled"] = [0, sorted(
        path for path in glob.glob("/etc/systemd/system/*/lvs-dr-watch.service"))]
    run(["/usr/sbin/lvs-dr-watch", "--version"], results, "lvs-dr-watch")
    for _, active in GRANTS.values():
        os.remove(active)


def main():
    deb = sys.argv[1]
    for directory in ("/etc", "/usr", "/var"):
        bootns.overlay(directory)
    subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", "/run"], check=True)
    results = {}
    run(["/usr/bin/dpkg", "-i", deb], results, "install", env=dict(os.environ, TMPDIR="/run"))
    for plugin in PLUGINS:
        run([os.path.join(PLUGIN_DIR, plugin), "-V"], results, plugin + " -V")
    run([os.path.join(PLUGIN_DIR, "check_vip_on_lo"), "--vip", "192.0.2.100",
         "--no-persistence"], results, "check_vip_on_lo")
    snmp_check(results)
    run(["/usr/bin/man", "-w", "check_vip_on_lo"], results, "man")
    with open(BASKET) as handle:
        results["director basket"] = [0, sorted(json.load(handle)["ServiceTemplate"])]
    enable_grants(results)
    services = "\n".join('object Service "{0}" {{ host_name = "rs1"; check_command = "{0}" }}'
                         .format(name) for name in sys.argv[2:])
    os.makedirs("/etc/icinga2", exist_ok=True)
    with open("/etc/icinga2/lvs-test.conf", "w") as handle:
        handle.write(ICINGA_CONF.format(services))
    run(["/usr/sbin/icinga2", "daemon", "-C", "-c", "/etc/icinga2/lvs-test.conf"], results,
        "icinga2")
    left = {}
    run(["/usr/bin/dpkg", "-r", "lvs-dr-checks"], results, "remove")
    left["remove"] = [path for path in INSTALLED + list(CONFFILES) if os.path.exists(path)]
    run(["/usr/bin/dpkg", "-P", "lvs-dr-checks"], results, "purge")
    left["purge"] = [path for path in INSTALLED + list(CONFFILES) if os.path.exists(path)]
    print(json.dumps({"steps": results, "left": left}))


if __name__ == "__main__":
    main()
