"""check_vip_on_lo: is each VIP held on lo (or a NOARP interface) as a host address, nowhere
ARP-facing, and put back by the boot configuration?

Runs on a real server (unprivileged), or against one with -H over SSH. On a director (the VIP
in its IPVS table or keepalived.conf) it refuses to advise: UNKNOWN.

States: CRITICAL, a VIP is missing, on an ARP-facing interface, or on lo with a prefix
shorter than /32 (/128). WARNING, no boot configuration adds it back as a host address.
UNKNOWN, a setup error.

Perfdata: vips, missing and misplaced (critical above 0), unpersisted (warning above 0).

Examples:
  check_vip_on_lo --vip 192.0.2.100,192.0.2.101 --vip 2001:db8::100
  check_vip_on_lo --vip 192.0.2.100 -H web1 --ssh-user monitor
"""

import collections

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Warn

from lvs_dr_checks import cli
from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.host import links, role
from lvs_dr_checks.source import target
from lvs_dr_checks.summary import ItemSummary, plural

NAME = "VIP_ON_LO"


# --- Acquisition: the Resource reads the host and yields its metrics ---

class VipPlacement(collections.namedtuple("VipPlacement", "vip live configured safe_interfaces")):
    """Where one VIP is now (addresses) and where the boot configuration puts it (None: not
    checked); ``safe_interfaces`` are lo and the NOARP interfaces."""

    def _is_right(self, interface, prefixlen):
        return interface in self.safe_interfaces and prefixlen == self.vip.max_prefixlen

    @property
    def exposed(self):
        return [a for a in self.live if a.interface not in self.safe_interfaces]

    @property
    def too_wide(self):
        return [a for a in self.live
                if a.interface in self.safe_interfaces and not a.is_host]

    @property
    def missing(self):
        return not self.live

    @property
    def misplaced(self):
        return bool(self.exposed or self.too_wide)

    @property
    def after_boot(self):
        return [c for c in self.configured or [] if c.inactive is None]

    @property
    def persisted(self):
        return [c for c in self.after_boot if self._is_right(c.interface, c.prefixlen)]

    @property
    def misconfigured(self):
        return [c for c in self.after_boot if not self._is_right(c.interface, c.prefixlen)]

    @property
    def dormant(self):
        """Configuration naming the VIP that the boot never applies."""
        return [c for c in self.configured or [] if c.inactive is not None]

    @property
    def unpersisted(self):
        """A reboot would lose the VIP, or put it somewhere the live check calls CRITICAL."""
        return not self.persisted or bool(self.misconfigured)


class VipOnLo(nagiosplugin.Resource):
    """Reads the live addresses and the boot-time network configuration."""

    name = NAME

    def __init__(self, runtime_source, config_source, vips, persistence):
        self.runtime_source = runtime_source
        self.config_source = config_source
        self.vips = vips
        self.persistence = persistence

    def _refuse_on_a_director(self):
        """Moving a VIP to lo is advice for real servers: on a director (the VIP in its IPVS
        table or its keepalived.conf) it would break the service."""
        directed = role.director_vips(self.runtime_source, self.config_source)
        found = ["{} ({})".format(vip, directed[vip]) for vip in self.vips if vip in directed]
        if found:
            raise cli.PluginError("this host is a director for {}: check_vip_on_lo is for real "
                                  "servers (on a director, use check_vip_arp_owner)".format(
                                      ", ".join(found[:3])))

    def probe(self):
        self._refuse_on_a_director()
        present = links.read_links(self.runtime_source)
        safe = {name for name, link in present.items() if link.arp_silent}
        addresses = links.read_addresses(self.runtime_source)
        configured = None
        if self.persistence:
            configured = netconfig.read_all(self.config_source, sorted(present))
        live = _by_address(addresses)  # a kube-proxy node holds thousands: never VIPs x them
        boot = None if configured is None else _by_address(configured)
        placements = []
        for vip in self.vips:
            placement = VipPlacement(vip, live.get(vip, []),
                                     None if boot is None else boot.get(vip, []), safe)
            placements.append(placement)
            yield nagiosplugin.Metric(str(vip), placement, context="vip")
        yield nagiosplugin.Metric("vips", len(placements), min=0, context="vips")
        yield nagiosplugin.Metric("missing", sum(p.missing for p in placements), min=0,
                                  max=len(placements), context="missing")
        yield nagiosplugin.Metric("misplaced", sum(p.misplaced for p in placements), min=0,
                                  max=len(placements), context="misplaced")
        if self.persistence:
            yield nagiosplugin.Metric("unpersisted", sum(p.unpersisted for p in placements),
                                      min=0, max=len(placements), context="unpersisted")


