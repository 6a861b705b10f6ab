"""The net.ipv4.conf values a boot would set: systemd-sysctl's and procps' `sysctl --system`
models, each reading the files as that tool reads them, and the kernel's acceptance of each
written value (kernel.kernel_int).

A model only: which value, from where. Verdicts are the checks' business.
"""

import collections
from collections.abc import Iterable
from typing import Any, Optional

from lvs_dr_checks import kernel
from lvs_dr_checks.boot.ctext import C_ISSPACE, SYSTEMD_WHITESPACE, systemd_lines
from lvs_dr_checks.boot.systemd import conf_files
from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.local import Source, name_matches

log = logger("sysctl")
# systemd-sysctl's search path, highest priority first (/lib for split-usr systems).
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d",
               "/usr/lib/sysctl.d", "/lib/sysctl.d")
GLOB_CHARS = "*?["


def normalize_key(key: str) -> str:
    """The /proc/sys path of a sysctl.d key, as systemd-sysctl's sysctl_normalize() makes it:
    when the first separator is a dot, dots and slashes are interchanged (so
    net.ipv4.conf.eth0/100.arp_ignore is the interface eth0.100); then empty and '.'
    components go, and the leading slash."""
    key = key.strip(SYSTEMD_WHITESPACE)
    first = next((c for c in key if c in "./"), None)
    if first == ".":
        key = key.translate(str.maketrans("./", "/."))
    return "/".join(part for part in key.split("/") if part and part != ".")


def conf_path(scope: str, key: str) -> str:
    return "net/ipv4/conf/{}/{}".format(scope, key)


class Assignment(collections.namedtuple("Assignment", "path value file line text")):
    """One 'key = value' line: normalized path, value (None: excluded from globs), origin."""

    @property
    def where(self) -> str:
        return "{}:{}".format(self.file, self.line)

    @property
    def is_glob(self) -> bool:
        return any(c in self.path for c in GLOB_CHARS)


class BootValue(collections.namedtuple("BootValue", "value written origin via")):
    """A value in the kernel: written explicitly or not (a default write reaches only the
    unwritten), the line that set it, and ``via``: 'default' when it came from there,
    'refused' when the kernel refused that line's value."""


def glob_matches(pattern: str, path: str) -> bool:
    """glob(3) on /proc/sys: component by component, '/' never matched by a wildcard."""
    parts, names = pattern.split("/"), path.split("/")
    return len(parts) == len(names) and all(
        name_matches(part, name) for part, name in zip(parts, names))


class KernelAtBoot:
    """The net.ipv4.conf state of one namespace as systemd-sysctl writes it: values, the
    'written' mark the kernel keeps per key and interface, and default's propagation
    (devinet_copy_dflt_conf) to the interfaces not written."""

    def __init__(self, interfaces, keys=kernel.ALL_KEYS):
        self.keys = keys
        self.state = {scope: {key: BootValue(kernel.KERNEL_DEFAULT, False, None, None)
                              for key in keys} for scope in ("all", "default")}
        for name in interfaces:
            self.add_interface(name)

    def add_interface(self, name: str) -> None:
        """A new interface copies default's values and its written marks."""
        self.state[name] = {key: setting._replace(via="default" if setting.origin else None)
                            for key, setting in self.state["default"].items()}

    def paths(self) -> list[str]:
        return sorted(conf_path(scope, key) for scope in self.state for key in self.keys)

    def write(self, path: str, value: str, origin: Any, skip_same: bool = True) -> None:
        """One write, as systemd-sysctl makes it (``skip_same``: the value already there is
        not written) or procps (every line is written)."""
        parts = [part for part in path.split("/") if part not in ("", ".")]
        if len(parts) != 5 or parts[:3] != ["net", "ipv4", "conf"] or \
                parts[3] not in self.state or parts[4] not in self.keys:
            return  # no such file here, or a key this model does not follow
        scope, key = parts[3], parts[4]
        current = self.state[scope][key]
        if skip_same and value == str(current.value):
            # systemd-sysctl: "No change in value", nothing is written (the key stays
            # unwritten), but this is the line that decides the value.
            self.state[scope][key] = current._replace(origin=origin, via=None)
            return
        number = kernel.kernel_int(value)
        if number is None:  # refused; the key still counts as written
            self.state[scope][key] = current._replace(written=True, origin=origin, via="refused")
        else:
            self.state[scope][key] = BootValue(number, True, origin, None)
        if scope == "default":
            source = self.state["default"][key]
            for name, settings in self.state.items():
                if name not in ("all", "default") and not settings[key].written:
                    settings[key] = BootValue(source.value, False, source.origin, "default")

    def value(self, scope: str, key: str) -> BootValue:
        return self.state[scope][key]


