"""What NetworkManager 1.42 (keyfile plugin) configures on each device at boot.

The rules (each proven against the real daemon by tests/test_networkmanager_oracle.py):
- profiles are the files of /etc/NetworkManager/system-connections (any name) and of /run
  and /usr/lib .../system-connections (`*.nmconnection` only); hidden names, names ending in
  `~`, `.pem`, `.der`, `.nmmeta` or a mkstemp suffix (`.` and six letters or digits, so
  `.rpmnew` too) are ignored; so is a file not owned by root or readable by others than its
  owner, and one that is not a valid key file (a line that is no group, key or comment);
- a profile in /run hides the one of the same uuid in /etc, which hides /usr/lib's;
- a device gets the profile that autoconnects (autoconnect, default yes) for its type
  (`loopback` for lo, `ethernet` for the others) and name (connection.interface-name, else
  [match] interface-name globs, else any), the highest autoconnect-priority first, then the
  smaller uuid (a profile without uuid gets one NetworkManager derives: a tie then is not
  known here);
- its [ipv4]/[ipv6] addresses (addressN, addressesN, legacy `ADDR;PREFIX;GW`), when the method
  is manual or auto; none when it is disabled or missing; without a prefix, IPv4 gets its
  class mask.
"""

import collections
import posixpath
import re
import stat
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Optional

from lvs_dr_checks.boot import commands
from lvs_dr_checks.boot.ctext import GLIB_SPACE
from lvs_dr_checks.source.local import Source, name_matches

ETC = "/etc/NetworkManager/system-connections"
DIRECTORIES = ("/run/NetworkManager/system-connections", ETC,
               "/usr/lib/NetworkManager/system-connections")  # the first hides the others
_IGNORED = re.compile(r"(^\.|~$|\.pem$|\.der$|\.nmmeta$|\.[A-Za-z0-9]{6}$)")
_ADDRESS_KEY = re.compile(r"^addresse?s?\d*$")
_TYPES = {"802-3-ethernet": "ethernet"}

Profile = collections.namedtuple("Profile", "path entries uuid")


def _keyfile(text, path):
    """[(group, key, value, line)] of a GKeyFile, or None when GLib would refuse it: lines cut
    at \\n, each a C string (a NUL ends it), stripped of GLib's blanks only."""
    entries, group = [], None
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("\0")[0].strip(GLIB_SPACE)
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if not sep or group is None:
            return None
        entries.append((group, key.strip(GLIB_SPACE), value.strip(GLIB_SPACE), number))
    return entries


def _value(profile, group, key, default=None):
    found = [value for g, k, value, _ in profile.entries if g == group and k == key]
    return found[-1] if found else default


def profiles(source: Source) -> tuple[list[Profile], list[tuple[str, str]]]:
    """([Profile] NetworkManager loads, [(path, why it is ignored)])."""
    source.prefetch(directories=DIRECTORIES)
    loaded, ignored = {}, []
    for directory in DIRECTORIES:
        for name in source.listdir(directory):
            path = posixpath.join(directory, name)
            if _IGNORED.search(name) or (directory != ETC and not name.endswith(".nmconnection")):
                continue
            resolved = source.resolve(path)
            if source.kind(resolved) != "file":
                continue
            owner, mode = source.owner_and_mode(resolved)
            if owner != 0 or mode & 0o077:
                ignored.append((path, "NetworkManager ignores it: owned by uid {}, mode {:o} "
                                      "(it must be root's and 0600)".format(
                                          owner, stat.S_IMODE(mode))))
                continue
            entries = _keyfile(source.read_text(resolved), path)
            if entries is None:
                ignored.append((path, "NetworkManager ignores it: not a valid key file"))
                continue
            profile = Profile(path, entries, None)
            uuid = _value(profile, "connection", "uuid")
            key = uuid or path
            if key not in loaded:  # an earlier directory hides the same uuid later
                loaded[key] = profile._replace(uuid=uuid)
    return list(loaded.values()), ignored


