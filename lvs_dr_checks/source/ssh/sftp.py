"""The same reads as source.local, over one SSH connection (source.ssh.connect): files through
SFTP, batched and pipelined, fixed commands through exec.

The batching reaches below paramiko's public API. Every private name used, proven by
tests/unit/test_ssh_prefetch.py and tests/daemons/test_ssh_lab.py on paramiko 5.1.0 (the venv)
and 2.12.0 (Debian 12's python3-paramiko):
  SFTPClient._request, ._async_request, ._read_response, ._convert_status, and the
    _async_response(kind, msg, number) callback paramiko makes on the object given to
    _async_request; SFTPClient.sock (replaced for the length of one write);
  SFTPFile._read, ._realpos, ._closed;
  SFTPAttributes._from_msg;
  paramiko.sftp.int64 (3.x and later), paramiko.py3compat.long (2.x).
"""

import contextlib
import errno
import posixpath
import shlex

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.local import (
    COMMAND_TIMEOUT,
    MAX_FILE_BYTES,
    MAX_SYMLINKS,
    Source,
    absolute,
    command_output,
    decode_text,
)

log = logger("ssh")
# SFTP requests prefetch() has in flight at once, each batch read to the end before the next:
# far from filling either side's window, and as many handles open as the server surely allows.
IN_FLIGHT = 64
# SFTP handles left open until the session ends (each holds a file descriptor of the server's
# sftp-server, whose limit is commonly 1024).
MAX_OPEN_HANDLES = 256


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

    def close(self):
        """The connection closed (every source sharing it is done)."""
        self.client.close()

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
