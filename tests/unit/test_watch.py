"""lvs-dr-watch's model and verdict without the wire: the timeline's events for hand-written
sequences of packets and probe rounds, the verdict's exact lines over snapshots, and
check_vip_arp_watch reading a state file as NRPE would run it."""

import json
import os

import pytest

from lvs_dr_checks import cli
from lvs_dr_checks.checks import vip_arp_watch
from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.host.links import Neighbour
from lvs_dr_checks.watch import daemon, follow, statefile, textfile, verdict
from lvs_dr_checks.watch.timeline import THIS_HOST, Timeline

VIP, VIP6 = "192.0.2.100", "2001:db8::100"
D1, D2, RS1 = "02:00:5e:00:00:01", "02:00:5e:00:00:02", "02:00:5e:00:00:0b"
T = 1_800_000_000.0  # a wall-clock time


def timeline(*allowed):
    return Timeline({VIP: allowed or (D1, D2), VIP6: (D1,)})


def kinds(events):
    return [(e["event"], e.get("mac") or e.get("macs") or e.get("after")) for e in events]


def round_of(line, vip, answers, sent):
    """A probe at ``sent`` answered by ``answers`` (MACs), closed a second later."""
    events = []
    for mac in answers:
        events += line.heard(vip, mac, mac, sent + 0.01, reply=True)
    return events + line.round_closed(vip, sent, sent + 1)


def test_a_foreign_claim_starts_at_its_first_packet_and_ends_at_the_round_it_missed():
    line = timeline()
    assert kinds(round_of(line, VIP, [D1], T)) == []
    started = line.heard(VIP, RS1, RS1, T + 10.2, reply=True)
    assert kinds(started) == [("foreign-start", RS1)] and started[0]["at"] == T + 10.2
    assert kinds(round_of(line, VIP, [D1, RS1], T + 11)) == []
    ended = round_of(line, VIP, [D1], T + 12)
    assert kinds(ended) == [("foreign-end", RS1)]
    assert (ended[0]["first"], ended[0]["last"], ended[0]["count"]) == (T + 10.2, T + 11.01, 2)
    assert line.vips[VIP].owner == D1


def test_a_flapping_claim_is_one_event_per_change_and_a_to_b_to_a_is_never_hidden():
    line = timeline()
    events = []
    for n, answers in enumerate([[D1], [D1, RS1], [D1], [D1, RS1], [D2], [D1]]):
        events += round_of(line, VIP, answers, T + 2 * n)
    assert kinds(events) == [("foreign-start", RS1), ("foreign-end", RS1),
                             ("foreign-start", RS1), ("foreign-end", RS1),
                             ("owner-change", D2), ("owner-change", D1)]
    assert [e["id"] for e in events] == list(range(1, 7))


def test_two_owners_in_one_round_or_one_mac_answering_twice_is_a_split_brain():
    line = timeline()
    assert kinds(round_of(line, VIP, [D1, D2], T)) == [("split-start", [D1, D2])]
    assert kinds(round_of(line, VIP, [D1, D2], T + 2)) == []
    assert kinds(round_of(line, VIP, [D2], T + 4)) == [("split-end", [D1, D2])]
    assert kinds(round_of(line, VIP, [D2, D2], T + 6)) == [("split-start", [D2])]
    assert kinds(round_of(line, VIP, [D2], T + 8)) == [("split-end", [D2])]
    # IPv6: unsolicited advertisements look like answers; twice is no proof of two hosts
    assert kinds(round_of(line, VIP6, [D1, D1], T + 10)) == []


def test_this_host_holding_the_vip_is_an_owner():
    line = timeline()
    line.holding([VIP])
    assert kinds(round_of(line, VIP, [], T)) == []
    assert line.vips[VIP].owner == THIS_HOST
    assert kinds(round_of(line, VIP, [D2], T + 2)) == [("split-start", [THIS_HOST, D2])]
    line.holding([])
    assert kinds(round_of(line, VIP, [D2], T + 4)) == [("split-end", [THIS_HOST, D2]),
                                                        ("owner-change", D2)]