class BootSysctl:
    """What systemd-sysctl applies at boot, from the sysctl.d files under a source's root:
    its options in its order (a later different value moves to the end, a same value keeps
    its place), applied to a model of the kernel by ``boot``."""

    def __init__(self, source):
        self.source = source
        self.files = conf_files(source, SYSCTL_DIRS, (".conf",))
        log.info("systemd-sysctl would apply, in this order: %s", ", ".join(self.files) or "nothing")
        self.lines = []
        for path in self.files:
            self.lines.extend(self._parse(path))

    def _parse(self, path):
        for number, raw in systemd_lines(self.source.read_text(path)):
            line = raw.strip(SYSTEMD_WHITESPACE)
            if not line or line[0] in "#;":
                continue
            key, sep, value = line.partition("=")
            if sep:
                key, value = key[1:] if key.startswith("-") else key, \
                    value.strip(SYSTEMD_WHITESPACE)
            elif line.startswith("-"):
                key, value = line[1:], None  # "-key": excluded from glob assignments
            else:
                continue  # not an assignment: systemd-sysctl warns and ignores it
            yield Assignment(normalize_key(key), value, path, number, line)

    def options(self, prefix: Optional[str] = None) -> dict[str, Assignment]:
        """The ordered options of one systemd-sysctl run (``prefix``: --prefix)."""
        chosen: dict[str, Assignment] = collections.OrderedDict()
        for line in self.lines:
            if prefix and not line.is_glob and not _starts_with(line.path, prefix):
                continue
            existing = chosen.get(line.path)
            if existing is not None and existing.value == line.value:
                continue
            chosen.pop(line.path, None)
            chosen[line.path] = line
        return chosen

    def run(self, state: KernelAtBoot, prefix: Optional[str] = None) -> None:
        options = self.options(prefix)
        for option in options.values():
            if option.value is None:
                continue
            if option.is_glob:
                for path in state.paths():
                    if glob_matches(option.path, path) and path not in options and \
                            (not prefix or _starts_with(path, prefix)):
                        state.write(path, option.value, option)
            else:
                state.write(option.path, option.value, option)

    def boot(self, present: Iterable[str], later: Iterable[str] = ()) -> KernelAtBoot:
        """The kernel after boot: ``present`` interfaces exist when systemd-sysctl.service
        runs; udev's 99-systemd.rules then runs it once more per interface but lo with
        --prefix, for those present and for each ``later`` one as it appears."""
        state = KernelAtBoot(present)
        self.run(state)
        for name in present:
            if name != "lo":
                self.run(state, conf_path(name, "").rstrip("/"))
        for name in later:
            state.add_interface(name)
            self.run(state, conf_path(name, "").rstrip("/"))
        return state


def _starts_with(path, prefix):
    return path == prefix or path.startswith(prefix + "/")


# procps' `sysctl --system` reads the same directories in the same order, then this file.
PROCPS_LAST = "/etc/sysctl.conf"
INIT = "/sbin/init"


