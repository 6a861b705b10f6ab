"""check_arp_sysctl against the real kernel: each verdict next to what the kernel does."""

import lab as lab_module
import pytest
from conftest import kernel_announces, kernel_answers, run_in, unavailable, write_tree

# (case, sysctls on rs1, exit code, start of the status line, does rs1 answer for the VIP)
CASES = [
    ("defaults", {}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_ignore 0 (all=0, eth0=0): answers ARP for every local "
     "address, VIPs on lo included; set net.ipv4.conf.all.arp_ignore = 1 (nftables arp rules "
     "unreadable: run as root or use the shipped sudo rule for nft) (+3 more problems)", True),
    ("all and lo set", {"all.arp_ignore": 1, "lo.arp_ignore": 1, "all.arp_announce": 2,
                        "lo.arp_announce": 2}, 0,
     "ARP_SYSCTL OK - 1 ARP-facing interface (eth0): VIPs on lo are not answered nor "
     "announced; boot configuration not checked", False),
    ("only lo set", {"lo.arp_ignore": 1, "lo.arp_announce": 2}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_ignore 0 (all=0, eth0=0): answers ARP for every local "
     "address, VIPs on lo included; set net.ipv4.conf.all.arp_ignore = 1", True),
    ("only the ARP interface set", {"eth0.arp_ignore": 1, "eth0.arp_announce": 2}, 1,
     "ARP_SYSCTL WARNING - interfaces created later (VLANs, bonds, containers) get arp_ignore 0 "
     "(all=0, default=0): answers ARP for every local address, VIPs on lo included; "
     "set net.ipv4.conf.all.arp_ignore = 1 (+1 more problem)", False),
    ("arp_ignore 2", {"all.arp_ignore": 2, "all.arp_announce": 2}, 0,
     "ARP_SYSCTL OK - 1 ARP-facing interface (eth0)", False),
    ("arp_ignore 3", {"all.arp_ignore": 3, "all.arp_announce": 2}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_ignore 3 (all=3, eth0=0): answers for every address but "
     "scope host ones (a VIP on lo is scope global); set net.ipv4.conf.all.arp_ignore = 1",
     True),
    ("reserved arp_ignore 5", {"all.arp_ignore": 5, "all.arp_announce": 2}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_ignore 5 (all=5, eth0=0): reserved value: the kernel "
     "answers ARP as with 0, VIPs on lo included; set net.ipv4.conf.all.arp_ignore = 1", True),
    ("arp_ignore 8", {"all.arp_ignore": 8, "all.arp_announce": 2}, 1,
     "ARP_SYSCTL WARNING - eth0 arp_ignore 8 (all=8, eth0=0): answers no ARP at all on this "
     "interface; set net.ipv4.conf.all.arp_ignore = 1", False),
    ("arp_ignore on eth0 above all", {"all.arp_ignore": 1, "eth0.arp_ignore": 3,
                                      "all.arp_announce": 2}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_ignore 3 (all=1, eth0=3): answers for every address but "
     "scope host ones (a VIP on lo is scope global); set net.ipv4.conf.eth0.arp_ignore = 1",
     True),
    ("arp_announce 1", {"all.arp_ignore": 1, "all.arp_announce": 1}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_announce 1 (all=1, eth0=0): may use the VIP as sender "
     "when it is in the target's subnet; set net.ipv4.conf.all.arp_announce = 2", False),
    ("arp_announce out of range", {"all.arp_ignore": 1, "all.arp_announce": 2,
                                   "eth0.arp_announce": 3}, 2,
     "ARP_SYSCTL CRITICAL - eth0 arp_announce 3 (all=2, eth0=3): above 2 acts as 0: may use the "
     "VIP as sender of our own ARP requests; set net.ipv4.conf.eth0.arp_announce = 2", False),
    ("proxy_arp", {"all.arp_ignore": 1, "all.arp_announce": 2, "eth0.proxy_arp": 1}, 1,
     "ARP_SYSCTL WARNING - eth0 proxy_arp 1 (all=0, eth0=1): answers ARP for addresses routed "
     "through other interfaces; set net.ipv4.conf.eth0.proxy_arp = 0", False),
]


@pytest.fixture
def rs1(lab):
    host = lab.realservers[0]
    host.reset_sysctls()
    return host


