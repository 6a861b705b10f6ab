"""What Debian's ifupdown 0.8 puts on the interfaces at boot: networking.service's `ifup -a`,
then udev's hotplug run (`ifup --allow=hotplug NAME`) for each interface present but lo.

The rules, as `ifup` reads /etc/network/interfaces (each proven against the real one by
tests/test_ifupdown_oracle.py):
- a line whose first non-blank is `#` is a comment, anywhere else `#` is text; a trailing
  backslash joins the next line;
- `source PATTERN` is relative to the including file's directory, expanded as wordexp()
  does (globs in every component, hidden names only for a pattern starting with `.`);
  `source-directory DIR` reads the names made of letters, digits, `_` and `-` only;
- a misplaced option, an unknown address family or method, an option without a value: ifup
  stops reading that file there. In the main file that is fatal: ifup configures nothing;
- only interfaces named by `auto` (or `allow-auto`) come up, and `allow-hotplug` ones whose
  device is present at boot; lo is always `auto`;
- method static adds `address` (its first value) with `netmask` when given, else the prefix
  after `/`, else the class mask; loopback and manual add nothing; `pre-up`, `up` and
  `post-up` commands run with $IFACE set; a failing `ip addr add` of the method (the address
  already there) skips the rest of that stanza.
"""

import collections
import posixpath
import re
import shlex
from collections.abc import Collection
from typing import Any

from lvs_dr_checks.boot import commands
from lvs_dr_checks.boot.ctext import C_ISSPACE, c_split
from lvs_dr_checks.source.local import Source, glob_paths

MAIN = "/etc/network/interfaces"
_HOOKS = {"pre-up": "pre-up", "up": "up", "post-up": "up"}
_METHODS = {
    "inet": {"loopback", "static", "manual", "dhcp", "bootp", "tunnel", "ppp", "wvdial", "ipv4ll"},
    "inet6": {"auto", "loopback", "static", "manual", "dhcp", "v4tunnel", "6to4", "tunnel"},
    "ipx": {"static", "dynamic"},
    "can": {"static"},
    "meta": {"none"},
}
_DIRECTORY_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# udev's ifupdown-hotplug ignores these: they announce themselves after they are up.
_NOT_HOTPLUGGED = re.compile(r"^(ppp|ippp|isdn|plip|irda|ipsec).*|^lo$")
_WORDEXP_REFUSES = re.compile(r"[|&;<>(){}\n`]|\$\(")
MAX_FILES = 200

Added = collections.namedtuple("Added", "address prefixlen device file line inactive")


class Stanza:
    """One `iface NAME FAMILY METHOD` with its options (first value and line) and hooks."""

    def __init__(self, name, family, method, file):
        self.name = name
        self.family = family
        self.method = method
        self.file = file
        self.options = {}  # name: (value, line)
        self.hooks = []  # ("pre-up" or "up", line number, command line)

    def inherit(self, other: "Stanza") -> None:
        self.options = dict(other.options)
        self.hooks = list(other.hooks)
        self.family = self.family or other.family
        self.method = self.method or other.method


class Interfaces:
    """The parsed configuration: stanzas in order, `auto`/`allow-*` lists, and ``fatal``: what
    ifup refused in the main file, so that nothing comes up (an error in an included file
    only ends the reading of that file)."""

    def __init__(self):
        self.stanzas = []
        self.allowed = collections.defaultdict(list)
        self.fatal = None
        self.seen = []


def _logical_lines(text):
    """(first line number, line) as ifup's get_line gives them."""
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    index = 0
    while index < len(raw):
        number, line = index + 1, raw[index].lstrip(C_ISSPACE)
        index += 1
        if line.startswith("#"):
            continue
        while line.endswith("\\") and index < len(raw):
            line = line[:-1] + raw[index]
            index += 1
        if line.endswith("\\"):
            line = line[:-1]
        yield number, line.rstrip(C_ISSPACE)


def _wordexp(pattern):
    """The words wordexp(WRDE_NOCMD) makes of a `source` argument, or [] where it fails."""
    if _WORDEXP_REFUSES.search(pattern) or "$" in pattern:
        return []
    try:
        return shlex.split(pattern)
    except ValueError:
        return []


