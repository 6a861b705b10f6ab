"""The site's boot scripts: /etc/rc.local against the real systemd-rc-local-generator and the
script really run (tests/oracles/scripts_boot.py), which units run at boot against the real
`systemctl --root is-enabled`, and what their Exec lines add (parsed as systemd splits them;
systemd itself cannot run here, so those expectations are written by hand)."""

import os
import subprocess

import pytest
from conftest import unavailable, write_tree
from oracles.namespace import booted, need_root

from lvs_dr_checks.boot import bootscripts, netconfig
from lvs_dr_checks.source.local import Source

RC = "/etc/rc.local"
SYSTEM = "/etc/systemd/system/"

# (what the case shows, rc.local, its mode, what the real boot left: (label, address/prefix))
RC_CASES = [
    ("executable", "#!/bin/sh\nip addr add 192.0.2.100/32 dev lo\nexit 0\n", "755",
     [("lo", "192.0.2.100/32")]),
    ("not executable", "#!/bin/sh\nip addr add 192.0.2.100/32 dev lo\n", "644", []),
    ("exits before the line", "#!/bin/sh\nip addr add 192.0.2.100/32 dev lo\nexit 0\n"
                              "ip addr add 192.0.2.101/32 dev lo\n", "755",
     [("lo", "192.0.2.100/32")]),
    ("no #! line", "ip addr add 192.0.2.100/32 dev lo\n", "755", []),
    ("an exit inside an if block", "#!/bin/bash\nif [ -e /nonexistent ]; then\n  exit 0\nfi\n"
                                   "ifconfig lo:1 192.0.2.100 netmask 255.255.255.255 up\n", "755",
     [("lo:1", "192.0.2.100/32")]),
    ("ifconfig without a netmask: the class mask", "#!/bin/sh\nifconfig lo:1 192.0.2.100 up\n",
     "700", [("lo:1", "192.0.2.100/24")]),
    ("sh -c and a label", "#!/bin/sh\n/bin/sh -c 'ip -4 address add 192.0.2.100/32 dev lo "
                          "label lo:vip'\n", "755", [("lo:vip", "192.0.2.100/32")]),
    ("CRLF line ends: '#!/bin/sh<CR>' names no interpreter",
     "#!/bin/sh\r\nip addr add 192.0.2.100/32 dev lo\r\n", "755", []),
    ("a CR ends no word: the device is 'lo<CR>'",
     "#!/bin/bash\nip addr add 192.0.2.100/32 dev lo\r\nip addr add 192.0.2.101/32 dev lo\n",
     "755", [("lo", "192.0.2.101/32")]),
    ("a no-break space is no blank to the shell",
     "#!/bin/sh\nip addr add 192.0.2.100/32\u00a0dev lo\nip addr add 192.0.2.101/32 dev lo\n",
     "755", [("lo", "192.0.2.101/32")]),
]


def rc_predicted(tmp_path, text, mode):
    write_tree(str(tmp_path), {RC: text})
    os.chmod(os.path.join(str(tmp_path), RC.lstrip("/")), int(mode, 8))
    return sorted((c.device, "{}/{}".format(c.address, c.prefixlen))
                  for c in netconfig.read_site_scripts(Source(str(tmp_path)))
                  if c.inactive is None)


@pytest.mark.parametrize("case, text, mode, expected", RC_CASES, ids=[c[0] for c in RC_CASES])
def test_model_predicts_what_rc_local_did(tmp_path, case, text, mode, expected):
    assert rc_predicted(tmp_path, text, mode) == sorted(expected)


@pytest.fixture(scope="module")
def oracle():
    need_root("boot scripts")
    return lambda case: booted("scripts_boot.py", [], case)


@pytest.mark.parametrize("case, text, mode, expected", RC_CASES, ids=[c[0] for c in RC_CASES])
def test_the_real_rc_local_did_what_the_case_says(oracle, case, text, mode, expected):
    result = oracle({"files": {RC: text}, "mode": {RC: mode}})
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"]


def unit(body, wanted_by="multi-user.target"):
    return "[Unit]\nDescription=VIP\n[Service]\nType=oneshot\n" + body + \
        "[Install]\nWantedBy={}\n".format(wanted_by)


UNITS = {
    SYSTEM + "vip.service": unit("ExecStart=/usr/sbin/ip addr add 192.0.2.100/32 dev lo\n"),
    SYSTEM + "multi-user.target.wants/vip.service": "->" + SYSTEM + "vip.service",
    SYSTEM + "off.service": unit("ExecStart=/usr/sbin/ip addr add 192.0.2.101/32 dev lo\n"),
    SYSTEM + "masked.service": "->/dev/null",
    SYSTEM + "multi-user.target.wants/masked.service": "->" + SYSTEM + "masked.service",
    SYSTEM + "shell.service": unit(
        "Environment=VIP=192.0.2.102/32 \"LABEL=lo:v2\"\n"
        "ExecStartPre=-/bin/sh -c 'ip addr add $VIP dev lo label $LABEL || true'\n"
        "ExecStart=@/usr/sbin/ip ip addr add 192.0.2.103/32 dev lo ; /usr/sbin/ip -6 addr add "
        "2001:db8::103/128 dev lo\n", "network-online.target"),
    SYSTEM + "network-online.target.wants/shell.service": "->" + SYSTEM + "shell.service",
    SYSTEM + "dropin.service": unit("ExecStart=/usr/sbin/ip addr add 192.0.2.104/24 dev lo\n"),
    SYSTEM + "dropin.service.d/override.conf":
        "[Service]\nExecStart=\nExecStart=/usr/sbin/ip addr add 192.0.2.105/32 dev lo\n",
    SYSTEM + "multi-user.target.wants/dropin.service": "->" + SYSTEM + "dropin.service",
}
UNIT_NAMES = ["vip.service", "off.service", "masked.service", "shell.service", "dropin.service"]


