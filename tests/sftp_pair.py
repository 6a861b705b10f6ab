#!/usr/bin/env python3
"""One SSH connection inside one process, for the tests of SSHSource: paramiko's own server
(tests/fakessh.py's SFTP server and exec) serving a tree over a socket pair, and the client
that reads it. With a random tree, the reads through SSHSource.prefetch() are compared with
the same reads one at a time and with the local Source reading the tree itself.

    sftp_pair.py SEED...   prints {seed: [first path read otherwise, or null]} as JSON

(run so by the tests with Debian's python3 and its paramiko 2.x; the tests run it in-process
with the venv's paramiko)."""

import json
import os
import random
import socket
import sys
import tempfile
import threading

import fakessh
import paramiko

from lvs_dr_checks.cli import PluginError
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.source.ssh.sftp import SSHSource

READ_SIZE = 32768


class Link:
    """Both ends of one SSH connection in this process: paramiko's server serving ``tree``
    (fakessh's Files and exec of `ip ... addr show`), and an authenticated client."""

    KEYS = []  # made once: (host key, client key)

    def __init__(self, tree):
        if not self.KEYS:
            self.KEYS.extend(paramiko.RSAKey.generate(1024) for _ in range(2))
        self.host_key, self.client_key = self.KEYS
        server_end, client_end = socket.socketpair()
        self.server = paramiko.Transport(server_end)
        self.server.add_server_key(self.host_key)
        interface = fakessh.Server(self.client_key, "ok", tree)
        interface.transport = self.server
        self.server.set_subsystem_handler("sftp", paramiko.SFTPServer, fakessh.Files)
        self.server.start_server(event=threading.Event(), server=interface)
        self.client = paramiko.SSHClient()
        self.client._transport = paramiko.Transport(client_end)
        self.client._transport.start_client()
        self.client._transport.auth_publickey(fakessh.LOGIN, self.client_key)

    def source(self):
        return SSHSource(self.client, "192.0.2.11")

    def close(self):
        self.client.close()
        self.server.close()


def random_tree(seed, root):
    """(directories, files) of a random tree written under root/fs: the paths as the host
    sees them, with some that do not exist."""
    rng = random.Random(seed)
    fs = os.path.join(root, "fs")
    directories, files = [], []
    for number in range(rng.randint(2, 4)):
        directory = "/etc/d{}".format(number)
        directories.append(directory)
        os.makedirs(fs + directory)
        count = rng.randint(101, 140) if number == 0 else rng.choice([0, 1, 3, 20, 100])
        for index in range(count):
            name = "f{}-{}.conf".format(index, rng.randint(0, 9))
            listed_only = rng.random() < 0.05
            if listed_only:  # paramiko's server cannot open a name that is not UTF-8
                name = "n\udcff{}.conf".format(index)
            size = rng.choice([0, 1, 100, READ_SIZE - 1, READ_SIZE, READ_SIZE + 1, 70000])
            data = bytes(rng.choice(b"abc =\n\xff") for _ in range(size))
            with open(os.fsencode(fs + directory + "/" + name), "wb") as handle:
                handle.write(data)
            if not listed_only:
                files.append(directory + "/" + name)
    # Relative links (the same tree over SFTP and here): one in /etc, and one at the top, as
    # merged /usr makes /lib a link to usr/lib, so that the same directories have two names.
    os.symlink("d0", fs + "/etc/alias")
    os.symlink("etc", fs + "/conf")
    directories += ["/etc/alias", "/etc/missing", "/etc/d0/missing", "/conf/alias",
                    "/conf/missing"] + [directory.replace("/etc/", "/conf/", 1)
                                        for directory in directories]
    files += ["/etc/alias/" + name[len("/etc/d0/"):] for name in files
              if name.startswith("/etc/d0/")][:5]
    files += [name.replace("/etc/", "/conf/", 1) for name in files[:8]]
    files += ["/etc/missing/x.conf", "/etc/d1/nothing.conf"]
    rng.shuffle(files)
    return directories, files


def reads(source, directories, files):
    """{path: listing, or text, or the error's message}, in a fixed order."""
    found = {}
    for directory in directories:
        found[directory] = _answer(source.listdir, directory)
    for path in files:
        found[path] = _answer(source.read_text, path)
    return found


def _answer(read, path):
    try:
        return read(path)
    except PluginError as exc:
        return "error: {}".format(exc)


def differences(seed, root):
    """(path, one at a time, prefetched, local) of the first path whose reads differ, or
    None; and how many names /etc/d0 has and how many files were read, to show the tree was
    worth comparing."""
    directories, files = random_tree(seed, root)
    link = Link(root)
    try:
        one_at_a_time = reads(link.source(), directories, files)
        source = link.source()
        source.learn_top_level()
        source.prefetch(directories=directories, files=files)
        prefetched = reads(source, directories, files)
    finally:
        link.close()
    local = reads(Source(os.path.join(root, "fs")), directories, files)
    worth = (len(prefetched["/etc/d0"]),
             sum(isinstance(v, str) and not v.startswith("error") for v in prefetched.values()))
    for path in one_at_a_time:
        if one_at_a_time[path] != prefetched[path] or (
                not str(local[path]).startswith("error") and local[path] != prefetched[path]):
            return (path, one_at_a_time[path], prefetched[path], local[path]), worth
    return None, worth


def main():
    found = {}
    for seed in sys.argv[1:]:
        with tempfile.TemporaryDirectory() as root:
            difference, worth = differences(int(seed), root)
        found[seed] = [difference and difference[0], worth]
    print(json.dumps(found))


if __name__ == "__main__":
    main()
