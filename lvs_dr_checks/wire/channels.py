"""What the probe needs privileges for, taken before anything else: the packet socket
(CAP_NET_RAW) and the host-wide pacing file under /run. A run through sudo takes these, then
drops to the invoking user (lvs_dr_checks.wire.privilege) before it reads any file named on the
command line."""

import ctypes
import fcntl
import os
import socket
import struct
import threading
import time

from lvs_dr_checks.errors import PluginError, logger

log = logger("channels")
# Pacing: at most this many requests per second on the whole host, however many runs at
# once, so that a round over a thousand VIPs is a short burst, not a flood; and at most
# MAX_FRAMES probes in one run.
MAX_RATE = 4000
MAX_FRAMES = 50000
# Frames sent back to back under one reservation: bursts stay this short whatever the wait.
MAX_BATCH = 16

CAP_NET_RAW_HINT = ("sending ARP needs CAP_NET_RAW: give it to the monitoring daemon "
                    "(/usr/share/doc/lvs-dr-checks/examples/systemd/), or use --sudo and the "
                    "sudo rule (examples/sudoers.d/), or run it as root")


ETH_P_ALL = 0x0003
SO_ATTACH_FILTER = 26
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23  # Linux 4.20
# Classic BPF: keep ARP, IPv6 ICMPv6 or VRRP (next header 58 or 112, no extension headers,
# as neighbour discovery and VRRP send them) and IPv4 VRRP (protocol 112); drop the rest in
# the kernel, so that a busy segment costs the probe nothing.
CAPTURE_FILTER = (
    (0x28, 0, 0, 12),       # A = ethertype
    (0x15, 7, 0, 0x0806),   # ARP -> keep
    (0x15, 0, 3, 0x86DD),   # not IPv6 -> IPv4?
    (0x30, 0, 0, 20),       # A = IPv6 next header
    (0x15, 4, 0, 58),       # ICMPv6 -> keep
    (0x15, 3, 4, 112),      # VRRP -> keep, else drop
    (0x15, 0, 3, 0x0800),   # not IPv4 -> drop
    (0x30, 0, 0, 23),       # A = IPv4 protocol
    (0x15, 0, 1, 112),      # VRRP -> keep, else drop
    (0x06, 0, 0, 0xFFFF),   # keep
    (0x06, 0, 0, 0),        # drop
)


def open_socket():
    """A packet socket for every ethertype (ETH_P_ALL taps frames before a macvlan or
    keepalived's vmac interface can take them from the lower device) that receives nothing
    until bound, with the capture filter attached: taken while privileged, bound to the
    interface later, after the privileges are gone."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except PermissionError:
        raise PluginError(CAP_NET_RAW_HINT)
    program = b"".join(struct.pack("HBBI", *op) for op in CAPTURE_FILTER)
    buffer = ctypes.create_string_buffer(program)
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER,
                    struct.pack("HP", len(CAPTURE_FILTER), ctypes.addressof(buffer)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    try:  # our own frames are not queued back to us (older kernels: receive() skips them)
        sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError as exc:
        log.info("own frames are read back and skipped: %s", exc.strerror or exc)
    sock.setblocking(False)
    return sock


def bind_socket(sock, iface):
    try:
        sock.bind((iface, ETH_P_ALL))
    except OSError as exc:
        raise PluginError("cannot bind to interface {}: {}".format(iface, exc.strerror or exc))


class Pacer:
    """One sending rate for every probe on the host: a reservation in a small file under /run
    (opened while privileged, locked for each batch), so that concurrent runs together stay
    at MAX_RATE. Where the file cannot be opened the run paces itself alone (said at -vv)."""

    PATH = "/run/lvs-dr-checks.pace"
    # A reservation never reaches further ahead than this: a damaged file cannot stall probes.
    MAX_BACKLOG = 5.0

    def __init__(self, rate=MAX_RATE, path=PATH):
        self.rate = rate
        self.next_free = 0.0
        try:
            self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            log.info("pacing this run alone: %s: %s", path, exc.strerror or exc)
            self.fd = None

    def reserve(self, frames):
        """The monotonic time at which ``frames`` more frames may start going out."""
        now = time.monotonic()
        if self.fd is None:
            start = max(now, self.next_free)
            self.next_free = start + frames / self.rate
            return start
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            try:
                shared = float(os.pread(self.fd, 64, 0).decode("ascii").strip() or 0)
            except (ValueError, UnicodeDecodeError):
                shared = 0.0
            start = max(now, min(shared, now + self.MAX_BACKLOG))
            record = "{:.6f}\n".format(start + frames / self.rate).encode("ascii")
            os.pwrite(self.fd, record.ljust(32), 0)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        return start

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Channels:
    """What the probe needs privileges for, taken at once: the packet socket and the pacer.
    ``bind_socket`` attaches the socket to the chosen interface afterwards."""

    def __init__(self):
        self.sock = open_socket()
        self.pacer = Pacer()

    def close(self):
        self.sock.close()
        self.pacer.close()

    def close_behind(self):
        """Close them while the caller goes on to its verdict: releasing a packet socket waits
        for the kernel's RCU grace period (synchronize_net, 10 to 30 ms), which nothing
        after the probe needs to wait for."""
        threading.Thread(target=self.close, name="close-channels", daemon=True).start()
