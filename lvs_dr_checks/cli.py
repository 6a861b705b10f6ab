"""The common front of every check: options, the timeout, and every error as one UNKNOWN line.

nagiosplugin's own ``guarded`` prints a traceback in verbose mode; operators must never see
one on stdout, so the run is wrapped here instead and tracebacks go to stderr at -vvv only.
"""

import argparse
import io
import logging
import re
import signal
import sys
import textwrap
import traceback

import nagiosplugin
from nagiosplugin.output import Output

from lvs_dr_checks import __version__
from lvs_dr_checks.errors import LOGGER, PluginError, logger  # noqa: F401 - the checks' words

UNKNOWN = 3
log = logger("cli")


class _Deadline(BaseException):
    """Raised by the timer; a BaseException so that no ``except Exception`` swallows it."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise PluginError("{} (see {} --help)".format(message, self.prog))


# --help and the man pages fit 80 columns, whatever the terminal.
HELP_WIDTH = 80


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """The description's paragraphs filled to HELP_WIDTH; an indented line (an example, a
    list) kept as written."""

    def __init__(self, prog, **kwargs):
        super().__init__(prog, width=HELP_WIDTH - 2, **kwargs)

    def _fill_text(self, text, width, indent):
        paragraphs, lines = [], []
        for line in text.splitlines() + [""]:
            if line.strip() and not line[0].isspace():
                lines.append(line.strip())
                continue
            if lines:
                paragraphs.append(textwrap.fill(" ".join(lines), width,
                                                initial_indent=indent, subsequent_indent=indent))
                lines = []
            paragraphs.append(indent + line if line.strip() else "")
        return "\n".join(paragraphs).strip("\n")


# No check needs more than this: a monitoring system's own timeouts are shorter, and a bound
# keeps a run started through sudo from holding its privileges for a day.
MAX_TIMEOUT = 600


def seconds_up_to(limit, zero=False):
    """An argparse type: a number of seconds in (0, limit], or [0, limit] with ``zero``."""
    def parse(text):
        try:
            seconds = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number of seconds: {!r}".format(text))
        if not (0 <= seconds if zero else 0 < seconds) or not seconds <= limit:
            raise argparse.ArgumentTypeError("must be {} 0 and at most {:g} seconds: {!r}".format(
                "at least" if zero else "more than", limit, text))
        return seconds
    return parse


positive_seconds = seconds_up_to(MAX_TIMEOUT)


def port_number(text):
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError("not a TCP port (1-65535): {!r}".format(text))
    return port


def comma_list(text):
    """One value of a repeatable option that also takes a comma-separated list."""
    return [item.strip() for item in text.split(",") if item.strip()]


def flatten(lists):
    return [item for sublist in lists or [] for item in sublist]


def make_parser(prog, description, max_timeout=MAX_TIMEOUT):
    """The parser every check starts from: -h, -V, -v (repeatable) and -t (at most
    ``max_timeout``; None: no -t, for the daemon). Long options are taken whole, never
    abbreviated."""
    parser = _ArgumentParser(prog=prog, description=description, allow_abbrev=False,
                             formatter_class=HelpFormatter)
    parser.add_argument("-V", "--version", action="version",
                        version="%(prog)s (lvs-dr-checks) {}".format(__version__))
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: one line per finding; -vv, -vvv: debug details "
                             "(-vvv also prints tracebacks of internal errors on stderr)")
    if max_timeout is not None:
        parser.add_argument("-t", "--timeout", type=seconds_up_to(max_timeout), default=10.0,
                            metavar="SECONDS",
                            help="abort with UNKNOWN after this many seconds (default: "
                                 "%(default)g, at most {})".format(max_timeout))
    return parser


# Bounds of what reaches the monitoring system (Nagios keeps 8 KiB of a plugin's output, and
# a status line is read by people): the status text, each line, the whole output.
MAX_STATUS = 512
MAX_LINE = 512
MAX_OUTPUT = 4096
# Control characters (C0, DEL, C1), the Unicode line and paragraph separators, and bytes that
# are not UTF-8 (surrogate escapes): none of them may reach a line of output as it is.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def unprintable(text):
    """Whether ``text`` holds a character that printable() would escape."""
    return bool(_UNPRINTABLE.search(text))


def printable(text, limit=MAX_LINE):
    """One line of output: control characters and bytes that are not UTF-8 (surrogate escapes
    from names the kernel or a remote host gave) shown as \\xNN, cut to ``limit``."""
    def escape(match):
        code = ord(match.group())
        if 0x2028 <= code <= 0x2029:
            return "\\u{:04x}".format(code)
        return "\\x{:02x}".format(code - 0xdc00 if code >= 0xdc00 else code)
    line = _UNPRINTABLE.sub(escape, str(text))
    return line if len(line) <= limit else line[:limit - 3] + "..."


def bounded_output(text):
    """The plugin's output, every line printable: the status text cut to MAX_STATUS (its
    perfdata kept), each line to MAX_LINE, and the long output to what fits in MAX_OUTPUT
    bytes, ending with how many lines were left out. Perfdata lines are always kept."""
    lines = text.split("\n")
    status, bar, perfdata = lines[0].partition(" | ")
    first = printable(status, MAX_STATUS) + (" | " + printable(perfdata, MAX_OUTPUT)
                                               if bar else "")
    perf = [printable(line, MAX_OUTPUT) for line in lines[1:] if line.startswith("| ")]
    rest = [printable(line) for line in lines[1:] if line and not line.startswith("| ")]
    budget = MAX_OUTPUT - len(first) - sum(len(line) + 1 for line in perf) - 60
    kept = []
    for line in rest:
        if len(line) + 1 > budget:
            break
        kept.append(line)
        budget -= len(line) + 1
    if len(kept) < len(rest):
        kept.append("... {} more lines (bounded output)".format(len(rest) - len(kept)))
    return "".join(line + "\n" for line in [first] + kept + perf)


class OneLineSummary(nagiosplugin.Summary):
    """Every text a check's Summary gives, one line each: a finding that carries a newline or
    another control character (from the command line, a remote host, a file) is escaped
    here, before nagiosplugin joins the lines, so that it can never print a line of its own."""

    def __init__(self, summary):
        self.summary = summary

    @staticmethod
    def _one_line(text):
        return printable(text, limit=MAX_OUTPUT) if text else text

    def ok(self, results):
        return self._one_line(self.summary.ok(results))

    def problem(self, results):
        return self._one_line(self.summary.problem(results))

    def empty(self):
        return self._one_line(self.summary.empty())

    def verbose(self, results):
        lines = self.summary.verbose(results)
        if isinstance(lines, str):
            lines = [lines]
        return [self._one_line(line) for line in lines or []]


def render(name, check, verbose=1):
    """(exit code, text) of a Check decided now, as a plugin prints it (the bounds and the
    one-line findings included): for a daemon that reports in the plugins' words."""
    check.name = name
    check.summary = OneLineSummary(check.summary)
    check()
    output = Output(logging.StreamHandler(io.StringIO()), verbose)
    output.add(check)
    return check.exitcode, bounded_output(str(output))


