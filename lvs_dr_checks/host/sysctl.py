"""net.ipv4.conf values in force now, read from /proc/sys (locally, over SSH or from a
captured tree). What a boot would set is boot.sysctl's."""

from collections.abc import Iterable

from lvs_dr_checks import kernel
from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.source.local import Source

PROC_CONF = "/proc/sys/net/ipv4/conf"


def read_runtime(source: Source, scopes: Iterable[str],
                 keys: Iterable[str] = kernel.KEYS) -> dict[str, dict[str, int]]:
    """{scope: {key: int}} from /proc/sys/net/ipv4/conf for 'all', 'default' and interfaces;
    a key of kernel.DIRECTOR_KEYS that this kernel (or capture) lacks is left out."""
    if source.kind(PROC_CONF) is None:
        raise PluginError("{} is missing: no IPv4 in this network namespace or /proc/sys not "
                          "mounted; run the check where the real server's interfaces are"
                          .format(PROC_CONF))
    source.prefetch(files=["{}/{}/{}".format(PROC_CONF, scope, key) for scope in scopes
                           for key in keys])
    values = {}
    for scope in scopes:
        values[scope] = {}
        for key in keys:
            path = "{}/{}/{}".format(PROC_CONF, scope, key)
            if key in kernel.DIRECTOR_KEYS and source.kind(path) is None:
                continue
            text = source.read_text(path).strip()
            try:
                values[scope][key] = int(text)
            except ValueError:
                raise PluginError("{}: not a number: {!r}".format(path, text[:40]))
    return values
