"""SNMP reads (GET, GETBULK, bounded column walks) for check_vip_arp_cache, through pysnmp.

Why pysnmp: a maintained pure-Python SNMP engine with v2c and v3 USM (SHA-2, AES), no C
library and no shell-out, packaged by Debian (python3-pysnmp4) and on PyPI. Two generations
are in use: Debian 12 ships 4.4 (its asyncio API no longer loads on Python 3.11, so the
asyncore one is used), PyPI and newer distributions ship the maintained 7.x (asyncio only).
Each gets one request function here; everything else (walks, bounds, deadlines, errors) is
written once. Secrets come from files readable by their owner alone, never the command line.
"""

import collections
import socket
import time
from collections.abc import Iterable, Sequence
from typing import Any, Optional

from lvs_dr_checks.errors import PluginError, logger
from lvs_dr_checks.source.localfiles import read_local_file

log = logger("snmp")
MAX_SECRET_FILE_BYTES = 4096
# Names as net-snmp's -a / -x take them -> pysnmp's protocol constants (AES192/AES256 use
# the key extension net-snmp uses, the "C" forms the one of Cisco and RFC draft Reeder).
AUTH_PROTOCOLS = {"MD5": "usmHMACMD5AuthProtocol", "SHA": "usmHMACSHAAuthProtocol",
                  "SHA224": "usmHMAC128SHA224AuthProtocol",
                  "SHA256": "usmHMAC192SHA256AuthProtocol",
                  "SHA384": "usmHMAC256SHA384AuthProtocol",
                  "SHA512": "usmHMAC384SHA512AuthProtocol"}
PRIV_PROTOCOLS = {"DES": "usmDESPrivProtocol", "AES": "usmAesCfb128Protocol",
                  "AES192": "usmAesBlumenthalCfb192Protocol",
                  "AES256": "usmAesBlumenthalCfb256Protocol",
                  "AES192C": "usmAesCfb192Protocol", "AES256C": "usmAesCfb256Protocol"}
