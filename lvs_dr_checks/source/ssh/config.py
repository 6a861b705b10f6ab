"""What ~/.ssh/config and the command line say about a host: its name checked, HostName,
User, Port and IdentityFile read as ssh reads them; nothing that runs a command or reaches
another host is ever followed."""

import fnmatch
import ipaddress
import logging
import os
import re

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.localfiles import read_local_file

log = logger("ssh")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})"
                       r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$")
MAX_CONFIG_BYTES = 1024 * 1024
# ssh_config keywords this reader never acts on (they run commands or reach other hosts).
NOT_FOLLOWED = {"match": "Match", "proxycommand": "ProxyCommand", "proxyjump": "ProxyJump",
                "localcommand": "LocalCommand", "knownhostscommand": "KnownHostsCommand",
                "include": "Include"}


def valid_host(text, option="-H"):
    """A host name (RFC 1123, '_' tolerated) or an IP address without a scope; anything
    else is refused before it reaches ssh_config patterns, DNS or a log line."""
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if not _HOSTNAME.match(text or ""):
        raise PluginError("{} {!r}: not a host name or IP address".format(option, text[:80]))
    return text


def _host_matches(patterns, host):
    """ssh_config's Host rule: some pattern matches and no negated one does."""
    host = host.lower()
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(host, pattern.lstrip("!").lower()):
            if negated:
                return False
            matched = True
    return matched


def parse_ssh_config(text, host):
    """({hostname, user, port, identityfile: [...]}, keywords not followed) for ``host``.

    Only HostName, User, Port and IdentityFile are read, first value wins as in ssh;
    Match blocks, ProxyCommand, ProxyJump, LocalCommand and Include are never acted on."""
    found = {"identityfile": []}
    ignored = set()
    applies = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*=\s*|\s+", line, maxsplit=1)
        keyword = parts[0].lower()
        value = parts[1].strip() if len(parts) > 1 else ""
        if len(value) > 1 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if keyword == "host":
            applies = _host_matches(value.split(), host)
        elif keyword in NOT_FOLLOWED:
            ignored.add(NOT_FOLLOWED[keyword])
            if keyword == "match":
                applies = False
        elif not applies:
            continue
        elif keyword == "identityfile":
            found["identityfile"].append(value)
        elif keyword in ("hostname", "user", "port") and keyword not in found:
            found[keyword] = value
    return found, sorted(ignored)


def expand(value, host, user):
    """The % tokens ssh expands in HostName and IdentityFile that matter here."""
    tokens = {"%h": lambda: host, "%d": lambda: os.path.expanduser("~"), "%u": local_user,
              "%r": lambda: user, "%%": lambda: "%"}
    return os.path.expanduser(re.sub(r"%[hdur%]", lambda m: tokens[m.group()](), value))


def local_user():
    """This process's user name, as ssh takes it ($LOGNAME, $USER, else the passwd entry)."""
    import getpass
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (a container, a bare uid)
        raise PluginError("uid {} has no user name (no passwd entry, no $USER): give "
                          "--ssh-user".format(os.getuid()))


_WARNED = set()


def _verbosity():
    import nagiosplugin
    runtime = nagiosplugin.Runtime.instance
    return runtime.verbose if runtime else 0


def read_ssh_config(host):
    """~/.ssh/config's settings for ``host`` (see parse_ssh_config); what it holds and is not
    followed is said once per run (a warning at -v, else info)."""
    path = os.path.expanduser("~/.ssh/config")
    if not os.path.exists(path):
        return {"identityfile": []}
    text = read_local_file(path, "ssh config", MAX_CONFIG_BYTES).decode("utf-8", "replace")
    config, ignored = parse_ssh_config(text, host)
    if ignored and path not in _WARNED:
        _WARNED.add(path)
        log.log(logging.WARNING if _verbosity() else logging.INFO,
                "%s: %s not followed (only HostName, User, Port and IdentityFile are read)",
                path, ", ".join(ignored))
    return config
