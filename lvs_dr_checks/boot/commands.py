"""Shell command lines that add an address (`ip address add`, `ifconfig`), parsed as argv and
never run: in ifupdown hooks, systemd units and rc.local."""

import collections
import ipaddress
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from typing import Callable, Optional

from lvs_dr_checks.boot.ctext import C_ISSPACE
from lvs_dr_checks.kernel import IP

AddedAddress = collections.namedtuple("AddedAddress", "address prefixlen device")

_SEPARATORS = (";", "&&", "||", "|", "&")
# What separates words for sh: blanks and newline; a CR (a CRLF file) is part of a word.
SHELL_BLANKS = " \t\n"
_SHELLS = ("sh", "bash", "dash")
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_ASSIGNMENT = re.compile(r"^\w+=")
# `ip address add` words that take a value, and those that stand alone.
_IP_VALUED = {"dev", "label", "scope", "broadcast", "brd", "peer", "local", "anycast",
              "valid_lft", "preferred_lft", "metric", "proto"}
_IP_FLAGS = {"home", "mngtmpaddr", "nodad", "optimistic", "noprefixroute", "autojoin"}
# `ip` options before the object: those that take a value, and those naming another place.
_IP_OPTIONS_WITH_VALUE = {"-f", "-family", "-rc", "-rcvbuf", "-l", "-loops"}
_IP_ELSEWHERE = {"-n", "-netns", "-b", "-batch"}


def classful_prefixlen(ip: IP) -> int:
    """The prefix that ifupdown and ifconfig assume when none is given: the class mask of an
    IPv4 address, a host prefix for IPv6."""
    if ip.version == 6:
        return ip.max_prefixlen
    first = int(ip) >> 24
    return 8 if first < 128 else 16 if first < 192 else 24


def prefixlen_of(ip: IP, prefix: str) -> int:
    """A prefix length from '24' or '255.255.255.0' (ValueError otherwise): ASCII digits only,
    nothing around them (the tools' own parsers take no blank, NBSP or other digits there)."""
    prefix = str(prefix)
    if "." in prefix:
        if ip.version != 4:
            raise ValueError(prefix)
        return ipaddress.ip_network("0.0.0.0/" + prefix).prefixlen
    if not (prefix.isascii() and prefix.isdigit()) or not 0 <= int(prefix) <= ip.max_prefixlen:
        raise ValueError(prefix)
    return int(prefix)


def interface_address(text: str, default_prefixlen: Optional[Callable[[IP], int]] = None
                      ) -> Optional[tuple[IP, int]]:
    """(ip, prefixlen) from 'ADDRESS[/LEN]' (LEN as a number or a dotted mask); without LEN
    the default (a host address when None). None when it is no address."""
    address, _, length = text.partition("/")
    try:
        ip = ipaddress.ip_address(address)
        if length:
            return ip, prefixlen_of(ip, length)
        return ip, ip.max_prefixlen if default_prefixlen is None else default_prefixlen(ip)
    except ValueError:
        return None


