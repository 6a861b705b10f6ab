"""The NetworkManager model held to what the real NetworkManager did, as captured in
tests/cases/networkmanager.py: no root, no namespace, no chown (the tree is read as root's).
tests/oracles/test_networkmanager_oracle.py proves the same cases again on the real daemon."""

import os

import pytest
from cases.networkmanager import CASES, PRESENT, SECOND, C, profile
from conftest import CapturedTree, write_tree

from lvs_dr_checks.boot import netconfig


def captured(root, files, extra):
    """The case's tree: modes as ``extra`` says (default 600), every file uid 1000's where
    ``extra`` is "owner", root's otherwise."""
    write_tree(root, files)
    for path in files:
        full = os.path.join(root, path.lstrip("/"))
        os.chmod(full, int(extra.get(path, "600"), 8) if isinstance(extra, dict) else 0o600)
    return CapturedTree(root, {path: 1000 for path in files} if extra == "owner" else {})


def predicted(tmp_path, files, extra):
    return sorted((c.interface, "{}/{}".format(c.address, c.prefixlen))
                  for c in netconfig.read_networkmanager(captured(str(tmp_path), files, extra),
                                                         PRESENT)
                  if c.inactive is None)


@pytest.mark.parametrize("case, files, extra, expected", CASES, ids=[c[0] for c in CASES])
def test_model_predicts_what_networkmanager_did(tmp_path, case, files, extra, expected):
    assert predicted(tmp_path, files, extra) == sorted(expected)


def test_a_tie_the_model_cannot_break_is_said(tmp_path):
    """Two profiles without uuid, same priority: NetworkManager derives uuids to break the tie;
    the model says it cannot know which one wins."""
    tree = captured(str(tmp_path), {
        C + "a.nmconnection": profile(ident="a"),
        C + "b.nmconnection": profile(SECOND, ident="b")},
        None)
    found = netconfig.read_networkmanager(tree, PRESENT)
    assert [c.inactive for c in found] == [
        "NetworkManager picks one of several profiles of the same autoconnect-priority for lo: "
        "which one is not known here; set autoconnect-priority"] * 2
