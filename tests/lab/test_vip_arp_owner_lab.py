"""check_vip_arp_owner in the lab: the director holds the VIP on its interface, as in production."""

import os
import subprocess
import time

import lab as lab_module
import pytest
from conftest import FIXTURES, TESTS, Outcome, run_in

VIP = lab_module.VIP
PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}
EXPOSE = {"all.arp_ignore": 0, "all.arp_announce": 0}

VIP6 = "2001:db8::100"


@pytest.fixture
def cluster(lab):
    """Both real servers protected, the VIP back on the director."""
    for host in lab.realservers:
        host.sysctl(PROTECT)
    lab.director.run(["/usr/sbin/ip", "addr", "replace", VIP + "/32", "dev", lab.director.iface],
                     check=True)
    for host in (lab.director, lab.client):  # no neighbour is a witness unless a test says so
        host.run(["/usr/sbin/ip", "neigh", "flush", "all"], check=True)
    return lab


def owner(host, *args, user=None):
    return run_in(host, "check_vip_arp_owner", *args, user=user)


def without_duration(outcome):
    perf = outcome.perf()
    assert perf.pop("duration").endswith("s;;;0")
    return perf


def test_clean_cluster_is_ok(cluster):
    outcome = owner(cluster.director, "--vip", VIP, "--witness", cluster.realservers[1].ip)
    assert outcome.code == 0, outcome
    assert outcome.status == ("VIP_ARP_OWNER OK - 1 VIP probed on eth0: each owned by one allowed "
                              "owner; 1 of 1 witness answered")
    assert without_duration(outcome) == {
        "vips": "1;;;0", "responders": "0;;;0", "foreign_responders": "0;;0;0",
        "split_brain": "0;;0;0;1", "silent_vips": "0;;0;0;1", "witnesses": "1;;;0",
        "witnesses_answered": "1;;;0;1", "probes": "4;;;0"}


def test_an_unprivileged_user_with_cap_net_raw_alone_probes(cluster):
    """The recommended grant (examples/systemd/*.service.d: AmbientCapabilities=CAP_NET_RAW):
    nobody, holding CAP_NET_RAW as an ambient capability and nothing else, gets the same
    verdict as root (test_clean_cluster_is_ok); without it, see the next test."""
    argv = [lab_module.plugin("check_vip_arp_owner"), "--vip", VIP, "--witness",
            cluster.realservers[1].ip]
    ambient = [lab_module.SETPRIV, "--reuid", lab_module.NOBODY, "--regid", lab_module.NOBODY,
               "--clear-groups", "--inh-caps", "+net_raw", "--ambient-caps", "+net_raw", "--"]
    outcome = Outcome(cluster.director.run(ambient + argv))
    assert outcome.code == 0, outcome
    assert outcome.status == ("VIP_ARP_OWNER OK - 1 VIP probed on eth0: each owned by one allowed "
                              "owner; 1 of 1 witness answered"), outcome


def test_silence_without_a_witness_is_never_a_plain_ok(cluster):
    outcome = owner(cluster.director, "--vip", VIP)
    assert (outcome.code, outcome.status) == (1, (
        "VIP_ARP_OWNER WARNING - nothing answered on eth0 and no witness was found to prove "
        "that the probe reached the segment: name one with --witness (the gateway, a real "
        "server)")), outcome


def test_real_server_with_arp_ignore_0_is_critical_and_named(cluster):
    cluster.realservers[0].sysctl(EXPOSE)
    outcome = owner(cluster.director, "--from-ipvs", os.path.join(FIXTURES, "ip_vs"), "-v")
    assert outcome.code == 2, outcome
    assert outcome.lines[:2] == [
        "VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by 02:00:5e:00:00:0b (192.0.2.11, "
        "real server of TCP 192.0.2.100:80) (1 of 1 VIP affected)",
        "CRITICAL: VIP 192.0.2.100 answered by 02:00:5e:00:00:0b (192.0.2.11, real server of "
        "TCP 192.0.2.100:80)"]
    perf = dict(item.split("=", 1) for item in outcome.lines[-1].lstrip("| ").split())
    assert perf["foreign_responders"] == "1;;0;0"
    assert perf["probes"] == "6;;;0"  # the VIP and both real servers (the witnesses), twice
    assert (perf["witnesses"], perf["witnesses_answered"]) == ("2;;;0", "2;;;0;2")


