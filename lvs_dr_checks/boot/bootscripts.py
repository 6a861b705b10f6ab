"""Addresses that the site's own boot scripts add: systemd service units and /etc/rc.local.

- A unit runs at boot only when enabled: a link to it in a `.wants` or `.requires` directory
  (what `systemctl enable` makes), and not masked. Its ExecStartPre=, ExecStart= and
  ExecStartPost= lines, with those of its drop-ins (NAME.d/*.conf; an empty ExecStart=
  clears the list), are split as systemd splits them (quotes, `;` between commands, the
  prefixes `-@:+!`), $VAR taken from Environment= (as systemd applies it: an empty one clears
  the list, a word that is no NAME=VALUE is skipped, broken quoting ends the line with the
  words before it set); `/bin/sh -c '...'` is read as its commands.
- /etc/rc.local runs at boot only when it is executable (systemd-rc-local-generator), as
  `/etc/rc.local start` through its `#!` line (none: it cannot run); a top-level `exit` ends it.
Commands are parsed as argv (commands.py), never run.
"""

import posixpath
import re
import shlex
from collections.abc import Iterator
from typing import Any, Optional

from lvs_dr_checks.boot import commands
from lvs_dr_checks.boot.systemd import MASKED, drop_ins, unit_entries
from lvs_dr_checks.source.local import Source

UNIT_DIRECTORIES = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
                    "/usr/lib/systemd/system", "/lib/systemd/system")
RC_LOCAL = "/etc/rc.local"
_EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost")
_ENVIRONMENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def enabled_units(source: Source) -> dict[str, str]:
    """{unit name: the link that enables it} for services linked from a .wants/.requires
    directory of the unit directories."""
    source.prefetch(directories=UNIT_DIRECTORIES)
    linking = [posixpath.join(directory, name) for directory in UNIT_DIRECTORIES
               for name in source.listdir(directory) if name.endswith((".wants", ".requires"))]
    source.prefetch(directories=linking)
    found = {}
    for directory in linking:
        for unit in source.listdir(directory):
            if unit.endswith(".service"):
                found.setdefault(unit, posixpath.join(directory, unit))
    return found


def unit_file(source: Source, name: str) -> Optional[str]:
    """The path of a unit by name (the first directory that has it), None when absent or
    masked."""
    for directory in UNIT_DIRECTORIES:
        path = posixpath.join(directory, name)
        if source.kind(path) is not None:
            resolved = source.resolve(path)
            return None if resolved == MASKED or source.kind(resolved) != "file" else resolved
    return None


def _exec_commands(value, environment):
    """The argv lists of one Exec line, as systemd splits it: with the `@` prefix the second
    word is argv[0], and is not an argument."""
    try:
        words = shlex.split(commands.expand(value, environment))
    except ValueError:
        return []
    argvs, current = [], []
    for word in words + [";"]:
        if word != ";":
            current.append(word)
            continue
        if current:
            prefix = current[0][:len(current[0]) - len(current[0].lstrip("-@:+!|"))]
            current[0] = current[0][len(prefix):]
            if "@" in prefix and len(current) > 1:
                del current[1]
            argvs.append(current)
        current = []
    return argvs


def _set_environment(value, environment):
    """One Environment= line applied to ``environment`` as systemd's config_parse_environ
    applies it."""
    if not value.strip():
        environment.clear()
        return
    words = shlex.shlex(value, posix=True)
    words.whitespace_split, words.commenters = True, ""
    try:
        for word in words:
            key, equals, assigned = word.partition("=")
            if equals and _ENVIRONMENT_NAME.match(key):
                environment[key] = assigned
    except ValueError:  # "Invalid syntax, ignoring": the rest of the line
        pass


def unit_addresses(source: Source, name: str, path: str) -> list[tuple[Any, str, int]]:
    """(AddedAddress, file, line) of an enabled unit's Exec lines."""
    entries = list(unit_entries(source.read_text(path), path))
    entries += drop_ins(source, UNIT_DIRECTORIES, name)
    environment, lines = {}, []
    for entry in entries:
        if entry.section != "Service":
            continue
        if entry.key == "Environment":
            _set_environment(entry.value, environment)
        elif entry.key in _EXEC_KEYS:
            if entry.value:
                lines.append(entry)
            else:
                lines = [line for line in lines if line.key != entry.key]
    found = []
    for entry in lines:
        for argv in _exec_commands(entry.value, environment):
            for words in commands.through_shell(argv):
                added = commands.added_by(words)
                if added:
                    found.append((added, entry.file, entry.line))
    return found


def rc_local(source: Source) -> tuple[list[tuple[Any, int]], Optional[str]]:
    """([(AddedAddress, line)] of /etc/rc.local's commands, and None, or the reason it never
    runs)."""
    if source.kind(RC_LOCAL) is None:
        return [], None
    text = source.read_text(RC_LOCAL)
    found = []
    for number, line in enumerate(text.split("\n"), 1):  # sh's lines: a CR ends none
        if line.startswith("exit") and line[4:5] in ("",) + tuple(commands.SHELL_BLANKS):
            break
        found.extend((added, number) for added in commands.addresses_added(line))
    if not source.executable(RC_LOCAL):
        return found, "{} is not executable, so it never runs: chmod +x {}".format(
            RC_LOCAL, RC_LOCAL)
    if not text.startswith("#!"):
        return found, "{} has no '#!' line, so it cannot run: start it with '#!/bin/sh'".format(
            RC_LOCAL)
    # The kernel ends the interpreter's name at a blank or the newline: a CR stays in it.
    interpreter = (text[2:].split("\n", 1)[0].strip(" \t").split(" ")[0].split("\t")[0])
    if "\r" in interpreter:
        return found, "{}'s '#!' line ends in a carriage return (CRLF line ends), so no " \
                      "interpreter runs it: convert it to LF line ends".format(RC_LOCAL)
    return found, None


def site_units(source: Source) -> Iterator[tuple[str, str, Optional[str]]]:
    """(name, path, enabling link or None) of the service units that matter: the enabled ones
    and every one in /etc/systemd/system."""
    enabled = enabled_units(source)
    names = set(enabled) | {name for name in source.listdir(UNIT_DIRECTORIES[0])
                            if name.endswith(".service")}
    units = [(name, unit_file(source, name)) for name in sorted(names)]
    source.prefetch(files=[path for _, path in units if path is not None])
    for name, path in units:
        if path is not None:
            yield name, path, enabled.get(name)
