"""Agentless mode: the real-server checks over SSH against a real OpenSSH sshd in each lab
real server (an unprivileged login user, key auth), and the director's sweep."""

import os
import re
import shutil
import subprocess
import tempfile
import time

import lab as lab_module
import pytest
from conftest import REPO, Outcome, plugin, unavailable

SSHD = "/usr/sbin/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
LOGIN = "lvsdrssh"
FIXTURES = os.path.join(REPO, "tests", "fixtures")
PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}


def keygen(path):
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    with open(path + ".pub") as handle:
        return handle.read().strip()


@pytest.fixture(scope="module")
def login_user():
    """An unprivileged login user with a shell (sshd runs commands through it)."""
    for program in (SSHD, SSH_KEYGEN, "/usr/sbin/useradd", "/usr/sbin/userdel"):
        if not os.access(program, os.X_OK):
            unavailable("{} is missing (Debian: openssh-server, passwd)".format(program))
    if os.geteuid() != 0:
        unavailable("starting sshd and adding its login user needs root")
    home = tempfile.mkdtemp(prefix="lvs-dr-ssh-")
    os.chmod(home, 0o755)
    subprocess.run(["/usr/sbin/userdel", LOGIN], capture_output=True)
    subprocess.run(["/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir", home,
                    "--shell", "/bin/sh", "--password", "*", LOGIN], check=True)  # "*": no password, not locked
    try:
        yield home
    finally:
        subprocess.run(["/usr/sbin/userdel", LOGIN], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


class SSHLab:
    """sshd in every real server of a lab; the client key and known_hosts on the director."""

    def __init__(self, lab, home):
        self.lab = lab
        self.home = home
        self.key = os.path.join(home, "id_ed25519")
        self.known_hosts = os.path.join(home, "known_hosts")
        self.authorized = os.path.join(home, "authorized_keys")
        self.host_keys = {}
        self.daemons = []

    def start(self):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        with open(self.authorized, "w") as handle:
            handle.write(keygen(self.key) + "\n")
        lines = []
        for host in self.lab.realservers:
            host_key = os.path.join(self.home, "host_key_" + host.role)
            self.host_keys[host.ip] = keygen(host_key)
            lines.append("{} {}".format(host.ip, " ".join(self.host_keys[host.ip].split()[:2])))
            config = os.path.join(self.home, "sshd_config_" + host.role)
            with open(config, "w") as handle:
                handle.write("\n".join([
                    "ListenAddress " + host.ip, "Port 22", "HostKey " + host_key,
                    "PidFile {}/sshd_{}.pid".format(self.home, host.role),
                    "AuthorizedKeysFile " + self.authorized, "StrictModes no", "UsePAM no",
                    "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                    "PermitRootLogin no", "AllowUsers " + LOGIN,
                    "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))
            self.daemons.append(subprocess.Popen(
                lab_module.Host.netns_argv(host.ns, [SSHD, "-D", "-e", "-f", config]),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        with open(self.known_hosts, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        for host in self.lab.realservers:
            deadline = time.monotonic() + 10
            while not host.run(["/usr/bin/ss", "-Hltn", "sport = :22"]).stdout.strip():
                assert time.monotonic() < deadline, "sshd did not start in " + host.role
                time.sleep(0.1)
        return self

    def stop(self):
        for daemon in self.daemons:
            daemon.terminate()
            daemon.wait(timeout=10)

    def options(self, known_hosts=None, key=None):
        return ["--ssh-user", LOGIN, "--ssh-key", key or self.key,
                "--known-hosts", known_hosts or self.known_hosts]


@pytest.fixture(scope="module")
def ssh_lab(lab, login_user):
    running = SSHLab(lab, login_user).start()
    yield running
    running.stop()


@pytest.fixture
def cluster(ssh_lab):
    rs1, rs2 = ssh_lab.lab.realservers
    rs1.reset_sysctls()
    rs2.reset_sysctls()
    rs2.sysctl(PROTECT)
    return ssh_lab


def from_director(ssh_lab, name, *args):
    return Outcome(ssh_lab.lab.director.run([plugin(name)] + list(args)))


def local_run(host, name, *args):
    return Outcome(host.run([plugin(name)] + list(args), user=LOGIN))


CHECKS = [("check_arp_sysctl", []), ("check_arp_sysctl", ["--no-persistence", "-v"]),
          ("check_vip_on_lo", ["--vip", lab_module.VIP]),
          ("check_vip_on_lo", ["--vip", lab_module.VIP + ",192.0.2.99", "-v"])]


@pytest.mark.parametrize("name, args", CHECKS)
def test_remote_results_match_local_runs(cluster, name, args):
    for host in cluster.lab.realservers:
        remote = from_director(cluster, name, "-H", host.ip, *cluster.options(), *args)
        local = local_run(host, name, *args)
        assert (remote.code, remote.stdout) == (local.code, local.stdout), (remote, local)
    broken = from_director(cluster, "check_arp_sysctl", "-H", cluster.lab.realservers[0].ip,
                           *cluster.options())
    assert broken.code == 2 and broken.status.startswith("ARP_SYSCTL CRITICAL - eth0 arp_ignore 0")


def test_remote_root_reads_the_configuration_tree_on_the_host(cluster, config_root):
    os.makedirs(os.path.join(config_root, "etc", "sysctl.d"), mode=0o755)
    with open(os.path.join(config_root, "etc", "sysctl.d", "90-lvs.conf"), "w") as handle:
        handle.write("net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\n")
    os.chmod(os.path.join(config_root, "etc", "sysctl.d", "90-lvs.conf"), 0o644)
    rs2 = cluster.lab.realservers[1]
    remote = from_director(cluster, "check_arp_sysctl", "-H", rs2.ip, *cluster.options(),
                           "--root", config_root)
    assert remote.code == 0, remote
    assert remote.perf()["unpersisted_settings"] == "0;0;;0"


def test_unknown_host_key_is_unknown_with_its_fingerprint(cluster):
    empty = os.path.join(cluster.home, "known_hosts_empty")
    open(empty, "w").close()
    rs1 = cluster.lab.realservers[0]
    outcome = from_director(cluster, "check_arp_sysctl", "-H", rs1.ip,
                            *cluster.options(known_hosts=empty))
    assert outcome.code == 3
    fingerprint = subprocess.run([SSH_KEYGEN, "-l", "-E", "sha256", "-f",
                                  os.path.join(cluster.home, "host_key_rs1.pub")],
                                 capture_output=True, text=True).stdout.split()[1]
    assert outcome.lines == [
        "ARP_SYSCTL UNKNOWN - host key of 192.0.2.11 (ssh-ed25519 {}) is not in {}: verify the "
        "fingerprint out of band, then add it deliberately (ssh-keyscan -p 22 192.0.2.11 >> {})"
        .format(fingerprint, empty, empty)]


def test_changed_host_key_is_unknown(cluster):
    rs1, rs2 = cluster.lab.realservers
    swapped = os.path.join(cluster.home, "known_hosts_swapped")
    with open(swapped, "w") as handle:
        handle.write("{} {}\n".format(rs1.ip, " ".join(cluster.host_keys[rs2.ip].split()[:2])))
    outcome = from_director(cluster, "check_vip_on_lo", "--vip", lab_module.VIP, "-H", rs1.ip,
                            *cluster.options(known_hosts=swapped))
    assert outcome.code == 3
    assert outcome.status.startswith("VIP_ON_LO UNKNOWN - host key of 192.0.2.11 has CHANGED: "
                                     "it offers ssh-ed25519 SHA256:")
    assert "ssh-keygen -f {} -R 192.0.2.11".format(swapped) in outcome.status


def test_authentication_failure_is_unknown(cluster):
    other = os.path.join(cluster.home, "other_key")
    if not os.path.exists(other):
        keygen(other)
    outcome = from_director(cluster, "check_arp_sysctl", "-H", cluster.lab.realservers[0].ip,
                            *cluster.options(key=other))
    assert outcome.code == 3
    assert outcome.status.startswith("ARP_SYSCTL UNKNOWN - authentication to "
                                     "lvsdrssh@192.0.2.11:22 failed")


# A host that is not there either times out (first ARP attempt) or, once the neighbour entry
# has failed, is refused by the director's own kernel as unreachable: both are named.
ABSENT = (r"lvsdrssh@192\.0\.2\.250:22 (did not answer within {}s: host down or port filtered"
          r"|is unreachable \(No route to host\): host down or wrong address)")


@pytest.mark.parametrize("address, port, message", [
    ("192.0.2.250", "22", "ARP_SYSCTL UNKNOWN - " + ABSENT.format("1\\.8")),
    ("192.0.2.11", "2222", r"ARP_SYSCTL UNKNOWN - connection to lvsdrssh@192\.0\.2\.11:2222 "
                           r"refused: is sshd running there, on that port\?"),
])
def test_unreachable_or_refused_is_unknown_within_the_timeout(cluster, address, port, message):
    started = time.monotonic()
    outcome = from_director(cluster, "check_arp_sysctl", "-H", address, "--ssh-port", port,
                            "-t", "3", *cluster.options())
    assert time.monotonic() - started < 3 + 1.5  # -t bounds the run (plus interpreter start)
    assert outcome.code == 3 and len(outcome.lines) == 1, outcome
    assert re.fullmatch(message, outcome.lines[0]), outcome


def test_sweep_reports_each_real_server(cluster):
    outcome = from_director(cluster, "check_lvs_realservers", "--from-ipvs",
                            os.path.join(FIXTURES, "ip_vs"), "--no-persistence", "-v",
                            *cluster.options())
    assert outcome.code == 2, outcome
    assert outcome.lines[0] == (
        "LVS_REALSERVERS CRITICAL - 192.0.2.11: ARP_SYSCTL CRITICAL - eth0 arp_ignore 0 (all=0, "
        "eth0=0): answers ARP for every local address, VIPs on lo included; set "
        "net.ipv4.conf.all.arp_ignore = 1 (+3 more problems) (VIP_ON_LO OK) (1 of 2 real servers "
        "affected)")
    assert outcome.lines[2].startswith("OK: 192.0.2.12: ARP_SYSCTL OK - 1 ARP-facing interface")
    perf = dict(item.split("=", 1) for item in outcome.lines[-1].lstrip("| ").split())
    assert perf["'192.0.2.11'"] == "2;0;1;0;3" and perf["'192.0.2.12'"] == "0;0;1;0;3"
    assert perf["servers_critical"] == "1;;;0;2" and perf["servers_ok"] == "1;;;0;2"


def test_sweep_keeps_results_when_a_server_is_unreachable(cluster, tmp_path):
    table = tmp_path / "ip_vs"
    with open(os.path.join(FIXTURES, "ip_vs")) as handle:
        # A third real server, 192.0.2.250, that does not exist.
        table.write_text(handle.read() + "  -> C00002FA:0050      Route   1      0          0\n")
    os.chmod(str(tmp_path), 0o755)
    for state, code in (("unknown", 3), ("critical", 2)):
        outcome = from_director(cluster, "check_lvs_realservers", "--from-ipvs", str(table),
                                "--no-persistence", "-v", "-t", "4", "--unreachable", state,
                                *cluster.options())
        assert outcome.code == code, outcome
        assert re.search(r"192\.0\.2\.250: " + ABSENT.format(r"2\.4"), outcome.stdout), outcome
        assert any(line.startswith("CRITICAL: 192.0.2.11: ARP_SYSCTL CRITICAL")
                   for line in outcome.lines)
        assert any(line.startswith("OK: 192.0.2.12: ARP_SYSCTL OK") for line in outcome.lines)
