"""The Icinga Director basket (icinga-conf/lvs-dr-checks-director-basket.json) in a real
Director: MariaDB, icingacli with the Director module and a real Icinga 2, all in rs2's
namespace, started by the test and stopped by pid. The Director's kickstart imports the
CheckCommands from Icinga 2 (the package's file included, as plugins-contrib includes it);
the basket restored on top of it (twice: nothing doubles) gives each command the arguments the
kickstart saw, a data field per variable and a service template per command. A host and
services made from those templates are deployed to Icinga 2, which runs them to the result the
plugin gives when run by hand. rs2 is configured right."""

import json
import os
import shutil

import lab as lab_module
import pytest
from conftest import Outcome, unavailable
from icingalab import (
    CONF,
    NODE_HEADER,
    PLUGIN_DIR,
    Daemon,
    first_results,
    icinga_api,
    icinga_node,
    installed_plugins,
    uid,
    wait_for,
)

BASKET = os.path.join(CONF, "lvs-dr-checks-director-basket.json")
ICINGACLI = "/usr/bin/icingacli"
MARIADB = ("/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb")
MODULES = "/usr/share/icingaweb2/modules"
PROGRAMS = ("/usr/sbin/icinga2", "/usr/bin/openssl", ICINGACLI) + MARIADB
DB_USER = "mysql"
PASSWORD = "lvs-dr-test"
PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}
WEB_CONFIG = {
    "config.ini": '[logging]\nlog = "none"\n',
    "resources.ini": '[director_db]\ntype = "db"\ndb = "mysql"\nhost = "127.0.0.1"\n'
                     'port = "3306"\ndbname = "director"\nusername = "director"\n'
                     'password = "{}"\ncharset = "utf8mb4"\n'.format(PASSWORD),
    "modules/director/config.ini": '[db]\nresource = "director_db"\n',
    "modules/director/kickstart.ini": "[config]\nendpoint = rs2\nhost = 127.0.0.1\n"
                                      "port = 5665\nusername = test\npassword = {}\n".format(
                                          PASSWORD)}


@pytest.fixture(scope="module")
def basket():
    with open(BASKET) as handle:
        return json.load(handle)


class Director:
    """icingacli's Director commands in rs2's namespace, with their own Icinga Web config."""

    def __init__(self, host, config):
        self.host = host
        self.config = config

    def __call__(self, *args, stdin=None):
        done = self.host.run(["/usr/bin/env", "ICINGAWEB_CONFIGDIR=" + self.config, ICINGACLI,
                              "director"] + list(args), input=stdin)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def sql(self, socket, query):
        """Rows (tab-separated fields) of a query on the Director's database."""
        done = self.host.run([MARIADB[2], "--no-defaults", "--socket=" + socket, "-u", "root",
                              "-N", "-B", "-r", "director", "-e", query], check=True)
        return sorted(tuple(line.split("\t")) for line in done.stdout.splitlines())


def _mariadb(host, home):
    """A MariaDB server of the test's own on 127.0.0.1:3306 in the host's namespace, with the
    Director's empty database; returns (the daemon, its socket)."""
    data, run = os.path.join(home, "db"), os.path.join(home, "run")
    for path in (data, run):
        os.makedirs(path)
        shutil.chown(path, DB_USER, DB_USER)
    lab_module._sh([MARIADB[1], "--no-defaults", "--datadir=" + data, "--user=" + DB_USER,
                    "--auth-root-authentication-method=normal", "--skip-test-db"])
    socket = os.path.join(run, "mariadb.sock")
    daemon = Daemon(host.ns, [MARIADB[0], "--no-defaults", "--datadir=" + data,
                              "--user=" + DB_USER, "--bind-address=127.0.0.1", "--port=3306",
                              "--socket=" + socket, "--pid-file=" + run + "/mariadb.pid"])
    client = [MARIADB[2], "--no-defaults", "--socket=" + socket, "-u", "root", "-e"]
    wait_for(lambda: host.run(client + ["SELECT 1"]).returncode == 0, 60, "MariaDB")
    host.run(client + ["CREATE DATABASE director CHARACTER SET utf8mb4; CREATE USER "
                       "'director'@'127.0.0.1' IDENTIFIED BY '{}'; GRANT ALL ON director.* "
                       "TO 'director'@'127.0.0.1'".format(PASSWORD)], check=True)
    return daemon, socket


def _web_config(home):
    """Icinga Web 2's configuration for icingacli: the Director and the modules it needs."""
    for path, text in WEB_CONFIG.items():
        os.makedirs(os.path.dirname(os.path.join(home, path)), exist_ok=True)
        with open(os.path.join(home, path), "w") as handle:
            handle.write(text)
    os.makedirs(os.path.join(home, "enabledModules"))
    for module in ("director", "incubator", "reactbundle"):
        os.symlink(os.path.join(MODULES, module), os.path.join(home, "enabledModules", module))
    return home


