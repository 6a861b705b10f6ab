"""One vocabulary for the whole suite: every plugin's parser held to the option table
(options.SUITE, docs/options.md), long options never abbreviated, and help and limits that
agree."""

import argparse
import importlib.util
import os
import re

import pytest
from conftest import REPO

from lvs_dr_checks import cli
from lvs_dr_checks.entry import PLUGINS
from lvs_dr_checks.options import SUITE

spec = importlib.util.spec_from_file_location("make_manpages",
                                              os.path.join(REPO, "tools", "make_manpages.py"))
make_manpages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_manpages)
PARSERS = make_manpages.parsers()


def visible(parser):
    return [a for a in parser._actions if a.help != argparse.SUPPRESS]


def test_docs_options_md_is_the_table():
    with open(os.path.join(REPO, "docs", "options.md")) as handle:
        assert handle.read() == make_manpages.options_table(), \
            "run tools/make_manpages.py --options > docs/options.md"


@pytest.mark.parametrize("plugin", PLUGINS)
def test_every_option_has_the_suites_name_and_syntax(plugin):
    wrong = []
    for action in visible(PARSERS[plugin]):
        option = SUITE.get(action.option_strings[-1])
        if option is None:
            wrong.append("{}: not in the suite's table".format(action.option_strings))
        elif tuple(action.option_strings) != option.flags:
            wrong.append("{}: the table says {}".format(action.option_strings, option.flags))
        elif make_manpages.syntax(action) != option.value:
            wrong.append("{} {}: the table says {}".format(
                action.option_strings[-1], make_manpages.syntax(action), option.value))
    assert wrong == []


@pytest.mark.parametrize("plugin", PLUGINS)
def test_long_options_are_never_abbreviated(plugin, capsys):
    parser = PARSERS[plugin]
    assert parser.allow_abbrev is False
    with pytest.raises(cli.PluginError, match="unrecognized arguments: --verb"):
        parser.parse_args(["--verb"])


@pytest.mark.parametrize("plugin", PLUGINS)
def test_the_timeouts_help_says_its_bound(plugin):
    parser = PARSERS[plugin]
    timeout = next(a for a in parser._actions if "--timeout" in a.option_strings)
    bound = float(re.search(r"at most (\d+)", timeout.help).group(1))
    assert parser.parse_args(["-t", "{:g}".format(bound)]).timeout == bound
    with pytest.raises(cli.PluginError, match=r"at most {:g} seconds".format(bound)):
        parser.parse_args(["-t", "{:g}".format(bound + 1)])


def test_the_old_spelling_works_and_is_named():
    args = PARSERS["check_vip_arp_owner"].parse_args(["-I", "eth0", "--vip", "192.0.2.100"])
    assert args.interface == "eth0" and args.deprecated == [("-I", "-i/--interface")]
    assert not hasattr(PARSERS["check_vip_arp_owner"].parse_args(["-i", "eth0"]), "deprecated")


def test_owners_take_vip_equals_mac_in_both_plugins():
    for plugin in ("check_vip_arp_owner", "check_vip_arp_cache"):
        args = PARSERS[plugin].parse_args(["--expect-mac", "192.0.2.100=02:00:5E:00:00:01",
                                           "--allow-mac", "02-00-5e-00-00-02"])
        assert [(str(v), m) for v, m in args.expect_mac] == [("192.0.2.100",
                                                                "02:00:5e:00:00:01")]
        assert args.allow_mac == [(None, "02:00:5e:00:00:02")]



@pytest.mark.parametrize("plugin", PLUGINS)
def test_help_fits_80_columns_on_any_terminal(plugin, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    wide = [line for line in PARSERS[plugin].format_help().splitlines() if len(line) > 80]
    assert wide == []
