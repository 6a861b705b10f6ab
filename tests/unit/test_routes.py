"""The kernel's routes as the probe reads them, without root: ip's answers to one batch of
``route get`` lines, read as they are asked for (RouteLookups), what they prove about the
VIPs' segment (segment.Routed), and the stream of a command's output they come by
(Source.stream, against real commands). The lab holds the same against the real ip and
kernel (tests/lab/test_vip_arp_owner_lab.py)."""

import ipaddress
import json
import time

import pytest

from lvs_dr_checks.cli import PluginError
from lvs_dr_checks.host import links, segment
from lvs_dr_checks.source import local
from lvs_dr_checks.source.local import MAX_FILE_BYTES, Source

ip = ipaddress.ip_address


def answer(dst, dev="eth0"):
    """One line of `ip -j route get`, as iproute2 writes it."""
    return json.dumps([{"dst": dst, "from": "::", "dev": dev, "prefsrc": "2001:db8:5::200",
                        "metric": 1024, "flags": [], "pref": "medium"}])


class ScriptedIp(Source):
    """A Source whose ip gives ``reads`` (lists of output lines, one list per read of its
    output), then ends with ``error`` (a failed exit) or none; the batch asked is kept, and
    each read handed out is counted."""

    def __init__(self, reads, error=None):
        super().__init__("/")
        self.reads, self.error = reads, error
        self.batches, self.handed = [], 0

    def kind(self, path):
        return "file" if path == links.IP_COMMANDS[0] else None

    def stream(self, argv, stdin, statuses=(0,)):
        assert argv == [links.IP_COMMANDS[0], "-j", "-force", "-batch", "-"]
        self.batches.append(stdin)

        def reads():
            for read in self.reads:
                self.handed += 1
                yield read
            if self.error:
                raise PluginError(self.error)
        return reads()


VIPS = [ip("2001:db8:6::{:x}".format(n)) for n in range(1, 9)]


def test_each_answer_is_read_only_when_asked_and_silence_before_an_answer_is_no_route():
    """ip answers in the order asked and prints nothing for a failed lookup: an answer for a
    later address proves the earlier unanswered ones have no route."""
    source = ScriptedIp([[answer("2001:db8:6::1"), answer("2001:db8:6::2")],
                         [answer("2001:db8:6::5", "eth1")],  # ::3 and ::4 have no route
                         [answer("2001:db8:6::6"), "not JSON", answer("2001:db8:6::7")]])
    lookups = links.RouteLookups(source, VIPS + VIPS[:2])
    assert source.batches == ["".join("route get {}\n".format(v) for v in VIPS)]
    assert source.handed == 0
    assert lookups.interface(VIPS[0]) == "eth0" and source.handed == 1
    assert [lookups.interface(v) for v in VIPS[1:5]] == ["eth0", None, None, "eth1"]
    assert source.handed == 2
    assert [lookups.interface(v) for v in VIPS[5:]] == ["eth0", "eth0", None]  # ::8: ip ended


def test_a_failed_ip_leaves_the_rest_without_a_route_and_a_long_output_is_read_whole():
    source = ScriptedIp([[answer("2001:db8:6::1")]], error="ip -j -force -batch - failed "
                                                           "(exit 255): Killed")
    lookups = links.RouteLookups(source, VIPS[:3])
    assert [lookups.interface(v) for v in VIPS[:3]] == ["eth0", None, None]
    # 50,000 answers (the most one run probes), 6 MB: no limit on the whole output
    many = [ip("2001:db8:6::{:x}".format(n)) for n in range(1, 50001)]
    lines = [answer(str(v)) for v in many]
    source = ScriptedIp([lines[n:n + 7] for n in range(0, len(lines), 7)])
    assert sum(map(len, lines)) > 6 * 10 ** 6
    lookups = links.RouteLookups(source, many)
    assert lookups.interface(many[-1]) == "eth0"
    assert {lookups.interface(v) for v in many} == {"eth0"}


