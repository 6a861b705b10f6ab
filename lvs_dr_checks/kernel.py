"""The kernel's ARP rules, in one place (net/ipv4/arp.c, devinet.c; proven in tests/lab).

Every verdict about what an interface answers or announces is derived from here.
"""

# Interface flags from /sys/class/net/<if>/flags (include/uapi/linux/if.h).
IFF_UP = 0x1
IFF_LOOPBACK = 0x8
IFF_NOARP = 0x80

# Keys of net.ipv4.conf.<scope>.* that decide ARP behaviour.
ARP_IGNORE = "arp_ignore"
ARP_ANNOUNCE = "arp_announce"
PROXY_ARP = "proxy_arp"
KEYS = (ARP_IGNORE, ARP_ANNOUNCE, PROXY_ARP)

# The keys whose values decide whether a VIP held on lo is answered or announced.
VIP_KEYS = (ARP_IGNORE, ARP_ANNOUNCE)

# Effective value on an interface: IN_DEV_MAXCONF for these two, IN_DEV_ORCONF for proxy_arp.
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


def effective(key, all_value, iface_value):
    """The value the kernel applies on an interface, from conf/all and conf/<if>."""
    if key in MAX_KEYS:
        return max(all_value, iface_value)
    return int(bool(all_value or iface_value))


def arp_ignore_meaning(value):
    if 4 <= value <= 7:
        return "reserved value: the kernel answers ARP as with 0, VIPs on lo included"
    return _ARP_IGNORE_MEANING.get(value, "not a value the kernel knows: answers as with 0")


def arp_announce_meaning(value):
    if value == 0:
        return "may use the VIP as sender of our own ARP requests"
    if value == 1:
        return "may use the VIP as sender when it is in the target's subnet"
    if value == ARP_ANNOUNCE_SAFE:
        return "uses only the interface's own address as sender"
    return "above 2 acts as 0: may use the VIP as sender of our own ARP requests"


def answers_for_vip_on_lo(arp_ignore):
    """True when an interface with this effective arp_ignore replies for a VIP on lo."""
    return arp_ignore not in ARP_IGNORE_PROTECTS and arp_ignore != ARP_IGNORE_NO_REPLY


def announces_vip(arp_announce):
    """True when ARP requests sent on the interface may carry the VIP as sender address."""
    return arp_announce != ARP_ANNOUNCE_SAFE


def exposes(key, value):
    """True when the effective value of ``key`` lets neighbours learn a VIP (arp_ignore,
    arp_announce) or addresses behind other interfaces (proxy_arp) at our MAC."""
    if key == ARP_IGNORE:
        return answers_for_vip_on_lo(value)
    if key == ARP_ANNOUNCE:
        return announces_vip(value)
    if key == PROXY_ARP:
        return bool(value)
    return False


def is_arp_facing(flags, enslaved):
    """An interface that receives ARP itself: not loopback, not NOARP, not a bridge port or
    bond slave (their frames reach ARP as frames of the master)."""
    return not holds_vip_safely(flags) and not enslaved


def holds_vip_safely(flags):
    """An address on lo or on a NOARP interface is answered by no ARP or ND on that interface
    (a VIP there is safe if arp_ignore/arp_announce protect the ARP-facing ones)."""
    return bool(flags & (IFF_LOOPBACK | IFF_NOARP))


def fixes(key, scope, all_value, iface_value, target, acceptable):
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


def sysctl_line(scope, key, value):
    """A sysctl.d assignment; a dot in an interface name (VLAN) is written as '/'."""
    return "net.ipv4.conf.{}.{} = {}".format(scope.replace(".", "/"), key, value)
