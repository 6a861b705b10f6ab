"""A router's neighbour table (its ARP cache and IPv6 neighbour cache) as one model, read
over SNMP (IP-MIB) or from ``ip -j neigh`` (a Linux router, over SSH or on this host).

An entry maps an address to a link-layer address only while the router would use it:
incomplete, failed and invalidated entries map to nothing (``mac`` None).
"""

import ipaddress
from collections.abc import Callable, Collection

from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.host import links
from lvs_dr_checks.kernel import IP
from lvs_dr_checks.router.snmp import NO_OBJECT, Agent, Credentials, TooManyRows
from lvs_dr_checks.source.local import Source
from lvs_dr_checks.summary import plural

# IP-MIB (RFC 4293): ipNetToPhysicalTable, indexed by ifIndex, address type and address;
# the older ipNetToMediaTable (RFC 1213), IPv4 only, by ifIndex and address.
IP_NET_TO_PHYSICAL = (1, 3, 6, 1, 2, 1, 4, 35, 1)
PHYSICAL_ADDRESS, PHYSICAL_TYPE, PHYSICAL_STATE = 4, 6, 7
IP_NET_TO_MEDIA = (1, 3, 6, 1, 2, 1, 4, 22, 1)
MEDIA_ADDRESS, MEDIA_TYPE = 2, 4
ADDRESS_COLUMNS = {IP_NET_TO_PHYSICAL: PHYSICAL_ADDRESS, IP_NET_TO_MEDIA: MEDIA_ADDRESS}
IF_INDEX = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1)
IF_NAME = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)  # IF-MIB ifName: what the router calls it
INET_ADDRESS_TYPES = {4: 1, 6: 2}  # IP version -> InetAddressType (ipv4, ipv6)
PHYSICAL_STATES = {1: "reachable", 2: "stale", 3: "delay", 4: "probe", 5: "invalid",
                   6: "unknown", 7: "incomplete"}
INVALID_TYPE = 2  # ipNetToPhysicalType / ipNetToMediaType invalid(2): not in the table
# Rows of the router's table a walk reads at most, unless told otherwise (--max-entries).
DEFAULT_MAX_ENTRIES = 100000
# How many rows the targeted read may ask for (interfaces x addresses); beyond, one walk.
MAX_TARGETED_ROWS = 1024
MAX_INTERFACES = 4096
TABLE_NAMES = {IP_NET_TO_PHYSICAL: "ipNetToPhysicalTable", IP_NET_TO_MEDIA: "ipNetToMediaTable"}


def _mac(octets):
    return ":".join("{:02x}".format(b) for b in octets) if octets else None


def _interface(if_index, names):
    name = names.get(if_index)
    return "{} (ifIndex {})".format(name, if_index) if name else "ifIndex {}".format(if_index)


def _entry(address, if_index, octets, state, names):
    mac = _mac(octets) if state not in links.UNRESOLVED_STATES else None
    return links.Neighbour(address, _interface(if_index, names), mac, state)


def _row_index(table, address, if_index):
    if table == IP_NET_TO_MEDIA:
        return (if_index,) + tuple(address.packed)
    packed = address.packed
    return (if_index, INET_ADDRESS_TYPES[address.version], len(packed)) + tuple(packed)


def _parse_index(table, index):
    """(ifIndex, address) of a row index, or None for a kind of address not judged (zoned)."""
    try:
        if table == IP_NET_TO_MEDIA:
            return index[0], ipaddress.IPv4Address(bytes(index[1:5]))
        if_index, kind, length = index[:3]
        octets = bytes(index[3:3 + length])
        if kind == 1 and length == 4:
            return if_index, ipaddress.IPv4Address(octets)
        if kind == 2 and length == 16:
            return if_index, ipaddress.IPv6Address(octets)
    except (ValueError, IndexError):
        pass
    return None