def write_units(root):
    write_tree(root, UNITS)


def test_units_the_boot_runs_and_what_they_add(tmp_path):
    write_units(str(tmp_path))
    found = netconfig.read_site_scripts(Source(str(tmp_path)))
    assert sorted((c.device, "{}/{}".format(c.address, c.prefixlen), c.inactive is None)
                  for c in found) == [
        ("lo", "192.0.2.100/32", True),
        ("lo", "192.0.2.101/32", False),
        ("lo", "192.0.2.103/32", True),
        ("lo", "192.0.2.105/32", True),
        ("lo", "2001:db8::103/128", True),
        ("lo:v2", "192.0.2.102/32", True)]
    off = [c for c in found if c.inactive]
    assert off[0].inactive == "off.service is not enabled, so it never runs at boot: " \
                              "systemctl enable off.service"


def test_the_units_enabled_are_those_systemctl_says(oracle, tmp_path):
    write_units(str(tmp_path))
    source = Source(str(tmp_path))
    enabled = bootscripts.enabled_units(source)
    runs = {name for name in UNIT_NAMES
            if name in enabled and bootscripts.unit_file(source, name) is not None}
    result = oracle({"files": UNITS, "units": UNIT_NAMES})
    assert runs == {name for name, word in result["enabled"].items() if word == "enabled"}, \
        result["enabled"]


# Environment= as systemd applies it (config_parse_environ): (what the case shows, the unit's
# Environment= lines, the warnings of systemd's own parser for them, what ExecStart
# `ip addr add $VIP dev lo` then adds).
ENVIRONMENT_CASES = [
    ("broken quoting ends the line, the words before it apply",
     ['VIP=192.0.2.110/32 "LABEL=lo:x'],
     ['Invalid syntax, ignoring: VIP=192.0.2.110/32 "LABEL=lo:x'], ["192.0.2.110/32"]),
    ("an empty Environment= clears what came before",
     ["VIP=192.0.2.111/32", "", "OTHER=1"], [], []),
    ("words that are no NAME=VALUE are skipped, the others apply",
     ["1VIP=192.0.2.112/32 VIP=192.0.2.113/32 VIP"],
     ["Invalid environment assignment, ignoring: 1VIP=192.0.2.112/32",
      "Invalid environment assignment, ignoring: VIP"], ["192.0.2.113/32"]),
    ("quotes keep a value whole",
     ['"VIP=192.0.2.114/32" LABEL="lo:a b"'], [], ["192.0.2.114/32"]),
]


def environment_unit(lines):
    return unit("".join("Environment={}\n".format(line) for line in lines)
                + "ExecStart=/usr/sbin/ip addr add $VIP dev lo\n")


@pytest.mark.parametrize("case, lines, warnings, added", ENVIRONMENT_CASES,
                         ids=[c[0] for c in ENVIRONMENT_CASES])
def test_environment_lines_are_applied_as_systemd_applies_them(tmp_path, case, lines, warnings,
                                                               added):
    write_tree(str(tmp_path), {SYSTEM + "env.service": environment_unit(lines)})
    found = bootscripts.unit_addresses(Source(str(tmp_path)), "env.service",
                                       SYSTEM + "env.service")
    assert ["{}/{}".format(a.address, a.prefixlen) for a, _, _ in found] == added


SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"


@pytest.mark.parametrize("case, lines, warnings, added", ENVIRONMENT_CASES,
                         ids=[c[0] for c in ENVIRONMENT_CASES])
def test_systemd_parser_ignores_what_the_cases_say(tmp_path, case, lines, warnings, added):
    """The real parser (systemd-analyze verify loads the unit as the manager would) warns of
    exactly the words the case says it ignores; nothing else of the Environment= lines."""
    if not os.access(SYSTEMD_ANALYZE, os.X_OK):
        unavailable("systemd-analyze missing (Debian: systemd)")
    path = os.path.join(str(tmp_path), "env.service")
    with open(path, "w") as handle:
        handle.write(environment_unit(lines))
    done = subprocess.run([SYSTEMD_ANALYZE, "verify", "--man=no", path], capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                                                      "SYSTEMD_LOG_COLOR": "0"})
    said = [line.split(": ", 1)[1] for line in done.stderr.splitlines()
            if line.startswith(path + ":") and "nvalid" in line]
    assert said == warnings, done.stderr
