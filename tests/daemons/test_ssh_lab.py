"""Agentless mode: the real-server checks over SSH against a real OpenSSH sshd in each lab
real server (an unprivileged login user, key auth), and the director's sweep."""

import os
import re
import subprocess
import time

import lab as lab_module
import pytest
import sshlab
from conftest import REPO, Outcome, plugin, unavailable

SSH_KEYGEN = sshlab.SSH_KEYGEN
LOGIN = sshlab.LOGIN
FIXTURES = os.path.join(REPO, "tests", "fixtures")
PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}


@pytest.fixture(scope="module")
def login_user():
    reason = sshlab.unavailable_reason()
    if reason:
        unavailable(reason)
    with sshlab.LoginUser() as home:
        yield home


@pytest.fixture(scope="module")
def ssh_lab(lab, login_user):
    running = sshlab.SSHLab(lab, login_user).start()
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
        sshlab.keygen(other)
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
    assert time.monotonic() - started < 3 + 0.5  # -t honoured within half a second
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
        "net.ipv4.conf.all.arp_ignore = 1 (nftables arp rules unreadable: run as root or use the "
        "shipped sudo rule for nft) (+3 more problems) (VIP_ON_LO OK) (1 of 2 real servers "
        "affected)")
    assert outcome.lines[2] == "OK: 192.0.2.12: ARP_SYSCTL OK, VIP_ON_LO OK"
    perf = dict(item.split("=", 1) for item in outcome.lines[-1].lstrip("| ").split())
    # Ranked so that higher reads worse: 0 OK, 1 WARNING, 2 UNKNOWN, 3 CRITICAL.
    assert perf["'192.0.2.11'"] == "3;0;2;0;3" and perf["'192.0.2.12'"] == "0;0;2;0;3"
    assert perf["servers_critical"] == "1;;;0;2" and perf["servers_ok"] == "1;;;0;2"


def test_sweep_keeps_results_when_a_server_is_unreachable(cluster, tmp_path):
    table = tmp_path / "ip_vs"
    with open(os.path.join(FIXTURES, "ip_vs")) as handle:
        # A third real server, 192.0.2.250, that does not exist.
        table.write_text(handle.read() + "  -> C00002FA:0050      Route   1      0          0\n")
    os.chmod(str(tmp_path), 0o755)
    # rs1 is CRITICAL: a confirmed CRITICAL outranks the unreachable server either way.
    for state, code in (("unknown", 2), ("critical", 2)):
        started = time.monotonic()
        outcome = from_director(cluster, "check_lvs_realservers", "--from-ipvs", str(table),
                                "--no-persistence", "-v", "-t", "4", "--unreachable", state,
                                *cluster.options())
        assert time.monotonic() - started < 4 + 0.5  # -t honoured within half a second
        assert outcome.code == code, outcome
        # Its share of -t: 4 s x 0.85 in one wave, 60% of it to connect.
        assert re.search(r"{}: 192\.0\.2\.250: not checked: {}".format(
            state.upper(), ABSENT.format(r"2\.04")), outcome.stdout), outcome
        assert outcome.status.startswith("LVS_REALSERVERS CRITICAL - 192.0.2.11: ARP_SYSCTL "
                                         "CRITICAL"), outcome
        assert "; not checked: 192.0.2.250" in outcome.status
        assert any(line.startswith("CRITICAL: 192.0.2.11: ARP_SYSCTL CRITICAL")
                   for line in outcome.lines)
        assert any(line.startswith("OK: 192.0.2.12: ARP_SYSCTL OK") for line in outcome.lines)


def test_sweep_thresholds_exclusions_and_a_critical(cluster, tmp_path):
    """-w/-c judge the number of servers not checked, --exclude leaves one out: a server
    down is OK within -w and WARNING beyond it, and a CRITICAL server still wins."""
    table = tmp_path / "ip_vs"
    with open(os.path.join(FIXTURES, "ip_vs")) as handle:
        table.write_text(handle.read() + "  -> C00002FA:0050      Route   1      0          0\n")
    os.chmod(str(tmp_path), 0o755)

    def sweep(*args):
        return from_director(cluster, "check_lvs_realservers", "--from-ipvs", str(table),
                             "--no-persistence", "-t", "4", *args, *cluster.options())
    # rs1 CRITICAL, rs2 excluded, 192.0.2.250 down within -w 1.
    outcome = sweep("--exclude", "192.0.2.12", "-w", "1", "-c", "2")
    assert outcome.code == 2, outcome
    assert outcome.status.startswith("LVS_REALSERVERS CRITICAL - 192.0.2.11: ARP_SYSCTL "
                                     "CRITICAL"), outcome
    perf = dict(item.split("=", 1) for item in outcome.perfdata.split())
    assert perf["excluded"] == "1;;;0" and perf["unreachable"].startswith("1;1;2;0;2"), perf
    assert "'192.0.2.12'" not in perf
    # rs1 left out too: the server down alone, WARNING beyond -w 0, OK within -w 1.
    for warning, code, state in (("0", 1, "WARNING"), ("1", 0, "OK")):
        outcome = sweep("--exclude", "192.0.2.11,192.0.2.12", "-w", warning)
        assert outcome.code == code, outcome
        assert outcome.status.startswith("LVS_REALSERVERS {} - ".format(state)), outcome
        if code:
            assert outcome.status.startswith("LVS_REALSERVERS WARNING - 1 real server not "
                                             "checked: 192.0.2.250"), outcome


def test_ssh_config_supplies_hostname_user_and_key(cluster, tmp_path):
    """An alias from ~/.ssh/config: HostName, User and IdentityFile come from there."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    rs1 = cluster.lab.realservers[0]
    (home / ".ssh" / "config").write_text(
        "Host web1\n  HostName {}\n  User {}\n  IdentityFile {}\n".format(rs1.ip, LOGIN,
                                                                         cluster.key))
    done = cluster.lab.director.run(["/usr/bin/env", "HOME=" + str(home), plugin("check_arp_sysctl"),
                                     "-H", "web1", "--known-hosts", cluster.known_hosts])
    remote = Outcome(done)
    local = local_run(rs1, "check_arp_sysctl")
    assert (remote.code, remote.stdout) == (local.code, local.stdout), remote


def test_unreadable_remote_file_is_unknown_naming_host_and_file(cluster, config_root):
    directory = os.path.join(config_root, "etc", "sysctl.d")
    os.makedirs(directory, mode=0o755)
    with open(os.path.join(directory, "90-lvs.conf"), "w") as handle:
        handle.write("net.ipv4.conf.all.arp_ignore = 1\n")
    os.chmod(os.path.join(directory, "90-lvs.conf"), 0o600)  # root's, not the login user's
    rs2 = cluster.lab.realservers[1]
    outcome = from_director(cluster, "check_arp_sysctl", "-H", rs2.ip, *cluster.options(),
                            "--root", config_root)
    assert (outcome.code, outcome.lines) == (3, [
        "ARP_SYSCTL UNKNOWN - 192.0.2.12: /etc/sysctl.d/90-lvs.conf: permission denied (run as a "
        "user that may read it)"])
