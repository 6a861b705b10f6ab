"""check_arp_sysctl's boot-time verdict, run as an unprivileged user on a lab real server."""

import os

import lab as lab_module
import pytest
from conftest import run_in, write_tree

FIXED = {"all.arp_ignore": 1, "all.arp_announce": 2}


@pytest.fixture
def rs1(lab):
    host = lab.realservers[0]
    host.reset_sysctls()
    host.sysctl(FIXED)
    return host


def test_persisted_fix_is_ok(rs1, config_root):
    write_tree(config_root, {"/etc/sysctl.d/90-lvs-dr.conf":
                             "net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\n"})
    outcome = run_in(rs1, "check_arp_sysctl", "--root", config_root, user=lab_module.NOBODY)
    assert outcome.code == 0, outcome
    assert outcome.lines == [
        "ARP_SYSCTL OK - 1 ARP-facing interface (eth0): VIPs on lo are not answered nor "
        "announced; the boot configuration keeps it so | eth0_arp_announce=2;;2:2;0 "
        "eth0_arp_ignore=1;;1:2;0;8 eth0_proxy_arp=0;0;;0;1 exposed_interfaces=0;;0;0;1 "
        "unpersisted_settings=0;0;;0"]


def test_runtime_fix_overridden_at_boot_names_the_winning_line(rs1, config_root):
    write_tree(config_root, {
        "/etc/sysctl.d/90-lvs-dr.conf": "net.ipv4.conf.all.arp_ignore = 1\n"
                                        "net.ipv4.conf.all.arp_announce = 2\n",
        "/usr/lib/sysctl.d/95-vendor.conf": "# vendor tuning\nnet.ipv4.conf.all.arp_ignore = 0\n"})
    outcome = run_in(rs1, "check_arp_sysctl", "--root", config_root, user=lab_module.NOBODY)
    assert outcome.code == 1, outcome
    assert outcome.status == (
        "ARP_SYSCTL WARNING - eth0 arp_ignore would be 0 after reboot (all: "
        "/usr/lib/sysctl.d/95-vendor.conf:2 'net.ipv4.conf.all.arp_ignore = 0'; eth0: not set): "
        "add 'net.ipv4.conf.all.arp_ignore = 1' to a file in /etc/sysctl.d (+1 more problem)")
    # the same line leaves the interfaces created later answering
    assert "WARNING: interfaces created later (VLANs, bonds, containers) arp_ignore would be 0 " \
        "after reboot" in "\n".join(run_in(rs1, "check_arp_sysctl", "--root", config_root, "-v",
                                           user=lab_module.NOBODY).long)
    assert outcome.perf()["unpersisted_settings"] == "2;0;;0"


def test_runtime_fix_never_persisted(rs1, config_root):
    outcome = run_in(rs1, "check_arp_sysctl", "--root", config_root, user=lab_module.NOBODY)
    assert outcome.code == 1, outcome
    assert outcome.status == (
        "ARP_SYSCTL WARNING - eth0 arp_ignore would be 0 after reboot (all: not set; eth0: not "
        "set): add 'net.ipv4.conf.all.arp_ignore = 1' to a file in /etc/sysctl.d "
        "(+3 more problems)")
    assert outcome.perf()["unpersisted_settings"] == "4;0;;0"


def test_reboot_without_the_lines_is_critical(lab, rs1, config_root):
    rs1.recreate()
    outcome = run_in(rs1, "check_arp_sysctl", "--root", config_root, user=lab_module.NOBODY)
    assert outcome.code == 2, outcome
    assert outcome.status.startswith("ARP_SYSCTL CRITICAL - eth0 arp_ignore 0 (all=0, eth0=0)")


def test_missing_root_is_unknown(rs1):
    outcome = run_in(rs1, "check_arp_sysctl", "--root", "/nonexistent/etc-copy",
                     user=lab_module.NOBODY)
    assert (outcome.code, outcome.lines) == (
        3, ["ARP_SYSCTL UNKNOWN - --root /nonexistent/etc-copy: no such directory"])


def test_unreadable_configuration_file_is_unknown_naming_it(rs1, config_root):
    write_tree(config_root, {"/etc/sysctl.d/90-lvs-dr.conf": "net.ipv4.conf.all.arp_ignore = 1\n"})
    os.chmod(os.path.join(config_root, "etc/sysctl.d/90-lvs-dr.conf"), 0o600)
    outcome = run_in(rs1, "check_arp_sysctl", "--root", config_root, user=lab_module.NOBODY)
    assert (outcome.code, outcome.lines) == (
        3, ["ARP_SYSCTL UNKNOWN - /etc/sysctl.d/90-lvs-dr.conf: permission denied (run as a "
            "user that may read it)"])


def test_networkd_proxy_arp_is_part_of_the_boot_result(rs1, config_root):
    """systemd-networkd writes proxy_arp for the links it manages, after systemd-sysctl."""
    write_tree(config_root, {
        "/etc/sysctl.d/90-lvs-dr.conf": "net.ipv4.conf.all.arp_ignore = 1\n"
                                        "net.ipv4.conf.all.arp_announce = 2\n",
        "/etc/systemd/network/10-eth0.network": "[Match]\nName=eth0\n\n[Network]\n"
                                                "Address=192.0.2.11/24\nIPv4ProxyARP=yes\n"})
    outcome = run_in(rs1, "check_arp_sysctl", "--root", config_root, user=lab_module.NOBODY)
    assert outcome.code == 1, outcome
    assert outcome.status == (
        "ARP_SYSCTL WARNING - eth0 proxy_arp would be 1 after reboot (all: not set; eth0: "
        "/etc/systemd/network/10-eth0.network:6 'IPv4ProxyARP=yes'): set IPv4ProxyARP=no in "
        "/etc/systemd/network/10-eth0.network (networkd applies it after sysctl.d)")


def test_dotted_interface_name_in_fixes_perfdata_and_boot_lines(lab, rs1, config_root):
    """VLAN-style names (eth0.100) are written with '/' in sysctl.d keys, both ways."""
    rs1.iproute("link", "add", "lan.100", "type", "veth", "peer", "name", "lanpeer")
    try:
        rs1.sysctl({"lan.100.arp_ignore": 3, "lan.100.arp_announce": 2})
        write_tree(config_root, {"/etc/sysctl.d/90-lvs-dr.conf":
                                 "net.ipv4.conf.all.arp_ignore = 1\n"
                                 "net.ipv4.conf.all.arp_announce = 2\n"
                                 "net.ipv4.conf.lan/100.arp_ignore = 2\n"})
        outcome = run_in(rs1, "check_arp_sysctl", "-i", "lan.100", "--root", config_root,
                         user=lab_module.NOBODY)
        assert outcome.code == 2, outcome
        assert outcome.status == (
            "ARP_SYSCTL CRITICAL - lan.100 arp_ignore 3 (all=1, lan.100=3): answers for every "
            "address but scope host ones (a VIP on lo is scope global); set "
            "net.ipv4.conf.lan/100.arp_ignore = 1 (nftables arp rules unreadable: run as root or "
            "use the shipped sudo rule for nft)")
        assert outcome.perf()["'lan.100_arp_ignore'"] == "3;;1:2;0;8"
        assert outcome.perf()["unpersisted_settings"] == "0;0;;0"  # 2 at boot, from the file
    finally:
        rs1.iproute("link", "del", "lan.100")
