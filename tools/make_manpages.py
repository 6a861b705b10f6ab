#!/usr/bin/env python3
"""Write a man page per plugin (and lvs-dr-watch's, section 8) from the same text as its
--help (the module docstring and the argument help), into the directory given:
`make_manpages.py DIR`; with `--pages DIR`, one Markdown page per plugin from the same
text (docs/plugins/); with `--options`, print docs/options.md, the suite's option table
(tests keep the docs equal to what this makes)."""

import argparse
import importlib
import os
import sys
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

from lvs_dr_checks import __version__  # noqa: E402
from lvs_dr_checks.entry import PLUGINS  # noqa: E402
from lvs_dr_checks.options import SUITE  # noqa: E402
from lvs_dr_checks.watch import daemon  # noqa: E402


def roff(text):
    """Plain text as roff lines: backslashes escaped, a leading dot or quote made literal."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


EXIT_STATUS = [(0, "OK"), (1, "WARNING"), (2, "CRITICAL"),
               (3, "UNKNOWN: a setup error, or no verdict could be reached; the line names "
                   "the cause and the fix")]
DAEMON_EXIT_STATUS = [(0, "stopped (SIGTERM, SIGINT)"),
                      (1, "could not start: one line on stderr names the cause and the fix")]


def _option_entries(parser):
    """roff .TP entries, one per option: its flags and value, then its help."""
    formatter = parser._get_formatter()
    entries = []
    for action in parser._actions:
        if action.help == argparse.SUPPRESS:
            continue
        value = syntax(action)
        flags = ", ".join("\\fB{}\\fR".format(roff(flag)) for flag in action.option_strings)
        entries += [".TP", flags + (" \\fI{}\\fR".format(roff(value)) if value else ""),
                    roff(" ".join(formatter._expand_help(action).split()))]
    return entries


def page(name, parser, section="1", exit_status=None):
    """The man page: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES, SEE ALSO."""
    description, _, examples = (parser.description or "").strip().partition("\nExample")
    summary = " ".join(description.split("\n\n")[0].split()).split(": ", 1)[-1]
    body = description.split("\n\n", 1)[1] if "\n\n" in description else ""
    first, *rest = parser.format_usage().replace("usage: ", "", 1).rstrip().splitlines()
    usage = "\n".join([first] + [" " * (len(name) + 1) + line.strip() for line in rest])
    return "\n".join([
        '.TH {} {} "" "lvs-dr-checks {}" "Monitoring plugins"'.format(name.upper(), section,
                                                                     __version__),
        ".SH NAME", "{} \\- {}".format(name, roff(summary)),
        ".SH SYNOPSIS", ".nf", roff(usage), ".fi",
        ".SH DESCRIPTION", "\n.PP\n".join(roff(" ".join(paragraph.split()))
                                          for paragraph in body.split("\n\n") if paragraph),
        ".SH OPTIONS", *_option_entries(parser),
        ".SH EXIT STATUS", *[line for code, meaning in exit_status or EXIT_STATUS
                             for line in (".TP", "\\fB{}\\fR".format(code), meaning)],
        ".SH EXAMPLES", ".nf", roff(textwrap.dedent(examples.split(":", 1)[-1]).strip("\n")),
        ".fi",
        ".SH SEE ALSO", ", ".join("{}(1)".format(other) for other in PLUGINS if other != name)
        + "; /usr/share/doc/lvs-dr-checks/ (README.md, docs/, examples/)",
        ""])


def plugin_page(name, parser):
    """docs/plugins/<name>.md: the plugin's --help, verbatim, with links to the rest."""
    return "\n".join(["# " + name, "", "Its `--help` (and its man page, from the same text). "
                      "The suite's options: [options.md](../options.md).", "", "```",
                      parser.format_help().rstrip(), "```", ""])


def syntax(action):
    """An option's value as the suite's table writes it: '', {a,b}, VALUE or [VALUE]."""
    if action.nargs == 0:
        return ""
    if action.choices:
        return "{" + ",".join(action.choices) + "}"
    value = action.metavar or action.dest.upper()
    return "[{}]".format(value) if action.nargs == "?" else value


def parsers():
    """{plugin: its argparse parser, named as the plugin}."""
    found = {}
    for name, (module, _) in PLUGINS.items():
        found[name] = importlib.import_module("lvs_dr_checks.checks." + module).build_parser()
        found[name].prog = name
    return found


def options_table():
    """docs/options.md: every option of the suite, its value, meaning and plugins; and the
    old spellings still taken."""
    taken, old = {}, []
    for name, parser in parsers().items():
        for action in parser._actions:
            if action.help == argparse.SUPPRESS:
                old.append((action.option_strings[0], action.new, name))
            else:
                taken.setdefault(action.option_strings[-1], []).append(name)
    lines = ["# The suite's options", "",
             "One name, one value syntax and one meaning for each concept, whichever plugin "
             "takes it",
             "(`lvs_dr_checks/options.py`, `SUITE`; generated by `tools/make_manpages.py "
             "--options`,", "and `tests/unit/test_options.py` holds every plugin's parser to "
             "it). Long options", "are taken whole, never abbreviated.", "",
             "| option | value | meaning | plugins |", "|---|---|---|---|"]
    for long_name, option in SUITE.items():
        lines.append("| `{}` | {} | {} | {} |".format(
            "`, `".join(option.flags), "`{}`".format(option.value) if option.value else "",
            option.meaning, ", ".join(taken.get(long_name, []))))
    lines += ["", "Old spellings, taken for one more release and named at `-v`:", ""]
    lines += ["- `{}`: write `{}` ({})".format(*entry) for entry in old]
    return "\n".join(lines) + "\n"


def main():
    if sys.argv[1] == "--pages":
        os.makedirs(sys.argv[2], exist_ok=True)
        for name, parser in parsers().items():
            with open(os.path.join(sys.argv[2], name + ".md"), "w", encoding="utf-8") as handle:
                handle.write(plugin_page(name, parser))
        return
    if sys.argv[1] == "--options":
        sys.stdout.write(options_table())
        return
    target = sys.argv[1]
    os.makedirs(target, exist_ok=True)
    for name, parser in parsers().items():
        with open(os.path.join(target, name + ".1"), "w", encoding="utf-8") as handle:
            handle.write(page(name, parser))
    with open(os.path.join(target, "lvs-dr-watch.8"), "w", encoding="utf-8") as handle:
        handle.write(page("lvs-dr-watch", daemon.build_parser(), "8", DAEMON_EXIT_STATUS))


if __name__ == "__main__":
    main()
