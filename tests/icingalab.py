"""The monitoring daemons' side of the lab: the plugins installed where Icinga 2 and NRPE
look for them, daemons started as processes of the test and stopped by pid, private Icinga 2
nodes with certificates from a test CA, and their REST API asked from inside a namespace."""

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import time

import lab as lab_module
from conftest import REPO, TESTS, unavailable

from lvs_dr_checks.entry import PLUGINS

# The shipped configuration, where NRPE and Icinga 2 (running as nagios) may read it.
CONF = lab_module.readable(os.path.join(REPO, "icinga-conf"))
PLUGIN_DIR = "/usr/lib/nagios/plugins"
SUDOERS = "/etc/sudoers.d/lvs-dr-checks"
USER = "nagios"
INSTALL_PREFIX = "lvs-dr-install-"
API_HELPER = os.path.join(TESTS, "icinga_api.py")
# The top of every cluster node's icinga2.conf: the plugin directory, the ITL, and the
# CheckCommands as the package installs them on every node (plugins-contrib includes them).
NODE_HEADER = ['const PluginDir = "{}"'.format(PLUGIN_DIR),
               'const PluginContribDir = "{}"'.format(PLUGIN_DIR),
               'const ManubulonPluginDir = "{}"'.format(PLUGIN_DIR),
               "include <itl>", "include <plugins>",
               'include "{}/lvs-dr-checks-commands.conf"'.format(CONF)]


def uid():
    return str(pwd.getpwnam(USER).pw_uid)


@contextlib.contextmanager
def installed_plugins(programs):
    """`make install` into a private prefix with links in the plugin directory, and the
    shipped sudo rule in /etc/sudoers.d; both removed afterwards. Unavailable (skip, or
    failure in CI) where the lab or one of ``programs`` is missing."""
    reason = lab_module.lab_unavailable_reason()
    missing = [p for p in programs if not os.access(p, os.X_OK)]
    try:
        pwd.getpwnam(USER)
    except KeyError:
        missing.append("user " + USER)
    if reason or missing:
        unavailable(reason or "missing: {}".format(", ".join(missing)))
    links = [os.path.join(PLUGIN_DIR, name) for name in PLUGINS]
    foreign = [link for link in links + [SUDOERS] if os.path.lexists(link)
               and INSTALL_PREFIX not in (os.readlink(link) if os.path.islink(link) else "")]
    if foreign:
        unavailable("would overwrite an existing installation: {}".format(", ".join(foreign)))
    with lab_module.readable_tempdir(INSTALL_PREFIX) as prefix:
        try:
            subprocess.run(["make", "install", "PREFIX=" + prefix, "PLUGINDIR=" + PLUGIN_DIR],
                           cwd=REPO, check=True, capture_output=True, timeout=600)
            shutil.copyfile(os.path.join(CONF, "sudoers.d", "lvs-dr-checks"), SUDOERS)
            os.chmod(SUDOERS, 0o440)
            yield prefix
        finally:
            for path in links + [SUDOERS]:
                if os.path.lexists(path):
                    os.unlink(path)


def user_dir(parent, name):
    path = os.path.join(parent, name)
    os.makedirs(path, exist_ok=True)
    shutil.chown(path, USER, USER)
    return path


class Daemon:
    """A daemon we own: Popen in a namespace, then terminate and wait."""

    def __init__(self, ns, argv, user=None):
        self.process = subprocess.Popen(lab_module.Host.netns_argv(ns, argv, user),
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop(self):
        self.process.terminate()
        try:
            return self.process.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.communicate()[0]


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out waiting for " + what)


OPENSSL = "/usr/bin/openssl"


def certificates(certs, node, ca_from=None):
    """A node's certificate signed by a test CA (made here, or the one in ``ca_from``), in the
    layout Icinga 2 reads (DataDir/certs: ca.crt, NODE.crt, NODE.key), owned by the user."""
    ca = ca_from or certs
    if not ca_from:
        subprocess.run([OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=lvs-dr-test-ca", "-keyout", certs + "/ca.key",
                        "-out", certs + "/ca.crt"], check=True, capture_output=True)
    else:
        shutil.copyfile(os.path.join(ca, "ca.crt"), os.path.join(certs, "ca.crt"))
    subprocess.run([OPENSSL, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=" + node, "-keyout", "{}/{}.key".format(certs, node),
                    "-out", "{}/{}.csr".format(certs, node)], check=True, capture_output=True)
    subprocess.run([OPENSSL, "x509", "-req", "-days", "1", "-in", "{}/{}.csr".format(certs, node),
                    "-CA", ca + "/ca.crt", "-CAkey", ca + "/ca.key", "-CAcreateserial",
                    "-out", "{}/{}.crt".format(certs, node)], check=True, capture_output=True)
    for name in os.listdir(certs):
        shutil.chown(os.path.join(certs, name), USER, USER)


def icinga_api(host, address, ca, user="test", password="lvs-dr-test"):
    """A function asking the Icinga 2 API at address (from inside host's namespace)."""
    def api(path, body=None):
        argv = [sys.executable, API_HELPER, "https://{}:5665/v1/{}".format(address, path),
                user, password, ca] + ([json.dumps(body)] if body else [])
        done = host.run(argv)
        return json.loads(done.stdout) if done.returncode == 0 else None
    return api


def first_results(api, what):
    """Every service rechecked now, then {name: last_check_result} once all have one."""
    assert api("actions/reschedule-check", {"type": "Service", "filter": "true", "force": True})

    def results():
        answer = api("objects/services?attrs=last_check_result")
        found = {s["name"]: s["attrs"]["last_check_result"] for s in answer["results"]} \
            if answer else {}
        return found if found and all(found.values()) else None
    return wait_for(results, 90, what)


def icinga_node(workdir, name, lines, ca_from=None):
    """A private Icinga 2 node: its directories and certificate, and the -D defines."""
    home = user_dir(workdir, name)
    for directory in ("data", "data/certs", "log", "cache", "spool", "run"):
        user_dir(home, directory)
    certificates(os.path.join(home, "data", "certs"), name, ca_from)
    config = os.path.join(home, "icinga2.conf")
    with open(config, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    os.chmod(config, 0o644)
    defines = ["-DRunAsUser=" + USER, "-DRunAsGroup=" + USER] + [
        "-D{}={}".format(key, os.path.join(home, directory)) for key, directory in (
            ("DataDir", "data"), ("LogDir", "log"), ("CacheDir", "cache"),
            ("SpoolDir", "spool"), ("InitRunDir", "run"))]
    return ["/usr/sbin/icinga2", "daemon", "-c", config] + defines, home
