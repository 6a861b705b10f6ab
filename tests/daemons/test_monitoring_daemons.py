"""The shipped configuration run by the real daemons in the lab: NRPE (as nagios) in the real
servers, Icinga 2 in the foreground in the director with its API on 127.0.0.1, an Icinga 2
master and agent pair (each its own certificate, the cluster protocol on lab addresses), and
the probe through the shipped sudo rule. rs1 is broken (kernel defaults), rs2 is configured
right."""

import os
import shutil

import lab as lab_module
import pytest
from conftest import Outcome, unavailable
from icingalab import (
    CONF,
    NODE_HEADER,
    PLUGIN_DIR,
    USER,
    Daemon,
    certificates,
    first_results,
    icinga_api,
    icinga_node,
    installed_plugins,
    uid,
    user_dir,
    wait_for,
)

PROGRAMS = ("/usr/sbin/nrpe", PLUGIN_DIR + "/check_nrpe", "/usr/sbin/icinga2", "/usr/bin/sudo",
            "/usr/bin/openssl")
PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}
@pytest.fixture(scope="module")
def installed():
    with installed_plugins(PROGRAMS) as prefix:
        yield prefix


@pytest.fixture(scope="module")
def workdir():
    with lab_module.readable_tempdir("lvs-dr-daemons-") as path:
        yield path


@pytest.fixture(scope="module")
def cluster(lab, installed, workdir):
    """rs1 broken, rs2 right, NRPE running as nagios in both with the shipped snippet."""
    lab.realservers[1].sysctl(PROTECT)
    daemons = []
    for host in lab.realservers:
        home = user_dir(workdir, "nrpe-" + host.role)
        config = os.path.join(home, "nrpe.cfg")
        with open(config, "w") as handle:
            handle.write("pid_file={}/nrpe.pid\nserver_address={}\nserver_port=5666\n"
                         "allowed_hosts={}\ndont_blame_nrpe=0\ncommand_timeout=30\n"
                         "disable_syslog=1\ninclude={}\n".format(
                             home, host.ip, lab.director.ip,
                             os.path.join(CONF, "nrpe.d", "lvs-dr-checks.cfg")))
        os.chmod(config, 0o644)
        daemons.append(Daemon(host.ns, ["/usr/sbin/nrpe", "-n", "-c", config, "-f"], user=uid()))
    for host in lab.realservers:
        wait_for(lambda h=host: h.run(["/usr/bin/ss", "-Hltn", "sport = :5666"]).stdout.strip(),
                 10, "NRPE on " + host.role)
    yield lab
    for daemon in daemons:
        daemon.stop()


def check_nrpe(lab, host, command):
    return Outcome(lab.director.run([PLUGIN_DIR + "/check_nrpe", "-n", "-H", host.ip, "-c",
                                     command]))


def direct(host, argv):
    return Outcome(host.run(argv, user=uid()))


NRPE_COMMANDS = {"check_lvs_arp_sysctl": [PLUGIN_DIR + "/check_arp_sysctl", "-v", "--sudo"],
                 "check_lvs_vip_on_lo": [PLUGIN_DIR + "/check_vip_on_lo", "-v", "--vip",
                                         lab_module.VIP]}


@pytest.mark.parametrize("command", sorted(NRPE_COMMANDS))
def test_check_nrpe_returns_the_plugins_line_and_exit_code(cluster, command):
    for host in cluster.realservers:
        through_nrpe = check_nrpe(cluster, host, command)
        local = direct(host, NRPE_COMMANDS[command])
        assert (through_nrpe.code, through_nrpe.stdout) == (local.code, local.stdout)
    rs1, rs2 = (check_nrpe(cluster, host, "check_lvs_arp_sysctl") for host in cluster.realservers)
    assert rs1.code == 2 and rs1.status.startswith("ARP_SYSCTL CRITICAL - eth0 arp_ignore 0")
    assert rs2.code in (0, 1) and rs2.perf()["exposed_interfaces"] == "0;;0;0;1"


