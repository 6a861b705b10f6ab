"""check_vip_arp_owner: who owns each VIP on the segment, and may it?

Runs on a director (master or backup: one command line for both) or on any host on the
VIPs' segment. Every VIP must have exactly one owner from the allowed set: this host when it
holds the VIP, otherwise one of the allowed MACs (--allow-mac, --expect-mac, the VRRP virtual
MAC of the VIP's keepalived instance). A MAC that is not allowed is a hijack; two owners at
once is a split brain (two MACs, one virtual MAC answering twice per probe, or two routers
advertising the VIP's VRID); no owner is CRITICAL. Silence proves nothing: witnesses (real
servers, the next hop, known neighbours, --witness) are probed in the same window, and a run
in which nothing at all answered is UNKNOWN.

States: OK, every VIP has one allowed owner and the probe was answered. WARNING, nothing
answered and no witness was found to prove the probe reached the segment. CRITICAL, a foreign
owner, a split brain or no owner. UNKNOWN, witnesses asked and none answered (this host is cut
off), or a setup error.

Perfdata: vips, responders, foreign_responders (critical above 0), split_brain (critical
above 0), silent_vips (critical above 0), witnesses, witnesses_answered, probes, duration.

Examples:
  on each director:  check_vip_arp_owner --sudo --from-keepalived
                       --allow-mac PEER_MAC
  from a third host: check_vip_arp_owner --from-keepalived COPY.conf
                       --expect-mac D1_MAC --expect-mac D2_MAC
  with use_vmac:     check_vip_arp_owner --from-keepalived COPY.conf
"""

import collections
import os
import sys

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from lvs_dr_checks import cli, options
from lvs_dr_checks.host import ipvs, keepalived, links
from lvs_dr_checks.host import segment as host_segment
from lvs_dr_checks.kernel import address_text
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.summary import ItemSummary, plural
from lvs_dr_checks.wire import privilege
from lvs_dr_checks.wire.channels import MAX_FRAMES, Channels

NAME = "VIP_ARP_OWNER"
log = cli.logger("vip_arp_owner")
# --- Acquisition: the Resource reads the host and yields its metrics ---

# The probe runs with CAP_NET_RAW, also on behalf of others (sudo): bounded in time and count.
MAX_PROBE_TIMEOUT = 300
MAX_COUNT = 10
NOBODY = frozenset()


class Responder(collections.namedtuple("Responder", "mac eth_macs kinds replies first last")):
    """A MAC heard for a VIP: the ARP sender MAC, the Ethernet sources it came from, whether
    it answered our probes ('reply') or sent packets from the VIP ('claim'), how many
    answers, and when it was first and last heard (seconds into the probe)."""


class Ownership:
    """The one decision about one VIP: who owns it, who may, and what follows; each drawn
    once, as the Ownership is made (a run makes thousands).

    ``holder``: this host holds the VIP (it never hears itself answer). ``probes``: probes
    sent for the VIP (one answer each per owner). ``vrrp_senders``: the routers heard
    advertising the VIP's VRID at the same time in the window (priority above 0; one after
    the other is a failover).

    ``foreign``: the responders not allowed. ``owners``: the allowed MACs heard owning the
    VIP, this host first when it holds it. ``doubled``: the allowed MACs that answered more
    often than we asked, two hosts behind one MAC (a VRRP virtual MAC on both directors);
    IPv4 only, an ARP answer being addressed to the prober while unsolicited neighbour
    advertisements look like answers. ``handover``: (old, new) when two allowed MACs were
    heard one after the other, never together: a failover during the window, not a split
    brain."""

    __slots__ = ("vip", "holder", "responders", "allowed", "probes", "vrrp_senders", "foreign",
                 "owners", "doubled", "handover", "split_brain", "silent")

    def __init__(self, vip, holder, responders, allowed, probes, vrrp_senders):
        self.vip, self.holder, self.responders = vip, holder, responders
        self.allowed, self.probes, self.vrrp_senders = allowed, probes, vrrp_senders
        heard, self.foreign, self.doubled, self.handover = [], [], [], None
        if responders:  # most VIPs of a silent segment have none: nothing to sort out
            heard = [r for r in responders if r.mac in allowed and r.eth_macs <= allowed]
            self.foreign = [r for r in responders if r not in heard]
            if vip.version == 4:
                self.doubled = [r.mac for r in heard if r.replies > probes]
        self.owners = (["this host"] if holder else []) + [r.mac for r in heard]
        if not holder and len(heard) == 2:
            old, new = sorted(heard, key=lambda r: r.first)
            if old.last < new.first:
                self.handover = old.mac, new.mac
        two_owners = len(self.owners) >= 2 and self.handover is None
        self.split_brain = bool(two_owners or self.doubled or len(vrrp_senders) >= 2)
        self.silent = not self.owners


