#!/usr/bin/env python3
"""A fake SSH server for the tests (paramiko's server mode): it serves a captured real-server
tree over SFTP and canned `ip` output over exec, and misbehaves on purpose, one behaviour per
listening address: the sweep and -H must survive every one of them.

    fakessh.py HOST_KEY AUTHORIZED_KEY_FILE PORT ADDRESS=BEHAVIOUR:TREE ...

The login user is "monitor", or LVS_DR_FAKE_LOGIN.

Behaviours: ok (serve the tree), slow (0.3 s per SFTP operation), tarpit (accept, say
nothing), drip (the banner one byte a second), drop (close the connection at the first file
read), huge (ip output over 4 MiB), garbage (ip output that is not iproute2's), nonutf8 (an
interface name that is not UTF-8), nosession (refuse every channel, as MaxSessions 0 would).
Prints "ready" when every address listens; runs until killed.
"""

import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time

import paramiko
from paramiko import SFTPAttributes, SFTPHandle, SFTPServer, SFTPServerInterface
from paramiko.sftp import SFTP_NO_SUCH_FILE, SFTP_OK

LOGIN = os.environ.get("LVS_DR_FAKE_LOGIN", "monitor")
NON_UTF8 = "eth\udcff"  # the name b"eth\xff" as os.listdir gives it


def ip_json(tree, behaviour):
    """`ip -j addr show` for the tree: its lo and eth0 addresses (from tree/addresses.json)."""
    if behaviour == "huge":
        return b"[" + b",".join([b'{"ifname": "dummy", "addr_info": []}'] * 150000) + b"]"
    if behaviour == "garbage":
        return b"<html>not iproute2</html>\n"
    if behaviour == "nested":  # JSON, deeper than Python's parser follows
        return b"[" * 100000 + b"]" * 100000
    with open(os.path.join(tree, "addresses.json"), "rb") as handle:
        return handle.read()


class Server(paramiko.ServerInterface):
    def __init__(self, key, behaviour, tree):
        self.key = key
        self.behaviour = behaviour
        self.tree = tree
        self.commands = {}

    def get_allowed_auths(self, username):
        return "publickey"

    def check_auth_publickey(self, username, key):
        ok = username == LOGIN and key.asbytes() == self.key.asbytes()
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if self.behaviour == "nosession" or kind != "session":
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        return paramiko.OPEN_SUCCEEDED

    def check_channel_exec_request(self, channel, command):
        words = command.decode("utf-8", "replace").split()
        threading.Thread(target=self._exec, args=(channel, words), daemon=True).start()
        return True

    def _exec(self, channel, words):
        time.sleep(0.05)
        if words[-3:] == ["-j", "addr", "show"] or words[-2:] == ["addr", "show"]:
            channel.sendall(ip_json(self.tree, self.behaviour))
            channel.send_exit_status(0)
        else:
            channel.sendall_stderr(b"unknown command\n")
            channel.send_exit_status(1)
        channel.close()


class Handle(SFTPHandle):
    def __init__(self, data, behaviour, transport):
        super().__init__()
        self.data = data
        self.behaviour = behaviour
        self.transport = transport

    def read(self, offset, length):
        if self.behaviour == "drop":
            self.transport.close()
        return self.data[offset:offset + length]

    def stat(self):
        attributes = SFTPAttributes()
        attributes.st_mode = 0o100644
        attributes.st_size = len(self.data)
        return attributes


