"""The IPVS table: virtual services, their VIPs and their direct-routing real servers.

Read from /proc/net/ip_vs (addresses in hex) or from saved ``ipvsadm -Ln`` output.
"""

import collections
import ipaddress
import re
from collections.abc import Iterable

from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.kernel import IP, parse_address
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.summary import plural

PROC_IP_VS = "/proc/net/ip_vs"
DIRECT_ROUTING = "Route"

Service = collections.namedtuple("Service", "protocol vip port realservers")
Service.__doc__ = "A virtual service; realservers: [(ip, port, forwarding method)]."

# The kernel keeps a service's and a real server's port in 16 bits; 0 is a service of every port.
MAX_PORT = 65535
# The services a real server is named with at most (realserver_roles).
MAX_ROLES_NAMED = 3


def checked_port(number: int) -> int:
    """``number`` if IPVS can hold it as a port, else ValueError naming it."""
    if not 0 <= number <= MAX_PORT:
        raise ValueError("port {} is not a port (0-{})".format(number, MAX_PORT))
    return number


_HEX_ADDRESS = re.compile(r"[0-9A-Fa-f]{8}")
_HEX_PORT = re.compile(r"[0-9A-Fa-f]{4}")
_SERVICE = re.compile(r"^(?P<proto>TCP|UDP|SCTP)\s+(?P<addr>\S+)\s+\S+")
_REALSERVER = re.compile(r"^\s+->\s+(?P<addr>\S+)\s+(?P<forward>[A-Za-z]+)\s+-?\d+")


def _endpoint(text):
    """(ip, port) from 'C0000264:0050', '[2001:0db8:...]:0050', '192.0.2.100:80', '[::1]:80'."""
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    if _HEX_ADDRESS.fullmatch(host) and _HEX_PORT.fullmatch(port):
        return ipaddress.ip_address(int(host, 16)), checked_port(int(port, 16))
    ip = parse_address(host)
    if ip.version == 6 and _HEX_PORT.fullmatch(port) and ":" in host \
            and len(host.split(":")) == 8 and all(len(g) == 4 for g in host.split(":")):
        return ip, checked_port(int(port, 16))  # /proc: IPv6 as eight 4-digit groups, hex port
    if not port.isdigit():
        raise ValueError("{!r} is not a port".format(port))
    return ip, checked_port(int(port))


def parse(text: str) -> list[Service]:
    """Services from /proc/net/ip_vs or ``ipvsadm -Ln``; fwmark services carry no VIP."""
    services = []
    current = None
    endpoints = {}  # a few real servers appear under thousands of services: each read once
    for number, line in enumerate(text.splitlines(), 1):
        service = None if line[:1].isspace() else _SERVICE.match(line)
        realserver = None if service else _REALSERVER.match(line)
        try:
            if service:
                vip, port = _endpoint(service.group("addr"))
                current = Service(service.group("proto"), vip, port, [])
                services.append(current)
            elif realserver and current is not None and "RemoteAddress" not in line:
                address = realserver.group("addr")
                if address not in endpoints:
                    endpoints[address] = _endpoint(address)
                ip, port = endpoints[address]
                current.realservers.append((ip, port, realserver.group("forward")))
            elif line.startswith("FWM"):
                current = None
        except ValueError as exc:
            raise PluginError("IPVS table line {}: cannot read {!r}: {}".format(
                number, line.strip()[:60], exc))
    return services


def read(source: Source, path: str = PROC_IP_VS) -> list[Service]:
    text = source.read_text(path)
    services = parse(text)
    if not services and "IP Virtual Server" not in text and "Prot LocalAddress" not in text:
        raise PluginError("{} is not an IPVS table (/proc/net/ip_vs or 'ipvsadm -Ln' output; a "
                          "keepalived.conf goes to --from-keepalived)".format(path))
    return services


def direct_routing(services: Iterable[Service]) -> dict[IP, list[Service]]:
    """{real server ip: [the services it serves by direct routing]}, in table order."""
    served = collections.OrderedDict()
    for service in services:
        for ip, _, forward in service.realservers:
            if forward == DIRECT_ROUTING:
                served.setdefault(ip, []).append(service)
    return served


def realserver_roles(services: Iterable[Service]) -> dict[IP, list[str]]:
    """{real server ip: ["real server of TCP 192.0.2.100:80", ...]} for direct routing: its
    first MAX_ROLES_NAMED services, then how many more. The roles name the real server in
    every finding about it, one for each VIP it answers for, and a kube-proxy node serves
    thousands of services."""
    def role(service):
        vip = "[{}]".format(service.vip) if service.vip.version == 6 else str(service.vip)
        return "real server of {} {}:{}".format(service.protocol, vip, service.port)

    def roles(served):
        more = len(served) - MAX_ROLES_NAMED
        return [role(s) for s in served[:MAX_ROLES_NAMED]] + (
            ["and " + plural(more, "more service")] if more > 0 else [])
    return {ip: roles(served) for ip, served in direct_routing(services).items()}
