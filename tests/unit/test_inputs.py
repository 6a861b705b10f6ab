"""Input and output rules that need no root: VIPs, perfdata labels, printable output, the
ssh_config reader and the sweep's ranking, in-process."""

import ipaddress
import random

import pytest
import sshlab
from nagiosplugin.state import Critical, Ok, Unknown, Warn

from lvs_dr_checks import cli, kernel
from lvs_dr_checks.checks import realservers, sweep
from lvs_dr_checks.host import links
from lvs_dr_checks.source.ssh import config as ssh_config
from lvs_dr_checks.source.ssh import known_hosts
from lvs_dr_checks.source.ssh.connect import Target
from lvs_dr_checks.summary import unique_labels


def test_colliding_interface_names_get_stable_unique_labels():
    assert unique_labels(["a=b", "a'b", "a_b", "eth0"]) == {
        "a'b": "a_b", "a=b": "a_b_2", "a_b": "a_b_3", "eth0": "eth0"}


def test_output_is_printable_and_bounded():
    assert cli.printable("eth\udcff\x1b[31m\nx") == "eth\\xff\\x1b[31m\\x0ax"
    assert len(cli.printable("x" * 5000)) == cli.MAX_LINE
    status = "NAME CRITICAL - " + "y" * 1000 + " | a=1;;;0"
    text = cli.bounded_output("\n".join([status] + ["z" * 100] * 200 + ["| a=1;;;0 b=2"]))
    lines = text.splitlines()
    assert len(text.encode()) <= cli.MAX_OUTPUT
    assert lines[0] == "NAME CRITICAL - " + "y" * (cli.MAX_STATUS - 19) + "... | a=1;;;0"
    assert lines[-2].endswith(" more lines (bounded output)") and lines[-1] == "| a=1;;;0 b=2"


def test_a_vip_list_is_read_in_linear_time_without_duplicates():
    vips = ["192.0.2.{}".format(n % 200 + 1) for n in range(20000)]
    assert len(links.parse_vips(vips)) == 200


@pytest.mark.parametrize("text", ["0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "127.0.0.2",
                                  "fe80::2", "::ffff:192.0.2.1", "fe80::1%lo", "2001:db8::1%eth0"])
def test_addresses_that_cannot_be_vips_are_refused(text):
    """As text, and as the address a configuration already holds."""
    with pytest.raises(cli.PluginError, match="VIP"):
        links.vip_address(text)
    with pytest.raises(cli.PluginError, match="VIP"):
        links.vip_address(ipaddress.ip_address(text))


def test_vip_refusals_follow_ipaddress_for_every_ipv6_address():
    """The shortcut for global unicast (2000::/3) against ipaddress's own properties:
    seeded addresses at the edges of every range refused (::, ::1, IPv4-mapped, link-local,
    multicast) and of the shortcut, and anywhere."""
    rng = random.Random(2026)
    firsts = [0, 0x1fff, 0x2000, 0x2001, 0x3fff, 0x4000, 0xfe7f, 0xfe80, 0xfebf, 0xff00, 0xffff]
    for _ in range(20000):
        first = rng.choice(firsts + [rng.getrandbits(16)])
        rest = rng.choice([0, 1, 0xffff << 32 | rng.getrandbits(32), rng.getrandbits(112)])
        address = ipaddress.IPv6Address(first << 112 | rest)
        refused = (address.is_unspecified or address.is_multicast or address.is_loopback
                   or address.is_link_local or address.ipv4_mapped is not None)
        try:
            assert links.vip_address(address) == address and not refused, address
        except cli.PluginError:
            assert refused, address


def test_an_address_text_is_what_ipaddress_writes():
    """The fast text (inet_ntop) against str(): hand-written forms (zero runs, ties, a lone
    zero group, IPv4 tails), then seeded random addresses rich in zero groups."""
    hand = ["::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1", "2001:0:0:1::1",
            "2001:db8:0:1:1:1:1:1", "::ffff:192.0.2.1", "::192.0.2.1", "::ffff:0:192.0.2.1",
            "64:ff9b::192.0.2.1", "fe80::1%eth0", "192.0.2.1", "0.0.0.0"]
    rng = random.Random(24)
    drawn = [ipaddress.IPv6Address(sum(rng.choice([0, 0, 0, 1, 0xffff, rng.getrandbits(16)])
                                       << (16 * n) for n in range(8))) for _ in range(20000)]
    for address in [ipaddress.ip_address(t) for t in hand] + drawn:
        assert kernel.address_text(address) == str(address), address
        if address.version == 6 and address.scope_id is None:
            assert kernel.ipv6_text(address.packed) == str(address), address


