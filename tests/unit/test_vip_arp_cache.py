"""check_vip_arp_cache without root: the secret files, ``ip -j neigh`` as iproute2 writes it,
and the SNMP reads against an agent emulated in-process (GET and GETBULK semantics of
RFC 3416 over a table of IP-MIB rows), with the exact status lines, perfdata and exit codes.
The lab (test_vip_arp_cache_lab.py) holds the same verdicts against the real snmpd."""

import ipaddress
import os
import random

import nagiosplugin
import pytest

from lvs_dr_checks.checks import vip_arp_cache
from lvs_dr_checks.cli import PluginError
from lvs_dr_checks.host import links
from lvs_dr_checks.router import neighbours, snmp

ROUTER = "192.0.2.254"
DIRECTOR_MAC = "02:00:5e:00:00:01"
RS_MAC = "02:00:5e:00:00:0b"
PHYS, MEDIA = neighbours.IP_NET_TO_PHYSICAL, neighbours.IP_NET_TO_MEDIA


# --- the secret files -------------------------------------------------------------------------

def test_a_v3_file_gives_authpriv_credentials():
    creds = snmp.parse_v3(["user = monitor", "auth_protocol = sha256", "auth_key = 12345678",
                           "priv_protocol = AES", "priv_key = abcdefgh"], "F")
    assert creds == snmp.Credentials("3", None, "monitor", "SHA256", "12345678", "AES",
                                     "abcdefgh")
    assert creds.describe() == "SNMP v3 user monitor (authPriv)"


def test_a_v3_file_without_priv_lines_is_authnopriv_with_sha_by_default():
    creds = snmp.parse_v3(["user = monitor", "auth_key = 12345678"], "F")
    assert (creds.auth_protocol, creds.priv_protocol, creds.priv_key) == ("SHA", None, None)
    assert creds.describe() == "SNMP v3 user monitor (authNoPriv)"


@pytest.mark.parametrize("lines, cause", [
    (["auth_key = 12345678"], "F: no user = ... line"),
    (["user = m"], "F: no auth_key = ... line"),
    (["user = m", "auth_key = 12345678", "community = x"],
     "line 3 is not one of user, auth_protocol, auth_key, priv_protocol, priv_key = VALUE"),
    (["user m"], "line 1 is not one of"),
    (["user = m", "auth_key ="], "line 2 is not one of"),
    (["user = m", "auth_key = 12345678", "auth_protocol = SHA1"],
     "auth_protocol SHA1 is not one of MD5, SHA, SHA224, SHA256, SHA384, SHA512"),
    (["user = m", "auth_key = 12345678", "priv_protocol = 3DES", "priv_key = 12345678"],
     "priv_protocol 3DES is not one of DES, AES, AES192, AES256, AES192C, AES256C"),
    (["user = m", "auth_key = 12345678", "priv_protocol = AES"], "priv_protocol without priv_key"),
    (["user = m", "auth_key = short"], "auth_key is shorter than the 8 characters"),
])
def test_a_bad_v3_file_is_refused_by_name(lines, cause):
    with pytest.raises(PluginError) as refused:
        snmp.parse_v3(lines, "F")
    assert cause in str(refused.value)


def test_secret_files_readable_by_others_are_refused(tmp_path):
    path = tmp_path / "community"
    path.write_text("# the router's\n\npublic-ish\n")
    os.chmod(path, 0o600)
    assert snmp.read_community(str(path)).community == "public-ish"
    os.chmod(path, 0o640)
    with pytest.raises(PluginError) as refused:
        snmp.read_community(str(path))
    assert str(refused.value) == ("--snmp-community-file {}: readable by others (mode 640): "
                                  "chmod 600 it, as ssh demands of secrets".format(path))


# --- ip -j neigh ------------------------------------------------------------------------------

IP_NEIGH = """[{"dst":"192.0.2.100","dev":"eth0","lladdr":"02:00:5e:00:00:0B","state":["STALE"]},
{"dst":"192.0.2.11","dev":"eth0","lladdr":"02:00:5e:00:00:0b","state":["REACHABLE"]},
{"dst":"192.0.2.101","dev":"eth0","state":["FAILED"]},
{"dst":"192.0.2.102","dev":"eth1","lladdr":"02:00:5e:00:00:0c","state":["INCOMPLETE"]},
{"dst":"2001:db8::100","dev":"eth0","lladdr":"02:00:5e:00:00:01","router":null,
 "state":["PERMANENT"]}]"""


