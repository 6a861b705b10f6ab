"""Bad input is harmless: parsers on random and truncated input raise nothing but the plugins'
own error, the plugins end with exit 0-3 and one status line, and named bad inputs give an
UNKNOWN line that names the cause."""

import errno
import logging
import os
import sys
import time

import nagiosplugin
import pytest
from conftest import FIXTURES, run_plugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nagiosplugin.state import Critical

from lvs_dr_checks import cli
from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.boot.sysctl import BootSysctl, normalize_key
from lvs_dr_checks.checks import vip_on_lo
from lvs_dr_checks.cli import PluginError
from lvs_dr_checks.host import arpfilter, ipvs, links
from lvs_dr_checks.host.sysctl import read_runtime
from lvs_dr_checks.source.local import MAX_FILE_BYTES, Source
from lvs_dr_checks.wire.arp import Arp, NeighborDiscovery

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TEXT = st.one_of(st.text(max_size=400), st.binary(max_size=400).map(
    lambda b: b.decode("latin-1")))


class MemorySource(Source):
    """A Source over {path: bytes or ('link', target)}: the parsers' input, without a disk."""

    def __init__(self, files):
        super().__init__("/")
        self.files = {path: (data.encode("utf-8", "surrogateescape") if isinstance(data, str)
                             else data) for path, data in files.items()}

    def _missing(self, path):
        return FileNotFoundError(errno.ENOENT, "not found", path)

    def _read_bytes(self, host_path, limit):
        if host_path not in self.files or isinstance(self.files[host_path], tuple):
            raise self._missing(host_path)
        return self.files[host_path][:limit]

    def _listdir(self, host_path):
        prefix = host_path.rstrip("/") + "/"
        names = {p[len(prefix):].split("/")[0] for p in self.files if p.startswith(prefix)}
        if not names:
            raise self._missing(host_path)
        return list(names)

    def _lstat_mode(self, host_path):
        if host_path in self.files:
            return 0o120777 if isinstance(self.files[host_path], tuple) else 0o100644
        if any(p.startswith(host_path.rstrip("/") + "/") for p in self.files):
            return 0o040755
        raise self._missing(host_path)

    def _readlink(self, host_path):
        return self.files[host_path][1]

    def _lstat_owner_mode(self, host_path):
        return 0, self._lstat_mode(host_path) & ~0o077


def only_plugin_errors(function, *args):
    try:
        function(*args)
    except PluginError as exc:
        assert str(exc)


@FUZZ
@given(st.dictionaries(st.sampled_from(["/etc/sysctl.d/a.conf", "/usr/lib/sysctl.d/b.conf",
                                        "/run/sysctl.d/a.conf", "/etc/sysctl.conf"]), TEXT))
def test_sysctl_files_never_raise(files):
    source = MemorySource(files)

    def parse():
        state = BootSysctl(source).boot(["lo", "eth0", "eth0.100"], ["vlan5"])
        for scope in ("all", "default", "eth0", "eth0.100", "vlan5"):
            state.value(scope, "arp_ignore")
    only_plugin_errors(parse)


@FUZZ
@given(TEXT)
def test_sysctl_keys_never_raise(key):
    normalize_key(key)


JSON_ISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["ifname", "addr_info", "family",
                                                             "local", "prefixlen", "label",
                                                             "scope"]), inner, max_size=5)),
    max_leaves=20)


@FUZZ
@given(st.one_of(TEXT, JSON_ISH.map(lambda value: __import__("json").dumps(value))))
def test_ip_json_never_raises(text):
    only_plugin_errors(links.parse_ip_json, text)


NESTED = "[" * 100000 + "]" * 100000  # valid JSON, deeper than Python's parser follows


@pytest.mark.parametrize("parse, what", [(links.parse_ip_json, "ip -j addr"),
                                         (links.parse_ip_neigh, "ip -j neigh")])
def test_json_nested_too_deeply_is_named(parse, what):
    with pytest.raises(PluginError, match=r"^{}: output is not JSON that it writes \(nested too "
                                          r"deeply\)$".format(what)):
        parse(NESTED)


