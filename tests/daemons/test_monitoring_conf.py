"""icinga-conf/ validated by the real programs: icinga2 daemon -C, nagios4 -v, visudo -c."""

import json
import os
import re
import subprocess
import sys

import pytest
from conftest import REPO, unavailable

from lvs_dr_checks.entry import PLUGINS

CONF = os.path.join(REPO, "icinga-conf")
ICINGA2 = "/usr/sbin/icinga2"
NAGIOS4 = "/usr/sbin/nagios4"
VISUDO = "/usr/sbin/visudo"


def need(program):
    if not os.access(program, os.X_OK):
        unavailable("{} is not installed (Debian package: see README)".format(program))


def icinga2_validate(tmp_path, services):
    need(ICINGA2)
    for name in ("data", "log", "cache", "spool", "run"):
        (tmp_path / name).mkdir()
    (tmp_path / "icinga2.conf").write_text(
        'const PluginDir = "/usr/lib/nagios/plugins"\n'
        'const PluginContribDir = "/usr/lib/nagios/plugins"\n'
        'const ManubulonPluginDir = "/usr/lib/nagios/plugins"\n'
        'const NodeName = "master1"\nconst ZoneName = "master"\n'
        "include <itl>\ninclude <plugins>\n"
        'object Endpoint NodeName {{}}\nobject Zone ZoneName {{ endpoints = [ NodeName ] }}\n'
        'include "{}"\ninclude "{}"\ninclude "{}"\n'.format(
            os.path.join(CONF, "lvs-dr-checks-commands.conf"), services,
            os.path.join(CONF, "lvs-dr-checks-hosts.conf.example")))
    defines = ["-DRunAsUser=root", "-DRunAsGroup=root"] + [
        "-D{}={}".format(key, tmp_path / name) for key, name in (
            ("DataDir", "data"), ("LogDir", "log"), ("CacheDir", "cache"),
            ("SpoolDir", "spool"), ("InitRunDir", "run"))]
    return subprocess.run([ICINGA2, "daemon", "-C", "-c", str(tmp_path / "icinga2.conf")] + defines,
                          capture_output=True, text=True, timeout=120)