def test_the_sudo_rule_runs_the_probe_and_nothing_else(cluster):
    director = cluster.director
    probe = Outcome(director.run(["/usr/bin/sudo", "-n", PLUGIN_DIR + "/check_vip_arp_owner",
                                  "--vip", lab_module.VIP], user=uid()))
    assert probe.code == 2, probe
    assert probe.status.startswith("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by "
                                   "02:00:5e:00:00:0b")
    other = director.run(["/usr/bin/sudo", "-n", PLUGIN_DIR + "/check_arp_sysctl"], user=uid())
    assert other.returncode == 1 and "password is required" in other.stderr


def _icinga_config(lab, workdir):
    """A private Icinga 2 node named like the director host, API on 127.0.0.1, the shipped
    commands and services, and the lab's hosts."""
    home = user_dir(workdir, "icinga2")
    for name in ("data", "data/certs", "log", "cache", "spool", "run"):
        user_dir(home, name)
    certs = os.path.join(home, "data", "certs")
    certificates(certs, "director1")
    hosts = ['object Host "director1" {{ check_command = "dummy"; address = "{}"; '
             'zone = ZoneName; vars.lvs_role = "director"; vars.lvs_agent = true; '
             'vars.lvs_vips = [ "{}" ] }}'.format(lab.director.ip, lab_module.VIP)]
    hosts += ['object Host "{}" {{ check_command = "dummy"; address = "{}"; '
              'vars.lvs_role = "realserver"; vars.lvs_nrpe = true; vars.nrpe_no_ssl = true; '
              'vars.lvs_vips = [ "{}" ] }}'.format(h.role, h.ip, lab_module.VIP)
              for h in lab.realservers]
    config = os.path.join(home, "icinga2.conf")
    with open(config, "w") as handle:
        handle.write("\n".join([
            'const PluginDir = "{0}"', 'const PluginContribDir = "{0}"',
            'const ManubulonPluginDir = "{0}"', 'const NodeName = "director1"',
            'const ZoneName = "master"', "include <itl>", "include <plugins>",
            "object Endpoint NodeName {{}}", "object Zone ZoneName {{ endpoints = [ NodeName ] }}",
            'object IcingaApplication "app" {{}}', 'object CheckerComponent "checker" {{}}',
            'object ApiListener "api" {{ bind_host = "127.0.0.1"; bind_port = 5665 }}',
            'object ApiUser "test" {{ password = "lvs-dr-test"; permissions = [ "*" ] }}',
            'include "{1}/lvs-dr-checks-commands.conf"',
            'include "{1}/lvs-dr-checks-services.conf"']).format(PLUGIN_DIR, CONF)
            + "\n" + "\n".join(hosts) + "\n")
    os.chmod(config, 0o644)
    defines = ["-DRunAsUser=" + USER, "-DRunAsGroup=" + USER] + [
        "-D{}={}".format(key, os.path.join(home, name)) for key, name in (
            ("DataDir", "data"), ("LogDir", "log"), ("CacheDir", "cache"),
            ("SpoolDir", "spool"), ("InitRunDir", "run"))]
    return config, defines, certs + "/ca.crt"


def test_icinga2_runs_the_shipped_commands_and_parses_their_output(cluster, workdir):
    director = cluster.director
    config, defines, ca = _icinga_config(cluster, workdir)
    icinga = Daemon(director.ns, ["/usr/sbin/icinga2", "daemon", "-c", config] + defines)

    api = icinga_api(director, "127.0.0.1", ca)
    try:
        wait_for(lambda: api("status/IcingaApplication"), 60, "the Icinga 2 API")
        checked = first_results(api, "every service's first check result")
    finally:
        log = icinga.stop()
    assert sorted(checked) == ["director1!lvs-vip-arp-owner", "rs1!lvs-arp-sysctl-nrpe",
                               "rs1!lvs-vip-on-lo-nrpe", "rs2!lvs-arp-sysctl-nrpe",
                               "rs2!lvs-vip-on-lo-nrpe"], log

    broken = checked["rs1!lvs-arp-sysctl-nrpe"]
    assert broken["state"] == 2, broken
    assert broken["output"].startswith("ARP_SYSCTL CRITICAL - eth0 arp_ignore 0 (all=0, eth0=0)")
    assert "eth0_arp_ignore=0;;1:2;0;8" in broken["performance_data"]
    assert "exposed_interfaces=1;;0;0;1" in broken["performance_data"]

    healthy = checked["rs2!lvs-arp-sysctl-nrpe"]
    assert healthy["state"] in (0, 1), healthy  # 1 where this host's /etc lacks the lines
    assert "eth0_arp_ignore=1;;1:2;0;8" in healthy["performance_data"]
    assert "exposed_interfaces=0;;0;0;1" in healthy["performance_data"]

    for name in ("rs1!lvs-vip-on-lo-nrpe", "rs2!lvs-vip-on-lo-nrpe"):
        assert "missing=0;;0;0;1" in checked[name]["performance_data"], checked[name]

    probe = checked["director1!lvs-vip-arp-owner"]
    assert probe["state"] == 2, probe
    assert probe["output"].startswith("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by "
                                      "02:00:5e:00:00:0b")
    assert "foreign_responders=1;;0;0" in probe["performance_data"]