def _kind(profile):
    kind = _value(profile, "connection", "type", "")
    return _TYPES.get(kind, kind)


def _autoconnects(profile):
    return _value(profile, "connection", "autoconnect", "true").lower() not in (
        "false", "no", "0", "off")


def _configures(profile, family):
    """Whether the method of [ipv4]/[ipv6] configures addresses."""
    return _value(profile, family, "method") in ("manual", "auto")


def _for_device(profile, device):
    """Whether the profile may autoconnect on the device."""
    if not _autoconnects(profile):
        return False
    if _kind(profile) != ("loopback" if device == "lo" else "ethernet"):
        return False
    name = _value(profile, "connection", "interface-name")
    if name:
        return name == device
    patterns = [p for p in _value(profile, "match", "interface-name", "").split(";") if p]
    positive = [p.lstrip("|&") for p in patterns if not p.startswith("!")]
    if positive and not any(name_matches(p, device) for p in positive):
        return False
    return not any(name_matches(p[1:], device) for p in patterns if p.startswith("!"))


def _priority(profile):
    try:
        return int(_value(profile, "connection", "autoconnect-priority", "0"))
    except ValueError:
        return 0


def chosen(loaded: Iterable[Profile], device: str) -> Optional[Profile]:
    """The Profile NetworkManager activates on the device, or None (none fits, or a tie
    this model cannot break)."""
    candidates = [p for p in loaded if _for_device(p, device)]
    if not candidates:
        return None
    best = max(_priority(p) for p in candidates)
    top = [p for p in candidates if _priority(p) == best]
    if len(top) > 1 and any(p.uuid is None for p in top):
        return None
    return min(top, key=lambda p: p.uuid)


def why_not(profile: Profile, interfaces: Collection[str],
            winners: Mapping[str, Optional[Profile]]) -> Optional[str]:
    """Why a profile's addresses are not configured at boot (None: they are)."""
    if not any(_configures(profile, family) for family in ("ipv4", "ipv6")):
        return "its method is not manual or auto: NetworkManager configures no address"
    if not _autoconnects(profile):
        return "autoconnect=false: NetworkManager does not bring it up at boot"
    fits = [name for name in interfaces if _for_device(profile, name)]
    if not fits:
        return "type={} applies to no device here (lo takes type=loopback)".format(
            _value(profile, "connection", "type", ""))
    winner = winners.get(fits[0])
    if winner is None:
        return "NetworkManager picks one of several profiles of the same " \
               "autoconnect-priority for {}: which one is not known here; set " \
               "autoconnect-priority".format(fits[0])
    return "{} gets {} (higher autoconnect-priority, or the smaller uuid)".format(
        fits[0], winner.path)


def addresses(profile: Profile, configured: bool = True) -> list[tuple[Any, int, int]]:
    """(ip, prefixlen, line) of the profile's addresses that NetworkManager configures (all
    that it names when not ``configured``)."""
    found = []
    for family in ("ipv4", "ipv6"):
        if configured and not _configures(profile, family):
            continue
        for group, key, value, number in profile.entries:
            if group == family and _ADDRESS_KEY.match(key):
                parsed = _address(value)
                if parsed:
                    found.append((parsed[0], parsed[1], number))
    return found


def _address(value):
    """(ip, prefixlen) of 'ADDR[/LEN][,GATEWAY]' or the legacy 'ADDR;LEN;GATEWAY;'."""
    if ";" in value:
        parts = value.split(";")
        value = parts[0] + ("/" + parts[1] if len(parts) > 1 and parts[1] else "")
    return commands.interface_address(value.split(",")[0].strip(), commands.classful_prefixlen)


def loose_address(key: str, value: str) -> Optional[tuple[Any, int]]:
    """The address of one 'addressN=' line of a file NetworkManager refuses (to say what is
    lost), or None."""
    return _address(value.strip()) if _ADDRESS_KEY.match(key.strip()) else None
