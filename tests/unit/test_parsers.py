"""Parsers on captured output, and the common command-line behaviour of every plugin."""

import ipaddress
import os

import pytest
from conftest import FIXTURES, run_plugin

from lvs_dr_checks import __version__
from lvs_dr_checks.host import ipvs, links
from lvs_dr_checks.wire.arp import Probe


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


EXPECTED_ADDRESSES = [
    ("lo", "127.0.0.1", 8, "host", "lo"),
    ("lo", "192.0.2.100", 32, "global", "lo"),
    ("lo", "192.0.2.101", 24, "global", "lo:vip"),
    ("lo", "2001:db8::100", 128, "global", "lo"),
    ("lo", "::1", 128, "host", "lo"),
    ("eth0", "192.0.2.11", 24, "global", "eth0"),
    ("eth0", "fe80::5eff:fe00:b", 64, "link", "eth0"),
]


def as_tuples(addresses):
    return sorted((a.interface, str(a.address), a.prefixlen, a.scope, a.label) for a in addresses)


def test_ip_json_and_text_fallback_agree():
    assert as_tuples(links.parse_ip_json(fixture("ip-j-addr.json"))) == sorted(EXPECTED_ADDRESSES)
    assert as_tuples(links.parse_ip_oneline(fixture("ip-o-addr.txt"))) == sorted(EXPECTED_ADDRESSES)


def test_ipvs_proc_and_ipvsadm():
    proc = ipvs.parse(fixture("ip_vs"))
    assert [(s.protocol, str(s.vip), s.port) for s in proc] == [("TCP", "192.0.2.100", 80)]
    assert [(str(ip), port, fwd) for ip, port, fwd in proc[0].realservers] == [
        ("192.0.2.11", 80, "Route"), ("192.0.2.12", 80, "Route")]
    saved = ipvs.parse(fixture("ipvsadm-Ln.txt"))
    assert [(s.protocol, str(s.vip), s.port) for s in saved] == [
        ("TCP", "192.0.2.100", 80), ("TCP", "192.0.2.100", 443), ("UDP", "2001:db8::100", 53)]
    assert ipvs.realserver_roles(saved) == {
        ipaddress.ip_address("192.0.2.11"): ["real server of TCP 192.0.2.100:80",
                                             "real server of TCP 192.0.2.100:443"],
        ipaddress.ip_address("192.0.2.12"): ["real server of TCP 192.0.2.100:80"]}


@pytest.mark.parametrize("services, named", [
    (3, ["real server of TCP 192.0.2.100:1", "real server of TCP 192.0.2.100:2",
         "real server of TCP 192.0.2.100:3"]),
    (4, ["real server of TCP 192.0.2.100:1", "real server of TCP 192.0.2.100:2",
         "real server of TCP 192.0.2.100:3", "and 1 more service"]),
    (20000, ["real server of TCP 192.0.2.100:1", "real server of TCP 192.0.2.100:2",
             "real server of TCP 192.0.2.100:3", "and 19997 more services"]),
])
def test_a_real_server_is_named_with_its_first_services_and_how_many_more(services, named):
    """A kube-proxy node serves thousands of services: its name goes into every finding
    about it, one per VIP it answers for."""
    table = "".join("TCP  192.0.2.100:{} wlc\n  -> 192.0.2.11:{} Route 1 0 0\n".format(n, n)
                    for n in range(1, services + 1))
    assert ipvs.realserver_roles(ipvs.parse(table)) == {ipaddress.ip_address("192.0.2.11"): named}


def test_probe_window_does_not_grow_with_the_number_of_vips():
    """All VIPs share one window: count x interval + wait, up to the pacing rate."""
    def window(n):
        return Probe("eth0", "02:00:00:00:00:01", [ipaddress.ip_address("192.0.2.1")] * n,
                     count=2, interval=0.25, wait=1.0).window
    assert window(1) == pytest.approx(1.25, abs=0.01)
    assert window(256) == pytest.approx(1.31, abs=0.01)
    assert window(1024) < 1.9


@pytest.mark.parametrize("plugin", ["check_arp_sysctl", "check_vip_on_lo", "check_vip_arp_owner"])
def test_version_and_help(plugin):
    version = run_plugin(plugin, "-V")
    assert (version.code, version.lines) == (0, ["{} (lvs-dr-checks) {}".format(plugin, __version__)])
    usage = run_plugin(plugin, "--help")
    assert usage.code == 0
    for option in ("-h, --help", "-V, --version", "-v, --verbose", "-t SECONDS, --timeout SECONDS"):
        assert option in usage.stdout


@pytest.mark.parametrize("plugin, name", [("check_arp_sysctl", "ARP_SYSCTL"),
                                          ("check_vip_on_lo", "VIP_ON_LO"),
                                          ("check_vip_arp_owner", "VIP_ARP_OWNER")])
def test_unknown_option_is_unknown(plugin, name):
    outcome = run_plugin(plugin, "--bogus")
    assert (outcome.code, outcome.lines) == (
        3, ["{} UNKNOWN - unrecognized arguments: --bogus (see {} --help)".format(name, plugin)])
    assert outcome.stderr == ""


