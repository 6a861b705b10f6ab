"""Where the checks' facts come from: files and fixed commands, read the same way everywhere.

A check never opens a file itself. It asks a source, so that the same code reads the local
host, a fixture tree (``root``) in the tests, or a remote host over SSH.
"""

import errno
import fnmatch
import json
import os
import posixpath
import select
import stat
import subprocess
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, BinaryIO, Optional

from lvs_dr_checks.errors import PluginError, logger

log = logger("source")

MAX_FILE_BYTES = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024
MAX_SYMLINKS = 40
COMMAND_TIMEOUT = 30
# The one sudo: the probe's run through the shipped rule, nft's ruleset read by an agent.
SUDO = "/usr/bin/sudo"


def _describe_os_error(path, exc):
    reasons = {
        errno.ENOENT: "not found",
        errno.EACCES: "permission denied (run as a user that may read it)",
        errno.EPERM: "permission denied (run as a user that may read it)",
        errno.ELOOP: "symlink loop",
        errno.EISDIR: "is a directory",
        errno.ENOTDIR: "a part of the path is not a directory",
        errno.EINVAL: "not a regular file",
    }
    return "{}: {}".format(path, reasons.get(exc.errno, exc.strerror or str(exc)))


def open_regular(path: str) -> BinaryIO:
    """A regular file opened for reading, without waiting on a FIFO or a device; anything
    else is OSError(EINVAL, "not a regular file")."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", path)
    return os.fdopen(fd, "rb")


class Source:
    """Files under ``root`` and fixed commands, on the local host.

    Paths given to the methods are the paths as the host sees them ("/etc/sysctl.d");
    ``root`` moves them under another directory (a configuration tree, a fixture).
    """

    def __init__(self, root="/"):
        self.root = root
        # A check's run is short and the tree does not change under it: each path's kind and
        # each directory's names are asked once (over SFTP each question is a round trip).
        self._kinds = {}
        self._links = {}
        self._listings = {}
        self._texts = {}
        self._outputs = {}
        self.routes = {}  # the kernel's route of each address asked (links.route_interfaces)

    def with_root(self, root: str) -> "Source":
        """The same host, files under another root."""
        return Source(root)

    def _host_path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    # The primitives below are what a remote source overrides.
    def _open(self, host_path):
        return open_regular(host_path)

    def _read_bytes(self, host_path, limit):
        # Small reads: /proc/sys refuses one buffer of several MiB (ENOMEM).
        chunks = []
        size = 0
        with self._open(host_path) as handle:
            while size < limit:
                wanted = min(READ_CHUNK, limit - size)
                chunk = handle.read(wanted)
                chunks.append(chunk)
                size += len(chunk)
                if len(chunk) < wanted:  # a short read is the end of a file (and over SFTP,
                    break                # asking again would cost a round trip)
        return b"".join(chunks)

    def _listdir(self, host_path):
        return os.listdir(host_path)

    def _lstat_mode(self, host_path):
        return os.lstat(host_path).st_mode

    def _readlink(self, host_path):
        return os.readlink(host_path)

    def _lstat_owner_mode(self, host_path):
        status = os.lstat(host_path)
        return status.st_uid, status.st_mode

    def run(self, argv: Sequence[str], stdin: Optional[str] = None,
            statuses: Collection[int] = (0,)) -> str:
        """Run a fixed command (full path, no shell), ``stdin`` (text) on its standard input,
        and return its stdout as text when it exits with one of ``statuses``; each command once
        a run (its failure too)."""
        key = (tuple(argv), stdin, statuses)
        if key not in self._outputs:
            try:
                self._outputs[key] = (self._run(argv, stdin, statuses), None)
            except PluginError as exc:
                self._outputs[key] = (None, exc)
        output, error = self._outputs[key]
        if error is not None:
            raise error
        return output

    def stream(self, argv: Sequence[str], stdin: str,
               statuses: Collection[int] = (0,)) -> Iterator[list[str]]:
        """Start a fixed command (full path, no shell) at once, ``stdin`` (text) on its standard
        input, and give its stdout's lines as it writes them, those of each read together: a
        long batch's first answers are used while it works on the last. At the end, a
        PluginError when it exited with another status than ``statuses``, or kept its reader
        waiting COMMAND_TIMEOUT in all (as run() bounds a command); one that cannot be
        started is raised here."""
        log.info("running %s", " ".join(argv))
        try:
            with _memory_file(stdin.encode()) as given:
                errors = _memory_file(b"")
                try:
                    process = subprocess.Popen(argv, stdin=given, stdout=subprocess.PIPE,
                                               stderr=errors, bufsize=0)
                except OSError:
                    errors.close()
                    raise
        except OSError as exc:
            raise PluginError("cannot run {}: {}".format(argv[0], exc.strerror or exc))
        return _lines(argv, process, errors, statuses)

    def _run(self, argv, stdin=None, statuses=(0,)):
        log.info("running %s", " ".join(argv))
        try:
            done = subprocess.run(argv, capture_output=True, timeout=COMMAND_TIMEOUT, check=False,
                                  input=None if stdin is None else stdin.encode())
        except OSError as exc:
            raise PluginError("cannot run {}: {}".format(argv[0], exc.strerror or exc))
        except subprocess.TimeoutExpired:
            raise _unfinished(argv)
        return command_output(argv, done.returncode, done.stdout, done.stderr,
                              statuses=statuses)

    # The public reads, in terms of the primitives.
    def _confined(self, path, follow=True):
        """The host path of ``path`` with every symlink resolved inside ``root`` (all of them,
        or all but the last component): an absolute link in a configuration tree points into
        the tree, never at the monitoring host's own files."""
        if self.root == "/":
            return self._host_path(path)
        if follow:
            return self._host_path(self.resolve(path))
        parent, name = posixpath.split(absolute(path))
        return self._host_path(posixpath.join(self.resolve(parent), name))

    def read_text(self, path: str) -> str:
        """The file's text (decode_text); files over 4 MiB refused. Each file
        is read once a run (both real-server checks of the sweep read the same ones)."""
        if path not in self._texts:
            self._texts[path] = self._read_text(path)
        return self._texts[path]

    def _read_text(self, path):
        log.debug("reading %s", path)
        try:
            data = self._read_bytes(self._confined(path), MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise PluginError(_describe_os_error(path, exc))
        if len(data) > MAX_FILE_BYTES:
            raise PluginError("{}: larger than {} MiB, not a file this check reads; "
                              "move it away or fix it".format(path, MAX_FILE_BYTES >> 20))
        return decode_text(data)

    def prefetch(self, directories: Iterable[str] = (), files: Iterable[str] = (),
                 commands: Iterable[Sequence[str]] = ()) -> None:
        """A hint that these directories are about to be listed, these files read and these
        commands run. A remote source sends the requests together (many in flight, where
        one after another each would cost a round trip), and starts the commands to run
        while it reads; a local one has nothing to gain and does each
        when asked. Either way the answers are those listdir(), read_text() and run() give:
        a failure is raised where it is asked for."""

    def read_optional(self, path: str) -> Optional[str]:
        """The file's text, or None when it does not exist. A file already read exists: its
        path is not resolved again (over SFTP a lstat for each part of it)."""
        if path in self._texts:
            return self._texts[path]
        if self.kind(self.resolve(path)) is None:
            return None
        return self.read_text(path)

    def listdir(self, path: str) -> list[str]:
        """Sorted names in a directory; an absent directory is empty."""
        if path not in self._listings:
            try:
                self._listings[path] = sorted(self._listdir(self._confined(path)))
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ENOTDIR):
                    raise PluginError(_describe_os_error(path, exc))
                self._listings[path] = []
        return list(self._listings[path])

    def kind(self, path: str) -> Optional[str]:
        """'file', 'dir', 'link', 'other' or None (absent), without following a link.
        Remembered per path: resolving links asks for the same directories again and again,
        and over SFTP each question is a round trip."""
        if path not in self._kinds:
            self._kinds[path] = self._kind(path)
        return self._kinds[path]

    def _kind(self, path):
        try:
            mode = self._lstat_mode(self._confined(path, follow=False))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return None
            raise PluginError(_describe_os_error(path, exc))
        if stat.S_ISLNK(mode):
            return "link"
        if stat.S_ISDIR(mode):
            return "dir"
        if stat.S_ISREG(mode):
            return "file"
        return "other"

    def owner_and_mode(self, path: str) -> tuple[int, int]:
        """(uid, st_mode) of a path, without following a last link."""
        try:
            return self._lstat_owner_mode(self._confined(path, follow=False))
        except OSError as exc:
            raise PluginError(_describe_os_error(path, exc))

    def executable(self, path: str) -> bool:
        """Whether the file (links followed) has an execute bit, as access(X_OK) asks for
        root."""
        try:
            mode = self._lstat_mode(self._confined(self.resolve(path), follow=False))
        except OSError:
            return False
        return stat.S_ISREG(mode) and bool(mode & 0o111)

    def resolve(self, path: str) -> str:
        """Follow symlinks as the host would, with absolute targets kept inside ``root``."""
        parts = [part for part in path.split("/") if part]
        resolved = "/"
        followed = 0
        while parts:
            part = parts.pop(0)
            if part == ".":
                continue
            if part == "..":
                resolved = posixpath.dirname(resolved)
                continue
            candidate = posixpath.join(resolved, part)
            if self.kind(candidate) != "link":
                resolved = candidate
                continue
            followed += 1
            if followed > MAX_SYMLINKS:
                raise PluginError("{}: symlink loop".format(path))
            target = self._link_target(candidate)
            if target.startswith("/"):
                resolved = "/"
            parts[:0] = [piece for piece in target.split("/") if piece]
        return resolved

    def _link_target(self, path):
        """A link's target, asked once a run (/lib is followed for every path under it)."""
        if path not in self._links:
            try:
                self._links[path] = self._readlink(self._host_path(path))  # parent resolved
            except OSError as exc:
                raise PluginError(_describe_os_error(path, exc))
        return self._links[path]


