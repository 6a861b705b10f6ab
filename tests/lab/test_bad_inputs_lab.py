"""The named bad inputs of tests/cases/bad_inputs.py, each run as a process inside a bare
network namespace of the test's own (only lo), so that nothing can leave this machine whatever
a plugin would do: exit 3, one line naming the cause, no traceback, no internal error."""

import os
import subprocess

import lab as lab_module
import pytest
from cases.bad_inputs import CASES, assert_one_unknown_line, write_files
from conftest import Outcome, plugin, unavailable


@pytest.fixture(scope="module")
def bare():
    """A namespace with lo only, and the files the cases name."""
    reason = lab_module.lab_unavailable_reason()
    if reason:
        unavailable(reason)
    lab_module.remove_stale_namespaces()
    ns = "ldc{}x{}-bare".format(os.getpid(), os.urandom(2).hex())
    subprocess.run([lab_module.IP, "netns", "add", ns], check=True)
    subprocess.run([lab_module.IP, "-n", ns, "link", "set", "lo", "up"], check=True)
    with lab_module.readable_tempdir("lvs-dr-bad-") as home:
        try:
            yield ns, write_files(home)
        finally:
            subprocess.run([lab_module.IP, "netns", "del", ns], capture_output=True)


def test_the_list_is_long_enough():
    assert len(CASES) >= 60 and len({(p, tuple(a)) for p, a, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name, args, cause", CASES,
                         ids=["{}:{}".format(p, " ".join(a))[:60] for p, a, _ in CASES])
def test_bad_input_is_one_unknown_line_naming_the_cause(bare, name, args, cause):
    ns, files = bare
    args = [files.get(arg, arg) for arg in args]
    done = subprocess.run(lab_module.Host.netns_argv(ns, [plugin(name)] + args),
                          capture_output=True, text=True, timeout=30)
    assert_one_unknown_line(name, Outcome(done), cause)
