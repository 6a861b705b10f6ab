"""This host now: links, runtime sysctl, ARP filters, IPVS, keepalived, role."""