def absolute(path: str) -> str:
    """``path`` absolute and normalised: "etc//x" and "/etc/x" alike are "/etc/x" (normpath
    alone keeps a leading "//", and "//etc/x" would not match "/etc/x")."""
    return posixpath.normpath("/" + path.lstrip("/"))


def decode_text(data: bytes) -> str:
    """A file's text as the checks read it: bytes that are not UTF-8 kept as surrogate escapes
    (U+DC80-U+DCFF), so that the models see the bytes the real tools see (the kernel takes a
    lone 0xA0 for a space); printing escapes them (cli.printable)."""
    return data.decode("utf-8", "surrogateescape")


def _memory_file(data: bytes) -> BinaryIO:
    """An anonymous file in memory holding ``data``, read from its start: a command's
    standard input or error, which it never blocks on however large."""
    handle = os.fdopen(os.memfd_create("lvs-dr-checks", os.MFD_CLOEXEC), "w+b")
    handle.write(data)
    handle.flush()
    handle.seek(0)
    return handle


def _unfinished(argv):
    return PluginError("{} did not end within {} s: no verdict from what it wrote so far"
                       .format(" ".join(argv), COMMAND_TIMEOUT))


def _lines(argv, process, errors, statuses):
    waited = 0.0  # on the command only: a reader that asks late (the probe's pace) is not it
    with process, errors:
        rest = b""
        while True:
            asked = time.monotonic()
            ready, _, _ = select.select([process.stdout], [], [],
                                        max(COMMAND_TIMEOUT - waited, 0))
            waited += time.monotonic() - asked
            if not ready:
                process.kill()
                raise _unfinished(argv)
            data = process.stdout.read(READ_CHUNK)  # unbuffered: one read of what is there
            if not data:
                break
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            if len(rest) > MAX_FILE_BYTES:
                raise PluginError("{}: a line of its output is larger than {} MiB: no verdict "
                                  "comes from part of it".format(" ".join(argv),
                                                                 MAX_FILE_BYTES >> 20))
            yield [line.decode("utf-8", "surrogateescape") for line in lines]
        if rest:
            yield [rest.decode("utf-8", "surrogateescape")]
        process.wait()
        errors.seek(0)
        command_output(argv, process.returncode, b"", errors.read(), statuses=statuses)


