"""SSHSource.prefetch(): many SFTP requests in flight at once, and commands started early,
with the very answers of the reads one at a time. No root: paramiko's own server mode serves
a tree over a socket pair in this process (tests/sftp_pair.py).

The differential: for seeded random trees (directories of 0 to 140 names, so that a listing
takes several READDIR answers; files around the 32 KiB a read asks for; relative links, one
of them at the top, so that directories have two names; names that are not UTF-8, listed;
paths that do not exist), every listing and every file read through learn_top_level() and
prefetch() equals the same read without them, and what the local Source reads from
the tree itself; with the venv's paramiko here and with Debian's python3-paramiko (2.x) in a
process of its own."""

import json
import os
import subprocess
import threading

import fakessh
import paramiko
import pytest
from conftest import TESTS, unavailable
from paramiko import sftp as protocol
from paramiko import sftp_client
from sftp_pair import Link, differences

from lvs_dr_checks.cli import PluginError

DEBIAN_PYTHON = "/usr/bin/python3"


class Traffic:
    """What the client sends, when it writes to the channel and when it reads an answer, in
    order. The client is this thread: the in-process server writes its answers from threads
    of its own, whenever they are ready, and those writes are not the client's."""

    def __init__(self, monkeypatch):
        self.events = []
        sent, answered = sftp_client.SFTPClient._async_request, \
            sftp_client.SFTPClient._read_response
        written = paramiko.Channel.send

        def write(channel, data):
            if threading.current_thread() is threading.main_thread():
                self.events.append(("write", None))
            return written(channel, data)
        monkeypatch.setattr(paramiko.Channel, "send", write)

        def send(client, fileobj, kind, *args):
            self.events.append(("send", kind))
            return sent(client, fileobj, kind, *args)

        def read(client, *args, **kwargs):
            self.events.append(("read", None))
            return answered(client, *args, **kwargs)
        monkeypatch.setattr(sftp_client.SFTPClient, "_async_request", send)
        monkeypatch.setattr(sftp_client.SFTPClient, "_read_response", read)

    def sent(self, kind=None):
        return [k for e, k in self.events if e == "send" and kind in (None, k)]


@pytest.mark.parametrize("seed", range(8))
def test_prefetched_reads_equal_reads_one_at_a_time_and_the_tree_itself(tmp_path, seed):
    difference, (names, read) = differences(seed, str(tmp_path))
    assert difference is None, "seed {}: minimal case {}: {!r} one at a time, {!r} " \
                               "prefetched, {!r} read here".format(seed, *difference)
    assert names > 100 and read > 50  # more names than one READDIR answer holds


def test_prefetch_gives_the_same_answers_with_debians_paramiko():
    """The same differential under Debian's python3 and python3-paramiko, as the package
    runs (paramiko 2.x names SFTP's 64-bit offsets differently)."""
    probe = subprocess.run([DEBIAN_PYTHON, "-c", "import paramiko; print(paramiko.__version__)"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        unavailable("Debian's python3-paramiko is not installed")
    done = subprocess.run([DEBIAN_PYTHON, os.path.join(TESTS, "sftp_pair.py"), "0", "1", "2"],
                          capture_output=True, text=True, timeout=300, env=dict(
                              os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(TESTS),
                                                                      TESTS])))
    assert done.returncode == 0, done.stderr[-2000:]
    found = json.loads(done.stdout)
    assert {seed: difference for seed, (difference, _) in found.items()} == {
        "0": None, "1": None, "2": None}, "paramiko {}".format(probe.stdout.strip())
    assert all(names > 100 and read > 50 for _, (names, read) in found.values())


def test_prefetch_sends_every_request_before_it_reads_an_answer(tmp_path, monkeypatch):
    """One round trip for many: every OPENDIR before the first answer is read, in one write
    to the channel, then every OPEN; what was prefetched costs no request afterwards."""
    fs = tmp_path / "fs" / "etc"
    for number in range(5):
        (fs / "d{}".format(number)).mkdir(parents=True)
        (fs / "d{}".format(number) / "a.conf").write_text("a = {}\n".format(number))
    directories = ["/etc/d{}".format(n) for n in range(5)]
    files = [d + "/a.conf" for d in directories]
    link = Link(str(tmp_path))
    try:
        source = link.source()
        assert source.sftp  # the session's own start is not what is measured
        traffic = Traffic(monkeypatch)
        source.prefetch(directories=directories)
        assert traffic.events[:7] == [("send", protocol.CMD_OPENDIR)] * 5 + [
            ("write", None), ("read", None)]
        traffic.events.clear()
        source.prefetch(files=files)
        assert traffic.events[:7] == [("send", protocol.CMD_OPEN)] * 5 + [
            ("write", None), ("read", None)]
        assert traffic.sent(protocol.CMD_READ) == [protocol.CMD_READ] * 5
        traffic.events.clear()
        assert [source.listdir(d) for d in directories] == [["a.conf"]] * 5
        assert [source.read_text(f) for f in files] == ["a = {}\n".format(n) for n in range(5)]
        assert traffic.sent() == []
    finally:
        link.close()


