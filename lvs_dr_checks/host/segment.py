"""The VIPs' segment as this host sees it: the interface that carries them (the lower device
of the one holding them, else of the one whose subnet holds them or routes to them), whether
it can carry ARP at all, and which VIPs this host holds there itself (also on a device
stacked on it, such as keepalived's vmac). The probe and the watcher both start here."""

import collections
import ipaddress
from collections.abc import Sequence
from typing import Optional

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.host import keepalived, links
from lvs_dr_checks.kernel import IP, address_text
from lvs_dr_checks.source.local import Source

log = logger("segment")
# Neighbours taken as witnesses at most (the real servers and the next hop come first).
MAX_NEIGHBOUR_WITNESSES = 16


class Segment(collections.namedtuple("Segment", "iface mac addresses holder routed")):
    """The interface to probe, its MAC, its addresses (those of devices stacked on it
    counted as its own), the VIPs this host holds on it, and the VIPs on it only by a
    route (``routed``, a Routed: each proven when asked)."""

    def prove(self, targets: Sequence[str]) -> None:
        """Nothing when each target (an address's text) is on the segment, else the
        PluginError that names the fix; waits for the routes of those on it by a route."""
        self.routed.prove(targets)


def _ambiguous(interfaces):
    return PluginError("cannot tell which interface to probe ({}): name it with -i".format(
        ", ".join(sorted(interfaces)) or "no route to the VIPs"))


class Routed:
    """The VIPs neither held on the segment's interface nor inside its subnets: there only if
    the kernel routes them through it (RouteLookups, read while they come). When the
    interface was itself chosen by the VIPs' subnets and routes, a VIP routed through
    another is no telling which interface to probe."""

    def __init__(self, source: Source, iface: str, vips: dict[str, IP],
                 lookups: links.RouteLookups, chosen_by_routes: bool):
        self.source = source
        self.iface = iface
        self.vips = vips  # {text: VIP}
        self.lookups = lookups
        self.chosen_by_routes = chosen_by_routes
        self._lowers: dict[str, str] = {}

    def prove(self, targets: Sequence[str]) -> None:
        away: list[IP] = []
        elsewhere: set[str] = set()
        for target in targets:
            vip = self.vips.get(target)
            route = None if vip is None else self.lookups.interface(vip)
            if vip is None or route == self.iface:
                continue
            lower = route and self._lower(route)
            if self.chosen_by_routes and lower and lower != self.iface:
                elsewhere.add(lower)
            else:
                away.append(vip)
        if elsewhere:
            raise _ambiguous(elsewhere | {self.iface})
        if away:
            raise PluginError("{} not on the segment of {} (held there, in its subnets, or "
                              "routed through it): probes go out only where the VIPs live; "
                              "name that interface with -i".format(
                                  ", ".join(str(v) for v in away[:5]), self.iface))

    def _lower(self, name):
        if name not in self._lowers:
            self._lowers[name] = links.lower_device(self.source, name)
        return self._lowers[name]


def _interface(source, vips, iface, present, addresses, held_on):
    """(the interface to probe, the route lookups started to choose it or None): -i, else
    the holder of the VIPs, else the interfaces whose subnets hold them, else the route of
    the first VIP the kernel routes."""
    lookups = None
    if iface:
        if iface not in present:
            raise PluginError("no interface {} here (present: {})".format(
                iface, ", ".join(sorted(present))))
        chosen = {iface}
    else:
        chosen = set(held_on.values())
        if not chosen:
            subnets = links.Subnets.of_interfaces(
                a for a in addresses if present.get(a.interface) and present[a.interface].arp_facing)
            inside = [subnets.holding(vip) for vip in vips]
            chosen = set().union(*inside)
            lookups = links.RouteLookups(source, [vip for vip, names in zip(vips, inside)
                                                  if not names])
            if not chosen:
                routes = (lookups.interface(vip) for vip in lookups.asked)
                chosen = {next((route for route in routes if route), None)} - {None}
    lowers = {links.lower_device(source, name) for name in chosen}
    if len(lowers) != 1:
        raise _ambiguous(lowers)
    return lowers.pop(), lookups


def _usable(link):
    if link.arp_silent:
        raise PluginError("interface {} does not do ARP (loopback or NOARP): name the VIPs' "
                          "segment with -i".format(link.name))
    if not link.up or link.operstate in ("down", "lowerlayerdown", "notpresent"):
        raise PluginError("interface {} is down ({}): nothing can be probed; bring it up or "
                          "name another with -i".format(link.name, link.operstate))


def _stacked(source, present):
    """{device: its lower device} for the ARP-facing devices stacked on another."""
    lowers = {name: links.lower_device(source, name) for name in present
              if present[name].arp_facing}
    return {name: lower for name, lower in lowers.items() if lower != name}


