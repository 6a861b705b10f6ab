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

from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.source.local import Source

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
    write_case(str(tmp_path), {
        C + "a.nmconnection": profile(ident="a"),
        C + "b.nmconnection": profile(SECOND, ident="b")},
        None)
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
    ("restored", profile()),
    ("type=ethernet on lo (netplan's NetworkManager renderer)", profile(kind="ethernet")),
    ("no prefix", profile("method=manual\naddress1=192.0.2.100\n")),
    ("autoconnect=false", profile(connection="autoconnect=false\n")),
    ("a no-break space after the interface name", profile(name="lo\u00a0")),
]


@pytest.mark.parametrize("case, text", VERDICT_CASES, ids=[c[0] for c in VERDICT_CASES])
def test_the_boot_verdict_is_the_verdict_after_the_real_boot(oracle, case, text):
    """check_vip_on_lo's boot verdict (the VIP live on lo as /32) is the verdict the same check
    gives on what the real NetworkManager left, capped at WARNING."""
    result = oracle({"/etc/NetworkManager/system-connections/vip.nmconnection": text}, None,
                    check=vip_on_lo_check(), live=[VIP + "/32"])
    assert_boot_verdict_holds(result, text)