def expand(line: str, variables: Mapping[str, str]) -> str:
    """$NAME and ${NAME} replaced as the shell would, from ``variables`` (unknown: empty)."""
    return _VARIABLE.sub(lambda m: variables.get(m.group(1) or m.group(2), ""), line)


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at ; && || | &), as word lists; `sh -c
    'LINE'` stands for the commands of LINE. A line the shell could not parse gives none."""
    return [command for words, _ in _command_list(line) or [] for command in through_shell(words)]


def through_shell(words: list[str]) -> list[list[str]]:
    """A command as the commands it runs: `sh -c 'LINE'` as those of LINE, others as is."""
    program = posixpath.basename(words[0])
    if program in _SHELLS and len(words) >= 3 and words[1] in ("-c", "-ec", "-ce", "-e"):
        script = words[2] if words[1] != "-e" else (words[3] if len(words) > 3 else "")
        return simple_commands(script)
    return [words]


def added_by(words: Sequence[str]) -> Optional[AddedAddress]:
    """The AddedAddress a simple command adds, or None."""
    program = posixpath.basename(words[0]) if words else ""
    if program == "ip":
        return _ip_address_add(words[1:])
    if program == "ifconfig":
        return _ifconfig(words[1:])
    return None


def _ip_address_add(rest):
    rest = list(rest)
    while rest and rest[0].startswith("-"):
        option = rest.pop(0).lstrip("-")
        if "-" + option in _IP_ELSEWHERE:
            return None
        if "-" + option in _IP_OPTIONS_WITH_VALUE and rest:
            rest.pop(0)
    if len(rest) < 2 or not rest[0] or not "address".startswith(rest[0]) or rest[1] not in (
            "add", "ad", "a", "replace", "replac", "repla", "repl", "rep"):
        return None
    address = device = label = None
    words = rest[2:]
    while words:
        word = words.pop(0)
        if word in _IP_VALUED:
            value = words.pop(0) if words else None
            if word == "dev":
                device = value
            elif word == "label":
                label = value
            elif word == "local":
                address = value
        elif word not in _IP_FLAGS and address is None:
            address = word
    parsed = interface_address(address) if address else None
    if not parsed or not _interface_name(device) or (label and not _interface_name(label)):
        return None
    return AddedAddress(parsed[0], parsed[1], label or device)


def _interface_name(name):
    """Whether ``name`` can name an interface: the kernel refuses blanks in one (dev_valid_name,
    isspace), so `dev lo<CR>` from a CRLF script adds nothing."""
    return bool(name) and not any(c in C_ISSPACE for c in name)


def _ifconfig(rest):
    """net-tools ifconfig: ``ADDRESS/LEN`` reads LEN as strtol(LEN, &end, 0) must read all of
    it, and sets the mask of LEN modulo 32 (so /32 is /0, the whole IPv4 space local; /0x10
    is /16, an empty LEN /0, -1 /31), winning over ``netmask`` (proven with net-tools 2.10
    against the kernel); without LEN, ``netmask`` or the class mask."""
    if len(rest) < 2:
        return None
    device, words = rest[0], list(rest[1:])
    family = None
    if words[0] in ("inet", "inet6"):
        family = words.pop(0)
        if family == "inet6" and words and words[0] == "add":
            words.pop(0)
    if not words:
        return None
    netmask = words[words.index("netmask") + 1] if "netmask" in words[:-1] else None
    address, slash, length = words[0].partition("/")
    parsed = interface_address(address, classful_prefixlen)
    if not parsed or (family == "inet6") != (parsed[0].version == 6) \
            or not _interface_name(device):
        return None
    ip, prefixlen = parsed
    try:
        if slash and ip.version == 4:
            number = _strtol(length)
            if number is None:
                return None  # ifconfig fails: it reads no prefix there
            prefixlen = number % 32  # a shift of the 32-bit mask by LEN: LEN & 31
        elif slash:
            prefixlen = prefixlen_of(ip, length)
        elif netmask:
            prefixlen = prefixlen_of(ip, netmask)
    except ValueError:
        return None
    return AddedAddress(ip, prefixlen, device)


_C_LONG = re.compile(r"([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)?")
C_LONG_MAX = 2 ** 63 - 1


def _strtol(text):
    """The number strtol(text, &end, 0) reads where it reads all of ``text`` (an empty text
    is 0, a sign alone is nothing; C long's bounds clamp), else None."""
    match = _C_LONG.fullmatch(text)
    if not match or (match.group(1) and not match.group(2)):
        return None
    digits = match.group(2) or "0"
    number = int(digits, 16 if digits[:2].lower() == "0x" else 8 if digits[0] == "0" else 10)
    number = -number if match.group(1) == "-" else number
    return max(-C_LONG_MAX - 1, min(C_LONG_MAX, number))


def runs(line: str, variables: Mapping[str, str], attempt: Callable[[list[str]], bool]) -> bool:
    """Whether a shell line exits 0, run as sh runs it but with ``attempt(words) -> bool``
    standing for every simple command that is not known (``false``, ``true``, ``:``,
    ``exit N``; ``sh -c 'LINE'`` as LINE): ``;`` and ``|`` go on (the last status counts),
    ``&&`` and ``||`` skip as the shell does, ``&`` is status 0. A line the shell could not
    parse fails."""
    items = _command_list(expand(line, variables or {}))
    return items is not None and _runs(items, attempt)


def _command_list(line):
    """[(words, the separator after them)] of a shell line, or None where it cannot parse."""
    try:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.whitespace = SHELL_BLANKS
        lexer.commenters = "#"
        words = list(lexer)
    except ValueError:
        return None
    items, current = [], []
    for word in words + [";"]:
        if word in _SEPARATORS or set(word) <= set(";&|"):
            while current and _ASSIGNMENT.match(current[0]):
                current.pop(0)
            if current:
                items.append((current, word))
            current = []
        else:
            current.append(word)
    return items


def _runs(items, attempt):
    status, skip = True, False
    for words, separator in items:
        if not skip:
            status = _runs_simple(words, attempt)
        if separator == "&&":
            skip = not status
        elif separator == "||":
            skip = status
        else:
            skip = False
            status = True if separator == "&" else status
    return status


def _runs_simple(words, attempt):
    program = posixpath.basename(words[0])
    if program in _SHELLS and len(words) >= 3 and words[1] in ("-c", "-ec", "-ce", "-e"):
        items = _command_list(words[2] if words[1] != "-e" else
                              (words[3] if len(words) > 3 else ""))
        return items is not None and _runs(items, attempt)
    if program == "false":
        return False
    if program in ("true", ":"):
        return True
    if program == "exit":
        return len(words) < 2 or words[1] == "0"
    return attempt(words)


def addresses_added(line: str,
                    variables: Optional[Mapping[str, str]] = None) -> list[AddedAddress]:
    """Every AddedAddress of a shell line, in order."""
    found = []
    for words in simple_commands(expand(line, variables or {})):
        added = added_by(words)
        if added:
            found.append(added)
    return found
