"""lvs-dr-watch in the lab against a real Icinga 2: the watcher runs in the director's
namespace as nobody with CAP_NET_RAW as its only privilege (as the shipped unit runs it),
knows the VIP and its real servers from an IPVS table, and pushes to an Icinga 2 master in
the client's namespace over TLS (a test CA, the master's name verified) as an ApiUser
limited by the shipped filter to the lvs-dr-watch service. The real servers start right;
rs1 then answers ARP for the VIP for 3 s by its kernel (arp_ignore 0), between two runs of
the active probe."""

import json
import os
import pwd
import re
import shutil
import time

import lab as lab_module
import pytest
from conftest import Outcome, unavailable
from icingalab import CONF, Daemon, icinga_api, icinga_node, wait_for

from lvs_dr_checks.watch import verdict

PROTECT = {"all.arp_ignore": 1, "all.arp_announce": 2}
PASSWORD = "lvs-dr-watch-test"
SERVICE = "director1!lvs-dr-watch"
HEARTBEAT, TTL = 3, 8
AMBIENT = [lab_module.SETPRIV, "--reuid", lab_module.NOBODY, "--regid", lab_module.NOBODY,
           "--clear-groups", "--inh-caps", "+net_raw", "--ambient-caps", "+net_raw", "--"]


def _apiuser():
    """The shipped ApiUser example with a password."""
    with open(os.path.join(CONF, "lvs-dr-watch-apiuser.conf.example")) as handle:
        return handle.read().replace('"CHANGE-ME"', '"{}"'.format(PASSWORD))


class Site:
    """The lab, the Icinga 2 master (in the client's namespace) and the watcher."""

    def __init__(self, lab, home):
        self.lab, self.home = lab, home
        master = lab.client
        self.icinga_argv, node = icinga_node(home, "master1", [
            'const NodeName = "master1"', 'const ZoneName = "master"', "include <itl>",
            'object Endpoint NodeName { }', "object Zone ZoneName { endpoints = [ NodeName ] }",
            'object IcingaApplication "app" { }', 'object CheckerComponent "checker" { }',
            'object ExternalCommandListener "command" {{ command_path = "{}" }}'.format(
                os.path.join(home, "master1", "icinga2.cmd")),
            'object ApiListener "api" {{ bind_host = "{}"; bind_port = 5665 }}'.format(master.ip),
            'object ApiUser "test" { password = "lvs-dr-test"; permissions = [ "*" ] }',
            'include "{}"'.format(os.path.join(CONF, "lvs-dr-watch.conf")),
            'object Host "director1" { check_command = "dummy"; vars.lvs_watch = true }',
            'object Service "other" { host_name = "director1"; import "lvs-dr-watch" }',
            _apiuser()])
        self.ca = os.path.join(node, "data", "certs", "ca.crt")
        self.api = icinga_api(master, master.ip, self.ca)
        self.icinga = None
        self.state_dir = self._owned("state", None)
        self.password = self._owned("password", PASSWORD)
        self.ipvs = os.path.join(home, "ipvsadm")
        with open(self.ipvs, "w") as handle:
            handle.write(lab_module.ipvsadm_text(lab_module.VIP,
                                                 [h.ip for h in lab.realservers]))
        os.chmod(self.ipvs, 0o644)
        self.watcher = None

    def _owned(self, name, text):
        path = os.path.join(self.home, name)
        if text is None:
            os.mkdir(path, 0o755)
        else:
            with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
                handle.write(text)
        shutil.chown(path, int(lab_module.NOBODY), int(lab_module.NOBODY))
        return path

    def start_icinga(self):
        self.icinga = Daemon(self.lab.client.ns, self.icinga_argv)
        wait_for(lambda: self.api("status/IcingaApplication"), 60, "the Icinga 2 API")

    def start_watcher(self):
        self.watcher = Daemon(self.lab.director.ns, AMBIENT + self.watch_argv() + [
            "--state-dir", self.state_dir,
            "--textfile", os.path.join(self.state_dir, "lvs_dr_watch.prom"),
            "--icinga-url", "https://{}:5665".format(self.lab.client.ip),
            "--icinga-service", SERVICE, "--icinga-user", "lvs-dr-watch",
            "--icinga-password-file", self.password, "--icinga-ca", self.ca,
            "--icinga-name", "master1"])

    def watch_argv(self):
        return [lab_module.plugin("lvs-dr-watch"), "--from-ipvs", self.ipvs,
                "--interval", "1", "--wait", "0.5", "--heartbeat", str(HEARTBEAT),
                "--ttl", str(TTL)]

    def result(self, service=SERVICE):
        """The service's last check result in Icinga, or None."""
        answer = self.api("objects/services/{}?attrs=last_check_result".format(service))
        return answer["results"][0]["attrs"]["last_check_result"] if answer else None

    def state(self):
        with open(os.path.join(self.state_dir, "state.json")) as handle:
            return json.load(handle)

    def probe(self):
        """The active check, as Icinga runs it on the director once a minute."""
        return Outcome(self.lab.director.run([lab_module.plugin("check_vip_arp_owner"),
                                              "--from-ipvs", self.ipvs]))

    def claim(self, seconds, meanwhile=lambda: None):
        """rs1 answers ARP for the VIP (its kernel, arp_ignore 0) for ``seconds``; what
        ``meanwhile`` returns, asked as soon as rs1 answers."""
        rs1 = self.lab.realservers[0]
        rs1.sysctl({"all.arp_ignore": 0})
        end = time.monotonic() + seconds
        try:
            return meanwhile()
        finally:
            time.sleep(max(end - time.monotonic(), 0))
            rs1.sysctl({"all.arp_ignore": 1})