def test_ipvsadm_output_and_name_option(cluster):
    """The saved table has an IPv6 service too: the director holds that VIP as well."""
    director = cluster.director
    cluster.realservers[0].sysctl(EXPOSE)
    director.enable_ipv6()
    director.iproute("addr", "add", VIP6 + "/128", "dev", director.iface, "nodad")
    try:
        outcome = owner(director, "--from-ipvs", os.path.join(FIXTURES, "ipvsadm-Ln.txt"),
                        "--name", "02:00:5E:00:00:0B=web1")
    finally:
        director.iproute("addr", "del", VIP6 + "/128", "dev", director.iface)
    assert outcome.code == 2, outcome
    assert outcome.status == ("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by "
                              "02:00:5e:00:00:0b (web1) (1 of 2 VIPs affected)")


def test_allowing_a_mac_never_hides_a_second_owner(cluster):
    """The director holds the VIP: an allowed MAC answering too is a second owner."""
    rs1 = cluster.realservers[0]
    rs1.sysctl(EXPOSE)
    outcome = owner(cluster.director, "--vip", VIP, "--allow-mac", rs1.mac)
    assert outcome.code == 2, outcome
    assert outcome.status == ("VIP_ARP_OWNER CRITICAL - split brain: VIP 192.0.2.100 owned by "
                              "this host (02:00:5e:00:00:01) and 02:00:5e:00:00:0b (1 of 1 VIP "
                              "affected)")
    assert outcome.perf()["split_brain"] == "1;;0;0;1"


def test_an_owner_named_for_its_vip_alone(cluster):
    """--expect-mac VIP=MAC (the suite's [VIP=]MAC) against the kernel's answers: the named
    owner of that VIP is OK, a real server answering for it is still a hijack."""
    director, client = cluster.director, cluster.client
    expected = "{}={}".format(VIP, director.mac)
    clean = owner(client, "--vip", VIP, "--expect-mac", expected)
    assert (clean.code, clean.status) == (0, "VIP_ARP_OWNER OK - 1 VIP probed on eth0: each "
                                             "owned by one allowed owner; the probe was "
                                             "answered"), clean
    cluster.realservers[1].sysctl(EXPOSE)
    try:
        hijacked = owner(client, "--vip", VIP, "--allow-mac", expected)
    finally:
        cluster.realservers[1].sysctl(PROTECT)
    assert (hijacked.code, hijacked.status) == (2, "VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 "
                                                   "answered by 02:00:5e:00:00:0c (1 of 1 VIP "
                                                   "affected)"), hijacked


def test_from_the_client_with_expect_mac(cluster):
    director, client = cluster.director, cluster.client
    clean = owner(client, "--vip", VIP, "--expect-mac", director.mac)
    assert clean.code == 0, clean
    assert clean.status == ("VIP_ARP_OWNER OK - 1 VIP probed on eth0: each owned by one allowed "
                            "owner; the probe was answered")
    assert clean.perf()["silent_vips"] == "0;;0;0;1"

    cluster.realservers[1].sysctl(EXPOSE)
    hijacked = owner(client, "--vip", VIP, "--expect-mac", director.mac)
    assert hijacked.code == 2
    assert hijacked.status == ("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by "
                               "02:00:5e:00:00:0c (1 of 1 VIP affected)")
    cluster.realservers[1].sysctl(PROTECT)

    director.run(["/usr/sbin/ip", "addr", "del", VIP + "/32", "dev", director.iface], check=True)
    gone = owner(client, "--vip", VIP, "--expect-mac", director.mac)
    assert gone.code == 2
    assert gone.status == ("VIP_ARP_OWNER CRITICAL - nothing answers for VIP 192.0.2.100 (allowed: "
                           "02:00:5e:00:00:01) (1 of 1 VIP affected)")
    assert gone.perf()["silent_vips"] == "1;;0;0;1"


