"""The boot-script models held to the cases of tests/cases/bootscripts.py: rc.local as the real
boot ran it, the units a boot runs and what their Exec lines add. No root, no namespace."""

import os

import pytest
from cases.bootscripts import ENVIRONMENT_CASES, RC, RC_CASES, SYSTEM, environment_unit, write_units
from conftest import write_tree

from lvs_dr_checks.boot import bootscripts, netconfig
from lvs_dr_checks.source.local import Source


def rc_predicted(tmp_path, text, mode):
    write_tree(str(tmp_path), {RC: text})
    os.chmod(os.path.join(str(tmp_path), RC.lstrip("/")), int(mode, 8))
    return sorted((c.device, "{}/{}".format(c.address, c.prefixlen))
                  for c in netconfig.read_site_scripts(Source(str(tmp_path)))
                  if c.inactive is None)


@pytest.mark.parametrize("case, text, mode, expected", RC_CASES, ids=[c[0] for c in RC_CASES])
def test_model_predicts_what_rc_local_did(tmp_path, case, text, mode, expected):
    assert rc_predicted(tmp_path, text, mode) == sorted(expected)


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


@pytest.mark.parametrize("case, lines, warnings, added", ENVIRONMENT_CASES,
                         ids=[c[0] for c in ENVIRONMENT_CASES])
def test_environment_lines_are_applied_as_systemd_applies_them(tmp_path, case, lines, warnings,
                                                               added):
    write_tree(str(tmp_path), {SYSTEM + "env.service": environment_unit(lines)})
    found = bootscripts.unit_addresses(Source(str(tmp_path)), "env.service",
                                       SYSTEM + "env.service")
    assert ["{}/{}".format(a.address, a.prefixlen) for a, _, _ in found] == added
