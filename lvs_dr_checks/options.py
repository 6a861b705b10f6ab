"""The suite's options: one name, one value syntax and one meaning for each concept, whichever
plugin takes it. The plugins add their options through the functions here; SUITE is the table
(docs/options.md is made from it, and tests/unit/test_options.py holds every parser to it).
Each refusal is an argparse error, which cli turns into the run's one UNKNOWN line naming the
option."""

import argparse
import collections
import os
import re

import nagiosplugin

from lvs_dr_checks import cli
from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.host import ipvs, keepalived, links

Option = collections.namedtuple("Option", "flags value meaning")

# The whole suite's options: long name -> (every flag, the value's syntax, what it means).
SUITE = collections.OrderedDict((o.flags[-1], o) for o in (
    Option(("-h", "--help"), "", "print the help and exit"),
    Option(("-V", "--version"), "", "print the version and exit"),
    Option(("-v", "--verbose"), "", "-v: one line per finding; -vv, -vvv: debug details"),
    Option(("-t", "--timeout"), "SECONDS", "UNKNOWN after this many seconds (the plugin "
                                           "says its bound)"),
    Option(("-H", "--host"), "HOST", "the host to check over SSH; the router for "
                                     "check_vip_arp_cache"),
    Option(("-i", "--interface"), "IFACE", "the interface to check or to probe on"),
    Option(("--vip",), "ADDRESS", "a VIP (repeatable, or a comma-separated list)"),
    Option(("--from-keepalived",), "[PATH]", "take the VIPs (and owners, real servers) from "
                                             "keepalived.conf (default "
                                             "/etc/keepalived/keepalived.conf)"),
    Option(("--from-ipvs",), "[PATH]", "take the VIPs and real servers from the IPVS table "
                                       "(default /proc/net/ip_vs; saved 'ipvsadm -Ln' "
                                       "output too)"),
    Option(("--allow-mac",), "[VIP=]MAC", "a MAC that may own every VIP, or one VIP"),
    Option(("--expect-mac",), "[VIP=]MAC", "the same as --allow-mac (the owners a third "
                                           "host expects)"),
    Option(("--name",), "MAC=LABEL", "name a MAC in the output"),
    Option(("--witness",), "ADDRESS", "an address on the segment that must answer the probe"),
    Option(("--sudo",), "", "take the privileged part through 'sudo -n' and the documented "
                            "sudo rule"),
    Option(("--root",), "DIR", "read the boot-time configuration under DIR"),
    Option(("--no-persistence",), "", "skip the boot-time verdict"),
    Option(("--arp-ignore",), "LIST", "accepted effective arp_ignore values"),
    Option(("--role",), "{auto,realserver,director}", "judge as a real server or a director"),
    Option(("--boot",), "{auto,systemd,procps}", "what applies sysctl settings at boot"),
    Option(("--count",), "N", "probes per VIP"),
    Option(("--interval",), "SECONDS", "between rounds of probes"),
    Option(("--wait",), "SECONDS", "listening after the last probe"),
    Option(("--listen",), "SECONDS", "listening longer, for what nobody asked"),
    Option(("--parallel",), "N", "real servers checked at once"),
    Option(("--unreachable",), "{unknown,critical}", "state of a real server that cannot be "
                                                     "checked"),
    Option(("--exclude",), "ADDRESS", "leave a real server out (maintenance)"),
    Option(("-w", "--warning"), "RANGE", "WARNING outside this range (the plugin guidelines' "
                                         "syntax: 10, 10:, ~:10, 10:20, @10:20)"),
    Option(("-c", "--critical"), "RANGE", "CRITICAL outside this range"),
    Option(("--source",), "{snmp,ssh,local}", "how the router's table is read"),
    Option(("--require-entry",), "", "WARNING for a VIP the router has no entry for"),
    Option(("--max-entries",), "N", "refuse a table walk past N rows"),
    Option(("--snmp-port",), "PORT", "the SNMP agent's port"),
    Option(("--snmp-community-file",), "FILE", "SNMP v2c: the community, from a file"),
    Option(("--snmp-v3-file",), "FILE", "SNMP v3: user and keys, from a file"),
    Option(("--from-watch",), "[PATH]", "read lvs-dr-watch's state file (default "
                                        "/var/lib/lvs-dr-watch/state.json)"),
    Option(("--window",), "SECONDS", "how long a foreign claim or split brain stays "
                                     "CRITICAL after it ended"),
    Option(("--max-age",), "SECONDS", "UNKNOWN when lvs-dr-watch's state is older"),
    Option(("--ssh-user",), "USER", "SSH login user"),
    Option(("--ssh-port",), "PORT", "SSH port"),
    Option(("--ssh-key",), "FILE", "SSH private key"),
    Option(("--known-hosts",), "FILE", "known_hosts to verify host keys against"),
    Option(("--ssh-password-file",), "FILE", "SSH password, from a file"),
))

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def parse_mac(text):
    """aa:bb:cc:dd:ee:ff, any case, '-' taken for ':'; lower case with ':' out."""
    mac = text.strip().lower().replace("-", ":")
    if not _MAC.match(mac):
        raise argparse.ArgumentTypeError("not a MAC address (aa:bb:cc:dd:ee:ff): {!r}".format(text))
    return mac