@pytest.fixture(scope="module")
def site(lab):
    """rs2 with a MariaDB, an Icinga 2 (API on 127.0.0.1, the package's commands) and a
    kickstarted Director; yields (Director, the database socket, the API, rs2)."""
    if not os.path.isdir(os.path.join(MODULES, "director")):
        unavailable("the Icinga Director (Debian package icingaweb2-module-director) is missing")
    rs2 = lab.realservers[1]
    rs2.sysctl(PROTECT)
    daemons = []
    with installed_plugins(PROGRAMS), lab_module.readable_tempdir("lvs-dr-director-") as home:
        try:
            database, socket = _mariadb(rs2, os.path.join(home, "mariadb"))
            daemons.append(database)
            argv, node = icinga_node(home, "rs2", NODE_HEADER + [
                'const NodeName = "rs2"', 'const ZoneName = "master"',
                'object Endpoint NodeName { host = "127.0.0.1" }',
                "object Zone ZoneName { endpoints = [ NodeName ] }",
                'object Zone "director-global" { global = true }',
                'object IcingaApplication "app" { }', 'object CheckerComponent "checker" { }',
                'object ApiListener "api" { bind_host = "127.0.0.1"; bind_port = 5665 }',
                'object ApiUser "test" {{ password = "{}"; permissions = [ "*" ] }}'.format(
                    PASSWORD)])
            daemons.append(Daemon(rs2.ns, argv))
            api = icinga_api(rs2, "127.0.0.1", os.path.join(node, "data", "certs", "ca.crt"))
            wait_for(lambda: api("status/IcingaApplication"), 60, "the Icinga 2 API")
            director = Director(rs2, _web_config(os.path.join(home, "icingaweb2")))
            director("migration", "run")
            director("kickstart", "run")
            yield director, socket, api, rs2
        finally:
            logs = [daemon.stop() for daemon in reversed(daemons)]
            print("\n".join(logs[-2:]))


def _restored(director, basket):
    """The basket restored (twice) on top of the kickstart; its commands as the Director
    imported them first, from Icinga 2."""
    kickstarted = {name: json.loads(director("command", "show", name, "--json"))
                   for name in basket["ExternalCommand"]}
    for _ in range(2):
        assert "have been restored" in director("basket", "restore",
                                                stdin=json.dumps(basket))
    return kickstarted


def test_the_basket_restores_onto_the_kickstarted_commands(site, basket):
    director, socket, _, _ = site
    kickstarted = _restored(director, basket)
    for name, shipped in basket["ExternalCommand"].items():
        assert dict(kickstarted[name], fields=[]) == dict(shipped, fields=[]), name
        assert json.loads(director("command", "show", name, "--json"))["fields"]
    fields = {f["originalId"]: f for f in basket["Datafield"].values()}
    assert director.sql(socket, "SELECT varname, caption, datatype FROM director_datafield") \
        == sorted((f["varname"], f["caption"], f["datatype"]) for f in fields.values())
    linked = director.sql(socket, "SELECT c.object_name, d.varname, f.is_required FROM "
                          "icinga_command_field f JOIN icinga_command c ON c.id = f.command_id "
                          "JOIN director_datafield d ON d.id = f.datafield_id")
    assert linked == sorted((name, fields[str(f["datafield_id"])]["varname"], f["is_required"])
                            for name, command in basket["ExternalCommand"].items()
                            for f in command["fields"])
    assert ("lvs_vip_on_lo", "lvs_vip_on_lo_vips", "y") in linked
    for template, shipped in basket["ServiceTemplate"].items():
        shown = json.loads(director("service", "show", template, "--json"))
        assert shown["check_command"] == shipped["check_command"], shown


# The services made from the basket's templates, with the variables an operator sets in the
# Director's forms, and the same check run by hand.
SERVICES = {
    "lvs-vip-on-lo": ({"lvs_vip_on_lo_vips": [lab_module.VIP],
                       "lvs_vip_on_lo_no_persistence": True},
                      ["check_vip_on_lo", "-v", "--vip", lab_module.VIP, "--no-persistence"]),
    "lvs-arp-sysctl": ({"lvs_arp_sysctl_no_persistence": True},
                       ["check_arp_sysctl", "-v", "--no-persistence"]),
}


def test_services_from_the_basket_are_deployed_and_run_to_the_plugins_result(site, basket):
    director, _, api, rs2 = site
    _restored(director, basket)
    director("host", "create", "rs2", "--json", json.dumps(
        {"object_type": "object", "address": "127.0.0.1", "check_command": "dummy"}))
    for name, (variables, _) in SERVICES.items():
        director("service", "create", name, "--json", json.dumps(
            {"object_type": "object", "host": "rs2", "imports": [name], "vars": variables}))
    assert "has been deployed" in director("config", "deploy")
    wait_for(lambda: (api("objects/services") or {}).get("results"), 60,
             "Icinga 2 to load the deployed configuration")
    checked = first_results(api, "the deployed services' first results")
    assert sorted(checked) == sorted("rs2!" + name for name in SERVICES), checked
    for name, (_, argv) in SERVICES.items():
        result = checked["rs2!" + name]
        by_hand = Outcome(rs2.run([os.path.join(PLUGIN_DIR, argv[0])] + argv[1:], user=uid()))
        assert (result["state"], result["exit_status"]) == (0, by_hand.code) == (0, 0), result
        assert result["output"].splitlines()[0] == by_hand.status, (result, by_hand)
        assert sorted(result["performance_data"]) == sorted(by_hand.perfdata.split()), result
        assert "--no-persistence" in result["command"], result
