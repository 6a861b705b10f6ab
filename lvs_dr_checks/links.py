"""Interfaces and their addresses, as the kernel reports them.

Flags come from /sys/class/net (the same path locally and over SFTP); addresses from
iproute2, ``ip -j addr`` or, for iproute2 without JSON, ``ip -o addr``.
"""

import collections
import ipaddress
import json
import re

from lvs_dr_checks import kernel
from lvs_dr_checks.cli import PluginError

SYS_NET = "/sys/class/net"
IP_COMMANDS = ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip")


class Link(collections.namedtuple("Link", "name flags operstate enslaved")):
    """A network interface: flags (IFF_*), operstate, and whether a bridge or bond owns it."""

    @property
    def arp_facing(self):
        return kernel.is_arp_facing(self.flags, self.enslaved)

    @property
    def arp_silent(self):
        """Loopback or NOARP: the interface answers no ARP itself."""
        return kernel.holds_vip_safely(self.flags)

    @property
    def up(self):
        return bool(self.flags & kernel.IFF_UP)


def read_links(source):
    """{name: Link} for every interface in /sys/class/net."""
    names = [name for name in source.listdir(SYS_NET) if name != "bonding_masters"]
    if not names:
        raise PluginError("{} lists no interface: sysfs not mounted for this network "
                          "namespace?".format(SYS_NET))
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
    def network(self):
        return ipaddress.ip_interface("{}/{}".format(self.address, self.prefixlen)).network

    @property
    def is_host(self):
        return self.prefixlen == self.address.max_prefixlen

    def __str__(self):
        return "{}/{} on {}".format(self.address, self.prefixlen, self.interface)


def parse_vips(values):
    """VIP addresses from repeatable options that also take comma lists; a bad one is named."""
    vips = []
    for text in values:
        try:
            vip = ipaddress.ip_address(text)
        except ValueError:
            raise PluginError("--vip {!r} is not an IPv4 or IPv6 address".format(text))
        if vip not in vips:
            vips.append(vip)
    if not vips:
        raise PluginError("no VIP given: name at least one with --vip ADDRESS")
    return vips


def _address(interface, local, prefixlen, scope, label):
    try:
        return Address(interface, ipaddress.ip_address(local.split("%")[0]),
                       int(prefixlen), scope, label or interface)
    except ValueError:
        return None


def parse_ip_json(text):
    """Addresses from ``ip -j addr show``."""
    try:
        interfaces = json.loads(text)
    except ValueError as exc:
        raise PluginError("ip -j addr: output is not JSON ({})".format(exc))
    if not isinstance(interfaces, list):
        raise PluginError("ip -j addr: output is not a list of interfaces")
    addresses = []
    for entry in interfaces:
        if not isinstance(entry, dict) or not isinstance(entry.get("addr_info"), list):
            continue
        for info in entry["addr_info"]:
            if not isinstance(info, dict) or info.get("family") not in ("inet", "inet6"):
                continue
            address = _address(str(entry.get("ifname", "")), str(info.get("local", "")),
                               info.get("prefixlen", -1), str(info.get("scope", "")),
                               info.get("label"))
            if address:
                addresses.append(address)
    return addresses


_ONELINE = re.compile(r"^\d+:\s+(?P<ifname>[^\s@]+)(?:@\S+)?\s+(?P<family>inet6?)\s+"
                      r"(?P<local>[0-9a-fA-F:.]+(?:%\S+)?)/(?P<prefixlen>\d+)"
                      r"(?:\s+peer\s+\S+)?(?:\s+brd\s+\S+)?(?:\s+scope\s+(?P<scope>\S+))?"
                      r"(?P<rest>.*)$")


def parse_ip_oneline(text):
    """Addresses from ``ip -o addr show`` (iproute2 without JSON support)."""
    addresses = []
    for line in text.splitlines():
        match = _ONELINE.match(line.strip())
        if not match:
            continue
        rest = match.group("rest").split("\\")[0].split()
        # A label (lo:1) follows the flags; it is the last word and contains the interface.
        label = next((word for word in reversed(rest)
                      if word.startswith(match.group("ifname"))), None)
        address = _address(match.group("ifname"), match.group("local"),
                           match.group("prefixlen"), match.group("scope") or "", label)
        if address:
            addresses.append(address)
    return addresses


def ip_command(source):
    for path in IP_COMMANDS:
        if source.kind(path) is not None:
            return path
    raise PluginError("iproute2's ip not found in {}: install iproute2".format(", ".join(IP_COMMANDS)))


def read_mac(source, name):
    return source.read_text("{}/{}/address".format(SYS_NET, name)).strip().lower()


def route_interface(source, address):
    """The interface of the route to ``address`` (``ip -j route get``), or None."""
    try:
        routes = json.loads(source.run([ip_command(source), "-j", "route", "get", str(address)]))
        return routes[0].get("dev")
    except (PluginError, ValueError, IndexError, AttributeError, TypeError):
        return None


def read_neighbours(source, name):
    """{mac: ip} from the neighbour table of interface ``name``."""
    try:
        entries = json.loads(source.run([ip_command(source), "-j", "neigh", "show", "dev", name]))
    except (PluginError, ValueError):
        return {}
    return {str(e["lladdr"]).lower(): str(e["dst"]) for e in entries
            if isinstance(e, dict) and e.get("lladdr") and e.get("dst")}


def read_addresses(source):
    """Every address the kernel holds, by ``ip -j addr`` or the one-line text fallback."""
    ip = ip_command(source)
    try:
        return parse_ip_json(source.run([ip, "-j", "addr", "show"]))
    except PluginError:
        return parse_ip_oneline(source.run([ip, "-o", "addr", "show"]))
