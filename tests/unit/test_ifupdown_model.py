"""The ifupdown model held to what the real ifup did, as captured in tests/cases/ifupdown.py:
no root, no namespace. tests/oracles/test_ifupdown_oracle.py proves the same cases again on
the real ifup."""


import pytest
from cases.ifupdown import CASES, PRESENT
from conftest import write_tree

from lvs_dr_checks.boot import ifupdown
from lvs_dr_checks.source.local import Source


def predicted(tmp_path, files):
    write_tree(str(tmp_path), files)
    records = ifupdown.boot(Source(str(tmp_path)), PRESENT)
    return sorted((r.device if r.address.version == 4 else r.device.split(":")[0],
                   "{}/{}".format(r.address, r.prefixlen))
                  for r in records if r.inactive is None)


@pytest.mark.parametrize("case, files, expected", CASES, ids=[c[0] for c in CASES])
def test_model_predicts_what_ifup_did(tmp_path, case, files, expected):
    assert predicted(tmp_path, files) == sorted(expected)
