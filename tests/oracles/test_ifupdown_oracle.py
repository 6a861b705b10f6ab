"""The ifupdown model against the real ifupdown (Debian 12's 0.8.41, extracted from its
package, never installed): each tree is booted by the real `ifup` in a network and mount
namespace of its own (tests/oracles/ifupdown_boot.py: networking.service's `ifup -a`, then
udev's hotplug run for each interface present), and the model must predict the same addresses,
prefix and label. The expected addresses are the real tool's, captured: the model is held to
them everywhere (no root needed), the oracle column proves them again where root can."""

import os

import pytest
from cases.ifupdown import CASES, PRESENT
from conftest import unavailable

from oracles.extracted import extracted
from oracles.namespace import VIP, assert_boot_verdict_holds, booted, need_root, vip_on_lo_check


@pytest.fixture(scope="module")
def oracle():
    need_root("ifupdown")
    try:
        ifup = os.path.join(extracted("ifupdown"), "sbin", "ifup")
    except OSError as exc:
        unavailable("cannot extract Debian's ifupdown: {}".format(exc))

    def boot(files, **more):
        return booted("ifupdown_boot.py", [ifup], dict(
            more, files=files, boot=[name for name in PRESENT if name != "lo"]))
    return boot


@pytest.mark.parametrize("case, files, expected", CASES, ids=[c[0] for c in CASES])
def test_the_real_ifup_did_what_the_case_says(oracle, case, files, expected):
    result = oracle(files)
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"]


VERDICT_CASES = [
    ("restored", "auto lo:1\niface lo:1 inet static\n address 192.0.2.100/32\n"),
    ("no prefix: /24 after the boot", "auto lo:1\niface lo:1 inet static\n address 192.0.2.100\n"),
    ("netmask wins", "auto lo:1\niface lo:1 inet static\n address 192.0.2.100/32\n"
                     " netmask 255.255.255.0\n"),
    ("never auto", "iface lo:1 inet static\n address 192.0.2.100/32\n"),
    ("a no-break space for a blank", "auto lo:1\niface lo:1 inet static\n"
                                     " address\u00a0192.0.2.100/32\n"),
    ("two prefixes", "auto lo:1 lo:2\niface lo:1 inet static\n address 192.0.2.100/32\n"
                     "iface lo:2 inet static\n address 192.0.2.100/24\n"),
    ("on the NIC", "auto eth0\niface eth0 inet manual\n up ip addr add 192.0.2.100/32 dev $IFACE\n"),
    ("a hook on lo", "iface lo inet loopback\n up ip addr add 192.0.2.100/32 dev lo\n"),
    ("broken main file", "auto lo:1\niface lo:1 inet static\n address 192.0.2.100/32\n"
                         "iface lo:2 inet static6\n"),
]


@pytest.mark.parametrize("case, text", VERDICT_CASES, ids=[c[0] for c in VERDICT_CASES])
def test_the_boot_verdict_is_the_verdict_after_the_real_boot(oracle, case, text):
    """check_vip_on_lo's boot verdict (the VIP live on lo as /32) is the verdict the same check
    gives on what the real ifup left, capped at WARNING."""
    result = oracle({"/etc/network/interfaces": text}, check=vip_on_lo_check(),
                    live=[VIP + "/32"])
    assert_boot_verdict_holds(result, text)
