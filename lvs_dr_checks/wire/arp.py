"""The probe: ask the segment who has each VIP and hear every MAC that answers or claims one.

IPv4 VIPs get RFC 5227 ARP probes (sender IP 0.0.0.0): they poison no neighbour cache, and
unlike a request sent from the VIP itself (which Linux takes for gratuitous and never answers)
they are answered by every host that would answer a client, also when this host holds the VIP.
IPv6 VIPs get DAD-style Neighbor Solicitations (source ::) to the VIP's solicited-node group,
answered by a Neighbor Advertisement to all nodes from every host that holds the VIP on that
segment's interface.

Frames are built and read here by hand, by their fixed offsets: the four kinds the probe
needs (ARP, NS, NA, VRRP) are simple, tens of thousands go out per run, and scapy reads
every address of the host at import (over a minute on a director with thousands of IPv6
VIPs; docs/architecture.md). scapy stays the reference the tests hold these frames against.
"""

import collections
import select
import socket
import struct
import time

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.kernel import address_text, ipv6_text
from lvs_dr_checks.wire.channels import MAX_BATCH, MAX_RATE, bind_socket

log = logger("arp")
PACKET_OUTGOING = 4

Heard = collections.namedtuple("Heard", "ip arp_mac eth_mac kind at")
Heard.__doc__ = ("A packet naming ``ip`` as its own: kind 'reply' (an answer to a probe) or "
                 "'claim' (a request, gratuitous or other packet sent from that address); "
                 "arp_mac is the link-layer address it gives for ``ip``, eth_mac its source, "
                 "``at`` the seconds since the probe started.")

Advert = collections.namedtuple("Advert", "vrid sender eth_mac priority at")
Advert.__doc__ = "A VRRP advertisement heard: VRID, sender IP and MAC, priority, when."

VRRP_PROTOCOL = 112


def _mac_bytes(mac):
    return bytes.fromhex(mac.replace(":", ""))


def _checksum(data):
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!{}H".format(len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _mac(data):
    return data.hex(":")


class Arp:
    """IPv4: ARP probes out, is-at answers and packets sent from a VIP in."""

    ethertype = 0x0806
    REQUEST, REPLY = 1, 2

    def frame(self, own_mac, target):
        """An RFC 5227 probe."""
        mac = _mac_bytes(own_mac)
        return (b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4,
                                                                 self.REQUEST)
                + mac + b"\x00" * 4 + b"\x00" * 6 + socket.inet_aton(str(target)))

    def dissect(self, frame, watched, own_mac, at=0.0):
        """An is-at sent to us answers our probe ('reply'); any other ARP packet from a
        watched address claims it ('claim'). Ethernet/IPv4 ARP only."""
        if len(frame) < 42 or frame[12:14] != b"\x08\x06" or \
                frame[14:20] != b"\x00\x01\x08\x00\x06\x04":
            return None
        op = struct.unpack("!H", frame[20:22])[0]
        sender = socket.inet_ntoa(frame[28:32])
        if sender not in watched or op not in (self.REQUEST, self.REPLY):
            return None
        to_us = own_mac in (_mac(frame[0:6]), _mac(frame[32:38]))
        kind = "reply" if op == self.REPLY and to_us else "claim"
        return Heard(sender, _mac(frame[22:28]), _mac(frame[6:12]), kind, at)