def test_an_nft_ruleset_nested_too_deeply_is_unread_not_a_crash():
    class NestedNft(MemorySource):
        def _run(self, argv, stdin=None, statuses=(0,)):
            return NESTED

    source = NestedNft({"/usr/sbin/nft": "", "/usr/bin/sudo": ""})
    assert arpfilter.read_ruleset(source, sudo=True) is None


def test_a_netplan_file_nested_too_deeply_is_named():
    nested = "network:\n  ethernets:\n    lo:\n      addresses: " + "[" * 3000 + "]" * 3000
    with pytest.raises(PluginError, match=r"^/etc/netplan/01.yaml: YAML nested too deeply to "
                                          r"read$"):
        netconfig.read_all(MemorySource({"/etc/netplan/01.yaml": nested}), ["lo"])


def _capture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@FUZZ
@given(TEXT, st.integers(min_value=0, max_value=2000))
def test_ip_text_and_ipvs_never_raise_on_random_or_truncated_input(text, cut):
    for captured in (_capture("ip-o-addr.txt"), text):
        only_plugin_errors(links.parse_ip_oneline, captured[:cut])
        only_plugin_errors(links.parse_ip_json, _capture("ip-j-addr.json")[:cut])
    for table in (_capture("ip_vs"), _capture("ipvsadm-Ln.txt"), text):
        only_plugin_errors(ipvs.parse, table[:cut])
        only_plugin_errors(ipvs.parse, table)


NETCONFIG_PATHS = ["/etc/network/interfaces", "/etc/network/interfaces.d/x",
                   "/etc/netplan/01.yaml", "/etc/systemd/network/10.network",
                   "/etc/NetworkManager/system-connections/a.nmconnection",
                   "/etc/sysconfig/network-scripts/ifcfg-lo:0",
                   "/etc/systemd/system/vip.service", "/etc/rc.local",
                   "/etc/systemd/system/multi-user.target.wants/vip.service",
                   "/etc/systemd/network/10.network.d/a.conf", "/run/netplan/01.yaml",
                   "/etc/NetworkManager/system-connections/lo"]


@FUZZ
@given(st.dictionaries(st.sampled_from(NETCONFIG_PATHS), TEXT, min_size=1))
def test_network_configuration_never_raises(files):
    only_plugin_errors(netconfig.read_all, MemorySource(files), ["lo", "eth0"])


# Words of the units' own syntax (quotes, escapes, variables, separators, prefixes), so that
# random lines reach the splitting rules, which random text alone seldom does.
UNIT_WORDS = st.lists(st.sampled_from(['"', "'", "\\", "$", "${", "}", ";", "\\;", " ", "=",
                                       "%i", "VIP", "LABEL", "lo", "/usr/sbin/ip", "addr", "add",
                                       "192.0.2.100/32", "dev", "-", "@", "+", "!", "sh", "-c",
                                       "/bin/sh", "label", "lo:1", "\t"]),
                      max_size=14).map("".join)
UNIT_KEYS = st.sampled_from(["Environment", "ExecStartPre", "ExecStart", "ExecStartPost"])


@FUZZ
@given(st.lists(st.tuples(UNIT_KEYS, UNIT_WORDS), min_size=1, max_size=6),
       st.lists(st.tuples(UNIT_KEYS, UNIT_WORDS), max_size=3))
def test_unit_lines_of_any_quoting_never_raise(lines, drop_in):
    def text(pairs):
        return "[Service]\n" + "".join("{}={}\n".format(k, v) for k, v in pairs)
    files = {"/etc/systemd/system/vip.service": text(lines),
             "/etc/systemd/system/vip.service.d/a.conf": text(drop_in),
             "/etc/systemd/system/multi-user.target.wants/vip.service":
                 ("link", "/etc/systemd/system/vip.service")}
    only_plugin_errors(netconfig.read_all, MemorySource(files), ["lo", "eth0"])


YAML_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 300),
                        st.sampled_from(["lo", "eth0", "192.0.2.100/32", "192.0.2.100",
                                         "2001:db8::1/128", "networkd", "NetworkManager", "l*",
                                         "addresses", "match", "name", "set-name", "renderer"]))
YAML_DOCUMENTS = st.recursive(YAML_SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4),
    st.dictionaries(st.sampled_from(["network", "version", "renderer", "ethernets", "lo",
                                     "eth0", "addresses", "match", "name", "set-name",
                                     "label", "bonds", "dhcp4"]), children, max_size=4)),
    max_leaves=12)


