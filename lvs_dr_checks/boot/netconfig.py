"""Boot-time network configuration: which addresses it puts on which device at boot.

One reader per format, each returning ConfiguredAddress records (where, what, on which
device); whether that is right is the check's business.
"""

import collections
import ipaddress
import posixpath
import re
from collections.abc import Collection

from lvs_dr_checks.boot import bootscripts, commands, ifupdown, netplan, networkd, networkmanager, systemd
from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.local import Source

log = logger("netconfig")


class ConfiguredAddress(collections.namedtuple("ConfiguredAddress",
                                               "address prefixlen device file line inactive",
                                               defaults=(None,))):
    """An address that a configuration file names for boot; ``device`` may carry a label
    (lo:1); ``inactive`` says why the boot never adds it (None: it does)."""

    @property
    def interface(self) -> str:
        return self.device.split(":")[0]

    @property
    def where(self) -> str:
        return "{}:{}".format(self.file, self.line)

    def __str__(self):
        return "{}/{} on {} ({}){}".format(self.address, self.prefixlen, self.device, self.where,
                                           "" if self.inactive is None else
                                           ": never added, " + self.inactive)


def _text_lines(source, path):
    return enumerate(source.read_text(path).splitlines(), 1)


# --- ifupdown ---------------------------------------------------------------------------

def read_ifupdown(source: Source, interfaces: Collection[str]) -> list[ConfiguredAddress]:
    """What ifup puts on the interfaces at boot (ifupdown.py), and what it never adds."""
    return [ConfiguredAddress(*record) for record in ifupdown.boot(source, interfaces)]


# --- systemd-networkd -------------------------------------------------------------------

def read_networkd(source: Source, interfaces: Collection[str]) -> list[ConfiguredAddress]:
    """Addresses of the .network file networkd applies to each link (networkd.py), with
    those netplan's generator hands it (netplan.py), and those never applied, with the
    reason."""
    generated, unused = netplan.generated(source)
    files = networkd.network_files(source, generated)
    chosen = networkd.applied(files, interfaces)
    found = [ConfiguredAddress(ip, prefixlen, "?", path, line, why)
             for ip, prefixlen, path, line, why in unused]
    for network in files:
        unique = {}  # an address given twice is added once
        for ip, prefixlen, entry in network.addresses():
            unique.setdefault((ip, prefixlen), entry)
        if not unique:
            continue
        links = [name for name, applied in chosen.items() if applied is network]
        unmanaged = network.unmanaged
        if not links:
            reason = _never_applied(network, chosen, interfaces)
        elif unmanaged is not None:
            reason = "{}={} at {}:{}".format(unmanaged.key, unmanaged.value, unmanaged.file,
                                              unmanaged.line)
        else:
            reason = None
        for (ip, prefixlen), entry in unique.items():
            found.extend(ConfiguredAddress(ip, prefixlen, link, entry.file, entry.line, reason)
                         for link in links or ["?"])
    return found


def _never_applied(network, chosen, interfaces):
    taken = [name for name in interfaces if name in chosen
             and network.matches_link(name, networkd.link_kind(name))]
    if taken:
        return "systemd-networkd applies one file per link, the first in name order: {} gets " \
               "{}".format(taken[0], chosen[taken[0]].path)
    return "its [Match] matches no link here"


def networkd_proxy_arp(source: Source,
                       interfaces: Collection[str]) -> dict[str, tuple[int, str, int, str]]:
    """{interface: (0 or 1, file, line, text)} for links whose .network sets IPv4ProxyARP=;
    networkd writes it when it configures the link, after systemd-sysctl."""
    found = {}
    files = networkd.network_files(source, netplan.generated(source)[0])
    for interface, network in networkd.applied(files, interfaces).items():
        entry = network.last("Network", "IPv4ProxyARP")
        value = systemd.parse_boolean(entry.value) if entry else None
        if entry is not None and value is not None and network.unmanaged is None:
            found[interface] = (int(value), entry.file, entry.line,
                                "{}={}".format(entry.key, entry.value))
    return found


# --- NetworkManager keyfiles ------------------------------------------------------------

def read_networkmanager(source: Source, interfaces: Collection[str]) -> list[ConfiguredAddress]:
    """Addresses of the profile NetworkManager activates on each device (networkmanager.py),
    and those of profiles it never activates, with the reason."""
    loaded, ignored = networkmanager.profiles(source)
    if not loaded and not ignored:
        return []
    winners = {name: networkmanager.chosen(loaded, name) for name in interfaces}
    found = []
    for profile in loaded:
        devices = [name for name, winner in winners.items() if winner is profile]
        reason = None if devices else networkmanager.why_not(profile, interfaces, winners)
        for ip, prefixlen, line in networkmanager.addresses(profile, configured=not reason):
            found.extend(ConfiguredAddress(ip, prefixlen, device, profile.path, line)
                         for device in devices)
            if reason:
                found.append(ConfiguredAddress(ip, prefixlen, "?", profile.path, line, reason))
    for path, reason in ignored:
        text = source.read_optional(source.resolve(path)) or ""
        for number, text_line in enumerate(text.splitlines(), 1):
            key, _, value = text_line.partition("=")
            parsed = networkmanager.loose_address(key, value)
            if parsed:
                found.append(ConfiguredAddress(parsed[0], parsed[1], "?", path, number, reason))
    return found