def test_ip_neigh_maps_only_what_the_kernel_would_use():
    entries = links.parse_ip_neigh(IP_NEIGH)
    assert entries == [
        links.Neighbour(ipaddress.ip_address("192.0.2.100"), "eth0", RS_MAC, "stale"),
        links.Neighbour(ipaddress.ip_address("192.0.2.11"), "eth0", RS_MAC, "reachable"),
        links.Neighbour(ipaddress.ip_address("192.0.2.101"), "eth0", None, "failed"),
        links.Neighbour(ipaddress.ip_address("192.0.2.102"), "eth1", None, "incomplete"),
        links.Neighbour(ipaddress.ip_address("2001:db8::100"), "eth0", DIRECTOR_MAC,
                         "permanent")]


@pytest.mark.parametrize("text, cause", [
    ("", "ip -j neigh: output is not JSON"),
    ("{}", "ip -j neigh: output is not a list of neighbours"),
    ('[{"dev":"eth0"}]', "an entry is not what iproute2 writes"),
    ('[{"dst":"x","dev":"eth0"}]', "an entry is not what iproute2 writes"),
    ('["192.0.2.100"]', "an entry is not what iproute2 writes"),
    ('[{"dst":"192.0.2.100"}]', "an entry is not what iproute2 writes"),
    ('[{"dst":"192.0.2.100","dev":"e","lladdr":"zz"}]', "192.0.2.100 has a link-layer address "
                                                        "that is not one: zz"),
])
def test_unreadable_ip_neigh_output_is_an_error_not_an_entry_less(text, cause):
    with pytest.raises(PluginError) as refused:
        links.parse_ip_neigh(text)
    assert cause in str(refused.value)


# --- an SNMP agent, emulated ------------------------------------------------------------------

class OctetString(bytes):
    pass


class Integer(int):
    pass


class ObjectIdentifier(tuple):
    pass


class NoSuchObject:
    pass


class NoSuchInstance:
    pass


class EndOfMibView:
    pass


class EmulatedAgent:
    """GET and GETBULK over sorted {oid: value}, answering as an agent does (RFC 3416):
    noSuchObject outside the tables served, noSuchInstance for a missing row, the next
    objects in order for GETBULK. Counts the requests; ``cap``: rows per GETBULK;
    ``too_big``: more varbinds than this in a request or an answer is errorStatus tooBig."""

    def __init__(self, objects, served, cap=None, too_big=None):
        self.objects = dict(sorted(objects.items()))
        self.order = list(self.objects)
        self.served = served
        self.cap = cap
        self.too_big = too_big
        self.requests = []

    def request(self, auth, address, ipv6, timeout, bulk_rows, oids):
        self.requests.append((bulk_rows, len(oids)))
        if self.too_big and max(bulk_rows, len(oids)) > self.too_big:
            return None, Integer(snmp.TOO_BIG), 0, []
        found = []
        for oid in oids:
            if bulk_rows:
                later = [o for o in self.order if o > tuple(oid)][:min(bulk_rows,
                                                                       self.cap or bulk_rows)]
                found += [(o, self.objects[o]) for o in later] or [(oid, EndOfMibView())]
            elif tuple(oid) in self.objects:
                found.append((tuple(oid), self.objects[tuple(oid)]))
            elif any(tuple(oid[:len(p)]) == p for p in self.served):
                found.append((tuple(oid), NoSuchInstance()))
            else:
                found.append((tuple(oid), NoSuchObject()))
        return None, 0, 0, found

    def close(self):
        pass


class FakeHlapi:
    @staticmethod
    def CommunityData(community, mpModel):  # noqa: N802, N803 - pysnmp's names
        return ("v2c", community)


def agent_objects(rows, table=PHYS, if_indexes=(1, 2)):
    """IP-MIB objects for rows (if_index, address, mac bytes, type, state) and IF-MIB ifIndex."""
    objects = {neighbours.IF_INDEX + (i,): Integer(i) for i in if_indexes}
    # what follows the ifIndex column in a walk: ifDescr and, last, ifSpecific (an OID)
    objects.update({(1, 3, 6, 1, 2, 1, 2, 2, 1, 2, i): OctetString(b"eth") for i in if_indexes})
    objects.update({(1, 3, 6, 1, 2, 1, 2, 2, 1, 22, i): ObjectIdentifier((0, 0))
                    for i in if_indexes})
    for if_index, address, mac, kind, state in rows:
        index = neighbours._row_index(table, ipaddress.ip_address(address), if_index)
        if table == PHYS:
            objects[PHYS + (neighbours.PHYSICAL_ADDRESS,) + index] = OctetString(mac)
            objects[PHYS + (neighbours.PHYSICAL_TYPE,) + index] = Integer(kind)
            objects[PHYS + (neighbours.PHYSICAL_STATE,) + index] = Integer(state)
        else:
            objects[MEDIA + (neighbours.MEDIA_ADDRESS,) + index] = OctetString(mac)
            objects[MEDIA + (neighbours.MEDIA_TYPE,) + index] = Integer(kind)
    return objects


