"""sshd in the lab's real servers, with an unprivileged login user: for tests and the bench."""

import os
import subprocess
import time

import lab as lab_module

SSHD = "/usr/sbin/sshd"
RUN_DIR = "/run/sshd"
SSH_KEYGEN = "/usr/bin/ssh-keygen"
LOGIN = "lvsdrssh"
PROGRAMS = (SSHD, SSH_KEYGEN, "/usr/sbin/useradd", "/usr/sbin/userdel")


def unavailable_reason():
    missing = [p for p in PROGRAMS if not os.access(p, os.X_OK)]
    if missing:
        return "{} missing (Debian: openssh-server, passwd)".format(", ".join(missing))
    if os.geteuid() != 0:
        return "starting sshd and adding its login user needs root"
    return None


class LoginUser:
    """An unprivileged login user with a shell (sshd runs commands through it), removed after."""

    def __enter__(self):
        self.tempdir = lab_module.readable_tempdir("lvs-dr-ssh-")
        self.home = self.tempdir.__enter__()
        subprocess.run(["/usr/sbin/userdel", LOGIN], capture_output=True)
        # "*": no password, but not a locked account (sshd refuses locked ones).
        subprocess.run(["/usr/sbin/useradd", "--system", "--no-create-home", "--home-dir",
                        self.home, "--shell", "/bin/sh", "--password", "*", LOGIN], check=True)
        return self.home

    def __exit__(self, *exc):
        subprocess.run(["/usr/sbin/userdel", LOGIN], capture_output=True)
        self.tempdir.__exit__(*exc)


def keygen(path):
    subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", path], check=True)
    with open(path + ".pub") as handle:
        return handle.read().strip()


class SSHLab:
    """sshd in every real server of a lab (or the hosts given); the client key and known_hosts
    on the director."""

    def __init__(self, lab, home, hosts=None):
        self.lab = lab
        self.hosts = lab.realservers if hosts is None else hosts
        self.home = home
        self.key = os.path.join(home, "id_ed25519")
        self.known_hosts = os.path.join(home, "known_hosts")
        self.authorized = os.path.join(home, "authorized_keys")
        self.host_keys = {}
        self.daemons = []
        self.made_run_dir = False

    def start(self, extra=None):
        """sshd in every host; ``extra``: {host: [more addresses it listens on]}."""
        extra = extra or {}
        # sshd's privilege separation directory, removed again by stop() if made here.
        self.made_run_dir = not os.path.isdir(RUN_DIR)
        os.makedirs(RUN_DIR, mode=0o755, exist_ok=True)
        with open(self.authorized, "w") as handle:
            handle.write(keygen(self.key) + "\n")
        lines = []
        for host in self.hosts:
            host_key = os.path.join(self.home, "host_key_" + host.role)
            self.host_keys[host.ip] = keygen(host_key)
            addresses = [host.ip] + list(extra.get(host, []))
            lines.extend("{} {}".format(ip, " ".join(self.host_keys[host.ip].split()[:2]))
                         for ip in addresses)
            config = os.path.join(self.home, "sshd_config_" + host.role)
            with open(config, "w") as handle:
                handle.write("\n".join(["ListenAddress " + ip for ip in addresses] + [
                    "Port 22", "HostKey " + host_key, "MaxStartups 64",
                    "PidFile {}/sshd_{}.pid".format(self.home, host.role),
                    "AuthorizedKeysFile " + self.authorized, "StrictModes no", "UsePAM no",
                    "PasswordAuthentication no", "KbdInteractiveAuthentication no",
                    "PermitRootLogin no", "AllowUsers " + LOGIN,
                    "Subsystem sftp internal-sftp", "LogLevel ERROR", ""]))
            self.daemons.append(subprocess.Popen(
                lab_module.Host.netns_argv(host.ns, [SSHD, "-D", "-e", "-f", config]),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        with open(self.known_hosts, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        for host, daemon in zip(self.hosts, self.daemons):
            deadline = time.monotonic() + 10
            while not host.run(["/usr/bin/ss", "-Hltn", "sport = :22"]).stdout.strip():
                if time.monotonic() > deadline or daemon.poll() is not None:
                    daemon.kill()
                    raise AssertionError("sshd did not start in {}: {}".format(
                        host.role, daemon.communicate()[0][-500:]))
                time.sleep(0.1)
        return self

    def stop(self):
        for daemon in self.daemons:
            daemon.terminate()
            daemon.wait(timeout=10)
        if getattr(self, "made_run_dir", False):
            try:
                os.rmdir(RUN_DIR)
            except OSError:
                pass  # not empty: another sshd uses it

    def options(self, known_hosts=None, key=None):
        return ["--ssh-user", LOGIN, "--ssh-key", key or self.key,
                "--known-hosts", known_hosts or self.known_hosts]