def _by_address(entries):
    """{address: its entries, in their order} of live addresses or boot records."""
    found = collections.defaultdict(list)
    for entry in entries:
        found[entry.address].append(entry)
    return found


def _add_command(vip):
    return "ip addr add {}/{} dev lo".format(vip, vip.max_prefixlen)


# --- Evaluation: the Contexts decide each verdict, once ---

class VipContext(nagiosplugin.Context):
    """One VIP: CRITICAL when missing or misplaced now, WARNING when a reboot would lose it."""

    def __init__(self):
        super().__init__("vip")

    def evaluate(self, metric, resource):
        placement = metric.value
        vip = placement.vip
        if placement.missing:
            return self.result_cls(Critical, "{} is on no interface: add it with '{}'".format(
                vip, _add_command(vip)), metric)
        if placement.exposed:
            return self.result_cls(Critical, "{} is on {} (ARP-facing): neighbours resolve it "
                                             "to this host; delete it there, keep it on lo"
                                   .format(vip, ", ".join(a.interface for a in placement.exposed)),
                                   metric)
        if placement.too_wide:
            wide = placement.too_wide[0]
            return self.result_cls(Critical, "{} is on {} as /{}: the kernel takes all of {} as "
                                             "local; use /{}".format(
                                                 vip, wide.interface, wide.prefixlen, wide.network,
                                                 vip.max_prefixlen), metric)
        live = ", ".join("{}/{}".format(a.label, a.prefixlen) for a in placement.live)
        if placement.configured is None:
            return self.result_cls(Ok, "{} on {}; boot configuration not checked".format(
                vip, live), metric)
        if placement.misconfigured:
            wrong = "; ".join("{}/{} on {} ({})".format(vip, c.prefixlen, c.device, c.where)
                              for c in placement.misconfigured)
            also = " as well as right at {}".format(placement.persisted[0].where) \
                if placement.persisted else ""
            return self.result_cls(Warn, "{} on {} now, but after a reboot {}{}: configure it "
                                         "only as /{} on lo".format(
                                             vip, live, wrong, also, vip.max_prefixlen), metric)
        if placement.persisted:
            return self.result_cls(Ok, "{} on {}; at boot: {}".format(
                vip, live, placement.persisted[0].where), metric)
        if placement.dormant:
            dormant = placement.dormant[0]
            return self.result_cls(Warn, "{} on {} now, but a reboot loses it: {} {}".format(
                vip, live, dormant.where, dormant.inactive), metric)
        return self.result_cls(Warn, "{} on {} now, but no boot configuration adds it (looked at "
                                     "{}): a reboot loses it".format(vip, live, netconfig.FORMATS),
                               metric)


# --- Presentation: the Summary ---

class VipOnLoSummary(ItemSummary):
    """The worst VIP and how many are affected; -v lists every VIP."""

    context = "vip"
    noun = "VIP"

    def ok(self, results):
        vips = [r.metric.value for r in self.items(results)]
        persistence = vips and vips[0].configured is not None
        return "{} on lo as host address{}{}: {}".format(
            plural(len(vips), "VIP"), "" if len(vips) == 1 else "es",
            ", restored at boot" if persistence else "", ", ".join(str(p.vip) for p in vips))


# --- The command line: parser, Check, main ---

def build_parser():
    parser = cli.make_parser("check_vip_on_lo", __doc__)
    parser.add_argument("--vip", action="append", type=cli.comma_list, metavar="ADDRESS",
                        help="a VIP (repeatable, or a comma-separated list; IPv4 or IPv6)")
    target.add_options(parser)
    return parser


def make_check(runtime_source, config_source, vips, persistence=True):
    """The nagiosplugin Check of the command line (and, through server_check, the sweep)."""
    resource = VipOnLo(runtime_source, config_source, vips, persistence)
    return nagiosplugin.Check(
        resource, VipContext(),
        nagiosplugin.ScalarContext("vips"),
        nagiosplugin.ScalarContext("missing", critical="0"),
        nagiosplugin.ScalarContext("misplaced", critical="0"),
        nagiosplugin.ScalarContext("unpersisted", warning="0"),
        VipOnLoSummary())


def server_check(source, vips, persistence):
    """This check on a real server of the director's sweep, read through one source."""
    return make_check(source, source, vips, persistence)


def build_check(args):
    vips = links.parse_vips(cli.flatten(args.vip))
    runtime_source, config_source = target.sources(args)
    return make_check(runtime_source, config_source, vips, not args.no_persistence)


def main(argv=None):
    cli.run(NAME, build_parser(), build_check, argv)
