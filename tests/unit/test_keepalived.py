"""keepalived.conf read as keepalived reads it, and the owner decision of the probe, without
root: a fixture configuration with includes, and Ownership built in-process."""

import ipaddress
import os
import random
import types

import pytest
from conftest import FIXTURES, write_tree
from nagiosplugin.state import Critical

from lvs_dr_checks.checks.vip_arp_owner import OwnerContext, Ownership, Responder, VipArpOwner
from lvs_dr_checks.cli import PluginError
from lvs_dr_checks.host import ipvs, keepalived, links, segment
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.wire.arp import Advert, Heard

CONF = os.path.join(FIXTURES, "keepalived", "keepalived.conf")
ip = ipaddress.ip_address


def test_instances_vips_virtual_macs_and_dr_real_servers_with_includes():
    config = keepalived.read(Source("/"), CONF)
    assert [(i.name, i.interface, i.vrid, i.use_vmac, i.virtual_mac) for i in config.instances] \
        == [("VI_6", "bond0", 11, True, "00:00:5e:00:02:0b"),
            ("VI_4", "bond0", 10, True, "00:00:5e:00:01:0a")]
    assert config.vips() == [ip("2001:db8:10::1"), ip("203.0.113.10"), ip("203.0.113.11"),
                             ip("203.0.113.12")]
    assert list(ipvs.direct_routing(config.services)) == [ip("203.0.113.21"), ip("203.0.113.22")]
    assert config.instance_of(ip("203.0.113.12")).name == "VI_4"
    assert config.instance_of(ip("203.0.113.99")) is None


def test_a_virtual_ipaddress_word_is_read_as_ipaddress_reads_an_interface():
    """keepalived._address (no network built) against ip_interface(word).ip: hand-written
    forms (masks, bad prefixes, scopes, two slashes) and seeded random words."""
    hand = ["192.0.2.1", "192.0.2.1/32", "192.0.2.1/032", "192.0.2.1/33", "192.0.2.1/",
            "192.0.2.1/255.255.255.0", "192.0.2.1/0.0.0.255", "192.0.2.1/24/1", "2001:db8::1",
            "2001:db8::1/128", "2001:db8::1/129", "2001:db8::1/64", "fe80::1%eth0/64",
            "192.0.2.1/+8", "192.0.2.1/\u0663", "", "/32", "dev"]
    rng = random.Random(24)
    pieces = ["192.0.2.", "2001:db8::", "1", "255", "/", "32", "128", "0", "24", "%eth0",
              ".", ":", "255.255.0.0", "-"]
    drawn = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))) for _ in range(5000)]
    for word in hand + drawn:
        try:
            expected = ipaddress.ip_interface(word).ip
        except ValueError:
            expected = None
        assert keepalived._address(word) == expected, repr(word)


def test_a_vip_held_by_two_instances_belongs_to_the_first(tmp_path):
    path = tmp_path / "keepalived.conf"
    path.write_text("".join("vrrp_instance {} {{\n virtual_router_id {}\n use_vmac\n"
                            " virtual_ipaddress {{\n  192.0.2.{}/32\n  192.0.2.9/32\n }}\n}}\n"
                            .format(name, vrid, vrid) for name, vrid in (("A", 1), ("B", 2))))
    config = keepalived.read(Source("/"), str(path))
    assert [config.instance_of(ip(a)).name for a in ("192.0.2.9", "192.0.2.1", "192.0.2.2")] \
        == ["A", "A", "B"]
    assert config.owner_macs(ip("192.0.2.9")) == {"00:00:5e:00:01:01"}


@pytest.mark.parametrize("text, message", [
    ("IP Virtual Server version 1.2.1 (size=4096)\nTCP  C0000264:0050 wlc\n",
     "has no vrrp_instance and no virtual_server: not a keepalived.conf"),
    ("vrrp_instance X {\n  virtual_router_id 1\n", "a '{' is never closed"),
    ("}\n", "'}' without '{'"),
    ("vrrp_instance X {\n" + "a {\n" * 3000 + "}\n" * 3001,
     r"line 33: blocks nested deeper than 32: not a keepalived.conf"),
])
def test_what_is_not_a_keepalived_conf_is_named(tmp_path, text, message):
    path = tmp_path / "conf"
    path.write_text(text)
    with pytest.raises(PluginError, match=message):
        keepalived.read(Source("/"), str(path))


