"""Running an oracle script in a network and mount namespace of its own."""

import json
import os
import subprocess
import sys

from conftest import unavailable

UNSHARE = "/usr/bin/unshare"
HERE = os.path.dirname(os.path.abspath(__file__))


def need_root(what):
    if os.geteuid() != 0:
        unavailable("the {} oracle needs root (namespaces)".format(what))
    if not os.access(UNSHARE, os.X_OK):
        unavailable("{} is missing (Debian: util-linux)".format(UNSHARE))


def booted(script, arguments, case):
    """The JSON that oracles/SCRIPT printed for the case (given as JSON on its stdin)."""
    done = subprocess.run([UNSHARE, "--net", "--mount", "--propagation", "private",
                           sys.executable, os.path.join(HERE, script)] + list(arguments),
                          input=json.dumps(case), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