def _address_or_refusal(parse, text):
    try:
        address = parse(text)
    except ValueError:
        return "refused"
    return (type(address), address, address.scope_id if address.version == 6 else None)


def test_an_address_is_read_as_ipaddress_reads_it():
    """The fast reader (inet_pton) against ipaddress.ip_address: the same address or the same
    refusal, for hand-written forms (leading zeros, IPv4 tails, scopes, too many groups,
    junk) and seeded random texts built from the pieces addresses are written with."""
    hand = ["192.0.2.1", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3", "1.2.3.4.5",
            "256.1.1.1", "1.2.3.04", " 192.0.2.1", "192.0.2.1\n", "192.0.2.1\x00", "",
            "::", "::1", "1::", "2001:db8::1", "2001:DB8::A", "2001:0db8:0000::00001",
            "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1::2:3:4:5:6:7", "1:2:3:4:5:6:7::",
            "1:2:3:4:5:6:7:8::", ":1::2", "1::2::3", "::ffff:192.0.2.1", "::192.0.2.01",
            "::1.2.3.4:1", "1.2.3.4::", "fe80::1%eth0", "2001:db8::1%", "2001:db8::g",
            "\u0661::1", "::\u00a0", "[::1]", "2001:db8::1/128"]
    rng = random.Random(24)
    pieces = ["", ":", "::", "0", "00", "000", "0000", "00000", "1", "a", "F", "ffff", "db8",
              "1.2.3.4", "192.0.2.01", "255", "256", ".", "%", "%eth0", " ", "g", "12345"]
    drawn = ["".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
             for _ in range(20000)]

    def written():  # an address as people write one: groups, a '::' run, an IPv4 tail
        groups = ["{:x}".format(rng.getrandbits(rng.choice([0, 4, 16, 16, 16, 20])))
                  .zfill(rng.choice([0, 0, 4])) for _ in range(rng.choice([6, 7, 8, 9]))]
        if rng.random() < 0.3:
            groups[-2:] = [".".join(str(rng.choice([0, 1, 2, 192, 255, 256])) for _ in range(4))]
        if rng.random() < 0.6:
            start = rng.randrange(len(groups))
            groups[start:start + rng.randint(0, 4)] = [""] if 0 < start < len(groups) else ["", ""]
        return ":".join(groups)
    drawn += [written() for _ in range(20000)]
    for text in hand + drawn:
        assert _address_or_refusal(kernel.parse_address, text) \
            == _address_or_refusal(ipaddress.ip_address, text), repr(text)


def test_subnets_hold_what_ipaddress_networks_hold():
    """links.Subnets (integers) against ipaddress's own containment, seeded random addresses
    of both families with every prefix length, some inside, some just outside."""
    rng = random.Random(24)
    bases = {4: [0xC0000200, 0xC6336400, 0xCB007100, 0], 6: [0x20010DB8 << 96, 0]}

    def address(version):
        low = rng.getrandbits(rng.choice([4, 10, 20]))
        return ipaddress.ip_address(rng.choice(bases[version]) + low) if version == 4 \
            else ipaddress.IPv6Address(rng.choice(bases[version]) + (low << rng.choice([0, 64])))
    addresses = [links.Address("if{}".format(rng.randint(0, 4)), a, rng.randint(0, a.max_prefixlen),
                               "global", None) for a in (address(rng.choice([4, 6]))
                                                         for _ in range(300))]
    subnets = links.Subnets.of_interfaces(addresses)
    networks = [(a.interface, a.network) for a in addresses]
    for target in [address(rng.choice([4, 6])) for _ in range(3000)]:
        assert subnets.holding(target) == {name for name, network in networks
                                           if network.version == target.version
                                           and target in network}, target


def test_ssh_config_reader_reads_four_keywords_and_acts_on_nothing_else():
    text = ('Match exec "touch /tmp/x"\n  User evil\n'
            "Host web* !web9\n  HostName 192.0.2.11\n  Port=2222\n  ProxyCommand nc %h %p\n"
            "  IdentityFile ~/.ssh/a\nHost *\n  User monitor\n  HostName ignored\n"
            "  IdentityFile ~/.ssh/b\n  LocalCommand id\n")
    config, ignored = ssh_config.parse_ssh_config(text, "web1")
    assert config == {"hostname": "192.0.2.11", "port": "2222", "user": "monitor",
                      "identityfile": ["~/.ssh/a", "~/.ssh/b"]}
    assert ignored == ["LocalCommand", "Match", "ProxyCommand"]
    assert ssh_config.parse_ssh_config(text, "web9")[0]["hostname"] == "ignored"


@pytest.mark.parametrize("host", ["", "a b", "x;id", "-oProxyCommand=x", "x" * 254, "a/b"])
def test_hosts_that_are_no_host_names_are_refused(host):
    with pytest.raises(cli.PluginError, match="not a host name or IP address"):
        ssh_config.valid_host(host)