class Files(SFTPServerInterface):
    """The tree on disk, read-only; in nonutf8 mode /sys/class/net also lists eth\\xff (paramiko's
    server cannot decode that name when the client asks for it, and ends the session)."""

    def __init__(self, server, *args, **kwargs):
        super().__init__(server, *args, **kwargs)
        self.server = server

    def _real(self, path):
        if isinstance(path, bytes):
            path = path.decode("utf-8", "surrogateescape")
        return os.path.join(self.server.tree, "fs", path.lstrip("/"))

    def _pace(self):
        if self.server.behaviour == "slow":
            time.sleep(0.3)

    def list_folder(self, path):
        self._pace()
        real = self._real(path)
        if not os.path.isdir(real):
            return SFTP_NO_SUCH_FILE
        entries = []
        names = os.listdir(real)
        if self.server.behaviour == "nonutf8" and path.rstrip("/") == "/sys/class/net":
            names.append(NON_UTF8)
        for name in names:
            attributes = SFTPAttributes.from_stat(os.lstat(os.path.join(real, name))) \
                if name != NON_UTF8 else SFTPAttributes.from_stat(os.lstat(real))
            attributes.filename = name.encode("utf-8", "surrogateescape")  # sent as bytes
            entries.append(attributes)
        return entries

    def _stat(self, path, follow):
        self._pace()
        real = self._real(path)
        try:
            return SFTPAttributes.from_stat(os.stat(real) if follow else os.lstat(real))
        except OSError:
            return SFTP_NO_SUCH_FILE

    def stat(self, path):
        return self._stat(path, True)

    def lstat(self, path):
        return self._stat(path, False)

    def readlink(self, path):
        try:
            return os.readlink(self._real(path))
        except OSError:
            return SFTP_NO_SUCH_FILE

    def open(self, path, flags, attr):
        self._pace()
        real = self._real(path)
        try:
            with open(real, "rb") as handle:
                data = handle.read()
        except OSError:
            return SFTP_NO_SUCH_FILE
        return Handle(data, self.server.behaviour, self.server.transport)

    def session_started(self):
        return SFTP_OK


def serve_connection(sock, host_key, client_key, behaviour, tree):
    if behaviour == "tarpit":
        time.sleep(3600)
        return
    if behaviour == "drip":
        for byte in b"SSH-2.0-drip\r\n":
            sock.send(bytes([byte]))
            time.sleep(1)
        return
    # As sshd's answers do, pipelined answers leave at once (paramiko's server writes each in
    # a send of its own: with Nagle's algorithm each waits for the client's delayed ACK).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock)
    transport.add_server_key(host_key)
    server = Server(client_key, behaviour, tree)
    server.transport = transport
    transport.set_subsystem_handler("sftp", SFTPServer, Files)
    transport.start_server(server=server)


def listen(address, port, host_key, client_key, behaviour, tree):
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((address, port))
    sock.listen(16)

    def accept():
        while True:
            connection, _ = sock.accept()
            threading.Thread(target=serve_connection, daemon=True,
                             args=(connection, host_key, client_key, behaviour, tree)).start()
    threading.Thread(target=accept, daemon=True).start()


def main():
    host_key = paramiko.Ed25519Key.from_private_key_file(sys.argv[1])
    with open(sys.argv[2]) as handle:
        kind, data = handle.read().split()[:2]
    client_key = paramiko.PKey.from_type_string(kind, __import__("base64").b64decode(data)) \
        if hasattr(paramiko.PKey, "from_type_string") else paramiko.Ed25519Key(
            data=__import__("base64").b64decode(data))
    port = int(sys.argv[3])
    for spec in sys.argv[4:]:
        address, _, rest = spec.partition("=")
        behaviour, _, tree = rest.partition(":")
        listen(address, port, host_key, client_key, behaviour, tree)
    print("ready", flush=True)
    threading.Event().wait()