def test_icinga2_validates_the_shipped_configuration(tmp_path):
    done = icinga2_validate(tmp_path, os.path.join(CONF, "lvs-dr-checks-services.conf"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Instantiated 9 Services." in done.stdout
    assert "Finished validating the configuration file(s)." in done.stdout


def test_icinga2_rejects_a_broken_reference(tmp_path):
    broken = tmp_path / "lvs-dr-checks-services.conf"
    with open(os.path.join(CONF, "lvs-dr-checks-services.conf")) as handle:
        broken.write_text(handle.read().replace('"lvs_vip_on_lo"', '"lvs_vip_on_loo"'))
    done = icinga2_validate(tmp_path, str(broken))
    assert done.returncode != 0
    assert "lvs_vip_on_loo" in done.stdout and "Config validation failed" in done.stdout


def test_nagios4_validates_the_shipped_definitions(tmp_path):
    need(NAGIOS4)
    objects = "/etc/nagios4/objects"
    if not os.path.isdir(objects):
        unavailable("{} (nagios4-core's sample objects) is missing".format(objects))
    (tmp_path / "resource.cfg").write_text("$USER1$=/usr/lib/nagios/plugins\n")
    cfg_files = [os.path.join(objects, name) for name in
                 ("commands.cfg", "contacts.cfg", "timeperiods.cfg", "templates.cfg")]
    cfg_files += [os.path.join(CONF, "nagios", name) for name in
                  ("lvs-dr-checks.cfg", "hosts.cfg.example")]
    (tmp_path / "nagios.cfg").write_text(
        "".join("cfg_file={}\n".format(path) for path in cfg_files) +
        "resource_file={0}/resource.cfg\nlog_file={0}/nagios.log\n"
        "object_cache_file={0}/objects.cache\nprecached_object_file={0}/objects.precache\n"
        "status_file={0}/status.dat\ntemp_file={0}/nagios.tmp\nlock_file={0}/nagios.lock\n"
        "check_result_path={0}\nstate_retention_file={0}/retention.dat\n"
        "command_file={0}/nagios.cmd\ndebug_file={0}/nagios.debug\n"
        "nagios_user=root\nnagios_group=root\nillegal_macro_output_chars=`~$&|'\"<>\n"
        .format(tmp_path))
    done = subprocess.run([NAGIOS4, "-v", str(tmp_path / "nagios.cfg")], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Total Errors:   0" in done.stdout
    assert "Checked 4 services." in done.stdout


def test_sudoers_snippet_is_valid():
    need(VISUDO)
    done = subprocess.run([VISUDO, "-cf", os.path.join(CONF, "sudoers.d", "lvs-dr-checks")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("name", ["check_lvs_arp_sysctl", "check_lvs_vip_on_lo",
                                  "check_lvs_vip_arp_owner"])
def test_nrpe_snippet_has_fixed_command_lines(name):
    with open(os.path.join(CONF, "nrpe.d", "lvs-dr-checks.cfg")) as handle:
        lines = [line for line in handle if line.startswith("command[{}]=".format(name))]
    assert len(lines) == 1 and "$ARG" not in lines[0]


def test_the_shipped_checkcommands_are_generated_from_the_plugins_help():
    """Every option of every plugin is mapped, described by its --help text: the shipped file
    is what tools/make_icinga_commands.py writes."""
    generated = subprocess.run([sys.executable, os.path.join(REPO, "tools",
                                                             "make_icinga_commands.py")],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    with open(os.path.join(CONF, "lvs-dr-checks-commands.conf")) as handle:
        assert handle.read() == generated, "run tools/make_icinga_commands.py > " \
                                           "icinga-conf/lvs-dr-checks-commands.conf"
    for plugin in PLUGINS:
        helptext = subprocess.run([sys.executable, os.path.join(REPO, "plugins", plugin), "-h"],
                                  capture_output=True, text=True, timeout=60).stdout
        options = set(re.findall(r"^  (?:-\w(?: \S+)?, )?(--[\w-]+)", helptext, re.M)) - {"--help",
                                                                                  "--version"}
        block = generated.split('"/{}" ]'.format(plugin))[1].split("\nobject ")[0]
        mapped = set(re.findall(r'"(--[\w-]+)" = \{', block))
        assert options and options <= mapped, (plugin, options - mapped)


def test_the_plugin_pages_are_the_plugins_help(tmp_path):
    """docs/plugins/<plugin>.md is each plugin's --help, as the man pages are."""
    subprocess.run([sys.executable, os.path.join(REPO, "tools", "make_manpages.py"), "--pages",
                    str(tmp_path)], timeout=60, check=True)
    for name in sorted(os.listdir(str(tmp_path))):
        with open(os.path.join(REPO, "docs", "plugins", name)) as shipped, \
                open(os.path.join(str(tmp_path), name)) as generated:
            assert shipped.read() == generated.read(), \
                "run tools/make_manpages.py --pages docs/plugins"
    assert len(os.listdir(str(tmp_path))) == len(PLUGINS)


def test_every_checkcommand_outlasts_its_plugins_timeout():
    """Icinga kills a check at the command's timeout: the plugin's -t (within what the plugin
    allows) ends first, so that the operator reads the plugin's own UNKNOWN line."""
    import re

    with open(os.path.join(CONF, "lvs-dr-checks-commands.conf")) as handle:
        text = handle.read()
    commands = re.findall(r'object CheckCommand "(\w+)" \{(.*?)\n\}', text, re.S)
    assert len(commands) == len(PLUGINS)
    for name, body in commands:
        timeout = int(re.search(r"^  timeout = (\d+)$", body, re.M).group(1))
        plugin_t = int(re.search(r"vars\.{}_timeout = (\d+)".format(name), body).group(1))
        bound = int(re.search(r"at most (\d+)\)", body).group(1))
        assert plugin_t < timeout and plugin_t <= bound, name


def test_the_shipped_director_basket_is_generated_from_the_same_commands():
    """The basket is what tools/make_icinga_commands.py --director-basket writes: a data field
    for every variable of every command, each command's fields the variables its arguments
    take, and a service template per command."""
    generated = subprocess.run([sys.executable, os.path.join(REPO, "tools",
                                                             "make_icinga_commands.py"),
                                "--director-basket"],
                               capture_output=True, text=True, timeout=60, check=True).stdout
    with open(os.path.join(CONF, "lvs-dr-checks-director-basket.json")) as handle:
        assert handle.read() == generated, "run tools/make_icinga_commands.py " \
            "--director-basket > icinga-conf/lvs-dr-checks-director-basket.json"
    basket = json.loads(generated)
    with open(os.path.join(CONF, "lvs-dr-checks-commands.conf")) as handle:
        variables = set(re.findall(r"\$(lvs_\w+)\$", handle.read()))
    assert {f["varname"] for f in basket["Datafield"].values()} == variables
    for name, command in basket["ExternalCommand"].items():
        taken = {value.get("value", value.get("set_if")).strip("$")
                 for value in command["arguments"].values()}
        linked = {basket["Datafield"][str(f["datafield_id"])]["varname"]
                  for f in command["fields"]}
        assert linked == taken, name
    assert sorted(t["check_command"] for t in basket["ServiceTemplate"].values()) == \
        sorted(basket["ExternalCommand"])
