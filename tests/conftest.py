"""Shared fixtures: the lab, the installed plugins, and the no-skip rule of CI."""

import os
import subprocess
import sys
import types

import nagiosplugin
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import lab as lab_module  # noqa: E402

from lvs_dr_checks.source.local import Source  # noqa: E402

REPO = lab_module.REPO
TESTS = os.path.join(REPO, "tests")
FIXTURES = os.path.join(TESTS, "fixtures")

# .ci/run sets this: a lab or daemon test that cannot run is then a failure, not a skip.
NO_SKIP = "LVS_DR_NO_SKIP"


def unavailable(reason):
    """Skip with the reason, or fail in CI where nothing the issues require may skip."""
    if os.environ.get(NO_SKIP):
        pytest.fail("{} is set and this test cannot run: {}".format(NO_SKIP, reason))
    pytest.skip(reason)


def plugin(name):
    return lab_module.plugin(name)


class Outcome:
    """A plugin run as a monitoring system sees it: exit code, status line, perfdata."""

    def __init__(self, done):
        self.code = done.returncode
        self.stdout = done.stdout
        self.stderr = done.stderr
        self.lines = done.stdout.splitlines()
        first = self.lines[0] if self.lines else ""
        self.status, _, self.perfdata = (part.strip() for part in first.partition("|"))
        rest = "\n".join(self.lines[1:])
        if "|" in rest:  # the plugin guidelines' long perfdata, after the long output
            self.perfdata = " ".join([self.perfdata, rest.split("|", 1)[1]]).strip()

    @property
    def long(self):
        """The long output: the lines after the status line, up to the long perfdata."""
        return [line for line in "\n".join(self.lines[1:]).split("|", 1)[0].splitlines() if line]

    def perf(self):
        """{label: 'value;warn;crit;min;max'} from all the perfdata (status line and long)."""
        return dict(item.split("=", 1) for item in self.perfdata.split())

    def __repr__(self):
        return "exit {}: {}\n{}".format(self.code, self.stdout, self.stderr)


def run_plugin(name, *args, env=None):
    done = subprocess.run([plugin(name)] + list(args), capture_output=True, text=True,
                          env=env, timeout=60)
    return Outcome(done)


@pytest.fixture
def in_process(capsys):
    """Run a plugin's main(argv) here, as Icinga would see it: its Outcome."""
    def run(main, argv):
        nagiosplugin.Runtime.instance = None  # a fresh output per run
        with pytest.raises(SystemExit) as ended:
            main(argv)
        said = capsys.readouterr()
        return Outcome(types.SimpleNamespace(returncode=ended.value.code, stdout=said.out,
                                             stderr=said.err))
    return run


def run_in(host, name, *args, user=None):
    return Outcome(host.run([plugin(name)] + list(args), user=user))


@pytest.fixture(scope="module")
def lab():
    reason = lab_module.lab_unavailable_reason()
    if reason:
        unavailable(reason)
    with lab_module.Lab() as running:
        yield running


ORACLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "arp_oracle.py")


def kernel_answers(lab, target=lab_module.VIP):
    """MACs that answer the director's ARP request for target: the kernel's truth."""
    director = lab.director
    done = director.run([sys.executable, ORACLE, "ask", director.iface, target, director.ip],
                        check=True)
    return set(done.stdout.split())


def kernel_announces(lab, host, source=lab_module.VIP):
    """Sender IPs of the ARP requests ``host`` sends when it talks from ``source`` to the
    client, heard on the client: the VIP among them means arp_announce leaks it."""
    client = lab.client
    listener = subprocess.Popen(
        lab_module.Host.netns_argv(client.ns, [sys.executable, ORACLE, "listen", client.iface,
                                               "2.5"]), stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        host.run(["/usr/sbin/ip", "neigh", "flush", "all"])
        host.run(["/usr/bin/ping", "-c", "1", "-W", "1", "-I", source, client.ip])
        output, _ = listener.communicate(timeout=10)
    finally:
        listener.kill()
        listener.wait()
    return {line.split()[0] for line in output.splitlines() if line.split()[1:] == [host.mac]}


@pytest.fixture
def config_root():
    """An empty configuration tree that the unprivileged user may read."""
    with lab_module.readable_tempdir("lvs-dr-root-") as root:
        yield root


def write_tree(root, files):
    """Write {path: text} under root, readable by everyone; '->' makes a symlink."""
    for path, text in files.items():
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:].strip(), full)
        else:
            with open(full, "w") as handle:
                handle.write(text)
            os.chmod(full, 0o644)


class CapturedTree(Source):
    """A tree captured from a host, as that host's root saw it: what the test wrote is root's
    (uid 0), and ``owners`` ({path: uid}) names the files of other owners. The unprivileged
    tests read ownership rules (NetworkManager's) from it without chown."""

    def __init__(self, root, owners=None):
        super().__init__(root)
        self.owners = owners or {}

    def owner_and_mode(self, path):
        owner, mode = super().owner_and_mode(path)
        return self.owners.get(path, 0 if owner == os.getuid() else owner), mode


@pytest.fixture(scope="session", autouse=True)
def leave_no_pacing_file():
    """The probe keeps its host-wide pacing reservation in a small file under /run; a test
    session that created it removes it, so that nothing is left on the machine."""
    from lvs_dr_checks.wire.channels import Pacer

    existed = os.path.exists(Pacer.PATH)
    yield
    if not existed and os.path.exists(Pacer.PATH):
        os.unlink(Pacer.PATH)