def test_silence_is_rounds_without_an_owner_for_5_s_and_ends_with_an_answer():
    line = timeline()
    round_of(line, VIP, [D1], T)
    # a failover's gap: two silent rounds within 5 s are no silence
    assert kinds(round_of(line, VIP, [], T + 1) + round_of(line, VIP, [], T + 2)) == []
    assert kinds(round_of(line, VIP, [D2], T + 3)) == [("owner-change", D2)]
    assert kinds(round_of(line, VIP, [], T + 10)) == []
    silent = round_of(line, VIP, [], T + 14)
    assert kinds(silent) == [("silent-start", None)] and silent[0]["since"] == T + 10
    assert kinds(round_of(line, VIP, [RS1], T + 16)) == [("foreign-start", RS1)]
    assert kinds(round_of(line, VIP, [D1], T + 18)) == [("foreign-end", RS1),
                                                         ("owner-change", D1),
                                                         ("silent-end", None)]


def test_a_mac_sending_from_another_ethernet_source_is_foreign():
    line = timeline()
    events = line.heard(VIP, D1, RS1, T, reply=True)
    assert kinds(events) == [("foreign-start", D1)]


def test_the_history_survives_a_restart_without_a_duplicate():
    line = timeline()
    round_of(line, VIP, [D1], T)
    line.heard(VIP, RS1, RS1, T + 2.5)
    restored = Timeline.from_dict(json.loads(json.dumps(line.to_dict())))
    restored.reconfigure({VIP: (D1, D2), VIP6: (D1,)})
    assert restored.to_dict() == line.to_dict()
    assert kinds(restored.heard(VIP, RS1, RS1, T + 3)) == []  # the same claim, going on
    assert [e["id"] for e in round_of(restored, VIP, [D1], T + 4)] == [2]


def snapshot(line, written=T + 20, heartbeat=5.0):
    return {"timeline": line.to_dict(), "iface": "eth0", "mac": "02:00:5e:00:00:01",
            "labels": {RS1: "192.0.2.11, real server of 192.0.2.100:80"}, "started": T,
            "written": written, "heartbeat": heartbeat, "delivery": []}


def decided(state, now, **kwargs):
    code, text = cli.render(verdict.NAME, verdict.build(state, now, **kwargs))
    return code, daemon.split_perfdata(text)


def test_an_ended_claim_is_critical_for_the_window_then_ok():
    line = timeline()
    round_of(line, VIP, [D1], T)
    round_of(line, VIP6, [D1], T)
    for n in range(3):
        line.heard(VIP, RS1, RS1, T + 10 + n, reply=True)
    round_of(line, VIP, [D1], T + 13.5)
    code, (output, perfdata) = decided(snapshot(line), T + 60)
    assert code == 2
    assert output.split("\n")[0] == (
        "VIP_ARP_WATCH CRITICAL - {} (192.0.2.11, real server of 192.0.2.100:80) claimed VIP "
        "192.0.2.100 for 2.0 s at {}, 1 time in the last 15 min (1 of 2 VIPs affected)".format(
            RS1, verdict.clock(T + 10)))
    assert perfdata == ["foreign_claims=1;;0;0", "owner_changes=0;;;0", "silent_vips=0;;0;0;2",
                        "split_brains=0;;0;0", "stale_router=0;;0;0", "vips=2;;;0"]
    code, (output, perfdata) = decided(snapshot(line), T + 14.5 + 901)  # known at 14.5
    assert code == 0
    assert output.split("\n")[0] == (
        "VIP_ARP_WATCH OK - 2 VIPs watched on eth0 since {}: each owned by one allowed owner; "
        "no foreign claim or split brain in the last 15 min".format(verdict.clock(T)))
    assert "foreign_claims=0;;0;0" in perfdata


