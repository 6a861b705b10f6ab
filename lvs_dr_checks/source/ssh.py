"""The same reads as lvs_dr_checks.source.local, over SSH: files through SFTP, fixed commands through exec.

Host keys are verified strictly against known_hosts (no automatic trust); authentication is by
key (or a password read from a file or the environment, never from the command line).
paramiko is imported only when a remote host is named.
"""

import base64
import contextlib
import errno
import fnmatch
import hashlib
import hmac
import ipaddress
import logging
import os
import posixpath
import re
import shlex
import socket
import stat
import time

from lvs_dr_checks.cli import PluginError, logger
from lvs_dr_checks.source.local import (
    MAX_FILE_BYTES,
    MAX_SYMLINKS,
    Source,
    absolute,
    command_output,
    decode_text,
    open_regular,
)

log = logger("ssh")
PASSWORD_ENV = "LVS_DR_SSH_PASSWORD"
COMMAND_TIMEOUT = 30
# SFTP requests prefetch() has in flight at once, each batch read to the end before the next:
# far from filling either side's window, and as many handles open as the server surely allows.
IN_FLIGHT = 64
# SFTP handles left open until the session ends (each holds a file descriptor of the server's
# sftp-server, whose limit is commonly 1024).
MAX_OPEN_HANDLES = 256


def fingerprint(key):
    digest = hashlib.sha256(key.asbytes()).digest()
    return "{} SHA256:{}".format(key.get_name(), base64.b64encode(digest).decode().rstrip("="))


_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})"
                       r"(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$")
# Bounds of the local files SSH reads: a config, a key, known_hosts, a password.
MAX_CONFIG_BYTES = 1024 * 1024
# known_hosts is streamed (a fleet's file, every host's keys, runs to many MiB); a line longer
# than any key is skipped.
MAX_KNOWN_HOSTS_BYTES = 64 * 1024 * 1024
MAX_KNOWN_HOSTS_LINE = 64 * 1024
MAX_KEY_BYTES = 64 * 1024
MAX_PASSWORD_BYTES = 4096
# ssh_config keywords this reader never acts on (they run commands or reach other hosts).
NOT_FOLLOWED = {"match": "Match", "proxycommand": "ProxyCommand", "proxyjump": "ProxyJump",
                "localcommand": "LocalCommand", "knownhostscommand": "KnownHostsCommand",
                "include": "Include"}


def valid_host(text, option="-H"):
    """A host name (RFC 1123, '_' tolerated) or an IP address without a scope; anything
    else is refused before it reaches ssh_config patterns, DNS or a log line."""
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    if not _HOSTNAME.match(text or ""):
        raise PluginError("{} {!r}: not a host name or IP address".format(option, text[:80]))
    return text


def read_local_file(path, what, limit, private=False):
    """A small local file as bytes: a regular file, at most ``limit`` bytes, and with
    ``private`` readable by its owner alone (as ssh demands of keys)."""
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise PluginError("{} {}: {}".format(what, path, exc.strerror or exc))
    with handle:
        mode = os.fstat(handle.fileno()).st_mode
        if private and mode & 0o077:
            raise PluginError("{} {}: readable by others (mode {:o}): chmod 600 it, as ssh "
                              "demands of secrets".format(what, path, stat.S_IMODE(mode)))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PluginError("{} {}: larger than {} bytes, not such a file".format(
            what, path, limit))
    return data


def _host_matches(patterns, host):
    """ssh_config's Host rule: some pattern matches and no negated one does."""
    host = host.lower()
    matched = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if fnmatch.fnmatchcase(host, pattern.lstrip("!").lower()):
            if negated:
                return False
            matched = True
    return matched