def test_many_vips_exactly_the_exposed_ones_reported(lab):
    """48 VIPs on a lab of their own; rs1 answers for the 5 it holds, rs2 is protected."""
    vips = ["192.0.2.{}".format(n) for n in range(100, 148)]
    exposed = vips[3:48:10]
    with lab_module.Lab(vips=vips) as many:
        rs1, rs2 = many.realservers
        rs2.sysctl(PROTECT)
        rs1.addresses("del", [vip for vip in vips if vip not in exposed], "lo")
        outcome = owner(many.director, "--vip", ",".join(vips), "-v")
    assert outcome.code == 2, outcome
    assert outcome.status == ("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.103 answered by "
                              "02:00:5e:00:00:0b (5 of 48 VIPs affected)")
    assert outcome.lines[1:6] == ["CRITICAL: VIP {} answered by 02:00:5e:00:00:0b".format(v)
                                  for v in exposed]
    perf = dict(item.split("=", 1) for item in outcome.lines[-1].lstrip("| ").split())
    assert perf["probes"] == "96;;;0" and perf["foreign_responders"] == "1;;0;0"


def test_listen_catches_arp_announce_leak(cluster):
    rs1 = cluster.realservers[0]
    rs1.sysctl({"all.arp_ignore": 1, "all.arp_announce": 0})
    check = subprocess.Popen(
        lab_module.Host.netns_argv(cluster.director.ns, [
            lab_module.plugin("check_vip_arp_owner"), "--vip", VIP, "--listen", "3"]),
        stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)  # the probe is under way; rs1 now talks from the VIP
    rs1.run(["/usr/sbin/ip", "neigh", "flush", "all"])
    rs1.run(["/usr/bin/ping", "-c", "1", "-W", "1", "-I", VIP, cluster.client.ip])
    output, _ = check.communicate(timeout=30)
    assert check.returncode == 2, output
    assert output.splitlines()[0].startswith(
        "VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by 02:00:5e:00:00:0b claiming it in "
        "its own ARP packets (1 of 1 VIP affected)")


def test_unprivileged_run_names_cap_net_raw(cluster):
    outcome = owner(cluster.director, "--vip", VIP, user=lab_module.NOBODY)
    assert (outcome.code, outcome.lines) == (3, [
        "VIP_ARP_OWNER UNKNOWN - sending ARP needs CAP_NET_RAW: give it to the monitoring "
        "daemon (/usr/share/doc/lvs-dr-checks/examples/systemd/), or use --sudo and the sudo "
        "rule (examples/sudoers.d/), or run it as root"])


@pytest.mark.parametrize("args, line", [
    (["--vip", "192.0.2.1000"], "--vip '192.0.2.1000' is not an IPv4 or IPv6 address"),
    (["--vip", VIP, "-i", "eth7"], "no interface eth7 here (present: eth0, lo, spare0, spare1)"),
    (["--vip", VIP, "-i", "spare0"], "interface spare0 is down (down): nothing can be probed; "
                                     "bring it up or name another with -i"),
    (["--vip", VIP, "-i", "lo"], "interface lo does not do ARP (loopback or NOARP): name the "
                                 "VIPs' segment with -i"),
    (["--vip", VIP, "--allow-mac", "02:00:5e:00:00"],
     "argument --allow-mac: not a MAC address (aa:bb:cc:dd:ee:ff): '02:00:5e:00:00' "
     "(see check_vip_arp_owner --help)"),
    (["--vip", "192.0.2.222"], "this host does not hold 192.0.2.222 and no owner is allowed for "
                               "it: run the check where the VIP lives, or name the owners with "
                               "--allow-mac / --expect-mac (or --from-keepalived with use_vmac)"),
    (["--vip", VIP, "--wait", "20"], "the probe window (20.3s for 1 target: --count, --interval, "
                                     "--wait, --listen) does not fit in -t 10s: raise -t"),
])
def test_bad_input_is_unknown(cluster, args, line):
    director = cluster.director
    if director.run(["/usr/sbin/ip", "link", "show", "spare0"]).returncode != 0:
        director.iproute("link", "add", "spare0", "type", "veth", "peer", "name", "spare1")
    outcome = owner(director, *args)
    assert (outcome.code, outcome.lines) == (3, ["VIP_ARP_OWNER UNKNOWN - " + line]), outcome



