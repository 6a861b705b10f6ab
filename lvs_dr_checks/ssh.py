"""The same reads as lvs_dr_checks.source, over SSH: files through SFTP, fixed commands through exec.

Host keys are verified strictly against known_hosts (no automatic trust); authentication is by
key (or a password read from a file or the environment, never from the command line).
paramiko is imported only when a remote host is named.
"""

import base64
import errno
import hashlib
import os
import shlex
import socket

from lvs_dr_checks.cli import PluginError, logger
from lvs_dr_checks.source import MAX_FILE_BYTES, Source

log = logger("ssh")
PASSWORD_ENV = "LVS_DR_SSH_PASSWORD"
COMMAND_TIMEOUT = 30


def fingerprint(key):
    digest = hashlib.sha256(key.asbytes()).digest()
    return "{} SHA256:{}".format(key.get_name(), base64.b64encode(digest).decode().rstrip("="))


class Target:
    """Where and how to connect: host, port, user, key, known_hosts, password source."""

    def __init__(self, host, port=None, user=None, key_file=None, known_hosts=None,
                 password_file=None, timeout=10.0):
        self.host = host
        self.port = port
        self.user = user
        self.key_file = key_file
        self.known_hosts = known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        self.password_file = password_file
        self.timeout = timeout

    def password(self):
        if self.password_file:
            try:
                with open(self.password_file) as handle:
                    return handle.readline().rstrip("\n")
            except OSError as exc:
                raise PluginError("--ssh-password-file {}: {}".format(self.password_file,
                                                                       exc.strerror or exc))
        return os.environ.get(PASSWORD_ENV)

    def _ssh_config(self, paramiko):
        path = os.path.expanduser("~/.ssh/config")
        if not os.path.isfile(path):
            return {}
        try:
            return paramiko.SSHConfig.from_path(path).lookup(self.host)
        except (OSError, ValueError, paramiko.SSHException):
            return {}

    def connect(self):
        """An authenticated paramiko client; every failure is a PluginError naming the fix."""
        import paramiko

        config = self._ssh_config(paramiko)
        hostname = config.get("hostname", self.host)
        port = int(self.port or config.get("port", 22))
        user = self.user or config.get("user") or _local_user()
        key_files = [self.key_file] if self.key_file else config.get("identityfile")
        where = "{}@{}:{}".format(user, self.host, port)
        client = paramiko.SSHClient()
        try:
            client.load_host_keys(self.known_hosts)
        except FileNotFoundError:
            pass
        except (OSError, paramiko.SSHException) as exc:
            raise PluginError("cannot read known_hosts {}: {}".format(self.known_hosts, exc))
        client.set_missing_host_key_policy(_Reject(self.known_hosts, port))
        log.info("connecting to %s (known_hosts %s)", where, self.known_hosts)
        try:
            client.connect(hostname, port=port, username=user, key_filename=key_files,
                           password=self.password(), timeout=self.timeout,
                           banner_timeout=self.timeout, auth_timeout=self.timeout,
                           allow_agent=True, look_for_keys=not key_files)
        except PluginError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise PluginError("host key of {} has CHANGED: it offers {}, known_hosts {} has {}; "
                              "if the change is expected, remove the old key (ssh-keygen -f {} "
                              "-R {}) and add the new one deliberately".format(
                                  self.host, fingerprint(exc.key), self.known_hosts,
                                  fingerprint(exc.expected_key), self.known_hosts,
                                  _known_hosts_name(self.host, port)))
        except paramiko.AuthenticationException as exc:
            client.close()
            raise PluginError("authentication to {} failed ({}): check --ssh-user and "
                              "--ssh-key, and that the key is in the user's authorized_keys"
                              .format(where, exc))
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            errors = list(exc.errors.values())
            if all(getattr(e, "errno", None) == errno.ECONNREFUSED for e in errors):
                raise PluginError("connection to {} refused: is sshd running there, on that "
                                  "port?".format(where))
            raise PluginError("{} is unreachable ({}): host down or wrong address".format(
                where, errors[0].strerror if errors and errors[0].strerror else exc))
        except (socket.timeout, TimeoutError):
            client.close()
            raise PluginError("{} did not answer within {:g}s: host down or port filtered"
                              .format(where, self.timeout))
        except (OSError, paramiko.SSHException, EOFError) as exc:
            client.close()
            raise PluginError("cannot connect to {}: {}".format(where, exc))
        return client


def _local_user():
    import getpass
    return getpass.getuser()


def _known_hosts_name(host, port):
    return host if port == 22 else "[{}]:{}".format(host, port)


class _Reject:
    """Refuse an unknown host key, naming its fingerprint and how to accept it on purpose."""

    def __init__(self, known_hosts, port):
        self.known_hosts = known_hosts
        self.port = port

    def missing_host_key(self, client, hostname, key):
        raise PluginError("host key of {} ({}) is not in {}: verify the fingerprint out of band, "
                          "then add it deliberately (ssh-keyscan -p {} {} >> {})".format(
                              hostname, fingerprint(key), self.known_hosts, self.port, hostname,
                              self.known_hosts))


class SSHSource(Source):
    """Files under ``root`` on a remote host, and fixed commands run there."""

    def __init__(self, client, host, root="/"):
        super().__init__(root)
        self.client = client
        self.host = host
        self._sftp = None

    def with_root(self, root):
        """A source on the same connection with another root."""
        other = SSHSource(self.client, self.host, root)
        other._sftp = self._sftp
        return other

    @property
    def sftp(self):
        if self._sftp is None:
            try:
                self._sftp = self.client.open_sftp()
            except Exception as exc:
                raise PluginError("{}: SFTP is not available ({}): enable the sftp subsystem"
                                  .format(self.host, exc))
        return self._sftp

    def _open(self, host_path):
        return self.sftp.open(host_path, "rb")

    def _listdir(self, host_path):
        return self.sftp.listdir(host_path)

    def _lstat_mode(self, host_path):
        return self.sftp.lstat(host_path).st_mode or 0

    def _readlink(self, host_path):
        return self.sftp.readlink(host_path)

    def read_text(self, path):
        try:
            return super().read_text(path)
        except PluginError as exc:
            raise PluginError("{}: {}".format(self.host, exc))

    def run(self, argv):
        """Run a fixed command: each word quoted, nothing from input interpreted by a shell."""
        command = " ".join(shlex.quote(word) for word in argv)
        log.info("%s: running %s", self.host, command)
        try:
            _, stdout, stderr = self.client.exec_command(command, timeout=COMMAND_TIMEOUT)
            output = stdout.read(MAX_FILE_BYTES)
            status = stdout.channel.recv_exit_status()
            error = stderr.read(4096).decode("utf-8", "replace").strip().splitlines()
        except (OSError, EOFError) as exc:
            raise PluginError("{}: running {} failed: {}".format(self.host, argv[0], exc))
        if status != 0:
            raise PluginError("{}: {} failed (exit {}): {}".format(
                self.host, " ".join(argv), status, error[0] if error else "no message"))
        return output.decode("utf-8", "replace")