def _read(source, path, config):
    if path in config.seen or len(config.seen) >= MAX_FILES:
        return
    if source.kind(source.resolve(path)) != "file":  # absent, or a directory ifup skips
        return
    text = source.read_text(path)
    config.seen.append(path)
    directory = posixpath.dirname(path)
    stanza = None
    mapping = False
    for number, line in _logical_lines(text):
        words = c_split(line)
        if not words:
            continue
        keyword, rest = words[0], line[len(words[0]):].strip(C_ISSPACE)
        error = None
        if keyword == "mapping":
            stanza, mapping = None, True
        elif keyword == "source" or keyword.startswith("source-dir"):
            stanza = mapping = None
            for word in _wordexp(rest):
                pattern = word if word.startswith("/") else posixpath.join(directory, word)
                for found in glob_paths(source, pattern):
                    if keyword == "source":
                        _read(source, found, config)
                    else:
                        for name in source.listdir(found):
                            if _DIRECTORY_NAME.match(name):
                                _read(source, posixpath.join(found, name), config)
        elif keyword == "iface":
            stanza, error = _stanza(words[1:], config, path)
            mapping = False
            if stanza:
                config.stanzas.append(stanza)
        elif keyword == "auto" or (keyword.startswith("allow-") and len(keyword) > 6):
            when = "auto" if keyword == "auto" else keyword[6:]
            for name in words[1:]:
                if name not in config.allowed[when]:
                    config.allowed[when].append(name)
            stanza = mapping = None
        elif keyword in ("no-auto-down", "no-scripts"):
            stanza = mapping = None
        elif stanza is not None:
            if not rest:
                error = "option with empty value"
            elif keyword in _HOOKS:
                stanza.hooks.append((_HOOKS[keyword], number, rest))
            elif keyword in stanza.options:  # a repeated option: its values, a line each
                value, first = stanza.options[keyword]
                stanza.options[keyword] = (value + "\n" + rest, first)
            else:
                stanza.options[keyword] = (rest, number)
        elif not mapping or keyword not in ("script", "map"):
            error = "misplaced option"
        if error:
            if path == MAIN:
                config.fatal = "{}:{}: {}".format(path, number, error)
            return


def _stanza(words, config, path):
    """(Stanza, None) or (None, error) for the words after `iface`."""
    if len(words) < 2:
        return None, "too few parameters for iface line"
    name, family, method, inherits = words[0], words[1], None, None
    rest = words[2:]
    if family not in _METHODS:
        family, rest = None, words[1:]
    elif rest and rest[0] in _METHODS[family]:
        method, rest = rest[0], rest[1:]
    if rest and rest[0] == "inherits":
        if len(rest) < 2:
            return None, "'inherits' keyword is missing a parameter"
        inherits = rest[1]
    if family is None and inherits is None:
        return None, "unknown or no address type and no inherits keyword specified"
    if method is None and inherits is None:
        return None, "unknown or no method and no inherits keyword specified"
    stanza = Stanza(name, family, method, path)
    if inherits:
        parent = next((s for s in config.stanzas if s.name == inherits
                       and (family is None or s.family == family)), None)
        if parent is None:
            return None, "unknown iface to inherit from: " + inherits
        stanza.inherit(parent)
    return stanza, None


def read(source: Source) -> "Interfaces":
    """The parsed Interfaces of the tree (empty when there is no main file)."""
    config = Interfaces()
    config.allowed["auto"].append("lo")  # before reading, whatever the files say of lo
    _read(source, MAIN, config)
    return config


def _method_address(stanza):
    """The (ip, prefixlen) that method static adds, or None (nothing, or a command that
    fails). A repeated option is its values joined by newlines, as ifup keeps it: for inet
    the address is cut at the first '/', the prefix read as atoi() reads it; anything else
    spanning lines breaks the command."""
    if stanza.method != "static" or stanza.family not in ("inet", "inet6"):
        return None
    value = stanza.options.get("address", ("", 0))[0]
    netmask = stanza.options.get("netmask", (None, 0))[0]
    address, slash, length = value.partition("/")
    if stanza.family == "inet" and slash:
        length = re.match(r"\d*", length).group()
    if (netmask and c_split(netmask) != [netmask]) or c_split(address) != [address] or (
            length and c_split(length) != [length]):
        return None
    parsed = commands.interface_address(address, commands.classful_prefixlen)
    if parsed is None or (parsed[0].version == 6) != (stanza.family == "inet6"):
        return None
    try:
        if netmask:
            return parsed[0], commands.prefixlen_of(parsed[0], netmask)
        if length:
            return parsed[0], commands.prefixlen_of(parsed[0], length)
    except ValueError:
        return None
    return parsed