def test_a_keepalived_conf_is_no_ipvs_table():
    with pytest.raises(PluginError, match=r"is not an IPVS table .*a keepalived.conf goes to "
                                          r"--from-keepalived"):
        ipvs.read(Source("/"), CONF)


def owned(holder=False, responders=(), allowed=("d2",), probes=2, vrrp=()):
    return Ownership(ip("192.0.2.100"), holder, list(responders), frozenset(allowed), probes,
                     frozenset(vrrp))


def answer(mac, replies=2, first=0.0, last=0.25, kinds=("reply",)):
    return Responder(mac, frozenset({mac}), frozenset(kinds), replies, first, last)


@pytest.mark.parametrize("case, ownership, foreign, split, silent", [
    ("master in steady state", owned(holder=True), [], False, False),
    ("backup hears the master", owned(responders=[answer("d2")]), [], False, False),
    ("master hears the peer", owned(holder=True, responders=[answer("d2")]), [], True, False),
    ("two allowed at once", owned(responders=[answer("d1"), answer("d2")],
                                  allowed=("d1", "d2")), [], True, False),
    ("two at once, the second heard first", owned(responders=[answer("d1", first=0.1),
                                                              answer("d2", first=0.0)],
                                                  allowed=("d1", "d2")), [], True, False),
    ("one after the other", owned(responders=[answer("d1", 1, 0.0, 0.0),
                                              answer("d2", 0, 1.0, 3.0, ("claim",))],
                                  allowed=("d1", "d2")), [], False, False),
    ("a virtual MAC answering twice per probe", owned(responders=[answer("v", replies=4)],
                                                      allowed=("v",)), [], True, False),
    ("two VRRP masters", owned(responders=[answer("v")], allowed=("v",), vrrp=("a", "b")),
     [], True, False),
    ("a real server", owned(holder=True, responders=[answer("rs1")]), ["rs1"], False, False),
    ("nobody", owned(), [], False, True),
])
def test_exactly_one_owner_from_the_allowed_set(case, ownership, foreign, split, silent):
    assert [r.mac for r in ownership.foreign] == foreign, case
    assert ownership.owners == (["this host"] if ownership.holder else []) + [
        r.mac for r in ownership.responders if r.mac not in foreign], case
    assert ownership.split_brain == split, case
    assert ownership.silent == silent, case


class EmptyNeighbourTable(Source):
    """A host whose ip finds no neighbour: the names come from the IPVS table alone."""

    def __init__(self):
        super().__init__("/")

    def kind(self, path):
        return "file" if path == links.IP_COMMANDS[0] else None

    def run(self, argv, stdin=None, statuses=(0,)):
        assert argv[1:4] == ["-j", "neigh", "show"]
        return "[]"


def test_a_real_server_answering_every_vip_of_a_large_table_is_one_short_finding_each():
    """The classic failure at kube-proxy scale: a real server serving every service of a
    table of 1,000 VIPs answers for all of them. Each VIP's finding names it once, with its
    first services: not with all 1,000 (a 40 KB name in each of 1,000 findings; 20,000 VIPs
    took 30 GB)."""
    vips = ["198.51.100.{}".format(n) for n in range(1, 251)] + \
        ["2001:db8:6::{:x}".format(n) for n in range(1, 751)]
    table = "".join("TCP  {}:80 wlc\n  -> 192.0.2.11:80 Route 1 0 0\n".format(
        "[{}]".format(v) if ":" in v else v) for v in vips)
    config = keepalived.Config([], ipvs.parse(table))
    rs_mac, director = "02:00:5e:00:00:0b", "02:00:5e:00:00:01"
    heard = [Heard(v, rs_mac, rs_mac, "reply", 0.1) for v in vips + ["192.0.2.11"]]
    run = types.SimpleNamespace(targets=vips + ["192.0.2.11"], heard=heard, adverts=[],
                                count=1, sent=len(vips) + 1, duration=1.0)
    resource = VipArpOwner(None, None, config.vips(), config, "eth0",
                           {v: frozenset([director]) for v in config.vips()}, [], [], {}, 10)
    resource.asked, resource.iface, resource.own_mac = [ip("192.0.2.11")], "eth0", director
    resource.labels = segment.labels(EmptyNeighbourTable(), "eth0", heard, ipvs.realserver_roles(config.services),
                                     {})
    owners = [m for m in resource._decide(run, frozenset()) if m.context == "vip_owner"]
    findings = [OwnerContext().evaluate(m, resource) for m in owners]
    assert len(findings) == 1000 and all(r.state == Critical for r in findings)
    assert findings[-1].hint == (
        "VIP 2001:db8:6::2ee answered by 02:00:5e:00:00:0b (192.0.2.11, real server of TCP "
        "198.51.100.1:80, real server of TCP 198.51.100.2:80, real server of TCP "
        "198.51.100.3:80, and 997 more services)")
    assert max(len(r.hint) for r in findings) < 200


