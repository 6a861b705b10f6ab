#!/usr/bin/env python3
"""Write a man page per plugin from the same text as its --help (the module docstring and the
argument help), into the directory given: `make_manpages.py DIR`."""

import importlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from lvs_dr_checks import __version__  # noqa: E402

PLUGINS = {"check_arp_sysctl": "arp_sysctl", "check_vip_on_lo": "vip_on_lo",
           "check_vip_arp_owner": "vip_arp_owner", "check_lvs_realservers": "realservers"}


def roff(text):
    """Plain text as roff lines: backslashes escaped, a leading dot or quote made literal."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def page(name, module):
    parser = importlib.import_module("lvs_dr_checks." + module).build_parser()
    parser.prog = name
    summary = " ".join((parser.description or "").strip().split("\n\n")[0].split())
    summary = summary.split(": ", 1)[-1]
    usage = parser.format_usage()
    text = parser.format_help()[len(usage):].lstrip("\n")
    return "\n".join([
        '.TH {} 1 "" "lvs-dr-checks {}" "Monitoring plugins"'.format(name.upper(), __version__),
        ".SH NAME", "{} \\- {}".format(name, roff(summary)),
        ".SH SYNOPSIS", ".nf", roff(usage.replace("usage: ", "", 1)), ".fi",
        ".SH DESCRIPTION", ".nf", roff(text), ".fi",
        ".SH SEE ALSO", ", ".join("{}(1)".format(other) for other in PLUGINS if other != name),
        ""])


def main():
    target = sys.argv[1]
    os.makedirs(target, exist_ok=True)
    for name, module in PLUGINS.items():
        with open(os.path.join(target, name + ".1"), "w", encoding="utf-8") as handle:
            handle.write(page(name, module))


if __name__ == "__main__":
    main()
