"""The plugins' entry points, importing nothing but the standard library first: a broken or
incomplete install (nagiosplugin or paramiko missing) is an UNKNOWN line naming the
missing piece, never a traceback with an empty stdout (which Icinga shows as WARNING)."""

import gc
import importlib
import logging
import os
import sys

# plugin -> (module of lvs_dr_checks.checks, status name)
PLUGINS = {
    "check_arp_sysctl": ("arp_sysctl", "ARP_SYSCTL"),
    "check_vip_on_lo": ("vip_on_lo", "VIP_ON_LO"),
    "check_vip_arp_owner": ("vip_arp_owner", "VIP_ARP_OWNER"),
    "check_lvs_realservers": ("realservers", "LVS_REALSERVERS"),
    "check_vip_arp_cache": ("vip_arp_cache", "VIP_ARP_CACHE"),
    "check_vip_arp_watch": ("vip_arp_watch", "VIP_ARP_WATCH"),
}
# The checks check_lvs_realservers runs on every real server, in this order: each module has
# NAME and server_check(source, vips, persistence). No check imports another; this is where
# they meet.
SERVER_CHECKS = ("arp_sysctl", "vip_on_lo")
DEBIAN_PACKAGES = {"nagiosplugin": "python3-nagiosplugin", "paramiko": "python3-paramiko"}


def _broken(name, message):
    sys.stdout.write("{} UNKNOWN - {}\n".format(name, " ".join(message.split())))
    sys.stdout.flush()
    sys.exit(3)


def run(plugin):
    module_name, name = PLUGINS[plugin]
    # A plugin is one short process that makes few reference cycles: the cyclic collector's
    # passes over 20,000 VIPs' objects cost 0.15 s and would free next to nothing the exit
    # does not (the sweep's processes for each server are as short).
    gc.disable()
    try:
        module = importlib.import_module("lvs_dr_checks.checks." + module_name)
        arguments = {}
        if plugin == "check_lvs_realservers":
            arguments["server_checks"] = [importlib.import_module("lvs_dr_checks.checks." + m)
                                          for m in SERVER_CHECKS]
    except ImportError as exc:
        missing = (getattr(exc, "name", None) or "").split(".")[0]
        if missing in DEBIAN_PACKAGES:
            _broken(name, "the Python module {} is missing: install {} (Debian) or reinstall "
                          "lvs-dr-checks with its dependencies".format(missing,
                                                                       DEBIAN_PACKAGES[missing]))
        _broken(name, "broken install, cannot import {}: {}: reinstall lvs-dr-checks".format(
            module_name, exc))
    except Exception as exc:  # a damaged file of the package itself
        _broken(name, "broken install, cannot load {}: {}: {}: reinstall lvs-dr-checks".format(
            module_name, type(exc).__name__, exc))
    try:
        module.main(**arguments)
    except SystemExit as ended:
        exit_now(ended.code)


def exit_now(code):
    """End the plugin once its output is written, without the interpreter's teardown: that
    frees every object the check made one by one (0.2 to 0.3 s for 20,000 VIPs), where the
    kernel takes the whole memory back at once. Output and log records are flushed first;
    nothing a check leaves for atexit needs running (a lingering SSH thread ends with the
    process)."""
    if code is not None and not isinstance(code, int):  # sys.exit(text), as Python does it
        sys.stderr.write("{}\n".format(code))
        code = 1
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):  # closed, or none at all
            pass
    os._exit(code or 0)


def check_arp_sysctl():
    run("check_arp_sysctl")


def check_vip_on_lo():
    run("check_vip_on_lo")


def check_vip_arp_owner():
    run("check_vip_arp_owner")


def check_lvs_realservers():
    run("check_lvs_realservers")


def check_vip_arp_cache():
    run("check_vip_arp_cache")


def check_vip_arp_watch():
    run("check_vip_arp_watch")


def lvs_dr_watch():
    """The daemon: a start that fails says why on stderr, in one line, and exits 1."""
    try:
        module = importlib.import_module("lvs_dr_checks.watch.daemon")
    except ImportError as exc:
        sys.stderr.write("lvs-dr-watch: cannot start, broken install: {}: reinstall "
                         "lvs-dr-checks\n".format(exc))
        sys.exit(1)
    module.main()
