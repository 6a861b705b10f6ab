"""Least privilege for the probe: the packet sockets (CAP_NET_RAW) and the host-wide pacing
file are taken first; then a run started through sudo drops to the user who invoked it,
before it reads any file or path named on the command line, so that nothing is revealed to
that user that the user could not read already.

Also ``--sudo``: the plugin runs itself through ``sudo -n`` and turns a refusal (no rule, a
password required) into an UNKNOWN line, where sudo's own exit 1 would read as WARNING."""

import os
import subprocess
import sys

from lvs_dr_checks.cli import MAX_TIMEOUT, PluginError, emit, logger, print_unknown
from lvs_dr_checks.source.local import SUDO

log = logger("privilege")
SUDO_OPTION = "--sudo"
SUDOERS_HINT = ("enable the sudo rule: install -m 0440 /usr/share/doc/lvs-dr-checks/examples/"
                "sudoers.d/lvs-dr-checks /etc/sudoers.d/lvs-dr-checks")


def invoking_user():
    """(uid, gid) of the user a privileged run acts for, or None when there is none to drop
    to (a run by root itself, or an unprivileged run)."""
    if os.geteuid() != 0:
        return None
    uid, gid = os.environ.get("SUDO_UID", ""), os.environ.get("SUDO_GID", "")
    if uid.isdigit() and gid.isdigit() and int(uid) != 0:
        return int(uid), int(gid)
    if os.getuid() != 0:
        return os.getuid(), os.getgid()
    return None


def drop_privileges():
    """Become the invoking user for good (groups, gid, uid; capabilities go with uid 0).
    Returns the uid the run continues as."""
    user = invoking_user()
    if user is None:
        return os.geteuid()
    uid, gid = user
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.geteuid() != uid or os.getuid() != uid:
        raise PluginError("could not drop privileges to uid {}: refusing to go on".format(uid))
    log.info("privileges dropped to uid %d, gid %d", uid, gid)
    return uid


def unreadable(option, path):
    """The one message for a named path that cannot be read: the same whether it is missing,
    not a regular file or not readable, so that it tells nothing about files of others."""
    return PluginError("{} {}: cannot read it as uid {} (missing, not a regular file, or not "
                       "readable): give a file this user may read".format(
                           option, path, os.geteuid()))


def rerun_through_sudo(name, argv):
    """Run this plugin again as root through ``sudo -n`` and pass its result on; a refusal
    by sudo (no status line from the plugin) is UNKNOWN naming sudo's reason."""
    command = [SUDO, "-n", os.path.abspath(sys.argv[0])] + list(argv)
    try:
        done = subprocess.run(command, capture_output=True, timeout=MAX_TIMEOUT + 10,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        print_unknown(name, "cannot run {}: {}: install sudo and {}".format(SUDO, exc, SUDOERS_HINT))
    status = done.stdout.decode("utf-8", "replace")
    if status.startswith(name + " ") and done.returncode in (0, 1, 2, 3):
        emit(status)
        sys.exit(done.returncode)
    reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
    print_unknown(name, "sudo refused to run {} as root (exit {}: {}): {}".format(
        os.path.basename(command[2]), done.returncode, reason[0] if reason else "no message",
        SUDOERS_HINT))