def parse_ssh_config(text, host):
    """({hostname, user, port, identityfile: [...]}, keywords not followed) for ``host``.

    Only HostName, User, Port and IdentityFile are read, first value wins as in ssh;
    Match blocks, ProxyCommand, ProxyJump, LocalCommand and Include are never acted on."""
    found = {"identityfile": []}
    ignored = set()
    applies = True
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*=\s*|\s+", line, maxsplit=1)
        keyword = parts[0].lower()
        value = parts[1].strip() if len(parts) > 1 else ""
        if len(value) > 1 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if keyword == "host":
            applies = _host_matches(value.split(), host)
        elif keyword in NOT_FOLLOWED:
            ignored.add(NOT_FOLLOWED[keyword])
            if keyword == "match":
                applies = False
        elif not applies:
            continue
        elif keyword == "identityfile":
            found["identityfile"].append(value)
        elif keyword in ("hostname", "user", "port") and keyword not in found:
            found[keyword] = value
    return found, sorted(ignored)


def _expand(value, host, user):
    """The % tokens ssh expands in HostName and IdentityFile that matter here."""
    tokens = {"%h": lambda: host, "%d": lambda: os.path.expanduser("~"), "%u": _local_user,
              "%r": lambda: user, "%%": lambda: "%"}
    return os.path.expanduser(re.sub(r"%[hdur%]", lambda m: tokens[m.group()](), value))


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

    def _ssh_config(self):
        path = os.path.expanduser("~/.ssh/config")
        if not os.path.exists(path):
            return {"identityfile": []}
        text = read_local_file(path, "ssh config", MAX_CONFIG_BYTES).decode("utf-8", "replace")
        config, ignored = parse_ssh_config(text, self.host)
        if ignored and path not in _WARNED:
            _WARNED.add(path)
            log.log(logging.WARNING if _verbosity() else logging.INFO,
                    "%s: %s not followed (only HostName, User, Port and IdentityFile are read)",
                    path, ", ".join(ignored))
        return config

    def _key_files(self, config, user):
        """The key files to offer, each checked to be a small regular file first."""
        if self.key_file:
            names = [self.key_file]
        else:
            names = [f for f in (_expand(n, self.host, user) for n in config["identityfile"])
                     if os.path.exists(f)]
        for name in names:
            read_local_file(name, "--ssh-key" if self.key_file else "IdentityFile", MAX_KEY_BYTES)
        return names or None

    def _host_keys(self, paramiko, client, hostname, port):
        """known_hosts read here, streamed and bounded, the way paramiko would look the host
        up (``hostname`` on port 22, else ``[hostname]:port``; plain or hashed names): only
        the lines naming it are parsed, so that a fleet's file costs a scan, not a key parse
        a line. @revoked keys are remembered whatever host they name; @cert-authority, other
        markers and lines paramiko cannot read are skipped."""
        if not os.path.exists(self.known_hosts):
            return set()
        wanted = _known_hosts_name(hostname, port)
        keys, revoked = client.get_host_keys(), set()
        for number, line in self._known_hosts_lines():
            if not line or line.startswith("#"):
                continue
            marker = None
            if line.startswith("@"):
                marker, _, line = line.partition(" ")
                line = line.strip()
            if marker not in (None, "@revoked"):
                log.info("%s:%d: skipped (%s)", self.known_hosts, number,
                         "certificate authorities are not supported"
                         if marker == "@cert-authority" else "unknown marker")
                continue
            if marker is None and not _names(paramiko, line.split(None, 1)[0], wanted):
                continue
            try:
                entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
            except Exception:  # any line paramiko cannot read is a line less, not a failure
                entry = None
            if entry is None:
                log.info("%s:%d: skipped (unreadable)", self.known_hosts, number)
            elif marker == "@revoked":
                revoked.add(entry.key.asbytes())
            else:
                for name in entry.hostnames:
                    keys.add(name, entry.key.get_name(), entry.key)
        return revoked

    def _known_hosts_lines(self):
        """(line number, text) of known_hosts, read a line at a time; a line longer than
        MAX_KNOWN_HOSTS_LINE is skipped, a file larger than MAX_KNOWN_HOSTS_BYTES refused."""
        try:
            handle = open_regular(self.known_hosts)
        except OSError as exc:
            raise PluginError("known_hosts {}: {}".format(self.known_hosts, exc.strerror or exc))
        with handle:
            size, number, skipping = 0, 0, False
            for chunk in iter(lambda: handle.readline(MAX_KNOWN_HOSTS_LINE), b""):
                size += len(chunk)
                if size > MAX_KNOWN_HOSTS_BYTES:
                    raise PluginError("known_hosts {}: larger than {} MiB, not such a file"
                                      .format(self.known_hosts, MAX_KNOWN_HOSTS_BYTES >> 20))
                ended = chunk.endswith(b"\n") or len(chunk) < MAX_KNOWN_HOSTS_LINE
                if skipping:  # the rest of a line too long
                    skipping = not ended
                    continue
                number += 1
                if not ended:
                    skipping = True
                    log.info("%s:%d: skipped (longer than %d bytes)", self.known_hosts, number,
                             MAX_KNOWN_HOSTS_LINE)
                    continue
                yield number, chunk.decode("utf-8", "replace").strip()

    def connect(self):
        """An authenticated paramiko client; every failure is a PluginError naming the fix."""
        import paramiko

        _quiet(paramiko)
        config = self._ssh_config()
        hostname = valid_host(_expand(config.get("hostname", self.host), self.host, ""),
                              "HostName in ~/.ssh/config for")
        try:
            port = int(self.port or config.get("port", 22))
        except ValueError:
            raise PluginError("Port in ~/.ssh/config for {} is not a number".format(self.host))
        user = self.user or config.get("user") or _local_user()
        key_files = self._key_files(config, user)
        password = self.password()
        where = "{}@{}:{}".format(user, self.host, port)
        client = paramiko.SSHClient()
        revoked = self._host_keys(paramiko, client, hostname, port)
        client.set_missing_host_key_policy(_Reject(self.known_hosts, port))
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
                                  .format(self.host, fingerprint(offered), self.known_hosts))
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
        except Exception as exc:  # paramiko raises many kinds; each is this host's failure
            client.close()
            if time.monotonic() - started >= self.timeout:
                raise PluginError("{} did not complete the SSH handshake within {:g}s: a "
                                  "tarpit, an overloaded host or not an SSH server".format(
                                      where, self.timeout))
            raise PluginError("cannot connect to {}: {}: {}".format(
                where, type(exc).__name__, exc))
        return client


QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux only


class _Socket(socket.socket):
    """The connection's TCP socket, with no wait for the peer's ACK on either side. Nagle's
    algorithm is off: the requests of a batch (SSHSource.prefetch), and the handshake's
    packets, go out together, none waiting for the ACK of the one before. And each read is
    ACKed at once: sshd leaves Nagle's algorithm on for sessions without a terminal, so the
    second of two small packets it sends in a row waits for this end's ACK, which Linux
    delays up to 40 ms (measured in the lab: 45 ms at the first channel of each
    connection)."""

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


_WARNED = set()


def _verbosity():
    import nagiosplugin
    runtime = nagiosplugin.Runtime.instance
    return runtime.verbose if runtime else 0


def _quiet(paramiko):
    """paramiko's own log records go to this run's debug channel (-vvv), never to stderr."""
    logger = logging.getLogger("paramiko")
    logger.propagate = False
    if not any(isinstance(h, _Forward) for h in logger.handlers):
        logger.addHandler(_Forward())


class _Forward(logging.Handler):
    def emit(self, record):
        log.debug("paramiko: %s", record.getMessage())


def _local_user():
    """This process's user name, as ssh takes it ($LOGNAME, $USER, else the passwd entry)."""
    import getpass
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a uid without a passwd entry (a container, a bare uid)
        raise PluginError("uid {} has no user name (no passwd entry, no $USER): give "
                          "--ssh-user".format(os.getuid()))


def _known_hosts_name(host, port):
    return host if port == 22 else "[{}]:{}".format(host, port)