def test_arp_frames_are_sorted_into_replies_and_claims():
    from scapy.layers.l2 import ARP, Ether

    from lvs_dr_checks.wire.arp import Arp, Heard

    dissect = Arp().dissect

    own, rs1, other = "02:00:5e:00:00:01", "02:00:5e:00:00:0b", "02:00:5e:00:00:c8"
    vips = {"192.0.2.100"}

    def frame(op, eth_src, hwsrc, dst, psrc="192.0.2.100"):
        return bytes(Ether(src=eth_src, dst=dst) /
                     ARP(op=op, hwsrc=hwsrc, psrc=psrc, hwdst=dst, pdst="0.0.0.0"))

    assert dissect(frame(2, rs1, rs1, own), vips, own) == Heard("192.0.2.100", rs1, rs1, "reply", 0.0)
    assert dissect(frame(2, rs1, rs1, other), vips, own).kind == "claim"  # answering someone else
    assert dissect(frame(1, rs1, rs1, "ff:ff:ff:ff:ff:ff"), vips, own).kind == "claim"
    assert dissect(frame(2, other, rs1, own), vips, own) == Heard("192.0.2.100", rs1, other,
                                                                  "reply", 0.0)
    assert dissect(frame(2, rs1, rs1, own, psrc="192.0.2.11"), vips, own) is None
    assert dissect(b"\x00" * 10, vips, own) is None


def test_neighbor_discovery_frames():
    from scapy.layers.inet6 import (
        ICMPv6ND_NA,
        ICMPv6ND_NS,
        ICMPv6NDOptDstLLAddr,
        ICMPv6NDOptSrcLLAddr,
        IPv6,
    )
    from scapy.layers.l2 import Ether

    from lvs_dr_checks.wire.arp import Heard, NeighborDiscovery

    nd = NeighborDiscovery()
    own, rs1, vip = "02:00:5e:00:00:01", "02:00:5e:00:00:0b", "2001:db8::100"
    probe = Ether(nd.frame(own, vip))
    assert (probe.dst, probe[IPv6].src, probe[IPv6].dst, probe[ICMPv6ND_NS].tgt) == (
        "33:33:ff:00:01:00", "::", "ff02::1:ff00:100", vip)
    advert = bytes(Ether(src=rs1, dst="33:33:00:00:00:01") / IPv6(src="fe80::b", dst="ff02::1") /
                   ICMPv6ND_NA(tgt="2001:DB8:0::100") / ICMPv6NDOptDstLLAddr(lladdr=rs1))
    assert nd.dissect(advert, {vip}, own) == Heard(vip, rs1, rs1, "reply", 0.0)
    leak = bytes(Ether(src=rs1, dst="33:33:ff:00:00:c8") / IPv6(src=vip, dst="ff02::1:ff00:c8") /
                 ICMPv6ND_NS(tgt="2001:db8::c8") / ICMPv6NDOptSrcLLAddr(lladdr=rs1))
    assert nd.dissect(leak, {vip}, own) == Heard(vip, rs1, rs1, "claim", 0.0)
    assert nd.dissect(advert, {"2001:db8::101"}, own) is None
    assert nd.dissect(b"\x00" * 10, {vip}, own) is None


def test_check_arp_sysctl_on_a_captured_real_server():
    """/proc and /sys captured from a lab real server where only lo was set (the classic
    mistake), read through a Source rooted at the capture."""
    from nagiosplugin.state import Critical

    from lvs_dr_checks.checks.arp_sysctl import make_check
    from lvs_dr_checks.source.local import Source

    capture = Source(os.path.join(FIXTURES, "realserver-only-lo"))
    check = make_check(capture, capture, persistence=False)
    check()
    assert check.state == Critical
    assert check.summary_str == (
        "ens3 arp_ignore 0 (all=0, ens3=0): answers ARP for every local address, VIPs on lo "
        "included; set net.ipv4.conf.all.arp_ignore = 1 (nftables arp rules unreadable: run as "
        "root or use the shipped sudo rule for nft) (+3 more problems)")
    assert check.perfdata == ["ens3_arp_announce=0;;2:2;0", "ens3_arp_ignore=0;;1:2;0;8",
                              "ens3_proxy_arp=0;0;;0;1", "exposed_interfaces=1;;0;0;1"]


def test_hand_built_probes_are_the_frames_scapy_builds():
    """The probes are built by hand (tens of thousands per run); scapy is the reference."""
    import random
    import socket

    from scapy.layers.inet6 import ICMPv6ND_NS, IPv6, in6_getnsma, in6_getnsmac
    from scapy.layers.l2 import ARP, Ether

    from lvs_dr_checks.wire.arp import Arp, NeighborDiscovery

    chance = random.Random(20261126)
    own = "02:00:5e:00:00:01"
    for _ in range(200):
        v4 = "192.0.2.{}".format(chance.randrange(1, 255))
        assert Arp().frame(own, v4) == bytes(
            Ether(src=own, dst="ff:ff:ff:ff:ff:ff") /
            ARP(op=1, hwsrc=own, psrc="0.0.0.0", hwdst="00:00:00:00:00:00", pdst=v4)), v4
        v6 = "2001:db8:{:x}::{:x}:{:x}".format(*(chance.randrange(0, 0x10000) for _ in range(3)))
        group = in6_getnsma(socket.inet_pton(socket.AF_INET6, v6))
        reference = bytes(Ether(src=own, dst=in6_getnsmac(group)) /
                          IPv6(src="::", dst=socket.inet_ntop(socket.AF_INET6, group),
                               hlim=255) / ICMPv6ND_NS(tgt=v6))
        assert NeighborDiscovery().frame(own, v6) == reference, v6
