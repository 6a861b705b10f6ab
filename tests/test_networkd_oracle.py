"""The systemd-networkd model against the real daemon (Debian 12's systemd-networkd 252):
each tree of .network files is applied by the real networkd in a network and mount namespace
of its own (tests/oracles/networkd_boot.py), and the model must predict the same addresses on
lo and eth0. The expected addresses are the real daemon's, captured: the model is held to them
everywhere (no root needed), the oracle column proves them again where root can."""

import os

import pytest
from conftest import unavailable, write_tree
from oracles.namespace import booted, need_root

from lvs_dr_checks import netconfig
from lvs_dr_checks.source import Source

NETWORKD = "/lib/systemd/systemd-networkd"
PRESENT = ["lo", "eth0"]

# (what the case shows, the tree, what the real daemon configured: (interface, address/prefix))
CASES = [
    ('no prefix',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100\n'
                                            'Address=2001:db8::1\n'},
     [('lo', '192.0.2.100/24'), ('lo', '2001:db8::1/0')]),
    ('first file in name order wins',
     {'/etc/systemd/network/40-all.network': '[Match]\n'
                                             'Name=*\n'
                                             '[Network]\n'
                                             'Address=192.0.2.101/32\n',
      '/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     [('eth0', '192.0.2.101/32'), ('lo', '192.0.2.101/32')]),
    ('negated name matches lo',
     {'/etc/systemd/network/40-x.network': '[Match]\n'
                                           'Name=!eth*\n'
                                           '[Network]\n'
                                           'Address=192.0.2.100/32\n',
      '/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('Type=loopback',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Type=loopback\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('Unmanaged',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Link]\n'
                                            'Unmanaged=yes\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     []),
    ('empty match section',
     {'/etc/systemd/network/50-lo.network': '[Match]\n[Network]\nAddress=192.0.2.100/32\n'}, []),
    ('no match section',
     {'/etc/systemd/network/50-lo.network': '[Network]\nAddress=192.0.2.100/32\n'}, []),
    ('drop-in adds an address',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n',
      '/etc/systemd/network/50-lo.network.d/vip.conf': '[Network]\nAddress=192.0.2.101/32\n',
      '/usr/lib/systemd/network/50-lo.network.d/more.conf': '[Address]\n'
                                                            'Address=192.0.2.102/32\n'},
     [('lo', '192.0.2.100/32'), ('lo', '192.0.2.101/32'), ('lo', '192.0.2.102/32')]),
    ('Address sections',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Address]\n'
                                            'Address=192.0.2.100/32\n'
                                            '[Address]\n'
                                            'Label=lo:x\n'
                                            'Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.100/32'), ('lo', '192.0.2.101/32')]),
    ('etc masks usr/lib',
     {'/etc/systemd/network/50-lo.network': '->/dev/null',
      '/usr/lib/systemd/network/50-lo.network': '[Match]\n'
                                                'Name=lo\n'
                                                '[Network]\n'
                                                'Address=192.0.2.100/32\n',
      '/usr/lib/systemd/network/60-lo.network': '[Match]\n'
                                                'Name=lo\n'
                                                '[Network]\n'
                                                'Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.101/32')]),
    ('empty file masks',
     {'/etc/systemd/network/50-lo.network': '',
      '/usr/lib/systemd/network/50-lo.network': '[Match]\n'
                                                'Name=lo\n'
                                                '[Network]\n'
                                                'Address=192.0.2.100/32\n'},
     []),
    ('hidden and other suffixes',
     {'/etc/systemd/network/.50-lo.network': '[Match]\n'
                                             'Name=lo\n'
                                             '[Network]\n'
                                             'Address=192.0.2.100/32\n',
      '/etc/systemd/network/50-lo.network~': '[Match]\n'
                                             'Name=lo\n'
                                             '[Network]\n'
                                             'Address=192.0.2.101/32\n',
      '/etc/systemd/network/70-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.102/32\n'},
     [('lo', '192.0.2.102/32')]),
    ('a name list, a later Name=',
     {'/etc/systemd/network/50-x.network': '[Match]\n'
                                           'Name=eth0 lo\n'
                                           'Name=eth0\n'
                                           '[Network]\n'
                                           'Address=192.0.2.100/32\n',
      '/etc/systemd/network/60-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.101/32\n'},
     [('eth0', '192.0.2.100/32'), ('lo', '192.0.2.100/32')]),
    ('empty Name= resets',
     {'/etc/systemd/network/50-x.network': '[Match]\n'
                                           'Name=eth0\n'
                                           'Name=\n'
                                           'Name=lo\n'
                                           '[Network]\n'
                                           'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('continuation, comments, spaces',
     {'/etc/systemd/network/50-lo.network': '# c\n'
                                            '[Match]\n'
                                            ' Name = lo \n'
                                            '; x\n'
                                            '[Network]\n'
                                            'Address=\\\n'
                                            '192.0.2.100/32\n'
                                            '#Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('invalid address ignored, others kept',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.300/32\n'
                                            'Address=192.0.2.100/33\n'
                                            'Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.101/32')]),
    ('Driver= cannot match lo',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            'Driver=e1000\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n',
      '/etc/systemd/network/60-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.101/32')]),
    ('Type=ether on eth0',
     {'/etc/systemd/network/50-e.network': '[Match]\n'
                                           'Type=ether\n'
                                           '[Network]\n'
                                           'Address=192.0.2.100/32\n',
      '/etc/systemd/network/60-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.101/32\n'},
     [('eth0', '192.0.2.100/32'), ('lo', '192.0.2.101/32')]),
    ('two prefixes',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'
                                            'Address=192.0.2.100/24\n'},
     [('lo', '192.0.2.100/24'), ('lo', '192.0.2.100/32')]),
    ('same address twice',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'
                                            'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('lowercase section or key',
     {'/etc/systemd/network/50-lo.network': '[match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'address=192.0.2.100/32\n'
                                            'Address=192.0.2.101/32\n'},
     []),
    ('glob classes in Name',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=l[a-z]\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('Address with label and noprefixroute-like options in section',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Address]\n'
                                            'Address=192.0.2.100/32\n'
                                            'AddPrefixRoute=no\n'},
     [('lo', '192.0.2.100/32')]),
    ('link-local only',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'LinkLocalAddressing=no\n'
                                            'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('Host= unknown',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            'Host=some-other-host\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     []),
    ('symlink to a file elsewhere',
     {'/etc/systemd/network/50-lo.network': '->/etc/systemd/network/real/lo.conf',
      '/etc/systemd/network/real/lo.conf': '[Match]\n'
                                           'Name=lo\n'
                                           '[Network]\n'
                                           'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('ActivationPolicy manual: lo is up at boot, so it is configured',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Link]\n'
                                            'ActivationPolicy=manual\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('Unmanaged=no and a later Unmanaged=yes in a drop-in',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Link]\n'
                                            'Unmanaged=no\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n',
      '/etc/systemd/network/50-lo.network.d/off.conf': '[Link]\nUnmanaged=yes\n'},
     []),
    ('a drop-in adds a match',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=eth0\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n',
      '/etc/systemd/network/50-lo.network.d/m.conf': '[Match]\nName=lo\n'},
     [('eth0', '192.0.2.100/32'), ('lo', '192.0.2.100/32')]),
    ('ActivationPolicy down',
     {'/etc/systemd/network/50-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Link]\n'
                                            'ActivationPolicy=down\n'
                                            '[Network]\n'
                                            'Address=192.0.2.100/32\n'},
     []),
    ('Address= in Match section ignored',
     {'/etc/systemd/network/50-lo.network': '[Match]\nName=lo\nAddress=192.0.2.100/32\n'}, []),
]


