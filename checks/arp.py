"""The ARP probe: ask the segment who has each VIP and hear every MAC that answers or claims one.

Imported only by check_vip_arp_owner (scapy is heavy). Requests are RFC 5227 probes (sender
IP 0.0.0.0): they poison no neighbour cache, and unlike a request sent from the VIP itself
(which Linux takes for gratuitous and never answers) they are answered by every host that
would answer a client, also when this host holds the VIP.
"""

import collections
import select
import socket
import time

from scapy.layers.l2 import ARP, Ether

from checks.cli import PluginError, logger

log = logger("arp")
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
BROADCAST = "ff:ff:ff:ff:ff:ff"
UNSPECIFIED = "0.0.0.0"
ARP_REQUEST, ARP_REPLY = 1, 2
# Pacing: at most this many requests per second, so that a round over a thousand VIPs
# is a short burst, not a flood (1024 VIPs: 0.26 s a round).
MAX_RATE = 4000

Heard = collections.namedtuple("Heard", "ip arp_mac eth_mac kind")
Heard.__doc__ = ("An ARP packet naming ``ip`` as its sender: kind 'reply' (is-at, answering a "
                 "probe) or 'claim' (a request or gratuitous packet sent from that address).")

CAP_NET_RAW_HINT = ("sending ARP needs CAP_NET_RAW: run it as root, through the sudo rule "
                    "shipped in icinga-conf/sudoers.d/lvs-dr-checks, or grant the capability")


def open_socket(iface):
    """A packet socket bound to ``iface`` that sees ARP frames only."""
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except PermissionError:
        raise PluginError(CAP_NET_RAW_HINT)
    try:
        sock.bind((iface, ETH_P_ARP))
    except OSError as exc:
        sock.close()
        raise PluginError("cannot bind to interface {}: {}".format(iface, exc.strerror or exc))
    sock.setblocking(False)
    return sock


def probe_frame(own_mac, target):
    return bytes(Ether(src=own_mac, dst=BROADCAST) /
                 ARP(op=ARP_REQUEST, hwsrc=own_mac, psrc=UNSPECIFIED, hwdst="00:00:00:00:00:00",
                     pdst=str(target)))


def dissect(frame, watched, own_mac):
    """A Heard for an ARP frame whose sender IP is in ``watched``, else None. An is-at sent
    to us answers our probe ('reply'); any other packet from that IP claims it ('claim')."""
    try:
        packet = Ether(frame)
    except Exception:  # a malformed frame from the wire is not our error
        return None
    if ARP not in packet:
        return None
    arp = packet[ARP]
    if arp.psrc not in watched or arp.op not in (ARP_REQUEST, ARP_REPLY):
        return None
    to_us = own_mac in (packet.dst.lower(), arp.hwdst.lower())
    kind = "reply" if arp.op == ARP_REPLY and to_us else "claim"
    return Heard(arp.psrc, arp.hwsrc.lower(), packet.src.lower(), kind)


class Probe:
    """Sends ``count`` rounds of probes for ``targets`` on ``iface``, ``interval`` seconds
    apart, and listens until ``wait`` seconds after the last one, then ``listen`` seconds more.
    Every packet whose sender IP is a target is kept, not only the first answer."""

    def __init__(self, iface, own_mac, targets, count, interval, wait, listen=0.0):
        self.iface = iface
        self.own_mac = own_mac
        self.targets = [str(t) for t in targets]
        self.count = count
        self.interval = interval
        self.wait = wait
        self.listen = listen
        self.sent = 0
        self.heard = []
        self.duration = 0.0

    @property
    def window(self):
        """Seconds the probe takes, whatever the number of targets (up to the pacing rate)."""
        round_time = max(self.interval, len(self.targets) / MAX_RATE)
        return round_time * (self.count - 1) + len(self.targets) / MAX_RATE + self.wait \
            + self.listen

    def schedule(self, start):
        """(send time, target) for every probe: rounds ``interval`` apart, paced within."""
        round_time = max(self.interval, len(self.targets) / MAX_RATE)
        return [(start + n * round_time + i / MAX_RATE, target)
                for n in range(self.count) for i, target in enumerate(self.targets)]

    def run(self):
        sock = open_socket(self.iface)
        watched = set(self.targets)
        frames = {t: probe_frame(self.own_mac, t) for t in self.targets}
        start = time.monotonic()
        pending = collections.deque(self.schedule(start))
        end = (pending[-1][0] if pending else start) + self.wait + self.listen
        try:
            while True:
                now = time.monotonic()
                while pending and pending[0][0] <= now:
                    self._send(sock, frames[pending.popleft()[1]])
                if now >= end:
                    break
                timeout = min(pending[0][0] if pending else end, end) - now
                readable, _, _ = select.select([sock], [], [], max(timeout, 0))
                if readable:
                    self._drain(sock, watched)
            self._drain(sock, watched)
        finally:
            sock.close()
            self.duration = time.monotonic() - start
        if not self.sent:
            raise PluginError("nothing was sent on {}: no probe, no verdict".format(self.iface))
        log.info("%d probes sent on %s from %s in %.3fs; %d packets heard from the targets",
                 self.sent, self.iface, self.own_mac, self.duration, len(self.heard))
        for heard in self.heard:
            log.debug("heard %s", heard)
        return self

    def _send(self, sock, frame):
        try:
            sock.send(frame)
        except OSError as exc:
            raise PluginError("cannot send on {}: {} (is it up?)".format(
                self.iface, exc.strerror or exc))
        self.sent += 1

    def _drain(self, sock, watched):
        while True:
            try:
                frame, address = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            if address[2] == PACKET_OUTGOING:
                continue
            heard = dissect(frame, watched, self.own_mac)
            if heard:
                self.heard.append(heard)