def test_a_claim_going_on_names_its_start_and_a_split_brain_its_owners():
    line = timeline()
    line.heard(VIP, RS1, RS1, T, reply=True)
    round_of(line, VIP6, [D1, D1], T)
    code, (output, _) = decided(snapshot(line), T + 4.2)
    assert code == 2 and output.split("\n")[0].startswith(
        "VIP_ARP_WATCH CRITICAL - {} (192.0.2.11, real server of 192.0.2.100:80) claims VIP "
        "192.0.2.100 since {} (0.0 s), 1 time in the last 15 min".format(RS1, verdict.clock(T)))
    split = timeline()
    round_of(split, VIP, [D1, D2], T)
    code, (output, _) = decided(snapshot(split), T + 2)
    assert code == 2 and "split brain: VIP 192.0.2.100 owned by {} and {} since {}".format(
        D1, D2, verdict.clock(T + 1)) in output


def test_a_stale_state_is_unknown_naming_the_watcher():
    line = timeline()
    round_of(line, VIP, [D1], T)
    code, (output, perfdata) = decided(snapshot(line, written=T), T + 100, max_age=25)
    assert code == 3
    assert output.split("\n")[0] == (
        "VIP_ARP_WATCH UNKNOWN - lvs-dr-watch last wrote its state 100.0 s ago (at {}; at most "
        "25.0 s expected): is it running? (systemctl status lvs-dr-watch)".format(
            verdict.clock(T)))
    assert "age=100.0s;;;0" in perfdata


def test_check_vip_arp_watch_reads_the_state_file(in_process, tmp_path, monkeypatch):
    line = timeline()
    round_of(line, VIP, [D1], T)
    round_of(line, VIP6, [D1], T)
    path = str(tmp_path / "state.json")
    statefile.write(path, snapshot(line, written=T + 20))
    monkeypatch.setattr(vip_arp_watch.time, "time", lambda: T + 30)
    ran = in_process(vip_arp_watch.main, ["--from-watch", path])
    assert (ran.code, ran.status) == (0, (
        "VIP_ARP_WATCH OK - 2 VIPs watched on eth0 since {}: each owned by one allowed owner; "
        "no foreign claim or split brain in the last 15 min".format(verdict.clock(T))))
    assert ran.perf()["age"] == "10.0s;;;0"
    # a watcher silent for more than 3 heartbeats (5 s) + 10 s
    monkeypatch.setattr(vip_arp_watch.time, "time", lambda: T + 46)
    assert in_process(vip_arp_watch.main, ["--from-watch", path]).code == 3


@pytest.mark.parametrize("content, cause", [
    (None, "no such file: is lvs-dr-watch running"),
    ("{not json", "not lvs-dr-watch's state"),
    ('{"format": 99}', "format 99, this reader knows 1"),
    ('{"format": 1, "timeline": {"vips": {}}}', "damaged lvs-dr-watch state (iface, started, "
                                                "written, heartbeat, timeline.events, "
                                                "timeline.next_id, timeline.held missing"),
])
def test_a_missing_or_foreign_state_file_is_one_unknown_line(in_process, tmp_path, content,
                                                             cause):
    path = str(tmp_path / "state.json")
    if content is not None:
        with open(path, "w") as handle:
            handle.write(content)
    ran = in_process(vip_arp_watch.main, ["--from-watch", path])
    assert ran.code == 3 and len(ran.lines) == 1 and cause in ran.status, ran


def test_the_state_file_is_replaced_whole(tmp_path):
    path = str(tmp_path / "state.json")
    statefile.write(path, snapshot(timeline()))
    statefile.write(path, dict(snapshot(timeline()), written=T + 30))
    assert statefile.read(path)["written"] == T + 30
    assert os.listdir(str(tmp_path)) == ["state.json"]
    assert os.stat(path).st_mode & 0o777 == 0o644