def test_an_answer_in_another_form_of_the_address_is_its_answer():
    source = ScriptedIp([[answer("2001:0db8:0006:0000:0000:0000:0000:0002", "eth1")]])
    lookups = links.RouteLookups(source, VIPS[:2])
    assert [lookups.interface(v) for v in VIPS[:2]] == [None, "eth1"]


def test_no_address_starts_no_ip():
    source = ScriptedIp([])
    assert links.route_interfaces(source, []) == {}
    assert source.batches == []


def routed(answers, chosen_by_routes):
    lookups = links.RouteLookups(ScriptedIp([answers]), VIPS[:3])
    proof = segment.Routed(ScriptedIp([]), "eth0", {str(v): v for v in VIPS[:3]}, lookups,
                           chosen_by_routes)
    proof._lowers.update({"eth0.7": "eth0", "eth1": "eth1"})  # what /sys would say
    return proof


@pytest.mark.parametrize("answers, chosen_by_routes, message", [
    ([answer("2001:db8:6::1"), answer("2001:db8:6::2"), answer("2001:db8:6::3")], True, None),
    ([answer("2001:db8:6::1"), answer("2001:db8:6::3")], True,
     "2001:db8:6::2 not on the segment of eth0 (held there, in its subnets, or routed through "
     "it): probes go out only where the VIPs live; name that interface with -i"),
    ([answer("2001:db8:6::1"), answer("2001:db8:6::2", "eth1")], True,
     "cannot tell which interface to probe (eth0, eth1): name it with -i"),
    ([answer("2001:db8:6::1"), answer("2001:db8:6::2", "eth1")], False,
     "2001:db8:6::2 not on the segment of eth0"),
    ([answer("2001:db8:6::1"), answer("2001:db8:6::2", "eth0.7")], True,  # its lower is eth0
     "2001:db8:6::2 not on the segment of eth0"),
])
def test_a_routed_vip_is_proven_on_the_segment_when_asked(answers, chosen_by_routes, message):
    """Through the interface itself, else not on the segment; through another one when the
    interface was chosen by the routes: no telling which to probe. A target that is not a
    routed VIP (a witness, a VIP held here) needs no proof."""
    proof = routed(answers, chosen_by_routes)
    proof.prove(["2001:db8:6::1", "2001:db8:5::11"])
    if message is None:
        proof.prove([str(v) for v in VIPS[:3]])
        return
    with pytest.raises(PluginError) as raised:
        proof.prove(["2001:db8:6::2"])
    assert str(raised.value).startswith(message)


def test_a_stream_gives_a_commands_lines_and_names_its_failure(tmp_path):
    """Source.stream against real commands: every line of a 3 MB stdin given back by cat,
    in order, the last one without its newline too; a failed exit raised at the end."""
    lines = ["line {}".format(n) for n in range(300000)]
    given = [line for read in Source("/").stream(["/bin/cat"], "\n".join(lines))
             for line in read]
    assert given == lines
    reads = Source("/").stream(["/bin/false"], "")
    with pytest.raises(PluginError, match=r"^/bin/false failed \(exit 1\)"):
        list(reads)
    with pytest.raises(PluginError, match="cannot run /nonexistent"):
        Source("/").stream(["/nonexistent"], "")
    with pytest.raises(PluginError, match="a line of its output is larger than 4 MiB"):
        list(Source("/").stream(["/bin/cat"], "x" * (MAX_FILE_BYTES + 1)))


def test_a_command_that_does_not_end_is_named_streamed_or_not(monkeypatch):
    """The same bound on a command's time whether its output is read whole (run) or as it
    comes (stream): past it, the command is stopped and named, never waited on for ever."""
    monkeypatch.setattr(local, "COMMAND_TIMEOUT", 0.3)
    for read in (lambda: Source("/").run(["/bin/sleep", "5"]),
                 lambda: list(Source("/").stream(["/bin/sleep", "5"], ""))):
        started = time.monotonic()
        with pytest.raises(PluginError, match=r"^/bin/sleep 5 did not end within 0.3 s"):
            read()
        assert time.monotonic() - started < 2
