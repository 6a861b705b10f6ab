"""lvs-dr-watch with a real keepalived pair (tests/keepalivedlab.py), with and without
use_vmac: a watcher on each director and one on the client, each with the probe's command
line for that host. VRRP is blocked between the directors until both hold the VIPs (a
little over 4 s: the backup takes over after 3 advertisement intervals and a skew), then
let through again: each watcher records one split-brain episode of the IPv4 VIP, with a
start and an end, and nothing foreign."""

import json
import os
import subprocess
import time

import keepalivedlab
import lab as lab_module
import pytest
import snmplab
from conftest import run_in, unavailable
from test_keepalived_lab import commands


@pytest.fixture
def home():
    with keepalivedlab.pair_home("lvs-dr-watch-pair-") as path:
        yield path


def _events(state_dir):
    with open(os.path.join(state_dir, "state.json")) as handle:
        return json.load(handle)["timeline"]["events"]


@pytest.mark.parametrize("vmac", [False, True], ids=["plain", "use_vmac"])
def test_one_split_brain_episode_on_both_directors_and_the_client(home, vmac):
    with keepalivedlab.KeepalivedLab(home, vmac) as pair:
        watchers = {}
        for host, argv in commands(pair, vmac).items():
            state = os.path.join(home, "watch-" + host.role)
            os.mkdir(state)
            watchers[host.role] = (state, subprocess.Popen(lab_module.Host.netns_argv(
                host.ns, [lab_module.plugin("lvs-dr-watch")] + argv + [
                    "--interval", "0.5", "--wait", "0.3", "--heartbeat", "2",
                    "--state-dir", state]), stderr=subprocess.PIPE, text=True))
        time.sleep(3)
        blocked = time.time()
        pair.split()
        pair.heal()
        healed = time.time()
        pair.settle(pair.directors[0])
        time.sleep(3)
        logs = {}
        for role, (_, process) in watchers.items():
            process.terminate()
            logs[role] = process.communicate(timeout=15)[1]
        print("VRRP blocked for {:.1f} s".format(healed - blocked))
        assert healed - blocked >= 4.0
        for role, (state, _) in watchers.items():
            events = _events(state)
            episodes = [(e["event"], e["at"]) for e in events
                        if e["vip"] == keepalivedlab.VIP4 and e["event"].startswith("split")]
            assert [kind for kind, _ in episodes] == ["split-start", "split-end"], \
                (role, events, logs[role])
            assert blocked < episodes[0][1] < episodes[1][1] <= healed + 5, (role, episodes)
            assert not [e for e in events if e["event"].startswith("foreign")], (role, events)
            # the IPv6 VIP too: by two owners' answers, or (the client, use_vmac: one virtual
            # MAC answering) by two VRRP masters advertising its VRID at once
            assert [e["event"] for e in events if e["vip"] == keepalivedlab.VIP6 and
                    e["event"].startswith("split")] == ["split-start", "split-end"], \
                (role, events, logs[role])


def _block_garp_to(pair, host, blocked=True):
    """The bridge drops ARP frames sent from the VIP (gratuitous ARP, announcements) towards
    ``host``'s port; the rest of ARP passes."""
    argv = [keepalivedlab.NFT, "-f", "-"] if blocked else [
        keepalivedlab.NFT, "delete", "table", "bridge", "lvsdrarp"]
    rules = ("table bridge lvsdrarp {{\n  chain forward {{\n    type filter hook forward "
             "priority 0; policy accept;\n    oifname \"{}\" arp saddr ip {} drop\n  }}\n}}\n"
             .format(host.port, keepalivedlab.VIP4))
    subprocess.run(lab_module.Host.netns_argv(pair.lab.bridge_ns, argv),
                   input=rules if blocked else None, text=True, check=True)


def _wait_event(state_dir, kind, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [e for e in _events(state_dir) if e["event"] == kind]
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("no {} event in {} s: {}".format(kind, seconds, _events(state_dir)))


def _kernel_mac(router, vip):
    """What the router's own kernel holds for ``vip`` (the oracle)."""
    fields = router.run(["/usr/sbin/ip", "neigh", "show", vip], check=True).stdout.split()
    return fields[fields.index("lladdr") + 1] if "lladdr" in fields else None


def test_a_router_that_missed_the_gratuitous_arp_is_reported_stale(home):
    """The client is the router (real snmpd serving its neighbour table). It learned the
    VIP at dir1; the bridge drops ARP towards it; dir1 stops and dir2 takes over: dir2's
    watcher reads the router 2 s after the owner change and reports it still at dir1's
    MAC, until the router asks again and learns dir2. A failover back to dir1, its ARP let
    through, is followed: nothing stale."""
    reason = snmplab.unavailable_reason()
    if reason:
        unavailable(reason)
    with keepalivedlab.KeepalivedLab(home, False) as pair:
        dir1, dir2 = pair.directors
        client = pair.lab.client
        router = snmplab.SnmpAgent(client, home, ["udp:{}:161".format(client.ip)]).start()
        state = os.path.join(home, "watch-dir2")
        os.mkdir(state)
        watcher = subprocess.Popen(lab_module.Host.netns_argv(dir2.ns, [
            lab_module.plugin("lvs-dr-watch")] + commands(pair, False)[dir2] + [
            "-H", client.ip, "--snmp-community-file", router.community_file,
            "--router-grace", "2", "--interval", "0.5", "--wait", "0.3", "--heartbeat", "2",
            "--state-dir", state]), stderr=subprocess.PIPE, text=True)
        try:
            client.run(["/usr/bin/ping", "-c", "1", "-W", "1", keepalivedlab.VIP4], check=True)
            time.sleep(2)
            _block_garp_to(pair, client)
            pair.stop(dir1)
            stale = _wait_event(state, "router-stale")
            assert [(e["vip"], e["before"], e["after"]) for e in stale] == [
                (keepalivedlab.VIP4, dir1.mac, dir2.mac)]
            assert _kernel_mac(client, keepalivedlab.VIP4) == dir1.mac
            pulled = run_in(dir2, "check_vip_arp_watch", "--from-watch",
                            os.path.join(state, "state.json"))
            assert pulled.code == 2 and "router {} (SNMP) still sends VIP {} to {} since".format(
                client.ip, keepalivedlab.VIP4, dir1.mac) in pulled.status, pulled
            _block_garp_to(pair, client, blocked=False)
            client.run(["/usr/bin/ip", "neigh", "flush", "to", keepalivedlab.VIP4])
            client.run(["/usr/bin/ping", "-c", "1", "-W", "1", keepalivedlab.VIP4], check=True)
            fresh = _wait_event(state, "router-fresh")
            assert fresh[0]["seen"] == dir2.mac == _kernel_mac(client, keepalivedlab.VIP4)
            pair.start(dir1)
            pair.settle(dir1)
            time.sleep(4)  # two grace periods: the router was read, and followed
            events = _events(state)
            assert [e["after"] for e in events if e["event"] == "owner-change"][-1] == dir1.mac
            assert len([e for e in events if e["event"] == "router-stale"]) == 1, events
            assert _kernel_mac(client, keepalivedlab.VIP4) == dir1.mac
            assert not [e for e in events if e["event"].startswith("split")], events
        finally:
            watcher.terminate()
            print(watcher.communicate(timeout=15)[1])
            router.stop()
