"""What netplan 0.106 hands to systemd-networkd at boot: its generator turns the YAML into
/run/systemd/network/10-netplan-ID.network files, which then compete with the other .network
files by name (networkd.py).

The rules (each proven against the real generator and daemon by tests/test_networkd_oracle.py):
- *.yaml of /lib/netplan, /etc/netplan and /run/netplan (a name in a later directory replaces
  the same name earlier), in name order, hidden files and *.yml ignored;
- one invalid file fails the generator, and then no netplan configuration applies at all:
  YAML errors, a key netplan does not know (a typo, a merge key `<<`), `version` other than 2,
  `set-name` without `match`, `addresses` that is not a list, an address without a prefix or
  with an invalid one;
- a device defined in several files gets the addresses of all of them;
- the renderer is the device's own, else the last `network: renderer:` of all files, else
  networkd; a device rendered by NetworkManager gets nothing from networkd;
- `set-name` names the link (it is renamed to it), else `match: name:` (a glob), else the
  device ID; other matches (macaddress, driver) without `set-name` are not known here and
  taken as no match.

PyYAML reads the YAML (netplan's own libyaml-based parser accepts the same documents, anchors
and flow style included); it is imported only when a netplan file exists.
"""

import posixpath
from collections.abc import Iterable
from typing import Any, Optional

from lvs_dr_checks.boot import commands
from lvs_dr_checks.boot.systemd import Entry
from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.source.local import Source

DIRECTORIES = ("/lib/netplan", "/usr/lib/netplan", "/etc/netplan", "/run/netplan")
DEVICE_TYPES = ("ethernets", "wifis", "bridges", "bonds", "vlans", "tunnels", "vrfs",
                "nm-devices", "modems")
NETWORK_KEYS = DEVICE_TYPES + ("version", "renderer", "openvswitch")
RENDERERS = ("networkd", "NetworkManager", "sriov")
# The keys netplan 0.106 accepts in a device definition (all device types together).
DEVICE_KEYS = frozenset("""
accept-ra access-points activation-mode addresses addr-gen-mode auth bssid channel critical
delay-virtual-functions-rebind dhcp-identifier dhcp4 dhcp4-overrides dhcp6 dhcp6-overrides
embedded-switch-mode emit-lldp gateway4 gateway6 generic-receive-offload
generic-segmentation-offload id ignore-carrier infiniband-mode interfaces ipv6-address-generation
ipv6-address-token ipv6-mtu ipv6-privacy keepalive keys large-receive-offload link link-local
local macaddress match mode mtu nameservers neigh-suppress networkmanager openvswitch optional
optional-addresses parameters peers port-range receive-checksum-offload regulatory-domain
remote renderer routes routing-policy set-name table tcp-segmentation-offload
tcp6-segmentation-offload transmit-checksum-offload ttl virtual-function-count wakeonlan
wakeonwlan apn device-id network-id number password pin sim-id sim-operator-id username
auto-config ipv6-address-token key mark private-key private-key-flags table-id ipv4 ipv6
flow-label type-of-service source-port-min source-port-max destination-port do-not-fragment
mac-learning arp-proxy short-circuit l2-miss l3-miss checksums notifications
""".split())


class LineString(str):
    """A YAML string that remembers its line."""

    line = 0


def _yaml():
    """PyYAML and its safe loader with netplan's differences: strings carry their line, merge
    keys are refused."""
    try:
        import yaml
    except ImportError:
        raise PluginError("netplan files found, but PyYAML is missing to read them: install "
                          "python3-yaml") from None

    class Loader(yaml.SafeLoader):
        def flatten_mapping(self, node):
            for key, _ in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    raise yaml.constructor.ConstructorError(
                        None, None, "unknown key '<<'", key.start_mark)
            return super().flatten_mapping(node)

    def string(loader, node):
        value = LineString(loader.construct_scalar(node))
        value.line = node.start_mark.line + 1
        return value

    Loader.add_constructor("tag:yaml.org,2002:str", string)
    return yaml, Loader


def yaml_files(source: Source) -> list[str]:
    """The files the generator reads, in its order."""
    source.prefetch(directories=DIRECTORIES)
    chosen = {}
    for directory in DIRECTORIES:
        for name in source.listdir(directory):
            if name.endswith(".yaml") and not name.startswith("."):
                path = posixpath.join(directory, name)
                if source.kind(source.resolve(path)) == "file":
                    chosen[name] = path
    return [chosen[name] for name in sorted(chosen)]


class Invalid(Exception):
    """The generator refuses the configuration (then nothing of netplan applies)."""


