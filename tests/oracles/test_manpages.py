"""The man pages as man(1) renders them: every section an operator looks for, and every line
within 80 columns."""

import os
import subprocess
import sys

import pytest
from conftest import REPO, unavailable

from lvs_dr_checks.entry import PLUGINS

MAN = "/usr/bin/man"
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    if not os.access(MAN, os.X_OK):
        unavailable("man is missing (Debian: man-db)")
    target = str(tmp_path_factory.mktemp("man"))
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_manpages.py"), target],
                   check=True, timeout=60)
    return target


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_page_has_its_sections_within_80_columns(pages, plugin):
    done = subprocess.run([MAN, "-l", os.path.join(pages, plugin + ".1")], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, MANWIDTH="80",
                                                          MANPAGER="cat", PAGER="cat"))
    assert done.returncode == 0 and done.stderr == "", done.stderr
    lines = done.stdout.splitlines()
    assert [line for line in lines if line in SECTIONS] == SECTIONS
    assert [line for line in lines if len(line) > 80] == []
    assert any("--timeout SECONDS" in line for line in lines)
