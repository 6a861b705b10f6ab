"""Text as the C programs that read the boot configuration see it (ifupdown, procps, GLib,
systemd): their whitespace and line ends. Python's str methods know many more (a no-break
space, U+2028, the information separators 0x1c-0x1f, NEL), and a model that used them would
read a line, a word or a value the real tool never reads."""

import re
from collections.abc import Iterator

from lvs_dr_checks.errors import logger

log = logger("ctext")

C_ISSPACE = " \t\n\v\f\r"  # isspace() in the C locale
_C_WORD = re.compile("[^ \t\n\v\f\r]+")


# g_ascii_isspace(): GLib's blanks in a key file (the vertical tab is none of them).
GLIB_SPACE = " \t\n\f\r"


def c_split(text: str) -> list[str]:
    """The words of ``text`` between runs of C-locale whitespace (str.split() splits at more)."""
    return _C_WORD.findall(text)


# systemd's strstrip() and read_line(): only these four are whitespace, and a line ends at
# \n, \r or NUL (a run holding each at most once, ending after a NUL, is one line end).
# Python's str.strip() and splitlines() know many more (NBSP, form feed, U+2028...).
SYSTEMD_WHITESPACE = " \t\n\r"
_SYSTEMD_WORD = re.compile("[^ \t\n\r]+")
SYSTEMD_LINE_MAX = 1024 * 1024  # LONG_LINE_MAX: a line this long ends the reading of its file
_SYSTEMD_EOL = re.compile(r"[\n\r\0]")


def systemd_split(text: str) -> list[str]:
    """The words of ``text`` between runs of systemd's whitespace."""
    return _SYSTEMD_WORD.findall(text)


def systemd_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines of ``text`` as systemd's read_line() cuts them, numbered; systemd-sysctl
    stops reading a file at a line of LONG_LINE_MAX bytes or more, and so does this."""
    position, number = 0, 0
    while position < len(text):
        found = _SYSTEMD_EOL.search(text, position)
        end = found.start() if found else len(text)
        line = text[position:end]
        if len(line.encode("utf-8", "surrogateescape")) >= SYSTEMD_LINE_MAX:
            log.info("a line of %d bytes or more: systemd-sysctl stops reading the file "
                     "there", SYSTEMD_LINE_MAX)
            return
        number += 1
        yield number, line
        seen = ""
        while end < len(text) and text[end] in "\n\r\0" and text[end] not in seen \
                and "\0" not in seen:
            seen += text[end]
            end += 1
        position = end
