"""The hand-written ifupdown cases: (what the case shows, the tree, what the real boot left:
(label, address/prefix)). Captured from the real ifup; tests/unit holds the model to them,
tests/oracles proves them again on the real tool."""




PRESENT = ["lo", "eth0"]

# (what the case shows, the tree, what the real boot leaves: (label, address/prefix))
CASES = [
    ('a directory that a source glob matches is skipped',
     {'/etc/network/interfaces': 'source interfaces.d/*\n',
      '/etc/network/interfaces.d/a': 'auto lo:1\niface lo:1 inet static\n address 192.0.2.100/32\n',
      '/etc/network/interfaces.d/sub/b': 'auto lo:2\niface lo:2 inet static\n'
                                         ' address 192.0.2.101/32\n',
      '/etc/network/interfaces.d/z': 'auto lo:3\niface lo:3 inet static\n address 192.0.2.102/32\n'},
     [('lo:1', '192.0.2.100/32'), ('lo:3', '192.0.2.102/32')]),
    ('no prefix: the class mask',
     {'/etc/network/interfaces': 'auto lo:1\niface lo:1 inet static\n address 192.0.2.100\n'},
     [('lo:1', '192.0.2.100/24')]),
    ('no prefix: the class mask of another network',
     {'/etc/network/interfaces': 'auto lo:1\niface lo:1 inet static\n address 203.0.113.7\n'},
     [('lo:1', '203.0.113.7/24')]),
    ('netmask line wins over /32',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 ' netmask 255.255.255.0\n'},
     [('lo:1', '192.0.2.100/24')]),
    ('netmask as a number',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100\n'
                                 ' netmask 32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('address under loopback is ignored',
     {'/etc/network/interfaces': 'auto lo\niface lo inet loopback\n address 192.0.2.100/32\n'},
     []),
    ('stanza never auto',
     {'/etc/network/interfaces': 'iface lo:1 inet static\n address 192.0.2.100/32\n'}, []),
    ('allow-hotplug for an alias of lo',
     {'/etc/network/interfaces': 'allow-hotplug lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'},
     []),
    ('allow-hotplug of a present NIC runs its hooks',
     {'/etc/network/interfaces': 'allow-hotplug eth0\n'
                                 'iface eth0 inet manual\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.100/32')]),
    ('allow-hotplug of an absent NIC',
     {'/etc/network/interfaces': 'allow-hotplug eth9\n'
                                 'iface eth9 inet manual\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     []),
    ('auto of an absent NIC',
     {'/etc/network/interfaces': 'auto eth9\n'
                                 'iface eth9 inet manual\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.101/32\n'},
     [('lo', '192.0.2.100/32'), ('lo:1', '192.0.2.101/32')]),
    ('misplaced option in the main file',
     {'/etc/network/interfaces': 'address 192.0.2.5\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'},
     []),
    ('misplaced option after an auto line',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'auto lo:2\n'
                                 ' address 192.0.2.101/32\n'},
     []),
    ('unknown method in the main file',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'iface lo:2 inet statik\n'
                                 ' address 192.0.2.101/32\n'},
     []),
    ('unknown address family',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'iface eth0 link none\n'},
     []),
    ('option with no value',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 ' mtu\n'},
     []),
    ('an error in an included file keeps what came before',
     {'/etc/network/interfaces': 'source interfaces.d/*\n',
      '/etc/network/interfaces.d/a': 'auto lo:1\n'
                                     'iface lo:1 inet static\n'
                                     ' address 192.0.2.100/32\n'
                                     'bogus\n'
                                     'auto lo:2\n'
                                     'iface lo:2 inet static\n'
                                     ' address 192.0.2.101/32\n',
      '/etc/network/interfaces.d/b': 'auto lo:3\n'
                                     'iface lo:3 inet static\n'
                                     ' address 192.0.2.102/32\n'},
     [('lo:1', '192.0.2.100/32'), ('lo:3', '192.0.2.102/32')]),
    ('relative source in an included file',
     {'/etc/network/interfaces': 'source interfaces.d/*\n',
      '/etc/network/interfaces.d/a': 'source ../more/vip\n',
      '/etc/network/more/vip': 'auto lo:1\niface lo:1 inet static\n address 192.0.2.100/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('glob in a directory name',
     {'/etc/network/interfaces': 'source /etc/network/i*.d/*.cfg\n',
      '/etc/network/interfaces.d/vip.cfg': 'auto lo:1\n'
                                           'iface lo:1 inet static\n'
                                           ' address 192.0.2.100/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('hidden files are not sourced',
     {'/etc/network/interfaces': 'source interfaces.d/*\n',
      '/etc/network/interfaces.d/.vip': 'auto lo:1\n'
                                        'iface lo:1 inet static\n'
                                        ' address 192.0.2.100/32\n',
      '/etc/network/interfaces.d/vip': 'auto lo:2\n'
                                       'iface lo:2 inet static\n'
                                       ' address 192.0.2.101/32\n'},
     [('lo:2', '192.0.2.101/32')]),
    ('source-directory reads only plain names',
     {'/etc/network/interfaces': 'source-directory interfaces.d\n',
      '/etc/network/interfaces.d/vip.cfg': 'auto lo:1\n'
                                           'iface lo:1 inet static\n'
                                           ' address 192.0.2.100/32\n',
      '/etc/network/interfaces.d/vip_2-b': 'auto lo:2\n'
                                           'iface lo:2 inet static\n'
                                           ' address 192.0.2.101/32\n',
      '/etc/network/interfaces.d/vip~': 'auto lo:3\n'
                                        'iface lo:3 inet static\n'
                                        ' address 192.0.2.102/32\n'},
     [('lo:2', '192.0.2.101/32')]),
    ('source of nothing',
     {'/etc/network/interfaces': 'source interfaces.d/*\n'
                                 'source /etc/network/none\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('backslash continuation',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static \\\n'
                                 '    \n'
                                 ' address \\\n'
                                 '192.0.2.100/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('a comment line, a # inside a value',
     {'/etc/network/interfaces': '# auto lo:9\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 '    # address 192.0.2.9/32\n'
                                 ' address 192.0.2.100/32 # the VIP\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('two address lines: the first only',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 ' address 192.0.2.101/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('inherits',
     {'/etc/network/interfaces': 'iface base inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inherits base\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('inherits with a family',
     {'/etc/network/interfaces': 'iface base inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 ' netmask 24\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inet static inherits base\n'
                                 ' netmask 32\n'},
     []),
    ('up forms',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ip addr add 192.0.2.100/32 dev $IFACE\n'
                                 ' up /sbin/ip address add dev lo 192.0.2.101/32\n'
                                 ' post-up ip a a 192.0.2.102/32 dev lo noprefixroute\n'
                                 " up sh -c 'ip -4 addr add 192.0.2.103/32 dev ${IFACE} label "
                                 "lo:v3'\n"
                                 ' up ifconfig lo:4 inet 192.0.2.104 netmask 255.255.255.255\n'
                                 ' up ifconfig lo:5 192.0.2.105\n'
                                 ' up ip addr add 192.0.2.106/32 dev lo || true; ip addr add '
                                 '192.0.2.107/32 dev lo\n'
                                 ' pre-up ip addr add 192.0.2.108/32 dev lo\n'
                                 ' up ip -6 addr add 2001:db8::100/128 dev lo\n'
                                 ' down ip addr add 192.0.2.109/32 dev lo\n'
                                 ' up echo ip addr add 192.0.2.110/32 dev lo\n'
                                 ' up ip -n other addr add 192.0.2.111/32 dev lo\n'},
     [('lo', '192.0.2.100/32'), ('lo', '192.0.2.101/32'), ('lo', '192.0.2.102/32'),
      ('lo', '192.0.2.106/32'), ('lo', '192.0.2.107/32'), ('lo', '192.0.2.108/32'),
      ('lo', '2001:db8::100/128'), ('lo:4', '192.0.2.104/32'), ('lo:5', '192.0.2.105/24'),
      ('lo:v3', '192.0.2.103/32')]),
    ('two prefixes for one VIP: both',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'auto lo:2\n'
                                 'iface lo:2 inet static\n'
                                 ' address 192.0.2.100/24\n'},
     [('lo:1', '192.0.2.100/32'), ('lo:2', '192.0.2.100/24')]),
    ('the same address twice: the second stanza fails',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'auto lo:2\n'
                                 'iface lo:2 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 ' up ip addr add 192.0.2.101/32 dev lo\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('IPv6 static',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet6 static\n'
                                 ' address 2001:db8::100\n'
                                 'auto eth0\n'
                                 'iface eth0 inet6 static\n'
                                 ' address 2001:db8::5\n'
                                 ' netmask 64\n'},
     [('eth0', '2001:db8::5/64'), ('lo', '2001:db8::100/128')]),
    ('allow-auto, several names on one auto line',
     {'/etc/network/interfaces': 'auto lo:1 lo:2\n'
                                 'allow-auto lo:3\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 'iface lo:2 inet static\n'
                                 ' address 192.0.2.101/32\n'
                                 'iface lo:3 inet static\n'
                                 ' address 192.0.2.102/32\n'},
     [('lo:1', '192.0.2.100/32'), ('lo:2', '192.0.2.101/32'), ('lo:3', '192.0.2.102/32')]),
    ('loopback stanza without auto lo',
     {'/etc/network/interfaces': 'iface lo inet loopback\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.100/32')]),
    ('loopback stanza with auto lo',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.100/32')]),
    ('implicit lo is not an auto for lo hooks elsewhere',
     {'/etc/network/interfaces': 'iface lo inet manual\n up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.100/32')]),
    ('a mapping stanza',
     {'/etc/network/interfaces': 'mapping eth0\n'
                                 ' script /bin/true\n'
                                 ' map x\n'
                                 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('auto before the stanza, stanza in an included file',
     {'/etc/network/interfaces': 'auto lo:1\nsource-directory /etc/network/interfaces.d\n',
      '/etc/network/interfaces.d/vip': 'iface lo:1 inet static\n address 192.0.2.100/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('static on eth0 and a VIP',
     {'/etc/network/interfaces': 'auto eth0\n'
                                 'iface eth0 inet static\n'
                                 ' address 198.51.100.10/24\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo label lo:vip\n'},
     [('eth0', '198.51.100.10/24'), ('lo:vip', '192.0.2.100/32')]),
    ('two address lines without a prefix: the command breaks',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100\n'
                                 ' address 192.0.2.101\n'},
     []),
    ('a repeated netmask breaks the command',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100\n'
                                 ' netmask 32\n'
                                 ' netmask 32\n'},
     []),
    ('two IPv6 address lines break the command',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet6 static\n'
                                 ' address 2001:db8::1/128\n'
                                 ' address 2001:db8::2/128\n'},
     []),
    ('a prefix then words',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32 192.0.2.101/32\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('ifconfig inet6 add',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ifconfig lo inet6 add 2001:db8::100/128\n'},
     [('lo', '2001:db8::100/128')]),
    ('a failing up command stops the stanza: a later VIP is never added',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ip addr add 192.0.2.99/32 dev lo\n'
                                 ' up /bin/false\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.99/32')]),
    ('a failing pre-up stops the stanza before its method',
     {'/etc/network/interfaces': 'auto lo:1\n'
                                 'iface lo:1 inet static\n'
                                 ' address 192.0.2.100/32\n'
                                 ' pre-up false\n'},
     []),
    ('a failure the line itself catches does not stop the stanza',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up false || true\n'
                                 ' up sh -c "exit 0"\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.100/32')]),
    ('an add that fails (the address again) stops the stanza',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ip addr add 192.0.2.99/32 dev lo\n'
                                 ' up ip addr add 192.0.2.99/32 dev lo\n'
                                 ' up ip addr add 192.0.2.100/32 dev lo\n'},
     [('lo', '192.0.2.99/32')]),
    ('IPv6: the same address with another prefix fails too, and stops the stanza',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ip addr add 2001:db8::100/128 dev lo\n'
                                 ' up ip addr add 2001:db8::100/64 dev lo\n'
                                 ' up ip addr add 2001:db8::101/128 dev lo\n'},
     [('lo', '2001:db8::100/128')]),
    ('net-tools ifconfig: ADDRESS/32 is /0, and wins over netmask',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ifconfig lo:1 192.0.2.100/32 up\n'
                                 ' up ifconfig lo:2 192.0.2.101/24 up\n'
                                 ' up ifconfig lo:3 192.0.2.102/32 netmask 255.255.255.255 up\n'},
     [('lo:1', '192.0.2.100/0'), ('lo:2', '192.0.2.101/24'), ('lo:3', '192.0.2.102/0')]),
    # What ifup (C, the C locale) takes for whitespace, and Python's str.split() takes more.
    ('a no-break space separates no words: the option is unknown, ifup reads nothing',
     {'/etc/network/interfaces': 'auto lo:1\niface lo:1 inet static\n address\u00a0192.0.2.100/32\n'},
     []),
    ('a no-break space after a name in auto makes another name',
     {'/etc/network/interfaces': 'auto lo:1\u00a0\niface lo:1 inet static\n address 192.0.2.100/32\n'},
     []),
    ('an information separator (0x1c) separates no words',
     {'/etc/network/interfaces': 'auto lo:1\niface lo:1 inet static\n address\x1c192.0.2.100/32\n'},
     []),
    ('form feed, vertical tab and CR are whitespace to ifup',
     {'/etc/network/interfaces': 'auto lo:1\r\niface lo:1 inet static\r\n\x0baddress\x0c192.0.2.100/32\r\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('a no-break space after the prefix: atoi stops before it',
     {'/etc/network/interfaces': 'auto lo:1\niface lo:1 inet static\n address 192.0.2.100/32\u00a0\n'},
     [('lo:1', '192.0.2.100/32')]),
    ('U+2028 breaks no line',
     {'/etc/network/interfaces': 'auto lo:1\niface lo:1 inet static\u2028 address 192.0.2.100/32\n'},
     []),
    ('net-tools ifconfig: LEN as strtol reads it, modulo 32',
     {'/etc/network/interfaces': 'auto lo\n'
                                 'iface lo inet loopback\n'
                                 ' up ifconfig lo:1 192.0.2.100/0x10 up\n'
                                 ' up ifconfig lo:2 192.0.2.101/ up\n'
                                 ' up ifconfig lo:3 192.0.2.102/-1 up\n'
                                 ' up ifconfig lo:4 192.0.2.103/100 up\n'
                                 ' up ifconfig lo:5 192.0.2.104/99999999999 up\n'},
     [('lo:1', '192.0.2.100/16'), ('lo:2', '192.0.2.101/0'), ('lo:3', '192.0.2.102/31'),
      ('lo:4', '192.0.2.103/4'), ('lo:5', '192.0.2.104/31')]),
]