def write_links(root, files):
    write_tree(root, {path: text for path, text in files.items() if not text.startswith("->")})
    for path, text in files.items():
        if text.startswith("->"):
            full = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            os.symlink(text[2:], full)


def predicted(tmp_path, files):
    write_links(str(tmp_path), files)
    return sorted((c.interface, "{}/{}".format(c.address, c.prefixlen))
                  for c in netconfig.read_networkd(Source(str(tmp_path)), PRESENT)
                  if c.inactive is None)


@pytest.mark.parametrize("case, files, expected", CASES, ids=[c[0] for c in CASES])
def test_model_predicts_what_networkd_did(tmp_path, case, files, expected):
    assert predicted(tmp_path, files) == sorted(expected)


@pytest.fixture(scope="module")
def oracle():
    need_root("systemd-networkd")
    if not os.access(NETWORKD, os.X_OK):
        unavailable("{} is missing (Debian: systemd)".format(NETWORKD))

    def boot(files, arguments=()):
        return booted("networkd_boot.py", arguments, {"files": files, "boot": PRESENT[1:]})
    return boot


@pytest.mark.parametrize("case, files, expected", CASES, ids=[c[0] for c in CASES])
def test_the_real_networkd_did_what_the_case_says(oracle, case, files, expected):
    result = oracle(files)
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"]