def test_through_the_sudo_rule_a_root_only_file_reveals_nothing(cluster, tmp_path):
    """The probe takes its sockets as root, then reads --from-ipvs as the invoking user: a
    mode-600 root file and a path that does not exist give the same line."""
    os.chmod(str(tmp_path), 0o755)
    secret = tmp_path / "secret"
    secret.write_text("TCP  C0000264:0050 wlc\nTOPSECRET root-only content\n")
    os.chmod(str(secret), 0o600)
    outcomes = {}
    for path in (str(secret), str(tmp_path / "absent"), "/dev/zero", str(tmp_path)):
        outcomes[path] = Outcome(cluster.director.run(
            ["/usr/bin/sudo", "-n", PLUGIN_DIR + "/check_vip_arp_owner", "--from-ipvs", path],
            user=uid()))
    lines = {(o.code, o.stdout.replace(path, "PATH")) for path, o in outcomes.items()}
    assert lines == {(3, "VIP_ARP_OWNER UNKNOWN - --from-ipvs PATH: cannot read it as uid {} "
                         "(missing, not a regular file, or not readable): give a file this "
                         "user may read\n".format(uid()))}, outcomes


def test_through_the_sudo_rule_probes_stay_on_the_vips_segment(cluster):
    outcome = Outcome(cluster.director.run(
        ["/usr/bin/sudo", "-n", PLUGIN_DIR + "/check_vip_arp_owner", "--vip", "203.0.113.5",
         "-i", cluster.director.iface], user=uid()))
    assert (outcome.code, outcome.lines) == (3, [
        "VIP_ARP_OWNER UNKNOWN - 203.0.113.5 not on the segment of eth0 (held there, in its "
        "subnets, or routed through it): probes go out only where the VIPs live; name that "
        "interface with -i"]), outcome
    outcome = Outcome(cluster.director.run(
        ["/usr/bin/sudo", "-n", PLUGIN_DIR + "/check_vip_arp_owner", "--vip", lab_module.VIP,
         "-t", "3600"], user=uid()))
    assert outcome.code == 3 and "must be more than 0 and at most 300 seconds: '3600'" in \
        outcome.status


def test_sudo_option_turns_a_refusal_into_unknown(cluster):
    """--sudo: the plugin runs itself through sudo -n; where no rule lets it, UNKNOWN (not
    sudo's exit 1, which Icinga reads as WARNING); where the rule does, the probe's result."""
    refused = Outcome(cluster.director.run(
        [PLUGIN_DIR + "/check_vip_arp_owner", "--sudo", "--vip", lab_module.VIP],
        user=lab_module.NOBODY))
    assert refused.code == 3, refused
    assert refused.status.startswith("VIP_ARP_OWNER UNKNOWN - sudo refused to run "
                                     "check_vip_arp_owner as root (exit 1: "), refused
    allowed = Outcome(cluster.director.run(
        [PLUGIN_DIR + "/check_vip_arp_owner", "--sudo", "--vip", lab_module.VIP], user=uid()))
    assert allowed.code == 2, allowed
    assert allowed.status.startswith("VIP_ARP_OWNER CRITICAL - VIP 192.0.2.100 answered by ")


