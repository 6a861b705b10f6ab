"""The named bad inputs of tests/cases/bad_inputs.py that need nothing of the host, each run
in-process by the plugin's own main() as any user, with every socket refused: exit 3, one line
naming the cause. tests/lab runs the whole list again as processes in a bare namespace."""

import importlib
import socket

import pytest
from cases.bad_inputs import CASES, NEEDS_THE_LAB, assert_one_unknown_line, write_files

from lvs_dr_checks.entry import PLUGINS

HERE = [case for case in CASES if (case[0], tuple(case[1])) not in NEEDS_THE_LAB]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_files(str(tmp_path_factory.mktemp("bad-inputs")))


@pytest.fixture
def no_network(monkeypatch):
    """Every attempt to reach another host is refused and recorded."""
    tried = []

    def refuse(self, *args, **kwargs):
        tried.append(args)
        raise OSError("the unit tests reach no host")
    for method in ("connect", "connect_ex", "sendto", "sendmsg"):
        monkeypatch.setattr(socket.socket, method, refuse)
    return tried


def test_most_of_the_list_runs_here():
    assert len(HERE) >= 0.9 * len(CASES)


@pytest.mark.parametrize("name, args, cause", HERE,
                         ids=["{}:{}".format(p, " ".join(a))[:60] for p, a, _ in HERE])
def test_bad_input_is_one_unknown_line_naming_the_cause(files, no_network, in_process, name,
                                                        args, cause):
    main = importlib.import_module("lvs_dr_checks.checks." + PLUGINS[name][0]).main
    assert_one_unknown_line(name, in_process(main, [files.get(arg, arg) for arg in args]), cause)
    assert no_network == []
