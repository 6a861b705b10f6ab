"""Interfaces and their addresses, as the kernel reports them.

Flags come from /sys/class/net (the same path locally and over SFTP); addresses from
iproute2, ``ip -j addr`` or, for iproute2 without JSON, ``ip -o addr``.
"""

import collections
import ipaddress
import json
import re
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, Optional, Union

from lvs_dr_checks import kernel
from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.kernel import IP, address_text, parse_address
from lvs_dr_checks.source.local import Source, json_output

log = logger("links")

SYS_NET = "/sys/class/net"
IP_COMMANDS = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")


class Link(collections.namedtuple("Link", "name flags operstate enslaved")):
    """A network interface: flags (IFF_*), operstate, and whether a bridge or bond owns it."""

    @property
    def arp_facing(self) -> bool:
        return kernel.is_arp_facing(self.flags, self.enslaved)

    @property
    def arp_silent(self) -> bool:
        """Loopback or NOARP: the interface answers no ARP itself."""
        return kernel.holds_vip_safely(self.flags)

    @property
    def up(self) -> bool:
        return bool(self.flags & kernel.IFF_UP)


def read_links(source: Source) -> dict[str, Link]:
    """{name: Link} for every interface in /sys/class/net."""
    names = [name for name in source.listdir(SYS_NET) if name != "bonding_masters"]
    if not names:
        raise PluginError("{} lists no interface: sysfs not mounted for this network "
                          "namespace?".format(SYS_NET))
    source.prefetch(files=["{}/{}/{}".format(SYS_NET, name, attribute) for name in names
                           for attribute in ("flags", "operstate")])
    links = {}
    for name in names:
        base = "{}/{}".format(SYS_NET, name)
        try:
            flags = int(source.read_text(base + "/flags").strip(), 16)
        except ValueError:
            raise PluginError("{}/flags: not a hexadecimal number".format(base))
        operstate = (source.read_optional(base + "/operstate") or "unknown").strip()
        enslaved = (source.kind(base + "/brport") is not None
                    or source.kind(base + "/bonding_slave") is not None)
        links[name] = Link(name, flags, operstate, enslaved)
    return links


class Address(collections.namedtuple("Address", "interface address prefixlen scope label")):
    """One address on one interface; ``address`` is an ipaddress object."""

    @property
    def network(self) -> Any:
        return ipaddress.ip_interface("{}/{}".format(self.address, self.prefixlen)).network

    @property
    def is_host(self) -> bool:
        return self.prefixlen == self.address.max_prefixlen

    def __str__(self):
        return "{}/{} on {}".format(self.address, self.prefixlen, self.interface)


BROADCAST = ipaddress.IPv4Address("255.255.255.255")


def vip_address(text: Union[str, IP], option: str = "--vip") -> IP:
    """One VIP (or witness): a unicast address a host can hold and neighbours can resolve;
    anything else (unspecified, multicast, broadcast, loopback, link-local, IPv4-mapped, a
    scope) is refused by name, since a probe or a check of it would judge something else.
    ``text``: as given, or an address a configuration already holds; ``option``: the option
    it was given with, named in the refusal."""
    if not isinstance(text, str) and getattr(text, "scope_id", None) is None:
        vip = text
    elif "%" in str(text):
        raise PluginError("{} {!r}: a scoped address is not a VIP; give the address alone"
                          .format(option, str(text)))
    else:
        try:
            vip = parse_address(str(text))
        except ValueError:
            raise PluginError("{} {!r} is not an IPv4 or IPv6 address".format(option, text))
    if vip.version == 6 and int(vip) >> 125 == 1:  # 2000::/3, global unicast: none below
        return vip
    kind = None
    if vip.is_unspecified:
        kind = "the unspecified address"
    elif vip.is_multicast:
        kind = "a multicast address"
    elif vip == BROADCAST:
        kind = "the broadcast address"
    elif vip.is_loopback:
        kind = "a loopback address"
    elif vip.is_link_local:
        kind = "a link-local address"
    elif vip.version == 6 and vip.ipv4_mapped is not None:
        kind = "an IPv4-mapped address (give the IPv4 address {})".format(vip.ipv4_mapped)
    if kind:
        raise PluginError("{} {}: {} cannot be a VIP".format(option, vip, kind))
    return vip


NO_VIP_GIVEN = "no VIP given: name at least one with --vip ADDRESS"
# Where the VIPs can also come from, for the plugins that read them from the configuration.
OR_FROM_CONFIGURATION = ", or take them with --from-keepalived or --from-ipvs"