@pytest.fixture(scope="module")
def site(lab):
    if not os.access("/usr/sbin/icinga2", os.X_OK):
        unavailable("/usr/sbin/icinga2 (Debian package icinga2-bin) is missing")
    for host in lab.realservers:
        host.sysctl(PROTECT)
    with lab_module.readable_tempdir("lvs-dr-watch-") as home:
        running = Site(lab, home)
        try:
            running.start_icinga()
            running.start_watcher()
            wait_for(lambda: (running.result() or {}).get("state") == 0, 30,
                     "the watcher's first OK in Icinga")
            yield running
        finally:
            for daemon in (running.watcher, running.icinga):
                if daemon:
                    print(daemon.stop())


def _foreign_starts(state):
    return [e for e in state["timeline"]["events"] if e["event"] == "foreign-start"]


def test_a_three_second_claim_reaches_icinga_at_once_and_the_poll_misses_it(site):
    rs1 = site.lab.realservers[0]
    before = site.probe()
    assert before.code == 0, before
    seen = site.claim(3, lambda: wait_for(
        lambda: (site.result() or {}).get("state") == 2 and time.time(), 10,
        "the claim's CRITICAL in Icinga"))
    after = site.probe()
    assert after.code == 0, after  # the active check, before and after: both miss it
    started = _foreign_starts(site.state())
    assert len(started) == 1 and started[0]["mac"] == rs1.mac
    print("first answer to Icinga's CRITICAL: {:.2f} s".format(seen - started[0]["at"]))
    assert seen - started[0]["at"] <= 1.5, (seen, started)
    result = site.result()
    assert result["output"].startswith(
        "VIP_ARP_WATCH CRITICAL - {} ({}, real server of TCP {}:80) claim".format(
            rs1.mac, rs1.ip, lab_module.VIP)), result
    assert result["check_source"] and "foreign_claims=1;;0;0" in result["performance_data"]
    # once the claim is over, it stays CRITICAL for the window, in Icinga and for NRPE
    wait_for(lambda: "claimed VIP" in (site.result() or {}).get("output", ""), 10,
             "the claim's end in Icinga")
    ended = next(e for e in site.state()["timeline"]["events"] if e["event"] == "foreign-end")
    pulled = Outcome(site.lab.director.run([lab_module.plugin("check_vip_arp_watch"),
                                            "--from-watch", os.path.join(site.state_dir,
                                                                         "state.json")],
                                           user=lab_module.NOBODY))
    assert (pulled.code, pulled.status) == (2, (
        "VIP_ARP_WATCH CRITICAL - {} ({}, real server of TCP {}:80) claimed VIP {} for {} at {}, "
        "1 time in the last 15 min (1 of 1 VIP affected)".format(
            rs1.mac, rs1.ip, lab_module.VIP, lab_module.VIP,
            verdict.span(ended["last"] - ended["first"]), verdict.clock(ended["first"]))))
    assert 1.5 <= ended["last"] - ended["first"] <= 3.5, ended
    with open(os.path.join(site.state_dir, "lvs_dr_watch.prom")) as handle:
        metrics = handle.read().splitlines()
    assert 'lvs_dr_watch_foreign_claims_total{{mac="{}",vip="{}"}} 1'.format(
        rs1.mac, lab_module.VIP) in metrics
    assert 'lvs_dr_watch_owner_info{{mac="{}",vip="{}"}} 1'.format(
        site.lab.director.mac, lab_module.VIP) in metrics


