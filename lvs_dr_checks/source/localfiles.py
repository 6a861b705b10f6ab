"""Small local files named on the command line or by convention (SSH keys, known_hosts,
ssh_config, password and community files): regular files, bounded, and private where ssh
demands it of secrets. Shared by the SSH and the SNMP sources."""

import os
import stat

from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.source.local import open_regular

MAX_KEY_BYTES = 64 * 1024
MAX_PASSWORD_BYTES = 4096


def read_local_file(path, what, limit, private=False):
    """A small local file as bytes: a regular file, at most ``limit`` bytes, and with
    ``private`` readable by its owner alone (as ssh demands of keys)."""
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise PluginError("{} {}: {}".format(what, path, exc.strerror or exc))
    with handle:
        mode = os.fstat(handle.fileno()).st_mode
        if private and mode & 0o077:
            raise PluginError("{} {}: readable by others (mode {:o}): chmod 600 it, as ssh "
                              "demands of secrets".format(what, path, stat.S_IMODE(mode)))
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise PluginError("{} {}: larger than {} bytes, not such a file".format(
            what, path, limit))
    return data