def parse_vips(values: Iterable[Union[str, IP]], elsewhere: str = "") -> list[IP]:
    """VIP addresses from repeatable options that also take comma lists, and from a
    configuration, in order, without duplicates (linear: thousands of VIPs are common on
    kube-proxy nodes)."""
    vips = list(dict.fromkeys(vip_address(text) for text in values))
    if not vips:
        raise PluginError(NO_VIP_GIVEN + elsewhere)
    return vips


def _address(interface, local, prefixlen, scope, label):
    try:
        return Address(interface, ipaddress.ip_address(local.split("%")[0]),
                       int(prefixlen), scope, label or interface)
    except (ValueError, TypeError):
        return None


def _unreadable(command, what):
    return PluginError("{}: {}: no verdict from output that cannot be read (is iproute2 "
                       "intact?)".format(command, what))


def parse_ip_json(text: str) -> list[Address]:
    """Addresses from ``ip -j addr show``; an entry that is not what iproute2 writes is an
    error, not an address less (a VIP missed would be judged missing)."""
    interfaces = json_output(text, "ip -j addr")
    if not isinstance(interfaces, list):
        raise _unreadable("ip -j addr", "output is not a list of interfaces")
    addresses = []
    for entry in interfaces:
        if not isinstance(entry, dict) or not isinstance(entry.get("ifname"), str) \
                or not isinstance(entry.get("addr_info", []), list):
            raise _unreadable("ip -j addr", "unexpected interface entry")
        for info in entry.get("addr_info", []):
            if not isinstance(info, dict):
                raise _unreadable("ip -j addr", "unexpected address entry")
            if info.get("family") not in ("inet", "inet6"):
                continue
            label = info.get("label")
            address = _address(entry["ifname"], str(info.get("local", "")),
                               info.get("prefixlen"), str(info.get("scope", "")),
                               label if isinstance(label, str) else None)
            if address is None:
                raise _unreadable("ip -j addr", "unexpected address of {}".format(entry["ifname"]))
            addresses.append(address)
    return addresses


_ONELINE = re.compile(r"^\d+:\s+(?P<ifname>[^\s@]+)(?:@\S+)?\s+(?P<family>inet6?)\s+"
                      r"(?P<local>[0-9a-fA-F:.]+(?:%\S+)?)(?:/(?P<prefixlen>\d+))?"
                      r"(?:\s+peer\s+[^\s/]+(?:/(?P<peerlen>\d+))?)?(?:\s+brd\s+\S+)?"
                      r"(?:\s+scope\s+(?P<scope>\S+))?(?P<rest>.*)$")


def parse_ip_oneline(text: str) -> list[Address]:
    """Addresses from ``ip -o addr show`` (iproute2 without JSON support); a line that is not
    an address line is an error."""
    addresses = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _ONELINE.match(line.strip())
        if not match:
            raise _unreadable("ip -o addr", "unexpected line {!r}".format(line.strip()[:60]))
        rest = match.group("rest").split("\\")[0].split()
        # A label (lo:1) follows the flags; it is the last word and contains the interface.
        label = next((word for word in reversed(rest)
                      if word.startswith(match.group("ifname"))), None)
        address = _address(match.group("ifname"), match.group("local"),
                           match.group("prefixlen") or match.group("peerlen"),
                           match.group("scope") or "", label)
        if address is None:
            raise _unreadable("ip -o addr", "unexpected address {!r}".format(match.group("local")))
        addresses.append(address)
    return addresses


def ip_command(source: Source) -> str:
    for path in IP_COMMANDS:
        if source.kind(path) is not None:
            return path
    raise PluginError("iproute2's ip not found in {}: install iproute2".format(", ".join(IP_COMMANDS)))


def read_mac(source: Source, name: str) -> Optional[str]:
    return source.read_text("{}/{}/address".format(SYS_NET, name)).strip().lower()


