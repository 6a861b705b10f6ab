"""A newcomer's two commands on a fresh Debian 12: a minimal root (debootstrap --variant=minbase
bookworm) with only the README's prerequisites added, the project cloned into /root (mode
0700, as a fresh Debian has it), then `make demo` and a representative part of `make test`
there as root. All of it runs chrooted inside a private mount namespace
(oracles/fresh_debian.py): the root's apt-get runs, mounts and lab namespaces never reach the
machine, and the root is removed afterwards. Slow (several minutes: the Debian packages of
the root and of make test come from the archive)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import pytest
from conftest import REPO

from oracles.namespace import UNSHARE, need_root

DEBOOTSTRAP = "/usr/sbin/debootstrap"
HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = "/root/src/lvs-dr-checks"
# The part of make test run there: the lab as nobody, a boot oracle, NRPE's real daemon and
# the NetworkManager oracle on its private bus, each needing packages that only make test's
# own set-up installs.
PART = " ".join([
    "tests/lab/test_vip_on_lo_lab.py", "tests/lab/test_arp_sysctl_boot_lab.py",
    "tests/daemons/test_monitoring_daemons.py::test_check_nrpe_returns_the_plugins_line_and_exit_code",
    "tests/oracles/test_networkmanager_oracle.py::test_the_real_networkmanager_did_what_the_case_says"])


def prerequisites():
    """The packages the README asks a newcomer to install before the two commands."""
    with open(os.path.join(REPO, "README.md")) as handle:
        found = re.search(r"^Prerequisites.*?`apt-get install ([a-z0-9. +-]+)`", handle.read(),
                          re.M)
    assert found, "README.md names no prerequisites line ('Prerequisites ... `apt-get install`')"
    return found.group(1).split()


def mirror():
    """The Debian archive this machine's apt uses (the one its registry access reaches)."""
    for path in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        if os.path.exists(path):
            with open(path) as handle:
                found = re.search(r"^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(https?://\S+/debian)/?\s",
                                  handle.read(), re.M)
            if found:
                return found.group(1)
    return "http://deb.debian.org/debian"


@pytest.fixture(scope="module")
def fresh_root():
    need_root("fresh Debian root", [(DEBOOTSTRAP, "debootstrap")])
    parent = tempfile.mkdtemp(prefix="lvs-dr-fresh-", dir="/var/tmp")
    root = os.path.join(parent, "root")
    try:
        done = subprocess.run([DEBOOTSTRAP, "--variant=minbase", "bookworm", root, mirror()],
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        yield root
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def test_a_newcomer_runs_make_demo_and_make_test_from_root_home(fresh_root, tmp_path):
    log = tmp_path / "fresh.log"
    commands = [["/usr/bin/apt-get", "update", "-qq"],
                ["/usr/bin/apt-get", "install", "-y", "-qq"] + prerequisites(),
                ["/usr/bin/git", "clone", "-q", "/mnt/source", CHECKOUT],
                ["/usr/bin/make", "-C", CHECKOUT, "demo"],
                ["/usr/bin/make", "-C", CHECKOUT, "test", "TESTS=" + PART]]
    argv = [UNSHARE, "--mount", "--propagation", "private", sys.executable,
            os.path.join(HERE, "fresh_debian.py"), fresh_root, REPO]
    for command in commands:
        argv += ["--"] + command
    with open(log, "w") as handle:
        done = subprocess.run(argv, stdout=handle, stderr=subprocess.STDOUT, timeout=2400,
                              env=dict(os.environ, LVS_DR_NO_SKIP="1"))
    output = log.read_text(errors="replace")
    assert done.returncode == 0, output[-6000:]
    mode = os.stat(os.path.join(fresh_root, "root")).st_mode & 0o777
    assert mode == 0o700, "the checkout's parent /root is {:o}, not a fresh Debian's".format(mode)
    demo = output.split("make -C {} demo".format(CHECKOUT))[1].split("make -C {} test".format(
        CHECKOUT))[0]
    # make test installed what the demo did not need, and said so in one line
    assert re.search(r"^make demo: installing the Debian packages it needs", demo, re.M), demo
    assert "Every scene showed what it states." in demo, demo[-4000:]
    exits = re.findall(r"^\(exit (\d)\)$", demo, re.M)
    assert exits == ["2", "2", "1", "1", "0", "0", "0", "2", "2", "0", "0", "2"], demo
    assert "VIP_ARP_CACHE CRITICAL" in demo, demo
    tests = output.split("make -C {} test".format(CHECKOUT))[1]
    assert re.search(r"^make test: installing the Debian packages it needs", tests, re.M), tests
    summary = re.search(r"^(\d+) passed(.*) in [\d.]+s", tests, re.M)
    assert summary and int(summary.group(1)) >= 20 and "failed" not in summary.group(2) \
        and "skipped" not in summary.group(2), tests[-4000:]