def _bring_up(stanza, present, on_devices):
    """The Added records of one stanza brought up: `pre-up` commands, the method, `up`
    commands. ``on_devices`` ({device: {ip: its prefix lengths}}) is what is already there, to
    find the adds that fail (the same address again, or its device absent). Like ifup, the
    stanza stops at the first command that fails (a failing add, `false`, `exit 1`...)."""
    variables = {"IFACE": stanza.name, "LOGICAL": stanza.name,
                 "ADDRFAM": stanza.family or "", "METHOD": stanza.method or ""}
    for option, (value, _) in stanza.options.items():
        variables["IF_" + re.sub(r"[^A-Za-z0-9]", "_", option).upper()] = value
    added = []

    def hooks(kind):
        """Run the stanza's ``kind`` commands in order: False at the first that fails (ifup
        stops the stanza there; a later command's address is never added)."""
        for when, number, line in stanza.hooks:
            def attempt(words, number=number):
                item = commands.added_by(words)
                if item is None:
                    return True
                device = item.device.split(":")[0]
                held = on_devices.setdefault(device, {})
                if device not in present or _holds(held, (item.address, item.prefixlen)):
                    return False  # ip: no such device / RTNETLINK answers: File exists
                held.setdefault(item.address, set()).add(item.prefixlen)
                added.append(Added(item.address, item.prefixlen, item.device, stanza.file,
                                   number, None))
                return True
            if when == kind and not commands.runs(line, variables, attempt):
                return False
        return True

    if not hooks("pre-up"):
        return added
    base = stanza.name.split(":")[0]
    if stanza.method == "static":
        address = _method_address(stanza)
        held = on_devices.setdefault(base, {})
        if address is None or base not in present or _holds(held, address):
            return added
        held.setdefault(address[0], set()).add(address[1])
        added.append(Added(address[0], address[1], stanza.name, stanza.file,
                           stanza.options["address"][1], None))
    hooks("up")
    return added


def _holds(held, address):
    """Whether a device holding ``held`` refuses to add ``address`` again (the kernel: the
    same IPv6 address, or the same IPv4 address with the same prefix)."""
    ip, prefixlen = address
    lengths = held.get(ip)
    return bool(lengths) and (ip.version == 6 or prefixlen in lengths)


def boot(source: Source, present: Collection[str]) -> list[Any]:
    """Every address the tree's ifupdown configuration names, as Added records: those a boot
    adds with ``inactive`` None, the others with the reason they are never added."""
    config = read(source)
    hotplug = [name for name in config.allowed.get("hotplug", [])
               if name in present and not _NOT_HOTPLUGGED.match(name)]
    order = config.allowed["auto"] + [n for n in hotplug if n not in config.allowed["auto"]]
    on_devices = {}
    result, done = [], set()
    for name in [] if config.fatal else order:
        for stanza in config.stanzas:
            if stanza.name == name:
                result.extend(_bring_up(stanza, present, on_devices))
                done.add(id(stanza))
    for stanza in config.stanzas:
        if id(stanza) in done:
            continue
        reason = _why_not(stanza, config, present)
        for record in _bring_up(stanza, set(present) | {stanza.name.split(":")[0], "lo"}, {}):
            result.append(record._replace(inactive=reason))
    return result


def _why_not(stanza, config, present):
    if config.fatal:
        return "ifup reads nothing: " + config.fatal
    base = stanza.name.split(":")[0]
    if base not in present:
        return "{} does not exist".format(base)
    if stanza.name in config.allowed.get("hotplug", []):
        return "'allow-hotplug {}' is never raised at boot (no device event for it): use " \
               "'auto {}'".format(stanza.name, stanza.name)
    return "'{}' is never brought up at boot: add 'auto {}'".format(stanza.name, stanza.name)
