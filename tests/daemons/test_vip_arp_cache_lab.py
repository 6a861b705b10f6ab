"""check_vip_arp_cache against a real router table: the lab's client namespace is the router,
its kernel's neighbour table is served by the real snmpd (net-snmp, IP-MIB) and read over
SSH from its own sshd. The check runs on the director, as a monitoring host on the segment
would. Every verdict is held against what the router's kernel holds (ip neigh there)."""

import os
import time

import lab as lab_module
import pytest
import snmplab
import sshlab
from conftest import Outcome, run_in, unavailable

VIP = lab_module.VIP
VIP6 = "2001:db8::100"
PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}
EXPOSE = {"all.arp_ignore": 0, "all.arp_announce": 0}
NEVER_ANSWER = {"all.arp_ignore": 8}
VRRP_MAC = "00:00:5e:00:01:33"  # VRID 51
DEBIAN_PYTHON = "/usr/bin/python3"
SOURCE_PLUGIN = os.path.join(lab_module.REPO, "plugins", "check_vip_arp_cache")
PING = "/usr/bin/ping"


@pytest.fixture(scope="module")
def router(lab, tmp_path_factory):
    """The client namespace as the router: IPv6 on, snmpd on its lab addresses and loopback,
    the IPVS table of the director saved as the monitoring host would have it."""
    reason = snmplab.unavailable_reason()
    if reason:
        unavailable(reason)
    home = str(tmp_path_factory.mktemp("snmp"))
    for index, host in ((1, lab.director), (200, lab.client)):
        host.enable_ipv6("2001:db8::{:x}/64".format(index))
    agent = snmplab.SnmpAgent(lab.client, home, [
        "udp:{}:161".format(lab.client.ip), "udp:127.0.0.1:161", "udp6:[2001:db8::c8]:161"])
    agent.ipvs = os.path.join(home, "ipvsadm-Ln")
    with open(agent.ipvs, "w") as handle:
        handle.write(lab_module.ipvsadm_text(VIP, [rs.ip for rs in lab.realservers]))
    agent.start()
    yield agent
    agent.stop()


# net-snmp's ipNetToMediaTable is read from the kernel at most once a second (measured: a
# relearned entry showed its old MAC 0.0 s after, its new one 0.7 s after): the agent's view
# settles this long after a change.
AGENT_SETTLES = 1.1


def router_learns(lab, *addresses):
    """The router's table as traffic leaves it: flushed, then one ping to each address."""
    lab.client.run(["/usr/sbin/ip", "neigh", "flush", "all"], check=True)
    for address in addresses:
        lab.client.run([PING, "-c", "1", "-W", "1", address])
    time.sleep(AGENT_SETTLES)


def router_mac_of(lab, address):
    """What the router's kernel itself holds for ``address`` (the oracle)."""
    fields = lab.client.run(["/usr/sbin/ip", "neigh", "show", address], check=True).stdout.split()
    return fields[fields.index("lladdr") + 1] if "lladdr" in fields else None


@pytest.fixture
def clean(lab, router):
    """Both real servers protected, the VIP on the director alone, and the router's table
    learned afresh: the VIP at the director's MAC."""
    for host in lab.realservers:
        host.sysctl(PROTECT)
    lab.director.sysctl(EXPOSE)
    router_learns(lab, VIP, *[rs.ip for rs in lab.realservers])
    assert router_mac_of(lab, VIP) == lab.director.mac
    return lab


def cache(host, *args, python=None):
    """check_vip_arp_cache run in ``host``'s namespace: the installed one, or with ``python``
    from the source tree (Debian's python3 and its packages, pysnmp 4.4)."""
    if python is None:
        return run_in(host, "check_vip_arp_cache", *args)
    return Outcome(host.run([python, SOURCE_PLUGIN] + list(args)))


def snmp(lab, router, *credentials):
    return ["-H", lab.client.ip] + list(credentials or ["--snmp-community-file",
                                                        router.community_file])


def without_duration(outcome):
    perf = outcome.perf()
    assert perf.pop("duration").endswith("s;;;0")
    return perf