class NeighborDiscovery:
    """IPv6: DAD-style solicitations out; advertisements for a VIP, and solicitations sent
    from one, in."""

    ethertype = 0x86DD
    SOLICITATION, ADVERTISEMENT = 135, 136
    SOURCE_LINK, TARGET_LINK = 1, 2

    def frame(self, own_mac, target):
        """A DAD-style solicitation (source ::, no link-layer option, RFC 4862) to the
        target's solicited-node group."""
        packed = socket.inet_pton(socket.AF_INET6, str(target))
        group = bytes.fromhex("ff0200000000000000000001ff") + packed[13:]
        body = struct.pack("!BBHI", self.SOLICITATION, 0, 0, 0) + packed
        pseudo = bytes(16) + group + struct.pack("!I3xB", len(body), 58)
        body = body[:2] + struct.pack("!H", _checksum(pseudo + body)) + body[4:]
        return (b"\x33\x33" + group[12:] + _mac_bytes(own_mac) + b"\x86\xdd"
                + struct.pack("!IHBB", 0x60000000, len(body), 58, 255) + bytes(16) + group
                + body)

    def dissect(self, frame, watched, own_mac, at=0.0):
        """A Neighbor Advertisement for a watched address answers or claims it (Linux sends
        both to all nodes with the same flags, so they cannot be told apart); a solicitation
        sent from one claims it. ICMPv6 straight after the IPv6 header, as ND is sent."""
        if len(frame) < 78 or frame[12:14] != b"\x86\xdd" or frame[20] != 58:
            return None
        kind = {self.ADVERTISEMENT: "reply", self.SOLICITATION: "claim"}.get(frame[54])
        if kind is None:
            return None
        address = ipv6_text(frame[62:78] if kind == "reply" else frame[22:38])
        if address not in watched:
            return None
        wanted = self.TARGET_LINK if kind == "reply" else self.SOURCE_LINK
        link = _option(frame[78:], wanted) or frame[6:12]
        return Heard(address, _mac(link), _mac(frame[6:12]), kind, at)


def _option(options, wanted):
    """The 6-byte link-layer address of ND option ``wanted``, or None."""
    while len(options) >= 8:
        kind, length = options[0], options[1] * 8
        if length == 0:
            return None
        if kind == wanted:
            return options[2:8]
        options = options[length:]
    return None


def vrrp_advert(frame, at):
    """A VRRP advertisement (IPv4 or IPv6, versions 2 and 3), or None; read by offsets, the
    capture filter having let only protocol 112 through with these ethertypes."""
    if frame[12:14] == b"\x08\x00" and len(frame) >= 36 and frame[23] == VRRP_PROTOCOL:
        header = 14 + (frame[14] & 0x0F) * 4
        sender = socket.inet_ntop(socket.AF_INET, frame[26:30])
    elif frame[12:14] == b"\x86\xdd" and len(frame) >= 58 and frame[20] == VRRP_PROTOCOL:
        header = 54
        sender = socket.inet_ntop(socket.AF_INET6, frame[22:38])
    else:
        return None
    if len(frame) < header + 3 or frame[header] & 0x0F != 1:  # type 1: advertisement
        return None
    mac = ":".join("{:02x}".format(b) for b in frame[6:12])
    return Advert(frame[header + 1], sender, mac, frame[header + 2], at)


FAMILIES = {4: Arp(), 6: NeighborDiscovery()}
# Every family's dissector by the ethertype of its frames.
DISSECTORS = {family.ethertype.to_bytes(2, "big"): family for family in FAMILIES.values()}


def probe_frame(own_mac, target):
    """The probe of ``target`` (an address's text: IPv6 has colons)."""
    return FAMILIES[6 if ":" in target else 4].frame(own_mac, target)


def receive(sock, dissectors, watched, own_mac, clock):
    """Every packet waiting on ``sock`` that names a watched address (a Heard) or is a
    VRRP advertisement (an Advert), ``at`` the ``clock()`` of its reading; our own frames
    and the rest are left out. Stops when nothing more is waiting."""
    while True:
        try:
            frame, address = sock.recvfrom(65535)
        except (BlockingIOError, InterruptedError):
            return
        if address[2] == PACKET_OUTGOING:
            continue
        at = clock()
        found = vrrp_advert(frame, at)
        if found is None:
            family = dissectors.get(frame[12:14])
            found = family and family.dissect(frame, watched, own_mac, at)
        if found:
            yield found


class Frames(dict):
    """Each target's probe frame, made when it is first due (while the pacing waits), not
    all before the first one goes out; ``admit([target])``, when given, is asked first and
    raises what forbids the probe (a VIP not proven on the segment yet, Segment.prove)."""

    def __init__(self, own_mac, admit=None):
        super().__init__()
        self.own_mac = own_mac
        self.admit = admit

    def __missing__(self, target):
        if self.admit is not None:
            self.admit([target])
        frame = self[target] = probe_frame(self.own_mac, target)
        return frame


