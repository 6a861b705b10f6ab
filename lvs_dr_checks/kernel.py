"""The kernel's ARP rules, in one place (net/ipv4/arp.c, devinet.c; proven in tests/lab).

Every verdict about what an interface answers or announces is derived from here: a Rule per
key and kind of interface decides the state, the counts and the perfdata alike.
"""

import collections
import ipaddress
import re
import socket
from collections.abc import Collection, Iterable
from typing import Optional, Union

# An address as the kernel holds it.
IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def ipv6_text(packed: bytes) -> str:
    """An IPv6 address's text from its 16 bytes, as ipaddress writes it, at C speed:
    inet_ntop's RFC 5952 text is the same but for the forms with an IPv4 tail
    (::ffff:192.0.2.1), left to ipaddress. Its str() costs microseconds, x 20,000 VIPs."""
    text = socket.inet_ntop(socket.AF_INET6, packed)
    return text if "." not in text else str(ipaddress.IPv6Address(packed))


def address_text(address: IP) -> str:
    """str(address), made fast for IPv6 (see ipv6_text)."""
    if address.version == 6 and address.scope_id is None:
        return ipv6_text(address.packed)
    return str(address)


def parse_address(text: str) -> IP:
    """ipaddress.ip_address(text), at C speed for the texts inet_pton reads (which ipaddress
    reads alike: the differential test holds it); ipaddress itself decides the rest (a
    scope, junk) and names what is wrong. Its parser costs microseconds, x 20,000 VIPs."""
    try:
        if ":" in text:
            return ipaddress.IPv6Address(socket.inet_pton(socket.AF_INET6, text))
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError, TypeError):
        return ipaddress.ip_address(text)


# Interface flags from /sys/class/net/<if>/flags (include/uapi/linux/if.h).
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_NOARP = 0x80

# Keys of net.ipv4.conf.<scope>.* that decide ARP behaviour.
ARP_IGNORE = "arp_ignore"
ARP_ANNOUNCE = "arp_announce"
PROXY_ARP = "proxy_arp"
PROXY_ARP_PVLAN = "proxy_arp_pvlan"
ARP_FILTER = "arp_filter"
KEYS = (ARP_IGNORE, ARP_ANNOUNCE, PROXY_ARP)
# Read where the kernel has them (every kernel since 2.6.34), judged on directors.
DIRECTOR_KEYS = (PROXY_ARP_PVLAN, ARP_FILTER)
ALL_KEYS = KEYS + DIRECTOR_KEYS

# Effective value on an interface: IN_DEV_MAXCONF for these two, IN_DEV_ORCONF for the rest.
MAX_KEYS = (ARP_IGNORE, ARP_ANNOUNCE)

# Value of every key in a fresh namespace's interfaces when nothing set it.
KERNEL_DEFAULT = 0

# arp_ignore values that keep a VIP on lo unanswered on another interface.
ARP_IGNORE_PROTECTS = (1, 2)
ARP_IGNORE_NO_REPLY = 8
ARP_IGNORE_MAX = 8
# The only arp_announce value that never puts the VIP in our own ARP requests;
# values above 2 fall through to the kernel's default branch and act as 0.
ARP_ANNOUNCE_SAFE = 2

_ARP_IGNORE_MEANING = {
    0: "answers ARP for every local address, VIPs on lo included",
    1: "answers only for addresses on the receiving interface",
    2: "answers only for addresses on the receiving interface and the sender's subnet",
    3: "answers for every address but scope host ones (a VIP on lo is scope global)",
    8: "answers no ARP at all on this interface",
}


def effective(key: str, all_value: int, iface_value: int) -> int:
    """The value the kernel applies on an interface, from conf/all and conf/<if>."""
    if key in MAX_KEYS:
        return max(all_value, iface_value)
    return int(bool(all_value or iface_value))


def arp_ignore_meaning(value: int) -> str:
    if 4 <= value <= 7:
        return "reserved value: the kernel answers ARP as with 0, VIPs on lo included"
    return _ARP_IGNORE_MEANING.get(value, "not a value the kernel knows: answers as with 0")


def arp_announce_meaning(value: int) -> str:
    if value == 0:
        return "may use the VIP as sender of our own ARP requests"
    if value == 1:
        return "may use the VIP as sender when it is in the target's subnet"
    if value == ARP_ANNOUNCE_SAFE:
        return "uses only the interface's own address as sender"
    return "above 2 acts as 0: may use the VIP as sender of our own ARP requests"


def proxy_arp_meaning(value: int) -> str:
    return "answers ARP for addresses routed through other interfaces" if value else "off"


def proxy_arp_pvlan_meaning(value: int) -> str:
    return ("answers ARP for hosts on the same interface (private VLAN proxy ARP), the VIPs of "
            "others included" if value else "off")


def arp_filter_meaning(value: int) -> str:
    return ("answers only where the route back to the sender leaves" if value else
            "answers on any interface the request arrives on")


# The verdicts a rule gives a value.
OK, WARNING, CRITICAL = "ok", "warning", "critical"


class Rule(collections.namedtuple("Rule", "key accepted warned otherwise fix_target meaning")):
    """The one decision about one key on one kind of interface: the effective values that
    are accepted (None: all), those that only warn, the verdict for every other value, the
    value the fix sets, and what a value means there."""

    def verdict(self, value: int) -> str:
        if self.accepted is None or value in self.accepted:
            return OK
        return WARNING if value in self.warned else self.otherwise