@pytest.mark.parametrize("python", [None, DEBIAN_PYTHON], ids=["pysnmp7", "debian-pysnmp4"])
@pytest.mark.parametrize("version", ["v2c", "v3", "v3-sha256-aes256", "v3-authnopriv"])
def test_a_clean_table_is_ok(clean, router, python, version):
    credentials = {"v2c": ["--snmp-community-file", router.community_file],
                   "v3": ["--snmp-v3-file", router.v3_file],
                   "v3-sha256-aes256": ["--snmp-v3-file", router.v3_strong_file],
                   "v3-authnopriv": ["--snmp-v3-file", router.v3_auth_only_file]}[version]
    outcome = cache(clean.director, *snmp(clean, router, *credentials), "--vip", VIP,
                    "--expect-mac", clean.director.mac, "-v", python=python)
    using = {"v2c": "SNMP v2c", "v3": "SNMP v3 user {} (authPriv)".format(snmplab.V3_USER),
             "v3-sha256-aes256": "SNMP v3 user {} (authPriv)".format(snmplab.V3_STRONG_USER),
             "v3-authnopriv": "SNMP v3 user {} (authNoPriv)".format(
                 snmplab.V3_AUTH_ONLY_USER)}[version]
    assert outcome.code == 0, outcome
    assert outcome.status == (
        "VIP_ARP_CACHE OK - 1 VIP in the router's table, each at an allowed owner "
        "(ipNetToPhysicalTable of {}:161 (1 address on 2 interfaces read directly), {})".format(
            clean.client.ip, using))
    assert outcome.long == ["OK: VIP {} at {} on eth0 (ifIndex 2) [reachable]".format(
        VIP, clean.director.mac)]
    assert without_duration(outcome) == {"vips": "1;;;0", "entries": "1;;;0",
                                         "foreign_entries": "0;;0;0", "absent_vips": "0;;;0;1"}


def test_the_router_still_sending_a_vip_to_a_fixed_real_server_is_critical_while_the_probe_is_ok(
        lab, router):
    """The case the plugin exists for: a real server answered ARP for the VIP once, was
    fixed, and every host-side check is OK again, while the router still sends the VIP's
    traffic to that real server."""
    rs1 = lab.realservers[0]
    lab.director.sysctl(NEVER_ANSWER)  # only the exposed real server answers this once
    rs1.sysctl(EXPOSE)
    lab.realservers[1].sysctl(PROTECT)
    try:
        router_learns(lab, rs1.ip, lab.realservers[1].ip, VIP)
    finally:
        lab.director.sysctl(EXPOSE)
        rs1.sysctl(PROTECT)  # fixed
    assert router_mac_of(lab, VIP) == rs1.mac  # the router's kernel holds the stale owner

    probe = run_in(lab.director, "check_vip_arp_owner", "--vip", VIP, "--from-ipvs",
                   router.ipvs)
    assert probe.code == 0, probe
    assert probe.status.startswith("VIP_ARP_OWNER OK - 1 VIP probed on eth0: each owned by one "
                                   "allowed owner"), probe

    outcome = cache(lab.director, *snmp(lab, router), "--from-ipvs", router.ipvs,
                    "--expect-mac", lab.director.mac)
    assert outcome.code == 2, outcome
    assert outcome.status == (
        "VIP_ARP_CACHE CRITICAL - the router sends VIP {vip} to {mac} ({ip}, real server of TCP "
        "{vip}:80) on eth0 (ifIndex 2) [reachable], not an allowed owner (allowed: {director}) "
        "(1 of 1 VIP affected)".format(vip=VIP, mac=rs1.mac, ip=rs1.ip,
                                       director=lab.director.mac))
    assert without_duration(outcome) == {"vips": "1;;;0", "entries": "1;;;0",
                                         "foreign_entries": "1;;0;0", "absent_vips": "0;;;0;1"}
    assert router_mac_of(lab, VIP) == rs1.mac  # reading the table did not change it


def test_a_vrrp_virtual_mac_from_keepalived_is_an_allowed_owner(lab, router, tmp_path):
    """use_vmac: the director answers for the VIP with VRRP's virtual MAC (a macvlan, as
    keepalived makes it); --from-keepalived expects that MAC."""
    director = lab.director
    conf = tmp_path / "keepalived.conf"
    conf.write_text("vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n"
                    "  use_vmac\n  virtual_ipaddress {\n    %s/32\n  }\n}\n" % VIP)
    for host in lab.realservers:
        host.sysctl(PROTECT)
    director.iproute("addr", "del", VIP + "/32", "dev", director.iface)
    director.iproute("link", "add", "vrrp.51", "link", director.iface, "address", VRRP_MAC,
                     "type", "macvlan", "mode", "private")
    director.iproute("addr", "add", VIP + "/32", "dev", "vrrp.51")
    director.iproute("link", "set", "vrrp.51", "up")
    director.sysctl({"all.arp_ignore": 1})
    try:
        router_learns(lab, VIP)
        assert router_mac_of(lab, VIP) == VRRP_MAC
        outcome = cache(director, *snmp(lab, router), "--from-keepalived", str(conf), "-v")
    finally:
        director.iproute("link", "del", "vrrp.51")
        director.iproute("addr", "add", VIP + "/32", "dev", director.iface)
        director.sysctl(EXPOSE)
    assert outcome.code == 0, outcome
    assert outcome.long == ["OK: VIP {} at {} (VRRP virtual MAC, VRID 51) on eth0 (ifIndex 2) "
                            "[reachable]".format(VIP, VRRP_MAC)]


