"""The sweep's isolation, in-process and without root: each server is checked in a process of
its own, so whatever happens there (a failure, a process that dies, one that never ends, a
flood of log records) is that server's line alone, and its log records reach -v here."""

import ipaddress
import logging
import os
import signal
import time

from nagiosplugin.state import Critical, Ok, Unknown

from lvs_dr_checks import cli
from lvs_dr_checks.checks import realservers, sweep


class Target:
    """What check_server connects through: here each behaves as a server might, in the
    server's own process."""

    def __init__(self, behaviour):
        self.behaviour = behaviour

    def connect(self):
        logging.getLogger("nagiosplugin.lvs_dr.test").warning("connecting (%s)", self.behaviour)
        if self.behaviour == "killed":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.behaviour == "exits":
            os._exit(0)
        if self.behaviour == "hangs":
            time.sleep(60)
        if self.behaviour == "floods":
            logging.getLogger("nagiosplugin.lvs_dr.test").warning("x" * (9 << 20))
        if self.behaviour == "bug":
            raise ZeroDivisionError("division by zero")
        raise cli.PluginError("refused ({})".format(self.behaviour))


def jobs(behaviours):
    return [(ipaddress.ip_address("192.0.2.{}".format(10 + n)), [ipaddress.ip_address(
        "192.0.2.100")], lambda host, b=b: Target(b), True) for n, b in enumerate(behaviours)]


def test_whatever_happens_on_one_server_is_that_servers_line_alone(caplog):
    behaviours = ["plain", "killed", "exits", "hangs", "floods", "bug", "plain"]
    plan = sweep.Plan(len(behaviours), 4, 1.5)
    caplog.set_level(logging.WARNING, logger="nagiosplugin")
    started = time.monotonic()
    reports = realservers.sweep(jobs(behaviours), plan)
    assert time.monotonic() - started < 2 * plan.budget + 1  # two waves, none waits on another
    assert [(str(r.ip), r.results, r.error) for r in reports] == [
        ("192.0.2.10", [], "refused (plain)"),
        ("192.0.2.11", [], "check failed: its process ended without a result (killed by "
                           "signal 9)"),
        ("192.0.2.12", [], "check failed: its process ended without a result (exit 0)"),
        ("192.0.2.13", [], "no result within 1.5s, its share of -t (7 servers, 4 at a time, "
                           "1.5s each)"),
        ("192.0.2.14", [], "check failed: its answer exceeds 8 MiB"),
        ("192.0.2.15", [], "check failed: ZeroDivisionError: division by zero"),
        ("192.0.2.16", [], "refused (plain)"),
    ]
    # Records come back with the answer, each distinct line once: the two plain servers say
    # the same; a server that died or never answered brings none.
    assert sorted(r.getMessage() for r in caplog.records) == [
        "connecting (bug)", "connecting (plain)"]


def test_a_servers_states_come_back_as_nagiosplugin_states(monkeypatch):
    def check_server(ip, vips, make_target, persistence):
        return realservers.ServerReport(ip, vips, [("ARP_SYSCTL", Critical, "ARP_SYSCTL CRITICAL "
                                                    "- eth\udcff"), ("VIP_ON_LO", Ok, "ok")], None)
    monkeypatch.setattr(realservers, "check_server", check_server)
    report, = realservers.sweep(jobs(["plain"]), sweep.Plan(1, 1, 5.0))
    assert report.results == [("ARP_SYSCTL", Critical, "ARP_SYSCTL CRITICAL - eth\udcff"),
                              ("VIP_ON_LO", Ok, "ok")]
    assert report.state is Critical and report.state != Unknown