def _device(path, device_id, definition, devices):
    if not isinstance(definition, dict):
        raise Invalid("{}: {}: expected mapping".format(path, device_id))
    unknown = [key for key in definition if key not in DEVICE_KEYS]
    if unknown:
        raise Invalid("{}:{}: unknown key '{}'".format(path, getattr(unknown[0], "line", "?"),
                                                      unknown[0]))
    if "set-name" in definition and "match" not in definition:
        raise Invalid("{}: {}: 'set-name:' requires 'match:' properties".format(
            path, device_id))
    device = devices.setdefault(device_id, {"addresses": [], "renderer": None, "match": None,
                                            "set-name": None})
    if "set-name" in definition:
        device["set-name"] = str(definition["set-name"])
    if "renderer" in definition:
        device["renderer"] = definition["renderer"]
    if "match" in definition:
        device["match"] = definition["match"] if isinstance(definition["match"], dict) else {}
    addresses = definition.get("addresses", [])
    if not isinstance(addresses, list):
        raise Invalid("{}: {}: addresses: expected sequence".format(path, device_id))
    for item in addresses:
        text = next(iter(item)) if isinstance(item, dict) and item else item
        parsed = commands.interface_address(text) if isinstance(text, str) else None
        if parsed is None or "/" not in text:
            raise Invalid("{}:{}: address '{}' is missing /prefixlength or invalid".format(
                path, getattr(text, "line", "?"), text))
        device["addresses"].append((parsed, path, getattr(text, "line", 0)))


def parse(source: Source, files: Iterable[str]) -> tuple[dict[str, Any], Optional[str]]:
    """({device ID: {"addresses": [((ip, prefixlen), file, line)], "renderer", "match"}},
    the global renderer), or raises Invalid."""
    yaml, loader = _yaml()
    devices, renderer = {}, "networkd"
    for path in files:
        try:
            document = yaml.load(source.read_text(path), Loader=loader)
        except yaml.YAMLError as exc:
            raise Invalid("{}: invalid YAML: {}".format(path, " ".join(str(exc).split())))
        except RecursionError:  # what netplan's own parser makes of it is not known here
            raise PluginError("{}: YAML nested too deeply to read".format(path))
        if document is None:
            continue
        if not isinstance(document, dict) or set(document) - {"network"}:
            raise Invalid("{}: unknown top-level key".format(path))
        network = document.get("network")
        if not isinstance(network, dict):
            raise Invalid("{}: network: expected mapping".format(path))
        unknown = [key for key in network if key not in NETWORK_KEYS]
        if unknown:
            raise Invalid("{}: unknown key '{}'".format(path, unknown[0]))
        if "version" in network and network["version"] != 2:
            raise Invalid("{}: only version 2 is supported".format(path))
        if "renderer" in network:
            if network["renderer"] not in RENDERERS:
                raise Invalid("{}: unknown renderer '{}'".format(path, network["renderer"]))
            renderer = network["renderer"]
        for kind in DEVICE_TYPES:
            definitions = network.get(kind) or {}
            if not isinstance(definitions, dict):
                raise Invalid("{}: {}: expected mapping".format(path, kind))
            for device_id, definition in definitions.items():
                _device(path, device_id, definition, devices)
    return devices, renderer


def generated(source: Source) -> tuple[dict[str, list[Entry]], list[Any]]:
    """({file name: [Entry]} of the .network files the generator writes for networkd, and
    [(ip, prefixlen, file, line, why never applied)] of addresses it never hands over)."""
    files = yaml_files(source)
    if not files:
        return {}, []
    try:
        devices, renderer = parse(source, files)
    except Invalid as exc:
        return {}, [(ip, prefixlen, path, line, "netplan generate fails ({}), so no netplan "
                     "configuration applies".format(exc))
                    for ip, prefixlen, path, line in _addresses_anyway(source, files)]
    networks, unused = {}, []
    for device_id, device in devices.items():
        backend = device["renderer"] or renderer
        if backend != "networkd":
            unused.extend((ip, prefixlen, path, line, "netplan renders {} with {}, which does "
                           "not configure it from netplan".format(device_id, backend))
                          for (ip, prefixlen), path, line in device["addresses"])
            continue
        match = device["match"]
        if device["set-name"]:  # the link is renamed first; the .network matches the new name
            names = [device["set-name"]]
        elif match is None:
            names = [device_id]
        else:
            names = [str(match["name"])] if set(match) == {"name"} else []
        where = device["addresses"][0][1:] if device["addresses"] else ("?", 0)
        entries = [Entry("Match", "Name", " ".join(names) or "!*", where[0], where[1])]
        entries.extend(Entry("Network", "Address", "{}/{}".format(ip, prefixlen), path, line)
                       for (ip, prefixlen), path, line in device["addresses"])
        networks["10-netplan-{}.network".format(device_id)] = entries
    return networks, unused


def _addresses_anyway(source, files):
    """Addresses written in files the generator refuses (for saying what is lost), read as
    plain text: each word that is an address."""
    found = []
    for path in files:
        for number, line in enumerate(source.read_text(path).splitlines(), 1):
            for word in line.replace("[", " ").replace("]", " ").replace(",", " ").split():
                word = word.strip("-'\":")
                parsed = commands.interface_address(word)
                if parsed:
                    found.append((parsed[0], parsed[1], path, number))
    return found