def test_ipv6_vip_on_lo_is_not_answered_on_the_interface_it_is(cluster):
    """Neighbor Solicitations are answered only for addresses on the receiving interface."""
    director, rs1 = cluster.director, cluster.realservers[0]
    for host in (director, rs1):
        host.enable_ipv6()
    director.iproute("addr", "add", VIP6 + "/128", "dev", director.iface, "nodad")
    rs1.iproute("addr", "add", VIP6 + "/128", "dev", "lo")
    try:
        rs1.sysctl(EXPOSE)  # arp_ignore has no IPv6 counterpart: it changes nothing here
        clean = owner(director, "--vip", VIP6, "--witness", cluster.realservers[1].ip)
        assert clean.code == 0, clean
        assert clean.status == ("VIP_ARP_OWNER OK - 1 VIP probed on eth0: each owned by one "
                                "allowed owner; 1 of 1 witness answered")
        rs1.iproute("addr", "add", VIP6 + "/128", "dev", rs1.iface, "nodad")
        hijacked = owner(director, "--vip", "{},{}".format(VIP, VIP6), "-v")
        assert hijacked.code == 2, hijacked
        assert hijacked.status.startswith("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by "
                                          "02:00:5e:00:00:0b")
        assert hijacked.status.endswith("(2 of 2 VIPs affected)")
        assert any(line.startswith("CRITICAL: VIP 2001:db8::100 answered by 02:00:5e:00:00:0b")
                   for line in hijacked.lines)
    finally:
        rs1.run(["/usr/sbin/ip", "addr", "del", VIP6 + "/128", "dev", rs1.iface])
        rs1.run(["/usr/sbin/ip", "addr", "del", VIP6 + "/128", "dev", "lo"])
        director.run(["/usr/sbin/ip", "addr", "del", VIP6 + "/128", "dev", director.iface])


ORACLE = os.path.join(TESTS, "arp_oracle.py")


