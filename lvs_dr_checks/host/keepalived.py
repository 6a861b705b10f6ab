"""keepalived.conf: the VRRP instances (VIPs, interface, VRID, use_vmac) and the virtual
servers with their direct-routing real servers, as keepalived itself reads them.

keepalived's syntax: words and braces, comments from '#' or '!' to the end of the line,
``include GLOB`` anywhere (a relative glob is taken from the including file's directory).
"""

import collections
import functools
import ipaddress
import posixpath
import re
from collections.abc import Iterable, Iterator
from typing import Any, Callable, Optional

from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.host import ipvs
from lvs_dr_checks.kernel import IP, parse_address
from lvs_dr_checks.source.local import Source, glob_paths

DEFAULT_PATH = "/etc/keepalived/keepalived.conf"
MAX_INCLUDE_DEPTH = 8
MAX_INCLUDED_FILES = 1000
# keepalived's own grammar nests four deep (virtual_server, real_server, a checker, url).
MAX_BLOCK_DEPTH = 32

class Block:
    """One statement: its words, and the statements of its {...} block (or None)."""

    def __init__(self, words, children=None):
        self.words = words
        self.children = children


# RFC 5798's virtual router MACs: 00:00:5e:00:01:VRID (IPv4), 00:00:5e:00:02:VRID (IPv6).
_VRRP_MAC = re.compile(r"^00:00:5e:00:0([12]):([0-9a-f]{2})$")


def vrrp_mac(mac: str) -> Optional[tuple[int, int]]:
    """(IP version, VRID) of a VRRP virtual MAC, None for any other MAC."""
    found = _VRRP_MAC.match(mac)
    return (4 if found.group(1) == "1" else 6, int(found.group(2), 16)) if found else None


# A backup takes over no sooner than 3 advertisement intervals after the master fell
# silent (RFC 5798 Master_Down_Interval); closer than this, two masters are at once.
TAKEOVER_GAP = 2.5


def masters_at_once(adverts: Iterable[Any]) -> dict[int, set[str]]:
    """{VRID: the senders heard as master at the same time as another}, from VRRP
    advertisements (vrid, sender, priority, at): not one after the other (the first
    resigned with priority 0, or fell silent long enough for a takeover)."""
    heard: dict[int, dict[str, list]] = collections.defaultdict(dict)
    for advert in adverts:
        times = heard[advert.vrid].setdefault(advert.sender, [advert.at, None, False])
        if advert.priority == 0:  # a master resigning: what follows is a failover
            times[2] = True
        else:
            times[1] = advert.at

    def at_once(times):
        def follows(a, b):
            _, a_last, a_resigned = times[a]
            b_first = times[b][0]
            return a_last is None or (a_last < b_first and (a_resigned or
                                                             b_first - a_last >= TAKEOVER_GAP))
        masters = [name for name, (_, last, _) in times.items() if last is not None]
        return {a for a in masters for b in masters
                if a != b and not follows(a, b) and not follows(b, a)}
    return {vrid: at_once(times) for vrid, times in heard.items()}


def vrid_of(config: "Config", vip: IP, allowed: Iterable[str]) -> Optional[int]:
    """The VRID of the VIP's keepalived instance, else of the one VRRP virtual MAC allowed
    for it."""
    instance = config.instance_of(vip)
    if instance and instance.vrid is not None:
        return instance.vrid
    return _vrid_of_macs(frozenset(allowed))


@functools.lru_cache(maxsize=1024)
def _vrid_of_macs(allowed):
    """The VRID of the one VRRP virtual MAC among ``allowed``; asked once per VIP, and
    thousands of VIPs share one set of allowed MACs."""
    vrids = {vrrp[1] for vrrp in map(vrrp_mac, allowed) if vrrp}
    return vrids.pop() if len(vrids) == 1 else None


