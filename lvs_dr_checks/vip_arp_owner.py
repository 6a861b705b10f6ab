"""check_vip_arp_owner: which MACs answer ARP for the VIPs, or claim them, and may they?

Runs on the director (or any host on the VIPs' segment). The packets are lvs_dr_checks.arp's;
this module decides which interface, who may answer, and presents the findings.
"""

import collections
import os
import re
import sys

import nagiosplugin
from nagiosplugin.state import Critical, Ok

from lvs_dr_checks import cli, ipvs, links, privilege
from lvs_dr_checks.channels import MAX_FRAMES, Channels
from lvs_dr_checks.source import Source
from lvs_dr_checks.summary import ItemSummary, plural

NAME = "VIP_ARP_OWNER"
log = cli.logger("vip_arp_owner")
# The probe runs with CAP_NET_RAW, also on behalf of others (sudo): bounded in time and count.
MAX_PROBE_TIMEOUT = 300
MAX_COUNT = 10
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def parse_mac(text):
    mac = text.strip().lower().replace("-", ":")
    if not _MAC.match(mac):
        raise cli.argparse.ArgumentTypeError("not a MAC address (aa:bb:cc:dd:ee:ff): {!r}".format(text))
    return mac


def parse_name(text):
    mac, sep, label = text.partition("=")
    if not sep or not label.strip():
        raise cli.argparse.ArgumentTypeError("expected MAC=LABEL: {!r}".format(text))
    return parse_mac(mac), label.strip()


class Responder(collections.namedtuple("Responder", "mac eth_macs kinds")):
    """A MAC heard for a VIP: the ARP sender MAC, the Ethernet sources it came from, and
    whether it answered our probes ('reply') or sent packets from the VIP ('claim')."""


class Ownership(collections.namedtuple("Ownership", "vip holder responders allowed expected")):
    """Who answered for one VIP, and who may: ``holder`` when this host holds the VIP."""

    def is_allowed(self, responder):
        return responder.mac in self.allowed and responder.eth_macs <= self.allowed

    @property
    def foreign(self):
        return [r for r in self.responders if not self.is_allowed(r)]

    @property
    def silent(self):
        """In expect mode: no expected MAC answered."""
        return bool(self.expected) and not any(r.mac in self.expected for r in self.responders)