def test_a_vip_the_router_has_no_entry_for_is_counted_or_with_require_entry_a_warning(
        clean, router):
    router_learns(clean, clean.realservers[0].ip)
    args = snmp(clean, router) + ["--vip", VIP, "--expect-mac", clean.director.mac]
    outcome = cache(clean.director, *args)
    assert outcome.code == 0, outcome
    assert outcome.status.startswith("VIP_ARP_CACHE OK - 0 VIPs in the router's table, each at "
                                     "an allowed owner; 1 VIP not in it (nothing to judge)")
    assert outcome.perf()["absent_vips"] == "1;;;0;1"
    outcome = cache(clean.director, *args, "--require-entry")
    assert outcome.code == 1, outcome
    assert outcome.status == ("VIP_ARP_CACHE WARNING - VIP {} is not in the router's table "
                              "(nothing to judge) (1 of 1 VIP affected)".format(VIP))
    assert outcome.perf()["absent_vips"] == "1;0;;0;1"


def test_an_ipv6_vip_is_read_from_ipnettophysicaltable(clean, router):
    director = clean.director
    director.iproute("addr", "add", VIP6 + "/128", "dev", director.iface, "nodad")
    try:
        clean.client.run([PING, "-6", "-c", "1", "-W", "1", VIP6], check=True)
        assert router_mac_of(clean, VIP6) == director.mac
        ok = cache(director, *snmp(clean, router), "--vip", VIP6, "--expect-mac",
                   director.mac, "-v")
        foreign = cache(director, *snmp(clean, router), "--vip", VIP6, "--expect-mac",
                        clean.realservers[0].mac)
    finally:
        director.iproute("addr", "del", VIP6 + "/128", "dev", director.iface)
    assert ok.code == 0, ok
    assert ok.long == ["OK: VIP {} at {} on eth0 (ifIndex 2) [reachable]".format(VIP6, director.mac)]
    assert foreign.code == 2, foreign
    assert foreign.status.startswith("VIP_ARP_CACHE CRITICAL - the router sends VIP {} to {} "
                                     .format(VIP6, director.mac))


@pytest.mark.parametrize("python", [None, DEBIAN_PYTHON], ids=["pysnmp7", "debian-pysnmp4"])
@pytest.mark.parametrize("case", ["wrong community", "no agent", "wrong v3 key"])
def test_an_agent_that_does_not_answer_is_unknown_within_the_timeout(clean, router, tmp_path,
                                                                     case, python):
    if case == "wrong community":
        args = ["-H", clean.client.ip, "--snmp-community-file",
                snmplab.secret_file(str(tmp_path / "c"), "not-the-community\n")]
    elif case == "no agent":
        args = ["-H", clean.realservers[1].ip, "--snmp-community-file", router.community_file]
    else:
        args = ["-H", clean.client.ip, "--snmp-v3-file", snmplab.secret_file(
            str(tmp_path / "v3"), "user = {}\nauth_key = {}\npriv_key = wrong-priv-key\n".format(
                snmplab.V3_USER, snmplab.V3_AUTH_KEY))]
    started = time.monotonic()
    outcome = cache(clean.director, *args, "--vip", VIP, "--expect-mac", clean.director.mac,
                    "-t", "3", python=python)
    elapsed = time.monotonic() - started
    assert outcome.code == 3, outcome
    assert elapsed < 3.5, elapsed
    assert outcome.status.startswith("VIP_ARP_CACHE UNKNOWN - no answer from {}:161 within "
                                     .format(args[1])), outcome
    assert "a wrong community or v3 keys, an ACL or firewall, or no agent there" in outcome.status
    assert outcome.stderr == ""


def test_a_wrong_v3_auth_key_is_refused_by_name(clean, router, tmp_path):
    v3 = snmplab.secret_file(str(tmp_path / "v3"), "user = {}\nauth_key = wrong-auth-key\n"
                             "priv_key = {}\n".format(snmplab.V3_USER, snmplab.V3_PRIV_KEY))
    outcome = cache(clean.director, "-H", clean.client.ip, "--snmp-v3-file", v3, "--vip", VIP,
                    "--expect-mac", clean.director.mac)
    assert outcome.code == 3, outcome
    assert outcome.status == (
        "VIP_ARP_CACHE UNKNOWN - {}:161 refused SNMP v3 user {} (authPriv): Wrong SNMP PDU "
        "digest: check --snmp-v3-file against the agent's user".format(clean.client.ip,
                                                                      snmplab.V3_USER))


