"""net-snmp's real snmpd in a lab namespace (the router's), serving that namespace's own
neighbour table through IP-MIB; v2c and v3 authPriv credentials written to files as the
plugin reads them. Started as a process of the test and stopped by pid."""

import os
import shutil
import subprocess
import time

import lab as lab_module

SNMPD = "/usr/sbin/snmpd"
COMMUNITY = "lab-community-7"
V3_USER = "monitor"
V3_AUTH_KEY = "lab-auth-key-1"
V3_PRIV_KEY = "lab-priv-key-2"
# A second user with the SHA-2 and AES-256 that net-snmp names SHA-256 and AES-256
# (AES-256's key extended as net-snmp does it: the plugin's "AES256").
V3_STRONG_USER = "monitor256"
V3_AUTH_ONLY_USER = "monitorauth"  # authNoPriv


def unavailable_reason():
    if not os.path.exists(SNMPD):
        return "{} (Debian package snmpd) is missing".format(SNMPD)
    return None


def secret_file(path, text):
    """A file readable by its owner alone, as the plugin demands of secrets."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
        handle.write(text)
    return path


class SnmpAgent:
    """snmpd in ``host``'s namespace, on ``listen`` (net-snmp transport specs)."""

    def __init__(self, host, home, listen):
        self.host = host
        self.home = os.path.join(home, "snmpd-" + host.role)
        self.listen = listen
        self.process = None
        self.community_file = os.path.join(home, "community")
        self.v3_file = os.path.join(home, "v3")
        self.v3_strong_file = os.path.join(home, "v3-strong")
        self.v3_auth_only_file = os.path.join(home, "v3-auth-only")

    def start(self):
        os.makedirs(self.home, exist_ok=True)
        config = os.path.join(self.home, "snmpd.conf")
        with open(config, "w") as handle:
            handle.write("\n".join([
                "agentAddress " + ",".join(self.listen),
                "rocommunity {} default".format(COMMUNITY),
                "rocommunity6 {} default".format(COMMUNITY),
                'createUser {} SHA "{}" AES "{}"'.format(V3_USER, V3_AUTH_KEY, V3_PRIV_KEY),
                "rouser {} priv".format(V3_USER),
                'createUser {} SHA-256 "{}" AES-256 "{}"'.format(V3_STRONG_USER, V3_AUTH_KEY,
                                                                 V3_PRIV_KEY),
                "rouser {} priv".format(V3_STRONG_USER),
                'createUser {} SHA "{}"'.format(V3_AUTH_ONLY_USER, V3_AUTH_KEY),
                "rouser {} auth".format(V3_AUTH_ONLY_USER), ""]))
        secret_file(self.community_file, COMMUNITY + "\n")
        secret_file(self.v3_file, "\n".join([
            "user = " + V3_USER, "auth_protocol = SHA", "auth_key = " + V3_AUTH_KEY,
            "priv_protocol = AES", "priv_key = " + V3_PRIV_KEY, ""]))
        secret_file(self.v3_strong_file, "\n".join([
            "user = " + V3_STRONG_USER, "auth_protocol = SHA256", "auth_key = " + V3_AUTH_KEY,
            "priv_protocol = AES256", "priv_key = " + V3_PRIV_KEY, ""]))
        secret_file(self.v3_auth_only_file, "user = {}\nauth_key = {}\n".format(
            V3_AUTH_ONLY_USER, V3_AUTH_KEY))
        self.process = subprocess.Popen(lab_module.Host.netns_argv(self.host.ns, [
            SNMPD, "-f", "-C", "-c", config, "-Lf", os.path.join(self.home, "log"),
            "-p", os.path.join(self.home, "pid"), "--persistentDir=" + self.home]),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        ports = {spec.rsplit(":", 1)[1] for spec in self.listen}
        while not all(self.host.run(["/usr/bin/ss", "-Hlun", "sport = :" + port]).stdout.strip()
                      for port in ports):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                raise AssertionError("snmpd did not start in {}: {}".format(
                    self.host.role, self.log()[-500:]))
            time.sleep(0.05)
        return self

    def log(self):
        try:
            with open(os.path.join(self.home, "log")) as handle:
                return handle.read()
        except OSError:
            return ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)
