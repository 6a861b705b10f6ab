"""`make check`'s promise, held in CI: the unit group passes as an unprivileged user (nobody),
from a copy of the checkout that user may read, with nothing skipped."""

import os
import re
import shutil
import subprocess

import lab as lab_module
from conftest import REPO, unavailable

# What a checkout holds beyond its sources: none of it is copied.
LEFT_OUT = shutil.ignore_patterns(".git", ".venv", ".oracles", "dist", "build", "*.egg-info",
                                  "__pycache__", ".hypothesis", ".pytest_cache", ".mypy_cache",
                                  ".ruff_cache")


def test_the_unit_group_passes_as_nobody():
    if os.geteuid() != 0:
        unavailable("becoming nobody needs root")
    python = os.path.join(lab_module.runnable_venv(), "bin", "python")
    with lab_module.readable_tempdir("lvs-dr-unit-") as home:
        checkout = os.path.join(home, "checkout")
        shutil.copytree(REPO, checkout, symlinks=True, ignore=LEFT_OUT)
        subprocess.run(["/usr/bin/chmod", "-R", "a+rX", checkout], check=True)
        done = subprocess.run(
            [lab_module.SETPRIV, "--reuid", lab_module.NOBODY, "--regid", lab_module.NOBODY,
             "--clear-groups", "--", "/usr/bin/env", "HOME=" + home,
             "PYTHONDONTWRITEBYTECODE=1", python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "-W", "ignore", "tests/unit"],
            cwd=checkout, capture_output=True, text=True, timeout=900)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) >= 500, summary
    assert not re.search(r"skipped|failed|error", summary), summary