class Probe:
    """Sends ``count`` rounds of probes for ``targets`` on ``iface``, ``interval`` seconds
    apart, and listens until ``wait`` seconds after the last one, then ``listen`` seconds more.
    Every packet whose sender IP is a target is kept, not only the first answer. ``admit``:
    asked before a target's first probe (Frames); what it raises ends the run."""

    def __init__(self, iface, own_mac, targets, count, interval, wait, listen=0.0, admit=None):
        self.iface = iface
        self.own_mac = own_mac
        self.targets = [address_text(t) for t in targets]
        self.count = count
        self.interval = interval
        self.wait = wait
        self.listen = listen
        self.admit = admit  # see Frames
        self.sent = 0
        self.heard = []
        self.adverts = []
        self.start = 0.0
        self.duration = 0.0

    @property
    def frames(self):
        return len(self.targets) * self.count

    @property
    def round_time(self):
        """Seconds between rounds: the interval, or longer when pacing one round takes more."""
        return max(self.interval, len(self.targets) / MAX_RATE)

    @property
    def window(self):
        """Seconds the probe takes, whatever the number of targets (up to the pacing rate)."""
        return self.round_time * (self.count - 1) + len(self.targets) / MAX_RATE + self.wait \
            + self.listen

    def schedule(self, start):
        """(send time, target) of every probe in turn, rounds ``interval`` apart, paced
        within; made as the run asks (tens of thousands: not before the first goes out)."""
        round_time = self.round_time
        for n in range(self.count):
            for i, target in enumerate(self.targets):
                yield start + n * round_time + i / MAX_RATE, target

    def run(self, channels):
        """Probe through ``channels`` (taken beforehand, see Channels), bound here."""
        bind_socket(channels.sock, self.iface)
        ipv6 = any(":" in t for t in self.targets)  # else no solicitation is even read
        dissectors = {ethertype: family for ethertype, family in DISSECTORS.items()
                      if ipv6 or family is FAMILIES[4]}
        return self._run(channels.sock, dissectors, channels.pacer)

    def _run(self, sock, dissectors, pacer):
        watched = set(self.targets)
        frames = Frames(self.own_mac, self.admit)
        start = time.monotonic()
        self.start = start
        schedule = self.schedule(start)
        due = next(schedule, None)  # the next probe: (send time, target); None after the last
        batch, release = [], None  # due frames and the time the shared pacer lets them out
        end = None if due else start + self.wait + self.listen
        try:
            while True:
                now = time.monotonic()
                if not batch:
                    while due and due[0] <= now and len(batch) < MAX_BATCH:
                        batch.append(frames[due[1]])
                        due = next(schedule, None)
                    release = pacer.reserve(len(batch)) if batch else None
                if batch and release <= now:
                    for frame in batch:
                        self._send(sock, frame)
                    batch = []
                    if not due:
                        end = time.monotonic() + self.wait + self.listen
                if end is not None and now >= end:
                    break
                wake = [t for t in (end, release if batch else None,
                                    due[0] if due and not batch else None)
                        if t is not None]
                readable, _, _ = select.select([sock], [], [], max(min(wake) - now, 0))
                if readable:
                    self._drain(sock, dissectors, watched)
            self._drain(sock, dissectors, watched)
        finally:
            self.duration = time.monotonic() - start
        if not self.sent:
            raise PluginError("nothing was sent on {}: no probe, no verdict".format(self.iface))
        log.info("%d probes sent on %s from %s in %.3fs; %d packets heard from the targets, "
                 "%d VRRP advertisements", self.sent, self.iface, self.own_mac, self.duration,
                 len(self.heard), len(self.adverts))
        for heard in self.heard:
            log.info("%7.3fs %s %s is at %s (Ethernet source %s)", heard.at, heard.kind,
                     heard.ip, heard.arp_mac, heard.eth_mac)
        for advert in self.adverts:
            log.info("%7.3fs VRRP VRID %d advertised by %s (%s), priority %d", advert.at,
                     advert.vrid, advert.sender, advert.eth_mac, advert.priority)
        return self

    def _send(self, sock, frame):
        try:
            sock.send(frame)
        except OSError as exc:
            raise PluginError("cannot send on {}: {} (is it up?)".format(
                self.iface, exc.strerror or exc))
        self.sent += 1

    def _drain(self, sock, dissectors, watched):
        for found in receive(sock, dissectors, watched, self.own_mac,
                             lambda: time.monotonic() - self.start):
            (self.adverts if isinstance(found, Advert) else self.heard).append(found)
