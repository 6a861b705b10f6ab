"""Is this host a director? Its IPVS table and its keepalived.conf say so: the real-server
checks judge a director by a director's rules (and never advise moving its VIPs to lo)."""

from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.host import ipvs, keepalived
from lvs_dr_checks.kernel import IP
from lvs_dr_checks.source.local import Source


def _quietly(read, source, path):
    """What ``read`` finds, or nothing when the file is absent, unreadable or not of its
    kind: only evidence is looked for here, nothing else is decided."""
    if source.kind(path) is None:
        return None
    try:
        return read(source, path)
    except PluginError:
        return None


def director_vips(runtime_source: Source, config_source: Source) -> dict[IP, str]:
    """{vip: where it was found} for the VIPs this host directs."""
    found = {}
    for service in _quietly(ipvs.read, runtime_source, ipvs.PROC_IP_VS) or []:
        found.setdefault(service.vip, "in its IPVS table")
    config = _quietly(keepalived.read, config_source, keepalived.DEFAULT_PATH)
    for vip in config.vips() if config else []:
        found.setdefault(vip, "in " + keepalived.DEFAULT_PATH)
    return found
