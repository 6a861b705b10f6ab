"""The hand-written NetworkManager cases: (what the case shows, the keyfiles, their modes or
owner, what the real daemon left: (interface, address/prefix)). Captured from the real
daemon; tests/unit holds the model to them, tests/oracles proves them again on the daemon."""

import os

PRESENT = ["lo", "eth0"]
LIBRARY_DIRECTORY = "{}-linux-gnu".format(os.uname().machine)

C = "/etc/NetworkManager/system-connections/"
R = "/run/NetworkManager/system-connections/"
U = "/usr/lib/NetworkManager/system-connections/"


def profile(ipv4="method=manual\naddress1=192.0.2.100/32\n", connection="", kind="loopback",
            name="lo", ident="vip"):
    """A keyfile: [connection] (id, type, interface-name, more lines), then [ipv4] and what
    follows it."""
    return "[connection]\nid={}\ntype={}\n{}{}[ipv4]\n{}".format(
        ident, kind, "interface-name={}\n".format(name) if name else "", connection, ipv4)


# A second profile's address, and two uuids in their order.
SECOND = "method=manual\naddress1=192.0.2.101/32\n"
UUID_0, UUID_1 = "0b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1", "1b6a1f51-83b2-4d4c-9d83-7d5a47b4a0a1"


def etc_and_run(etc_uuid, run_uuid):
    """lo.nmconnection in /etc, and in /run with the second address."""
    return {C + "lo.nmconnection": profile(connection="uuid={}\n".format(etc_uuid)),
            R + "lo.nmconnection": profile(ipv4=SECOND, connection="uuid={}\n".format(run_uuid))}


