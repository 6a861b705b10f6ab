#!/usr/bin/env python3
"""What the kernel really does, seen from a lab namespace, independent of the plugins' code.

  arp_oracle.py ask IFACE TARGET_IP SENDER_IP   print every MAC that answers who-has TARGET
  arp_oracle.py listen IFACE SECONDS            print "sender-ip sender-mac" of every ARP
                                                request heard (after printing "ready")
  arp_oracle.py probes IFACE SECONDS            print the arrival time of every RFC 5227
                                                probe (sender 0.0.0.0) heard
"""

import sys

from scapy.config import conf
from scapy.layers.l2 import ARP, Ether
from scapy.sendrecv import sniff, srp


def answering_macs(iface, target, sender):
    answered, _ = srp(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, pdst=target, psrc=sender),
                      iface=iface, timeout=0.6, multi=True, verbose=0, retry=0)
    return sorted({reply[ARP].hwsrc for _, reply in answered})


def listen(iface, seconds):
    listener = conf.L2listen(iface=iface)  # open before saying ready: nothing is missed
    print("ready", flush=True)
    packets = sniff(opened_socket=listener, timeout=float(seconds),
                    lfilter=lambda p: ARP in p and p[ARP].op == 1)
    for packet in packets:
        print(packet[ARP].psrc, packet[ARP].hwsrc, flush=True)


def probe_times(iface, seconds):
    """Arrival times as the kernel stamped them (SO_TIMESTAMPNS: no scheduling jitter of
    ours), read with a packet socket of our own (scapy's sniff loses frames at this rate)."""
    import socket
    import struct
    import time
    timestamp_ns = 35  # SO_TIMESTAMPNS, also SCM_TIMESTAMPNS
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
    sock.bind((iface, 0x0806))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, timestamp_ns, 1)
    sock.settimeout(0.2)
    print("ready", flush=True)
    end = time.monotonic() + float(seconds)
    times = []
    while time.monotonic() < end:
        try:
            frame, ancillary, _, _ = sock.recvmsg(128, 64)
        except socket.timeout:
            continue
        if frame[20:22] == b"\x00\x01" and frame[28:32] == b"\x00\x00\x00\x00":
            stamp = next(data for level, kind, data in ancillary
                         if level == socket.SOL_SOCKET and kind == timestamp_ns)
            seconds_, nanoseconds = struct.unpack("qq", stamp[:16])
            times.append(seconds_ + nanoseconds / 1e9)
    print("\n".join("{:.6f}".format(t) for t in times), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "ask":
        print(" ".join(answering_macs(*sys.argv[2:5])))
    elif sys.argv[1] == "probes":
        probe_times(*sys.argv[2:4])
    else:
        listen(*sys.argv[2:4])