def test_a_critical_server_outranks_one_that_could_not_be_checked():
    assert max((Ok, Unknown, Critical, Warn), key=realservers.RANK.get) == Critical
    assert max((Ok, Unknown, Warn), key=realservers.RANK.get) == Unknown


def test_the_sweep_plans_each_servers_share_of_t():
    plan = sweep.Plan.make(30, 8, 20.0)
    assert (plan.parallel, round(plan.budget, 2)) == (8, 4.25)
    with pytest.raises(cli.PluginError, match="leave 0.27s each within -t 10"):
        sweep.Plan.make(256, 8, 10.0)


def _interfaces_tree(root, count):
    """/proc and /sys of a host with ``count`` ARP-facing interfaces, every one exposed."""
    import os

    def put(path, text):
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as handle:
            handle.write(text)
    names = ["lo"] + ["eth{}".format(n) for n in range(count)]
    for scope in ["all", "default"] + names:
        for key in ("arp_ignore", "arp_announce", "proxy_arp"):
            put("proc/sys/net/ipv4/conf/{}/{}".format(scope, key), "0\n")
    for name in names:
        put("sys/class/net/{}/flags".format(name), "0x9\n" if name == "lo" else "0x1003\n")
        put("sys/class/net/{}/operstate".format(name), "up\n")


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_hundreds_of_interfaces_keep_the_output_within_its_bound(tmp_path, capsys, monkeypatch,
                                                                  verbose):
    import nagiosplugin

    from lvs_dr_checks.checks import arp_sysctl
    from lvs_dr_checks.source import target
    from lvs_dr_checks.source.local import Source

    _interfaces_tree(str(tmp_path), 300)
    monkeypatch.setattr(target, "sources", lambda args: (Source(str(tmp_path)),
                                                         Source(str(tmp_path))))
    nagiosplugin.Runtime.instance = None
    with pytest.raises(SystemExit) as ended:
        arp_sysctl.main(["--no-persistence"] + verbose)
    out = capsys.readouterr().out
    assert ended.value.code == 2
    assert len(out.encode()) <= cli.MAX_OUTPUT, len(out)
    perfdata = out.split("|", 1)[1].split()
    assert sum("_arp_ignore=" in item for item in perfdata) == arp_sysctl.PERFDATA_INTERFACES
    assert any(item.startswith("exposed_interfaces=300;") for item in perfdata)
    if verbose:  # every interface accounted for: the same finding is one line naming them
        assert "(bounded output)" not in out
        assert any(line.startswith("CRITICAL: 300 interfaces: <interface> arp_ignore 0 ")
                   and line.endswith(" more") for line in out.splitlines())


def test_perfdata_labels_do_not_change_with_state(tmp_path, monkeypatch, in_process):
    """The same host exposed (CRITICAL) and fixed (OK): the same perfdata labels, the first
    PERFDATA_INTERFACES interfaces whatever their state."""
    from lvs_dr_checks.checks import arp_sysctl
    from lvs_dr_checks.source import target
    from lvs_dr_checks.source.local import Source

    _interfaces_tree(str(tmp_path), 20)
    monkeypatch.setattr(target, "sources", lambda args: (Source(str(tmp_path)),
                                                         Source(str(tmp_path))))
    exposed = in_process(arp_sysctl.main, ["--no-persistence"])
    conf = tmp_path / "proc" / "sys" / "net" / "ipv4" / "conf" / "all"
    (conf / "arp_ignore").write_text("1\n")
    (conf / "arp_announce").write_text("2\n")
    fixed = in_process(arp_sysctl.main, ["--no-persistence"])
    assert (exposed.code, fixed.code) == (2, 0), (exposed, fixed)

    def labels(outcome):
        return sorted(item.split("=", 1)[0] for item in outcome.perfdata.split())
    assert labels(exposed) == labels(fixed)
    assert sum(label.endswith("_arp_ignore") for label in labels(fixed)) == \
        arp_sysctl.PERFDATA_INTERFACES


def test_known_hosts_markers_and_bad_lines_are_read_around(tmp_path):
    """@cert-authority, unknown markers and unreadable lines are skipped, @revoked keys
    remembered (whatever host they name), never an exception; the plain entries are the host
    keys paramiko checks."""
    import paramiko

    key = paramiko.RSAKey.generate(2048)
    other = _ed25519_key(tmp_path)
    line = "{} {}".format(key.get_name(), key.get_base64())
    known = tmp_path / "known_hosts"
    known.write_text("# comment\n@cert-authority *.example.org {0}\n@revoked 192.0.2.12 {0}\n"
                     "192.0.2.11 {0}\nnot a line\n192.0.2.13 ssh-ed25519 !!!notbase64\n"
                     "@bogus x y z\n@bogus 192.0.2.11 {1} {2}\n".format(
                         line, other.get_name(), other.get_base64()))
    target = Target("192.0.2.11", known_hosts=str(known))
    client = paramiko.SSHClient()
    revoked = known_hosts.load(paramiko, client, target.known_hosts, "192.0.2.11", 22)
    assert revoked == {key.asbytes()}
    assert client.get_host_keys().lookup("192.0.2.11") == {key.get_name(): key}
    assert client.get_host_keys().lookup("192.0.2.13") is None