def parse_name(text):
    """--name MAC=LABEL: (mac, label), a label of printable characters only."""
    mac, sep, label = text.partition("=")
    if not sep or not label.strip():
        raise argparse.ArgumentTypeError("expected MAC=LABEL: {!r}".format(text))
    if cli.unprintable(label):
        raise argparse.ArgumentTypeError("the label holds control characters (a newline, "
                                         "a tab...): {!r}".format(text))
    return parse_mac(mac), label.strip()


def threshold(text):
    """-w/-c RANGE as the monitoring plugin guidelines write it; refused here when it is none,
    not when the check is evaluated."""
    try:
        if not text.strip():
            raise ValueError("empty")
        nagiosplugin.Range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("not a range (10, 10:, ~:10, 10:20, @10:20): {!r}: {}"
                                         .format(text, exc))
    return text


def parse_owner(text):
    """--allow-mac/--expect-mac MAC (every VIP) or VIP=MAC (one VIP): (vip or None, mac)."""
    vip, sep, mac = text.rpartition("=")
    if not sep:
        return None, parse_mac(text)
    try:
        return links.vip_address(vip.strip(), "VIP"), parse_mac(mac)
    except PluginError as exc:
        raise argparse.ArgumentTypeError(str(exc))


class _Deprecated(argparse.Action):
    """An old spelling: stores into the new option's place and is named at -v (cli.run)."""

    def __init__(self, option_strings, dest, new=None, **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.deprecated = getattr(namespace, "deprecated", []) + [(option_string,
                                                                        self.new)]


def add_deprecated(parser, old, new, dest):
    """``old`` kept working for one release as ``new`` (hidden from the help)."""
    parser.add_argument(old, dest=dest, action=_Deprecated, new=new, help=argparse.SUPPRESS)


def add_interface(parser, text, repeatable=False):
    """-i/--interface IFACE."""
    parser.add_argument("-i", "--interface", action="append" if repeatable else "store",
                        metavar="IFACE", help=text)


def add_vips(parser, text):
    """--vip ADDRESS, --from-keepalived [PATH] and --from-ipvs [PATH]."""
    parser.add_argument("--vip", action="append", type=cli.comma_list, metavar="ADDRESS",
                        help=text + " (repeatable, or a comma-separated list)")
    parser.add_argument("--from-keepalived", nargs="?", const=keepalived.DEFAULT_PATH,
                        type=os.path.abspath, metavar="PATH",
                        help="take the VIPs, VRIDs, virtual MACs (use_vmac: owners) and the "
                             "direct-routing real servers from keepalived.conf (default "
                             "%(const)s; includes followed)")
    parser.add_argument("--from-ipvs", nargs="?", const=ipvs.PROC_IP_VS, type=os.path.abspath,
                        metavar="PATH",
                        help="take the VIPs and the direct-routing real servers from the IPVS "
                             "table (default %(const)s; saved 'ipvsadm -Ln' output also works)")


def add_owners(parser, expect_text):
    """--allow-mac [VIP=]MAC, --expect-mac [VIP=]MAC and --name MAC=LABEL."""
    parser.add_argument("--allow-mac", action="append", type=parse_owner, default=[],
                        metavar="[VIP=]MAC",
                        help="an owner allowed for every VIP (the peer director, a VRRP "
                             "virtual MAC), or for one VIP with VIP=MAC (repeatable)")
    parser.add_argument("--expect-mac", action="append", type=parse_owner, default=[],
                        metavar="[VIP=]MAC", help=expect_text)
    parser.add_argument("--name", action="append", type=parse_name, default=[],
                        metavar="MAC=LABEL", help="name a MAC in the output")


def add_snmp(group):
    """--snmp-port, --snmp-community-file, --snmp-v3-file: how the router is read."""
    group.add_argument("--snmp-port", type=cli.port_number, default=161, metavar="PORT",
                       help="default: %(default)s")
    group.add_argument("--snmp-community-file", metavar="FILE",
                       help="SNMP v2c: the community on the first line; FILE readable by its "
                            "owner alone")
    group.add_argument("--snmp-v3-file", metavar="FILE",
                       help="SNMP v3: lines 'user = ...', 'auth_protocol = SHA', "
                            "'auth_key = ...', 'priv_protocol = AES', 'priv_key = ...' "
                            "(without priv_*: authNoPriv); FILE readable by its owner alone")


def owners(args, vips, config):
    """{vip: frozenset of the MACs that may own it}: those of --allow-mac and --expect-mac for
    every VIP or for that VIP, and its VRRP virtual MAC (keepalived's use_vmac). A VIP=MAC for
    a VIP not checked is refused by name."""
    given = args.allow_mac + args.expect_mac
    everywhere = frozenset(mac for vip, mac in given if vip is None)
    named = collections.defaultdict(set)
    for vip, mac in given:
        if vip is not None:
            named[vip].add(mac)
    allowed = {}
    for vip in vips:  # thousands share the MACs allowed everywhere: one set for all of them
        more = config.owner_macs(vip) | named.get(vip, set())
        allowed[vip] = everywhere | more if more else everywhere
    stray = [v for v, _ in given if v is not None and v not in allowed]
    if stray:
        option = "--allow-mac" if stray[0] in {v for v, _ in args.allow_mac} else "--expect-mac"
        raise PluginError("{} {}=...: not one of the VIPs checked".format(option, stray[0]))
    return allowed