class VipArpOwner(nagiosplugin.Resource):
    """Chooses the interface and the witnesses, probes every VIP in one window and sorts
    what was heard into one Ownership per VIP."""

    name = NAME

    def __init__(self, channels, source, vips, config, iface, allowed, names, witnesses,
                 timing, timeout):
        self.channels = channels
        self.source = source
        self.vips = vips
        self.config = config
        self.iface = iface
        self.allowed = allowed  # {vip: frozenset of allowed MACs}
        self.names = dict(names)
        self.witnesses = witnesses
        self.timing = timing
        self.timeout = timeout
        self.labels = {}
        self.asked = []
        self.own_mac = None
        self._allowed_texts = {}

    def probe(self):
        from lvs_dr_checks.wire import arp  # only on this path, after the privileges are gone

        segment = host_segment.locate(self.source, self.vips, self.iface, proven=False)
        iface, own_mac, holder = segment.iface, segment.mac, segment.holder
        unowned = [vip for vip, macs in self.allowed.items() if not macs and vip not in holder]
        if unowned:
            segment.prove([address_text(vip) for vip in unowned])  # off the segment, first
            raise cli.PluginError("this host does not hold {} and no owner is allowed for it: run "
                                  "the check where the VIP lives, or name the owners with "
                                  "--allow-mac / --expect-mac (or --from-keepalived with "
                                  "use_vmac)".format(", ".join(str(v) for v in unowned[:5])))
        roles = ipvs.realserver_roles(self.config.services)
        self.asked = host_segment.choose_witnesses(self.source, segment, self.vips, roles,
                                                   self.witnesses)
        targets = self.vips + self.asked
        run = arp.Probe(iface, own_mac, targets, admit=segment.prove, **self.timing)
        self._fits(run)
        try:
            run.run(self.channels)
        except BaseException:
            self.channels.close()
            raise
        self.channels.close_behind()
        self.iface, self.own_mac = iface, own_mac
        self.labels = host_segment.labels(self.source, iface, run.heard, roles, self.names)
        yield from self._decide(run, holder)

    def _fits(self, run):
        if run.frames > MAX_FRAMES:
            raise cli.PluginError("{} targets x --count {} is more than the {} probes one run may "
                                  "send: split the VIPs over several checks".format(
                                      len(run.targets), run.count, MAX_FRAMES))
        if run.window + 0.5 > self.timeout:
            raise cli.PluginError("the probe window ({:.1f}s for {}: --count, --interval, "
                                  "--wait, --listen) does not fit in -t {:g}s: raise -t".format(
                                      run.window, plural(len(run.targets), "target"),
                                      self.timeout))

    def _decide(self, run, holder):
        heard_by_ip = collections.defaultdict(list)
        for heard in run.heard:
            heard_by_ip[heard.ip].append(heard)
        # {VRID: the routers heard advertising it at once}; a VIP's VRID is sought only
        # when some were (thousands of VIPs, mostly none).
        senders = {vrid: frozenset(masters) for vrid, masters
                   in keepalived.masters_at_once(run.adverts).items() if masters}
        owners = []
        for vip, name in zip(self.vips, run.targets):  # the texts the probe made, VIPs first
            allowed = self.allowed[vip]
            vrrp = senders.get(keepalived.vrid_of(self.config, vip, allowed),
                               NOBODY) if senders else NOBODY
            heard = heard_by_ip.get(name)
            owners.append(Ownership(vip, bool(holder) and vip in holder,
                                    _responders(heard) if heard else [], allowed, run.count,
                                    vrrp))
            yield nagiosplugin.Metric(name, owners[-1], context="vip_owner")
        answered = [w for w in self.asked
                    if any(h.kind == "reply" for h in heard_by_ip.get(str(w), ()))]
        replied = any(h.kind == "reply" for h in run.heard)
        yield nagiosplugin.Metric("witnesses", Reach(self.asked, answered, replied, self.iface),
                                  context="reach")
        yield nagiosplugin.Metric("vips", len(owners), min=0, context="count")
        yield nagiosplugin.Metric("responders", len({r.mac for o in owners for r in o.responders}),
                                  min=0, context="count")
        yield nagiosplugin.Metric("foreign_responders",
                                  len({r.mac for o in owners for r in o.foreign}), min=0,
                                  context="foreign_responders")
        yield nagiosplugin.Metric("split_brain", sum(o.split_brain for o in owners), min=0,
                                  max=len(owners), context="split_brain")
        yield nagiosplugin.Metric("silent_vips", sum(o.silent for o in owners), min=0,
                                  max=len(owners), context="silent_vips")
        yield nagiosplugin.Metric("witnesses_answered", len(answered), min=0,
                                  max=len(self.asked), context="count")
        yield nagiosplugin.Metric("probes", run.sent, min=0, context="count")
        yield nagiosplugin.Metric("duration", round(run.duration, 3), "s", min=0, context="count")

    def describe(self, mac):
        if mac == "this host":
            return "this host ({})".format(self.own_mac)
        label = self.labels.get(mac)
        return "{} ({})".format(mac, label) if label else mac

    def describe_allowed(self, allowed):
        """The MACs allowed for a VIP, each described; made once for each set (thousands of
        VIPs share one)."""
        if allowed not in self._allowed_texts:
            self._allowed_texts[allowed] = ", ".join(self.describe(m) for m in sorted(allowed))
        return self._allowed_texts[allowed]

    def describe_responder(self, responder):
        text = self.describe(responder.mac)
        others = sorted(responder.eth_macs - {responder.mac})
        if others:
            text += " sent from Ethernet source {}".format(", ".join(others))
        if responder.kinds == {"claim"}:
            text += " claiming it in its own ARP packets"
        return text