def test_events_are_journal_lines_in_the_suites_words():
    labels = {RS1: "192.0.2.11"}
    line = timeline()
    events = round_of(line, VIP, [D1, RS1], T) + round_of(line, VIP, [D1], T + 2.5)
    assert [daemon.describe_event(e, labels) for e in events] == [
        "{} (192.0.2.11) claims VIP 192.0.2.100".format(RS1),
        "{} (192.0.2.11) claimed VIP 192.0.2.100 for 0.0 s (1 packets)".format(RS1)]


def test_a_router_still_at_the_old_owner_is_stale_until_it_follows():
    line = timeline()
    round_of(line, VIP, [D1], T)
    round_of(line, VIP6, [D1], T)
    assert kinds(round_of(line, VIP, [D2], T + 2)) == [("owner-change", D2)]
    stale = line.router_read(VIP, D1, D2, D1, T + 8)
    assert [(e["event"], e["before"], e["after"]) for e in stale] == [("router-stale", D1, D2)]
    assert line.router_read(VIP, D1, D2, D1, T + 13) == []  # still stale: no new event
    state = dict(snapshot(line), router="192.0.2.254 (SNMP)")
    code, (output, perfdata) = decided(state, T + 14)
    assert code == 2 and output.split("\n")[0] == (
        "VIP_ARP_WATCH CRITICAL - router 192.0.2.254 (SNMP) still sends VIP 192.0.2.100 to {} "
        "since {} (6.0 s), not to {} that took it over: the gratuitous ARP did not reach it "
        "(1 of 2 VIPs affected)".format(D1, verdict.clock(T + 8), D2))
    assert "stale_router=1;;0;0" in perfdata
    fresh = line.router_read(VIP, D1, D2, D2, T + 18)
    assert [(e["event"], e["seen"], e["since"]) for e in fresh] == [("router-fresh", D2, T + 8)]
    code, (output, _) = decided(dict(snapshot(line), router="192.0.2.254 (SNMP)"), T + 20)
    assert code == 2 and "router 192.0.2.254 (SNMP) sent VIP 192.0.2.100 to the old owner {} " \
        "for 10.0 s at {}, after {} took it over".format(D1, verdict.clock(T + 8), D2) in output
    assert line.router_read(VIP, D2, D1, D1, T + 30) == []  # a router that followed: nothing
    code, (output, _) = decided(dict(snapshot(line), router=None), T + 20)  # restarted, no -H
    assert code == 2 and "the router sent VIP 192.0.2.100 to the old owner {} ".format(D1) \
        in output


def test_the_prometheus_textfile_has_labels_not_names():
    line = timeline()
    line.holding([VIP])
    round_of(line, VIP, [RS1], T)
    round_of(line, VIP6, [D1], T)
    text = textfile.render(snapshot(line))
    assert text.splitlines() == [
        "# HELP lvs_dr_watch_last_report_timestamp_seconds when the watcher last decided",
        "# TYPE lvs_dr_watch_last_report_timestamp_seconds gauge",
        "lvs_dr_watch_last_report_timestamp_seconds 1800000020.0",
        "# HELP lvs_dr_watch_owner_info the VIP's owner now (1), by MAC",
        "# TYPE lvs_dr_watch_owner_info gauge",
        'lvs_dr_watch_owner_info{mac="02:00:5e:00:00:01",vip="192.0.2.100"} 1',
        'lvs_dr_watch_owner_info{mac="02:00:5e:00:00:01",vip="2001:db8::100"} 1',
        "# HELP lvs_dr_watch_foreign_claim_active a MAC that may not own the VIP claims it now",
        "# TYPE lvs_dr_watch_foreign_claim_active gauge",
        'lvs_dr_watch_foreign_claim_active{mac="02:00:5e:00:00:0b",vip="192.0.2.100"} 1',
        "# HELP lvs_dr_watch_silent no owner answers for the VIP",
        "# TYPE lvs_dr_watch_silent gauge",
        'lvs_dr_watch_silent{vip="192.0.2.100"} 0', 'lvs_dr_watch_silent{vip="2001:db8::100"} 0',
        "# HELP lvs_dr_watch_split_brain two owners at once now",
        "# TYPE lvs_dr_watch_split_brain gauge",
        'lvs_dr_watch_split_brain{vip="192.0.2.100"} 0',
        'lvs_dr_watch_split_brain{vip="2001:db8::100"} 0',
        "# HELP lvs_dr_watch_foreign_claims_total foreign claims started, by VIP and MAC",
        "# TYPE lvs_dr_watch_foreign_claims_total counter",
        'lvs_dr_watch_foreign_claims_total{mac="02:00:5e:00:00:0b",vip="192.0.2.100"} 1',
        "# HELP lvs_dr_watch_split_brains_total split brains started",
        "# TYPE lvs_dr_watch_split_brains_total counter",
        'lvs_dr_watch_split_brains_total{vip="192.0.2.100"} 0',
        'lvs_dr_watch_split_brains_total{vip="2001:db8::100"} 0',
        "# HELP lvs_dr_watch_owner_changes_total owner changes (failovers)",
        "# TYPE lvs_dr_watch_owner_changes_total counter",
        'lvs_dr_watch_owner_changes_total{vip="192.0.2.100"} 0',
        'lvs_dr_watch_owner_changes_total{vip="2001:db8::100"} 0',
        "# HELP lvs_dr_watch_router_stale_total routers found at the old owner after a failover",
        "# TYPE lvs_dr_watch_router_stale_total counter",
        'lvs_dr_watch_router_stale_total{vip="192.0.2.100"} 0',
        'lvs_dr_watch_router_stale_total{vip="2001:db8::100"} 0']


