"""check_vip_on_lo against real interfaces in a lab real server, as an unprivileged user."""

import lab as lab_module
import pytest
from conftest import run_in, write_tree

VIP = lab_module.VIP
VIP2 = "192.0.2.101"
VIP6 = "2001:db8::100"


@pytest.fixture
def rs1(lab):
    """rs1 freshly booted: VIP/32 on lo as the lab places it."""
    host = lab.realservers[0]
    host.recreate()
    return host


def check(host, *args):
    return run_in(host, "check_vip_on_lo", *args, user=lab_module.NOBODY)


def test_vip_on_lo_is_ok(rs1):
    outcome = check(rs1, "--vip", VIP, "--no-persistence", "-v")
    assert outcome.code == 0, outcome
    assert outcome.lines == [
        "VIP_ON_LO OK - 1 VIP on lo as host address: 192.0.2.100",
        "OK: 192.0.2.100 on lo/32; boot configuration not checked",
        "| misplaced=0;;0;0;1 missing=0;;0;0;1 vips=1;;;0"]


def test_missing_vip_is_critical(rs1):
    rs1.iproute("addr", "del", VIP + "/32", "dev", "lo")
    outcome = check(rs1, "--vip", VIP, "--no-persistence")
    assert outcome.code == 2
    assert outcome.lines == [
        "VIP_ON_LO CRITICAL - 192.0.2.100 is on no interface: add it with 'ip addr add "
        "192.0.2.100/32 dev lo' (1 of 1 VIP affected) | misplaced=0;;0;0;1 missing=1;;0;0;1 "
        "vips=1;;;0"]


def test_wider_prefix_on_lo_is_critical(rs1):
    rs1.iproute("addr", "del", VIP + "/32", "dev", "lo")
    rs1.iproute("addr", "add", VIP + "/24", "dev", "lo")
    outcome = check(rs1, "--vip", VIP, "--no-persistence")
    assert outcome.code == 2
    assert outcome.status == ("VIP_ON_LO CRITICAL - 192.0.2.100 is on lo as /24: the kernel "
                              "takes all of 192.0.2.0/24 as local; use /32 (1 of 1 VIP affected)")
    assert outcome.perf()["misplaced"] == "1;;0;0;1"


def test_vip_also_on_the_arp_interface_is_critical(rs1):
    rs1.iproute("addr", "add", VIP + "/32", "dev", rs1.iface)
    outcome = check(rs1, "--vip", VIP, "--no-persistence")
    assert outcome.code == 2
    assert outcome.status == ("VIP_ON_LO CRITICAL - 192.0.2.100 is on eth0 (ARP-facing): "
                              "neighbours resolve it to this host; delete it there, keep it on lo "
                              "(1 of 1 VIP affected)")


def test_vip_on_a_noarp_interface_is_ok(rs1):
    rs1.iproute("addr", "del", VIP + "/32", "dev", "lo")
    # A dummy interface is NOARP; this kernel may lack the module, so flag a veth NOARP.
    rs1.iproute("link", "add", "vip0", "type", "veth", "peer", "name", "vip0peer")
    rs1.iproute("link", "set", "vip0", "arp", "off", "up")
    rs1.iproute("addr", "add", VIP + "/32", "dev", "vip0")
    outcome = check(rs1, "--vip", VIP, "--no-persistence", "-v")
    assert outcome.code == 0, outcome
    assert outcome.lines[1] == "OK: 192.0.2.100 on vip0/32; boot configuration not checked"


def test_two_vips_one_missing(rs1):
    outcome = check(rs1, "--vip", "{},{}".format(VIP, VIP2), "--no-persistence", "-v")
    assert outcome.code == 2
    assert outcome.lines == [
        "VIP_ON_LO CRITICAL - 192.0.2.101 is on no interface: add it with 'ip addr add "
        "192.0.2.101/32 dev lo' (1 of 2 VIPs affected)",
        "CRITICAL: 192.0.2.101 is on no interface: add it with 'ip addr add 192.0.2.101/32 dev lo'",
        "OK: 192.0.2.100 on lo/32; boot configuration not checked",
        "| misplaced=0;;0;0;2 missing=1;;0;0;2 vips=2;;;0"]