@pytest.mark.parametrize("case, values, code, status, answers", CASES, ids=[c[0] for c in CASES])
def test_verdict_agrees_with_the_kernel(lab, rs1, case, values, code, status, answers):
    rs1.sysctl(values)
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.code == code, outcome
    assert outcome.status.startswith(status), outcome
    assert (rs1.mac in kernel_answers(lab)) is answers
    # The director answers for its own VIP in every case.
    assert lab.director.mac not in kernel_answers(lab)  # its own request is never answered


def test_defaults_exact_output(lab, rs1):
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.code == 2
    assert outcome.lines == [
        "ARP_SYSCTL CRITICAL - eth0 arp_ignore 0 (all=0, eth0=0): answers ARP for every local "
        "address, VIPs on lo included; set net.ipv4.conf.all.arp_ignore = 1 (nftables arp rules "
        "unreadable: run as root or use the shipped sudo rule for nft) (+3 more problems) "
        "| eth0_arp_announce=0;;2:2;0 eth0_arp_ignore=0;;1:2;0;8 eth0_proxy_arp=0;0;;0;1 "
        "exposed_interfaces=1;;0;0;1"]


def test_fixed_exact_verbose_output(lab, rs1):
    rs1.sysctl({"all.arp_ignore": 1, "all.arp_announce": 2})
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", "-v", user=lab_module.NOBODY)
    assert outcome.code == 0
    assert outcome.lines == [
        "ARP_SYSCTL OK - 1 ARP-facing interface (eth0): VIPs on lo are not answered nor "
        "announced; boot configuration not checked",
        "OK: eth0 arp_ignore 1 (all=1, eth0=0): answers only for addresses on the receiving "
        "interface",
        "OK: eth0 arp_announce 2 (all=2, eth0=0): uses only the interface's own address as sender",
        "OK: eth0 proxy_arp 0 (all=0, eth0=0): off",
        "OK: interfaces created later (VLANs, bonds, containers) get arp_ignore 1 (all=1, "
        "default=0): answers only for addresses on the receiving interface",
        "OK: interfaces created later (VLANs, bonds, containers) get arp_announce 2 (all=2, "
        "default=0): uses only the interface's own address as sender",
        "| eth0_arp_announce=2;;2:2;0 eth0_arp_ignore=1;;1:2;0;8 eth0_proxy_arp=0;0;;0;1 "
        "exposed_interfaces=0;;0;0;1"]


@pytest.mark.parametrize("announce, leaks", [(0, True), (1, True), (3, True), (2, False)])
def test_arp_announce_verdict_agrees_with_the_kernel(lab, rs1, announce, leaks):
    """The VIP is in rs1's subnet, so 1 is not enough; 3 acts as 0; only 2 keeps it quiet."""
    rs1.sysctl({"all.arp_ignore": 1, "eth0.arp_announce": announce})
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.code == (2 if leaks else 1), outcome  # 1: default/all still 0 for new ifaces
    assert ("eth0 arp_announce {}".format(announce) in outcome.status) is leaks
    assert (lab_module.VIP in kernel_announces(lab, rs1)) is leaks


def test_named_interface_and_unknown_interface(lab, rs1):
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", "-i", "eth0")
    assert outcome.code == 2
    unknown = run_in(rs1, "check_arp_sysctl", "--no-persistence", "-i", "eth9")
    assert unknown.code == 3
    assert unknown.lines == ["ARP_SYSCTL UNKNOWN - no interface eth9 here (present: eth0, lo)"]


@pytest.fixture(scope="module")
def other_lab():
    reason = lab_module.lab_unavailable_reason()
    if reason:
        unavailable(reason)
    with lab_module.Lab(realservers=1, iface="enp3s0f1") as running:
        yield running


def test_interface_not_named_eth0(other_lab):
    rs1 = other_lab.realservers[0]
    rs1.sysctl({"enp3s0f1.arp_ignore": 2, "enp3s0f1.arp_announce": 2,
                "default.arp_ignore": 2, "default.arp_announce": 2})
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.code == 0, outcome
    assert outcome.status.startswith("ARP_SYSCTL OK - 1 ARP-facing interface (enp3s0f1)")
    assert outcome.perf()["enp3s0f1_arp_ignore"] == "2;;1:2;0;8"
    assert rs1.mac not in kernel_answers(other_lab)
    rs1.sysctl({"enp3s0f1.arp_ignore": 0})
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.code == 2
    assert outcome.status.startswith("ARP_SYSCTL CRITICAL - enp3s0f1 arp_ignore 0 (all=0, "
                                     "enp3s0f1=0)")
    assert rs1.mac in kernel_answers(other_lab)