def test_two_vrrp_masters_at_once_are_a_split_brain_with_their_names():
    line = timeline()
    vmac = "00:00:5e:00:02:34"
    line = Timeline({VIP6: (vmac,)})
    events = round_of(line, VIP6, [vmac], T)
    assert kinds(events) == []
    line.heard(VIP6, vmac, vmac, T + 2.01, reply=True)
    started = line.round_closed(VIP6, T + 2, T + 3, vrrp=["2001:db8::2", "2001:db8::1"])
    assert kinds(started) == [("split-start", [vmac, "VRRP 2001:db8::1 and 2001:db8::2"])]
    code, (output, _) = decided(dict(snapshot(line), labels={}), T + 4)
    assert code == 2 and output.split("\n")[0] == (
        "VIP_ARP_WATCH CRITICAL - split brain: VIP 2001:db8::100 owned by {}; VRRP "
        "advertisements from 2001:db8::1 and 2001:db8::2 at once since {} (1 of 1 VIP "
        "affected)".format(vmac, verdict.clock(T + 3)))
    line.heard(VIP6, vmac, vmac, T + 4.01, reply=True)
    assert kinds(line.round_closed(VIP6, T + 4, T + 5, vrrp=["2001:db8::1"])) == [
        ("split-end", [vmac, "VRRP 2001:db8::1 and 2001:db8::2"])]


def _followed(answers):
    """The reads of one failover by a RouterFollow whose reader gives ``answers`` in turn
    (a MAC, or an exception): (what each read saw, whether it asked again)."""
    answers = list(answers)

    def reader(addresses, deadline):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return [Neighbour(addresses[0], "eth0", answer, "reachable")], "a table"
    wake_read, wake_write = os.pipe()
    router = follow.RouterFollow(reader, "router", 0.0, wake_write)
    router.owner_changed(VIP, D1, D2)
    seen = []
    while router.pending:
        router.start_due()
        os.read(wake_read, 1)
        for asked, mac, error in router.results():
            again = router.again(asked, failed=error is not None) if error or mac == D1 \
                else False
            seen.append((mac, error is not None, again))
    os.close(wake_read)
    os.close(wake_write)
    return seen


def test_a_router_read_that_fails_is_tried_again_three_times_at_most():
    assert _followed([PluginError("no answer"), D1, D2]) == [
        (None, True, True), (D1, False, True), (D2, False, False)]
    assert _followed([PluginError("no answer")] * 3) == [
        (None, True, True), (None, True, True), (None, True, False)]
