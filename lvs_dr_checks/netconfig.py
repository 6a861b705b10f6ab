"""Boot-time network configuration: which addresses it puts on which device at boot.

One reader per format, each returning ConfiguredAddress records (where, what, on which
device); whether that is right is the check's business.
"""

import collections
import fnmatch
import ipaddress
import posixpath
import re
import shlex

from lvs_dr_checks.cli import PluginError, logger
from lvs_dr_checks.source import conf_files

log = logger("netconfig")


class ConfiguredAddress(collections.namedtuple("ConfiguredAddress",
                                               "address prefixlen device file line")):
    """An address that a configuration file adds at boot; ``device`` may carry a label (lo:1)."""

    @property
    def interface(self):
        return self.device.split(":")[0]

    @property
    def where(self):
        return "{}:{}".format(self.file, self.line)

    def __str__(self):
        return "{}/{} on {} ({})".format(self.address, self.prefixlen, self.device, self.where)


def _address(text, prefix=None):
    """(ip_address, prefixlen) from 'a.b.c.d[/len]' or None; no prefix means a host address."""
    text = text.strip().strip("'\"")
    address, _, length = text.partition("/")
    try:
        ip = ipaddress.ip_address(address)
        if length:
            prefix = length
        if prefix is None:
            return ip, ip.max_prefixlen
        return ip, _prefixlen(ip, prefix)
    except ValueError:
        return None


def _prefixlen(ip, prefix):
    """A prefix length from '24' or '255.255.255.0'."""
    prefix = str(prefix).strip().strip("'\"")
    if "." in prefix:
        return ipaddress.ip_network("0.0.0.0/" + prefix).prefixlen
    length = int(prefix)
    if not 0 <= length <= ip.max_prefixlen:
        raise ValueError(prefix)
    return length


def classful_prefixlen(ip):
    """The class mask that ipcalc and ifconfig assume when none is given."""
    first = int(ip) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24


def _text_lines(source, path):
    return enumerate(source.read_text(path).splitlines(), 1)


# --- shell commands: `ip addr add` and `ifconfig`, in ifupdown, units, rc.local ----------

_IP_FAMILY_OPTIONS = {"-4", "-6", "-f", "-family", "-n", "-netns"}


