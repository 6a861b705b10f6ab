"""The site's boot scripts: /etc/rc.local against the real systemd-rc-local-generator and the
script really run (tests/oracles/scripts_boot.py), which units run at boot against the real
`systemctl --root is-enabled`, and what their Exec lines add (parsed as systemd splits them;
systemd itself cannot run here, so those expectations are written by hand)."""

import os
import subprocess

import pytest
from cases.bootscripts import ENVIRONMENT_CASES, RC, RC_CASES, UNIT_NAMES, UNITS, environment_unit, write_units
from conftest import unavailable

from lvs_dr_checks.boot import bootscripts
from lvs_dr_checks.source.local import Source
from oracles.namespace import booted, need_root


@pytest.fixture(scope="module")
def oracle():
    need_root("boot scripts")
    return lambda case: booted("scripts_boot.py", [], case)


@pytest.mark.parametrize("case, text, mode, expected", RC_CASES, ids=[c[0] for c in RC_CASES])
def test_the_real_rc_local_did_what_the_case_says(oracle, case, text, mode, expected):
    result = oracle({"files": {RC: text}, "mode": {RC: mode}})
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"]


def test_the_units_enabled_are_those_systemctl_says(oracle, tmp_path):
    write_units(str(tmp_path))
    source = Source(str(tmp_path))
    enabled = bootscripts.enabled_units(source)
    runs = {name for name in UNIT_NAMES
            if name in enabled and bootscripts.unit_file(source, name) is not None}
    result = oracle({"files": UNITS, "units": UNIT_NAMES})
    assert runs == {name for name, word in result["enabled"].items() if word == "enabled"}, \
        result["enabled"]


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
