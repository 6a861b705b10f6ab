"""The hand-written systemd-networkd and netplan cases: (what the case shows, the tree, what
the real boot left: (interface, address/prefix)). Captured from the real tools; tests/unit
holds the model to them, tests/oracles proves them again on the real tools."""

import os

NETWORKD = "/lib/systemd/systemd-networkd"
LIBRARY_DIRECTORY = "{}-linux-gnu".format(os.uname().machine)
PRESENT = ["lo", "eth0"]

LO_NETWORK = "/etc/systemd/network/50-lo.network"
# (what the case shows, the tree, what the real daemon configured: (interface, address/prefix))
CASES = [
    # Bytes as networkd's config parser reads them: lines end at \n, \r and NUL, only space,
    # tab, CR and LF are blanks (Python's str methods know many more).
    ('a no-break space after a Match name: no link matches',
     {LO_NETWORK: '[Match]\nName=lo\u00a0\n[Network]\nAddress=192.0.2.100/32\n'}, []),
    ('a vertical tab before a Match name: no link matches',
     {LO_NETWORK: '[Match]\nName=\x0blo\n[Network]\nAddress=192.0.2.100/32\n'}, []),
    ('a no-break space after an address: not an address',
     {LO_NETWORK: '[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\u00a0\n'}, []),
    ('a form feed in a key: an unknown key',
     {LO_NETWORK: '[Match]\nName=lo\n[Network]\nAddress\x0c=192.0.2.100/32\n'}, []),
    ('a no-break space before a section: no section',
     {LO_NETWORK: '\u00a0[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\n'}, []),
    ('CR alone ends a line',
     {LO_NETWORK: '[Match]\rName=lo\r[Network]\rAddress=192.0.2.100/32\r'},
     [('lo', '192.0.2.100/32')]),
    ('NUL ends a line',
     {LO_NETWORK: '[Match]\nName=lo\n[Network]\nAddress=192.0.2.100/32\x00Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.100/32'), ('lo', '192.0.2.101/32')]),
    ('U+2028 ends no line',
     {LO_NETWORK: '[Match]\nName=lo\n[Network]\u2028Address=192.0.2.100/32\n'}, []),
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