def test_the_watchers_apiuser_may_report_its_own_service_only(site):
    watch_user = icinga_api(site.lab.client, site.lab.client.ip, site.ca, "lvs-dr-watch",
                            PASSWORD)
    body = {"type": "Service", "exit_status": 0, "plugin_output": "forged"}
    assert watch_user("actions/process-check-result", dict(
        body, filter='host.name == "director1" && service.name == "other"')) is None
    assert watch_user("objects/services") is None
    assert "forged" not in ((site.api("objects/services/director1!other?attrs="
                                      "last_check_result") or {}).get("results", [{}])[0]
                            .get("attrs", {}).get("last_check_result") or {}).get("output", "")


def test_results_wait_while_icinga_is_down_and_arrive_when_it_returns(site):
    print(site.icinga.stop())
    site.claim(3)
    time.sleep(17)
    site.start_icinga()
    wait_for(lambda: "2 times in the last 15 min" in (site.result() or {}).get("output", ""),
             15, "the claim made while Icinga was down, after it returned")
    assert len(_foreign_starts(site.state())) == 2


def test_a_killed_watcher_turns_the_service_unknown_within_its_ttl(site):
    site.watcher.process.kill()
    site.watcher.process.wait()
    killed = time.monotonic()
    result = wait_for(lambda: (site.result() or {}).get("state") == 3 and site.result(),
                      TTL + 10, "the fallback UNKNOWN")
    print("SIGKILL to Icinga's fallback UNKNOWN: {:.1f} s".format(time.monotonic() - killed))
    assert time.monotonic() - killed <= TTL + 5
    assert result["output"].startswith("no result from lvs-dr-watch within the ttl")


def test_a_restart_keeps_the_history_and_sends_no_duplicate(site):
    before = site.state()["timeline"]
    site.start_watcher()
    wait_for(lambda: (site.result() or {}).get("state") == 2, 15,
             "the restarted watcher's first result")
    assert "2 times in the last 15 min" in site.result()["output"]
    time.sleep(4)  # rounds go on: the claims over stay over, nothing is new
    after = site.state()["timeline"]
    assert after["events"] == before["events"] and after["next_id"] == before["next_id"]
    log = site.watcher.stop()
    site.watcher = None
    assert re.search(r"history restored from \S+: {} events".format(len(before["events"])),
                     log), log


def test_the_external_command_file_is_the_alternative(site):
    """A second watcher, as the nagios user (the command pipe's group), writes
    PROCESS_SERVICE_CHECK_RESULT into Icinga 2's command pipe for another service."""
    uid = str(pwd.getpwnam("nagios").pw_uid)
    state = os.path.join(site.home, "state-command-file")
    os.mkdir(state)
    shutil.chown(state, "nagios", "nagios")
    as_nagios = [lab_module.SETPRIV, "--reuid", uid, "--regid", uid, "--clear-groups",
                 "--inh-caps", "+net_raw", "--ambient-caps", "+net_raw", "--"]
    watcher = Daemon(site.lab.director.ns, as_nagios + site.watch_argv() + [
        "--state-dir", state, "--icinga-service", "director1!other",
        "--command-file", os.path.join(site.home, "master1", "icinga2.cmd")])
    try:
        result = wait_for(lambda: "VIP_ARP_WATCH" in (site.result("director1!other") or {})
                          .get("output", "") and site.result("director1!other"), 30,
                          "a result through the command pipe")
    finally:
        log = watcher.stop()
    assert result["output"].startswith(  # a watcher of its own: no claim in its history
        "VIP_ARP_WATCH OK - 1 VIP watched on eth0 since "), (result, log)
    assert "foreign_claims=" in " ".join(result["performance_data"]), result