def test_bridge_port_is_not_arp_facing_the_bridge_is(other_lab):
    """ARP that arrives on a bridge port is processed as the bridge's: only br1's value counts."""
    rs1 = other_lab.realservers[0]
    iface = rs1.iface
    rs1.iproute("addr", "flush", "dev", iface)
    rs1.iproute("link", "add", "br1", "address", rs1.mac, "type", "bridge")
    rs1.iproute("link", "set", iface, "master", "br1")
    rs1.iproute("addr", "add", rs1.ip + "/24", "dev", "br1")
    rs1.iproute("link", "set", "br1", "up")
    rs1.sysctl({"all.arp_ignore": 0, "default.arp_ignore": 0, iface + ".arp_ignore": 0,
                "br1.arp_ignore": 1, "all.arp_announce": 2})
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.status.startswith("ARP_SYSCTL WARNING - interfaces created later"), outcome
    assert outcome.perf()["exposed_interfaces"] == "0;;0;0;1"
    assert "br1_arp_ignore" in outcome.perf() and iface + "_arp_ignore" not in outcome.perf()
    assert rs1.mac not in kernel_answers(other_lab)
    rs1.sysctl({"br1.arp_ignore": 0, iface + ".arp_ignore": 1})
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", user=lab_module.NOBODY)
    assert outcome.status.startswith("ARP_SYSCTL CRITICAL - br1 arp_ignore 0"), outcome
    assert rs1.mac in kernel_answers(other_lab)


def test_names_that_are_not_utf8_or_collide_stay_apart_and_printable(lab):
    """Interface names are bytes to the kernel: b'eth\\xff' is shown escaped, and 'a=b',
    "a'b", 'a_b' (one perfdata label once cleaned) get labels of their own."""
    host = lab.client
    names = [b"eth\xff", b"a=b", b"a'b", b"a_b"]
    ip = lab_module.IP.encode()
    for first, second in ((names[0], names[1]), (names[2], names[3])):
        lab_module._sh([ip, b"-n", host.ns.encode(), b"link", b"add", first, b"type", b"veth",
                        b"peer", b"name", second])
    try:
        for name in names:
            lab_module._sh([ip, b"-n", host.ns.encode(), b"link", b"set", name, b"up"])
        outcome = run_in(host, "check_arp_sysctl", "--no-persistence", "-v",
                         user=lab_module.NOBODY)
    finally:
        for name in (names[0], names[2]):
            lab_module._sh([ip, b"-n", host.ns.encode(), b"link", b"del", name], check=False)
    assert outcome.code == 2, outcome
    assert "Traceback" not in outcome.stdout and outcome.stderr == ""
    # Five interfaces with the same finding: one line of -v names them all, escaped.
    assert any(line.startswith("CRITICAL: 5 interfaces: <interface> arp_ignore 0 (all=0, "
                               "<interface>=0)") and "eth\\xff" in line.split(": ")[-1]
               for line in outcome.lines), outcome
    perf = dict(item.split("=", 1) for item in outcome.stdout.split("|", 1)[1].split())
    labels = sorted(label[:-len("_arp_ignore")] for label in perf if label.endswith("_arp_ignore"))
    assert labels == ["a_b", "a_b_2", "a_b_3", "eth0", "eth_xff"], labels


@pytest.mark.parametrize("sysctls, accepted, code, exposed", [
    ({"all.arp_ignore": 2, "all.arp_announce": 2}, "1", 2, "1"),
    ({"all.arp_ignore": 2, "all.arp_announce": 2}, "2", 0, "0"),
    ({"all.arp_ignore": 8, "all.arp_announce": 2}, "1,2", 1, "0"),
    ({"all.arp_ignore": 8, "all.arp_announce": 2}, "1,2,8", 0, "0"),
])
def test_arp_ignore_option_moves_state_and_counts_together(lab, rs1, sysctls, accepted, code,
                                                            exposed):
    """--arp-ignore changes the one decision: state and exposed_interfaces never disagree."""
    rs1.sysctl(sysctls)
    outcome = run_in(rs1, "check_arp_sysctl", "--no-persistence", "--arp-ignore", accepted,
                     user=lab_module.NOBODY)
    assert outcome.code == code, outcome
    assert outcome.perf()["exposed_interfaces"].split(";")[0] == exposed