# (what the case shows, the tree, modes or "owner" (not root's), what the real daemon did)
CASES = [
    # Bytes as GLib's key file parser reads them: a NUL ends the line; only space, tab, LF,
    # form feed and CR are blanks (g_ascii_isspace; not the vertical tab, not a no-break space).
    ("a form feed before '=' is a blank", {C + "lo.nmconnection": profile(
        ipv4="method=manual\naddress1\x0c=192.0.2.100/32\n")}, None, [("lo", "192.0.2.100/32")]),
    ("CRLF line ends", {C + "lo.nmconnection": profile(
        ipv4="method=manual\naddress1=192.0.2.100/32\r\n")}, None, [("lo", "192.0.2.100/32")]),
    ("a NUL ends the line", {C + "lo.nmconnection": profile(
        ipv4="method=manual\naddress1=192.0.2.100/32\x00junk\n")}, None,
     [("lo", "192.0.2.100/32")]),
    ("a vertical tab is no blank: an unknown key", {C + "lo.nmconnection": profile(
        ipv4="method=manual\n\x0baddress1=192.0.2.100/32\n")}, None, []),
    ("a CR alone ends no line", {C + "lo.nmconnection": profile(
        ipv4="method=manual\raddress1=192.0.2.100/32\n")}, None, []),
    ("a no-break space after the interface name: another name",
     {C + "lo.nmconnection": profile(name="lo\u00a0")}, None, []),
    ("loopback profile", {C + "lo.nmconnection": profile()}, None, [("lo", "192.0.2.100/32")]),
    (
        "no prefix",
        {C + "lo.nmconnection": profile(ipv4="method=manual\naddress1=192.0.2.100\n")},
        None,
        [("lo", "192.0.2.100/24")],
    ),
    (
        "autoconnect false",
        {C + "lo.nmconnection": profile(connection="autoconnect=false\n")},
        None,
        [],
    ),
    (
        "method disabled",
        {C + "lo.nmconnection": profile(ipv4="method=disabled\naddress1=192.0.2.100/32\n")},
        None,
        [],
    ),
    ("type ethernet on lo", {C + "lo.nmconnection": profile(kind="ethernet")}, None, []),
    ("insecure mode", {C + "lo.nmconnection": profile()}, {C + "lo.nmconnection": "644"}, []),
    ("group readable", {C + "lo.nmconnection": profile()}, {C + "lo.nmconnection": "640"}, []),
    ("no suffix", {C + "lo": profile()}, None, [("lo", "192.0.2.100/32")]),
    ("backup suffix", {C + "lo.nmconnection.bak": profile()}, None, [("lo", "192.0.2.100/32")]),
    ("tilde", {C + "lo.nmconnection~": profile()}, None, []),
    ("hidden", {C + ".lo.nmconnection": profile()}, None, []),
    (
        "legacy addresses1",
        {
            C + "lo.nmconnection": profile(
                ipv4="method=manual\naddresses1=192.0.2.100;32;0.0.0.0;\n"
            )
        },
        None,
        [("lo", "192.0.2.100/32")],
    ),
    (
        "address with gateway",
        {C + "lo.nmconnection": profile(ipv4="method=manual\naddress1=192.0.2.100/32,192.0.2.1\n")},
        None,
        [("lo", "192.0.2.100/32")],
    ),
    (
        "match interface-name",
        {
            C + "lo.nmconnection": profile(
                ipv4="method=manual\naddress1=192.0.2.100/32\n[match]\ninterface-name=lo\n",
                name=None,
            )
        },
        None,
        [("lo", "192.0.2.100/32")],
    ),
    (
        "no interface-name at all",
        {C + "lo.nmconnection": profile(name=None)},
        None,
        [("lo", "192.0.2.100/32")],
    ),
    (
        "two profiles, priority",
        {
            C + "a.nmconnection": profile(connection="autoconnect-priority=10\n", ident="a"),
            C + "b.nmconnection": profile(
                ipv4=SECOND,
                connection="autoconnect-priority=20\n",
                ident="b",
            ),
        },
        None,
        [("lo", "192.0.2.101/32")],
    ),
    (
        "run shadows etc (same uuid)",
        etc_and_run(UUID_0, UUID_0),
        None,
        [("lo", "192.0.2.101/32")],
    ),
    (
        "run and etc, different uuid",
        etc_and_run(UUID_0, UUID_1),
        None,
        [("lo", "192.0.2.100/32")],
    ),
    (
        "ipv6 and a second address",
        {
            C + "lo.nmconnection": profile(
                ipv4="method=manual\naddress1=192.0.2.100/32\naddress2=192.0.2.100/24\n"
                "[ipv6]\nmethod=manual\naddress1=2001:db8::100/128\n"
            )
        },
        None,
        [("lo", "192.0.2.100/24"), ("lo", "192.0.2.100/32"), ("lo", "2001:db8::100/128")],
    ),
    (
        "method auto with an address on lo",
        {C + "lo.nmconnection": profile(ipv4="method=auto\naddress1=192.0.2.100/32\n")},
        None,
        [("lo", "192.0.2.100/32")],
    ),
    ("no method", {C + "lo.nmconnection": profile(ipv4="address1=192.0.2.100/32\n")}, None, []),
    (
        "ethernet profile for eth0",
        {C + "eth0.nmconnection": profile(kind="ethernet", name="eth0")},
        None,
        [("eth0", "192.0.2.100/32")],
    ),
    ("usr lib profile", {U + "lo.nmconnection": profile()}, None, [("lo", "192.0.2.100/32")]),
    ("owner not root", {C + "lo.nmconnection": profile()}, "owner", []),
    (
        "invalid keyfile line",
        {
            C + "lo.nmconnection": profile(
                ipv4="method=manual\naddress1=192.0.2.100/32\ngarbage line\n"
            )
        },
        None,
        [],
    ),
    ("dummy type on lo", {C + "lo.nmconnection": profile(kind="dummy")}, None, []),
    (
        "address key without number",
        {C + "lo.nmconnection": profile(ipv4="method=manual\naddress=192.0.2.100/32\n")},
        None,
        [("lo", "192.0.2.100/32")],
    ),
    (
        "same priority: the smaller uuid",
        {
            C + "a.nmconnection": profile(
                connection="uuid={}\n".format(UUID_1), ident="a"
            ),
            C + "b.nmconnection": profile(
                ipv4=SECOND,
                connection="uuid={}\n".format(UUID_0),
                ident="b",
            ),
        },
        None,
        [("lo", "192.0.2.101/32")],
    ),
    (
        "same priority across /etc and /run: the smaller uuid",
        etc_and_run(UUID_1, UUID_0),
        None,
        [("lo", "192.0.2.101/32")],
    ),
    ("run needs the suffix", {R + "lo": profile()}, None, []),
    (
        "ignored suffixes",
        {
            C + "a.pem": profile(),
            C + "b.rpmnew": profile(ipv4=SECOND),
            C + "c.nmmeta": profile(ipv4="method=manual\naddress1=192.0.2.102/32\n"),
            C + "d.nmconnection~": profile(ipv4="method=manual\naddress1=192.0.2.103/32\n"),
        },
        None,
        [],
    ),
    (
        "kept suffixes",
        {
            C + "a.swp": profile(connection="uuid={}\n".format(UUID_0)),
            C + "b.dpkg-old": profile(
                ipv4=SECOND,
                connection="uuid={}\n".format(UUID_1),
                ident="b",
            ),
        },
        None,
        [("lo", "192.0.2.100/32")],
    ),
]