def _ed25519_key(tmp_path):
    import paramiko
    path = str(tmp_path / "id_ed25519")
    sshlab.keygen(path)
    return paramiko.Ed25519Key.from_private_key_file(path)


def test_known_hosts_of_a_fleet_is_scanned_and_only_the_hosts_lines_parsed(tmp_path,
                                                                             monkeypatch):
    """A monitoring host's known_hosts names every server (here 20,000 lines, 8 MB, past the
    1 MiB a config may have): the host's key is found by its plain, [host]:port or hashed
    name, as paramiko looks it up, and no other line is parsed into a key. A line longer than
    any key is skipped; a file past the bound is refused by name."""
    import paramiko

    keys = [paramiko.RSAKey.generate(2048) for _ in range(3)]
    fleet, plain, on_2222 = keys
    hashed = _ed25519_key(tmp_path)
    entry = "{} {} {}\n".format
    lines = [entry("198.51.100.{}".format(n % 250) if n < 250 else "web{}.example.net".format(n),
                   fleet.get_name(), fleet.get_base64()) for n in range(20000)]
    lines[7000:7000] = ["192.0.2.11 " + "x" * (known_hosts.MAX_KNOWN_HOSTS_LINE * 2) + "\n",
                        entry("[192.0.2.11]:2222", on_2222.get_name(), on_2222.get_base64()),
                        entry(paramiko.HostKeys.hash_host("192.0.2.11"), hashed.get_name(),
                              hashed.get_base64())]
    lines.append(entry("192.0.2.10,192.0.2.11", plain.get_name(), plain.get_base64()))
    known = tmp_path / "known_hosts"
    known.write_text("".join(lines))
    assert known.stat().st_size > ssh_config.MAX_CONFIG_BYTES * 7
    parsed = []
    from_line = paramiko.hostkeys.HostKeyEntry.from_line
    monkeypatch.setattr(paramiko.hostkeys.HostKeyEntry, "from_line",
                        lambda line, number=None: parsed.append(number) or from_line(line, number))
    target = Target("192.0.2.11", known_hosts=str(known))
    for port, found in ((22, {hashed.get_name(): hashed, plain.get_name(): plain}),
                        (2222, {on_2222.get_name(): on_2222})):
        client = paramiko.SSHClient()
        assert known_hosts.load(paramiko, client, target.known_hosts, "192.0.2.11", port) == set()
        assert client.get_host_keys().lookup(known_hosts.known_hosts_name("192.0.2.11", port)) == found
    assert parsed == [7003, 20004, 7002]  # the lines naming the host, nothing else
    monkeypatch.setattr(known_hosts, "MAX_KNOWN_HOSTS_BYTES", 1024 * 1024)
    with pytest.raises(cli.PluginError, match=r"^known_hosts .*: larger than 1 MiB, not such"):
        known_hosts.load(paramiko, paramiko.SSHClient(), target.known_hosts, "192.0.2.11", 22)


def test_a_uid_without_a_user_name_is_named_before_any_connection(monkeypatch, tmp_path):
    """A uid with no passwd entry (a container, a bare uid) and no $USER: the login user
    cannot be taken from this process, and --ssh-user is the fix; with it, no name is asked."""
    import getpass

    def no_name():
        raise KeyError("getpwuid(): uid not found: 54321")

    monkeypatch.setattr(getpass, "getuser", no_name)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(cli.PluginError, match=r"^uid \d+ has no user name \(no passwd entry, no "
                                              r"\$USER\): give --ssh-user$"):
        # 127.0.0.1: should the name ever be found, nothing leaves this host.
        Target("127.0.0.1", 9, None, None, None, None, timeout=1).connect()
    assert ssh_config.expand("%r@%h", "192.0.2.11", "monitor") == "monitor@192.0.2.11"


def test_with_stdout_closed_the_exit_code_still_says_unknown(monkeypatch):
    monkeypatch.setattr("sys.stdout", None)
    with pytest.raises(SystemExit) as ended:
        cli.print_unknown("ARP_SYSCTL", "a cause")
    assert ended.value.code == cli.UNKNOWN
