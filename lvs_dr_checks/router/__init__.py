"""The router's table: neighbour entries over SSH (ip neigh) or SNMP."""
