"""Running an oracle script in a network and mount namespace of its own."""

import json
import os
import subprocess
import sys
import tempfile

from conftest import unavailable

UNSHARE = "/usr/bin/unshare"
HERE = os.path.dirname(os.path.abspath(__file__))


def need_root(what, programs=()):
    """Root, unshare and ``programs`` ((path, Debian package) pairs), or the test cannot run."""
    if os.geteuid() != 0:
        unavailable("the {} oracle needs root (namespaces)".format(what))
    for program, package in ((UNSHARE, "util-linux"),) + tuple(programs):
        if not os.access(program, os.X_OK):
            unavailable("{} is missing (Debian: {})".format(program, package))


VIP = "192.0.2.100"


def vip_on_lo_check():
    """check_vip_on_lo of this venv, for the VIP the boot-verdict cases configure."""
    return [os.path.join(os.path.dirname(sys.executable), "check_vip_on_lo"), "--vip", VIP]


def assert_boot_verdict_holds(result, context):
    """The boot verdict (the VIP live on lo as /32 before the boot) is the live verdict on
    what the real boot left, capped at WARNING."""
    before, after = result["before"].split(" - ")[0], result["after"].split(" - ")[0]
    assert before.startswith("VIP_ON_LO ") and after.startswith("VIP_ON_LO "), result["log"]
    assert before == after.replace("CRITICAL", "WARNING"), "\n".join(
        [str(context), result["before"], result["after"]])


def booted(script, arguments, case):
    """The JSON that oracles/SCRIPT printed for the case (given as JSON on its stdin); its
    scratch directory (bootns.scratch) is removed after it."""
    with tempfile.TemporaryDirectory(prefix="lvs-dr-oracle-") as scratch:
        done = subprocess.run([UNSHARE, "--net", "--mount", "--propagation", "private",
                               sys.executable, os.path.join(HERE, script)] + list(arguments),
                              input=json.dumps(case), capture_output=True, text=True,
                              timeout=120, env=dict(os.environ, LVS_DR_ORACLE_SCRATCH=scratch))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
