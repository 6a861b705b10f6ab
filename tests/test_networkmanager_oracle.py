"""The NetworkManager model against the real daemon (Debian 12's NetworkManager 1.42.4,
extracted from its package with libnm0 and libndp0, never installed): each tree of keyfiles is
loaded by the real daemon on a private system bus, in a network and mount namespace of its own
(tests/oracles/nm_boot.py), and the model must predict the same addresses on lo and eth0. The
expected addresses are the real daemon's, captured: the model is held to them everywhere (no
root needed), the oracle column proves them again where root can."""

import os

import pytest
from conftest import unavailable, write_tree
from oracles.extracted import extracted
from oracles.namespace import VIP, assert_boot_verdict_holds, booted, need_root, vip_on_lo_check

from lvs_dr_checks import netconfig
from lvs_dr_checks.source import Source

PRESENT = ["lo", "eth0"]
LIBRARY_DIRECTORY = "{}-linux-gnu".format(os.uname().machine)

# (what the case shows, the tree, modes or "owner" (not root's), what the real daemon did)
CASES = [
    ('loopback profile',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('no prefix',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100\n'},
     None, [('lo', '192.0.2.100/24')]),
    ('autoconnect false',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'autoconnect=false\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     None, []),
    ('method disabled',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=disabled\n'
                                                                'address1=192.0.2.100/32\n'},
     None, []),
    ('type ethernet on lo',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=ethernet\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     None, []),
    ('insecure mode',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '644'}, []),
    ('group readable',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '640'}, []),
    ('no suffix',
     {'/etc/NetworkManager/system-connections/lo': '[connection]\n'
                                                   'id=vip\n'
                                                   'type=loopback\n'
                                                   'interface-name=lo\n'
                                                   '[ipv4]\n'
                                                   'method=manual\n'
                                                   'address1=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('backup suffix',
     {'/etc/NetworkManager/system-connections/lo.nmconnection.bak': '[connection]\n'
                                                                    'id=vip\n'
                                                                    'type=loopback\n'
                                                                    'interface-name=lo\n'
                                                                    '[ipv4]\n'
                                                                    'method=manual\n'
                                                                    'address1=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('tilde',
     {'/etc/NetworkManager/system-connections/lo.nmconnection~': '[connection]\n'
                                                                 'id=vip\n'
                                                                 'type=loopback\n'
                                                                 'interface-name=lo\n'
                                                                 '[ipv4]\n'
                                                                 'method=manual\n'
                                                                 'address1=192.0.2.100/32\n'},
     None, []),
    ('hidden',
     {'/etc/NetworkManager/system-connections/.lo.nmconnection': '[connection]\n'
                                                                 'id=vip\n'
                                                                 'type=loopback\n'
                                                                 'interface-name=lo\n'
                                                                 '[ipv4]\n'
                                                                 'method=manual\n'
                                                                 'address1=192.0.2.100/32\n'},
     None, []),
    ('legacy addresses1',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'addresses1=192.0.2.100;32;0.0.0.0;\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('address with gateway',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32,192.0.2.1\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('match interface-name',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'
                                                                '[match]\n'
                                                                'interface-name=lo\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('no interface-name at all',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('two profiles, priority',
     {'/etc/NetworkManager/system-connections/a.nmconnection': '[connection]\n'
                                                               'id=a\n'
                                                               'type=loopback\n'
                                                               'interface-name=lo\n'
                                                               'autoconnect-priority=10\n'
                                                               '[ipv4]\n'
                                                               'method=manual\n'
                                                               'address1=192.0.2.100/32\n',
      '/etc/NetworkManager/system-connections/b.nmconnection': '[connection]\n'
                                                               'id=b\n'
                                                               'type=loopback\n'
                                                               'interface-name=lo\n'
                                                               'autoconnect-priority=20\n'
                                                               '[ipv4]\n'
                                                               'method=manual\n'
                                                               'address1=192.0.2.101/32\n'},
     None, [('lo', '192.0.2.101/32')]),
    ('run shadows etc (same uuid)',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'uuid=0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n',
      '/run/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'uuid=0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.101/32\n'},
     None, [('lo', '192.0.2.101/32')]),
    ('run and etc, different uuid',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'uuid=0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n',
      '/run/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'uuid=1b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.101/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('ipv6 and a second address',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'
                                                                'address2=192.0.2.100/24\n'
                                                                '[ipv6]\n'
                                                                'method=manual\n'
                                                                'address1=2001:db8::100/128\n'},
     None, [('lo', '192.0.2.100/24'), ('lo', '192.0.2.100/32'), ('lo', '2001:db8::100/128')]),
    ('method auto with an address on lo',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=auto\n'
                                                                'address1=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('no method',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'address1=192.0.2.100/32\n'},
     None, []),
    ('ethernet profile for eth0',
     {'/etc/NetworkManager/system-connections/eth0.nmconnection': '[connection]\n'
                                                                  'id=vip\n'
                                                                  'type=ethernet\n'
                                                                  'interface-name=eth0\n'
                                                                  '[ipv4]\n'
                                                                  'method=manual\n'
                                                                  'address1=192.0.2.100/32\n'},
     None, [('eth0', '192.0.2.100/32')]),
    ('usr lib profile',
     {'/usr/lib/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                    'id=vip\n'
                                                                    'type=loopback\n'
                                                                    'interface-name=lo\n'
                                                                    '[ipv4]\n'
                                                                    'method=manual\n'
                                                                    'address1=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('owner not root',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     'owner', []),
    ('invalid keyfile line',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'
                                                                'garbage line\n'},
     None, []),
    ('dummy type on lo',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=dummy\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n'},
     None, []),
    ('address key without number',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address=192.0.2.100/32\n'},
     None, [('lo', '192.0.2.100/32')]),
    ('same priority: the smaller uuid',
     {'/etc/NetworkManager/system-connections/a.nmconnection': '[connection]\n'
                                                               'id=a\n'
                                                               'type=loopback\n'
                                                               'interface-name=lo\n'
                                                               'uuid=1b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                               '[ipv4]\n'
                                                               'method=manual\n'
                                                               'address1=192.0.2.100/32\n',
      '/etc/NetworkManager/system-connections/b.nmconnection': '[connection]\n'
                                                               'id=b\n'
                                                               'type=loopback\n'
                                                               'interface-name=lo\n'
                                                               'uuid=0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                               '[ipv4]\n'
                                                               'method=manual\n'
                                                               'address1=192.0.2.101/32\n'},
     None, [('lo', '192.0.2.101/32')]),
    ('same priority across /etc and /run: the smaller uuid',
     {'/etc/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'uuid=1b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.100/32\n',
      '/run/NetworkManager/system-connections/lo.nmconnection': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                'uuid=0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.101/32\n'},
     None, [('lo', '192.0.2.101/32')]),
    ('run needs the suffix',
     {'/run/NetworkManager/system-connections/lo': '[connection]\n'
                                                   'id=vip\n'
                                                   'type=loopback\n'
                                                   'interface-name=lo\n'
                                                   '[ipv4]\n'
                                                   'method=manual\n'
                                                   'address1=192.0.2.100/32\n'},
     None, []),
    ('ignored suffixes',
     {'/etc/NetworkManager/system-connections/a.pem': '[connection]\n'
                                                      'id=vip\n'
                                                      'type=loopback\n'
                                                      'interface-name=lo\n'
                                                      '[ipv4]\n'
                                                      'method=manual\n'
                                                      'address1=192.0.2.100/32\n',
      '/etc/NetworkManager/system-connections/b.rpmnew': '[connection]\n'
                                                         'id=vip\n'
                                                         'type=loopback\n'
                                                         'interface-name=lo\n'
                                                         '[ipv4]\n'
                                                         'method=manual\n'
                                                         'address1=192.0.2.101/32\n',
      '/etc/NetworkManager/system-connections/c.nmmeta': '[connection]\n'
                                                         'id=vip\n'
                                                         'type=loopback\n'
                                                         'interface-name=lo\n'
                                                         '[ipv4]\n'
                                                         'method=manual\n'
                                                         'address1=192.0.2.102/32\n',
      '/etc/NetworkManager/system-connections/d.nmconnection~': '[connection]\n'
                                                                'id=vip\n'
                                                                'type=loopback\n'
                                                                'interface-name=lo\n'
                                                                '[ipv4]\n'
                                                                'method=manual\n'
                                                                'address1=192.0.2.103/32\n'},
     None, []),
    ('kept suffixes',
     {'/etc/NetworkManager/system-connections/a.swp': '[connection]\n'
                                                      'id=vip\n'
                                                      'type=loopback\n'
                                                      'interface-name=lo\n'
                                                      'uuid=0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                      '[ipv4]\n'
                                                      'method=manual\n'
                                                      'address1=192.0.2.100/32\n',
      '/etc/NetworkManager/system-connections/b.dpkg-old': '[connection]\n'
                                                           'id=b\n'
                                                           'type=loopback\n'
                                                           'interface-name=lo\n'
                                                           'uuid=1b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1\n'
                                                           '[ipv4]\n'
                                                           'method=manual\n'
                                                           'address1=192.0.2.101/32\n'},
     None, [('lo', '192.0.2.100/32')]),
]


def write_case(root, files, extra):
    write_tree(root, files)
    for path in files:
        full = os.path.join(root, path.lstrip("/"))
        os.chmod(full, int(extra.get(path, "600"), 8) if isinstance(extra, dict) else 0o600)
        if extra == "owner":
            os.chown(full, 1000, 1000)


def predicted(tmp_path, files, extra):
    write_case(str(tmp_path), files, extra)
    return sorted((c.interface, "{}/{}".format(c.address, c.prefixlen))
                  for c in netconfig.read_networkmanager(Source(str(tmp_path)), PRESENT)
                  if c.inactive is None)


@pytest.mark.parametrize("case, files, extra, expected", CASES, ids=[c[0] for c in CASES])
def test_model_predicts_what_networkmanager_did(tmp_path, case, files, extra, expected):
    if extra == "owner" and os.geteuid() != 0:
        unavailable("giving a file to another owner needs root")
    assert predicted(tmp_path, files, extra) == sorted(expected)


def test_a_tie_the_model_cannot_break_is_said(tmp_path):
    """Two profiles without uuid, same priority: NetworkManager derives uuids to break the tie;
    the model says it cannot know which one wins."""
    profile = ("[connection]\nid={}\ntype=loopback\ninterface-name=lo\n[ipv4]\nmethod=manual\n"
               "address1=192.0.2.{}/32\n")
    directory = "/etc/NetworkManager/system-connections/"
    write_case(str(tmp_path), {directory + "a.nmconnection": profile.format("a", 100),
                               directory + "b.nmconnection": profile.format("b", 101)}, None)
    found = netconfig.read_networkmanager(Source(str(tmp_path)), PRESENT)
    assert [c.inactive for c in found] == [
        "NetworkManager picks one of several profiles of the same autoconnect-priority for lo: "
        "which one is not known here; set autoconnect-priority"] * 2


@pytest.fixture(scope="module")
def oracle():
    need_root("NetworkManager")
    try:
        daemon = os.path.join(extracted("network-manager"), "usr", "sbin", "NetworkManager")
        libraries = [os.path.join(extracted(package), "usr", "lib", LIBRARY_DIRECTORY)
                     for package in ("libnm0", "libndp0")]
    except OSError as exc:
        unavailable("cannot extract Debian's network-manager: {}".format(exc))

    def boot(files, extra, **more):
        case = dict(more, files=files, boot=PRESENT[1:])
        if extra == "owner":
            case["owner"] = {path: 1000 for path in files}
        elif extra:
            case["mode"] = extra
        return booted("nm_boot.py", [daemon, ":".join(libraries)], case)
    return boot


@pytest.mark.parametrize("case, files, extra, expected", CASES, ids=[c[0] for c in CASES])
def test_the_real_networkmanager_did_what_the_case_says(oracle, case, files, extra, expected):
    result = oracle(files, extra)
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"][-3000:]


VERDICT_CASES = [
    ("restored", "[connection]\nid=vip\ntype=loopback\ninterface-name=lo\n[ipv4]\nmethod=manual\n"
                 "address1=192.0.2.100/32\n"),
    ("type=ethernet on lo (netplan's NetworkManager renderer)",
     "[connection]\nid=vip\ntype=ethernet\ninterface-name=lo\n[ipv4]\nmethod=manual\n"
     "address1=192.0.2.100/32\n"),
    ("no prefix", "[connection]\nid=vip\ntype=loopback\ninterface-name=lo\n[ipv4]\n"
                  "method=manual\naddress1=192.0.2.100\n"),
    ("autoconnect=false", "[connection]\nid=vip\ntype=loopback\ninterface-name=lo\n"
                          "autoconnect=false\n[ipv4]\nmethod=manual\naddress1=192.0.2.100/32\n"),
]


@pytest.mark.parametrize("case, text", VERDICT_CASES, ids=[c[0] for c in VERDICT_CASES])
def test_the_boot_verdict_is_the_verdict_after_the_real_boot(oracle, case, text):
    """check_vip_on_lo's boot verdict (the VIP live on lo as /32) is the verdict the same check
    gives on what the real NetworkManager left, capped at WARNING."""
    result = oracle({"/etc/NetworkManager/system-connections/vip.nmconnection": text}, None,
                    check=vip_on_lo_check(), live=[VIP + "/32"])
    assert_boot_verdict_holds(result, text)