class VipArpOwner(nagiosplugin.Resource):
    """Chooses the interface, probes every VIP in one window and sorts what was heard."""

    name = NAME

    def __init__(self, channels, source, vips, services, iface, allow, expect, names, timing):
        self.channels = channels
        self.source = source
        self.vips = vips
        self.services = services
        self.iface = iface
        self.allow = set(allow)
        self.expect = set(expect)
        self.names = dict(names)
        self.timing = timing
        self.labels = {}

    def _interface(self, present, addresses):
        if self.iface:
            if self.iface not in present:
                raise cli.PluginError("no interface {} here (present: {})".format(
                    self.iface, ", ".join(sorted(present))))
            return self.iface
        holding = {a.interface for a in addresses
                   if a.address in self.vips and present.get(a.interface)
                   and present[a.interface].arp_facing}
        routed = holding or {links.route_interface(self.source, vip) for vip in self.vips}
        routed.discard(None)
        if len(routed) != 1:
            raise cli.PluginError("cannot tell which interface to probe ({}): name it with -I"
                                  .format(", ".join(sorted(routed)) or "no route to the VIPs"))
        return routed.pop()

    @staticmethod
    def _usable(link):
        if link.arp_silent:
            raise cli.PluginError("interface {} does not do ARP (loopback or NOARP): name the "
                                  "VIPs' segment with -I".format(link.name))
        if not link.up or link.operstate in ("down", "lowerlayerdown", "notpresent"):
            raise cli.PluginError("interface {} is down ({}): nothing can be probed; bring it up "
                                  "or name another with -I".format(link.name, link.operstate))

    def _on_segment(self, iface, addresses, vips, roles):
        """Probes go out only on the VIPs' own segment: a VIP must be held on ``iface``, in one
        of its subnets, or routed through it. Real servers elsewhere are not probed."""
        away = links.off_segment(self.source, iface, addresses, vips)
        if away:
            raise cli.PluginError("{} not on the segment of {} (held there, in its subnets, or "
                                  "routed through it): probes go out only where the VIPs live; "
                                  "name that interface with -I".format(
                                      ", ".join(str(v) for v in away[:5]), iface))
        for ip in links.off_segment(self.source, iface, addresses, list(roles)):
            log.info("real server %s is not on the segment of %s: not probed", ip, iface)
            del roles[ip]

    def probe(self):
        from lvs_dr_checks import arp  # scapy: only on this path, after the privileges are gone

        present = links.read_links(self.source)
        addresses = links.read_addresses(self.source)
        iface = self._interface(present, addresses)
        self._usable(present[iface])
        own_mac = links.read_mac(self.source, iface)
        roles = ipvs.realserver_roles(self.services)
        self._on_segment(iface, addresses, self.vips, roles)
        vips = set(self.vips)
        held = {a.address for a in addresses if a.address in vips}
        not_held = [vip for vip in self.vips if vip not in held]
        if not_held and not self.expect:
            raise cli.PluginError("this host does not hold {}: run the check where the VIP lives "
                                  "(the director) or name the owner with --expect-mac".format(
                                      ", ".join(str(v) for v in not_held[:5])))
        targets = self.vips + [ip for ip in roles if ip not in vips]
        try:
            run = arp.Probe(iface, own_mac, targets, **self.timing).run(self.channels)
        finally:
            self.channels.close()
        self._learn_labels(run.heard, iface, roles)
        responders = collections.defaultdict(dict)
        for heard in run.heard:
            known = responders[heard.ip].get(heard.arp_mac)
            eth_macs = (known.eth_macs if known else frozenset()) | {heard.eth_mac}
            kinds = (known.kinds if known else frozenset()) | {heard.kind}
            responders[heard.ip][heard.arp_mac] = Responder(heard.arp_mac, eth_macs, kinds)
        self.iface, self.own_mac = iface, own_mac
        owners = []
        for vip in self.vips:
            holder = vip in held
            allowed = self.allow | self.expect | ({own_mac} if holder else set())
            found = sorted(responders[str(vip)].values())
            owners.append(Ownership(vip, holder, found, frozenset(allowed), frozenset(self.expect)))
            yield nagiosplugin.Metric(str(vip), owners[-1], context="vip_owner")
        yield nagiosplugin.Metric("vips", len(owners), min=0, context="vips")
        yield nagiosplugin.Metric("responders", len({r.mac for o in owners for r in o.responders}),
                                  min=0, context="responders")
        yield nagiosplugin.Metric("foreign_responders",
                                  len({r.mac for o in owners for r in o.foreign}), min=0,
                                  context="foreign_responders")
        if self.expect:
            yield nagiosplugin.Metric("silent_vips", sum(o.silent for o in owners), min=0,
                                      max=len(owners), context="silent_vips")
        yield nagiosplugin.Metric("probes", run.sent, min=0, context="probes")
        yield nagiosplugin.Metric("duration", round(run.duration, 3), "s", min=0,
                                  context="duration")

    def _learn_labels(self, heard, iface, roles):
        """MAC -> 'ip, role' from --name, the real servers' own replies and the neighbours."""
        roles_of = {str(ip): texts for ip, texts in roles.items()}
        addresses = dict(links.read_neighbours(self.source, iface))
        addresses.update({h.arp_mac: h.ip for h in heard
                          if h.kind == "reply" and h.ip in roles_of})
        for mac, ip in addresses.items():
            self.labels[mac] = ", ".join([ip] + roles_of.get(ip, []))
        self.labels.update(self.names)

    def describe(self, responder):
        label = self.labels.get(responder.mac)
        text = "{} ({})".format(responder.mac, label) if label else responder.mac
        others = sorted(responder.eth_macs - {responder.mac})
        if others:
            text += " sent from Ethernet source {}".format(", ".join(others))
        if responder.kinds == {"claim"}:
            text += " claiming it in its own ARP packets"
        return text


class OwnerContext(nagiosplugin.Context):
    """CRITICAL for any MAC that answers or claims a VIP without being allowed to, and in
    expect mode for a VIP that no expected MAC answers."""

    def __init__(self):
        super().__init__("vip_owner")

    def evaluate(self, metric, resource):
        owner = metric.value
        if owner.foreign:
            return self.result_cls(Critical, "VIP {} answered by {}".format(
                owner.vip, ", ".join(resource.describe(r) for r in owner.foreign)), metric)
        if owner.silent:
            if not owner.responders:
                return self.result_cls(Critical, "nothing answers for VIP {}".format(owner.vip),
                                       metric)
            return self.result_cls(Critical, "VIP {} not answered by the expected {}, only by {}"
                                   .format(owner.vip, ", ".join(sorted(owner.expected)),
                                           ", ".join(resource.describe(r)
                                                     for r in owner.responders)), metric)
        if owner.responders:
            return self.result_cls(Ok, "VIP {} answered by {}".format(
                owner.vip, ", ".join(resource.describe(r) for r in owner.responders)), metric)
        return self.result_cls(Ok, "VIP {}: no other host answers".format(owner.vip), metric)


class OwnerSummary(ItemSummary):
    """The worst VIP and how many are affected; -v: one line per VIP and foreign MAC."""

    context = "vip_owner"
    noun = "VIP"

    def __init__(self, resource):
        self.resource = resource

    def ok(self, results):
        return "{} probed on {}: {}".format(
            plural(len(self.items(results)), "VIP"), self.resource.iface,
            "answered only by the expected MACs" if self.resource.expect
            else "no other host answers")

    def verbose(self, results):
        lines = []
        for result in self.ordered(results):
            owner = result.metric.value
            state = str(result.state).upper()
            if owner.foreign:
                lines.extend("{}: VIP {} answered by {}".format(
                    state, owner.vip, self.resource.describe(r)) for r in owner.foreign)
            else:
                lines.append("{}: {}".format(state, result))
        return lines


