"""ARP filtering instead of arp_ignore: nftables rules in the ``arp`` family that drop ARP
requests for a VIP on input stop the kernel from answering for it (the method the RHEL LVS
documentation lists first, as arptables; proven in the lab).

Only what certainly drops counts: a rule of a base chain on the input hook whose matches are
all understood (the input interface, the operation, the target address or a set of them,
counters) and whose verdict is drop, with no earlier rule of that chain ending in another
verdict. Reading the ruleset needs CAP_NET_ADMIN: as root, or through ``sudo -n`` and the
rule shipped for exactly ``nft -j list ruleset``.
"""

import collections
import ipaddress
import re
from collections.abc import Collection, Sequence
from typing import Any, Optional

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.host import links
from lvs_dr_checks.kernel import IP
from lvs_dr_checks.source.local import SUDO, Source, json_output

log = logger("arpfilter")
NFT = "/usr/sbin/nft"
LIST = [NFT, "-j", "list", "ruleset"]
# Said where arp_ignore exposes a VIP and the rules that could drop its requests are unread.
HINT = "nftables arp rules unreadable: run as root or use the shipped sudo rule for nft"

Drop = collections.namedtuple("Drop", "addresses interface where")
Drop.__doc__ = "A rule that drops ARP requests for ``addresses`` (on ``interface``, or all)."


def read_ruleset(source: Source, sudo: bool) -> Optional[Any]:
    """The ruleset as nft gives it (as this user, else through ``sudo -n``), or None when
    this user may not read it. Reading through sudo without ``sudo`` (--sudo) still works in
    this release, and says at -v that --sudo is wanted."""
    tried = [argv for argv in (LIST, [SUDO, "-n"] + LIST) if source.kind(argv[0]) is not None]
    source.prefetch(commands=tried)
    for argv in tried:
        try:
            ruleset = json_output(source.run(argv), " ".join(argv))
        except PluginError as exc:
            log.info("cannot read the nftables ruleset with %s: %s", " ".join(argv), exc)
            continue
        if argv[0] == SUDO and not sudo:
            log.warning("the nftables ruleset was read through sudo without --sudo: add --sudo "
                        "(the next release uses sudo only with --sudo)")
        return ruleset
    return None


def drops(ruleset: Any) -> list[Any]:
    """Every rule that certainly drops ARP requests for some addresses on input."""
    items = ruleset.get("nftables", []) if isinstance(ruleset, dict) else []
    input_chains = {(c["table"], c["name"]) for c in (i.get("chain") for i in items)
                    if isinstance(c, dict) and c.get("family") == "arp"
                    and c.get("hook") == "input"}
    found, spoiled = [], set()
    for rule in (i.get("rule") for i in items):
        if not isinstance(rule, dict) or rule.get("family") != "arp":
            continue
        chain = (rule.get("table"), rule.get("chain"))
        if chain not in input_chains or chain in spoiled:
            continue
        drop = _drop(rule.get("expr") or [])
        if drop is None:
            if any(_verdict(e) for e in rule.get("expr") or []):
                spoiled.add(chain)  # later rules of this chain may never be reached
            continue
        addresses, interface = drop
        found.append(Drop(tuple(addresses), interface, "table arp {} chain {}".format(*chain)))
    return found


def _verdict(expression):
    return isinstance(expression, dict) and any(
        key in expression for key in ("accept", "drop", "jump", "goto", "return", "queue"))


def _drop(expressions):
    """(addresses, interface or None) when every expression is understood and the verdict
    is drop, else None."""
    addresses, interface, verdict = None, None, False
    for expression in expressions:
        if not isinstance(expression, dict):
            return None
        if "counter" in expression:
            continue
        if "drop" in expression:
            verdict = True
            continue
        match = expression.get("match")
        if not isinstance(match, dict) or match.get("op") not in ("==", "in"):
            return None
        left, right = match.get("left") or {}, match.get("right")
        field = (left.get("payload") or {}).get("field") if isinstance(left, dict) else None
        if isinstance(left, dict) and (left.get("meta") or {}).get("key") == "iifname":
            interface = right if isinstance(right, str) else None
            if interface is None:
                return None
        elif field == "operation":
            if right != "request":
                return None
        elif field == "daddr ip":
            addresses = _addresses(right)
            if addresses is None:
                return None
        else:
            return None
    return (addresses, interface) if verdict and addresses else None


def _addresses(right):
    values = (right.get("set") if isinstance(right, dict) else [right]) or []
    found = []
    for value in values:
        try:
            if isinstance(value, dict) and "prefix" in value:
                prefix = value["prefix"]
                found.append(ipaddress.ip_network("{}/{}".format(prefix["addr"], prefix["len"])))
            else:
                found.append(ipaddress.ip_network(str(value)))
        except (ValueError, KeyError, TypeError):
            return None
    return found


def shielded(found: Sequence[Any], interface: str, vips: Collection[IP]) -> Optional[list[Any]]:
    """The rules that together drop requests for every one of ``vips`` on ``interface``, or
    None when some VIP stays unprotected (or there is no VIP)."""
    rules = [d for d in found if d.interface in (None, interface)]
    # {VIP: the rules covering it} at once for thousands of VIPs and set elements.
    covering = links.Subnets((network, n) for n, rule in enumerate(rules)
                             for network in rule.addresses)
    used: dict[int, None] = {}  # the rules' numbers, in the order the VIPs need them
    for vip in vips:
        numbers = covering.holding(vip)
        if not numbers:
            return None
        used.setdefault(min(numbers))  # the first in the chain drops it
    return [rules[n] for n in used] or None


NFTABLES_CONF = "/etc/nftables.conf"
# The words of nftables.conf that can be an address: its delimiters (blanks, commas,
# braces, '/' before a prefix, '-' of a range) end them.
_ADDRESS_WORD = re.compile(r"[0-9A-Fa-f:.]+")
NFTABLES_WANTS = ("/etc/systemd/system/sysinit.target.wants/nftables.service",
                  "/etc/systemd/system/multi-user.target.wants/nftables.service")


def persisted(source: Source, vips: Collection[IP]) -> Any:
    """Whether the boot configuration loads arp rules naming every VIP: nftables.service
    enabled, and /etc/nftables.conf with an arp table that names them (read as text: the
    exact rules are judged at run time, this only tells whether they come back). Each VIP
    is named as a whole address: 192.0.2.1 is not named by 192.0.2.10."""
    if not any(source.kind(path) is not None for path in NFTABLES_WANTS):
        return False
    text = source.read_optional(NFTABLES_CONF) or ""
    named = set(_ADDRESS_WORD.findall(text))
    return "table arp" in text and all(str(vip) in named for vip in vips)
