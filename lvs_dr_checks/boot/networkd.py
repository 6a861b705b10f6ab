"""What systemd-networkd 252 configures on each link: the .network file it applies, and the
addresses in it.

The rules (each proven against the real daemon by tests/test_networkd_oracle.py):
- .network files of /etc, /run, /usr/local/lib and /usr/lib systemd/network, a name in an
  earlier directory masking the same name later (an empty file or a link to /dev/null masks
  it away), hidden files ignored; each file's drop-ins (NAME.d/*.conf, masked by name the
  same way) are read after it, in name order;
- a file without any [Match] setting is ignored; section and key names are case-sensitive;
- a link gets the first file in name order whose [Match] matches it: Name= and Type= are
  lists of globs (assignments add up, an empty one resets, a leading `!` negates); any other
  match (Driver=, MACAddress=, Host=, ...) is not known here and taken as no match;
- [Link] Unmanaged=yes or ActivationPolicy=down/always-down: nothing is configured;
- every Address= of [Network] and of each [Address] section; without a prefix an IPv4
  address gets its class mask (with a warning), an IPv6 one /0; an invalid one is skipped.
"""

import collections
import posixpath
from collections.abc import Iterable
from typing import Any, Optional

from lvs_dr_checks.boot import commands
from lvs_dr_checks.boot.ctext import systemd_split
from lvs_dr_checks.boot.systemd import Entry, conf_files, drop_ins, parse_boolean, unit_entries
from lvs_dr_checks.source.local import Source, name_matches

DIRECTORIES = ("/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network",
               "/usr/lib/systemd/network", "/lib/systemd/network")
GENERATED = "/run/systemd/network"
_KNOWN_MATCHES = ("Name", "Type")
_DOWN_POLICIES = ("down", "always-down")

class NetworkFile:
    """One .network file with its drop-ins."""

    def __init__(self, path, entries):
        self.path = path
        self.entries = entries
        self.matches = collections.defaultdict(list)  # key: [(negated, [patterns])]
        for entry in entries:
            if entry.section == "Match" and entry.value:
                negated = entry.value.startswith("!")
                self.matches[entry.key].append((negated,
                                                systemd_split(entry.value.lstrip("!"))))
            elif entry.section == "Match":
                self.matches[entry.key] = []

    @property
    def ignored(self) -> bool:
        return not any(self.matches.values())

    def matches_link(self, name: str, kind: str) -> bool:
        """Whether [Match] matches a link of that name and type (loopback, ether)."""
        for key, assignments in self.matches.items():
            if not assignments:
                continue
            if key not in _KNOWN_MATCHES:
                return False
            value = name if key == "Name" else kind
            positive = [p for negated, patterns in assignments if not negated for p in patterns]
            negative = [p for negated, patterns in assignments if negated for p in patterns]
            if positive and not any(name_matches(p, value) for p in positive):
                return False
            if any(name_matches(p, value) for p in negative):
                return False
        return True

    def last(self, section: str, key: str) -> Optional[Entry]:
        """The last entry of a key (the one that counts for single-valued settings)."""
        found = [e for e in self.entries if e.section == section and e.key == key]
        return found[-1] if found else None

    @property
    def unmanaged(self) -> Optional[Entry]:
        """The entry that keeps networkd from configuring the link, or None."""
        unmanaged = self.last("Link", "Unmanaged")
        if unmanaged and parse_boolean(unmanaged.value):
            return unmanaged
        policy = self.last("Link", "ActivationPolicy")
        return policy if policy and policy.value in _DOWN_POLICIES else None

    def addresses(self) -> list[tuple[Any, int, Entry]]:
        """(ip, prefixlen, entry) of every usable Address=."""
        found = []
        for entry in self.entries:
            if entry.section in ("Network", "Address") and entry.key == "Address":
                parsed = commands.interface_address(entry.value, _default_prefixlen)
                if parsed and not parsed[0].is_unspecified:
                    found.append((parsed[0], parsed[1], entry))
        return found


def _default_prefixlen(ip):
    return commands.classful_prefixlen(ip) if ip.version == 4 else 0


def network_files(source: Source,
                  generated: Optional[dict[str, list[Entry]]] = None) -> list[NetworkFile]:
    """The .network files networkd reads, in the order it tries them. ``generated`` ({name:
    [Entry]}) are those a generator writes to /run/systemd/network (netplan's): a file of
    the same name in /etc masks one, and one masks the same name in later directories."""
    generated = {name: entries for name, entries in (generated or {}).items()
                 if source.kind(posixpath.join(DIRECTORIES[0], name)) is None}
    files = {}
    for path in conf_files(source, DIRECTORIES, (".network",)):
        if source.kind(path) == "file" and posixpath.basename(path) not in generated:
            files[posixpath.basename(path)] = (path, list(unit_entries(source.read_text(path),
                                                                       path)))
    for name, entries in generated.items():
        files[name] = (posixpath.join(GENERATED, name), list(entries))
    networks = []
    for name in sorted(files):
        path, entries = files[name]
        network = NetworkFile(path, entries + drop_ins(source, DIRECTORIES, name))
        if not network.ignored:
            networks.append(network)
    return networks


def link_kind(name: str) -> str:
    return "loopback" if name == "lo" else "ether"


def applied(files: Iterable[NetworkFile], interfaces: Iterable[str]) -> dict[str, NetworkFile]:
    """{interface: NetworkFile} for the links networkd configures from one of ``files``."""
    chosen = {}
    for interface in interfaces:
        network = next((f for f in files if f.matches_link(interface, link_kind(interface))),
                       None)
        if network is not None:
            chosen[interface] = network
    return chosen