def _held_on(present, addresses, vips):
    """{VIP: the ARP-facing interface that holds it} for the VIPs held here."""
    wanted = set(vips)
    return {a.address: a.interface for a in addresses if a.address in wanted
            and present.get(a.interface) and present[a.interface].arp_facing}


def _holder(iface, held_on, stacked):
    return frozenset(vip for vip, name in held_on.items()
                     if name == iface or stacked.get(name) == iface)


def locate(source: Source, vips: Sequence[IP], iface: Optional[str] = None,
           proven: bool = True) -> Segment:
    """The Segment of ``vips`` (on ``iface`` when given); a PluginError naming the fix when
    the interface is missing, down, ARP-less, ambiguous, or when a VIP is not on it.
    ``proven=False``: the VIPs on the segment only by a route are left for Segment.prove(),
    which the probe asks as each VIP's first probe falls due."""
    present = links.read_links(source)
    addresses = links.read_addresses(source)
    stacked = _stacked(source, present)
    held_on = _held_on(present, addresses, vips)
    iface, lookups = _interface(source, vips, iface, present, addresses, held_on)
    _usable(present[iface])
    own = [a._replace(interface=iface) for a in addresses
           if a.interface == iface or stacked.get(a.interface) == iface]
    left = links.off_subnets(iface, own, vips)
    chosen_by_routes = lookups is not None
    if lookups is None or not all(vip in lookups.asked for vip in left):
        lookups = links.RouteLookups(source, left)
    texts = lookups.texts if len(lookups.asked) == len(left) else \
        {address_text(vip): vip for vip in left}
    routed = Routed(source, iface, texts, lookups, chosen_by_routes)
    segment = Segment(iface, links.read_mac(source, iface), own,
                      _holder(iface, held_on, stacked), routed)
    if proven:
        segment.prove(list(routed.vips))
    return segment


def holder(source: Source, vips: Sequence[IP], iface: str) -> frozenset:
    """The VIPs this host holds now on ``iface`` or a device stacked on it: the Segment's
    holder, read again without choosing the interface and looking up every VIP's route
    (the watcher asks at the close of every round)."""
    present = links.read_links(source)
    held_on = _held_on(present, links.read_addresses(source), vips)
    return _holder(iface, held_on, _stacked(source, present))


def _unicast(text):
    """A neighbour's or gateway's address as a witness: global unicast only (a link-local
    one needs a scope, and the probes are addressed to the segment anyway)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return None if address.is_link_local or address.is_multicast else address


def choose_witnesses(source: Source, segment: Segment, vips: Sequence[IP],
                     roles: Sequence[IP], given: Sequence[IP]) -> list[IP]:
    """Addresses that must answer if a probe reaches the segment: the real servers
    (``roles``), the next hop, the neighbours the kernel has heard from, and ``given``
    (--witness, which must be on the segment)."""
    iface = segment.iface
    own = {a.address for a in segment.addresses}
    heard = [str(n.address) for n in links.read_neighbours(source, iface) if n.heard]
    candidates = links.default_gateways(source, iface) + heard
    found = list(roles) + [address for address in map(_unicast, candidates)
                           if address is not None][:MAX_NEIGHBOUR_WITNESSES + 2]
    probed = set(vips)
    found = [w for w in dict.fromkeys(found + list(given)) if w not in probed and w not in own]
    away = set(links.off_segment(source, iface, segment.addresses, found))
    outside = [w for w in given if w in away]
    if outside:
        raise PluginError("--witness {} is not on the segment of {}: a witness must answer "
                          "there".format(outside[0], iface))
    for witness in away:
        log.info("%s is not on the segment of %s: not a witness", witness, iface)
    return [w for w in found if w not in away]


def labels(source: Source, iface: str, heard: Sequence, roles: dict,
           names: dict[str, str]) -> dict[str, str]:
    """MAC -> how the suite names it: --name first, then 'VRRP virtual MAC of ...', then the
    address (and real-server roles) from the real servers' own replies in ``heard`` and
    the neighbour table."""
    found = {}
    roles_of = {str(ip): texts for ip, texts in roles.items()}
    addresses = {n.mac: str(n.address) for n in links.read_neighbours(source, iface) if n.mac}
    addresses.update({h.arp_mac: h.ip for h in heard
                      if h.kind == "reply" and h.ip in roles_of})
    for mac, ip in addresses.items():
        found[mac] = ", ".join([ip] + roles_of.get(ip, []))
    for h in heard:
        vrrp = keepalived.vrrp_mac(h.arp_mac)
        if vrrp:
            found[h.arp_mac] = "VRRP virtual MAC of an IPv{} instance, VRID {}".format(*vrrp)
    found.update(names)
    return found
