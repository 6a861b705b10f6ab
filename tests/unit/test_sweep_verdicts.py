"""The sweep's verdicts in-process, each server's outcome given (no SSH): thresholds on the
servers not checked, exclusions, perfdata labels that do not change with state, and long
output that accounts for every server within the bound."""

import ipaddress

import lab as lab_module
import pytest
from nagiosplugin.state import Critical, Ok, Warn

from lvs_dr_checks import cli
from lvs_dr_checks.checks import realservers
from lvs_dr_checks.summary import listing

DOWN = "monitor@{}:22 is unreachable (No route to host): host down or wrong address"


@pytest.fixture
def sweep(tmp_path, monkeypatch, in_process):
    """Run the sweep over servers 192.0.2.11... given as states (Ok, Warn, Critical, or None
    for a server that cannot be reached): the Outcome, and the servers it set out to check."""
    def run(states, *args):
        servers = ["192.0.2.{}".format(11 + n) for n in range(len(states))]
        table = tmp_path / "ip_vs"
        table.write_text(lab_module.ipvsadm_text("192.0.2.100", servers))
        outcome_of = dict(zip(servers, states))
        asked = []

        def fake_sweep(jobs, plan):
            asked.extend(str(job[0]) for job in jobs)
            return [realservers.ServerReport(ip, vips, [] if outcome_of[str(ip)] is None else [
                ("ARP_SYSCTL", outcome_of[str(ip)], "ARP_SYSCTL {} - x".format(
                    str(outcome_of[str(ip)]).upper()))], None if outcome_of[str(ip)] else
                DOWN.format(ip)) for ip, vips, *_ in jobs]
        monkeypatch.setattr(realservers, "sweep", fake_sweep)
        outcome = in_process(realservers.main, ["--from-ipvs", str(table), *args])
        return outcome, asked
    return run


def labels(outcome):
    return sorted(item.split("=", 1)[0] for item in outcome.perfdata.split())


def test_perfdata_labels_do_not_change_with_state(sweep):
    ok, _ = sweep([Ok] * 40)
    bad, _ = sweep([Critical, None, Warn] + [None] * 37)
    assert (ok.code, bad.code) == (0, 2)
    assert labels(ok) == labels(bad)
    assert len([label for label in labels(ok) if label.startswith("'192.0.2.")]) == 32


def test_a_state_graph_reads_worse_as_higher(sweep):
    outcome, _ = sweep([Ok, Warn, None, Critical])
    perf = dict(item.split("=", 1) for item in outcome.perfdata.split())
    assert [perf["'192.0.2.{}'".format(n)].split(";")[0] for n in (11, 12, 13, 14)] == \
        ["0", "1", "2", "3"]


@pytest.mark.parametrize("args, code, status", [
    ([], 3, "LVS_REALSERVERS UNKNOWN - 192.0.2.12: not checked: " + DOWN.format("192.0.2.12")),
    (["-w", "0"], 1, "LVS_REALSERVERS WARNING - 1 real server not checked: 192.0.2.12"),
    (["-w", "1"], 0, "LVS_REALSERVERS OK - 2 real servers checked over SSH: 192.0.2.11, "
                     "192.0.2.13; 1 not checked (within -w/-c): 192.0.2.12 |"),
    (["-w", "0", "-c", "0"], 2, "LVS_REALSERVERS CRITICAL - 1 real server not checked: "
                                "192.0.2.12"),
    (["--exclude", "192.0.2.12"], 0, "LVS_REALSERVERS OK - 2 real servers checked over SSH: "
                                     "192.0.2.11, 192.0.2.13; excluded: 192.0.2.12 |"),
])
def test_servers_not_checked_against_thresholds(sweep, args, code, status):
    outcome, _ = sweep([Ok, None, Ok], *args)
    assert outcome.code == code, outcome
    assert (outcome.status + " |").startswith(status), outcome


def test_a_critical_wins_over_servers_not_checked_within_or_beyond_thresholds(sweep):
    for args in ([], ["-w", "5"], ["-w", "0"], ["--unreachable", "critical"]):
        outcome, _ = sweep([Warn, None, Critical, None], *args)
        assert outcome.code == 2 and outcome.status.startswith(
            "LVS_REALSERVERS CRITICAL - 192.0.2.13: ARP_SYSCTL CRITICAL"), (args, outcome)


def test_one_server_not_checked_no_longer_hides_a_warning(sweep):
    outcome, _ = sweep([Warn, None], "-w", "1")
    assert outcome.code == 1 and outcome.status.startswith(
        "LVS_REALSERVERS WARNING - 192.0.2.11: ARP_SYSCTL WARNING"), outcome


def test_excluded_servers_are_not_asked_and_are_named(sweep):
    outcome, asked = sweep([Ok, Critical, Ok], "--exclude", "192.0.2.12", "-v")
    assert asked == ["192.0.2.11", "192.0.2.13"]
    assert outcome.code == 0
    assert "excluded (--exclude): 192.0.2.12" in outcome.lines
    perf = dict(item.split("=", 1) for item in outcome.perfdata.split())
    assert perf["excluded"] == "1;;;0" and "'192.0.2.12'" not in perf


@pytest.mark.parametrize("args, cause", [
    (["--unreachable", "critical", "-w", "1"], "--unreachable and -w/-c both say"),
    (["-w", "x"], "argument -w/--warning: not a range"),
    (["-c", "5:1"], "argument -c/--critical: not a range"),
    (["--exclude", "192.0.2.11,192.0.2.12"], "--exclude leaves no real server to check"),
    (["--exclude", "nonsense"], "--exclude 'nonsense' is not an IPv4 or IPv6 address"),
])
def test_bad_thresholds_and_exclusions_are_named(sweep, args, cause):
    outcome, _ = sweep([Ok, Ok], *args)
    assert outcome.code == 3 and len(outcome.lines) == 1 and cause in outcome.status, outcome


def test_long_output_accounts_for_every_server_within_the_bound(sweep):
    """33 servers, 30 down: the healthy ones are named, the rest grouped by reason."""
    states = [Ok, Critical, Ok] + [None] * 30
    outcome, _ = sweep(states, "-v")
    assert len(outcome.stdout.encode()) <= cli.MAX_OUTPUT
    assert "OK: 192.0.2.11: ARP_SYSCTL OK" in outcome.lines
    assert "OK: 192.0.2.13: ARP_SYSCTL OK" in outcome.lines
    grouped = [line for line in outcome.lines if "not checked" in line and
               line.startswith("UNKNOWN: ")]
    head = "UNKNOWN: 30 real servers: not checked: {}: ".format(DOWN.format("<server>"))
    assert grouped == [head + listing(
        [str(ipaddress.ip_address("192.0.2.14") + n) for n in range(30)], len(head))]
    assert grouped[0].endswith(", 192.0.2.43") and len(grouped[0]) <= cli.MAX_LINE