def _adverts(**senders):
    """VRID 51 advertisements: sender -> [(at, priority)]."""
    return [Advert(51, sender, "00:00:5e:00:01:33", priority, at)
            for sender, heard in senders.items() for at, priority in heard]


def test_vrrp_masters_at_once_or_one_after_the_other():
    at_once = keepalived.masters_at_once
    assert at_once(_adverts(a=[(0.1, 150), (1.1, 150)], b=[(0.6, 100), (1.6, 100)])) == \
        {51: {"a", "b"}}
    assert at_once(_adverts(a=[(0.1, 150)], b=[(0.6, 100)])) == {51: {"a", "b"}}
    # a resigned (priority 0) before b took over; a fell silent long enough before b
    assert at_once(_adverts(a=[(0.1, 150), (1.1, 0)], b=[(1.3, 100), (2.3, 100)])) == {51: set()}
    assert at_once(_adverts(a=[(0.1, 150), (1.1, 150)], b=[(4.0, 100), (5.0, 100)])) == \
        {51: set()}


@pytest.mark.parametrize("where, text, found", [
    ("proc/net/ip_vs", "IP Virtual Server version 1.2.1 (size=4096)\nTCP  C0000264:0050 wlc\n"
     "  -> C000020B:0050      Route   1      0          0\n", "192.0.2.100 (in its IPVS table)"),
    ("etc/keepalived/keepalived.conf", "vrrp_instance V { virtual_router_id 1\n"
     "virtual_ipaddress {\n192.0.2.100/32\n}\n}\n", "192.0.2.100 (in /etc/keepalived/keepalived.conf)"),
])
def test_check_vip_on_lo_refuses_to_advise_a_director(tmp_path, where, text, found):
    from lvs_dr_checks.checks import vip_on_lo

    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(text)
    source = Source(str(tmp_path))
    check = vip_on_lo.make_check(source, source, [ip("192.0.2.100")])
    with pytest.raises(PluginError) as refused:
        check()
    assert str(refused.value) == ("this host is a director for {}: check_vip_on_lo is for real "
                                  "servers (on a director, use check_vip_arp_owner)".format(found))


def test_check_arp_sysctl_judges_a_keepalived_host_as_a_director(tmp_path):
    """Captured /proc and /sys of a host whose interface answers for everything: as a real
    server that is CRITICAL (a VIP on lo would be answered); with a keepalived.conf holding
    VIPs the host is a director, and an interface without vmacs may answer for its own."""
    from lvs_dr_checks.checks import arp_sysctl

    capture = Source(os.path.join(FIXTURES, "realserver-only-lo"))
    path = tmp_path / "etc" / "keepalived" / "keepalived.conf"
    path.parent.mkdir(parents=True)
    path.write_text("vrrp_instance V {\n virtual_router_id 7\n virtual_ipaddress {\n"
                    "  192.0.2.100/32\n }\n}\n")
    as_realserver = arp_sysctl.make_check(capture, Source(str(tmp_path / "none")),
                                          persistence=False)
    as_realserver()
    as_director = arp_sysctl.make_check(capture, Source(str(tmp_path)), persistence=False)
    as_director()
    assert (str(as_realserver.state), str(as_director.state)) == ("critical", "ok")
    assert as_director.summary_str.startswith("director: 1 ARP-facing interface (ens3)")


