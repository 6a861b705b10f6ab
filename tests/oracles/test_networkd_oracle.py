"""The systemd-networkd model against the real daemon (Debian 12's systemd-networkd 252):
each tree of .network files is applied by the real networkd in a network and mount namespace
of its own (tests/oracles/networkd_boot.py), and the model must predict the same addresses on
lo and eth0. The expected addresses are the real daemon's, captured: the model is held to them
everywhere (no root needed), the oracle column proves them again where root can."""

import os

import pytest
from cases.networkd import CASES, LIBRARY_DIRECTORY, LO_NETWORK, NETPLAN_CASES, NETWORKD, PRESENT
from conftest import unavailable

from oracles.extracted import extracted
from oracles.namespace import VIP, assert_boot_verdict_holds, booted, need_root, vip_on_lo_check


@pytest.fixture(scope="module")
def oracle():
    need_root("systemd-networkd")
    if not os.access(NETWORKD, os.X_OK):
        unavailable("{} is missing (Debian: systemd)".format(NETWORKD))

    def boot(files, arguments=(), **more):
        return booted("networkd_boot.py", arguments,
                      dict(more, files=files, boot=PRESENT[1:]))
    return boot


@pytest.fixture(scope="module")
def netplan_generate():
    """The generator of Debian's netplan.io and its library (extracted, never installed)."""
    try:
        generate = os.path.join(extracted("netplan.io"), "usr", "libexec", "netplan", "generate")
        library = os.path.join(extracted("libnetplan0"), "usr", "lib", LIBRARY_DIRECTORY)
    except OSError as exc:
        unavailable("cannot extract Debian's netplan.io: {}".format(exc))
    return [generate, library]


@pytest.mark.parametrize("case, files, expected", CASES, ids=[c[0] for c in CASES])
def test_the_real_networkd_did_what_the_case_says(oracle, case, files, expected):
    result = oracle(files)
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"]


@pytest.mark.parametrize("case, files, expected", NETPLAN_CASES,
                         ids=[c[0] for c in NETPLAN_CASES])
def test_the_real_netplan_and_networkd_did_what_the_case_says(oracle, netplan_generate, case,
                                                              files, expected):
    result = oracle(files, netplan_generate)
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"]


VERDICT_CASES = [
    ("networkd: a no-break space after the address", {
        LO_NETWORK: "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\u00a0\n"}, False),
    ("networkd: restored", {"/etc/systemd/network/50-lo.network":
                            "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\n"}, False),
    ("networkd: no prefix", {"/etc/systemd/network/50-lo.network":
                             "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100\n"}, False),
    ("networkd: an earlier file wins", {
        "/etc/systemd/network/50-lo.network": "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\n",
        "/etc/systemd/network/40-any.network": "[Match]\nName=!eth*\n[Network]\nDHCP=no\n"}, False),
    ("networkd: unmanaged", {"/etc/systemd/network/50-lo.network":
                             "[Match]\nName=lo\n[Link]\nUnmanaged=yes\n[Network]\n"
                             "Address=192.0.2.100/32\n"}, False),
    ("networkd: two prefixes", {"/etc/systemd/network/50-lo.network":
                                "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\n"
                                "Address=192.0.2.100/24\n"}, False),
    ("netplan: restored", {"/etc/netplan/60-vip.yaml":
                           "network:\n  ethernets:\n    lo:\n      addresses: [192.0.2.100/32]\n"},
     True),
    ("netplan: another file is invalid", {
        "/etc/netplan/60-vip.yaml": "network:\n  ethernets:\n    lo:\n      addresses: [192.0.2.100/32]\n",
        "/etc/netplan/70-eth.yaml": "network:\n  ethernets:\n    eth0:\n      dhcp: true\n"}, True),
    ("netplan: rendered by NetworkManager", {
        "/etc/netplan/60-vip.yaml": "network:\n  renderer: NetworkManager\n  ethernets:\n    lo:\n"
                                    "      addresses: [192.0.2.100/32]\n"}, True),
    ("netplan: on the NIC", {"/etc/netplan/60-vip.yaml": "network:\n  ethernets:\n    eth0:\n"
                                                         "      addresses: [192.0.2.100/32]\n"},
     True),
]


@pytest.mark.parametrize("case, files, through_netplan", VERDICT_CASES,
                         ids=[c[0] for c in VERDICT_CASES])
def test_the_boot_verdict_is_the_verdict_after_the_real_boot(oracle, netplan_generate, case,
                                                             files, through_netplan):
    """check_vip_on_lo's boot verdict (the VIP live on lo as /32) is the verdict the same check
    gives on what the real networkd (after netplan's generator) left, capped at WARNING."""
    result = oracle(files, netplan_generate if through_netplan else (), check=vip_on_lo_check(),
                    live=[VIP + "/32"])
    assert_boot_verdict_holds(result, files)