def test_the_ssh_source_reads_a_linux_routers_table(clean, router):
    reason = sshlab.unavailable_reason()
    if reason:
        unavailable(reason)
    with sshlab.LoginUser() as home:
        ssh = sshlab.SSHLab(clean, home, hosts=[clean.client]).start()
        try:
            args = ["-H", clean.client.ip, "--source", "ssh"] + ssh.options() + [
                "--vip", VIP, "--from-ipvs", router.ipvs]
            ok = cache(clean.director, *args, "--expect-mac", clean.director.mac, "-v")
            foreign = cache(clean.director, *args, "--expect-mac", clean.realservers[0].mac)
        finally:
            ssh.stop()
    assert ok.code == 0, ok
    assert ok.status.startswith("VIP_ARP_CACHE OK - 1 VIP in the router's table, each at an "
                                "allowed owner (ip neigh of {} over SSH)".format(clean.client.ip))
    # the whole table is read: the director's MAC is named by the director's own address
    assert ok.long == ["OK: VIP {} at {} ({}) on eth0 [reachable]".format(
        VIP, clean.director.mac, clean.director.ip)]
    assert foreign.code == 2, foreign
    assert foreign.status == (
        "VIP_ARP_CACHE CRITICAL - the router sends VIP {} to {} ({}) on eth0 [reachable], not an "
        "allowed owner (allowed: {}) (1 of 1 VIP affected)".format(
            VIP, clean.director.mac, clean.director.ip, clean.realservers[0].mac))


def test_a_table_larger_than_max_entries_is_not_judged(clean, router):
    """More interfaces x VIPs than the direct reads cover: one walk of the table, refused past
    its cap (never a verdict from part of it)."""
    from lvs_dr_checks.router.neighbours import MAX_TARGETED_ROWS

    hosts = {host.ip for host in clean.hosts}
    vips = [vip for vip in ("{}.{}".format(net, n) for net in ("192.0.2", "198.51.100",
                                                               "203.0.113")
                            for n in range(1, 255)) if vip not in hosts][:MAX_TARGETED_ROWS // 2 + 1]
    common = ["--vip", ",".join(vips), "--expect-mac", clean.director.mac]
    walked = cache(clean.director, *snmp(clean, router), *common, "-v")
    capped = cache(clean.director, *snmp(clean, router), *common, "--max-entries", "2")
    assert walked.code == 0, walked
    assert "(ipNetToPhysicalTable of {}:161 (walked: ".format(clean.client.ip) in walked.status
    assert walked.long[0] == "OK: VIP {} at {} ({}) on eth0 (ifIndex 2) [reachable]".format(
        VIP, clean.director.mac, clean.director.ip)  # a walk reads every row, so names more
    assert walked.perf()["entries"] == "1;;;0"
    assert capped.code == 3, capped
    assert capped.status == ("VIP_ARP_CACHE UNKNOWN - {}:161: ipNetToPhysicalTable has more than "
                             "2 rows: raise --max-entries (the table is read whole or not "
                             "judged)".format(clean.client.ip))


def test_on_the_router_itself_the_local_source_reads_its_kernel_table(clean, router):
    clean.client.run([PING, "-c", "1", "-W", "1", clean.director.ip], check=True)
    outcome = cache(clean.client, "--source", "local", "--vip", VIP, "--expect-mac",
                    clean.realservers[0].mac, "-v")
    assert outcome.code == 2, outcome
    assert outcome.status == (
        "VIP_ARP_CACHE CRITICAL - the router sends VIP {} to {} ({}) on eth0 [reachable], not an "
        "allowed owner (allowed: {}) (1 of 1 VIP affected)".format(
            VIP, clean.director.mac, clean.director.ip, clean.realservers[0].mac))


@pytest.mark.parametrize("python", [None, DEBIAN_PYTHON], ids=["pysnmp7", "debian-pysnmp4"])
def test_a_row_whose_mac_changed_in_place_is_read_as_the_router_holds_it(clean, router,
                                                                         python):
    """The router learned the VIP at the director; then a real server's gratuitous ARP
    moves the router's entry to the real server in place (no new row). net-snmp's
    ipNetToPhysicalTable keeps a row's first MAC (its ipNetToMediaTable has the new one):
    the verdict must follow the router's kernel, not the agent's stale column."""
    rs1 = clean.realservers[0]
    rs1.run(["/usr/bin/arping", "-U", "-c", "2", "-w", "2", "-I", rs1.iface, "-s", VIP, VIP])
    time.sleep(AGENT_SETTLES)
    assert router_mac_of(clean, VIP) == rs1.mac  # the router's kernel follows the claim
    outcome = cache(clean.director, *snmp(clean, router), "--from-ipvs", router.ipvs,
                    "--expect-mac", clean.director.mac, python=python)
    assert outcome.code == 2, outcome
    assert outcome.status.startswith(
        "VIP_ARP_CACHE CRITICAL - the router sends VIP {vip} to {mac} ({ip}, real server of "
        "TCP {vip}:80) on eth0 (ifIndex 2) [".format(vip=VIP, mac=rs1.mac, ip=rs1.ip)), outcome