@pytest.fixture
def emulate(monkeypatch):
    """Replace the SNMP library with an emulated agent: emulate(objects, served) -> agent."""
    def install(objects, served=(PHYS, MEDIA, neighbours.IF_INDEX), cap=None, too_big=None):
        agent = EmulatedAgent(objects, served, cap, too_big)
        monkeypatch.setattr(snmp, "_library", lambda: (lambda hlapi: agent, FakeHlapi))
        return agent
    return install


@pytest.fixture
def community(tmp_path):
    path = tmp_path / "community"
    path.write_text("lab\n")
    os.chmod(path, 0o600)
    return str(path)


def mac(text):
    return bytes(int(part, 16) for part in text.split(":"))


@pytest.fixture
def run(capsys, community):
    def check(*argv):
        nagiosplugin.Runtime.instance = None
        with pytest.raises(SystemExit) as ended:
            vip_arp_cache.main(["-H", ROUTER, "--snmp-community-file", community] + list(argv))
        lines = capsys.readouterr().out.splitlines()
        status, _, perfdata = lines[0].partition(" | ")
        long = [line for line in lines[1:] if not line.startswith("| ")]
        perfdata += " ".join(line[2:] for line in lines[1:] if line.startswith("| "))
        perf = dict(item.split("=", 1) for item in perfdata.split())
        assert perf.pop("duration", "0s;;;0").endswith("s;;;0")
        return ended.value.code, status, long, perf
    return check


ROWS = [(2, "192.0.2.100", mac(RS_MAC), 3, 2), (2, "192.0.2.11", mac(RS_MAC), 3, 1),
        (2, "192.0.2.1", mac(DIRECTOR_MAC), 3, 1), (2, "192.0.2.101", mac(DIRECTOR_MAC), 3, 1)]
IPVS = ("TCP  192.0.2.100:80 wlc\n  -> 192.0.2.11:80               Route   1      0          0\n")


def test_a_vip_at_a_real_servers_mac_is_critical_and_names_the_real_server(emulate, run,
                                                                           tmp_path):
    emulate(agent_objects(ROWS))
    saved = tmp_path / "ipvsadm"
    saved.write_text("IP Virtual Server version 1.2.1 (size=4096)\n" + IPVS)
    code, status, long, perf = run("--from-ipvs", str(saved), "--vip", "192.0.2.101",
                                   "--expect-mac", DIRECTOR_MAC, "-v")
    assert code == 2
    assert status == ("VIP_ARP_CACHE CRITICAL - the router sends VIP 192.0.2.100 to {} "
                      "(192.0.2.11, real server of TCP 192.0.2.100:80) on ifIndex 2 [stale], not "
                      "an allowed owner (allowed: {}) (1 of 2 VIPs affected)".format(
                          RS_MAC, DIRECTOR_MAC))
    assert long == ["CRITICAL: the router sends VIP 192.0.2.100 to {} (192.0.2.11, real server "
                    "of TCP 192.0.2.100:80) on ifIndex 2 [stale], not an allowed owner (allowed: "
                    "{})".format(RS_MAC, DIRECTOR_MAC),
                    "OK: VIP 192.0.2.101 at {} on ifIndex 2 [reachable]".format(DIRECTOR_MAC)]
    assert perf == {"vips": "2;;;0", "entries": "2;;;0", "foreign_entries": "1;;0;0",
                    "absent_vips": "0;;;0;2"}


def test_per_vip_expectations_and_the_vrrp_virtual_mac(emulate, run):
    vmac = "00:00:5e:00:01:33"
    objects = agent_objects([(2, "192.0.2.100", mac(vmac), 3, 1),
                             (3, "192.0.2.101", mac(RS_MAC), 3, 1)], if_indexes=(1, 2, 3))
    objects[neighbours.IF_NAME + (3,)] = OctetString(b"Vlan100")  # ifIndex 2 has no ifName
    emulate(objects, served=(PHYS, MEDIA, neighbours.IF_INDEX, neighbours.IF_NAME))
    code, status, long, _ = run("--vip", "192.0.2.100,192.0.2.101", "--expect-mac",
                                "192.0.2.100=" + vmac, "--expect-mac", "192.0.2.101=" + RS_MAC,
                                "--name", RS_MAC + "=director2", "-v")
    assert code == 0
    assert status == ("VIP_ARP_CACHE OK - 2 VIPs in the router's table, each at an allowed owner "
                      "(ipNetToPhysicalTable of 192.0.2.254:161 (2 addresses on 3 interfaces "
                      "read directly), SNMP v2c)")
    assert long == ["OK: VIP 192.0.2.100 at {} (VRRP virtual MAC, VRID 51) on ifIndex 2 "
                    "[reachable]".format(vmac),
                    "OK: VIP 192.0.2.101 at {} (director2) on Vlan100 (ifIndex 3) [reachable]"
                    .format(RS_MAC)]