class RouteLookups:
    """The kernel's route to each address: the interface, or None (no route). One ``ip -j
    -force -batch -`` of ``route get`` lines (policy routing included) is started at once for
    all of them, however many, and its answers are read as they are asked for, in the order
    asked. So the probe sends its first VIPs' probes while the kernel still answers for the
    last (ip stays a pipe's length ahead), and reads the answers while the pacing waits:
    20,000 lookups take 0.2 s, their probes at the host-wide pace 5 s."""

    def __init__(self, source: Source, addresses: Iterable[IP]):
        self.asked = {address: n for n, address in enumerate(dict.fromkeys(addresses))}
        self.texts = {address_text(address): address for address in self.asked}  # as ip writes
        self._routes: dict[int, str] = {}
        self._decided = 0  # each lookup before this one is answered, or failed (no route)
        self._reads: Iterator[list[str]] = iter(())
        self._unread: collections.deque = collections.deque()
        if not self.asked:
            return
        batch = "".join("route get {}\n".format(text) for text in self.texts)
        try:  # ip exits 1 when a lookup failed (no route); the others are printed all the same
            self._reads = source.stream([ip_command(source), "-j", "-force", "-batch", "-"],
                                        batch, statuses=(0, 1))
        except PluginError as exc:
            log.info("route lookups failed: %s", exc)

    def interface(self, address: IP) -> Optional[str]:
        number = self.asked[address]
        while self._decided <= number:
            self._next_line()
        return self._routes.get(number)

    def _next_line(self):
        """Read one more line of ip's answers (a read of its output brings hundreds when
        it waited on a full pipe: they are read one by one, as asked, so that no probe
        waits on a whole read); after the end, every lookup not answered failed."""
        if not self._unread:
            try:
                self._unread.extend(next(self._reads))
            except StopIteration:
                self._decided = len(self.asked)
            except (PluginError, OSError) as exc:
                log.info("route lookups failed: %s", exc)
                self._decided = len(self.asked)
            return
        for number, device in self._answers(self._unread.popleft()):
            self._routes[number] = device
            self._decided = max(self._decided, number + 1)

    def _answers(self, line):
        """(number asked, interface) of each route in one line of ip's output."""
        try:
            routes = json_output(line, "ip -j route get")
        except PluginError:
            return
        for route in routes if isinstance(routes, list) else []:
            if not isinstance(route, dict) or not route.get("dev"):
                continue
            dst = str(route.get("dst"))  # as asked, else in another form of the same address
            try:
                number = self.asked.get(self.texts.get(dst) or parse_address(dst))
            except ValueError:
                continue
            if number is not None:
                yield number, str(route["dev"])


def route_interfaces(source: Source, addresses: Iterable[IP]) -> dict[IP, Optional[str]]:
    """{address: the interface of the kernel's route to it, or None}, all of them (RouteLookups
    for those not asked before in this run)."""
    addresses = list(addresses)
    wanted = [a for a in dict.fromkeys(addresses) if a not in source.routes]
    if wanted:
        lookups = RouteLookups(source, wanted)
        source.routes.update((address, lookups.interface(address)) for address in wanted)
    return {address: source.routes[address] for address in addresses}


# A network as ipaddress has it.
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
NOWHERE: frozenset = frozenset()


class Subnets:
    """Networks with a name each (an interface, a rule), asked which names' networks hold an
    address: thousands of VIPs are asked, so an address is masked once per prefix length of
    its family, and its network looked up among those of that length."""

    def __init__(self, named: Iterable[tuple[Network, Hashable]]):
        networks: dict[tuple[int, int], dict[int, set]] = collections.defaultdict(dict)
        for network, name in named:
            networks[network.version, int(network.netmask)].setdefault(
                int(network.network_address), set()).add(name)
        self._masks: dict[int, list[tuple[int, dict[int, set]]]] = {4: [], 6: []}
        for (version, mask), by_network in networks.items():
            self._masks[version].append((mask, by_network))

    @classmethod
    def of_interfaces(cls, addresses: Iterable[Address]) -> "Subnets":
        """The subnets of addresses, named by their interfaces."""
        return cls((a.network, a.interface) for a in addresses)

    def holding(self, address: IP) -> frozenset:
        value = int(address)
        found = NOWHERE
        for mask, by_network in self._masks[address.version]:
            names = by_network.get(value & mask)
            if names:
                found = found.union(names)
        return found


def off_subnets(iface: str, addresses: Iterable[Address], targets: Iterable[IP]) -> list[IP]:
    """The targets neither held on ``iface`` nor inside one of its subnets: on its segment
    only if the kernel routes them through it."""
    own = [a for a in addresses if a.interface == iface]
    held = {a.address for a in own}
    subnets = Subnets.of_interfaces(own)
    return [target for target in targets if target not in held and not subnets.holding(target)]


def off_segment(source: Source, iface: str, addresses: Iterable[Address],
                targets: Iterable[IP]) -> list[IP]:
    """The targets that are not on ``iface``'s segment: neither held on it, nor inside one of
    its subnets, nor routed through it (route lookups, in one batch, only for those left)."""
    left = off_subnets(iface, addresses, targets)
    routes = route_interfaces(source, left)
    return [target for target in left if routes[target] != iface]