def write_tree(root, arp_ignore, vip, iface="eth0", address="192.0.2.50"):
    """A real server's tree as the checks read it: /proc/sys, /sys/class/net, `ip` (present),
    a persisted sysctl.d and interfaces file, and the addresses `ip -j addr` reports."""
    files = {"usr/sbin/ip": ""}
    for scope in ("all", "default", "lo", iface):
        for key, value in (("arp_ignore", arp_ignore if scope == "all" else 0),
                           ("arp_announce", 2 if scope == "all" else 0), ("proxy_arp", 0)):
            files["proc/sys/net/ipv4/conf/{}/{}".format(scope, key)] = "{}\n".format(value)
    for name, flags, mac in (("lo", "0x9", "00:00:00:00:00:00"), (iface, "0x1003",
                                                                  "02:00:5e:00:01:01")):
        files["sys/class/net/{}/flags".format(name)] = flags + "\n"
        files["sys/class/net/{}/operstate".format(name)] = "up\n"
        files["sys/class/net/{}/address".format(name)] = mac + "\n"
    files["etc/sysctl.d/90-lvs-dr.conf"] = ("net.ipv4.conf.all.arp_ignore = 1\n"
                                            "net.ipv4.conf.all.arp_announce = 2\n")
    files["etc/network/interfaces"] = ("auto lo\niface lo inet loopback\n"
                                       "    up ip addr add {}/32 dev lo\n".format(vip))
    for path, text in files.items():
        full = os.path.join(root, "fs", path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as handle:
            handle.write(text)
    addresses = [{"ifname": "lo", "addr_info": [
        {"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host", "label": "lo"},
        {"family": "inet", "local": vip, "prefixlen": 32, "scope": "global", "label": "lo"}]},
        {"ifname": iface, "addr_info": [{"family": "inet", "local": address, "prefixlen": 24,
                                         "scope": "global", "label": iface}]}]
    with open(os.path.join(root, "addresses.json"), "w") as handle:
        json.dump(addresses, handle)


PORT = 2222


@contextlib.contextmanager
def farm(servers, vip):
    """{address: behaviour} served by this fake server inside a namespace of its own (each
    address on its lo), "critical" serving a tree with arp_ignore 0 and "down" listening not
    at all. Yields run(plugin argv) -> CompletedProcess inside that namespace, with the SSH
    options already given, and the path of an ipvsadm table listing every server for ``vip``."""
    import lab as lab_module
    import sshlab

    lab_module.remove_stale_namespaces()
    ns = "ldc{}x{}-farm".format(os.getpid(), secrets.token_hex(2))
    with lab_module.readable_tempdir("lvs-dr-farm-") as home:
        subprocess.run([lab_module.IP, "netns", "add", ns], check=True)
        server = None
        try:
            subprocess.run([lab_module.IP, "-n", ns, "link", "set", "lo", "up"], check=True)
            subprocess.run([lab_module.IP, "-n", ns, "-batch", "-"], text=True, check=True,
                           input="".join("addr add {}/32 dev lo\n".format(ip) for ip in servers))
            host_key, client_key = os.path.join(home, "host_key"), os.path.join(home, "id")
            host_public = sshlab.keygen(host_key)
            sshlab.keygen(client_key)
            good, bad = os.path.join(home, "good"), os.path.join(home, "bad")
            write_tree(good, arp_ignore=1, vip=vip)
            write_tree(bad, arp_ignore=0, vip=vip)
            specs = ["{}={}:{}".format(ip, "ok" if b == "critical" else b,
                                       bad if b == "critical" else good)
                     for ip, b in servers.items() if b != "down"]
            known_hosts = os.path.join(home, "known_hosts")
            with open(known_hosts, "w") as handle:
                handle.writelines("[{}]:{} {}\n".format(ip, PORT, " ".join(host_public.split()[:2]))
                                  for ip in servers)
            table = os.path.join(home, "ipvsadm")
            with open(table, "w") as handle:
                handle.write(lab_module.ipvsadm_text(vip, servers))
            server = subprocess.Popen(lab_module.Host.netns_argv(
                ns, [sys.executable, os.path.abspath(__file__), host_key, client_key + ".pub",
                     str(PORT)] + specs), stdout=subprocess.PIPE, text=True)
            assert server.stdout.readline().strip() == "ready"
            options = ["--ssh-user", LOGIN, "--ssh-port", str(PORT), "--ssh-key", client_key,
                       "--known-hosts", known_hosts]

            def run(argv, **kwargs):
                return subprocess.run(lab_module.Host.netns_argv(ns, argv[:1] + options
                                                                 + argv[1:]),
                                      capture_output=True, text=True, timeout=120, **kwargs)
            run.ns = ns
            yield run, table
        finally:
            if server is not None:
                server.kill()
                server.wait()
            subprocess.run([lab_module.IP, "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    main()