def test_a_master_schedules_the_real_server_checks_on_an_agent(cluster, workdir):
    """A real Icinga 2 master (in the director's namespace) and agent (in rs1's), each with
    its own certificate from one test CA, talking the cluster protocol on lab addresses. The
    master runs the shipped apply rules: the real-server checks go to the agent
    (command_endpoint), which has the CheckCommands as the package installs them on every
    node (the commands file included, as plugins-contrib includes it). The results read back
    from the master's API (state, long output, perfdata) are those of the same plugins run
    directly on the agent's host."""
    director, rs1 = cluster.director, cluster.realservers[0]
    base = NODE_HEADER + ['object Zone "master" { endpoints = [ "master1" ] }',
                          'object Zone "rs1" { endpoints = [ "rs1" ]; parent = "master" }',
                          'object IcingaApplication "app" {}']
    master_argv, master_home = icinga_node(workdir, "master1", base + [
        'const NodeName = "master1"', 'const ZoneName = "master"',
        'object Endpoint "master1" {}',
        'object Endpoint "rs1" {{ host = "{}"; port = 5665 }}'.format(rs1.ip),
        'object CheckerComponent "checker" {}',
        'object ApiListener "api" {{ bind_host = "{}"; bind_port = 5665 }}'.format(director.ip),
        'object ApiUser "test" { password = "lvs-dr-test"; permissions = [ "*" ] }',
        'include "{}/lvs-dr-checks-services.conf"'.format(CONF),
        'object Host "rs1" {{ check_command = "dummy"; address = "{}"; zone = "master"; '
        'vars.lvs_role = "realserver"; vars.lvs_agent = true; vars.lvs_vips = [ "{}" ] }}'
        .format(rs1.ip, lab_module.VIP)])
    ca = os.path.join(master_home, "data", "certs")
    agent_argv, _ = icinga_node(workdir, "rs1", base + [
        'const NodeName = "rs1"', 'const ZoneName = "rs1"',
        'object Endpoint "master1" {{ host = "{}" }}'.format(director.ip),
        'object Endpoint "rs1" {}',
        'object ApiListener "api" {{ bind_host = "{}"; bind_port = 5665; '
        'accept_commands = true }}'.format(rs1.ip)], ca_from=ca)
    master = Daemon(director.ns, master_argv)
    agent = Daemon(rs1.ns, agent_argv)

    api = icinga_api(director, director.ip, os.path.join(ca, "ca.crt"))
    try:
        wait_for(lambda: (api("objects/endpoints/rs1?attrs=connected") or {}).get(
            "results", [{}])[0].get("attrs", {}).get("connected"), 60,
            "the agent connected to the master")
        checked = first_results(api, "both services' first result from the agent")
    finally:
        logs = master.stop() + agent.stop()
    assert sorted(checked) == ["rs1!lvs-arp-sysctl", "rs1!lvs-vip-on-lo"], logs
    direct_runs = {"rs1!lvs-arp-sysctl": [PLUGIN_DIR + "/check_arp_sysctl", "-v", "--sudo"],
                   "rs1!lvs-vip-on-lo": [PLUGIN_DIR + "/check_vip_on_lo", "-v", "--vip",
                                         lab_module.VIP]}
    for name, argv in direct_runs.items():
        result, local = checked[name], direct(rs1, argv)
        assert result["check_source"] == "rs1", result
        assert result["exit_status"] == local.code, (result, local)
        assert result["output"].strip() == local.stdout.split("|")[0].strip(), (result, local)
        assert sorted(result["performance_data"]) == sorted(local.perfdata.split()), (result,
                                                                                      local)
    assert checked["rs1!lvs-arp-sysctl"]["state"] == 2  # rs1 keeps the kernel's defaults


def _nagios_copy(source, directory, mode=0o600):
    """A copy of ``source`` that the nagios user owns (keys and secrets must be its own)."""
    path = os.path.join(directory, os.path.basename(source))
    shutil.copyfile(source, path)
    shutil.chown(path, USER, USER)
    os.chmod(path, mode)
    return path


