"""SSHSource's knowledge of what is not there, without a connection: a path under a directory
listed whole without it, or under a path found missing, is answered without a round trip;
anything else still asks the server (a sent question is a call here)."""

import errno

import pytest

from lvs_dr_checks.ssh import SSHSource


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
