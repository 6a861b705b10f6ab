"""A sweep that one bad server cannot spoil, and -H against hostile servers: a fake SSH server
(paramiko's server mode, tests/fakessh.py) listens on 35 addresses inside a network namespace
of the test's own, each address a real server with its own behaviour; the plugins run in the
same namespace. Then the same in the lab with real sshd for the 32 healthy and CRITICAL
servers and the fake one for the hostile ones. No traffic leaves the test's namespaces."""

import os
import re
import subprocess
import sys
import time

import fakessh
import lab as lab_module
import pytest
import sshlab
from conftest import Outcome, plugin, unavailable

VIP = "192.0.2.100"
HEALTHY = ["192.0.2.{}".format(n) for n in range(10, 35)]  # 25 healthy servers
BAD = {"192.0.2.40": "tarpit", "192.0.2.41": "slow", "192.0.2.42": "drop",
       "192.0.2.43": "garbage", "192.0.2.44": "huge", "192.0.2.45": "nosession",
       "192.0.2.46": "nonutf8", "192.0.2.49": "nested"}
DOWN = "192.0.2.47"      # nothing listens: refused
CRITICAL = "192.0.2.48"  # serves a tree with arp_ignore 0
SERVERS = HEALTHY + list(BAD) + [DOWN, CRITICAL]


@pytest.fixture(scope="module")
def farm():
    reason = lab_module.lab_unavailable_reason() or sshlab.unavailable_reason()
    if reason:
        unavailable(reason)
    servers = dict({ip: "ok" for ip in HEALTHY}, **BAD)
    servers.update({DOWN: "down", CRITICAL: "critical"})
    with fakessh.farm(servers, VIP) as running:
        yield running


def run(farm, name, *args, env=None):
    runner, _ = farm
    return Outcome(runner([plugin(name)] + list(args), env=env))


def states_in_long_output(outcome):
    """Every server's state in -v: a line of its own ("STATE: ip: ..."), or named in a group's
    ("STATE: N real servers: finding: ip, ip, ...")."""
    state_of = {}
    for line in outcome.lines[1:]:
        state, _, rest = line.partition(": ")
        if re.match(r"\d+ real servers: ", rest):
            state_of.update((ip, state) for ip in rest.rsplit(": ", 1)[1].split(", "))
        elif ": " in rest:
            state_of[rest.split(": ", 1)[0]] = state
    return state_of


def test_sweep_of_32_servers_names_the_critical_one_first_within_t(farm):
    started = time.monotonic()
    outcome = run(farm, "check_lvs_realservers", "--from-ipvs", farm[1], "-t", "20", "-v")
    elapsed = time.monotonic() - started
    assert elapsed < 20, outcome
    assert outcome.code == 2, outcome
    assert outcome.status.startswith("LVS_REALSERVERS CRITICAL - {}: ARP_SYSCTL CRITICAL - "
                                     .format(CRITICAL)), outcome
    assert "not checked: " in outcome.status
    perf = dict(item.split("=", 1) for item in outcome.stdout.split("|", 1)[1].split())
    counts = {state: int(perf["servers_" + state].split(";")[0])
              for state in ("ok", "warning", "critical", "unknown")}
    # The checked servers by state, and those not checked: together every server.
    assert sum(counts.values()) + int(perf["unreachable"].split(";")[0]) == \
        int(perf["servers"].split(";")[0]) == len(SERVERS)
    assert counts["critical"] == 1
    state_of = states_in_long_output(outcome)
    for ip in HEALTHY:
        assert state_of[ip] == "OK", outcome
    assert counts["ok"] >= len(HEALTHY)
    for ip in list(BAD) + [DOWN]:
        if BAD.get(ip) != "slow":  # a slow server may finish within its share
            assert state_of[ip] == "UNKNOWN", outcome
    assert "internal error" not in outcome.stdout and "Traceback" not in outcome.stdout
    assert outcome.stderr == ""


@pytest.mark.parametrize("behaviour, reason", [
    ("tarpit", "did not complete the SSH handshake within"),
    ("drop", "SFTP failed on read"),
    ("garbage", "ip -o addr: unexpected line '<html>not iproute2</html>'"),
    ("huge", "is larger than 4 MiB: cut, and no verdict comes from part of it"),
    ("nosession", "SFTP is not available"),
    ("nonutf8", "/sys/class/net/eth\\xff/flags: "),
    ("nested", "ip -o addr: unexpected line '[[[["),
])
def test_each_hostile_server_is_one_clean_unknown_line(farm, behaviour, reason):
    ip = next(ip for ip, b in BAD.items() if b == behaviour)
    outcome = run(farm, "check_vip_on_lo", "-H", ip, "--vip", VIP, "-t", "6")
    assert outcome.code == 3, outcome
    assert len(outcome.lines) == 1 and outcome.status.startswith("VIP_ON_LO UNKNOWN - "), outcome
    assert reason in outcome.status, outcome
    assert "internal error" not in outcome.stdout and outcome.stderr == ""