def _agent_lines(name, address):
    """An Icinga 2 agent as `icinga2 node setup` leaves it: the master's zone, its own, and
    an API listener that accepts the master's commands."""
    return NODE_HEADER + [
        'const NodeName = "{}"'.format(name), 'const ZoneName = "{}"'.format(name),
        'object Endpoint "master1" {}', 'object Endpoint "{}" {{}}'.format(name),
        'object Zone "master" { endpoints = [ "master1" ] }',
        'object Zone "{0}" {{ endpoints = [ "{0}" ]; parent = "master" }}'.format(name),
        'object IcingaApplication "app" {}',
        'object ApiListener "api" {{ bind_host = "{}"; bind_port = 5665; '
        'accept_commands = true }}'.format(address)]


def test_the_shipped_example_runs_every_service_to_a_real_result(installed, workdir):
    """icinga-conf/ copied into a fresh Icinga 2 as the README says, with only what a site
    fills in: the addresses, the SNMP v3 file, the SSH settings and, since this kernel has no
    IPVS, a saved IPVS table for the director. A master (in the client's namespace, which is
    also the router, with the real snmpd), agents on director1 and rs1, NRPE with TLS on rs2,
    sshd on every real server (rs3 agentless, and the director's sweep). Every service of
    the example gets a real result: no UNKNOWN, and each line is its plugin's own."""
    import snmplab
    import sshlab
    reason = sshlab.unavailable_reason() or snmplab.unavailable_reason()
    if reason:
        unavailable(reason)
    with sshlab.LoginUser() as login_home, lab_module.Lab(realservers=3) as lab:
        director, (rs1, rs2, rs3), master_host = lab.director, lab.realservers, lab.client
        site = user_dir(workdir, "example-site")
        for host in (rs2, rs3):
            host.sysctl(PROTECT)
        rs1.sysctl(PROTECT)  # while the router learns the VIP: the director's MAC
        master_host.run(["/usr/bin/ping", "-c", "1", "-W", "1", lab_module.VIP], check=True)
        rs1.sysctl({"all.arp_ignore": 0, "all.arp_announce": 0})  # rs1: kernel defaults again
        ssh = sshlab.SSHLab(lab, login_home).start()
        router = snmplab.SnmpAgent(master_host, site, ["udp:{}:161".format(master_host.ip)])
        daemons = []
        try:
            router.start()
            secrets = user_dir(site, "nagios-secrets")
            key, known_hosts, v3 = (_nagios_copy(path, secrets) for path in (
                ssh.key, ssh.known_hosts, router.v3_file))
            ipvs = os.path.join(site, "ipvsadm-Ln")
            with open(ipvs, "w") as handle:
                handle.write(lab_module.ipvsadm_text(lab_module.VIP,
                                                     [rs.ip for rs in lab.realservers]))
            os.chmod(ipvs, 0o644)
            nrpe_home = user_dir(site, "nrpe")
            nrpe_conf = os.path.join(nrpe_home, "nrpe.cfg")
            with open(nrpe_conf, "w") as handle:
                handle.write("pid_file={}/nrpe.pid\nserver_address={}\nserver_port=5666\n"
                             "allowed_hosts={}\ndont_blame_nrpe=0\ncommand_timeout=30\n"
                             "disable_syslog=1\ninclude={}\n".format(
                                 nrpe_home, rs2.ip, master_host.ip,
                                 os.path.join(CONF, "nrpe.d", "lvs-dr-checks.cfg")))
            daemons.append(Daemon(rs2.ns, ["/usr/sbin/nrpe", "-c", nrpe_conf, "-f"], user=uid()))

            ssh_vars = ('  vars.lvs_ssh_user = "{}"\n  vars.lvs_ssh_key = "{}"\n'
                        '  vars.lvs_ssh_known_hosts = "{}"\n'.format(sshlab.LOGIN, key,
                                                                    known_hosts))
            with open(os.path.join(CONF, "lvs-dr-checks-hosts.conf.example")) as handle:
                hosts = handle.read()
            site_vars = {
                "director1": ssh_vars + '  vars.lvs_vip_arp_owner_from_ipvs_path = "{0}"\n'
                                        '  vars.lvs_realservers_from_ipvs_path = "{0}"\n'
                .format(ipvs),
                "rs3": ssh_vars}
            for name, text in site_vars.items():
                hosts = hosts.replace('object Host "{}" {{\n'.format(name),
                                      'object Host "{}" {{\n{}'.format(name, text))
            hosts = hosts.replace('"192.0.2.254"', '"{}"'.format(master_host.ip)).replace(
                "/etc/icinga2/lvs-dr-checks/router1.snmp", v3)
            for host in (director, rs1, rs2, rs3):
                assert '"{}"'.format(host.ip) in hosts  # the example's addresses are the lab's
            conf_d = user_dir(site, "zones.d-master")
            with open(os.path.join(conf_d, "lvs-dr-checks-hosts.conf"), "w") as handle:
                handle.write(hosts)
            shutil.copyfile(os.path.join(CONF, "lvs-dr-checks-services.conf"),
                            os.path.join(conf_d, "lvs-dr-checks-services.conf"))

            master_argv, master_home = icinga_node(site, "master1", NODE_HEADER + [
                'const NodeName = "master1"', 'const ZoneName = "master"',
                'object Endpoint "master1" {}',
                'object Zone "master" { endpoints = [ "master1" ] }',
                'object IcingaApplication "app" {}', 'object CheckerComponent "checker" {}',
                'object ApiListener "api" {{ bind_host = "{}"; bind_port = 5665 }}'.format(
                    master_host.ip),
                'object ApiUser "test" { password = "lvs-dr-test"; permissions = [ "*" ] }',
                'include "{}/*.conf"'.format(conf_d)])
            ca = os.path.join(master_home, "data", "certs")
            for name, host in (("director1", director), ("rs1", rs1)):
                argv, _ = icinga_node(site, name, _agent_lines(name, host.ip), ca_from=ca)
                daemons.append(Daemon(host.ns, argv))
            daemons.append(Daemon(master_host.ns, master_argv))
            api = icinga_api(master_host, master_host.ip, os.path.join(ca, "ca.crt"))
            wait_for(lambda: all((api("objects/endpoints/{}?attrs=connected".format(name))
                                  or {}).get("results", [{}])[0].get("attrs", {}).get("connected")
                                 for name in ("director1", "rs1")), 60, "both agents connected")
            checked = first_results(api, "every service of the example's first result")
        finally:
            logs = "".join(daemon.stop() for daemon in reversed(daemons))
            router.stop()
            ssh.stop()
    assert sorted(checked) == [
        "director1!lvs-realservers", "director1!lvs-vip-arp-owner", "router1!lvs-vip-arp-cache",
        "rs1!lvs-arp-sysctl", "rs1!lvs-vip-on-lo", "rs2!lvs-arp-sysctl-nrpe",
        "rs2!lvs-vip-on-lo-nrpe", "rs3!lvs-arp-sysctl-ssh", "rs3!lvs-vip-on-lo-ssh"], logs
    names = {"arp-sysctl": "ARP_SYSCTL", "vip-on-lo": "VIP_ON_LO", "realservers":
             "LVS_REALSERVERS", "vip-arp-owner": "VIP_ARP_OWNER", "vip-arp-cache": "VIP_ARP_CACHE"}
    for service, result in checked.items():
        plugin_name = next(n for part, n in names.items() if "lvs-" + part in service)
        words = {0: "OK", 1: "WARNING", 2: "CRITICAL"}
        assert result["state"] in words, "{}: {}\n{}".format(service, result["output"],
                                                             " ".join(result["command"]))
        assert result["output"].startswith("{} {} - ".format(plugin_name,
                                                             words[result["state"]])), result
        assert "UNKNOWN" not in result["output"], (service, result)
    agentless = {s: r["check_source"] for s, r in checked.items()}
    assert agentless["rs1!lvs-arp-sysctl"] == "rs1" and agentless[
        "director1!lvs-realservers"] == "director1"
    assert checked["rs1!lvs-arp-sysctl"]["state"] == 2  # rs1 keeps the kernel's defaults
    assert checked["director1!lvs-vip-arp-owner"]["output"].startswith(
        "VIP_ARP_OWNER CRITICAL - VIP {} answered by {}".format(lab_module.VIP, rs1.mac))
    assert checked["director1!lvs-realservers"]["state"] == 2
    assert checked["router1!lvs-vip-arp-cache"]["output"].startswith(
        "VIP_ARP_CACHE OK - 1 VIP in the router's table, each at an allowed owner")
    assert checked["rs3!lvs-arp-sysctl-ssh"]["check_source"] == "master1"
