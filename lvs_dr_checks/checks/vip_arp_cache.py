"""check_vip_arp_cache: where the router sends each VIP's traffic, by its own neighbour table.

The router (gateway) in front of the VIPs keeps the MAC it learned for each VIP, for hours on
many routers, and keeps using it: a real server that answered ARP for a VIP once, or a host
that claimed it with one gratuitous ARP, leaves the VIP's traffic going past the director
while every host looks healthy again. This check reads the router's table over SNMP (IP-MIB
ipNetToPhysicalTable, else ipNetToMediaTable) or, for a Linux router, with ``ip -j neigh``
over SSH, and holds every entry of a VIP against the owners allowed for it.

States: OK, every VIP in the table maps to an allowed owner (VIPs not in the table are
counted: nothing to judge). WARNING, with --require-entry, a VIP the router has no entry for.
CRITICAL, the router maps a VIP to another MAC (named, with the hosts that MAC belongs to in
the same table). UNKNOWN, the table could not be read whole (timeout, refused credentials,
no such table, more rows than --max-entries) or a setup error.

Perfdata: vips, entries (the VIPs' entries found), foreign_entries (critical above 0),
absent_vips (warning above 0 with --require-entry), duration (the read, in seconds).

Examples:
  over SNMP v3:
    check_vip_arp_cache -H ROUTER --snmp-v3-file FILE --vip 192.0.2.100
      --expect-mac D1_MAC --expect-mac D2_MAC
  keepalived (use_vmac: the virtual MAC is the owner):
    check_vip_arp_cache -H ROUTER --snmp-community-file FILE
      --from-keepalived COPY.conf
  a Linux router:
    check_vip_arp_cache -H ROUTER --source ssh --ssh-user monitor
      --vip 192.0.2.100 --expect-mac 192.0.2.100=D1_MAC
"""

import collections
import sys
import time

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from lvs_dr_checks import cli, options
from lvs_dr_checks.host import ipvs, keepalived, links
from lvs_dr_checks.router import neighbours
from lvs_dr_checks.source import target
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.source.ssh.config import valid_host
from lvs_dr_checks.summary import ItemSummary, plural

NAME = "VIP_ARP_CACHE"
# --- Acquisition: the Resource reads the host and yields its metrics ---

# The share of -t the read may take, so that a slow agent is named before the run's timer.
READ_SHARE = 0.8


class CachedVip(collections.namedtuple("CachedVip", "vip entries allowed")):
    """The one decision about one VIP: the router's entries that map it to a MAC, and the
    MACs allowed to own it."""

    @property
    def foreign(self):
        return [e for e in self.entries if e.mac not in self.allowed]

    @property
    def absent(self):
        return not self.entries


def decide(vips, allowed, entries):
    """One CachedVip per VIP, in the order given, from every entry read."""
    mapped = collections.defaultdict(list)
    for entry in entries:
        if entry.mac is not None and entry.state is not None:
            mapped[entry.address].append(entry)
    return [CachedVip(vip, sorted(mapped[vip]), allowed[vip]) for vip in vips]


class VipArpCache(nagiosplugin.Resource):
    """Reads the router's entries for the VIPs (and for the real servers, to name a MAC)
    and decides each VIP once."""

    name = NAME

    def __init__(self, read, vips, allowed, known, names):
        self.read_entries = read  # addresses -> (entries, description of what was read)
        self.vips = vips
        self.allowed = allowed
        self.known = known  # {address: [roles]} of hosts that may be named
        self.names = dict(names)
        self.where = None  # what was read, for the OK line
        self.hosts_of = {}

    def probe(self):
        started = time.monotonic()
        entries, self.where = self.read_entries(list(dict.fromkeys(self.vips + list(self.known))))
        duration = time.monotonic() - started
        vips = set(self.vips)
        for entry in entries:
            if entry.mac is not None and entry.address not in vips:
                self.hosts_of.setdefault(entry.mac, []).append(entry.address)
        cached = decide(self.vips, self.allowed, entries)
        for item in cached:
            yield nagiosplugin.Metric(str(item.vip), item, context="vip_cache")
        yield nagiosplugin.Metric("vips", len(cached), min=0, context="count")
        yield nagiosplugin.Metric("entries", sum(len(c.entries) for c in cached), min=0,
                                  context="count")
        yield nagiosplugin.Metric("foreign_entries", sum(len(c.foreign) for c in cached), min=0,
                                  context="foreign_entries")
        yield nagiosplugin.Metric("absent_vips", sum(c.absent for c in cached), min=0,
                                  max=len(cached), context="absent_vips")
        yield nagiosplugin.Metric("duration", round(duration, 3), "s", min=0, context="count")

    def describe(self, mac):
        """A MAC with what is known of it: --name, a VRRP virtual MAC, the hosts the router
        maps to it (with their roles in the IPVS table)."""
        if mac in self.names:
            return "{} ({})".format(mac, self.names[mac])
        vrrp = keepalived.vrrp_mac(mac)
        if vrrp:
            return "{} (VRRP virtual MAC, VRID {})".format(mac, vrrp[1])
        hosts = sorted(self.hosts_of.get(mac, []), key=lambda a: (a.version, a))
        if not hosts:
            return mac
        return "{} ({})".format(mac, "; ".join(
            ", ".join([str(a)] + self.known.get(a, [])) for a in hosts[:3]))


# --- Evaluation: the Contexts decide each verdict, once ---

