"""Boot-time network configuration formats: each with a match and its near misses."""

import ipaddress

import pytest
from conftest import write_tree

from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.source.local import Source

VIP = ipaddress.ip_address("192.0.2.100")
VIP6 = ipaddress.ip_address("2001:db8::100")


def found(tmp_path, files, vip=VIP, interfaces=("lo", "eth0")):
    """(address/prefix on device, file:line) of every configured address equal to vip."""
    write_tree(str(tmp_path), files)
    return sorted(("{}/{} on {}".format(c.address, c.prefixlen, c.device), c.where)
                  for c in netconfig.read_all(Source(str(tmp_path)), list(interfaces))
                  if c.address == vip and c.inactive is None)


def dormant(tmp_path, files, vip=VIP):
    """(device, file:line, why never added) of configured addresses equal to vip."""
    write_tree(str(tmp_path), files)
    return sorted((c.device, c.where, c.inactive)
                  for c in netconfig.read_all(Source(str(tmp_path)), ["lo", "eth0"])
                  if c.address == vip and c.inactive is not None)


def test_ifupdown_names_why_a_stanza_is_never_applied(tmp_path):
    """What the boot does is proven in test_ifupdown_oracle.py; here, what the check says of
    configuration the boot never applies."""
    stanza = "iface lo:1 inet static\n address 192.0.2.100/32\n"
    interfaces = "/etc/network/interfaces"
    assert dormant(tmp_path, {interfaces: stanza}) == [
        ("lo:1", interfaces + ":2", "'lo:1' is never brought up at boot: add 'auto lo:1'")]
    assert dormant(tmp_path, {interfaces: "allow-hotplug lo:1\n" + stanza}) == [
        ("lo:1", interfaces + ":3", "'allow-hotplug lo:1' is never raised at boot (no device "
                                    "event for it): use 'auto lo:1'")]
    assert dormant(tmp_path, {interfaces: "auto lo:1\n" + stanza + "  mtu\n"}) == [
        ("lo:1", interfaces + ":3", "ifup reads nothing: /etc/network/interfaces:4: option "
                                    "with empty value")]
    assert dormant(tmp_path, {interfaces: "auto lo:1\n" + stanza}) == []


NETPLAN_CASES = [
    ("block list", "network:\n  version: 2\n  ethernets:\n    lo:\n      addresses:\n"
                   "        - 192.0.2.100/32\n        - 127.0.0.1/8\n",
     [("192.0.2.100/32 on lo", "/etc/netplan/60-vip.yaml:6")]),
    ("flow list, quoted", "network:\n  ethernets:\n    lo:\n      addresses: [\"192.0.2.100/32\"]\n",
     [("192.0.2.100/32 on lo", "/etc/netplan/60-vip.yaml:4")]),
    ("item with options", "network:\n  ethernets:\n    lo:\n      addresses:\n"
                          "        - \"192.0.2.100/32\":\n            label: lo:vip\n",
     [("192.0.2.100/32 on lo", "/etc/netplan/60-vip.yaml:5")]),
    ("wrong prefix", "network:\n  ethernets:\n    lo:\n      addresses: [192.0.2.100/24]\n",
     [("192.0.2.100/24 on lo", "/etc/netplan/60-vip.yaml:4")]),
    ("another interface", "network:\n  ethernets:\n    eth0:\n      addresses:\n      - 192.0.2.100/32\n",
     [("192.0.2.100/32 on eth0", "/etc/netplan/60-vip.yaml:5")]),
    ("a route, not an address", "network:\n  ethernets:\n    lo:\n      routes:\n"
                                "        - to: 192.0.2.100/32\n", []),
    ("commented out", "network:\n  ethernets:\n    lo:\n      addresses:\n#        - 192.0.2.100/32\n",
     []),
]


@pytest.mark.parametrize("case, text, expected", NETPLAN_CASES, ids=[c[0] for c in NETPLAN_CASES])
def test_netplan(tmp_path, case, text, expected):
    assert found(tmp_path, {"/etc/netplan/60-vip.yaml": text}) == expected


NETWORKD_CASES = [
    ("Network Address", "[Match]\nName=lo\n\n[Network]\nAddress=192.0.2.100/32\n",
     [("192.0.2.100/32 on lo", "/etc/systemd/network/10-lo.network:5")]),
    ("Address section", "[Match]\nName=lo\n[Address]\nAddress=192.0.2.100/32\n",
     [("192.0.2.100/32 on lo", "/etc/systemd/network/10-lo.network:4")]),
    ("wrong prefix", "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/24\n",
     [("192.0.2.100/24 on lo", "/etc/systemd/network/10-lo.network:4")]),
    ("another interface", "[Match]\nName=eth0\n[Network]\nAddress=192.0.2.100/32\n",
     [("192.0.2.100/32 on eth0", "/etc/systemd/network/10-lo.network:4")]),
    ("no match for any interface", "[Match]\nName=eth9\n[Network]\nAddress=192.0.2.100/32\n", []),
    ("commented out", "[Match]\nName=lo\n[Network]\n#Address=192.0.2.100/32\n", []),
]


