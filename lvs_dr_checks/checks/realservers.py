"""check_lvs_realservers: the director's sweep. Every direct-routing real server in the IPVS
table is checked over SSH, in parallel, with check_arp_sysctl's and check_vip_on_lo's own
Checks and that server's VIPs; one line per server.

Each server is checked in a process of its own, with its own deadline (--parallel slots,
each server 0.85 x -t / waves seconds), and whatever happens on one server (any failure, any
delay) is that server's UNKNOWN alone.

States: the worst server's, a confirmed CRITICAL before a server that could not be checked
(UNKNOWN, or CRITICAL with --unreachable critical). With -w or -c, the servers not checked
are judged by their number instead (ranges as the plugin guidelines write them), so that one
server down is WARNING or OK while a CRITICAL elsewhere still wins; --exclude leaves servers
in maintenance out.

Perfdata, the same labels whatever the state: the state of each of the first 32 servers of
the table (0 OK, 1 WARNING, 2 UNKNOWN, 3 CRITICAL: higher is worse), servers, servers_ok,
servers_warning, servers_critical, servers_unknown (checked), unreachable (not checked; they
add up to servers), excluded.

Examples:
  check_lvs_realservers --ssh-user monitor --ssh-key /etc/lvs-dr/id_ed25519
  check_lvs_realservers --exclude 192.0.2.13 -w 1 -c 3 --ssh-user monitor
"""

import collections
import contextlib
import os

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from lvs_dr_checks import cli, options
from lvs_dr_checks.checks import sweep as pool
from lvs_dr_checks.host import ipvs, links
from lvs_dr_checks.source import target
from lvs_dr_checks.summary import ItemSummary, grouped_lines, listing, plural

NAME = "LVS_REALSERVERS"
log = cli.logger("realservers")


# --- Acquisition: the Resource reads the host and yields its metrics ---

class ServerReport(collections.namedtuple("ServerReport", "ip vips results error")):
    """One real server: [(check name, state, status text)] or the error that stopped it."""

    @property
    def state(self):
        return max((state for _, state, _ in self.results), default=Unknown)


def _run_check(name, check):
    """(name, state, status line without perfdata) of a check run in-process."""
    check()
    return name, check.state, "{} {} - {}".format(name, str(check.state).upper(),
                                                  check.summary_str)


def check_server(ip, vips, make_target, persistence, server_checks=()):
    """The real-server checks (modules with NAME and server_check(), from the registry in
    entry.py) on one server over one SSH connection. Every exception ends as this server's
    error."""
    try:
        # The addresses (check_vip_on_lo reads them) are on their way while the rest is read.
        with contextlib.closing(target.open_source(make_target(str(ip)),
                                                   [links.addresses_command])) as source:
            return ServerReport(ip, vips, [
                _run_check(check.NAME, check.server_check(source, vips, persistence))
                for check in server_checks], None)
    except cli.PluginError as exc:
        return _unchecked((ip, vips), str(exc))
    except Exception as exc:  # noqa: BLE001 - isolation is the point
        return _unchecked((ip, vips), "check failed: {}: {}".format(type(exc).__name__, exc))


def _unchecked(job, reason):
    """The report of a server (``job``: its address and VIPs first) that could not be
    checked."""
    return ServerReport(job[0], job[1], [], reason)


STATES = {int(state): state for state in (Ok, Warn, Critical, Unknown)}


def _answer(job):
    """What a server's process sends back: its checks' results, or its error."""
    report = check_server(*job)
    return {"results": [(name, int(state), text) for name, state, text in report.results],
            "error": report.error}


def _report(job, answer):
    return ServerReport(job[0], job[1], [(name, STATES[code], text)
                                         for name, code, text in answer["results"]],
                        answer["error"])


def sweep(jobs, plan):
    """check_server(*job) for every job, each in a process of its own (checks.sweep): a
    server whose time is up, or whose process died, is its own UNKNOWN."""
    return pool.run(jobs, plan, pool.Work(_answer, _report, _unchecked))


# Per-server perfdata for the first this many servers of the table, whatever their state.
PERFDATA_SERVERS = 32

# The sweep's ranking: a confirmed CRITICAL outranks a server that could not be checked.
RANK = {Ok: 0, Warn: 1, Unknown: 2, Critical: 3}


