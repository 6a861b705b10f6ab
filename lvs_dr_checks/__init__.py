"""lvs-dr-checks: Nagios/Icinga checks for ARP exposure of VIPs in LVS direct routing."""

__version__ = "0.3.4"