def test_ipv6_host_address_and_wider_prefix(rs1):
    rs1.iproute("addr", "add", VIP6 + "/128", "dev", "lo")
    outcome = check(rs1, "--vip", VIP6, "--no-persistence")
    assert outcome.code == 0, outcome
    assert outcome.status == "VIP_ON_LO OK - 1 VIP on lo as host address: 2001:db8::100"
    rs1.iproute("addr", "del", VIP6 + "/128", "dev", "lo")
    rs1.iproute("addr", "add", VIP6 + "/64", "dev", "lo")
    outcome = check(rs1, "--vip", VIP6, "--no-persistence")
    assert outcome.code == 2
    assert outcome.status == ("VIP_ON_LO CRITICAL - 2001:db8::100 is on lo as /64: the kernel "
                              "takes all of 2001:db8::/64 as local; use /128 (1 of 1 VIP affected)")


def test_persisted_vip_is_ok_and_names_the_file(rs1, config_root):
    write_tree(config_root, {"/etc/network/interfaces":
                             "auto lo\niface lo inet loopback\n"
                             "    up ip addr add 192.0.2.100/32 dev lo\n"})
    outcome = check(rs1, "--vip", VIP, "--root", config_root, "-v")
    assert outcome.code == 0, outcome
    assert outcome.lines == [
        "VIP_ON_LO OK - 1 VIP on lo as host address, restored at boot: 192.0.2.100",
        "OK: 192.0.2.100 on lo/32; at boot: /etc/network/interfaces:3",
        "| misplaced=0;;0;0;1 missing=0;;0;0;1 unpersisted=0;0;;0;1 vips=1;;;0"]


def test_unpersisted_vip_is_warning(rs1, config_root):
    outcome = check(rs1, "--vip", VIP, "--root", config_root)
    assert outcome.code == 1
    assert outcome.status == (
        "VIP_ON_LO WARNING - 192.0.2.100 on lo/32 now, but no boot configuration adds it (looked "
        "at ifupdown, netplan, systemd-networkd, NetworkManager, ifcfg, service units, "
        "rc.local): a reboot loses it (1 of 1 VIP affected)")
    assert outcome.perf()["unpersisted"] == "1;0;;0;1"


def test_vip_persisted_with_the_wrong_prefix_is_warning(rs1, config_root):
    write_tree(config_root, {"/etc/netplan/60-vip.yaml":
                             "network:\n  ethernets:\n    lo:\n      addresses: [192.0.2.100/24]\n"})
    outcome = check(rs1, "--vip", VIP, "--root", config_root)
    assert outcome.code == 1
    assert outcome.status == (
        "VIP_ON_LO WARNING - 192.0.2.100 on lo/32 now, but after a reboot 192.0.2.100/24 on lo "
        "(/etc/netplan/60-vip.yaml:4): configure it only as /32 on lo (1 of 1 VIP affected)")


@pytest.mark.parametrize("args, line", [
    ([], "VIP_ON_LO UNKNOWN - no VIP given: name at least one with --vip ADDRESS"),
    (["--vip", "192.0.2.300"], "VIP_ON_LO UNKNOWN - --vip '192.0.2.300' is not an IPv4 or IPv6 "
                               "address"),
    (["--vip", VIP, "--root", "/nonexistent"],
     "VIP_ON_LO UNKNOWN - --root /nonexistent: no such directory"),
    (["--vip", VIP, "-t", "zero"],
     "VIP_ON_LO UNKNOWN - argument -t/--timeout: not a number of seconds: 'zero' "
     "(see check_vip_on_lo --help)"),
])
def test_bad_input_is_unknown_without_traceback(rs1, args, line):
    outcome = check(rs1, *args)
    assert (outcome.code, outcome.lines) == (3, [line])
    assert "Traceback" not in outcome.stderr


def test_thousands_of_vips_keep_the_output_bounded(rs1):
    """3,000 VIPs, all missing, with -v: the status line names the worst and the count, the
    long output stops with how many more, the perfdata keeps the totals, all within 4 KiB."""
    vips = ["2001:db8::{:x}".format(n) for n in range(1, 3001)]
    outcome = check(rs1, "-v", "--no-persistence", "--vip", ",".join(vips))
    assert outcome.code == 2
    assert len(outcome.stdout.encode()) <= 4096, len(outcome.stdout.encode())
    assert outcome.status == ("VIP_ON_LO CRITICAL - 2001:db8::1 is on no interface: add it with "
                              "'ip addr add 2001:db8::1/128 dev lo' (3000 of 3000 VIPs affected)")
    assert outcome.perf() == {"misplaced": "0;;0;0;3000", "missing": "3000;;0;0;3000",
                              "vips": "3000;;;0"}
    assert outcome.lines[-2].endswith(" more lines (bounded output)"), outcome.lines[-3:]