class Instance(collections.namedtuple("Instance", "name interface vrid use_vmac vips")):
    """A vrrp_instance: the VIPs it holds when master, where, and its virtual MAC."""

    @property
    def family(self) -> int:
        return self.vips[0].version if self.vips else 4

    @property
    def virtual_mac(self) -> Optional[str]:
        """RFC 5798: 00:00:5e:00:01:VRID for IPv4 instances, 00:00:5e:00:02:VRID for IPv6."""
        if self.vrid is None:
            return None
        return "00:00:5e:00:0{}:{:02x}".format(1 if self.family == 4 else 2, self.vrid)


class Config(collections.namedtuple("Config", "instances services")):
    """The instances and the virtual services (ipvs.Service, so the rest reads one model)."""

    def vips(self) -> list[IP]:
        return list(dict.fromkeys([vip for instance in self.instances for vip in instance.vips]
                                  + [service.vip for service in self.services]))

    @functools.cached_property
    def _instances_by_vip(self) -> dict[IP, Instance]:
        """{VIP: the first instance holding it}, made once: asked once per VIP, and one
        instance may hold thousands (virtual_ipaddress_excluded)."""
        found: dict[IP, Instance] = {}
        for instance in self.instances:
            for vip in instance.vips:
                found.setdefault(vip, instance)
        return found

    def instance_of(self, vip: IP) -> Optional[Instance]:
        return self._instances_by_vip.get(vip)

    def owner_macs(self, vip: IP) -> set[Optional[str]]:
        """The MACs this configuration makes owners of the VIP: its instance's VRRP virtual
        MAC with use_vmac (another instance's virtual MAC owns none of its VIPs)."""
        instance = self.instance_of(vip)
        return {instance.virtual_mac} if instance and instance.use_vmac else set()


def from_options(keepalived_path: Optional[str], ipvs_path: Optional[str],
                 read_named: Callable[..., Any]) -> Config:
    """The Config of --from-keepalived and --from-ipvs (either may be None, then empty), each
    file read by ``read_named(option, path, reader)``, so that the caller decides as whom."""
    config = Config([], [])
    if keepalived_path:
        config = read_named("--from-keepalived", keepalived_path, read)
    if ipvs_path:
        config = config._replace(services=config.services +
                                 read_named("--from-ipvs", ipvs_path, ipvs.read))
    return config


def tokens(text: str) -> Iterator[tuple[int, str]]:
    """(line number, word) for every word and brace, comments removed."""
    for number, line in enumerate(text.splitlines(), 1):
        for mark in ("#", "!"):
            line = line.split(mark, 1)[0]
        for word in line.replace("{", " { ").replace("}", " } ").split():
            yield number, word


def parse_blocks(words: Iterable[tuple[int, str]], path: str) -> list[Any]:
    """Statements from a token stream: a statement is the words of one line; a '{' opens a
    block of the statement before it."""
    root = []
    stack, children = [], root
    current, line_of = None, None
    for number, word in words:
        if word == "{":
            if len(stack) == MAX_BLOCK_DEPTH:
                raise PluginError("{} line {}: blocks nested deeper than {}: not a "
                                  "keepalived.conf".format(path, number, MAX_BLOCK_DEPTH))
            if current is None:
                current = Block([""])
                children.append(current)
            current.children = []
            stack.append(children)
            children, current = current.children, None
        elif word == "}":
            if not stack:
                raise PluginError("{} line {}: '}}' without '{{': not a keepalived.conf".format(
                    path, number))
            children, current = stack.pop(), None
        elif current is None or number != line_of or current.children is not None:
            current, line_of = Block([word]), number
            children.append(current)
        else:
            current.words.append(word)
    if stack:
        raise PluginError("{}: a '{{' is never closed: not a keepalived.conf".format(path))
    return root


def read(source: Source, path: str = DEFAULT_PATH) -> Config:
    """The configuration under ``path``, its includes followed (globs, within the source)."""
    state = {"files": 0}
    blocks = _read_file(source, path, 0, state)
    config = build(blocks)
    if not config.instances and not config.services:
        raise PluginError("{} has no vrrp_instance and no virtual_server: not a keepalived.conf "
                          "(an IPVS table goes to --from-ipvs)".format(path))
    return config