def test_nftables_rules_that_certainly_drop_requests_for_the_vips():
    from lvs_dr_checks.host import arpfilter

    def rule(chain, *expr):
        return {"rule": {"family": "arp", "table": "t", "chain": chain, "expr": list(expr)}}

    def match(left, right):
        return {"match": {"op": "==", "left": left, "right": right}}

    daddr = {"payload": {"protocol": "arp", "field": "daddr ip"}}
    request = match({"payload": {"protocol": "arp", "field": "operation"}}, "request")
    ruleset = {"nftables": [
        {"chain": {"family": "arp", "table": "t", "name": "in", "hook": "input"}},
        {"chain": {"family": "arp", "table": "t", "name": "out", "hook": "output"}},
        rule("in", request, match(daddr, "192.0.2.100"), {"drop": None}),
        rule("in", match({"meta": {"key": "iifname"}}, "eth1"),
             match(daddr, {"set": ["192.0.2.101", {"prefix": {"addr": "198.51.100.0",
                                                              "len": 24}}]}),
             {"counter": {"packets": 0, "bytes": 0}}, {"drop": None}),
        rule("in", match({"payload": {"protocol": "ether", "field": "saddr"}}, "x"),
             match(daddr, "192.0.2.102"), {"drop": None}),  # not understood: not counted
        rule("out", match(daddr, "192.0.2.103"), {"drop": None}),  # not the input hook
        rule("in", {"accept": None}),
        rule("in", match(daddr, "192.0.2.104"), {"drop": None}),  # never reached
    ]}
    found = arpfilter.drops(ruleset)
    assert [(d.interface, [str(a) for a in d.addresses]) for d in found] == [
        (None, ["192.0.2.100/32"]), ("eth1", ["192.0.2.101/32", "198.51.100.0/24"])]
    assert arpfilter.shielded(found, "eth0", [ip("192.0.2.100")])
    assert arpfilter.shielded(found, "eth1", [ip("192.0.2.100"), ip("198.51.100.7")])
    assert arpfilter.shielded(found, "eth0", [ip("192.0.2.100"), ip("192.0.2.101")]) is None
    assert arpfilter.shielded(found, "eth0", [ip("192.0.2.104")]) is None


@pytest.mark.parametrize("vips, named", [
    (["192.0.2.10", "192.0.2.100"], True),
    (["192.0.2.1"], False),  # only 192.0.2.10 and 192.0.2.100 begin with it
    (["192.0.2.20"], True),  # a range's first address, as written
    (["192.0.2.21"], False),  # inside the range: not named
    (["198.51.100.5"], True),  # before a prefix
])
def test_the_boot_rules_name_each_vip_as_a_whole_address(tmp_path, vips, named):
    from lvs_dr_checks.host import arpfilter

    write_tree(str(tmp_path), {
        "/etc/systemd/system/sysinit.target.wants/nftables.service": "[Unit]\n",
        "/etc/nftables.conf": "table arp lvsdr {\n  chain input {\n"
                              "    type filter hook input priority 0;\n"
                              "    arp daddr ip { 192.0.2.10, 192.0.2.100, 192.0.2.20-192.0.2.29,"
                              " 198.51.100.5/32 } drop\n  }\n}\n"})
    assert arpfilter.persisted(Source(str(tmp_path)), [ip(v) for v in vips]) == named


def test_the_rules_shielding_vips_are_the_first_that_drop_each_in_chain_order():
    """arpfilter.shielded() against a scan of every rule for every VIP: seeded rules on any
    or one interface, each a few hosts and prefixes of every length, and VIPs inside and
    outside them."""
    from lvs_dr_checks.host import arpfilter

    rng = random.Random(2612)

    def address():
        return ip(rng.choice([0xC0000200, 0xC6336400, 0xCB007100]) + rng.getrandbits(8))

    def scan(found, interface, vips):
        used = []
        for vip in vips:
            rule = next((d for d in found if d.interface in (None, interface)
                         and any(vip in network for network in d.addresses)), None)
            if rule is None:
                return None
            used.append(rule)
        return list(dict.fromkeys(used)) or None

    for _ in range(1000):
        found = [arpfilter.Drop(tuple(ipaddress.ip_network("{}/{}".format(
            address(), rng.choice([32, 32, 30, 28, 24, 16])), strict=False)
            for _ in range(rng.randint(1, 4))), rng.choice([None, "eth0", "eth1"]), str(n))
            for n in range(rng.randint(0, 5))]
        vips = [address() for _ in range(rng.randint(0, 6))]
        interface = rng.choice(["eth0", "eth1"])
        assert arpfilter.shielded(found, interface, vips) == scan(found, interface, vips), \
            (found, interface, vips)