# --- Evaluation: the Contexts decide each verdict, once ---

def _responders(heard):
    """One Responder per ARP sender MAC (or link-layer address of an advertisement), from
    the packets heard for one VIP in the order they were read."""
    by_mac = {}
    for h in heard:
        by_mac.setdefault(h.arp_mac, []).append(h)
    responders = []
    for mac, packets in by_mac.items():
        kinds = [h.kind for h in packets]
        responders.append(Responder(mac, frozenset([h.eth_mac for h in packets]),
                                    frozenset(kinds), kinds.count("reply"), packets[0].at,
                                    packets[-1].at))
    return sorted(responders)


Reach = collections.namedtuple("Reach", "asked answered replied iface")
Reach.__doc__ = ("Proof that the probe reached the segment: the witnesses asked and those "
                 "that answered; ``replied``: anything at all answered a probe.")


class OwnerContext(nagiosplugin.Context):
    """One VIP: a foreign owner, a split brain or no owner is CRITICAL; one allowed owner OK."""

    def __init__(self):
        super().__init__("vip_owner")

    def evaluate(self, metric, resource):
        owner = metric.value
        vip = metric.name  # the VIP's text
        if owner.foreign:
            return self.result_cls(Critical, "VIP {} answered by {}".format(
                vip, ", ".join(resource.describe_responder(r) for r in owner.foreign)), metric)
        if owner.split_brain:
            return self.result_cls(Critical, "split brain: VIP {} owned by {}".format(
                vip, _evidence(owner, resource)), metric)
        if owner.silent:
            return self.result_cls(Critical, "nothing answers for VIP {} (allowed: {})".format(
                vip, resource.describe_allowed(owner.allowed)), metric)
        text = "VIP {} owned by {}".format(vip, resource.describe(owner.owners[-1]))
        if owner.handover:
            text += " (taken over from {} during the probe)".format(
                resource.describe(owner.handover[0]))
        return self.result_cls(Ok, text, metric)