def build_parser():
    parser = cli.make_parser(
        "check_vip_arp_owner",
        "Probes ARP for the VIPs of an LVS-DR cluster from the director (or any host on the "
        "segment) and flags every MAC that answers or claims a VIP but should not. Needs "
        "CAP_NET_RAW.")
    parser.add_argument("--vip", action="append", type=cli.comma_list, metavar="ADDRESS",
                        help="a VIP to probe (repeatable, or a comma-separated list)")
    parser.add_argument("--from-ipvs", nargs="?", const=ipvs.PROC_IP_VS, type=os.path.abspath, metavar="PATH",
                        help="take the VIPs and the direct-routing real servers from the IPVS "
                             "table (default %(const)s; saved 'ipvsadm -Ln' output also works)")
    parser.add_argument("-I", "--interface", metavar="IFACE",
                        help="probe on this interface (default: the ARP-facing one holding the "
                             "VIP, else the one routing to it)")
    parser.add_argument("--allow-mac", action="append", type=parse_mac, default=[], metavar="MAC",
                        help="a MAC that may answer too (backup director, VRRP virtual MAC)")
    parser.add_argument("--expect-mac", action="append", type=parse_mac, default=[],
                        metavar="MAC", help="on a host that does not hold the VIP: the MAC that "
                                            "must answer (silence is CRITICAL)")
    parser.add_argument("--name", action="append", type=parse_name, default=[],
                        metavar="MAC=LABEL", help="name a MAC in the output")
    parser.add_argument("--count", type=int, default=2, metavar="N",
                        help="probes per VIP (default %(default)s, at most {})".format(MAX_COUNT))
    parser.add_argument(privilege.SUDO_OPTION, action="store_true",
                        help="when not root: run through 'sudo -n' and the shipped sudo rule; "
                             "a refusal by sudo is UNKNOWN (sudo's own exit 1 would read as "
                             "WARNING)")
    parser.add_argument("--interval", type=cli.positive_seconds, default=0.25, metavar="SECONDS",
                        help="between rounds of probes (default %(default)g)")
    parser.add_argument("--wait", type=cli.positive_seconds, default=1.0, metavar="SECONDS",
                        help="keep listening after the last probe (default %(default)g)")
    parser.add_argument("--listen", type=cli.positive_seconds, default=0.0, metavar="SECONDS",
                        help="listen this much longer for ARP packets sent from a VIP by a MAC "
                             "that is not allowed (gratuitous ARP, arp_announce leaks)")
    return parser


def build_check(args):
    # Privileged work first and only: the sockets and the pacing file; then the invoking
    # user's identity for everything the command line names.
    channels = Channels()
    try:
        privilege.drop_privileges()
        return _build_check(args, channels)
    except BaseException:
        channels.close()
        raise


def _read_ipvs(path):
    try:
        return ipvs.read(Source("/"), path)
    except cli.PluginError as exc:
        if str(exc).startswith(path + ":"):  # a read error, not a parse error
            raise privilege.unreadable("--from-ipvs", path)
        raise


def _build_check(args, channels):
    if args.timeout > MAX_PROBE_TIMEOUT:
        raise cli.PluginError("-t {:g} is more than the probe allows ({}s)".format(
            args.timeout, MAX_PROBE_TIMEOUT))
    if not 1 <= args.count <= MAX_COUNT:
        raise cli.PluginError("--count {} must be between 1 and {}".format(args.count, MAX_COUNT))
    services = _read_ipvs(args.from_ipvs) if args.from_ipvs else []
    vips = links.parse_vips(cli.flatten(args.vip) + [str(s.vip) for s in services])
    timing = {"count": args.count, "interval": args.interval, "wait": args.wait,
              "listen": args.listen}
    from lvs_dr_checks.arp import Probe  # scapy, now that the privileges are gone
    planned = Probe(None, None, list(dict.fromkeys(vips + list(ipvs.direct_routing(services)))),
                    **timing)
    if planned.frames > MAX_FRAMES:
        raise cli.PluginError("{} targets x --count {} is more than the {} probes one run may "
                              "send: split the VIPs over several checks".format(
                                  len(planned.targets), args.count, MAX_FRAMES))
    window = planned.window
    if window + 0.5 > args.timeout:
        raise cli.PluginError("the probe window ({:.1f}s: --count, --interval, --wait, --listen) "
                              "does not fit in -t {:g}s: raise -t".format(window, args.timeout))
    resource = VipArpOwner(channels, Source("/"), vips, services, args.interface, args.allow_mac,
                           args.expect_mac, args.name, timing)
    return nagiosplugin.Check(
        resource, OwnerContext(),
        nagiosplugin.ScalarContext("vips"),
        nagiosplugin.ScalarContext("responders"),
        nagiosplugin.ScalarContext("foreign_responders", critical="0"),
        nagiosplugin.ScalarContext("silent_vips", critical="0"),
        nagiosplugin.ScalarContext("probes"),
        nagiosplugin.ScalarContext("duration"),
        OwnerSummary(resource))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if privilege.SUDO_OPTION in argv and os.geteuid() != 0:
        privilege.rerun_through_sudo(NAME, [a for a in argv if a != privilege.SUDO_OPTION])
    cli.run(NAME, build_parser(), build_check, argv)