def test_an_absent_vip_is_counted_or_a_warning_and_unresolved_entries_map_nothing(emulate, run):
    emulate(agent_objects([(2, "192.0.2.100", b"", 3, 7),  # incomplete: resolving
                           (2, "192.0.2.101", mac(RS_MAC), 2, 1)]))  # invalid type: not there
    args = ["--vip", "192.0.2.100,192.0.2.101", "--expect-mac", DIRECTOR_MAC]
    code, status, _, perf = run(*args)
    assert (code, perf["absent_vips"]) == (0, "2;;;0;2")
    assert status.startswith("VIP_ARP_CACHE OK - 0 VIPs in the router's table, each at an allowed "
                             "owner; 2 VIPs not in it (nothing to judge) (")
    code, status, _, perf = run(*args, "--require-entry")
    assert (code, perf["absent_vips"]) == (1, "2;0;;0;2")
    assert status == ("VIP_ARP_CACHE WARNING - VIP 192.0.2.100 is not in the router's table "
                      "(nothing to judge) (2 of 2 VIPs affected)")


def test_an_agent_with_only_ipnettomediatable_serves_ipv4_and_refuses_ipv6(emulate, run):
    emulate(agent_objects([(2, "192.0.2.100", mac(RS_MAC), 3, 0)], table=MEDIA),
            served=(MEDIA, neighbours.IF_INDEX))
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC)
    assert code == 2
    assert status.startswith("VIP_ARP_CACHE CRITICAL - the router sends VIP 192.0.2.100 to {} on "
                             "ifIndex 2 [unknown], not an allowed owner".format(RS_MAC))
    code, status, _, _ = run("--vip", "2001:db8::100", "--expect-mac", DIRECTOR_MAC)
    assert code == 3
    assert status == ("VIP_ARP_CACHE UNKNOWN - 192.0.2.254:161 serves only ipNetToMediaTable "
                      "(IPv4): its IPv6 neighbours cannot be read; allow ipNetToPhysicalTable "
                      "(.1.3.6.1.2.1.4.35) in its view, or use --source ssh")


def test_an_agent_serving_neither_table_is_unknown_with_the_fix(emulate, run):
    emulate(agent_objects([]), served=(neighbours.IF_INDEX,))
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC)
    assert code == 3
    assert status == ("VIP_ARP_CACHE UNKNOWN - 192.0.2.254:161 serves neither "
                      "ipNetToPhysicalTable nor ipNetToMediaTable (IP-MIB): allow .1.3.6.1.2.1.4 "
                      "in the agent's view (net-snmp: 'view ... included .1.3.6.1.2.1.4')")


def test_a_walk_past_max_entries_is_refused_and_a_backward_walk_is_not_trusted(emulate, run,
                                                                                monkeypatch):
    monkeypatch.setattr(neighbours, "MAX_TARGETED_ROWS", 0)  # always one walk
    rows = [(2, "198.51.100.{}".format(n), mac(RS_MAC), 3, 1) for n in range(1, 120)]
    emulate(agent_objects(rows))
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC,
                             "--max-entries", "100")
    assert (code, status) == (3, "VIP_ARP_CACHE UNKNOWN - 192.0.2.254:161: ipNetToPhysicalTable "
                                 "has more than 100 rows: raise --max-entries (the table is read "
                                 "whole or not judged)")
    agent = emulate(agent_objects(rows))
    real_request = agent.request
    agent.request = lambda *a: (lambda r: (r[0], r[1], r[2], list(reversed(r[3]))))(
        real_request(*a))
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC)
    assert code == 3 and "the agent walked ifTable backwards" in status, status


def test_a_router_with_more_interfaces_than_direct_reads_ask_for_is_walked(emulate, run,
                                                                            monkeypatch):
    monkeypatch.setattr(neighbours, "MAX_INTERFACES", 1)
    emulate(agent_objects([(2, "192.0.2.100", mac(DIRECTOR_MAC), 3, 1)]))
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC)
    assert code == 0
    assert status.endswith("(ipNetToPhysicalTable of 192.0.2.254:161 (walked: 1 row), SNMP v2c)")