class OneLineFormatter(logging.Formatter):
    """-vv and -vvv log records, one line each."""

    def format(self, record):
        return printable(super().format(record), limit=MAX_OUTPUT)


def print_unknown(name, message):
    line = " ".join(str(message).replace("|", "/").split())
    emit(bounded_output("{} UNKNOWN - {}".format(name, line)))
    sys.exit(UNKNOWN)


def emit(text):
    """Write to stdout as UTF-8 whatever the locale (a plugin run with LC_ALL=C must not fail
    on a name it prints). With stdout closed there is no one to tell: the exit code is all."""
    if sys.stdout is None:
        return
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8", "backslashreplace"))
    sys.stdout.flush()


def _on_alarm(signum, frame):
    raise _Deadline()


def run(name, parser, build_check, argv=None):
    """Parse the options, build the nagiosplugin Check and run it within -t seconds.

    ``build_check(args)`` returns a ``nagiosplugin.Check``; it and the check itself may
    raise PluginError, which ends the run as UNKNOWN with that line.
    """
    verbose = 0
    timeout = None
    try:
        args = parser.parse_args(argv)
        verbose, timeout = args.verbose, args.timeout
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            runtime = nagiosplugin.Runtime()
            runtime.verbose = verbose
            runtime.logchan.setFormatter(OneLineFormatter("%(message)s"))
            # Records below -v's level are not even made (a probe of 20,000 VIPs would format
            # tens of thousands of lines nobody sees).
            logging.getLogger(LOGGER).setLevel(
                logging.DEBUG if verbose >= 3 else logging.INFO if verbose == 2
                else logging.WARNING)
            for old, new in getattr(args, "deprecated", ()):
                log.warning("%s is deprecated: write %s (the old spelling goes in the "
                            "next release)", old, new)
            check = build_check(args)
            check.name = name
            check.summary = OneLineSummary(check.summary)
            runtime.check = check
            runtime.run(check)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except PluginError as exc:
        print_unknown(name, exc)
    except _Deadline:
        print_unknown(name, "no result within {:g}s (-t): raise -t, or find what hangs with -vvv"
                       .format(timeout))
    except KeyboardInterrupt:
        print_unknown(name, "interrupted")
    except Exception as exc:  # the last line of defence: never a traceback on stdout
        if verbose >= 3:
            traceback.print_exc(file=sys.stderr)
        print_unknown(name, "internal error: {}: {} (please report it; -vvv prints the "
                             "traceback on stderr)".format(type(exc).__name__, exc))
    emit(bounded_output(str(runtime.output)))
    sys.exit(runtime.exitcode)