def _read_file(source, path, depth, state):
    state["files"] += 1
    if depth > MAX_INCLUDE_DEPTH or state["files"] > MAX_INCLUDED_FILES:
        raise PluginError("{}: includes nested deeper than {} or more than {} files".format(
            path, MAX_INCLUDE_DEPTH, MAX_INCLUDED_FILES))
    blocks = parse_blocks(tokens(source.read_text(path)), path)
    return _expand_includes(source, blocks, posixpath.dirname(path), depth, state)


def _expand_includes(source, blocks, directory, depth, state):
    expanded = []
    for block in blocks:
        if block.words[0] == "include" and block.children is None:
            for pattern in block.words[1:]:
                for included in _glob(source, posixpath.join(directory, pattern)):
                    expanded.extend(_read_file(source, included, depth + 1, state))
        elif block.children is not None:
            block.children = _expand_includes(source, block.children, directory, depth, state)
            expanded.append(block)
        else:
            expanded.append(block)
    return expanded


def _glob(source, pattern):
    """Files matching a glob pattern, in name order."""
    return [p for p in glob_paths(source, pattern) if source.kind(source.resolve(p)) == "file"]


def _address(word):
    """The address of a virtual_ipaddress line's first word (192.0.2.100/32, 2001:db8::1),
    as ipaddress.ip_interface() reads it; the common forms (an address, a prefix length)
    without building the network (thousands of VIPs in one instance)."""
    address, slash, prefix = word.partition("/")
    try:
        if "%" not in address:  # an interface's address drops a scope
            ip = parse_address(address)
            if not slash or (prefix.isascii() and prefix.isdigit()
                             and int(prefix) <= ip.max_prefixlen):
                return ip
        return ipaddress.ip_interface(word).ip
    except ValueError:
        return None


def _value(children, keyword):
    return next((b.words[1:] for b in children or [] if b.words[0] == keyword), None)


def _instance(block):
    name = block.words[1] if len(block.words) > 1 else "?"
    interface = (_value(block.children, "interface") or [None])[0]
    vrid_words = _value(block.children, "virtual_router_id")
    try:
        vrid = int(vrid_words[0]) if vrid_words else None
    except ValueError:
        raise PluginError("vrrp_instance {}: virtual_router_id {!r} is not a number".format(
            name, vrid_words[0]))
    use_vmac = any(b.words[0] == "use_vmac" for b in block.children)
    vips = []
    for child in block.children:
        if child.words[0] in ("virtual_ipaddress", "virtual_ipaddress_excluded"):
            for line in child.children or []:
                address = _address(line.words[0])
                if address is not None:
                    vips.append(address)
    return Instance(name, interface, vrid, use_vmac, list(dict.fromkeys(vips)))


def _service(block):
    words = block.words[1:]
    if len(words) < 2 or _address(words[0]) is None:
        return None  # fwmark and group services carry no VIP
    vip, port = _address(words[0]), _port(words[1])
    lb_kind = (_value(block.children, "lb_kind") or _value(block.children, "lvs_method")
               or ["NAT"])[0].upper()
    protocol = (_value(block.children, "protocol") or ["TCP"])[0].upper()
    forward = ipvs.DIRECT_ROUTING if lb_kind == "DR" else lb_kind
    realservers = []
    for child in block.children:
        if child.words[0] == "real_server" and len(child.words) >= 2:
            address = _address(child.words[1])
            if address is not None:
                realservers.append((address, _port(child.words[2]) if len(child.words) > 2
                                    else port, forward))
    return ipvs.Service(protocol, vip, port, realservers)


def _port(word):
    """A port of virtual_server or real_server: keepalived takes digits only; a number IPVS
    cannot hold cannot come from a working keepalived."""
    if not word.isdigit():
        return 0
    try:
        return ipvs.checked_port(int(word))
    except ValueError as exc:
        raise PluginError("keepalived.conf: {} (virtual_server or real_server); fix the "
                          "file".format(exc))


def build(blocks: list[Any]) -> Config:
    instances = [_instance(b) for b in blocks
                 if b.words[0] == "vrrp_instance" and b.children is not None]
    services = [s for s in (_service(b) for b in blocks
                            if b.words[0] == "virtual_server" and b.children is not None) if s]
    return Config(instances, services)