def test_an_agent_that_answers_toobig_is_asked_for_less_down_to_one(emulate, run):
    agent = emulate(agent_objects([(2, "192.0.2.100", mac(DIRECTOR_MAC), 3, 1)]), too_big=1)
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC)
    assert status.startswith("VIP_ARP_CACHE OK - 1 VIP in the router's table"), status
    assert any(max(rows, count) > 1 for rows, count in agent.requests)  # more was asked first
    agent = emulate(agent_objects([]), too_big=0.5)  # not even one varbind fits
    code, status, _, _ = run("--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC)
    assert (code, status) == (3, "VIP_ARP_CACHE UNKNOWN - 192.0.2.254:161: the agent answered 1 "
                                 "(for 1.3.6.1.2.1.4.35.1.4.0.1.4.0.0.0.0): check its "
                                 "configuration")


@pytest.mark.parametrize("argv, cause", [
    (["--vip", "192.0.2.100"], "no owner expected for 192.0.2.100: name it with --expect-mac"),
    (["--vip", "192.0.2.100", "--expect-mac", "192.0.2.9=" + DIRECTOR_MAC],
     "--expect-mac 192.0.2.9=...: not one of the VIPs checked"),
    (["--vip", "192.0.2.100", "--expect-mac", "0.0.0.0=" + DIRECTOR_MAC],
     "argument --expect-mac: VIP 0.0.0.0: the unspecified address cannot be a VIP"),
    (["--vip", "192.0.2.100", "--expect-mac", DIRECTOR_MAC, "--max-entries", "0"],
     "--max-entries 0 must be at least 1"),
])
def test_bad_expectations_are_unknown(run, argv, cause):
    code, status, _, _ = run(*argv)
    assert code == 3 and cause in status, status


# --- differential: direct reads and a walk find the same entries -------------------------------

def random_table(rng):
    """Rows over a few interfaces and addresses of both families, every type and state."""
    if_indexes = sorted(rng.sample(range(1, 40), rng.randint(1, 4)))
    addresses = ["192.0.2.{}".format(n) for n in range(1, 12)] + [
        "2001:db8::{:x}".format(n) for n in range(1, 6)]
    rows = []
    for if_index in if_indexes:
        for address in rng.sample(addresses, rng.randint(0, len(addresses))):
            octets = bytes(rng.choice([0x02, 0x00]) for _ in range(6)) if rng.random() > 0.1 \
                else b""
            rows.append((if_index, address, octets, rng.choice([1, 2, 3, 4, 5]),
                         rng.randint(1, 7)))
    vips = [ipaddress.ip_address(a) for a in rng.sample(addresses, rng.randint(1, 5))]
    return rows, vips, if_indexes


def expected_entries(rows, vips):
    """The model: an entry per row of a VIP that is not invalid, mapping to its MAC unless
    incomplete or invalid."""
    found = set()
    for if_index, address, octets, kind, state in rows:
        address = ipaddress.ip_address(address)
        if address in vips and kind != 2:
            name = neighbours.PHYSICAL_STATES[state]
            found.add((address, "ifIndex {}".format(if_index),
                       neighbours._mac(octets) if name not in ("incomplete", "invalid") else None,
                       name))
    return found


@pytest.mark.parametrize("seed", range(150))
def test_direct_reads_and_a_walk_agree_with_the_model(seed, monkeypatch):
    rng = random.Random(seed)
    rows, vips, if_indexes = random_table(rng)
    results = {}
    for method, cap in (("direct", 10 ** 6), ("walk", 0)):
        monkeypatch.setattr(neighbours, "MAX_TARGETED_ROWS", cap)
        objects = agent_objects(rows, if_indexes=if_indexes)
        emulated = EmulatedAgent(objects, (PHYS, MEDIA, neighbours.IF_INDEX),
                                 cap=rng.randint(1, 50), too_big=rng.choice([None, 1, 3, 10]))
        monkeypatch.setattr(snmp, "_library",
                            lambda emulated=emulated: (lambda hlapi: emulated, FakeHlapi))
        agent = snmp.Agent(ROUTER, 161, snmp.Credentials("2c", "lab", *[None] * 5),
                           deadline=float("inf"))
        entries = neighbours.SnmpNeighbours(agent, 10 ** 6).read(vips)
        results[method] = {tuple(e) for e in entries if e.address in vips}
    expected = expected_entries(rows, vips)
    assert results["direct"] == expected and results["walk"] == expected, (
        "seed {}: VIPs {} rows {}".format(seed, [str(v) for v in vips],
                                          [r for r in rows if ipaddress.ip_address(r[1]) in vips]))
