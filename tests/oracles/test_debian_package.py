"""The sdist carries the whole tree (its tests, the monitoring configuration, the packaging).

The Debian package: built from the tree with debhelper and dh-python, lintian-clean,
installed on a private overlay of this machine (tests/oracles/deb_install.py: nothing
reaches the machine), each plugin run from /usr/lib/nagios/plugins, the man pages found,
Icinga 2 validating a configuration that only includes the ITL and uses every CheckCommand,
nothing granted (the sudo rule, the NRPE commands and the capability drop-in are examples,
each enabled by the command it documents, then read by visudo and systemd-analyze), then
removed (conffiles stay) and purged (nothing stays)."""

import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest
from conftest import unavailable

from lvs_dr_checks.entry import PLUGINS
from oracles.namespace import booted, need_root

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
CONFFILES = ["/etc/nagios-plugins/config/lvs-dr-checks.cfg", "/etc/default/lvs-dr-watch"]


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    for tool in ("dpkg-buildpackage", "dh_python3", "lintian"):
        if not shutil.which(tool, path=DEBIAN_PATH):
            unavailable("{} is missing (Debian: debhelper, dh-python, lintian)".format(tool))
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([os.path.join(REPO, "tools", "build_deb.sh"), str(out)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return str(out / "lvs-dr-checks_{}_all.deb".format(version()))


def version():
    with open(os.path.join(REPO, "lvs_dr_checks", "__init__.py")) as handle:
        return re.search(r'__version__ = "([^"]+)"', handle.read()).group(1)


def test_lintian_finds_no_error(deb, tmp_path):
    # lintian leaves its own temporary files (mldbm-*) behind: here, not in the machine's /tmp.
    done = subprocess.run(["lintian", "--fail-on", "error,warning", deb], capture_output=True,
                          text=True, timeout=300, env=dict(os.environ, PATH=DEBIAN_PATH,
                                                           TMPDIR=str(tmp_path)))
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_installs_works_and_purges(deb):
    need_root("package installation")
    with open(os.path.join(REPO, "icinga-conf", "lvs-dr-checks-commands.conf")) as handle:
        commands = re.findall(r'object CheckCommand "([^"]+)"', handle.read())
    result = booted("deb_install.py", [deb] + commands, {})
    steps = result["steps"]
    assert steps["install"][0] == 0, steps["install"][1]
    for plugin in PLUGINS:
        assert steps[plugin + " -V"] == [0, "{} (lvs-dr-checks) {}\n".format(plugin, version())]
    code, output = steps["check_vip_on_lo"]
    assert code == 2 and output.startswith(
        "VIP_ON_LO CRITICAL - 192.0.2.100 is on no interface: add it with 'ip addr add "
        "192.0.2.100/32 dev lo' (1 of 1 VIP affected) | "), output
    code, output = steps["check_vip_arp_cache"]
    assert code == 0 and output.startswith(
        "VIP_ARP_CACHE OK - 0 VIPs in the router's table, each at an allowed owner; 1 VIP not in "
        "it (nothing to judge) (ipNetToPhysicalTable of 127.0.0.1:161 (1 address on 1 interface "
        "read directly), SNMP v2c) | "), output
    assert steps["man"] == [0, "/usr/share/man/man1/check_vip_on_lo.1.gz\n"]
    assert steps["director basket"] == [0, sorted(
        name.replace("_", "-") for name in commands)], steps["director basket"]
    # The package grants nothing by itself; each grant is one documented command away.
    assert steps["granted by the install"] == [0, []]
    for grant in ("sudo", "nrpe", "capability"):
        assert steps["enable " + grant] == [0, "", True], steps["enable " + grant]
    assert steps["visudo"][0] == 0, steps["visudo"]
    assert steps["systemd"] == [0, ""], steps["systemd"]
    # the watcher: its unit read by systemd as valid, installed disabled
    assert steps["lvs-dr-watch unit"] == [0, ""], steps["lvs-dr-watch unit"]
    assert steps["lvs-dr-watch enabled"] == [0, []]
    assert steps["lvs-dr-watch"] == [0, "lvs-dr-watch (lvs-dr-checks) {}\n".format(version())]
    assert steps["icinga2"][0] == 0, steps["icinga2"][1]
    assert "Instantiated {} Services".format(len(commands)) in steps["icinga2"][1]
    assert result["left"] == {"remove": CONFFILES, "purge": []}


def test_the_sdist_carries_every_file_of_the_tree(tmp_path):
    """The sdist is enough to run the tests and build the packages: every file git tracks."""
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                             check=True).stdout.split()
    if not tracked:
        unavailable("not a git checkout")
    done = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    archive = next(tmp_path.glob("*.tar.gz"))
    with tarfile.open(str(archive)) as handle:
        names = {name.split("/", 1)[1] for name in handle.getnames() if "/" in name}
    assert sorted(set(tracked) - names - {".gitignore"}) == []