def command_output(argv: Sequence[str], status: int, stdout: bytes, stderr: bytes,
                   where: str = '', statuses: Collection[int] = (0,)) -> str:
    """A fixed command's stdout as text (names that are not UTF-8 kept as surrogate escapes,
    as os.listdir gives them), or the error: a failure, or output over the read limit, which
    is never judged in part."""
    command = " ".join(argv)
    if status not in statuses:
        error = stderr.decode("utf-8", "replace").strip().splitlines()
        raise PluginError("{}{} failed (exit {}): {}".format(
            where, command, status, error[0] if error else "no message"))
    if len(stdout) > MAX_FILE_BYTES:
        raise PluginError("{}output of {} is larger than {} MiB: cut, and no verdict comes from "
                          "part of it".format(where, command, MAX_FILE_BYTES >> 20))
    return stdout.decode("utf-8", "surrogateescape")


def json_output(text: str, what: str) -> Any:
    """A command's JSON output, or the error that names it: output that is not JSON, or
    nested deeper than the parser follows (no iproute2 or nft output is), is not read in
    part."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise PluginError("{}: output is not JSON ({})".format(what, exc))
    except RecursionError:
        raise PluginError("{}: output is not JSON that it writes (nested too deeply)".format(
            what))


_CHARACTER_CLASSES = {"[:digit:]": "0-9", "[:alpha:]": "a-zA-Z", "[:alnum:]": "a-zA-Z0-9",
                      "[:lower:]": "a-z", "[:upper:]": "A-Z", "[:space:]": " \t",
                      "[:xdigit:]": "0-9a-fA-F"}


def name_matches(part: str, name: str) -> bool:
    """glob(3) for one path component: '[^' negates, [:class:] ranges, and a leading '.'
    matched only by a leading '.'."""
    for spelled_as, spelled in _CHARACTER_CLASSES.items():
        part = part.replace(spelled_as, spelled)
    return (fnmatch.fnmatchcase(name, part.replace("[^", "[!"))
            and (not name.startswith(".") or part.startswith(".")))


def glob_paths(source: "Source", pattern: str) -> list[str]:
    """The existing paths an absolute glob pattern names, as glob(3) finds them: component by
    component, sorted."""
    paths = ["/"]
    for part in [p for p in pattern.split("/") if p]:
        following = []
        for path in paths:
            if any(c in part for c in "*?["):
                following.extend(posixpath.join(path, name) for name in source.listdir(path)
                                 if name_matches(part, name))
            else:
                following.append(posixpath.join(path, part))
        paths = following
    return sorted(p for p in paths if source.kind(p) is not None)