def procps_key_path(key: str) -> str:
    """The /proc/sys path procps writes for a key: when the first separator is a dot, dots
    and slashes are interchanged; nothing else is normalized."""
    first = next((c for c in key if c in "./"), None)
    return key.translate(str.maketrans("./", "/.")) if first == "." else key


class ProcpsSysctl:
    """What procps' `sysctl --system` applies at boot on a system without systemd: every
    `*.conf` of its directories (hidden ones too; a name in an earlier directory hides the
    same name later) in name order, then /etc/sysctl.conf (even when a sysctl.d link already
    read it). Every line is written in order, each write marks the key; a glob line skips the
    keys any other line names (`-key` included; a `-pattern` with wildcards excludes
    nothing). Nothing runs per interface: interfaces created later copy default."""

    def __init__(self, source):
        self.source = source
        source.prefetch(directories=SYSCTL_DIRS)
        chosen = {}
        for directory in SYSCTL_DIRS:
            for name in source.listdir(directory):
                if name.endswith(".conf") and name not in chosen:
                    chosen[name] = "{}/{}".format(directory, name)
        self.files = [chosen[name] for name in sorted(chosen)]
        if source.kind(source.resolve(PROCPS_LAST)) == "file":
            self.files.append(PROCPS_LAST)
        log.info("procps would apply, in this order: %s", ", ".join(self.files) or "nothing")
        self.lines = []
        for path in self.files:
            try:
                text = source.read_optional(path)
            except PluginError as exc:  # procps warns and goes on with the next file
                log.info("procps skips %s: %s", path, exc)
                continue
            self.lines.extend(self._parse(path, text or ""))

    @staticmethod
    def _parse(path, text):
        """Lines as procps reads them: cut at \\n, a C string (NUL ends it), stripped of the C
        locale's whitespace (no other); the key up to the first '=' after any leading ones
        (strtok), the value from its first non-space to the end of the line."""
        for number, raw in enumerate(text.split("\n"), 1):
            line = raw.split("\0")[0].strip(C_ISSPACE)
            if len(line) < 2 or line[0] in "#;":
                continue
            key, sep, value = line.lstrip("=").partition("=")
            key = key.strip(C_ISSPACE)
            if sep:
                value = value.lstrip(C_ISSPACE)
                if not key:
                    continue  # procps: "invalid syntax, continuing"
                key = key[1:] if key.startswith("-") else key
            elif line.startswith("-"):
                key, value = line[1:], None  # excluded from glob assignments
            else:
                continue  # procps: "invalid syntax, continuing"
            yield Assignment(procps_key_path(key.strip(C_ISSPACE)), value, path, number, line)

    def boot(self, present: Iterable[str], later: Iterable[str] = ()) -> KernelAtBoot:
        state = KernelAtBoot(present)
        # Keys a line names exactly (with a value, or `-key` excluding them) are skipped by
        # the globs; a `-pattern` with wildcards excludes nothing in procps 4.0.2 (proven).
        named = {line.path for line in self.lines}
        for line in self.lines:
            if line.value is None:
                continue
            if line.is_glob:
                for path in state.paths():
                    if glob_matches(line.path, path) and path not in named:
                        state.write(path, line.value, line, skip_same=False)
            else:
                state.write(line.path, line.value, line, skip_same=False)
        for name in later:
            state.add_interface(name)
        return state


def boot_tool(source: Source) -> str:
    """The tool that applies sysctl settings at boot: procps' `sysctl --system` where the
    tree's /sbin/init is not systemd, else systemd-sysctl (also when there is no
    /sbin/init to tell)."""
    if source.kind(INIT) is None:
        return "systemd"
    try:
        target = source.resolve(INIT)
    except PluginError:
        return "systemd"
    return "systemd" if target.rsplit("/", 1)[-1] == "systemd" else "procps"


def boot_model(source: Source, tool: Optional[str] = None) -> Any:
    """The boot model for the tool (None: the tree's own)."""
    return ProcpsSysctl(source) if (tool or boot_tool(source)) == "procps" else BootSysctl(source)
