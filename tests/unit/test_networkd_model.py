"""The networkd and netplan models held to what the real systemd-networkd and netplan did,
as captured in tests/cases/networkd.py: no root, no namespace.
tests/oracles/test_networkd_oracle.py proves the same cases again on the real tools."""


import pytest
from cases.networkd import CASES, NETPLAN_CASES, PRESENT
from conftest import write_tree

from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.source.local import Source


def predicted(tmp_path, files):
    write_tree(str(tmp_path), files)
    return sorted((c.interface, "{}/{}".format(c.address, c.prefixlen))
                  for c in netconfig.read_networkd(Source(str(tmp_path)), PRESENT)
                  if c.inactive is None)


@pytest.mark.parametrize("case, files, expected", CASES, ids=[c[0] for c in CASES])
def test_model_predicts_what_networkd_did(tmp_path, case, files, expected):
    assert predicted(tmp_path, files) == sorted(expected)


@pytest.mark.parametrize("case, files, expected", NETPLAN_CASES,
                         ids=[c[0] for c in NETPLAN_CASES])
def test_model_predicts_what_netplan_and_networkd_did(tmp_path, case, files, expected):
    assert predicted(tmp_path, files) == sorted(expected)
