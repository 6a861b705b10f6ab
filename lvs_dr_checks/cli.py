"""The common front of every check: options, the timeout, and every error as one UNKNOWN line.

nagiosplugin's own ``guarded`` prints a traceback in verbose mode; operators must never see
one on stdout, so the run is wrapped here instead and tracebacks go to stderr at -vvv only.
"""

import argparse
import logging
import signal
import sys
import traceback

import nagiosplugin

from lvs_dr_checks import __version__

UNKNOWN = 3


def logger(name):
    """A logger whose records nagiosplugin prints: -vv shows info, -vvv debug."""
    return logging.getLogger("nagiosplugin.lvs_dr." + name)


class PluginError(Exception):
    """A failure the operator can cause; the message names the cause and the fix."""


class _Deadline(BaseException):
    """Raised by the timer; a BaseException so that no ``except Exception`` swallows it."""


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise PluginError("{} (see {} --help)".format(message, self.prog))


def positive_seconds(text):
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number of seconds: {!r}".format(text))
    if not 0 < seconds <= 86400:
        raise argparse.ArgumentTypeError("must be between 0 and 86400 seconds: {!r}".format(text))
    return seconds


def comma_list(text):
    """One value of a repeatable option that also takes a comma-separated list."""
    return [item.strip() for item in text.split(",") if item.strip()]


def flatten(lists):
    return [item for sublist in lists or [] for item in sublist]


def make_parser(prog, description):
    """The parser every check starts from: -h, -V, -v (repeatable) and -t."""
    parser = _ArgumentParser(prog=prog, description=description)
    parser.add_argument("-V", "--version", action="version",
                        version="%(prog)s (lvs-dr-checks) {}".format(__version__))
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: one line per finding; -vv, -vvv: debug details "
                             "(-vvv also prints tracebacks of internal errors on stderr)")
    parser.add_argument("-t", "--timeout", type=positive_seconds, default=10.0, metavar="SECONDS",
                        help="abort with UNKNOWN after this many seconds (default: %(default)g)")
    return parser


def _print_unknown(name, message):
    line = " ".join(str(message).replace("|", "/").split())
    sys.stdout.write("{} UNKNOWN - {}\n".format(name, line))
    sys.stdout.flush()
    sys.exit(UNKNOWN)


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
            check = build_check(args)
            check.name = name
            runtime.check = check
            runtime.run(check)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except PluginError as exc:
        _print_unknown(name, exc)
    except _Deadline:
        _print_unknown(name, "no result within {:g}s (-t): raise -t, or find what hangs with -vvv"
                       .format(timeout))
    except KeyboardInterrupt:
        _print_unknown(name, "interrupted")
    except Exception as exc:  # the last line of defence: never a traceback on stdout
        if verbose >= 3:
            traceback.print_exc(file=sys.stderr)
        _print_unknown(name, "internal error: {}: {} (please report it; -vvv prints the "
                             "traceback on stderr)".format(type(exc).__name__, exc))
    sys.stdout.write(str(runtime.output))
    sys.stdout.flush()
    sys.exit(runtime.exitcode)