def _names(paramiko, field, wanted):
    """Whether a known_hosts line's names (its first field) hold ``wanted``, as paramiko
    matches them: the same text, or a hashed name (|1|salt|hash) of it."""
    for name in field.split(","):
        if name == wanted:
            return True
        if name.startswith("|1|"):
            try:
                if hmac.compare_digest(paramiko.HostKeys.hash_host(wanted, name), name):
                    return True
            except Exception:  # a malformed salt names no host
                pass
    return False


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
        self._listed = {}  # host path -> mode, from the directory listings: no lstat needed
        # What a run learned is not there: directories listed whole ({path: names}) and
        # paths found missing. A path under either is answered without a round trip (the
        # boot models ask for many directories that do not exist, such as unit.wants).
        self._names = {}
        self._missing = set()
        self._started = {}  # argv -> what reads the output of a command prefetch() started
        self._open_handles = []  # read to the end, not yet closed (see _release)

    def with_root(self, root):
        """A source on the same connection with another root."""
        other = SSHSource(self.client, self.host, root)
        other._sftp = self._sftp
        other._listed = self._listed
        other._names = self._names
        other._missing = self._missing
        other._open_handles = self._open_handles
        return other

    def _known_missing(self, host_path):
        path = posixpath.normpath(host_path)
        while path not in ("/", ""):
            parent, name = posixpath.split(path)
            if path in self._missing or (parent in self._names and
                                         name not in self._names[parent]):
                return True
            path = parent
        return False

    @property
    def sftp(self):
        if self._sftp is None:
            try:
                self._sftp = self.client.open_sftp()
            except Exception as exc:
                raise PluginError("{}: SFTP is not available ({}): enable the sftp subsystem"
                                  .format(self.host, exc))
        return self._sftp

    def learn_top_level(self):
        """The root listed and its links read (a few requests), before a check asks for
        anything. With merged /usr, /lib is a link to usr/lib and the search paths name the
        same directories both ways (/lib/systemd/system, /usr/lib/systemd/system): known
        before the first batch, each is listed once; and no path's first part costs an
        lstat."""
        self._batch("listdir", ["/"], self._listings, self._list_at_once)
        self._batch("readlink", [path for path in ("/" + name for name in self._listings.get(
            "/", ())) if self.kind(path) == "link"], self._links, self._readlink_at_once)

    def _on_sftp(self, what, host_path, call):
        """One SFTP operation on a path (sent as bytes, so that names that are not UTF-8 go
        through); OSError stays an OSError, anything else the session throws is this host's
        failure, named."""
        if self._known_missing(host_path):
            raise OSError(errno.ENOENT, "no such file (known from this run)", host_path)
        try:
            return call(_wire(host_path))
        except OSError as exc:
            self._note_missing(exc, host_path)
            raise
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError("{}: SFTP failed on {} {} ({}: {}): is the connection or the "
                              "sftp subsystem limited?".format(self.host, what, host_path,
                                                               type(exc).__name__, exc))

    def _read_bytes(self, host_path, limit):
        """The file's bytes in as few round trips as SFTP allows: one read request per 32 KiB,
        a short answer being the end (no request only to hear EOF). Reads are bounded, and the
        remote user is unprivileged: no check of the file's type costs a round trip here. The
        handle is released (see _release)."""
        def read(path):
            chunks, size = [], 0
            handle = self.sftp.open(path, "rb")
            try:
                while size < limit:
                    wanted = min(handle.MAX_REQUEST_SIZE, limit - size)
                    try:
                        chunk = handle._read(wanted)
                    except EOFError:
                        break
                    handle._realpos += len(chunk)
                    chunks.append(chunk)
                    size += len(chunk)
                    if len(chunk) < wanted:
                        break
            finally:
                handle._closed = True  # paramiko would close it when it is collected
                self._release(handle.handle)
            return b"".join(chunks)
        return self._on_sftp("read", host_path, read)

    def _listdir(self, host_path):
        return self._on_sftp("listdir", host_path, self._readdir)

    def _readdir(self, path):
        """Names in a directory as the kernel has them: paramiko's listdir decodes them as
        strict UTF-8 and fails on any other name, so the protocol is spoken here."""
        from paramiko import sftp as protocol

        kind, msg = self.sftp._request(protocol.CMD_OPENDIR, path)
        if kind != protocol.CMD_HANDLE:
            raise protocol.SFTPError("expected a handle")
        handle = msg.get_binary()
        names = []
        try:
            while True:
                try:
                    kind, msg = self.sftp._request(protocol.CMD_READDIR, handle)
                except EOFError:
                    break
                if kind != protocol.CMD_NAME:
                    raise protocol.SFTPError("expected names")
                names.extend(self._entries(msg, path))
        finally:
            self._release(handle)
        self._note_listing(_text(path), names)
        return names

    def _entries(self, msg, path):
        """The names of one READDIR answer (``path``: the directory, as sent); their modes are
        kept, so that asking a listed name's kind costs no round trip."""
        from paramiko import SFTPAttributes

        names = []
        for _ in range(msg.get_int()):
            name = _text(msg.get_string())
            msg.get_string()  # the long name
            attributes = SFTPAttributes._from_msg(msg)
            if name not in (".", ".."):
                names.append(name)
                if attributes.st_mode:
                    self._listed[posixpath.join(_text(path), name)] = attributes.st_mode
        return names

    def _note_listing(self, host_path, names):
        """A directory listed whole: a name not in it is known to be missing."""
        self._names[posixpath.normpath(host_path)] = set(names)

    def _note_missing(self, error, host_path):
        if getattr(error, "errno", None) == errno.ENOENT:
            self._missing.add(posixpath.normpath(host_path))

    def listdir(self, path):
        """As Source.listdir; a directory reached through a link this run has followed
        (/lib/systemd/system, once /lib is known to be usr/lib) is listed once, by its real
        path."""
        if path not in self._listings:
            real = self._known_real(path)
            if real != path:
                self._listings[path] = self.listdir(real)
        return super().listdir(path)

    def _known_real(self, path, followed=0):
        """``path`` by its real name when a link this run already knows leads to it, else as it
        is: no round trip is spent to find out. A link is replaced by its target
        (/lib/systemd/system is /usr/lib/systemd/system: the same directory, whatever links
        lie further on); one whose target climbs ('..') is resolved as the host resolves it."""
        normal = absolute(path)
        for link, target in self._links.items():
            if normal == link or normal.startswith(link + "/"):
                if ".." in target.split("/") or followed >= MAX_SYMLINKS:
                    return self.resolve(path)  # a loop is named there
                return self._known_real(posixpath.join(posixpath.dirname(link), target)
                                        + normal[len(link):], followed + 1)
        return path

    def prefetch(self, directories=(), files=(), commands=()):
        for argv in commands:
            if tuple(argv) not in self._outputs and tuple(argv) not in self._started:
                try:
                    self._started[tuple(argv)] = self._start(argv)
                except PluginError:
                    break  # not now (MaxSessions?): run() starts it when it is asked for
        self._batch("listdir", directories, self._listings, self._list_at_once)
        self._batch("read", files, self._texts, self._read_at_once)

    def _batch(self, what, paths, done, read):
        """``read`` of the paths not yet ``done``, IN_FLIGHT requests at a time. A path's own
        failure is left to the call that asks for it, which names it there."""
        paths = [p for p in dict.fromkeys(paths) if p not in done]
        if not paths:
            return
        try:
            for start in range(0, len(paths), IN_FLIGHT):
                read(paths[start:start + IN_FLIGHT])
        except PluginError:
            pass
        except Exception as exc:  # the connection or the session failed
            raise PluginError("{}: SFTP failed on {} {}{} ({}: {}): is the connection or the "
                              "sftp subsystem limited?".format(
                                  self.host, what, paths[0], " and {} more at once".format(
                                      len(paths) - 1) if len(paths) > 1 else "",
                                  type(exc).__name__, exc))

    def _at_once(self, paths):
        """{host path as sent: [paths]}: each path once, by its known real path, and none
        known to be missing."""
        hosts = {}
        for path in paths:
            host = self._confined(self._known_real(path))
            if not self._known_missing(host):
                hosts.setdefault(_wire(host), []).append(path)
        return hosts

    def _list_at_once(self, paths):
        """Every OPENDIR sent at once, then READDIR on every handle until each is done."""
        from paramiko import sftp as protocol

        hosts = self._at_once(paths)
        pipeline = _Pipeline(self.sftp)
        handles = {}
        for host, (kind, msg) in pipeline.each(protocol.CMD_OPENDIR, {h: h for h in hosts}).items():
            if kind == protocol.CMD_HANDLE:
                handles[host] = (msg.get_binary(), [])
            else:
                self._note_missing(pipeline.error(msg), _text(host))
        while handles:
            answers = pipeline.each(protocol.CMD_READDIR,
                                    {host: handle for host, (handle, _) in handles.items()})
            for host, (kind, msg) in answers.items():
                handle, names = handles[host]
                if kind == protocol.CMD_NAME:
                    names.extend(self._entries(msg, host))
                    continue
                del handles[host]
                self._release(handle)
                if isinstance(pipeline.error(msg), EOFError):
                    self._note_listing(_text(host), names)
                    for path in hosts[host]:
                        self._listings[path] = sorted(names)

    def _read_at_once(self, paths):
        """Every OPEN sent at once, then one READ of each: a file that fills its read is
        larger, and left to read_text()."""
        from paramiko import SFTPAttributes, SFTPFile
        from paramiko import sftp as protocol

        hosts = self._at_once(paths)
        pipeline = _Pipeline(self.sftp)
        handles = {}
        opened = pipeline.each(protocol.CMD_OPEN, {h: h for h in hosts}, protocol.SFTP_FLAG_READ,
                               SFTPAttributes())
        for host, (kind, msg) in opened.items():
            if kind == protocol.CMD_HANDLE:
                handles[host] = msg.get_binary()
            else:
                self._note_missing(pipeline.error(msg), _text(host))
        size = SFTPFile.MAX_REQUEST_SIZE
        for host, (kind, msg) in pipeline.each(protocol.CMD_READ, handles, _offset(0),
                                               size).items():
            self._release(handles[host])
            if kind == protocol.CMD_DATA:
                data = msg.get_string()
            elif isinstance(pipeline.error(msg), EOFError):
                data = b""
            else:
                continue
            if len(data) < size:
                for path in hosts[host]:
                    self._texts[path] = decode_text(data)

    def _readlink_at_once(self, paths):
        """Every READLINK sent at once (``paths``: links whose directory is resolved)."""
        from paramiko import sftp as protocol

        pipeline = _Pipeline(self.sftp)
        hosts = {path: _wire(self._host_path(path)) for path in paths}
        for path, (kind, msg) in pipeline.each(protocol.CMD_READLINK, hosts).items():
            if kind == protocol.CMD_NAME and msg.get_int() == 1:
                self._links[path] = _text(msg.get_string())

    def _release(self, handle):
        """A handle read to the end is closed with the session, or with the others in one
        batch once MAX_OPEN_HANDLES are open: a CLOSE of its own would cost a request and an
        answer (on both sides) for nothing the check needs."""
        from paramiko import sftp as protocol

        self._open_handles.append(handle)
        if len(self._open_handles) >= MAX_OPEN_HANDLES:
            with _one_write(self.sftp):
                for each in self._open_handles:
                    self.sftp._async_request(type(None), protocol.CMD_CLOSE, each)
            del self._open_handles[:]

    def _lstat_mode(self, host_path):
        if host_path in self._listed:
            return self._listed[host_path]
        return self._on_sftp("lstat", host_path, lambda path: self.sftp.lstat(path).st_mode) or 0

    def _lstat_owner_mode(self, host_path):
        attributes = self._on_sftp("lstat", host_path, self.sftp.lstat)
        if attributes is None:
            raise OSError(errno.ENOENT, "no such file", host_path)
        return attributes.st_uid, attributes.st_mode

    def _readlink(self, host_path):
        target = self._on_sftp("readlink", host_path, self.sftp.readlink)
        if isinstance(target, bytes):
            return _text(target)
        if target is None:
            raise OSError(errno.EINVAL, "not a link", host_path)
        return target

    def read_text(self, path):
        try:
            return super().read_text(path)
        except PluginError as exc:
            raise PluginError("{}: {}".format(self.host, exc))

    def _run(self, argv, stdin=None, statuses=(0,)):
        """Run a fixed command, or collect the one prefetch() started. Commands prefetch()
        left running are read to the end first, so that a server allowing few sessions at
        once (MaxSessions) still runs this one."""
        finish = self._started.pop(tuple(argv), None) if stdin is None else None
        if finish is None:
            for key, started in list(self._started.items()):
                self._started[key] = _settled(started)
            finish = self._start(argv, stdin)
        return finish(statuses)

    def _start(self, argv, stdin=None):
        """Start a fixed command (each word quoted, nothing from input interpreted by a
        shell); returns what reads its output to the end."""
        command = " ".join(shlex.quote(word) for word in argv)
        log.info("%s: running %s", self.host, command)

        def failed(exc):  # a refused channel (MaxSessions), a dropped connection
            return PluginError("{}: running {} failed: {}: {}".format(
                self.host, argv[0], type(exc).__name__, exc))
        try:
            given, stdout, stderr = self.client.exec_command(command, timeout=COMMAND_TIMEOUT)
            if stdin is not None:
                given.write(stdin.encode())
                given.channel.shutdown_write()
        except Exception as exc:
            raise failed(exc)

        def finish(statuses=(0,)):
            try:
                output = stdout.read(MAX_FILE_BYTES + 1)
                status, error = 0, b""
                if len(output) > MAX_FILE_BYTES:  # refused below; the rest is never waited for
                    stdout.channel.close()
                else:
                    status = stdout.channel.recv_exit_status()
                    error = stderr.read(4096)
            except Exception as exc:
                raise failed(exc)
            return command_output(argv, status, output, error, where=self.host + ": ",
                                  statuses=statuses)
        return finish