def test_a_directory_with_two_names_is_listed_once(tmp_path, monkeypatch):
    """Merged /usr: /lib is a link to usr/lib, and the search paths name both. Once the top
    level is learnt (the root listed, its links read), a batch lists such a directory once,
    the kinds of the top-level names cost nothing, and a file read is not resolved again to
    find out whether it exists."""
    fs = tmp_path / "fs"
    (fs / "usr" / "lib" / "sysctl.d").mkdir(parents=True)
    (fs / "usr" / "lib" / "sysctl.d" / "50-a.conf").write_text("a = 1\n")
    (fs / "etc").mkdir()
    (fs / "lib").symlink_to("usr/lib")
    link = Link(str(tmp_path))
    try:
        source = link.source()
        source.learn_top_level()
        traffic = Traffic(monkeypatch)
        source.prefetch(directories=["/lib/sysctl.d", "/usr/lib/sysctl.d"])
        assert traffic.sent(protocol.CMD_OPENDIR) == [protocol.CMD_OPENDIR]
        source.prefetch(files=["/lib/sysctl.d/50-a.conf"])
        traffic.events.clear()
        assert source.listdir("/lib/sysctl.d") == source.listdir("/usr/lib/sysctl.d") == [
            "50-a.conf"]
        assert [source.kind(path) for path in ("/etc", "/lib", "/usr", "/var")] == [
            "dir", "link", "dir", None]
        assert source.read_optional("/lib/sysctl.d/50-a.conf") == "a = 1\n"
        assert traffic.sent() == []
    finally:
        link.close()


def test_a_prefetched_command_gives_the_output_run_gives(tmp_path, monkeypatch):
    """The command starts at prefetch() and is collected by run(); a command never
    prefetched still runs, after those started are read to the end."""
    fakessh.write_tree(str(tmp_path), arp_ignore=1, vip="192.0.2.100")
    link = Link(str(tmp_path))
    argv = ["/usr/sbin/ip", "-j", "addr", "show"]
    try:
        source = link.source()
        source.prefetch(commands=[argv, ["/usr/sbin/nft", "-j", "list", "ruleset"]])
        assert len(source._started) == 2
        assert source.run(argv) == link.source().run(argv)
        with pytest.raises(PluginError, match="unknown command"):
            source.run(["/usr/sbin/nft", "-j", "list", "ruleset"])
        assert source.run(["/usr/sbin/ip", "-o", "addr", "show"])
        assert source._started == {}
    finally:
        link.close()


def test_prefetch_over_a_dropped_connection_names_the_host_and_the_read(tmp_path):
    (tmp_path / "fs" / "etc").mkdir(parents=True)
    link = Link(str(tmp_path))
    source = link.source()
    assert source.sftp
    link.server.close()
    try:
        with pytest.raises(PluginError, match=r"^192\.0\.2\.11: SFTP failed on listdir /etc/a "
                                              r"and 1 more at once \("):
            source.prefetch(directories=["/etc/a", "/etc/b"])
    finally:
        link.close()


def test_handles_are_closed_with_the_session_or_in_one_batch(tmp_path, monkeypatch):
    """A handle read to the end costs no CLOSE of its own: they go out together (in one
    write) once MAX_OPEN_HANDLES are open, and the rest with the session."""
    from lvs_dr_checks.source.ssh import sftp

    directory = tmp_path / "fs" / "etc" / "many"
    directory.mkdir(parents=True)
    count = sftp.MAX_OPEN_HANDLES + 40
    for number in range(count):
        (directory / "{}.conf".format(number)).write_text("n = {}\n".format(number))
    files = ["/etc/many/{}.conf".format(n) for n in range(count)]
    link = Link(str(tmp_path))
    try:
        source = link.source()
        traffic = Traffic(monkeypatch)
        source.prefetch(directories=["/etc/many"], files=files)
        assert traffic.sent(protocol.CMD_CLOSE) == [protocol.CMD_CLOSE] * sftp.MAX_OPEN_HANDLES
        closes = [n for n, event in enumerate(traffic.events)
                  if event == ("send", protocol.CMD_CLOSE)]
        assert traffic.events[closes[-1] + 1] == ("write", None)
        assert ("write", None) not in traffic.events[closes[0]:closes[-1]]
        assert len(source._open_handles) == count + 1 - sftp.MAX_OPEN_HANDLES
        assert [source.read_text(f) for f in files] == ["n = {}\n".format(n)
                                                        for n in range(count)]
    finally:
        link.close()
