#!/usr/bin/env python3
"""What the kernel really does, seen from a lab namespace, independent of the plugins' code.

  arp_oracle.py ask IFACE TARGET_IP SENDER_IP   print every MAC that answers who-has TARGET
  arp_oracle.py listen IFACE SECONDS            print "sender-ip sender-mac" of every ARP
                                                request heard (after printing "ready")
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


if __name__ == "__main__":
    if sys.argv[1] == "ask":
        print(" ".join(answering_macs(*sys.argv[2:5])))
    else:
        listen(*sys.argv[2:4])