def _evidence(owner, resource):
    owners = list(dict.fromkeys(owner.owners))
    parts = [" and ".join(resource.describe(m) for m in owners)] if len(owners) >= 2 else []
    parts += ["{} answering {} times to {} probes (two hosts behind one MAC)".format(
        resource.describe(mac), next(r.replies for r in owner.responders if r.mac == mac), owner.probes)
        for mac in owner.doubled]
    if len(owner.vrrp_senders) >= 2:
        parts.append("VRRP advertisements from {} at once".format(
            " and ".join(sorted(owner.vrrp_senders))))
    return "; ".join(parts)


class ReachContext(nagiosplugin.Context):
    """Silence is not health: UNKNOWN when the witnesses asked all stayed silent and nothing
    else answered; WARNING when nothing answered and there was no witness to ask."""

    def __init__(self):
        super().__init__("reach")

    def evaluate(self, metric, resource):
        reach = metric.value
        if reach.replied:
            if not reach.asked:
                return self.result_cls(Ok, "the probe was answered", metric)
            return self.result_cls(Ok, "{} of {} answered".format(
                len(reach.answered), plural(len(reach.asked), "witness", "witnesses")), metric)
        if reach.asked:
            return self.result_cls(Unknown, "nothing answered on {}, not even the witnesses "
                                            "asked ({}): this host does not reach the segment; "
                                            "check the link, the switch port and the VLAN of {}"
                                   .format(reach.iface, ", ".join(str(w) for w in reach.asked[:5]),
                                           reach.iface), metric)
        return self.result_cls(Warn, "nothing answered on {} and no witness was found to prove "
                                     "that the probe reached the segment: name one with "
                                     "--witness (the gateway, a real server)".format(reach.iface),
                               metric)

    def performance(self, metric, resource):
        return nagiosplugin.Performance("witnesses", len(metric.value.asked), min=0)


# --- Presentation: the Summary ---

class OwnerSummary(ItemSummary):
    """The worst finding first (a silent segment before the VIPs it makes unprovable), and
    how many VIPs are affected; -v: one line per VIP."""

    context = "vip_owner"
    noun = "VIP"

    def __init__(self, resource):
        self.resource = resource

    def ok(self, results):
        return "{} probed on {}: each owned by one allowed owner; {}".format(
            plural(len(self.items(results)), "VIP"), self.resource.iface,
            results["witnesses"].hint)

    def problem(self, results):
        reach = results["witnesses"]
        if reach.state in (Unknown, Warn) and reach.state == results.most_significant_state:
            return str(reach)
        return super().problem(results)

    def verbose(self, results):
        return super().verbose(results) + ["{}: reach: {}".format(
            str(results["witnesses"].state).upper(), results["witnesses"])]


# --- The command line: parser, Check, main ---