# --- RHEL ifcfg -------------------------------------------------------------------------
# As initscripts' network service and ifup-aliases read them (a model from their source: no
# Debian package carries them to prove it against): main files come up unless ONBOOT=no,
# lo always; an alias file (ifcfg-DEV:N) comes up with its parent unless ONPARENT=no, and
# takes IPADDR only; backup names are ignored; without PREFIX or NETMASK, the class mask.

IFCFG_DIR = "/etc/sysconfig/network-scripts"
_IFCFG_IGNORED = (".bak", "~", ".old", ".orig", ".rpmnew", ".rpmorig", ".rpmsave")


def _ifcfg_variables(source, path):
    """({name: value}, {name: line}) of a shell-variable file, the last assignment winning."""
    variables, lines = {}, {}
    for number, raw in _text_lines(source, path):
        key, sep, value = raw.split("#", 1)[0].strip().partition("=")
        if sep:
            variables[key.strip()] = value.strip().strip("'\"")
            lines[key.strip()] = number
    return variables, lines


def _no(value):
    return (value or "").lower() in ("no", "false", "0", "n")


def read_ifcfg(source: Source) -> list[ConfiguredAddress]:
    """IPADDR[n] with PREFIX[n] or NETMASK[n] of the ifcfg-* files, and why one never comes up."""
    files = {}
    for name in source.listdir(IFCFG_DIR):
        path = posixpath.join(IFCFG_DIR, name)
        if (name.startswith("ifcfg-") and not name.endswith(_IFCFG_IGNORED)
                and source.kind(source.resolve(path)) == "file"):
            files[name[len("ifcfg-"):]] = (path,) + _ifcfg_variables(source, path)
    found = []
    for name, (path, variables, lines) in sorted(files.items()):
        parent = name.split(":")[0]
        alias = ":" in name
        reason = None
        if alias and _no(variables.get("ONPARENT")):
            reason = "ONPARENT=no: it never comes up with {}".format(parent)
        elif not alias and parent != "lo" and _no(variables.get("ONBOOT")):
            reason = "ONBOOT=no: the network service does not bring it up"
        elif alias and parent != "lo" and parent in files and _no(files[parent][1].get("ONBOOT")):
            reason = "its parent {} has ONBOOT=no".format(parent)
        device = variables.get("DEVICE", name)
        for key, value in variables.items():
            match = re.match(r"^IPADDR(\d*)$", key)
            if not match:
                continue
            suffix = match.group(1)
            try:
                ip = ipaddress.ip_address(value)
                prefix = variables.get("PREFIX" + suffix) or variables.get("NETMASK" + suffix)
                length = (commands.prefixlen_of(ip, prefix) if prefix
                          else commands.classful_prefixlen(ip))
            except ValueError:
                continue
            why = reason or ("an alias file takes IPADDR only, not {}".format(key)
                             if alias and suffix else None)
            found.append(ConfiguredAddress(ip, length, device, path, lines[key], why))
    return found


# --- the site's own units and scripts ---------------------------------------------------

def read_site_scripts(source: Source) -> list[ConfiguredAddress]:
    """`ip addr add` / `ifconfig` in service units and rc.local (bootscripts.py)."""
    found = []
    for name, path, enabling in bootscripts.site_units(source):
        reason = None if enabling else "{} is not enabled, so it never runs at boot: " \
                                       "systemctl enable {}".format(name, name)
        found.extend(ConfiguredAddress(added.address, added.prefixlen, added.device, file,
                                       line, reason)
                     for added, file, line in bootscripts.unit_addresses(source, name, path))
    commands_run, reason = bootscripts.rc_local(source)
    found.extend(ConfiguredAddress(added.address, added.prefixlen, added.device,
                                   bootscripts.RC_LOCAL, line, reason)
                 for added, line in commands_run)
    return found


FORMATS = "ifupdown, netplan, systemd-networkd, NetworkManager, ifcfg, service units, rc.local"


def read_all(source: Source, interfaces: Collection[str]) -> list[ConfiguredAddress]:
    """Every address any known boot-time configuration adds, under the source's root."""
    try:
        found = (read_ifupdown(source, interfaces) + read_networkd(source, interfaces)
                 + read_networkmanager(source, interfaces) + read_ifcfg(source) + read_site_scripts(source))
    except RecursionError:
        raise PluginError("the network configuration includes itself too deeply")
    for address in found:
        log.info("boot configuration adds %s", address)
    return found
