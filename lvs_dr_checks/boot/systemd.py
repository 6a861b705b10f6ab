"""systemd's file rules, shared by the boot models that read systemd's files (sysctl.d,
.network files, units): configuration directories (masking by name, /dev/null), unit-file
entries as systemd's config parser reads them, drop-ins, booleans."""

import collections
import posixpath
from collections.abc import Iterator, Sequence
from typing import Optional

from lvs_dr_checks.boot.ctext import SYSTEMD_WHITESPACE, systemd_lines
from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.local import Source

log = logger("systemd")
_BOOLEANS = {"yes": True, "true": True, "on": True, "1": True, "y": True, "t": True,
             "no": False, "false": False, "off": False, "0": False, "n": False, "f": False}

MASKED = "/dev/null"


def conf_files(source: Source, directories: Sequence[str],
               suffixes: tuple[str, ...]) -> list[str]:
    """systemd's configuration-directory rule: a file name in an earlier directory masks the
    same name in later ones, a link to /dev/null masks it away, and the rest apply in name
    order across all directories; hidden files are not read, and a link that cannot be
    followed (a loop) is skipped as the tools skip it. Returns the files' resolved paths."""
    source.prefetch(directories=directories)
    chosen = {}
    for directory in directories:
        for name in source.listdir(directory):
            if name.endswith(suffixes) and not name.startswith(".") and name not in chosen:
                chosen[name] = posixpath.join(directory, name)
    files = []
    for name in sorted(chosen):
        try:
            target = source.resolve(chosen[name])
        except PluginError as exc:
            log.info("skipped, as systemd skips it: %s", exc)
            continue
        if target != MASKED and source.kind(target) == "file":
            files.append(target)
    source.prefetch(files=files)  # the callers read every one
    return files


Entry = collections.namedtuple("Entry", "section key value file line")


def unit_entries(text: str, path: str) -> Iterator[Entry]:
    """Entries of a systemd unit-style file, as systemd's config parser reads it: lines as
    read_line() cuts them (\\n, \\r, NUL), comments (#, ;) and blank lines skipped, a trailing
    backslash joining the next line, keys and values stripped of systemd's whitespace only."""
    section = None
    lines = [line for _, line in systemd_lines(text)]
    index = 0
    while index < len(lines):
        number, line = index + 1, lines[index].strip(SYSTEMD_WHITESPACE)
        index += 1
        while line.endswith("\\") and index < len(lines):
            line = line[:-1] + " " + lines[index].strip(SYSTEMD_WHITESPACE)
            index += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep:
            yield Entry(section, key.strip(SYSTEMD_WHITESPACE), value.strip(SYSTEMD_WHITESPACE),
                        path, number)


def parse_boolean(value: str) -> Optional[bool]:
    return _BOOLEANS.get(value.strip(SYSTEMD_WHITESPACE).lower())


def drop_ins(source: Source, directories: Sequence[str], name: str,
             suffix: str = '.conf') -> list[Entry]:
    """The entries of a unit's drop-ins (NAME.d/*.conf in every directory, masked by name),
    in name order."""
    entries = []
    for drop_in in conf_files(source, [posixpath.join(d, name + ".d") for d in directories],
                              (suffix,)):
        entries.extend(unit_entries(source.read_text(drop_in), drop_in))
    return entries