def test_a_healthy_fake_server_gives_the_real_verdict(farm):
    outcome = run(farm, "check_arp_sysctl", "-H", HEALTHY[0])
    assert outcome.code == 0, outcome
    outcome = run(farm, "check_arp_sysctl", "-H", CRITICAL)
    assert outcome.code == 2 and outcome.status.startswith("ARP_SYSCTL CRITICAL - "), outcome


def test_match_exec_in_ssh_config_runs_nothing(farm, tmp_path):
    """paramiko would run `Match exec` through a shell with the host name in it; the plugin
    reads only HostName, User, Port and IdentityFile, and a hostile -H is refused anyway."""
    marker = tmp_path / "ran"
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        'Match exec "touch {}"\n  User root\nHost *\n  ProxyCommand touch {}\n'.format(
            marker, marker))
    env = dict(os.environ, HOME=str(home))
    for host in (HEALTHY[0], "192.0.2.11;touch${IFS}" + str(marker) + ";#"):
        outcome = run(farm, "check_arp_sysctl", "-H", host, "-v", env=env)
        assert not marker.exists(), outcome
        assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.status.startswith("ARP_SYSCTL UNKNOWN - -H '192.0.2.11;touch")


def test_sweep_of_real_sshd_servers_with_hostile_ones_among_them(tmp_path):
    """32 real servers served by real sshd (8 lab namespaces, each sshd also on three more
    addresses), rs1 CRITICAL, the others protected; five hostile servers (the fake server in
    the client's namespace) and one address where nothing listens. The CRITICAL is named
    first, every healthy server is OK, every bad one UNKNOWN, within -t."""
    reason = lab_module.lab_unavailable_reason() or sshlab.unavailable_reason()
    if reason:
        unavailable(reason)
    hostile = {"192.0.2.80": "tarpit", "192.0.2.81": "slow", "192.0.2.82": "drop",
               "192.0.2.83": "garbage", "192.0.2.84": "nosession"}
    nobody_there = "192.0.2.85"
    with sshlab.LoginUser() as home, lab_module.Lab(realservers=8) as lab:
        extra = {host: ["192.0.2.{}".format(30 + 3 * index + n) for n in range(3)]
                 for index, host in enumerate(lab.realservers)}
        for host, addresses in extra.items():
            host.addresses("add", addresses, host.iface)
        for host in lab.realservers[1:]:
            host.sysctl({"all.arp_ignore": 1, "all.arp_announce": 2})
        client = lab.client
        client.addresses("add", list(hostile) + [nobody_there], client.iface)
        ssh = sshlab.SSHLab(lab, home).start(extra=extra)
        fake_key = os.path.join(home, "fake_host_key")
        fake_public = sshlab.keygen(fake_key)
        tree = os.path.join(home, "tree")
        fakessh.write_tree(tree, arp_ignore=1, vip=VIP)
        with open(ssh.known_hosts, "a") as handle:
            handle.writelines("{} {}\n".format(ip, " ".join(fake_public.split()[:2]))
                              for ip in hostile)
        fake = subprocess.Popen(
            lab_module.Host.netns_argv(client.ns, [sys.executable, fakessh.__file__, fake_key,
                                                   ssh.key + ".pub", "22"]
                                       + ["{}={}:{}".format(ip, b, tree)
                                          for ip, b in hostile.items()]),
            stdout=subprocess.PIPE, text=True, env=dict(os.environ, LVS_DR_FAKE_LOGIN=sshlab.LOGIN))
        try:
            assert fake.stdout.readline().strip() == "ready"
            real = [host.ip for host in lab.realservers] + sum(extra.values(), [])
            servers = real + list(hostile) + [nobody_there]
            table = tmp_path / "ipvsadm"
            table.write_text(lab_module.ipvsadm_text(VIP, servers))
            os.chmod(str(tmp_path), 0o755)
            started = time.monotonic()
            outcome = Outcome(lab.director.run(
                [plugin("check_lvs_realservers"), "--from-ipvs", str(table), "--no-persistence",
                 "-t", "25", "-v"] + ssh.options()))
            elapsed = time.monotonic() - started
        finally:
            fake.kill()
            fake.wait()
            ssh.stop()
    assert elapsed < 25, outcome
    assert outcome.code == 2, outcome
    assert outcome.status.startswith("LVS_REALSERVERS CRITICAL - 192.0.2.11: ARP_SYSCTL "
                                     "CRITICAL - eth0 arp_ignore 0"), outcome
    state_of = states_in_long_output(outcome)
    critical = {lab.realservers[0].ip} | set(extra[lab.realservers[0]])
    for ip in real:
        assert state_of[ip] == ("CRITICAL" if ip in critical else "OK"), outcome
    for ip in list(hostile) + [nobody_there]:
        if hostile.get(ip) != "slow":  # a slow server may finish within its share
            assert state_of[ip] == "UNKNOWN", outcome
    perf = dict(item.split("=", 1) for item in outcome.stdout.split("|", 1)[1].split())
    assert sum(int(perf[s].split(";")[0]) for s in ("servers_ok", "servers_warning",
                                                    "servers_critical", "servers_unknown",
                                                    "unreachable")) == len(servers)
    assert "internal error" not in outcome.stdout and "Traceback" not in outcome.stdout