V3_KEYS = ("user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
# One request waits at most this long (and is tried twice) while the run's time allows.
MAX_REQUEST_TIMEOUT = 2.0
MIN_REQUEST_TIMEOUT = 0.2
# Varbinds per GET and rows per GETBULK: small enough for one UDP datagram of a router.
GET_CHUNK = 32
BULK_ROWS = 40

# What a varbind may hold besides a value.
NO_OBJECT = "noSuchObject"  # the agent does not serve that table (or its view hides it)
NO_INSTANCE = "noSuchInstance"  # no such row
END_OF_VIEW = "endOfMibView"


class TooManyRows(PluginError):
    """A walk reached its row cap: the table is not read (nor judged) in part."""


class _TooBig(PluginError):
    """The agent's answer would not fit its datagram (errorStatus tooBig): ask for less."""


TOO_BIG = 1  # errorStatus tooBig (RFC 3416)


class Credentials(collections.namedtuple("Credentials", "version community user auth_protocol "
                                                        "auth_key priv_protocol priv_key")):
    """v2c: a community; v3: a USM user with authentication and (authPriv) privacy."""

    def describe(self) -> str:
        if self.version == "2c":
            return "SNMP v2c"
        return "SNMP v3 user {} ({})".format(self.user, "authPriv" if self.priv_key
                                               else "authNoPriv")


def _secret_lines(path, option):
    data = read_local_file(path, option, MAX_SECRET_FILE_BYTES, private=True)
    return [line.strip() for line in data.decode("utf-8", "replace").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def read_community(path: str) -> Credentials:
    """--snmp-community-file: the community on its first line (comments skipped)."""
    lines = _secret_lines(path, "--snmp-community-file")
    if not lines:
        raise PluginError("--snmp-community-file {}: no community in it".format(path))
    return Credentials("2c", lines[0], None, None, None, None, None)


def parse_v3(lines: Iterable[str], path: str) -> Credentials:
    """``key = value`` lines: user, auth_protocol, auth_key and, for authPriv,
    priv_protocol and priv_key."""
    values = {}
    for number, line in enumerate(lines, 1):
        key, sep, value = line.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or key not in V3_KEYS or not value:
            raise PluginError("--snmp-v3-file {}: line {} is not one of {} = VALUE".format(
                path, number, ", ".join(V3_KEYS)))
        values[key] = value
    for key in ("user", "auth_key"):
        if key not in values:
            raise PluginError("--snmp-v3-file {}: no {} = ... line".format(path, key))
    auth = values.get("auth_protocol", "SHA").upper()
    priv = values.get("priv_protocol", "AES").upper() if "priv_key" in values else None
    if auth not in AUTH_PROTOCOLS:
        raise PluginError("--snmp-v3-file {}: auth_protocol {} is not one of {}".format(
            path, auth, ", ".join(AUTH_PROTOCOLS)))
    if priv is not None and priv not in PRIV_PROTOCOLS:
        raise PluginError("--snmp-v3-file {}: priv_protocol {} is not one of {}".format(
            path, priv, ", ".join(PRIV_PROTOCOLS)))
    if "priv_protocol" in values and "priv_key" not in values:
        raise PluginError("--snmp-v3-file {}: priv_protocol without priv_key".format(path))
    for key in ("auth_key", "priv_key"):
        if key in values and len(values[key]) < 8:
            raise PluginError("--snmp-v3-file {}: {} is shorter than the 8 characters SNMPv3 "
                              "demands".format(path, key))
    return Credentials("3", None, values["user"], auth, values["auth_key"], priv,
                       values.get("priv_key"))


def read_v3(path: str) -> Credentials:
    return parse_v3(_secret_lines(path, "--snmp-v3-file"), path)


def read_credentials(community_file: Optional[str], v3_file: Optional[str]) -> Credentials:
    """The credentials of --snmp-community-file or --snmp-v3-file: exactly one of them."""
    if bool(community_file) == bool(v3_file):
        raise PluginError("give one of --snmp-community-file (v2c) and --snmp-v3-file (v3)")
    return read_community(community_file) if community_file else read_v3(str(v3_file))


def _value(value):
    """A varbind's value as Python: bytes, int, a tuple (an OID), or one of the markers
    above (a walk also sees the objects past its column, of any type)."""
    kind = type(value).__name__
    if kind == "NoSuchObject":
        return NO_OBJECT
    if kind == "NoSuchInstance":
        return NO_INSTANCE
    if kind == "EndOfMibView":
        return END_OF_VIEW
    if kind in ("OctetString", "IpAddress", "Opaque"):
        return bytes(value)
    if kind in ("ObjectIdentifier", "ObjectName"):
        return tuple(value)
    return int(value)


class _Asyncio:
    """pysnmp 7 (and 6.2+): coroutines run on a loop of this run's own."""

    def __init__(self, hlapi):
        import asyncio
        self.asyncio = asyncio
        self.hlapi = hlapi
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.engine = hlapi.SnmpEngine()

    def request(self, auth, address, ipv6, timeout, bulk_rows, oids):
        h = self.hlapi

        async def run():
            kind = h.Udp6TransportTarget if ipv6 else h.UdpTransportTarget
            target = await kind.create(address, timeout=timeout, retries=1)
            varbinds = [h.ObjectType(h.ObjectIdentity(oid)) for oid in oids]
            if bulk_rows:
                return await h.bulk_cmd(self.engine, auth, target, h.ContextData(), 0, bulk_rows,
                                        *varbinds, lookupMib=False)
            return await h.get_cmd(self.engine, auth, target, h.ContextData(), *varbinds,
                                   lookupMib=False)
        return self.loop.run_until_complete(run())

    def close(self):
        self.engine.close_dispatcher()
        pending = self.asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(self.asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()
        self.asyncio.set_event_loop(None)


class _Asyncore:
    """pysnmp 4.4 (Debian 12's python3-pysnmp4): callbacks and a dispatcher loop."""

    def __init__(self, hlapi):
        self.hlapi = hlapi
        self.engine = hlapi.SnmpEngine()

    def request(self, auth, address, ipv6, timeout, bulk_rows, oids):
        h = self.hlapi
        kind = h.Udp6TransportTarget if ipv6 else h.UdpTransportTarget
        target = kind(address, timeout=timeout, retries=1)
        varbinds = [h.ObjectType(h.ObjectIdentity(oid)) for oid in oids]
        answers = []

        def done(engine, handle, indication, status, index, found, context):
            answers.append((indication, status, index,
                            [vb for row in found for vb in row] if bulk_rows else found))
        if bulk_rows:
            h.bulkCmd(self.engine, auth, target, h.ContextData(), 0, bulk_rows, *varbinds,
                      cbFun=done, lookupMib=False)
        else:
            h.getCmd(self.engine, auth, target, h.ContextData(), *varbinds, cbFun=done,
                     lookupMib=False)
        self.engine.transportDispatcher.runDispatcher()
        return answers[0]

    def close(self):
        self.engine.transportDispatcher.closeDispatcher()


def _library():
    """(backend class, hlapi module) of the pysnmp installed, imported only on this path."""
    try:
        from pysnmp.hlapi.v3arch import asyncio as hlapi
        return _Asyncio, hlapi
    except ImportError:
        pass
    try:
        from pysnmp.hlapi import asyncore as hlapi
        return _Asyncore, hlapi
    except ImportError:
        raise PluginError("the Python module pysnmp is missing: install python3-pysnmp4 "
                          "(Debian) or pysnmp (pip), or use --source ssh")


def _resolve(host, port):
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise PluginError("cannot resolve {}: {}".format(host, exc))
    family, _, _, _, address = infos[0]
    return address[:2], family == socket.AF_INET6


class Agent:
    """One SNMP agent read within a deadline (time.monotonic()): every request takes its
    share of the time left, and an unanswered one names the likely causes."""

    def __init__(self, host, port, credentials, deadline):
        backend, hlapi = _library()
        self.where = "{}:{}".format(host, port)
        self.credentials = credentials
        self.deadline = deadline
        self.address, self.ipv6 = _resolve(host, port)
        self.backend = backend(hlapi)
        self.auth = self._auth(hlapi, credentials)
        self.requests = 0

    @staticmethod
    def _auth(hlapi, creds):
        if creds.version == "2c":
            return hlapi.CommunityData(creds.community, mpModel=1)
        return hlapi.UsmUserData(
            creds.user, creds.auth_key, creds.priv_key,
            authProtocol=getattr(hlapi, AUTH_PROTOCOLS[creds.auth_protocol]),
            privProtocol=getattr(hlapi, PRIV_PROTOCOLS[creds.priv_protocol])
            if creds.priv_key else hlapi.usmNoPrivProtocol)

    def close(self) -> None:
        self.backend.close()

    def _timeout(self):
        left = self.deadline - time.monotonic()
        if left < 2 * MIN_REQUEST_TIMEOUT:
            raise PluginError("{}: the agent answered too slowly to read what is needed within "
                              "-t ({} requests so far): raise -t".format(self.where,
                                                                         self.requests))
        return min(MAX_REQUEST_TIMEOUT, left / 3)  # tried twice, with room for the rest

    def _request(self, oids, bulk_rows=0):
        timeout = self._timeout()
        self.requests += 1
        try:
            indication, status, index, found = self.backend.request(
                self.auth, self.address, self.ipv6, timeout, bulk_rows, oids)
        except Exception as exc:  # the library's own failures (socket errors among them)
            raise PluginError("{}: {} failed: {}: {}".format(
                self.where, self.credentials.describe(), type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "no message"))
        if indication:
            raise PluginError(self._failure(indication, timeout))
        if status and int(status):
            text = status.prettyPrint() if hasattr(status, "prettyPrint") else str(status)
            kind = _TooBig if int(status) == TOO_BIG else PluginError
            raise kind("{}: the agent answered {} (for {}): check its configuration".format(
                self.where, text, ".".join(map(str, oids[0]))))
        return [(tuple(oid), _value(value)) for oid, value in found]

    def _failure(self, indication, timeout):
        kind = type(indication).__name__
        using = self.credentials.describe()
        if kind == "RequestTimedOut":
            return ("no answer from {} within {:.1f}s, tried twice ({}): a wrong community or "
                    "v3 keys, an ACL or firewall, or no agent there; try snmpget with the same "
                    "settings".format(self.where, timeout, using))
        if kind in ("UnknownUserName", "WrongDigest", "UnsupportedSecLevel", "DecryptionError",
                    "UnknownSecurityName", "AuthenticationFailure"):
            return ("{} refused {}: {}: check --snmp-v3-file against the agent's user".format(
                self.where, using, indication))
        return "{}: {} failed: {}".format(self.where, using, indication)

    def _fitting(self, oids, size, bulk):
        """(size, answers) of a GET of the first ``size`` OIDs, or of a GETBULK of ``size``
        rows, halving ``size`` while the agent answers tooBig."""
        while True:
            try:
                if bulk:
                    return size, self._request(oids, bulk_rows=size)
                return size, self._request(oids[:size])
            except _TooBig:
                if size == 1:
                    raise
                size //= 2

    def get(self, oids: Sequence[tuple[int, ...]]) -> dict[tuple[int, ...], Any]:
        """{oid: value} for every OID asked, in chunks that fit a datagram."""
        found, start, chunk = {}, 0, GET_CHUNK
        while start < len(oids):
            chunk, answers = self._fitting(oids[start:], chunk, bulk=False)
            found.update(answers)
            start += chunk
        return found

    def walk(self, column: tuple[int, ...], max_rows: int,
             what: str) -> list[tuple[tuple[int, ...], Any]]:
        """[(index, value)] of one table column by GETBULK, refusing more than ``max_rows``
        rows (never a verdict from part of a table)."""
        rows, last, repetitions = [], tuple(column), BULK_ROWS
        while True:
            repetitions, found = self._fitting([last], repetitions, bulk=True)
            inside = [(oid, value) for oid, value in found
                      if oid[:len(column)] == tuple(column) and value not in
                      (END_OF_VIEW, NO_OBJECT, NO_INSTANCE)]
            if any(oid <= before for (oid, _), before in zip(inside, [last] + [o for o, _ in inside])):
                raise PluginError("{}: the agent walked {} backwards (at {}): a broken agent, "
                                  "no verdict from it".format(self.where, what,
                                                             ".".join(map(str, last))))
            rows += [(oid[len(column):], value) for oid, value in inside]
            if len(rows) > max_rows:
                raise TooManyRows("{}: {} has more than {} rows: raise --max-entries (the table "
                                  "is read whole or not judged)".format(self.where, what,
                                                                        max_rows))
            if len(inside) < len(found) or not inside:
                log.info("%s: %s: %d rows in %d requests", self.where, what, len(rows),
                         self.requests)
                return rows
            last = inside[-1][0]