# netplan YAML, through the real generator (netplan 0.106) and then the real networkd
NETPLAN_CASES = [
    ("set-name names the link, whatever matched",
     {"/etc/netplan/60-vip.yaml": "network:\n  ethernets:\n    x:\n"
                                  "      match: {macaddress: \"00:00:00:00:00:00\"}\n"
                                  "      set-name: lo\n      addresses: [192.0.2.100/32]\n"},
     [("lo", "192.0.2.100/32")]),
    ("match name and set-name",
     {"/etc/netplan/60-vip.yaml": "network:\n  ethernets:\n    loopback:\n"
                                  "      match: {name: lo}\n      set-name: lo\n"
                                  "      addresses: [192.0.2.100/32]\n"},
     [("lo", "192.0.2.100/32")]),
    ('lo block',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  version: 2\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses:\n'
                                  '        - 192.0.2.100/32\n'},
     [('lo', '192.0.2.100/32')]),
    ('no prefix fails generate for all',
     {'/etc/netplan/50-ok.yaml': 'network:\n'
                                 '  ethernets:\n'
                                 '    eth0:\n'
                                 '      addresses: [192.0.2.101/32]\n',
      '/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100]\n'},
     []),
    ('yml ignored',
     {'/etc/netplan/60-vip.yml': 'network:\n'
                                 '  ethernets:\n'
                                 '    lo:\n'
                                 '      addresses: [192.0.2.100/32]\n'},
     []),
    ('hidden ignored',
     {'/etc/netplan/.60-vip.yaml': 'network:\n'
                                   '  ethernets:\n'
                                   '    lo:\n'
                                   '      addresses: [192.0.2.100/32]\n'},
     []),
    ('unknown key fails',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      adresses: [192.0.2.100/32]\n'
                                  '    eth0:\n'
                                  '      addresses: [192.0.2.101/32]\n'},
     []),
    ('yaml syntax error',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32\n',
      '/etc/netplan/70-eth.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    eth0:\n'
                                  '      addresses: [192.0.2.101/32]\n'},
     []),
    ('match name and set-name',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    loopback:\n'
                                  '      match: {name: lo}\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     [('lo', '192.0.2.100/32')]),
    ('flow style and anchors',
     {'/etc/netplan/60-vip.yaml': 'network: {ethernets: {lo: {addresses: &vips [192.0.2.100/32, '
                                  '192.0.2.101/32]}, eth0: {addresses: *vips}}}\n'},
     [('eth0', '192.0.2.100/32'), ('eth0', '192.0.2.101/32'), ('lo', '192.0.2.100/32'),
      ('lo', '192.0.2.101/32')]),
    ('renderer NetworkManager',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  renderer: NetworkManager\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('device renderer NetworkManager',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      renderer: NetworkManager\n'
                                  '      addresses: [192.0.2.100/32]\n'
                                  '    eth0:\n'
                                  '      addresses: [192.0.2.101/32]\n'},
     [('eth0', '192.0.2.101/32')]),
    ('run shadows etc',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n',
      '/run/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.101/32]\n'},
     [('lo', '192.0.2.101/32')]),
    ('two files merge addresses',
     {'/etc/netplan/50-a.yaml': 'network:\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      addresses: [192.0.2.100/32]\n',
      '/etc/netplan/60-b.yaml': 'network:\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      addresses: [192.0.2.101/32]\n'},
     [('lo', '192.0.2.100/32'), ('lo', '192.0.2.101/32')]),
    ('address with options',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses:\n'
                                  '        - "192.0.2.100/32":\n'
                                  '            label: lo:vip\n'},
     [('lo', '192.0.2.100/32')]),
    ('ipv6 and wrong prefix',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: ["2001:db8::100/128", 192.0.2.100/24]\n'},
     [('lo', '192.0.2.100/24'), ('lo', '2001:db8::100/128')]),
    ('lib and etc same name',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.101/32]\n',
      '/lib/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     [('lo', '192.0.2.101/32')]),
    ('netplan file and a .network for lo: name order',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n',
      '/etc/systemd/network/05-lo.network': '[Match]\n'
                                            'Name=lo\n'
                                            '[Network]\n'
                                            'Address=192.0.2.101/32\n'},
     [('lo', '192.0.2.101/32')]),
    ('version 3',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  version: 3\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('empty file',
     {'/etc/netplan/50-empty.yaml': '',
      '/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     [('lo', '192.0.2.100/32')]),
    ('match name glob',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    all:\n'
                                  '      match: {name: "l*"}\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     [('lo', '192.0.2.100/32')]),
    ('dummy-devices',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  dummy-devices:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('renderer in an earlier file',
     {'/etc/netplan/50-a.yaml': 'network:\n'
                                '  renderer: NetworkManager\n'
                                '  ethernets:\n'
                                '    eth0:\n'
                                '      addresses: [192.0.2.101/32]\n',
      '/etc/netplan/60-b.yaml': 'network:\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      addresses: [192.0.2.100/32]\n'},
     []),
    ('renderer in a later file',
     {'/etc/netplan/50-a.yaml': 'network:\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      addresses: [192.0.2.100/32]\n',
      '/etc/netplan/60-b.yaml': 'network:\n'
                                '  renderer: NetworkManager\n'
                                '  ethernets:\n'
                                '    eth0:\n'
                                '      addresses: [192.0.2.101/32]\n'},
     []),
    ('renderer networkd after NM',
     {'/etc/netplan/50-a.yaml': 'network:\n  renderer: NetworkManager\n',
      '/etc/netplan/60-b.yaml': 'network:\n'
                                '  renderer: networkd\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      addresses: [192.0.2.100/32]\n'},
     [('lo', '192.0.2.100/32')]),
    ('device redefined with renderer later',
     {'/etc/netplan/50-a.yaml': 'network:\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      addresses: [192.0.2.100/32]\n',
      '/etc/netplan/60-b.yaml': 'network:\n'
                                '  ethernets:\n'
                                '    lo:\n'
                                '      renderer: NetworkManager\n'},
     []),
    ('virtual-ethernets',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  virtual-ethernets: {}\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('vrfs empty',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  vrfs: {}\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     [('lo', '192.0.2.100/32')]),
    ('duplicate address',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32, 192.0.2.100/32]\n'},
     [('lo', '192.0.2.100/32')]),
    ('invalid prefix',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/33]\n'},
     []),
    ('network null',
     {'/etc/netplan/50-a.yaml': 'network:\n',
      '/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('top-level other key',
     {'/etc/netplan/60-vip.yaml': 'foo: 1\n'
                                  'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('address as int list item',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      addresses: 192.0.2.100/32\n'},
     []),
    ('set-name without match',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      set-name: lo\n'
                                  '      addresses: [192.0.2.100/32]\n'},
     []),
    ('optional and mtu keys',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    lo:\n'
                                  '      optional: true\n'
                                  '      mtu: 1500\n'
                                  '      addresses: [192.0.2.100/32]\n'
                                  '      routes: []\n'
                                  '      nameservers: {addresses: [192.0.2.53]}\n'},
     [('lo', '192.0.2.100/32')]),
    ('merge key',
     {'/etc/netplan/60-vip.yaml': 'network:\n'
                                  '  ethernets:\n'
                                  '    base: &b\n'
                                  '      addresses: [192.0.2.101/32]\n'
                                  '    lo:\n'
                                  '      <<: *b\n'},
     []),
]