class Neighbour(collections.namedtuple("Neighbour", "address interface mac state")):
    """One entry of a neighbour table (this host's ip neigh, or a router's over SNMP):
    ``address`` an ipaddress; ``interface`` a name or "ifIndex N"; ``mac`` lower-case colon
    form, or None when the entry maps to nothing; ``state`` lower-case (ip neigh's states
    joined by ","), or None when it was not read (rows read only to name a MAC)."""

    @property
    def heard(self) -> bool:
        """The kernel holds a link-layer address it has heard from."""
        return self.mac is not None and bool(set((self.state or "").split(",")) & HEARD_STATES)


# The one vocabulary of neighbour states, lower case: ip neigh's and IP-MIB's.
UNRESOLVED_STATES = {"invalid", "incomplete", "failed"}
HEARD_STATES = {"reachable", "stale", "delay", "probe", "permanent"}


_LLADDR = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2})+$")


def parse_ip_neigh(text: str) -> list[Neighbour]:
    """Entries from ``ip -j neigh show``; an entry that is not what iproute2 writes is an
    error, not an entry less (a VIP's entry missed would be judged absent)."""
    data = json_output(text, "ip -j neigh")
    if not isinstance(data, list):
        raise PluginError("ip -j neigh: output is not a list of neighbours")
    entries = []
    for item in data:
        try:
            address = ipaddress.ip_address(item["dst"])
            states = {str(s).lower() for s in item.get("state") or []}
            lladdr = str(item.get("lladdr") or "").lower()
            device = str(item["dev"])
        except (TypeError, KeyError, ValueError, AttributeError):
            raise PluginError("ip -j neigh: an entry is not what iproute2 writes: {}".format(
                json.dumps(item)[:120]))
        if lladdr and not _LLADDR.match(lladdr):
            raise PluginError("ip -j neigh: {} has a link-layer address that is not one: {}"
                              .format(address, lladdr[:60]))
        state = ",".join(sorted(states)) or "none"
        mac = lladdr if lladdr and not states & UNRESOLVED_STATES else None
        entries.append(Neighbour(address, device, mac, state))
    return entries



def _ip_json(source, argv):
    """``ip -j ...`` as a list of entries; an error or odd output is no entry (these reads
    name hosts and find witnesses; none decides a verdict alone)."""
    try:
        entries = json_output(source.run([ip_command(source), "-j"] + argv), "ip -j")
    except PluginError:
        return []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def read_neighbours(source: Source, name: str) -> list[Neighbour]:
    """The Neighbours of interface ``name``; output that cannot be read is none (these reads
    name hosts and find witnesses; none decides a verdict alone)."""
    try:
        return parse_ip_neigh(source.run([ip_command(source), "-j", "neigh", "show", "dev", name]))
    except PluginError:
        return []


def default_gateways(source: Source, name: str) -> list[str]:
    """The next hops of the default routes through interface ``name``."""
    return [str(entry["gateway"]) for family in ("-4", "-6")
            for entry in _ip_json(source, [family, "route", "show", "default", "dev", name])
            if entry.get("gateway")]


def read_kinds(source: Source) -> dict[str, str]:
    """{interface: its kind} from ``ip -j -d link`` (macvlan, veth, bridge, ...)."""
    return {str(e.get("ifname")): str((e.get("linkinfo") or {}).get("info_kind") or "")
            for e in _ip_json(source, ["-d", "link", "show"])}


def lower_device(source: Source, name: str) -> str:
    """The device under a stacked one (a macvlan such as keepalived's vmac, a VLAN), or
    ``name`` itself: frames for the stacked device's MAC are taken from the lower device
    before a socket bound to it for one protocol sees them."""
    lower = [n[len("lower_"):] for n in source.listdir("{}/{}".format(SYS_NET, name))
             if n.startswith("lower_")]
    return lower[0] if len(lower) == 1 else name


def addresses_command(source: Source) -> list[str]:
    return [ip_command(source), "-j", "addr", "show"]


def read_addresses(source: Source) -> list[Address]:
    """Every address the kernel holds, by ``ip -j addr`` or the one-line text fallback."""
    command = addresses_command(source)
    try:
        return parse_ip_json(source.run(command))
    except PluginError:
        return parse_ip_oneline(source.run([command[0], "-o", "addr", "show"]))
