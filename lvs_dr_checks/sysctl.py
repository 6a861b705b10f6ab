"""net.ipv4.conf values: those in force now (/proc/sys) and those systemd-sysctl would set at boot.

A model only: which value, from where. Verdicts are the checks' business.
"""

import collections
import fnmatch

from lvs_dr_checks import kernel
from lvs_dr_checks.cli import PluginError, logger
from lvs_dr_checks.source import conf_files

log = logger("sysctl")
PROC_CONF = "/proc/sys/net/ipv4/conf"

# systemd-sysctl's search path, highest priority first (/lib for split-usr systems).
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
               "/usr/lib/sysctl.d", "/lib/sysctl.d")
GLOB_CHARS = "*?["


def read_runtime(source, scopes, keys=kernel.KEYS):
    """{scope: {key: int}} from /proc/sys/net/ipv4/conf for 'all', 'default' and interfaces."""
    if source.kind(PROC_CONF) is None:
        raise PluginError("{} is missing: no IPv4 in this network namespace or /proc/sys not "
                          "mounted; run the check where the real server's interfaces are"
                          .format(PROC_CONF))
    values = {}
    for scope in scopes:
        values[scope] = {}
        for key in keys:
            path = "{}/{}/{}".format(PROC_CONF, scope, key)
            text = source.read_text(path).strip()
            try:
                values[scope][key] = int(text)
            except ValueError:
                raise PluginError("{}: not a number: {!r}".format(path, text[:40]))
    return values


def normalize_key(key):
    """The /proc/sys path of a sysctl.d key: '.' or '/' separators, as systemd-sysctl reads them.

    If the first separator is a dot, dots and slashes are interchanged
    (net.ipv4.conf.eth0/100.arp_ignore is the interface eth0.100).
    """
    key = key.strip().lstrip("/")
    first_dot, first_slash = key.find("."), key.find("/")
    if first_dot >= 0 and (first_slash < 0 or first_dot < first_slash):
        key = key.translate(str.maketrans("./", "/."))
    return key


def conf_path(scope, key):
    return "net/ipv4/conf/{}/{}".format(scope, key)


class Assignment(collections.namedtuple("Assignment", "path value file line text")):
    """One 'key = value' line: normalized path, value (None: excluded from globs), origin."""

    @property
    def where(self):
        return "{}:{}".format(self.file, self.line)


class BootSysctl:
    """What systemd-sysctl applies at boot, from the sysctl.d files under a source's root."""

    def __init__(self, source):
        self.source = source
        self.files = conf_files(source, SYSCTL_DIRS, (".conf",))
        log.info("systemd-sysctl would apply, in this order: %s", ", ".join(self.files) or "nothing")
        self.explicit = collections.OrderedDict()
        self.globs = collections.OrderedDict()
        for path in self.files:
            self._parse(path)

    def _parse(self, path):
        for number, raw in enumerate(self.source.read_text(path).splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("-"):
                line = line[1:]
            key, sep, value = line.partition("=")
            if not sep:
                # "-key" without a value excludes the key from glob assignments.
                if raw.strip().startswith("-"):
                    value = None
                else:
                    continue
            else:
                value = value.strip()
            normalized = normalize_key(key)
            table = self.globs if any(c in normalized for c in GLOB_CHARS) else self.explicit
            table.pop(normalized, None)  # a later assignment wins and moves to the end
            table[normalized] = Assignment(normalized, value, path, number, raw.strip())

    def lookup(self, path):
        """The assignment that sets ``path`` at boot, or None; explicit keys beat globs."""
        if path in self.explicit:
            found = self.explicit[path]
            return None if found.value is None else found
        winner = None
        for pattern, assignment in self.globs.items():
            if assignment.value is not None and fnmatch.fnmatchcase(path, pattern):
                winner = assignment
        return winner

    def value(self, scope, key):
        """(int value after boot, the assignment that set it or None).

        Interfaces that exist at boot keep the kernel default unless a line names them (or a
        glob matches): ``default`` only reaches interfaces created later.
        """
        assignment = self.lookup(conf_path(scope, key))
        if assignment is None:
            return kernel.KERNEL_DEFAULT, None
        try:
            return int(assignment.value), assignment
        except ValueError:
            # The kernel refuses the write; the value stays as it was.
            return kernel.KERNEL_DEFAULT, assignment
