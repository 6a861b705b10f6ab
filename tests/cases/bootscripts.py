"""The hand-written boot-script cases: /etc/rc.local as the real boot ran it, units and what
systemctl enables, Environment= lines as systemd's parser reads them. tests/unit holds the
models to them, tests/oracles proves them again on the real tools."""

from conftest import write_tree

RC = "/etc/rc.local"
SYSTEM = "/etc/systemd/system/"

# (what the case shows, rc.local, its mode, what the real boot left: (label, address/prefix))
RC_CASES = [
    ("executable", "#!/bin/sh\nip addr add 192.0.2.100/32 dev lo\nexit 0\n", "755",
     [("lo", "192.0.2.100/32")]),
    ("not executable", "#!/bin/sh\nip addr add 192.0.2.100/32 dev lo\n", "644", []),
    ("exits before the line", "#!/bin/sh\nip addr add 192.0.2.100/32 dev lo\nexit 0\n"
                              "ip addr add 192.0.2.101/32 dev lo\n", "755",
     [("lo", "192.0.2.100/32")]),
    ("no #! line", "ip addr add 192.0.2.100/32 dev lo\n", "755", []),
    ("an exit inside an if block", "#!/bin/bash\nif [ -e /nonexistent ]; then\n  exit 0\nfi\n"
                                   "ifconfig lo:1 192.0.2.100 netmask 255.255.255.255 up\n", "755",
     [("lo:1", "192.0.2.100/32")]),
    ("ifconfig without a netmask: the class mask", "#!/bin/sh\nifconfig lo:1 192.0.2.100 up\n",
     "700", [("lo:1", "192.0.2.100/24")]),
    ("sh -c and a label", "#!/bin/sh\n/bin/sh -c 'ip -4 address add 192.0.2.100/32 dev lo "
                          "label lo:vip'\n", "755", [("lo:vip", "192.0.2.100/32")]),
    ("CRLF line ends: '#!/bin/sh<CR>' names no interpreter",
     "#!/bin/sh\r\nip addr add 192.0.2.100/32 dev lo\r\n", "755", []),
    ("a CR ends no word: the device is 'lo<CR>'",
     "#!/bin/bash\nip addr add 192.0.2.100/32 dev lo\r\nip addr add 192.0.2.101/32 dev lo\n",
     "755", [("lo", "192.0.2.101/32")]),
    ("a no-break space is no blank to the shell",
     "#!/bin/sh\nip addr add 192.0.2.100/32\u00a0dev lo\nip addr add 192.0.2.101/32 dev lo\n",
     "755", [("lo", "192.0.2.101/32")]),
]


def unit(body, wanted_by="multi-user.target"):
    return "[Unit]\nDescription=VIP\n[Service]\nType=oneshot\n" + body + \
        "[Install]\nWantedBy={}\n".format(wanted_by)


UNITS = {
    SYSTEM + "vip.service": unit("ExecStart=/usr/sbin/ip addr add 192.0.2.100/32 dev lo\n"),
    SYSTEM + "multi-user.target.wants/vip.service": "->" + SYSTEM + "vip.service",
    SYSTEM + "off.service": unit("ExecStart=/usr/sbin/ip addr add 192.0.2.101/32 dev lo\n"),
    SYSTEM + "masked.service": "->/dev/null",
    SYSTEM + "multi-user.target.wants/masked.service": "->" + SYSTEM + "masked.service",
    SYSTEM + "shell.service": unit(
        "Environment=VIP=192.0.2.102/32 \"LABEL=lo:v2\"\n"
        "ExecStartPre=-/bin/sh -c 'ip addr add $VIP dev lo label $LABEL || true'\n"
        "ExecStart=@/usr/sbin/ip ip addr add 192.0.2.103/32 dev lo ; /usr/sbin/ip -6 addr add "
        "2001:db8::103/128 dev lo\n", "network-online.target"),
    SYSTEM + "network-online.target.wants/shell.service": "->" + SYSTEM + "shell.service",
    SYSTEM + "dropin.service": unit("ExecStart=/usr/sbin/ip addr add 192.0.2.104/24 dev lo\n"),
    SYSTEM + "dropin.service.d/override.conf":
        "[Service]\nExecStart=\nExecStart=/usr/sbin/ip addr add 192.0.2.105/32 dev lo\n",
    SYSTEM + "multi-user.target.wants/dropin.service": "->" + SYSTEM + "dropin.service",
}
UNIT_NAMES = ["vip.service", "off.service", "masked.service", "shell.service", "dropin.service"]


def write_units(root):
    write_tree(root, UNITS)


# Environment= as systemd applies it (config_parse_environ): (what the case shows, the unit's
# Environment= lines, the warnings of systemd's own parser for them, what ExecStart
# `ip addr add $VIP dev lo` then adds).
ENVIRONMENT_CASES = [
    ("broken quoting ends the line, the words before it apply",
     ['VIP=192.0.2.110/32 "LABEL=lo:x'],
     ['Invalid syntax, ignoring: VIP=192.0.2.110/32 "LABEL=lo:x'], ["192.0.2.110/32"]),
    ("an empty Environment= clears what came before",
     ["VIP=192.0.2.111/32", "", "OTHER=1"], [], []),
    ("words that are no NAME=VALUE are skipped, the others apply",
     ["1VIP=192.0.2.112/32 VIP=192.0.2.113/32 VIP"],
     ["Invalid environment assignment, ignoring: 1VIP=192.0.2.112/32",
      "Invalid environment assignment, ignoring: VIP"], ["192.0.2.113/32"]),
    ("quotes keep a value whole",
     ['"VIP=192.0.2.114/32" LABEL="lo:a b"'], [], ["192.0.2.114/32"]),
]


def environment_unit(lines):
    return unit("".join("Environment={}\n".format(line) for line in lines)
                + "ExecStart=/usr/sbin/ip addr add $VIP dev lo\n")