def test_lo_and_noarp_interfaces_are_refused_by_name(lab, rs1):
    outcome = run_in(rs1, "check_arp_sysctl", "-i", "lo", user=lab_module.NOBODY)
    assert (outcome.code, outcome.lines) == (3, [
        "ARP_SYSCTL UNKNOWN - -i lo: loopback or NOARP, it answers no ARP itself (it holds VIPs "
        "safely); check the ARP-facing interfaces"])


ORACLE = __import__("conftest").ORACLE


def answering_from_the_client(lab, target):
    client = lab.client
    done = client.run([__import__("sys").executable, ORACLE, "ask", client.iface, target,
                       client.ip], check=True)
    return set(done.stdout.split())


def test_director_vmac_interfaces_answer_only_for_their_own_addresses(lab):
    """A macvlan on the director (as keepalived's use_vmac makes) left at arp_ignore 0
    answers for the VIP held on eth0 with its own MAC, and eth0 for the vmac's address: the
    director profile says CRITICAL for both, beside the kernel's two answers; at 1, one."""
    director = lab.director
    director.reset_sysctls()
    for host in lab.realservers:  # only the director may answer here
        host.sysctl({"all.arp_ignore": 1})
    director.iproute("link", "add", "link", director.iface, "name", "vmac9", "address",
                     "00:00:5e:00:01:09", "type", "macvlan", "mode", "bridge")
    director.iproute("link", "set", "vmac9", "up")
    try:
        exposed = run_in(director, "check_arp_sysctl", "--role", "director", "--no-persistence",
                         "-v", user=lab_module.NOBODY)
        answers = answering_from_the_client(lab, lab_module.VIP)
        assert answers == {director.mac, "00:00:5e:00:01:09"}, answers
        assert exposed.code == 2, exposed
        assert "CRITICAL: vmac9 arp_ignore 0 (all=0, vmac9=0): answers ARP for the addresses " \
               "of other interfaces too, VIPs on vmac interfaces included, with its own MAC; " \
               "set net.ipv4.conf.all.arp_ignore = 1" in exposed.lines, exposed
        perf = dict(i.split("=", 1) for i in exposed.stdout.split("|", 1)[1].split())
        assert perf["exposed_interfaces"] == "2;;0;0;2"
        director.sysctl({"all.arp_ignore": 1})
        fixed = run_in(director, "check_arp_sysctl", "--role", "director", "--no-persistence",
                       user=lab_module.NOBODY)
        assert answering_from_the_client(lab, lab_module.VIP) == {director.mac}
        assert (fixed.code, fixed.status) == (0, (
            "ARP_SYSCTL OK - director: 2 ARP-facing interfaces (eth0, vmac9): vmac interfaces "
            "answer only for their own addresses, no proxy ARP; boot configuration not "
            "checked")), fixed
    finally:
        director.iproute("link", "del", "vmac9")
        for host in [director] + lab.realservers:
            host.reset_sysctls()


NFT = "/usr/sbin/nft"
DROP_VIP = ("table arp lvsdr {{\n  chain input {{\n    type filter hook input priority 0;\n"
            "    {}arp operation request arp daddr ip {} drop\n  }}\n}}\n")


@pytest.mark.parametrize("bound, answered", [("", False), ('iifname "other0" ', True)],
                         ids=["any interface", "another interface"])
