"""Does the router follow a failover? After each owner change, lvs-dr-watch reads the
router's own neighbour entry for the VIP (SNMP, check_vip_arp_cache's reader) once
--router-grace seconds have passed, and again every grace period while it still names the
old owner: the failover that gratuitous ARP did not reach, which sends the VIP's traffic to
a host that gave it up. Reads run in a thread of their own, so that a slow agent never
stalls the watch; results come back through ``results()``."""

import ipaddress
import os
import threading
import time
from typing import Callable, Optional

from lvs_dr_checks.errors import PluginError, logger

log = logger("watch.follow")
READ_SECONDS = 10.0  # one read's deadline
MAX_FAILED_READS = 3  # reads of one failover that may fail (the router busy, a lost datagram)


class Follow:
    """One VIP's failover to check at the router: the old owner's MAC, the new one's."""

    def __init__(self, vip: str, before: str, after: str, due: float, failed: int = 0):
        self.vip, self.before, self.after, self.due = vip, before, after, due
        self.failed = failed


class RouterFollow:
    """``reader(addresses, deadline)`` -> the router's entries (links.Neighbour) for them;
    ``where``: how the router is named in the output; ``wake``: a file descriptor written to
    when a result is in."""

    def __init__(self, reader: Callable, where: str, grace: float, wake: int):
        self.reader, self.where, self.grace, self.wake = reader, where, grace, wake
        self.pending: dict[str, Follow] = {}
        self.running: set[str] = set()
        self.done: list[tuple[Follow, Optional[str], Optional[str]]] = []
        self.lock = threading.Lock()

    def owner_changed(self, vip: str, before: str, after: str) -> None:
        self.pending[vip] = Follow(vip, before, after, time.monotonic() + self.grace)

    def again(self, follow: Follow, failed: bool = False) -> bool:
        """Read the router again one grace period later: it was stale, or (``failed``) the
        read failed, at most MAX_FAILED_READS times. False when it gives up; a newer owner
        change asked meanwhile goes first."""
        failures = follow.failed + failed
        if failures >= MAX_FAILED_READS:
            return False
        if follow.vip not in self.pending:
            self.pending[follow.vip] = Follow(follow.vip, follow.before, follow.after,
                                              time.monotonic() + self.grace, failures)
        return True

    def next_due(self) -> Optional[float]:
        return min((f.due for f in self.pending.values()), default=None)

    def start_due(self) -> None:
        now = time.monotonic()
        for vip, follow in list(self.pending.items()):
            if follow.due <= now and vip not in self.running:
                del self.pending[vip]
                self.running.add(vip)
                threading.Thread(target=self._read, args=(follow,), daemon=True,
                                 name="router " + vip).start()

    def _read(self, follow):
        seen, error = None, None
        try:
            entries, _ = self.reader([ipaddress.ip_address(follow.vip)],
                                     time.monotonic() + READ_SECONDS)
            macs = [e.mac for e in entries if str(e.address) == follow.vip and e.mac]
            seen = macs[0] if macs else ""
        except PluginError as exc:
            error = str(exc)
        with self.lock:
            self.done.append((follow, seen, error))
            self.running.discard(follow.vip)
        try:
            os.write(self.wake, b"r")
        except OSError:
            pass

    def results(self) -> list[tuple[Follow, Optional[str], Optional[str]]]:
        """(the failover, the MAC the router has for the VIP ('' for no entry) or None, the
        error or None) of every read finished since the last call."""
        with self.lock:
            found, self.done = self.done, []
        return found


def snmp_reader(host: str, port: int, community_file: Optional[str],
                v3_file: Optional[str]) -> Callable:
    """check_vip_arp_cache's SNMP reader of the router's neighbour table."""
    from lvs_dr_checks.router import neighbours, snmp

    return neighbours.snmp_reader(host, port, snmp.read_credentials(community_file, v3_file),
                                  neighbours.DEFAULT_MAX_ENTRIES)