def _wire(path):
    """A path as SFTP sends it: bytes, names that are not UTF-8 as the kernel has them."""
    return path.encode("utf-8", "surrogateescape")


def _text(path):
    """A path or name as SFTP gave it, as os.listdir gives names (surrogate escapes)."""
    return path.decode("utf-8", "surrogateescape")


def _settled(finish):
    """``finish`` done now: what gives its output (or raises its failure) when asked."""
    try:
        output = finish()
    except PluginError as exc:
        error = exc

        def fail(statuses=(0,)):
            raise error
        return fail
    return lambda statuses=(0,): output


def _offset(number):
    """An SFTP 64-bit offset: paramiko 3 and later name its type int64, 2.x long."""
    from paramiko import sftp
    if hasattr(sftp, "int64"):
        return sftp.int64(number)
    from paramiko import py3compat  # paramiko 2 (Debian 12)
    return py3compat.long(number)


class _Requests(list):
    """The SFTP requests of one batch, as paramiko writes them, to be sent in one write."""

    def send(self, data):
        self.append(bytes(data))
        return len(data)


@contextlib.contextmanager
def _one_write(sftp):
    """The SFTP requests made inside leave in one write to the channel: a few SSH packets,
    not one each (each costs both ends an encryption, a MAC and a system call)."""
    channel, requests = sftp.sock, _Requests()
    sftp.sock = requests  # where paramiko writes each request
    try:
        yield
    finally:
        sftp.sock = channel
    channel.sendall(b"".join(requests))


class _Pipeline:
    """SFTP requests sent together, answered by request number (in whatever order the
    server answers), through paramiko's own dispatch of asynchronous answers."""

    def __init__(self, sftp):
        self.sftp = sftp
        self.answers = {}

    def _async_response(self, kind, msg, number):  # called by paramiko
        self.answers[number] = (kind, msg)

    def each(self, command, targets, *args):
        """{key: (answer type, message)} of ``command`` sent for every value of ``targets``
        ({key: path or handle}) at once (in one write), followed by ``args``."""
        with _one_write(self.sftp):
            sent = {self.sftp._async_request(self, command, target, *args): key
                    for key, target in targets.items()}
        while len(self.answers) < len(sent):  # each call takes all of its answers
            self.sftp._read_response()
        return {key: self.answers.pop(number) for number, key in sent.items()}

    def error(self, msg):
        """The exception a STATUS answer stands for (EOFError: the end), None for OK."""
        try:
            self.sftp._convert_status(msg)
        except (EOFError, OSError) as exc:
            return exc
        return None