@pytest.mark.parametrize("case, text, expected", NETWORKD_CASES, ids=[c[0] for c in NETWORKD_CASES])
def test_networkd(tmp_path, case, text, expected):
    assert found(tmp_path, {"/etc/systemd/network/10-lo.network": text}) == expected


def test_networkd_first_matching_file_wins_and_etc_masks_usr_lib(tmp_path):
    files = {"/usr/lib/systemd/network/20-lo.network": "[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\n",
             "/etc/systemd/network/20-lo.network": "[Match]\nName=lo\n[Network]\nAddress=192.0.2.101/32\n",
             "/run/systemd/network/30-lo.network": "[Match]\nName=l*\n[Network]\nAddress=192.0.2.100/32\n"}
    assert found(tmp_path, files) == []
    assert found(tmp_path, {}, ipaddress.ip_address("192.0.2.101")) == [
        ("192.0.2.101/32 on lo", "/etc/systemd/network/20-lo.network:4")]


IFCFG_CASES = [
    ("alias with netmask", "DEVICE=lo:0\nIPADDR=192.0.2.100\nNETMASK=255.255.255.255\nONBOOT=yes\n",
     [("192.0.2.100/32 on lo:0", "/etc/sysconfig/network-scripts/ifcfg-lo:0:2")]),
    ("an alias file takes IPADDR only", "DEVICE=\"lo:0\"\nIPADDR0='192.0.2.100'\nPREFIX0=32\n",
     []),
    ("no netmask takes the class mask", "DEVICE=lo:0\nIPADDR=192.0.2.100\n",
     [("192.0.2.100/24 on lo:0", "/etc/sysconfig/network-scripts/ifcfg-lo:0:2")]),
    ("another interface", "DEVICE=eth0\nIPADDR=192.0.2.100\nPREFIX=32\n",
     [("192.0.2.100/32 on eth0", "/etc/sysconfig/network-scripts/ifcfg-lo:0:2")]),
    ("commented out", "DEVICE=lo:0\n#IPADDR=192.0.2.100\nPREFIX=32\n", []),
]


@pytest.mark.parametrize("case, text, expected", IFCFG_CASES, ids=[c[0] for c in IFCFG_CASES])
def test_ifcfg(tmp_path, case, text, expected):
    assert found(tmp_path, {"/etc/sysconfig/network-scripts/ifcfg-lo:0": text}) == expected


def test_ifcfg_activation(tmp_path):
    """initscripts: ONBOOT=no keeps a main file down and its aliases with it, ONPARENT=no an
    alias, backups are not read; numbered IPADDRn belong in main files."""
    scripts = "/etc/sysconfig/network-scripts/"
    files = {scripts + "ifcfg-eth0": "DEVICE=eth0\nONBOOT=no\nIPADDR=198.51.100.5\nPREFIX=24\n",
             scripts + "ifcfg-eth0:1": "IPADDR=192.0.2.100\nPREFIX=32\n",
             scripts + "ifcfg-lo:2": "IPADDR=192.0.2.100\nPREFIX=32\nONPARENT=no\n",
             scripts + "ifcfg-lo:3.bak": "IPADDR=192.0.2.100\nPREFIX=32\n",
             scripts + "ifcfg-lo": "DEVICE=lo\nIPADDR1=192.0.2.100\nPREFIX1=32\n"}
    assert found(tmp_path, files) == [("192.0.2.100/32 on lo", scripts + "ifcfg-lo:2")]
    assert dormant(tmp_path, files) == [
        ("eth0:1", scripts + "ifcfg-eth0:1:1", "its parent eth0 has ONBOOT=no"),
        ("lo:2", scripts + "ifcfg-lo:2:1", "ONPARENT=no: it never comes up with lo")]


def test_networkd_proxy_arp_from_the_file_that_applies(tmp_path):
    write_tree(str(tmp_path), {
        "/etc/systemd/network/10-eth0.network": "[Match]\nName=eth0\n[Network]\nIPv4ProxyARP=no\n",
        "/etc/systemd/network/20-all.network": "[Match]\nName=e*\n[Network]\nIPv4ProxyARP=yes\n",
        "/etc/systemd/network/30-lo.network": "[Match]\nName=lo\n[Network]\n#IPv4ProxyARP=yes\n"})
    assert netconfig.networkd_proxy_arp(Source(str(tmp_path)), ["eth0", "eth1", "lo"]) == {
        "eth0": (0, "/etc/systemd/network/10-eth0.network", 4, "IPv4ProxyARP=no"),
        "eth1": (1, "/etc/systemd/network/20-all.network", 4, "IPv4ProxyARP=yes")}