def build_parser():
    parser = cli.make_parser("check_vip_arp_owner", __doc__, max_timeout=MAX_PROBE_TIMEOUT)
    options.add_vips(parser, "a VIP to probe")
    options.add_interface(parser, "probe on this interface (default: the one holding the VIPs, "
                                  "else the one whose subnet holds them or routes to them; a "
                                  "vmac or VLAN interface is probed on its lower device)")
    options.add_deprecated(parser, "-I", "-i/--interface", "interface")
    options.add_owners(parser, "the same as --allow-mac, for the owners a third host expects; "
                               "exactly one owner may answer at a time, and silence is "
                               "CRITICAL")
    parser.add_argument("--witness", action="append", type=cli.comma_list, default=[],
                        metavar="ADDRESS", help="an address on the segment that must answer "
                                                "(repeatable): proves that the probe reached it")
    parser.add_argument("--count", type=int, default=2, metavar="N",
                        help="probes per VIP (default %(default)s, at most {})".format(MAX_COUNT))
    parser.add_argument("--interval", type=cli.positive_seconds, default=0.25, metavar="SECONDS",
                        help="between rounds of probes (default %(default)g)")
    parser.add_argument("--wait", type=cli.positive_seconds, default=1.0, metavar="SECONDS",
                        help="keep listening after the last probe (default %(default)g)")
    parser.add_argument("--listen", type=cli.seconds_up_to(MAX_PROBE_TIMEOUT, zero=True),
                        default=0.0, metavar="SECONDS",
                        help="listen this much longer: gratuitous ARP, unsolicited neighbour "
                             "advertisements, arp_announce leaks, VRRP; owners that follow one "
                             "another are a failover, owners at once a split brain")
    parser.add_argument(privilege.SUDO_OPTION, action="store_true",
                        help="when not root: run through 'sudo -n' and the shipped sudo rule; "
                             "a refusal by sudo is UNKNOWN (sudo's own exit 1 would read as "
                             "WARNING)")
    return parser


def build_check(args):
    # The arguments themselves first (a bad one is named whoever runs it); then the
    # privileged work and only that: the sockets and the pacing file; then the invoking
    # user's identity for everything the command line names (the files).
    for text in cli.flatten(args.vip):
        links.vip_address(text)
    for text in cli.flatten(args.witness):
        links.vip_address(text, "--witness")
    if not cli.flatten(args.vip) and args.from_keepalived is None and args.from_ipvs is None:
        raise cli.PluginError(links.NO_VIP_GIVEN + links.OR_FROM_CONFIGURATION)
    if not 1 <= args.count <= MAX_COUNT:
        raise cli.PluginError("--count {} must be between 1 and {}".format(args.count, MAX_COUNT))
    channels = Channels()
    try:
        privilege.drop_privileges()
        return _build_check(args, channels)
    except BaseException:
        channels.close()
        raise


def _read_named(option, path, reader):
    """A file named on the command line, read as the invoking user; any read error is one
    message that tells nothing about the file (see privilege.unreadable)."""
    try:
        return reader(Source("/"), path)
    except cli.PluginError as exc:
        if str(exc).startswith(path + ":"):
            raise privilege.unreadable(option, path)
        raise


def _build_check(args, channels):
    config = keepalived.from_options(args.from_keepalived, args.from_ipvs, _read_named)
    vips = links.parse_vips(cli.flatten(args.vip) + config.vips(),
                            links.OR_FROM_CONFIGURATION)
    allowed = options.owners(args, vips, config)
    witnesses = [links.vip_address(w, "--witness") for w in cli.flatten(args.witness)]
    timing = {"count": args.count, "interval": args.interval, "wait": args.wait,
              "listen": args.listen}
    resource = VipArpOwner(channels, Source("/"), vips, config, args.interface, allowed,
                           args.name, witnesses, timing, args.timeout)
    return nagiosplugin.Check(
        resource, OwnerContext(), ReachContext(),
        nagiosplugin.ScalarContext("count"),
        nagiosplugin.ScalarContext("foreign_responders", critical="0"),
        nagiosplugin.ScalarContext("split_brain", critical="0"),
        nagiosplugin.ScalarContext("silent_vips", critical="0"),
        OwnerSummary(resource))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if privilege.SUDO_OPTION in argv and os.geteuid() != 0:
        privilege.rerun_through_sudo(NAME, [a for a in argv if a != privilege.SUDO_OPTION])
    cli.run(NAME, build_parser(), build_check, argv)
