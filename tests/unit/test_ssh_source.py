"""SSHSource's knowledge of what is not there, without a connection: a path under a directory
listed whole without it, or under a path found missing, is answered without a round trip;
anything else still asks the server (a sent question is a call here). And the connection's
TCP socket, over 127.0.0.1."""

import errno
import socket

import paramiko
import pytest

from lvs_dr_checks.source.ssh import connect
from lvs_dr_checks.source.ssh.sftp import SSHSource


class Asked:
    """What reached the server, and how it answered: missing, or found."""

    def __init__(self, missing=()):
        self.paths = []
        self.missing = set(missing)

    def __call__(self, path):
        self.paths.append(path.decode())
        if path.decode() in self.missing:
            raise FileNotFoundError(errno.ENOENT, "No such file", path.decode())
        return 0o40755


def test_a_name_absent_from_a_listed_directory_costs_no_round_trip():
    source = SSHSource(None, "192.0.2.11")
    source._names["/etc/systemd/system"] = {"multi-user.target.wants", "vip.service"}
    asked = Asked()
    for path in ("/etc/systemd/system/network-online.target.wants",
                 "/etc/systemd/system/network-online.target.wants/x.service"):
        with pytest.raises(OSError) as missing:
            source._on_sftp("listdir", path, asked)
        assert missing.value.errno == errno.ENOENT
    source._on_sftp("listdir", "/etc/systemd/system/multi-user.target.wants", asked)
    source._on_sftp("lstat", "/etc/systemd/user", asked)  # its parent was never listed
    assert asked.paths == ["/etc/systemd/system/multi-user.target.wants", "/etc/systemd/user"]


def test_a_path_found_missing_answers_for_everything_under_it():
    source = SSHSource(None, "192.0.2.11")
    asked = Asked(missing={"/usr/local/lib/systemd/system"})
    for path in ("/usr/local/lib/systemd/system", "/usr/local/lib/systemd/system/a.wants",
                 "/usr/local/lib/systemd/system//b.requires/c.service"):
        with pytest.raises(OSError) as missing:
            source._on_sftp("listdir", path, asked)
        assert missing.value.errno == errno.ENOENT
    source._on_sftp("listdir", "/usr/local/lib/systemd/systemd-extra", asked)
    assert asked.paths == ["/usr/local/lib/systemd/system",
                           "/usr/local/lib/systemd/systemd-extra"]


def test_another_root_on_the_same_connection_shares_what_was_learned():
    source = SSHSource(None, "192.0.2.11")
    source._missing.add("/etc/netplan")
    other = source.with_root("/mnt/image")
    with pytest.raises(OSError):
        other._on_sftp("listdir", "/etc/netplan/01.yaml", Asked())


def _answered_five_requests(sock, peer):
    """Five requests and their answers: the pattern after which Linux delays its ACKs."""
    for _ in range(5):
        sock.sendall(b"request")
        peer.recv(64)
        peer.sendall(b"answer")
        sock.recv(64)


def test_the_connection_sends_at_once_and_acks_each_read_at_once():
    """No wait for an ACK on either side (the measure is in `make bench`: the first channel of
    each connection waited 45 ms for this end's delayed ACK): Nagle's algorithm off from the
    handshake on, and the quick-ACK mode set again at every read, where a plain socket on the
    same exchange has left it. Over 127.0.0.1 only."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(2)
    port = listener.getsockname()[1]
    sockets = [listener]
    try:
        for make, nodelay, quickack in (
                (lambda: connect._connection(paramiko, "127.0.0.1", port, 5), 1, 1),
                (lambda: socket.create_connection(("127.0.0.1", port)), 0, 0)):
            sock = make()
            peer, _ = listener.accept()
            sockets += [sock, peer]
            _answered_five_requests(sock, peer)
            assert (sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)) == (nodelay,
                                                                                  quickack)
    finally:
        for sock in sockets:
            sock.close()


def test_a_refused_connection_names_each_address_tried():
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # bound once, nothing listens on it now
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError) as refused:
        connect._connection(paramiko, "127.0.0.1", port, 5)
    assert list(refused.value.errors) == [("127.0.0.1", port)]
    assert isinstance(refused.value.errors[("127.0.0.1", port)], ConnectionRefusedError)