def test_concurrent_probes_share_one_host_wide_rate(cluster):
    """Two runs at once, about 500 VIPs x 4 probes each: together they stay at 4,000 probes/s (the
    shared reservation under /run), where two independent runs would send twice that in each
    round's burst. Counted where the frames land: a listener on the client."""
    director = cluster.director
    director.run(["/usr/sbin/ip", "addr", "add", "198.51.100.1/24", "dev", director.iface],
                 check=True)
    vips = ["192.0.2.{}".format(n) for n in range(2, 252) if n not in (10, 11, 12, 100, 200)]
    vips += ["198.51.100.{}".format(n) for n in range(2, 255)]
    listener = subprocess.Popen(lab_module.Host.netns_argv(cluster.client.ns, [
        __import__("sys").executable, ORACLE, "probes", cluster.client.iface, "6"]),
        stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout.readline().strip() == "ready"
        argv = lab_module.Host.netns_argv(director.ns, [
            lab_module.plugin("check_vip_arp_owner"), "--vip", ",".join(vips), "--count", "4",
            "--expect-mac", director.mac, "--wait", "0.5"])
        runs = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
        results = [run.communicate(timeout=30)[0] for run in runs]
        output, _ = listener.communicate(timeout=30)
    finally:
        listener.kill()
        director.run(["/usr/sbin/ip", "addr", "del", "198.51.100.1/24", "dev", director.iface])
    times = [float(line) for line in output.split()]
    assert len(times) == 2 * 4 * len(vips), results
    window = 0.1
    busiest = max(sum(1 for t in times[i:i + 600] if t < start + window)
                  for i, start in enumerate(times))
    # 4,000/s is 400 in 0.1 s; a batch (16 at most) released at once, and a few frames of
    # timing, add a little. Independent runs would send about twice that.
    assert busiest <= 400 + 2 * 16 + 8, busiest
    assert times[-1] - times[0] >= len(times) / 4000 * 0.9


def test_twenty_thousand_vips_on_a_routed_prefix_within_the_timeout():
    """A client probing 20,000 VIPs of a prefix routed on its segment (not inside its own
    subnet): the routes are looked up in one `ip -batch`, not one `ip route get` each (55 s,
    ended by -t 30, before); the director answers for each (lab.routed_vips). Then 40,000
    probed once each, the last 20,000 answered by nobody: ip's answers (6 MB) are read as
    they come, where a whole output over 4 MiB was refused and every VIP read as unrouted
    (UNKNOWN, "no route to the VIPs"). Then one VIP among them routed elsewhere or
    unreachable stops the run, as before its probe: it is named, and no verdict given."""
    with lab_module.Lab(realservers=1, vips=()) as lab:
        vips, witness = lab_module.routed_vips(lab, 20000)
        client = lab.client
        client.iproute("link", "add", "spare0", "type", "veth", "peer", "name", "spare1")
        client.iproute("link", "set", "spare0", "up")
        client.iproute("-6", "route", "add", "2001:db8:7::/64", "dev", "spare0")
        client.iproute("-6", "route", "add", "unreachable", "2001:db8:8::/64")
        more = ["2001:db8:6::{:x}".format(n) for n in range(20001, 40001)]
        with lab_module.readable_tempdir("lvs-dr-20k-") as home:
            lab_module.write_config(home, {
                "ipvsadm": lab_module.ipvsadm_vips_text(vips),
                "ipvsadm-40k": lab_module.ipvsadm_vips_text(vips + more),
                "elsewhere": lab_module.ipvsadm_vips_text(vips[:1000] + ["2001:db8:7::1"]
                                                          + vips[1000:]),
                "unreachable": lab_module.ipvsadm_vips_text(vips[:1000] + ["2001:db8:8::1"]
                                                            + vips[1000:])})

            def probe(table, *args):
                return owner(client, "--from-ipvs", os.path.join(home, table), "--expect-mac",
                             lab.director.mac, "--witness", witness, "-t", "30", *args)
            outcome = probe("ipvsadm")
            once = probe("ipvsadm-40k", "--count", "1")
            stopped = [probe("elsewhere"), probe("elsewhere", "-i", "eth0"),
                       probe("unreachable")]
    assert outcome.code == 0, outcome
    assert outcome.status.startswith("VIP_ARP_OWNER OK - 20000 VIPs probed on eth0: each owned "
                                     "by one allowed owner"), outcome
    assert outcome.perf()["vips"] == "20000;;;0", outcome
    assert once.code == 2, once
    assert once.status.startswith("VIP_ARP_OWNER CRITICAL - nothing answers for VIP "
                                  "2001:db8:6::4e21"), once
    assert (once.perf()["silent_vips"], once.perf()["probes"]) == ("20000;;0;0;40000",
                                                                   "40001;;;0"), once
    away = ("not on the segment of eth0 (held there, in its subnets, or routed through it): "
            "probes go out only where the VIPs live; name that interface with -i")
    assert [(o.code, o.lines) for o in stopped] == [
        (3, ["VIP_ARP_OWNER UNKNOWN - cannot tell which interface to probe (eth0, spare0): "
             "name it with -i"]),
        (3, ["VIP_ARP_OWNER UNKNOWN - 2001:db8:7::1 " + away]),
        (3, ["VIP_ARP_OWNER UNKNOWN - 2001:db8:8::1 " + away])], stopped