@FUZZ
@given(st.dictionaries(st.sampled_from(["/etc/netplan/01.yaml", "/run/netplan/01.yaml",
                                        "/lib/netplan/02.yaml"]), YAML_DOCUMENTS, min_size=1))
def test_netplan_documents_of_any_shape_never_raise(documents):
    """Structured YAML (mappings, lists, scalars in netplan's places), not only random text."""
    import yaml
    files = {path: yaml.safe_dump(document) for path, document in documents.items()}
    only_plugin_errors(netconfig.read_all, MemorySource(files), ["lo", "eth0"])


@FUZZ
@given(st.binary(max_size=80))
def test_frames_from_the_wire_never_raise(frame):
    Arp().dissect(frame, {"192.0.2.100"}, "02:00:5e:00:00:01")
    NeighborDiscovery().dissect(frame, {"2001:db8::100"}, "02:00:5e:00:00:01")


@FUZZ
@given(argv=st.lists(st.one_of(st.sampled_from(["--vip", "-t", "--root", "-v", "--no-persistence",
                                                 "192.0.2.100", "::1", "-H", "--bogus", "0",
                                                 "/nonexistent", ","]), st.text(max_size=12)),
                     max_size=6))
def test_cli_on_random_arguments_ends_with_one_status_line(in_process, argv):
    if "-H" in argv or "-h" in argv or "--help" in argv or "-V" in argv:
        return  # remote mode and the informational options are covered elsewhere
    ran = in_process(vip_on_lo.main, ["--no-persistence"] + argv)
    code, lines = ran.code, ran.lines
    assert code in (0, 1, 2, 3)
    assert lines and lines[0].startswith("VIP_ON_LO ")
    assert "Traceback" not in "\n".join(lines)


@FUZZ
@given(interfaces=TEXT, sysctl=TEXT, cut=st.integers(min_value=0, max_value=400))
def test_cli_on_random_configuration_ends_with_one_status_line(in_process, tmp_path_factory,
                                                               interfaces, sysctl, cut):
    root = tmp_path_factory.mktemp("root")
    for path, text in (("etc/network/interfaces", interfaces[:cut]),
                       ("etc/sysctl.d/90-x.conf", sysctl)):
        os.makedirs(os.path.dirname(os.path.join(str(root), path)), exist_ok=True)
        with open(os.path.join(str(root), path), "w", encoding="utf-8",
                  errors="surrogateescape") as handle:
            handle.write(text)
    ran = in_process(vip_on_lo.main, ["--vip", "192.0.2.100", "--root", str(root)])
    code, lines = ran.code, ran.lines
    assert code in (0, 1, 2, 3)
    assert len(lines) == 1 and lines[0].startswith("VIP_ON_LO ")


def test_missing_proc_sys_net_ipv4_conf_is_named():
    with pytest.raises(PluginError, match=r"^/proc/sys/net/ipv4/conf is missing: no IPv4 in this "
                                          r"network namespace or /proc/sys not mounted"):
        read_runtime(MemorySource({"/proc/sys/kernel/hostname": "x"}), ["all"])


def test_non_utf8_bytes_are_read_around():
    boot = BootSysctl(MemorySource({"/etc/sysctl.d/a.conf":
                                    b"# \xff\xfe caf\xe9\nnet.ipv4.conf.all.arp_ignore = 1\n"}))
    assert boot.boot(["lo"]).value("all", "arp_ignore").value == 1


def test_enormous_file_is_refused_by_name():
    source = MemorySource({"/etc/sysctl.d/huge.conf": b"#" * (MAX_FILE_BYTES + 10)})
    with pytest.raises(PluginError, match=r"^/etc/sysctl.d/huge.conf: larger than 4 MiB"):
        BootSysctl(source)


def test_symlink_loop_is_skipped_as_systemd_skips_it():
    source = MemorySource({"/etc/sysctl.d/a.conf": ("link", "/etc/sysctl.d/b.conf"),
                           "/etc/sysctl.d/b.conf": ("link", "a.conf")})
    assert BootSysctl(source).files == []


