"""A sweep that one bad server cannot spoil, and -H against hostile servers: a fake SSH server
(paramiko's server mode, tests/fakessh.py) listens on 32 addresses inside a network namespace
of the test's own, each address a real server with its own behaviour; the plugins run in the
same namespace. No traffic leaves it."""

import os
import subprocess
import sys
import time

import lab as lab_module
import pytest
import sshlab
from conftest import Outcome, plugin, unavailable

FAKESSH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fakessh.py")
sys.path.insert(0, os.path.dirname(FAKESSH))
import fakessh  # noqa: E402

VIP = "192.0.2.100"
PORT = 2222
HEALTHY = ["192.0.2.{}".format(n) for n in range(10, 35)]  # 25 healthy servers
BAD = {"192.0.2.40": "tarpit", "192.0.2.41": "slow", "192.0.2.42": "drop",
       "192.0.2.43": "garbage", "192.0.2.44": "huge", "192.0.2.45": "nosession",
       "192.0.2.46": "nonutf8"}
DOWN = "192.0.2.47"      # nothing listens: refused
CRITICAL = "192.0.2.48"  # serves a tree with arp_ignore 0
SERVERS = HEALTHY + list(BAD) + [DOWN, CRITICAL]


@pytest.fixture(scope="module")
def farm():
    reason = lab_module.lab_unavailable_reason() or sshlab.unavailable_reason()
    if reason:
        unavailable(reason)
    lab_module.remove_stale_namespaces()
    ns = "ldc{}x{}-farm".format(os.getpid(), os.urandom(2).hex())
    with lab_module.readable_tempdir("lvs-dr-farm-") as home:
        subprocess.run([lab_module.IP, "netns", "add", ns], check=True)
        try:
            yield _start(ns, home)
        finally:
            _stop()
            subprocess.run([lab_module.IP, "netns", "del", ns], capture_output=True)


_running = []


def _start(ns, home):
    subprocess.run([lab_module.IP, "-n", ns, "link", "set", "lo", "up"], check=True)
    batch = "".join("addr add {}/32 dev lo\n".format(ip) for ip in SERVERS)
    subprocess.run([lab_module.IP, "-n", ns, "-batch", "-"], input=batch, text=True, check=True)
    host_key, client_key = os.path.join(home, "host_key"), os.path.join(home, "id_ed25519")
    host_public = sshlab.keygen(host_key)
    sshlab.keygen(client_key)
    good, bad = os.path.join(home, "good"), os.path.join(home, "bad")
    fakessh.write_tree(good, arp_ignore=1, vip=VIP)
    fakessh.write_tree(bad, arp_ignore=0, vip=VIP)
    specs = ["{}=ok:{}".format(ip, good) for ip in HEALTHY]
    specs += ["{}={}:{}".format(ip, behaviour, good) for ip, behaviour in BAD.items()]
    specs.append("{}=ok:{}".format(CRITICAL, bad))
    known_hosts = os.path.join(home, "known_hosts")
    with open(known_hosts, "w") as handle:
        handle.writelines("[{}]:{} {}\n".format(ip, PORT, " ".join(host_public.split()[:2]))
                          for ip in SERVERS)
    table = os.path.join(home, "ipvsadm")
    with open(table, "w") as handle:
        handle.write("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port "
                     "Scheduler Flags\n  -> RemoteAddress:Port Forward Weight ActiveConn "
                     "InActConn\nTCP  {}:80 wlc\n".format(VIP))
        handle.writelines("  -> {}:80 Route 1 0 0\n".format(ip) for ip in SERVERS)
    server = subprocess.Popen(lab_module.Host.netns_argv(
        ns, [sys.executable, FAKESSH, host_key, client_key + ".pub", str(PORT)] + specs),
        stdout=subprocess.PIPE, text=True)
    _running.append(server)
    assert server.stdout.readline().strip() == "ready"
    return {"ns": ns, "home": home, "known_hosts": known_hosts, "key": client_key,
            "table": table}


def _stop():
    for server in _running:
        server.kill()
        server.wait()
    del _running[:]


def run(farm, name, *args):
    argv = [plugin(name), "--ssh-user", fakessh.LOGIN, "--ssh-port", str(PORT),
            "--ssh-key", farm["key"], "--known-hosts", farm["known_hosts"]] + list(args)
    return Outcome(subprocess.run(lab_module.Host.netns_argv(farm["ns"], argv),
                                  capture_output=True, text=True, timeout=120))


def test_sweep_of_32_servers_names_the_critical_one_first_within_t(farm):
    started = time.monotonic()
    outcome = run(farm, "check_lvs_realservers", "--from-ipvs", farm["table"], "-t", "20", "-v")
    elapsed = time.monotonic() - started
    assert elapsed < 20, outcome
    assert outcome.code == 2, outcome
    assert outcome.status.startswith("LVS_REALSERVERS CRITICAL - {}: ARP_SYSCTL CRITICAL - "
                                     .format(CRITICAL)), outcome
    assert "not checked: " in outcome.status
    perf = dict(item.split("=", 1) for item in outcome.stdout.split("|", 1)[1].split())
    counts = {state: int(perf["servers_" + state].split(";")[0])
              for state in ("ok", "warning", "critical", "unknown")}
    assert sum(counts.values()) == int(perf["servers"].split(";")[0]) == len(SERVERS)
    assert counts["critical"] == 1
    lines = {line.split(": ", 2)[1]: line for line in outcome.lines[1:] if ": " in line}
    for ip in HEALTHY:
        assert lines[ip].startswith("OK: {}: ".format(ip)), lines[ip]
    assert counts["ok"] >= len(HEALTHY)
    for ip in list(BAD) + [DOWN]:
        if BAD.get(ip) != "slow":  # a slow server may finish within its share
            assert lines[ip].startswith("UNKNOWN: {}: ".format(ip)), lines[ip]
    assert "internal error" not in outcome.stdout and "Traceback" not in outcome.stdout
    assert outcome.stderr == ""


@pytest.mark.parametrize("behaviour, reason", [
    ("tarpit", "did not complete the SSH handshake within"),
    ("drop", "SFTP failed on read"),
    ("garbage", "ip -o addr: unexpected line '<html>not iproute2</html>'"),
    ("huge", "is larger than 4 MiB: cut, and no verdict comes from part of it"),
    ("nosession", "SFTP is not available"),
    ("nonutf8", "/sys/class/net/eth\\xff/flags: "),
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
        argv = [plugin("check_arp_sysctl"), "-H", host, "--ssh-user", fakessh.LOGIN,
                "--ssh-port", str(PORT), "--ssh-key", farm["key"], "--known-hosts",
                farm["known_hosts"], "-v"]
        done = subprocess.run(lab_module.Host.netns_argv(farm["ns"], argv), env=env,
                              capture_output=True, text=True, timeout=60)
        assert not marker.exists(), done.stdout
        assert "Traceback" not in done.stdout + done.stderr
    assert Outcome(done).status.startswith("ARP_SYSCTL UNKNOWN - -H '192.0.2.11;touch")