class CacheContext(nagiosplugin.Context):
    """One VIP: any entry at a MAC not allowed is CRITICAL; no entry is WARNING with
    --require-entry, else OK (nothing to judge)."""

    def __init__(self, require_entry):
        super().__init__("vip_cache")
        self.require_entry = require_entry

    def evaluate(self, metric, resource):
        item = metric.value
        if item.foreign:
            return self.result_cls(Critical, "the router sends VIP {} to {}, not an allowed owner "
                                             "(allowed: {})".format(
                                                 item.vip, _entries(item.foreign, resource),
                                                 ", ".join(sorted(item.allowed))), metric)
        if item.absent:
            return self.result_cls(Warn if self.require_entry else Ok,
                                   "VIP {} is not in the router's table (nothing to judge)"
                                   .format(item.vip), metric)
        return self.result_cls(Ok, "VIP {} at {}".format(item.vip, _entries(item.entries,
                                                                          resource)), metric)


def _entries(entries, resource):
    return ", ".join("{} on {} [{}]".format(resource.describe(e.mac), e.interface, e.state)
                     for e in entries)


# --- Presentation: the Summary ---

class CacheSummary(ItemSummary):
    """The worst VIP first with how many are affected; OK: how many VIPs were found. -v: one
    line per VIP, the worst first, and of equal state the VIPs found before those absent."""

    context = "vip_cache"
    noun = "VIP"

    def __init__(self, resource):
        self.resource = resource

    def ordered(self, results):
        return sorted(self.items(results), key=lambda r: (-int(r.state), r.metric.value.absent))

    def ok(self, results):
        items = [r.metric.value for r in self.items(results)]
        absent = sum(item.absent for item in items)
        text = "{} in the router's table, each at an allowed owner".format(
            plural(len(items) - absent, "VIP"))
        if absent:
            text += "; {} not in it (nothing to judge)".format(plural(absent, "VIP"))
        return "{} ({})".format(text, self.resource.where)


# --- The command line: parser, Check, main ---

def build_parser():
    parser = cli.make_parser("check_vip_arp_cache", __doc__)
    parser.add_argument("--source", choices=("snmp", "ssh", "local"), default="snmp",
                        help="read the table over SNMP (default), over SSH with ip -j neigh "
                             "(a Linux router), or on this host (a check run on the router)")
    options.add_vips(parser, "a VIP to check")
    options.add_owners(parser, "the same as --allow-mac: the router's entry may point at it")
    parser.add_argument("--require-entry", action="store_true",
                        help="WARNING for a VIP the router has no entry for (default: OK, "
                             "counted; a VIP without recent traffic has none)")
    parser.add_argument("--max-entries", type=int, default=neighbours.DEFAULT_MAX_ENTRIES,
                        metavar="N",
                        help="refuse a table walk past N rows (default %(default)s); the "
                             "interfaces' rows for the VIPs are read directly where the agent "
                             "lists its interfaces")
    options.add_snmp(parser.add_argument_group("SNMP (--source snmp)"))
    parser.add_argument("-H", "--host", type=valid_host, metavar="HOST",
                        help="the router: its SNMP agent, or its SSH server with --source ssh")
    target.add_ssh_options(parser)
    return parser


def _expectations(args, config):
    vips = links.parse_vips(cli.flatten(args.vip) + [str(v) for v in config.vips()],
                            links.OR_FROM_CONFIGURATION)
    allowed = options.owners(args, vips, config)
    unowned = [str(vip) for vip in vips if not allowed[vip]]
    if unowned:
        raise cli.PluginError("no owner expected for {}: name it with --expect-mac MAC (the "
                              "director's MAC, both of a director pair) or VIP=MAC, or use "
                              "use_vmac and --from-keepalived".format(", ".join(unowned[:5])))
    return vips, allowed


def _reader(args, deadline):
    """A function: addresses -> (entries, what was read), for the source chosen."""
    if args.source == "local":
        return lambda addresses: (neighbours.read_ip_neigh(Source("/")), "ip neigh of this host")
    if not args.host:
        raise cli.PluginError("no router given: name it with -H (or use --source local on the "
                              "router itself)")
    if args.source == "ssh":
        def over_ssh(addresses):
            return (neighbours.read_ip_neigh(target.remote_source(args)),
                    "ip neigh of {} over SSH".format(args.host))
        return over_ssh
    from lvs_dr_checks.router import snmp
    read = neighbours.snmp_reader(args.host, args.snmp_port, snmp.read_credentials(
        args.snmp_community_file, args.snmp_v3_file), args.max_entries)
    return lambda addresses: read(addresses, deadline)


def build_check(args):
    if args.max_entries < 1:
        raise cli.PluginError("--max-entries {} must be at least 1".format(args.max_entries))
    deadline = time.monotonic() + args.timeout * READ_SHARE
    config = keepalived.from_options(args.from_keepalived, args.from_ipvs,
                                     lambda option, path, reader: reader(Source("/"), path))
    vips, allowed = _expectations(args, config)
    known = ipvs.realserver_roles(config.services)
    resource = VipArpCache(_reader(args, deadline), vips, allowed, known, args.name)
    return nagiosplugin.Check(
        resource, CacheContext(args.require_entry),
        nagiosplugin.ScalarContext("count"),
        nagiosplugin.ScalarContext("foreign_entries", critical="0"),
        nagiosplugin.ScalarContext("absent_vips", warning="0" if args.require_entry else None),
        CacheSummary(resource))


def main(argv=None):
    cli.run(NAME, build_parser(), build_check, sys.argv[1:] if argv is None else argv)
