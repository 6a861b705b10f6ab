"""The docs an operator reads: a README short enough to read (the depth is in docs/), and
every relative link of the README and docs/ reaching a file of the tree."""

import os
import re

import pytest
from conftest import REPO

PAGES = ["README.md"] + [os.path.join("docs", name) for name in sorted(os.listdir(
    os.path.join(REPO, "docs"))) if name.endswith(".md")]


def test_the_readme_stays_short():
    with open(os.path.join(REPO, "README.md")) as handle:
        assert len(handle.read().splitlines()) < 250


@pytest.mark.parametrize("page", PAGES)
def test_every_relative_link_reaches_a_file(page):
    with open(os.path.join(REPO, page)) as handle:
        links = re.findall(r"\]\(([^)#\s]+)\)", handle.read())
    missing = [link for link in links if "://" not in link and not os.path.exists(
        os.path.join(REPO, os.path.dirname(page), link))]
    assert missing == []