def commands_in(line):
    """The simple commands of a shell line (split at ; && || |), as word lists."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return []
    commands, current = [], []
    for word in words:
        if word in (";", "&&", "||", "|", "&"):
            commands.append(current)
            current = []
        else:
            current.append(word.rstrip(";"))
    commands.append(current)
    return [command for command in commands if command]


def address_from_command(words):
    """(ip, prefixlen, device) that an `ip addr add` or `ifconfig` command adds, else None."""
    if not words:
        return None
    program = posixpath.basename(words[0])
    if program == "ip":
        rest = words[1:]
        while rest and rest[0].startswith("-"):
            option = rest.pop(0)
            if option in _IP_FAMILY_OPTIONS and option not in ("-4", "-6") and rest:
                rest.pop(0)
        if len(rest) < 3 or not "address".startswith(rest[0]) or rest[1] not in ("add", "replace"):
            return None
        parsed = _address(rest[2])
        options = dict(zip(rest[3::2], rest[4::2]))
        device = options.get("label") or options.get("dev")
        if parsed and device:
            return parsed[0], parsed[1], device
        return None
    if program == "ifconfig" and len(words) >= 3:
        ip = _address(words[2])
        if not ip:
            return None
        netmask = words[words.index("netmask") + 1] if "netmask" in words[:-1] else None
        try:
            prefix = _prefixlen(ip[0], netmask) if netmask else classful_prefixlen(ip[0])
        except ValueError:
            return None
        return ip[0], prefix, words[1]
    return None


def addresses_in_commands(source, path, select=lambda line: line):
    """Addresses added by commands on the lines of a script or unit (``select`` extracts the
    command part of a line, or None to skip it)."""
    found = []
    for number, line in _text_lines(source, path):
        command_line = select(line)
        if not command_line:
            continue
        for words in commands_in(command_line):
            added = address_from_command(words)
            if added:
                found.append(ConfiguredAddress(added[0], added[1], added[2], path, number))
    return found


# --- ifupdown ---------------------------------------------------------------------------

IFUPDOWN_MAIN = "/etc/network/interfaces"
IFUPDOWN_DIR = "/etc/network"
_SOURCE_DIRECTORY_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
_IFUPDOWN_HOOKS = ("up", "post-up", "pre-up")


def _ifupdown_files(source, path, seen):
    if path in seen or len(seen) > 200:
        return
    text = source.read_optional(path)
    if text is None:
        return
    seen.append(path)
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or words[0] not in ("source", "source-directory"):
            continue
        pattern = words[1] if words[1].startswith("/") else posixpath.join(IFUPDOWN_DIR, words[1])
        if words[0] == "source":
            directory, name = posixpath.split(pattern)
            for match in source.listdir(directory):
                if fnmatch.fnmatchcase(match, name):
                    _ifupdown_files(source, posixpath.join(directory, match), seen)
        else:
            for match in source.listdir(pattern):
                if _SOURCE_DIRECTORY_NAME.match(match):
                    _ifupdown_files(source, posixpath.join(pattern, match), seen)


def read_ifupdown(source):
    """`iface` stanzas with `address`/`netmask`, and `up ip addr add` hooks, through includes."""
    files = []
    _ifupdown_files(source, IFUPDOWN_MAIN, files)
    found = []
    for path in files:
        stanza = None  # {"device", "addresses": [(line number, text)], "netmask"}
        for number, raw in _text_lines(source, path):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            keyword = words[0]
            if keyword in ("iface", "mapping", "auto", "allow-hotplug", "source",
                           "source-directory") or keyword.startswith("allow-"):
                found.extend(_stanza_address(stanza, path))
                stanza = None
                if keyword == "iface" and len(words) > 1:
                    stanza = {"device": words[1], "addresses": [], "netmask": None}
            elif stanza and keyword == "address" and len(words) > 1:
                stanza["addresses"].append((number, words[1]))
            elif stanza and keyword == "netmask" and len(words) > 1:
                stanza["netmask"] = words[1]
            elif stanza and keyword in _IFUPDOWN_HOOKS:
                for command in commands_in(raw.split(None, 1)[1] if len(words) > 1 else ""):
                    added = address_from_command(command)
                    if added:
                        found.append(ConfiguredAddress(added[0], added[1], added[2], path, number))
        found.extend(_stanza_address(stanza, path))
    return found


def _stanza_address(stanza, path):
    """`address` lines of an iface stanza; ifupdown runs `ip addr add ADDRESS[/NETMASK]`, so an
    address without netmask is a host address."""
    found = []
    for number, text in stanza["addresses"] if stanza else []:
        parsed = _address(text, stanza["netmask"])
        if parsed:
            found.append(ConfiguredAddress(parsed[0], parsed[1], stanza["device"], path, number))
    return found


# --- netplan ----------------------------------------------------------------------------

NETPLAN_DIRS = ("/etc/netplan", "/run/netplan", "/lib/netplan", "/usr/lib/netplan")
_NETPLAN_DEVICE_TYPES = ("ethernets", "bonds", "bridges", "vlans", "dummy-devices", "virtual-ethernets")


def read_netplan(source):
    """`addresses` of netplan devices (a YAML subset: block mappings, block and flow lists)."""
    found = []
    for path in conf_files(source, NETPLAN_DIRS, (".yaml", ".yml")):
        stack = []  # [(indent, key)]
        list_key_indent = None
        for number, raw in _text_lines(source, path):
            line = raw.split(" #", 1)[0].rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            indent = len(line) - len(line.lstrip())
            text = line.strip()
            if text.startswith("- "):
                if list_key_indent is not None and indent >= list_key_indent:
                    found.extend(_netplan_item(text[2:].rstrip(":"), stack, path, number))
                continue
            while stack and stack[-1][0] >= indent:
                stack.pop()
            key, _, value = text.partition(":")
            key = key.strip().strip("'\"")
            value = value.strip()
            stack.append((indent, key))
            list_key_indent = None
            if key == "addresses":
                if value.startswith("["):
                    for item in value.strip("[]").split(","):
                        found.extend(_netplan_item(item, stack, path, number))
                elif not value:
                    list_key_indent = indent
    return found


def _netplan_item(item, stack, path, number):
    """An address item under network.<device type>.<id>.addresses."""
    keys = [key for _, key in stack]
    if len(keys) < 3 or keys[-1] != "addresses" or keys[-3] not in _NETPLAN_DEVICE_TYPES:
        return []
    item = item.strip().rstrip(":")
    parsed = _address(item) if "/" in item else None
    return [ConfiguredAddress(parsed[0], parsed[1], keys[-2], path, number)] if parsed else []


# --- systemd-networkd -------------------------------------------------------------------

NETWORKD_DIRS = ("/etc/systemd/network", "/run/systemd/network", "/usr/local/lib/systemd/network",
                 "/usr/lib/systemd/network", "/lib/systemd/network")


def _ini_sections(source, path):
    """(section, key, value, line) of an INI-like unit file; repeated keys kept."""
    section = None
    for number, raw in _text_lines(source, path):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep:
            yield section, key.strip(), value.strip(), number


def networkd_links(source, interfaces):
    """{interface: (file, [(section, key, value, line)])}: the .network file networkd applies
    to each interface, the first in name order whose [Match] Name= matches it."""
    files = conf_files(source, NETWORKD_DIRS, (".network",))
    parsed = {path: list(_ini_sections(source, path)) for path in files}
    chosen = {}
    for interface in interfaces:
        for path in files:
            names = " ".join(value for section, key, value, _ in parsed[path]
                             if section == "Match" and key == "Name").split()
            if names and any(fnmatch.fnmatchcase(interface, name) for name in names):
                chosen[interface] = (path, parsed[path])
                break
    return chosen


def read_networkd(source, interfaces):
    """`Address=` of the .network file that networkd applies to each interface."""
    found = []
    for interface, (path, entries) in networkd_links(source, interfaces).items():
        for section, key, value, number in entries:
            if section in ("Network", "Address") and key == "Address":
                address = _address(value)
                if address:
                    found.append(ConfiguredAddress(address[0], address[1], interface, path,
                                                   number))
    return found


_BOOLEANS = {"yes": 1, "true": 1, "on": 1, "1": 1, "no": 0, "false": 0, "off": 0, "0": 0}


def networkd_proxy_arp(source, interfaces):
    """{interface: (0 or 1, file, line, text)} for links whose .network sets IPv4ProxyARP=;
    networkd writes it when it configures the link, after systemd-sysctl."""
    found = {}
    for interface, (path, entries) in networkd_links(source, interfaces).items():
        for section, key, value, number in entries:
            if section == "Network" and key == "IPv4ProxyARP" and value.lower() in _BOOLEANS:
                found[interface] = (_BOOLEANS[value.lower()], path, number,
                                    "{}={}".format(key, value))
    return found


# --- NetworkManager keyfiles ------------------------------------------------------------

NM_DIRS = ("/etc/NetworkManager/system-connections", "/run/NetworkManager/system-connections",
           "/usr/lib/NetworkManager/system-connections")
_NM_ADDRESS_KEY = re.compile(r"^addresse?s?\d*$")


def read_networkmanager(source):
    """`addressN=` of [ipv4]/[ipv6] in keyfiles bound to an interface-name."""
    found = []
    for directory in NM_DIRS:
        for name in source.listdir(directory):
            if not name.endswith(".nmconnection"):
                continue
            path = posixpath.join(directory, name)
            entries = list(_ini_sections(source, path))
            device = next((value for section, key, value, _ in entries
                           if section == "connection" and key == "interface-name"), "")
            for section, key, value, number in entries:
                if section in ("ipv4", "ipv6") and _NM_ADDRESS_KEY.match(key):
                    for item in value.split(";"):
                        address = _address(item.split(",")[0]) if item.strip() else None
                        if address and "/" in item:
                            found.append(ConfiguredAddress(address[0], address[1],
                                                           device or "?", path, number))
    return found


# --- RHEL ifcfg -------------------------------------------------------------------------

IFCFG_DIR = "/etc/sysconfig/network-scripts"


def read_ifcfg(source):
    """IPADDR[n] with PREFIX[n] or NETMASK[n] (class mask when neither) of ifcfg-* files."""
    found = []
    for name in source.listdir(IFCFG_DIR):
        if not name.startswith("ifcfg-"):
            continue
        path = posixpath.join(IFCFG_DIR, name)
        variables = {}
        lines = {}
        for number, raw in _text_lines(source, path):
            key, sep, value = raw.split("#", 1)[0].strip().partition("=")
            if sep:
                variables[key.strip()] = value.strip().strip("'\"")
                lines[key.strip()] = number
        device = variables.get("DEVICE", name[len("ifcfg-"):])
        for key, value in variables.items():
            match = re.match(r"^IPADDR(\d*)$", key)
            if not match:
                continue
            suffix = match.group(1)
            try:
                ip = ipaddress.ip_address(value)
                prefix = variables.get("PREFIX" + suffix) or variables.get("NETMASK" + suffix)
                length = _prefixlen(ip, prefix) if prefix else classful_prefixlen(ip)
            except ValueError:
                continue
            found.append(ConfiguredAddress(ip, length, device, path, lines[key]))
    return found


# --- the site's own units and scripts ---------------------------------------------------

UNIT_DIR = "/etc/systemd/system"
RC_LOCAL = "/etc/rc.local"


def _exec_line(line):
    key, sep, value = line.strip().partition("=")
    if sep and key.strip().startswith("Exec"):
        return value.lstrip("-@:+!")
    return None


def read_site_scripts(source):
    """`ip addr add` / `ifconfig` in systemd units under /etc/systemd/system and rc.local."""
    found = []
    for name in source.listdir(UNIT_DIR):
        path = posixpath.join(UNIT_DIR, name)
        if name.endswith(".service") and source.kind(path) == "file":
            found.extend(addresses_in_commands(source, path, _exec_line))
    if source.kind(RC_LOCAL) is not None:
        found.extend(addresses_in_commands(source, source.resolve(RC_LOCAL)))
    return found


FORMATS = "ifupdown, netplan, systemd-networkd, NetworkManager, ifcfg, units in /etc/systemd/system, rc.local"


def read_all(source, interfaces):
    """Every address any known boot-time configuration adds, under the source's root."""
    try:
        found = (read_ifupdown(source) + read_netplan(source) + read_networkd(source, interfaces)
                 + read_networkmanager(source) + read_ifcfg(source) + read_site_scripts(source))
    except RecursionError:
        raise PluginError("the network configuration includes itself too deeply")
    for address in found:
        log.info("boot configuration adds %s", address)
    return found