class SnmpNeighbours:
    """The rows of the agent's neighbour table for the addresses asked, read with GETs of
    exactly those rows where the interfaces are known and few, else with one bounded walk."""

    def __init__(self, agent, max_entries):
        self.agent = agent
        self.max_entries = max_entries
        self.table = None
        self.method = None

    def _served(self, versions):
        """The table to read: ipNetToPhysicalTable, else ipNetToMediaTable (IPv4 only).
        noSuchObject for a row that cannot exist tells that a table is not served."""
        nowhere = ipaddress.IPv4Address(0)
        probe = {table: table + (column,) + _row_index(table, nowhere, 0)
                 for table, column in ADDRESS_COLUMNS.items()}
        found = self.agent.get(list(probe.values()))
        served = [t for t, oid in probe.items() if found.get(oid) not in (NO_OBJECT, None)]
        if not served:
            raise PluginError("{} serves neither ipNetToPhysicalTable nor ipNetToMediaTable "
                              "(IP-MIB): allow .1.3.6.1.2.1.4 in the agent's view (net-snmp: "
                              "'view ... included .1.3.6.1.2.1.4')".format(self.agent.where))
        if served[0] == IP_NET_TO_MEDIA and 6 in versions:
            raise PluginError("{} serves only ipNetToMediaTable (IPv4): its IPv6 neighbours "
                              "cannot be read; allow ipNetToPhysicalTable (.1.3.6.1.2.1.4.35) "
                              "in its view, or use --source ssh".format(self.agent.where))
        return served[0]

    def read(self, addresses: Collection[IP]) -> list[links.Neighbour]:
        """Entries for ``addresses`` (ipaddress objects), and in a walk every other row."""
        self.table = self._served({a.version for a in addresses})
        try:
            if_indexes = [value for _, value in self.agent.walk(IF_INDEX, MAX_INTERFACES,
                                                                 "ifTable")
                          if isinstance(value, int)]
        except TooManyRows:  # more interfaces than direct reads would ever ask for
            if_indexes = []
        if if_indexes and len(if_indexes) * len(addresses) <= MAX_TARGETED_ROWS:
            self.method = "{} on {} read directly".format(
                plural(len(addresses), "address", "addresses"),
                plural(len(if_indexes), "interface"))
            return self._targeted(addresses, if_indexes)
        entries = self._walked(set(addresses))
        self.method = "walked: {}".format(plural(len(entries), "row"))
        return entries

    def _column(self, number):
        return self.table + (number,)

    @property
    def _address_column(self):
        return self._column(ADDRESS_COLUMNS[self.table])

    def _names(self, if_indexes):
        """{ifIndex: ifName} of the interfaces named in a verdict, where the agent has them."""
        wanted = sorted(set(if_indexes))
        found = self.agent.get([IF_NAME + (i,) for i in wanted])
        return {i: found[IF_NAME + (i,)].decode("utf-8", "replace") for i in wanted
                if isinstance(found.get(IF_NAME + (i,)), bytes) and found[IF_NAME + (i,)]}

    def _details(self, rows):
        """{row index: state} for the rows found: invalid rows left out."""
        if self.table == IP_NET_TO_MEDIA:
            oids = [self._column(MEDIA_TYPE) + index for index in rows]
            types = self.agent.get(oids)
            return {index: "unknown" for index, oid in zip(rows, oids)
                    if types.get(oid) != INVALID_TYPE}
        type_column, state_column = self._column(PHYSICAL_TYPE), self._column(PHYSICAL_STATE)
        found = self.agent.get([column + index for column in (type_column, state_column)
                                for index in rows])
        return {index: PHYSICAL_STATES.get(found.get(state_column + index), "unknown")
                for index in rows if found.get(type_column + index) != INVALID_TYPE}

    def _current(self, rows):
        """{row index: octets} where ipNetToMediaTable has another physical address for an
        IPv4 row of ipNetToPhysicalTable: net-snmp keeps a physical row's first MAC after the
        router's kernel changed the entry in place (a gratuitous ARP), while its media row
        follows the kernel within a second (tests/daemons/test_vip_arp_cache_lab.py). ``rows``: {row index:
        (ifIndex, address)}; agents without the media table change nothing."""
        if self.table != IP_NET_TO_PHYSICAL:
            return {}
        media = {index: IP_NET_TO_MEDIA + (MEDIA_ADDRESS,) + _row_index(IP_NET_TO_MEDIA,
                                                                        address, if_index)
                 for index, (if_index, address) in rows.items() if address.version == 4}
        found = self.agent.get(list(media.values())) if media else {}
        return {index: found[oid] for index, oid in media.items()
                if isinstance(found.get(oid), bytes) and found[oid]}

    def _targeted(self, addresses, if_indexes):
        address_column = self._address_column
        wanted = {_row_index(self.table, address, if_index): (if_index, address)
                  for address in addresses for if_index in if_indexes}
        found = self.agent.get([address_column + index for index in wanted])
        present = {index: found[address_column + index] for index in wanted
                   if isinstance(found.get(address_column + index), bytes)}
        details = self._details(list(present))
        present.update(self._current({index: wanted[index] for index in details}))
        names = self._names(wanted[index][0] for index in details)
        return [_entry(wanted[index][1], wanted[index][0], present[index], state, names)
                for index, state in details.items()]

    def _walked(self, addresses):
        rows = {}
        for index, value in self.agent.walk(self._address_column, self.max_entries,
                                            TABLE_NAMES[self.table]):
            parsed = _parse_index(self.table, index)
            if parsed is not None and isinstance(value, bytes):
                rows[index] = parsed, value
        judged = {index for index, (parsed, _) in rows.items() if parsed[1] in addresses}
        details = self._details(sorted(judged))
        for index, octets in self._current({index: rows[index][0] for index in details}).items():
            rows[index] = rows[index][0], octets
        names = self._names(rows[index][0][0] for index in details)
        entries = [_entry(parsed[1], parsed[0], value, details[index], names)
                   for index, (parsed, value) in rows.items() if index in details]
        return entries + [links.Neighbour(parsed[1], _interface(parsed[0], names), _mac(value), None)
                          for index, (parsed, value) in rows.items() if index not in judged]

    def describe(self) -> str:
        return "{} of {} ({})".format(TABLE_NAMES[self.table], self.agent.where, self.method)


def read_ip_neigh(source: Source) -> list[links.Neighbour]:
    """Every entry of the neighbour table of the host behind ``source``."""
    return links.parse_ip_neigh(source.run([links.ip_command(source), "-j", "neigh", "show"]))


def snmp_reader(host: str, port: int, credentials: Credentials, max_entries: int) -> Callable:
    """A function: (addresses, deadline) -> (the agent's entries for them, what was read),
    one session per call."""
    def read(addresses: Collection[IP], deadline: float) -> tuple[list[links.Neighbour], str]:
        agent = Agent(host, port, credentials, deadline)
        try:
            table = SnmpNeighbours(agent, max_entries)
            entries = table.read(addresses)
            return entries, "{}, {}".format(table.describe(), credentials.describe())
        finally:
            agent.close()
    return read
