"""One authenticated SSH connection to the host of -H (or a real server of the sweep), made
the way ssh would make it from ~/.ssh/config, the key or password given and known_hosts, with
every failure one line naming the fix. paramiko is imported only here, only when connecting."""

import errno
import logging
import os
import socket
import time

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.localfiles import MAX_KEY_BYTES, MAX_PASSWORD_BYTES, read_local_file
from lvs_dr_checks.source.ssh import known_hosts
from lvs_dr_checks.source.ssh.config import expand, local_user, read_ssh_config, valid_host

log = logger("ssh")
PASSWORD_ENV = "LVS_DR_SSH_PASSWORD"


class Target:
    """Where and how to connect: host, port, user, key, known_hosts, password source."""

    def __init__(self, host, port=None, user=None, key_file=None, known_hosts=None,
                 password_file=None, timeout=10.0):
        self.host = valid_host(host)
        self.port = port
        self.user = user
        self.key_file = key_file
        self.known_hosts = known_hosts or os.path.expanduser("~/.ssh/known_hosts")
        self.password_file = password_file
        self.timeout = timeout

    def password(self):
        if self.password_file:
            data = read_local_file(self.password_file, "--ssh-password-file",
                                   MAX_PASSWORD_BYTES, private=True)
            return data.decode("utf-8", "replace").splitlines()[0] if data.strip() else ""
        return os.environ.get(PASSWORD_ENV)

    def _key_files(self, config, user):
        """The key files to offer, each checked to be a small regular file first."""
        if self.key_file:
            names = [self.key_file]
        else:
            names = [f for f in (expand(n, self.host, user) for n in config["identityfile"])
                     if os.path.exists(f)]
        for name in names:
            read_local_file(name, "--ssh-key" if self.key_file else "IdentityFile", MAX_KEY_BYTES)
        return names or None

    def connect(self):
        """An authenticated paramiko client; every failure is a PluginError naming the fix."""
        import paramiko

        _quiet(paramiko)
        config = read_ssh_config(self.host)
        hostname = valid_host(expand(config.get("hostname", self.host), self.host, ""),
                              "HostName in ~/.ssh/config for")
        try:
            port = int(self.port or config.get("port", 22))
        except ValueError:
            raise PluginError("Port in ~/.ssh/config for {} is not a number".format(self.host))
        user = self.user or config.get("user") or local_user()
        key_files = self._key_files(config, user)
        password = self.password()
        where = "{}@{}:{}".format(user, self.host, port)
        client = paramiko.SSHClient()
        revoked = known_hosts.load(paramiko, client, self.known_hosts, hostname, port)
        client.set_missing_host_key_policy(known_hosts.Reject(self.known_hosts, port))
        log.info("connecting to %s (known_hosts %s)", where, self.known_hosts)
        started = time.monotonic()
        try:
            client.connect(hostname, port=port, username=user, key_filename=key_files,
                           password=password, timeout=self.timeout,
                           sock=_connection(paramiko, hostname, port, self.timeout),
                           banner_timeout=self.timeout, auth_timeout=self.timeout,
                           allow_agent=True, look_for_keys=not key_files)
            offered = client.get_transport().get_remote_server_key()
            if offered.asbytes() in revoked:
                raise PluginError("host key of {} ({}) is marked @revoked in {}: refusing it"
                                  .format(self.host, known_hosts.fingerprint(offered),
                                          self.known_hosts))
        except Exception as exc:  # paramiko raises many kinds; each is this host's failure
            client.close()
            raise self._failure(paramiko, exc, where, port, time.monotonic() - started)
        return client

    def _failure(self, paramiko, exc, where, port, took):
        """The PluginError that names what went wrong while connecting, and the fix."""
        if isinstance(exc, PluginError):
            return exc
        if isinstance(exc, paramiko.BadHostKeyException):
            return PluginError("host key of {} has CHANGED: it offers {}, known_hosts {} has {}; "
                               "if the change is expected, remove the old key (ssh-keygen -f {} "
                               "-R {}) and add the new one deliberately".format(
                                   self.host, known_hosts.fingerprint(exc.key), self.known_hosts,
                                   known_hosts.fingerprint(exc.expected_key), self.known_hosts,
                                   known_hosts.known_hosts_name(self.host, port)))
        if isinstance(exc, paramiko.AuthenticationException):
            return PluginError("authentication to {} failed ({}): check --ssh-user and "
                               "--ssh-key, and that the key is in the user's authorized_keys"
                               .format(where, exc))
        if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
            errors = list(exc.errors.values())
            if all(getattr(e, "errno", None) == errno.ECONNREFUSED for e in errors):
                return PluginError("connection to {} refused: is sshd running there, on that "
                                   "port?".format(where))
            return PluginError("{} is unreachable ({}): host down or wrong address".format(
                where, errors[0].strerror if errors and errors[0].strerror else exc))
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return PluginError("{} did not answer within {:g}s: host down or port filtered"
                               .format(where, self.timeout))
        if took >= self.timeout:
            return PluginError("{} did not complete the SSH handshake within {:g}s: a "
                               "tarpit, an overloaded host or not an SSH server".format(
                                   where, self.timeout))
        return PluginError("cannot connect to {}: {}: {}".format(where, type(exc).__name__, exc))


QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _Socket(socket.socket):
    """The connection's TCP socket, with no wait for the peer's ACK on either side. Nagle's
    algorithm is off: the requests of a batch (SSHSource.prefetch), and the handshake's
    packets, go out together, none waiting for the ACK of the one before. And each read is
    ACKed at once: sshd leaves Nagle's algorithm on for sessions without a terminal, so the
    second of two small packets it sends in a row waits for this end's ACK, which Linux
    delays up to 40 ms (the figures: docs/architecture.md)."""

    def recv(self, size, *flags):
        if QUICKACK is not None:  # Linux: the flag lasts until the kernel delays an ACK again
            self.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        return super().recv(size, *flags)


def _connection(paramiko, hostname, port, timeout):
    """A _Socket connected to the first of the host's addresses that takes it, tried as
    paramiko tries them: refused or unreachable goes on to the next, any other error is
    raised, and when none took it, NoValidConnectionsError names each address's error."""
    errors = {}
    for family, _, _, _, address in socket.getaddrinfo(hostname, port, socket.AF_UNSPEC,
                                                       socket.SOCK_STREAM):
        sock = _Socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH):
                raise
            errors[address] = exc
    raise paramiko.ssh_exception.NoValidConnectionsError(errors)


def _quiet(paramiko):
    """paramiko's own log records go to this run's debug channel (-vvv), never to stderr."""
    logger = logging.getLogger("paramiko")
    logger.propagate = False
    if not any(isinstance(h, _Forward) for h in logger.handlers):
        logger.addHandler(_Forward())


class _Forward(logging.Handler):
    def emit(self, record):
        log.debug("paramiko: %s", record.getMessage())