class RealServers(nagiosplugin.Resource):
    """Finds the direct-routing real servers and their VIPs, checks each over SSH."""

    name = NAME

    def __init__(self, services, make_target, parallel, persistence, timeout, unreachable_state,
                 server_checks, excluded=()):
        self.services = services
        self.server_checks = server_checks
        self.excluded = excluded
        self.make_target = make_target
        self.parallel = parallel
        self.persistence = persistence
        self.timeout = timeout
        self.unreachable_state = unreachable_state
        self.plan = None
        self.graphed = set()  # the servers whose state gets perfdata: the table's first ones
        self.left_out = []  # the servers --exclude leaves out
        self.reports = []

    def servers(self):
        """{real server ip: [its VIPs]} for direct-routing real servers, the excluded ones
        left out (and named in self.left_out)."""
        vips = collections.OrderedDict(
            (ip, list(dict.fromkeys(service.vip for service in served)))
            for ip, served in ipvs.direct_routing(self.services).items())
        if not vips:
            raise cli.PluginError("the IPVS table has no direct-routing real server")
        for ip in self.excluded:
            if ip not in vips:
                log.warning("--exclude %s names no direct-routing real server of the table", ip)
        self.left_out = [ip for ip in vips if ip in self.excluded]
        for ip in self.left_out:
            del vips[ip]
        if not vips:
            raise cli.PluginError("--exclude leaves no real server to check")
        return vips

    def state_of(self, report):
        """A server's state in the sweep: its checks' worst, or ``unreachable_state`` when it
        could not be checked (Ok where -w/-c judge the number not checked)."""
        return self.unreachable_state if report.error else report.state

    def probe(self):
        servers = self.servers()
        self.graphed = {str(ip) for ip in list(servers)[:PERFDATA_SERVERS]}
        self.plan = pool.Plan.make(len(servers), self.parallel, self.timeout)
        log.info("sweep plan: %s", self.plan)
        connect_timeout = self.plan.budget * target.CONNECT_SHARE

        def make_target(host):
            return self.make_target(host, connect_timeout)

        jobs = [(ip, vips, make_target, self.persistence, self.server_checks)
                for ip, vips in servers.items()]
        reports = self.reports = sweep(jobs, self.plan)
        for report in reports:
            yield nagiosplugin.Metric(str(report.ip), report, context="realserver")
        counts = collections.Counter(r.state for r in reports if not r.error)
        yield nagiosplugin.Metric("servers", len(reports), min=0, context="servers")
        yield nagiosplugin.Metric("unreachable", sum(bool(r.error) for r in reports), min=0,
                                  max=len(reports), context="unreachable")
        for state in (Ok, Warn, Critical, Unknown):
            yield nagiosplugin.Metric("servers_" + str(state), counts[state], min=0,
                                      max=len(reports), context="servers")
        yield nagiosplugin.Metric("excluded", len(self.left_out), min=0, context="servers")


# --- Evaluation: the Contexts decide each verdict, once ---

class RealServerContext(nagiosplugin.Context):
    """A server's state is the worst of its checks; one that cannot be checked is UNKNOWN
    (or CRITICAL with --unreachable critical; with -w/-c, its number is judged instead)."""

    def __init__(self):
        super().__init__("realserver")

    def evaluate(self, metric, resource):
        report = metric.value
        state = resource.state_of(report)
        if report.error:
            return self.result_cls(state, "{}: not checked: {}".format(report.ip, report.error),
                                   metric)
        if state == Ok:  # short: a sweep of many servers must fit its bounded output
            return self.result_cls(state, "{}: {}".format(report.ip, ", ".join(
                "{} OK".format(name) for name, _, _ in report.results)), metric)
        worst = max(report.results, key=lambda item: int(item[1]))
        others = "; ".join("{} {}".format(name, str(state).upper())
                           for name, state, _ in report.results if name != worst[0])
        return self.result_cls(state, "{}: {}{}".format(
            report.ip, worst[2], " ({})".format(others) if others else ""), metric)

    def performance(self, metric, resource):
        """The state of each of the table's first PERFDATA_SERVERS servers, whatever it is,
        ranked so that a graph reads worse as higher (0 OK, 1 WARNING, 2 UNKNOWN or not
        checked, 3 CRITICAL); the counts are always there."""
        if metric.name not in resource.graphed:
            return None
        state = resource.state_of(metric.value)
        if metric.value.error and state == Ok:  # judged by -w/-c: graphed as not checked
            state = Unknown
        return nagiosplugin.Performance(metric.name, RANK[state], warn="0", crit="2", min=0,
                                        max=3)


class UnreachableContext(nagiosplugin.ScalarContext):
    """The number of servers not checked, against -w/-c (default: WARNING above 0), said
    with the servers it counts."""

    def describe(self, metric):
        return None  # the result says it all, with the servers (evaluate)

    def evaluate(self, metric, resource):
        state = super().evaluate(metric, resource).state
        unchecked = [str(r.ip) for r in resource.reports if r.error]
        text = "{} not checked".format(plural(metric.value, "real server"))
        if unchecked:
            text += ": " + listing(unchecked, len(text) + 100)
        return self.result_cls(state, text, metric)


class SweepCheck(nagiosplugin.Check):
    """The worst server by the sweep's ranking decides state and exit code alike."""

    @property
    def state(self):
        return max((r.state for r in self.results), key=RANK.get, default=Unknown)

    @property
    def exitcode(self):
        return int(self.state)


# --- Presentation: the Summary ---

