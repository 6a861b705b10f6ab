"""check_vip_arp_owner with a real keepalived pair (Debian's keepalived, VRRP on the lab
bridge only), with and without use_vmac, IPv4 and IPv6 VIPs: one command line per host, OK in
steady state on master, backup and client, CRITICAL for a hijacking real server from all
three, CRITICAL split brain from all three, UNKNOWN for a director cut off at its switch
port, OK again on both directors after a failover."""

import subprocess
import time

import keepalivedlab
import lab as lab_module
import pytest
from conftest import run_in


@pytest.fixture
def home():
    with keepalivedlab.pair_home("lvs-dr-keepalived-") as path:
        yield path


def commands(pair, vmac):
    """The command line of each host: each director allows its peer; the third host reads
    a copy of the configuration and expects both directors (or, with use_vmac, nothing
    more: the configuration implies the virtual MACs)."""
    dir1, dir2 = pair.directors
    third = ["--from-keepalived", pair.conf(dir1)]
    if not vmac:
        third += ["--expect-mac", dir1.mac, "--expect-mac", dir2.mac]
    return {dir1: ["--from-keepalived", pair.conf(dir1), "--allow-mac", dir2.mac],
            dir2: ["--from-keepalived", pair.conf(dir2), "--allow-mac", dir1.mac],
            pair.lab.client: third}


def probe_all(pair, vmac):
    return {host.role: run_in(host, "check_vip_arp_owner", *argv)
            for host, argv in commands(pair, vmac).items()}


STEADY = ("VIP_ARP_OWNER OK - 2 VIPs probed on eth0: each owned by one allowed owner; 2 of 2 "
          "witnesses answered")
HIJACK = ("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by 02:00:5e:00:00:0b (192.0.2.11, "
          "real server of TCP 192.0.2.100:80) (1 of 2 VIPs affected)")


@pytest.mark.parametrize("vmac", [False, True], ids=["plain", "use_vmac"])
def test_a_director_pair_from_master_backup_and_client(home, vmac):
    with keepalivedlab.KeepalivedLab(home, vmac) as pair:
        dir1, dir2 = pair.directors
        steady = probe_all(pair, vmac)
        for role, outcome in steady.items():
            assert (outcome.code, outcome.status) == (0, STEADY), (role, outcome)
            assert outcome.perf()["split_brain"] == "0;;0;0;2"

        rs1 = pair.lab.realservers[0]
        rs1.sysctl({"all.arp_ignore": 0})
        for role, outcome in probe_all(pair, vmac).items():
            assert (outcome.code, outcome.status) == (2, HIJACK), (role, outcome)
        rs1.sysctl({"all.arp_ignore": 1})

        pair.split()
        split = probe_all(pair, vmac)
        virtual = "00:00:5e:00:01:33 (VRRP virtual MAC of an IPv4 instance, VRID 51)"
        peer = {dir1: dir2, dir2: dir1}
        for director in pair.directors:
            outcome = split[director.role]
            assert outcome.code == 2, outcome
            assert outcome.status == (
                "VIP_ARP_OWNER CRITICAL - split brain: VIP 192.0.2.100 owned by this host ({}) "
                "and {} (2 of 2 VIPs affected)".format(
                    director.mac, virtual if vmac else peer[director].mac)), outcome
        client = split[pair.lab.client.role]
        assert client.code == 2, client
        assert client.status == (
            "VIP_ARP_OWNER CRITICAL - split brain: VIP 192.0.2.100 owned by " +
            ("{} answering 4 times to 2 probes (two hosts behind one MAC)".format(virtual)
             if vmac else "{} and {}".format(dir1.mac, dir2.mac)) +
            "; VRRP advertisements from 192.0.2.1 and 192.0.2.2 at once (2 of 2 VIPs "
            "affected)"), client
        pair.heal()
        pair.settle(dir1)

        pair.cut_off(dir1)
        cut = run_in(dir1, "check_vip_arp_owner", *commands(pair, vmac)[dir1])
        assert (cut.code, cut.status) == (3, (
            "VIP_ARP_OWNER UNKNOWN - nothing answered on eth0, not even the witnesses asked "
            "(192.0.2.11, 192.0.2.12): this host does not reach the segment; check the link, "
            "the switch port and the VLAN of eth0")), cut
        pair.cut_off(dir1, blocked=False)
        pair.settle(dir1)

        # A failover while the client listens: the owners follow one another, no split brain.
        client = pair.lab.client
        listening = subprocess.Popen(lab_module.Host.netns_argv(client.ns, [
            lab_module.plugin("check_vip_arp_owner"), "--listen", "6", "-v"]
            + commands(pair, vmac)[client]), stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        pair.stop(dir1)
        heard, _ = listening.communicate(timeout=30)
        assert listening.returncode == 0, heard
        if not vmac:
            assert "VIP 192.0.2.100 owned by {} (taken over from {} during the probe)".format(
                dir2.mac, dir1.mac) in heard, heard
        pair.settle(dir2)
        for role, outcome in probe_all(pair, vmac).items():
            assert (outcome.code, outcome.status) == (0, STEADY), (role, outcome)


def test_stock_keepalived_ipv6_vmac_answers_for_the_ipv4_vip(home):
    """default.arp_ignore left at 0: keepalived's IPv6 vmac interface answers ARP for the
    IPv4 VIP with the IPv6 virtual MAC, which is not an owner allowed for that VIP."""
    with keepalivedlab.KeepalivedLab(home, vmac=True, protect_new_interfaces=False) as pair:
        dir1 = pair.directors[0]
        assert dir1.read_sysctl("vrrp.52", "arp_ignore") == 0
        outcome = run_in(pair.lab.client, "check_vip_arp_owner", "--from-keepalived",
                         pair.conf(dir1), "-v")
    assert outcome.code == 2, outcome
    assert outcome.lines[:3] == [
        "VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by 00:00:5e:00:02:34 (VRRP virtual "
        "MAC of an IPv6 instance, VRID 52) (1 of 2 VIPs affected)",
        "CRITICAL: VIP 192.0.2.100 answered by 00:00:5e:00:02:34 (VRRP virtual MAC of an IPv6 "
        "instance, VRID 52)",
        "OK: VIP 2001:db8::100 owned by 00:00:5e:00:02:34 (VRRP virtual MAC of an IPv6 "
        "instance, VRID 52)"]