@pytest.mark.parametrize("plugin, args, line", [
    ("check_vip_arp_owner", ["--vip", "192.0.2.100", "--count", "101"],
     "VIP_ARP_OWNER UNKNOWN - --count 101 must be between 1 and 10"),
    ("check_vip_arp_owner", ["--vip", "192.0.2.100", "--count", "0"],
     "VIP_ARP_OWNER UNKNOWN - --count 0 must be between 1 and 10"),
    ("check_vip_arp_owner", ["--vip", "192.0.2.100", "--expect-mac", "02:00:5e:00:00:zz"],
     "VIP_ARP_OWNER UNKNOWN - argument --expect-mac: not a MAC address (aa:bb:cc:dd:ee:ff): "
     "'02:00:5e:00:00:zz' (see check_vip_arp_owner --help)"),
    ("check_vip_on_lo", ["--vip", "192.0.2.100/32"],
     "VIP_ON_LO UNKNOWN - --vip '192.0.2.100/32' is not an IPv4 or IPv6 address"),
    ("check_arp_sysctl", ["--arp-ignore", "0,1"],
     "ARP_SYSCTL UNKNOWN - argument --arp-ignore: must be a list of values that keep a VIP on "
     "lo unanswered (1, 2, 8): '0,1' (see check_arp_sysctl --help)"),
    ("check_arp_sysctl", ["-t", "0"],
     "ARP_SYSCTL UNKNOWN - argument -t/--timeout: must be more than 0 and at most 600 "
     "seconds: '0' (see check_arp_sysctl --help)"),
    ("check_lvs_realservers", ["--from-ipvs", "/nonexistent/ip_vs"],
     "LVS_REALSERVERS UNKNOWN - /nonexistent/ip_vs: not found"),
])
def test_named_bad_inputs(plugin, args, line):
    outcome = run_plugin(plugin, *args)
    assert (outcome.code, outcome.lines, outcome.stderr) == (3, [line], "")


def test_a_timeout_too_small_to_finish_is_unknown():
    """check_vip_on_lo runs `ip`, which alone takes longer than a millisecond (check_arp_sysctl
    reads a few files and may really finish within one)."""
    started = time.monotonic()
    outcome = run_plugin("check_vip_on_lo", "--vip", "192.0.2.100", "-t", "0.001")
    assert time.monotonic() - started < 2
    assert (outcome.code, outcome.lines) == (
        3, ["VIP_ON_LO UNKNOWN - no result within 0.001s (-t): raise -t, or find what hangs "
            "with -vvv"])


def test_heavy_modules_stay_off_the_real_server_paths():
    """scapy and paramiko are imported only by the probe and by -H."""
    code = ("import sys, lvs_dr_checks.checks.arp_sysctl, lvs_dr_checks.checks.vip_on_lo, "
            "lvs_dr_checks.checks.realservers; "
            "print(sorted(m for m in ('scapy', 'paramiko') if m in sys.modules))")
    done = __import__("subprocess").run([sys.executable, "-c", code], capture_output=True,
                                        text=True)
    assert done.stdout.strip() == "[]", done.stderr


def test_a_finding_with_line_breaks_stays_one_line(capsys):
    """Whatever a finding carries (a label, a remote host's text, a file's line: \\n, \\r,
    U+2028, NEL), it is printed on one line, escaped; nothing can print a line of its own."""
    class Found(nagiosplugin.Resource):
        def probe(self):
            return [nagiosplugin.Metric("x", 1, context="x")]

    class Judged(nagiosplugin.Context):
        def evaluate(self, metric, resource):
            return self.result_cls(Critical, "evil\nOK: all fine\r\u2028\x85end", metric)

    nagiosplugin.Runtime.instance = None  # a fresh output for this run
    try:
        with pytest.raises(SystemExit) as ended:
            cli.run("T", cli.make_parser("t", "t"),
                    lambda args: nagiosplugin.Check(Found(), Judged("x")), ["-v"])
    finally:
        logging.getLogger(cli.LOGGER).setLevel(logging.NOTSET)  # as it was before the run
    lines = capsys.readouterr().out.splitlines()
    escaped = "evil\\x0aOK: all fine\\x0d\\u2028\\x85end"
    assert ended.value.code == 2
    assert lines == ["T CRITICAL - " + escaped, "critical: " + escaped], lines