class RealServersSummary(ItemSummary):
    """The worst real server first (CRITICAL before UNKNOWN), then those that could not be
    checked; -v: every server accounted for, those not checked grouped by reason, the OK
    ones on one line, the excluded named."""

    context = "realserver"
    noun = "real server"

    def __init__(self, resource):
        self.resource = resource

    def ok(self, results):
        servers = self.items(results)
        checked = [r.metric.name for r in servers if not r.metric.value.error]
        text = "{} checked over SSH: {}".format(plural(len(checked), "real server"),
                                                listing(checked, 200))
        unchecked = [r.metric.name for r in servers if r.metric.value.error]
        if unchecked:
            text += "; {} not checked (within -w/-c): {}".format(len(unchecked),
                                                                  listing(unchecked, 350))
        if self.resource.left_out:
            text += "; excluded: {}".format(listing([str(ip) for ip in self.resource.left_out],
                                                     400))
        return text

    def problem(self, results):
        items = self.items(results)
        affected = [r for r in items if r.state != Ok]
        if not affected:  # the number not checked, beyond -w/-c, or no server at all
            return str(results.first_significant)
        # A confirmed finding before a server not checked of the same rank.
        worst = max(affected, key=lambda r: (RANK[r.state], not r.metric.value.error))
        text = "{} ({} of {} affected)".format(worst, len(affected), plural(len(items), self.noun))
        unchecked = [r.metric.name for r in items if r.metric.value.error and r is not worst]
        if unchecked:
            text += "; not checked: {}".format(", ".join(unchecked[:5]) +
                                              (" and {} more".format(len(unchecked) - 5)
                                               if len(unchecked) > 5 else ""))
        return text

    def ordered(self, results):
        return sorted(self.items(results), key=lambda r: -RANK[r.state])

    def verbose(self, results):
        entries = []
        for result in self.ordered(results):
            report = result.metric.value
            own = str(result)
            shared = own.split(": ", 1)[1].replace(str(report.ip), "<server>")
            entries.append((result.state, shared, str(report.ip), own))
        lines = grouped_lines(entries, "real server")
        if self.resource.left_out:
            head = "excluded (--exclude): "
            lines.append(head + listing([str(ip) for ip in self.resource.left_out], len(head)))
        return lines


# --- The command line: parser, Check, main ---

def build_parser():
    parser = cli.make_parser("check_lvs_realservers", __doc__)
    parser.add_argument("--from-ipvs", nargs="?", const=ipvs.PROC_IP_VS, type=os.path.abspath, default=ipvs.PROC_IP_VS,
                        metavar="PATH", help="the IPVS table (default %(const)s; saved "
                                             "'ipvsadm -Ln' output also works)")
    parser.add_argument("--parallel", type=int, default=8, metavar="N",
                        help="servers checked at once (default %(default)s)")
    parser.add_argument("--unreachable", choices=("unknown", "critical"),
                        help="state of a server that cannot be checked (default unknown; "
                             "not with -w/-c)")
    parser.add_argument("--exclude", action="append", type=cli.comma_list, default=[],
                        metavar="ADDRESS", help="leave this real server out (maintenance; "
                                                "repeatable, or a comma-separated list)")
    parser.add_argument("-w", "--warning", type=options.threshold, metavar="RANGE",
                        help="WARNING when the number of servers not checked is outside RANGE "
                             "(instead of each such server being UNKNOWN)")
    parser.add_argument("-c", "--critical", type=options.threshold, metavar="RANGE",
                        help="CRITICAL when the number of servers not checked is outside RANGE")
    parser.add_argument("--no-persistence", action="store_true",
                        help="skip the boot-time verdicts")
    target.add_ssh_options(parser)
    return parser


def build_check(args, server_checks):
    from lvs_dr_checks.source.local import Source

    if not 1 <= args.parallel <= 256:
        raise cli.PluginError("--parallel {} must be between 1 and 256".format(args.parallel))
    counted = args.warning is not None or args.critical is not None
    if counted and args.unreachable is not None:
        raise cli.PluginError("--unreachable and -w/-c both say what a server not checked "
                              "means: give one of them")
    excluded = [links.vip_address(text, "--exclude") for text in cli.flatten(args.exclude)]
    services = ipvs.read(Source("/"), args.from_ipvs)
    unreachable = Ok if counted else Critical if args.unreachable == "critical" else Unknown

    def make_target(host, connect_timeout):
        return target.remote_target(args, host, connect_timeout)

    resource = RealServers(services, make_target, args.parallel, not args.no_persistence,
                           args.timeout, unreachable, server_checks, excluded)
    return SweepCheck(
        resource, RealServerContext(),
        nagiosplugin.ScalarContext("servers"),
        UnreachableContext("unreachable", warning=args.warning if counted else "0",
                           critical=args.critical),
        RealServersSummary(resource))


def main(argv=None, server_checks=()):
    """``server_checks``: the check modules run on every real server (entry.py names them)."""
    cli.run(NAME, build_parser(), lambda args: build_check(args, server_checks), argv)
