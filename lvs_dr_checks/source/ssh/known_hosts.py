"""known_hosts as ssh uses it, and nothing trusted by default: the host's lines found by a
bounded streaming scan (plain and hashed names), @revoked keys honoured, an unknown or changed
key refused with its fingerprint and the deliberate way to accept it."""

import base64
import hashlib
import hmac
import os

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.local import open_regular

log = logger("ssh")
# known_hosts is streamed (a fleet's file, every host's keys, runs to many MiB); a line longer
# than any key is skipped.
MAX_KNOWN_HOSTS_BYTES = 64 * 1024 * 1024
MAX_KNOWN_HOSTS_LINE = 64 * 1024


def fingerprint(key):
    digest = hashlib.sha256(key.asbytes()).digest()
    return "{} SHA256:{}".format(key.get_name(), base64.b64encode(digest).decode().rstrip("="))


def known_hosts_name(host, port):
    return host if port == 22 else "[{}]:{}".format(host, port)


def _names(paramiko, field, wanted):
    """Whether a known_hosts line's names (its first field) hold ``wanted``, as paramiko
    matches them: the same text, or a hashed name (|1|salt|hash) of it."""
    for name in field.split(","):
        if name == wanted:
            return True
        if name.startswith("|1|"):
            try:
                if hmac.compare_digest(paramiko.HostKeys.hash_host(wanted, name), name):
                    return True
            except Exception:  # a malformed salt names no host
                pass
    return False


class Reject:
    """Refuse an unknown host key, naming its fingerprint and how to accept it on purpose."""

    def __init__(self, known_hosts, port):
        self.known_hosts = known_hosts
        self.port = port

    def missing_host_key(self, client, hostname, key):
        raise PluginError("host key of {} ({}) is not in {}: verify the fingerprint out of band, "
                          "then add it deliberately (ssh-keyscan -p {} {} >> {})".format(
                              hostname, fingerprint(key), self.known_hosts, self.port, hostname,
                              self.known_hosts))


def load(paramiko, client, path, hostname, port):
    """known_hosts read here, streamed and bounded, the way paramiko would look the host
    up (``hostname`` on port 22, else ``[hostname]:port``; plain or hashed names): only
    the lines naming it are parsed, so that a fleet's file costs a scan, not a key parse
    a line. @revoked keys are remembered whatever host they name; @cert-authority, other
    markers and lines paramiko cannot read are skipped. Returns the revoked keys."""
    if not os.path.exists(path):
        return set()
    wanted = known_hosts_name(hostname, port)
    keys, revoked = client.get_host_keys(), set()
    for number, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        marker = None
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
            line = line.strip()
        if marker not in (None, "@revoked"):
            log.info("%s:%d: skipped (%s)", path, number,
                     "certificate authorities are not supported"
                     if marker == "@cert-authority" else "unknown marker")
            continue
        if marker is None and not _names(paramiko, line.split(None, 1)[0], wanted):
            continue
        try:
            entry = paramiko.hostkeys.HostKeyEntry.from_line(line, number)
        except Exception:  # any line paramiko cannot read is a line less, not a failure
            entry = None
        if entry is None:
            log.info("%s:%d: skipped (unreadable)", path, number)
        elif marker == "@revoked":
            revoked.add(entry.key.asbytes())
        else:
            for name in entry.hostnames:
                keys.add(name, entry.key.get_name(), entry.key)
    return revoked


def _lines(path):
    """(line number, text) of known_hosts, read a line at a time; a line longer than
    MAX_KNOWN_HOSTS_LINE is skipped, a file larger than MAX_KNOWN_HOSTS_BYTES refused."""
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise PluginError("known_hosts {}: {}".format(path, exc.strerror or exc))
    with handle:
        size, number, skipping = 0, 0, False
        for chunk in iter(lambda: handle.readline(MAX_KNOWN_HOSTS_LINE), b""):
            size += len(chunk)
            if size > MAX_KNOWN_HOSTS_BYTES:
                raise PluginError("known_hosts {}: larger than {} MiB, not such a file"
                                  .format(path, MAX_KNOWN_HOSTS_BYTES >> 20))
            ended = chunk.endswith(b"\n") or len(chunk) < MAX_KNOWN_HOSTS_LINE
            if skipping:  # the rest of a line too long
                skipping = not ended
                continue
            number += 1
            if not ended:
                skipping = True
                log.info("%s:%d: skipped (longer than %d bytes)", path, number,
                         MAX_KNOWN_HOSTS_LINE)
                continue
            yield number, chunk.decode("utf-8", "replace").strip()