def test_nftables_arp_drop_rule_counts_as_protection_beside_the_kernel(lab, rs1, bound,
                                                                       answered):
    """arp_ignore 0, and an nftables arp rule dropping requests for the VIP: the kernel does
    not answer, and the check (able to read the ruleset as root) says OK; bound to another
    interface, the kernel answers and the check stays CRITICAL. As nobody the ruleset cannot
    be read: CRITICAL, naming that possibility."""
    if not __import__("os").access(NFT, __import__("os").X_OK):
        unavailable("nft is missing (Debian: nftables)")
    rs1.sysctl({"all.arp_announce": 2})
    rs1.run([NFT, "-f", "-"], input=DROP_VIP.format(bound, lab_module.VIP), check=True)
    try:
        assert (rs1.mac in kernel_answers(lab)) == answered
        as_root = run_in(rs1, "check_arp_sysctl", "--no-persistence", "-i", rs1.iface)
        as_nobody = run_in(rs1, "check_arp_sysctl", "--no-persistence", "-i", rs1.iface,
                           user=lab_module.NOBODY)
    finally:
        rs1.run([NFT, "delete", "table", "arp", "lvsdr"])
    if answered:
        assert as_root.code == 2, as_root
    else:
        assert as_root.code == 1, as_root  # only the interfaces created later remain
        assert as_root.perf()["exposed_interfaces"] == "0;;0;0;1"
        assert as_root.status.startswith("ARP_SYSCTL WARNING - interfaces created later"), as_root
    assert as_nobody.code == 2, as_nobody
    assert as_nobody.status.endswith(
        "(nftables arp rules unreadable: run as root or use the shipped sudo rule for nft) (+1 "
        "more problem)"), as_nobody


def test_a_boot_rule_for_a_longer_address_does_not_shield_a_vip(lab, rs1, config_root):
    """rs1 holds 192.0.2.100 and 192.0.2.10 on lo, arp_ignore 0, and a live rule drops the
    requests for both. The nftables.conf the boot loads names 192.0.2.100 only: the boot
    verdict is WARNING, not OK (192.0.2.10 once counted as named, being the start of
    192.0.2.100). The real nft loads that file and the kernel then answers for 192.0.2.10."""
    if not __import__("os").access(NFT, __import__("os").X_OK):
        unavailable("nft is missing (Debian: nftables)")
    second = "192.0.2.10"
    rs1.sysctl({"all.arp_announce": 2})
    rs1.iproute("addr", "add", second + "/32", "dev", "lo")
    booted = DROP_VIP.format("", lab_module.VIP)
    write_tree(config_root, {
        "/etc/systemd/system/sysinit.target.wants/nftables.service": "[Unit]\n",
        "/etc/nftables.conf": booted})
    try:
        rs1.run([NFT, "-f", "-"], input=DROP_VIP.format("", "{{ {}, {} }}".format(
            lab_module.VIP, second)), check=True)
        live = run_in(rs1, "check_arp_sysctl", "--root", config_root, "-i", rs1.iface, "-v")
        rs1.run([NFT, "delete", "table", "arp", "lvsdr"], check=True)
        rs1.run([NFT, "-f", "/dev/stdin"], input=booted, check=True)  # as the boot loads it
        answered = {vip: rs1.mac in kernel_answers(lab, vip) for vip in (lab_module.VIP, second)}
    finally:
        rs1.run([NFT, "delete", "table", "arp", "lvsdr"])
        rs1.iproute("addr", "del", second + "/32", "dev", "lo")
    assert answered == {lab_module.VIP: False, second: True}
    assert live.code == 1, live
    assert live.perf()["exposed_interfaces"] == "0;;0;0;1", live
    assert ("WARNING: eth0 arp_ignore would be 0 after reboot (all: not set; eth0: not set): "
            "add 'net.ipv4.conf.all.arp_ignore = 1' to a file in /etc/sysctl.d") in live.long, live
    assert "OK: eth0 arp_ignore 0 after reboot (all: not set; eth0: not set)" not in live.long


@pytest.mark.parametrize("boot", [[], ["--no-persistence"]])
def test_the_director_profile_runs_with_and_without_the_boot_half(lab, config_root, boot):
    """--role director (an example of --help), boot half included: the director's keys
    (proxy_arp_pvlan, arp_filter) are in the boot model too; it once ended as 'internal
    error: KeyError'. On the lab's director (arp_ignore 0, no vmac) every key is accepted."""
    outcome = run_in(lab.director, "check_arp_sysctl", "--role", "director", "--root",
                     config_root, "-v", *boot)
    assert outcome.code == 0, outcome
    assert outcome.status.startswith("ARP_SYSCTL OK - director: 1 ARP-facing interface "
                                     "(eth0)"), outcome
    lines = "\n".join(outcome.long)
    assert "eth0 proxy_arp_pvlan 0" in lines and "eth0 arp_filter 0" in lines, outcome
    assert ("eth0 arp_filter 0 after reboot" in lines) == (not boot), outcome