def realserver_rules(arp_ignore_accepted: Iterable[int] = ARP_IGNORE_PROTECTS) -> dict[str, Rule]:
    """On a real server's ARP-facing interfaces: a VIP held on lo is neither answered nor
    announced, and nothing is answered for others. ``arp_ignore_accepted``: --arp-ignore."""
    accepted = tuple(sorted(arp_ignore_accepted))
    return {
        ARP_IGNORE: Rule(ARP_IGNORE, accepted, {ARP_IGNORE_NO_REPLY} - set(accepted), CRITICAL,
                         min(accepted), arp_ignore_meaning),
        ARP_ANNOUNCE: Rule(ARP_ANNOUNCE, (ARP_ANNOUNCE_SAFE,), (), CRITICAL, ARP_ANNOUNCE_SAFE,
                           arp_announce_meaning),
        PROXY_ARP: Rule(PROXY_ARP, (0,), (), WARNING, 0, proxy_arp_meaning),
    }


def director_rules(answers_for_others: bool) -> dict[str, Rule]:
    """On a director: an interface that holds VIPs answers for them, and must not answer for
    the addresses of other interfaces when ``answers_for_others`` matters (a vmac interface,
    or the lower device of vmac interfaces: keepalived's VIPs there must be answered with the
    virtual MAC alone); proxy ARP answers for VIPs the host does not own; the rest is
    reported."""
    ignore = Rule(ARP_IGNORE, ARP_IGNORE_PROTECTS, (), CRITICAL, 1, director_arp_ignore_meaning)
    return {
        ARP_IGNORE: ignore if answers_for_others else ignore._replace(accepted=None),
        ARP_ANNOUNCE: Rule(ARP_ANNOUNCE, None, (), OK, ARP_ANNOUNCE_SAFE, arp_announce_meaning),
        PROXY_ARP: Rule(PROXY_ARP, (0,), (), WARNING, 0, proxy_arp_meaning),
        PROXY_ARP_PVLAN: Rule(PROXY_ARP_PVLAN, (0,), (), WARNING, 0, proxy_arp_pvlan_meaning),
        ARP_FILTER: Rule(ARP_FILTER, None, (), OK, 0, arp_filter_meaning),
    }


def director_arp_ignore_meaning(value: int) -> str:
    """On a director: what an interface answers for, in words about VIPs held elsewhere."""
    if value in ARP_IGNORE_PROTECTS:
        return _ARP_IGNORE_MEANING[value]
    if value == ARP_IGNORE_NO_REPLY:
        return _ARP_IGNORE_MEANING[value]
    return ("answers ARP for the addresses of other interfaces too, VIPs on vmac interfaces "
            "included, with its own MAC")


def is_arp_facing(flags: int, enslaved: bool) -> bool:
    """An interface that receives ARP itself: not loopback, not NOARP, not a bridge port or
    bond slave (their frames reach ARP as frames of the master)."""
    return not holds_vip_safely(flags) and not enslaved


def holds_vip_safely(flags: int) -> bool:
    """An address on lo or on a NOARP interface is answered by no ARP or ND on that interface
    (a VIP there is safe if arp_ignore/arp_announce protect the ARP-facing ones)."""
    return bool(flags & (IFF_LOOPBACK | IFF_NOARP))


def fixes(key: str, scope: str, all_value: int, iface_value: int, target: int,
          acceptable: Collection[int]) -> list[str]:
    """The fewest sysctl assignments that make the effective value acceptable.

    Setting ``all`` is preferred (it covers every interface); with an OR key, or where
    ``all`` alone cannot do it, the interface is set too.
    """
    def ok(all_new, iface_new):
        return effective(key, all_new, iface_new) in acceptable

    for all_new, iface_new in ((target, iface_value), (all_value, target), (target, target)):
        if ok(all_new, iface_new):
            lines = []
            if all_new != all_value:
                lines.append(sysctl_line("all", key, all_new))
            if iface_new != iface_value:
                lines.append(sysctl_line(scope, key, iface_new))
            return lines
    return [sysctl_line("all", key, target), sysctl_line(scope, key, target)]


def sysctl_line(scope: str, key: str, value: int) -> str:
    """A sysctl.d assignment; a dot in an interface name (VLAN) is written as '/'."""
    return "net.ipv4.conf.{}.{} = {}".format(scope.replace(".", "/"), key, value)


# proc_dointvec skips the kernel's isspace() before the number (tab to CR, space, and the
# byte 0xA0: Latin-1 NBSP, here as its surrogate escape) and wants " \t\n" or the end after.
_INTEGER = re.compile("[\t\n\x0b\x0c\r \udca0]*(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)"
                      "(?=[ \t\n]|$)")
INT_MAX = 2 ** 31 - 1


def kernel_int(text: str) -> Optional[int]:
    """The int the kernel stores when ``text`` is written to a net.ipv4.conf file
    (proc_dointvec: leading blanks, one optional '-', C base prefixes, a blank or the end after
    the number, the rest ignored), or None when the kernel refuses it."""
    match = _INTEGER.match(text)
    if not match:
        return None
    digits = match.group(2)
    number = int(digits, 16 if digits[:2].lower() == "0x" else 8 if digits[0] == "0" else 10)
    if match.group(1):
        return -number if number <= INT_MAX + 1 else None
    return number if number <= INT_MAX else None
