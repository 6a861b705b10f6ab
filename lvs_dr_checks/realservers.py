"""check_lvs_realservers: the director's sweep. Every direct-routing real server in the IPVS
table is checked over SSH, in parallel, with check_arp_sysctl's and check_vip_on_lo's own
Checks and that server's VIPs; the worst state wins, one line per server."""

import collections
import os
import threading

import nagiosplugin
from nagiosplugin.state import Critical, Ok, Unknown

from lvs_dr_checks import arp_sysctl, cli, ipvs, target, vip_on_lo
from lvs_dr_checks.summary import ItemSummary, plural

NAME = "LVS_REALSERVERS"


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


def check_server(ip, vips, make_target, persistence):
    """Both real-server checks on one server over one SSH connection."""
    from lvs_dr_checks.ssh import SSHSource

    try:
        client = make_target(str(ip)).connect()
    except cli.PluginError as exc:
        return ServerReport(ip, vips, [], str(exc))
    try:
        source = SSHSource(client, str(ip))
        return ServerReport(ip, vips, [
            _run_check(arp_sysctl.NAME, arp_sysctl.make_check(source, source,
                                                              persistence=persistence)),
            _run_check(vip_on_lo.NAME, vip_on_lo.make_check(source, source, vips, persistence)),
        ], None)
    except cli.PluginError as exc:
        return ServerReport(ip, vips, [], str(exc))
    finally:
        client.close()


def in_parallel(function, jobs, parallel):
    """function(*job) for every job, at most ``parallel`` at once, in daemon threads (so that
    the -t timer can end the run without waiting for a hung connection)."""
    results = [None] * len(jobs)
    slots = threading.Semaphore(parallel)

    def work(index, job):
        try:
            results[index] = function(*job)
        finally:
            slots.release()

    threads = []
    for index, job in enumerate(jobs):
        slots.acquire()
        thread = threading.Thread(target=work, args=(index, job), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    return results


class RealServers(nagiosplugin.Resource):
    """Finds the direct-routing real servers and their VIPs, checks each over SSH."""

    name = NAME

    def __init__(self, services, make_target, parallel, persistence):
        self.services = services
        self.make_target = make_target
        self.parallel = parallel
        self.persistence = persistence

    def servers(self):
        """{real server ip: [its VIPs]} for direct-routing real servers."""
        vips = collections.OrderedDict(
            (ip, list(dict.fromkeys(service.vip for service in served)))
            for ip, served in ipvs.direct_routing(self.services).items())
        if not vips:
            raise cli.PluginError("the IPVS table has no direct-routing real server")
        return vips

    def probe(self):
        jobs = [(ip, vips, self.make_target, self.persistence)
                for ip, vips in self.servers().items()]
        reports = in_parallel(check_server, jobs, self.parallel)
        for report in reports:
            yield nagiosplugin.Metric(str(report.ip), report, context="realserver")
        counts = collections.Counter(report.state for report in reports if not report.error)
        yield nagiosplugin.Metric("servers", len(reports), min=0, context="servers")
        yield nagiosplugin.Metric("unreachable", sum(bool(r.error) for r in reports), min=0,
                                  max=len(reports), context="unreachable")
        for state in (Ok, nagiosplugin.state.Warn, Critical, Unknown):
            yield nagiosplugin.Metric("servers_" + str(state), counts[state], min=0,
                                      max=len(reports), context="servers")


class RealServerContext(nagiosplugin.Context):
    """A server's state is the worst of its checks; one that cannot be checked is UNKNOWN
    (or CRITICAL with --unreachable critical)."""

    def __init__(self, unreachable_state):
        super().__init__("realserver")
        self.unreachable_state = unreachable_state

    def evaluate(self, metric, resource):
        report = metric.value
        if report.error:
            return self.result_cls(self.unreachable_state, "{}: {}".format(report.ip, report.error),
                                   metric)
        worst = max(report.results, key=lambda item: int(item[1]))
        others = "; ".join("{} {}".format(name, str(state).upper())
                           for name, state, _ in report.results if name != worst[0])
        return self.result_cls(report.state, "{}: {}{}".format(
            report.ip, worst[2], " ({})".format(others) if others else ""), metric)

    def performance(self, metric, resource):
        report = metric.value
        state = self.unreachable_state if report.error else report.state
        return nagiosplugin.Performance(metric.name, int(state), warn="0", crit="1", min=0,
                                        max=3)


class RealServersSummary(ItemSummary):
    """The worst real server and how many are affected; -v: one line per server."""

    context = "realserver"
    noun = "real server"

    def ok(self, results):
        servers = self.items(results)
        return "{} checked over SSH: {}".format(plural(len(servers), "real server"),
                                                ", ".join(r.metric.name for r in servers))


def build_parser():
    parser = cli.make_parser(
        "check_lvs_realservers",
        "On the director: checks every direct-routing real server of the IPVS table over SSH "
        "(check_arp_sysctl and check_vip_on_lo with that server's VIPs), in parallel.")
    parser.add_argument("--from-ipvs", nargs="?", const=ipvs.PROC_IP_VS, type=os.path.abspath, default=ipvs.PROC_IP_VS,
                        metavar="PATH", help="the IPVS table (default %(const)s; saved "
                                             "'ipvsadm -Ln' output also works)")
    parser.add_argument("--parallel", type=int, default=8, metavar="N",
                        help="servers checked at once (default %(default)s)")
    parser.add_argument("--unreachable", choices=("unknown", "critical"), default="unknown",
                        help="state of a server that cannot be checked (default %(default)s)")
    parser.add_argument("--no-persistence", action="store_true",
                        help="skip the boot-time verdicts")
    target.add_ssh_options(parser)
    return parser


def build_check(args):
    from lvs_dr_checks.source import Source

    if not 1 <= args.parallel <= 256:
        raise cli.PluginError("--parallel {} must be between 1 and 256".format(args.parallel))
    services = ipvs.read(Source("/"), args.from_ipvs)

    def make_target(host):
        return target.remote_target(args, host)

    resource = RealServers(services, make_target, args.parallel, not args.no_persistence)
    return nagiosplugin.Check(
        resource, RealServerContext(Critical if args.unreachable == "critical" else Unknown),
        nagiosplugin.ScalarContext("servers"),
        nagiosplugin.ScalarContext("unreachable", warning="0"),
        RealServersSummary())


def main(argv=None):
    cli.run(NAME, build_parser(), build_check, argv)
