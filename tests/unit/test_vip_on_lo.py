"""check_vip_on_lo's placements at scale, in-process: each VIP gets every live address and
boot record that names it, in their order, as a scan of all of them would give."""

import ipaddress
import types

from lvs_dr_checks.boot import netconfig
from lvs_dr_checks.checks import vip_on_lo
from lvs_dr_checks.host import links, role


def test_each_vip_gets_the_addresses_and_records_naming_it_in_their_order(monkeypatch):
    """1,200 VIPs (a kube-proxy node holds one per service on its NOARP kube-ipvs0): some on
    lo, some also on eth0 or twice, some missing; boot records for some, twice for others."""
    vips = [ipaddress.ip_address("2001:db8:6::{:x}".format(n)) for n in range(1, 1001)] + \
        [ipaddress.ip_address("192.0.2.{}".format(n)) for n in range(1, 201)]
    live = [links.Address("lo", v, v.max_prefixlen, "global", None) for v in vips[::2]] + \
        [links.Address("eth0", v, 64, "global", None) for v in vips[::7]] + \
        [links.Address("lo", v, 24, "global", "lo:1") for v in vips[::11]]
    boot = [netconfig.ConfiguredAddress(v, v.max_prefixlen, "lo", "/etc/network/interfaces", n)
            for n, v in enumerate(vips[::3])] + \
        [netconfig.ConfiguredAddress(v, 64, "eth0", "/etc/rc.local", n, "never run")
         for n, v in enumerate(vips[::5])]
    monkeypatch.setattr(role, "director_vips", lambda runtime, config: {})
    monkeypatch.setattr(links, "read_links", lambda source: {
        "lo": types.SimpleNamespace(arp_silent=True),
        "eth0": types.SimpleNamespace(arp_silent=False)})
    monkeypatch.setattr(links, "read_addresses", lambda source: live)
    monkeypatch.setattr(netconfig, "read_all", lambda source, interfaces: boot)
    metrics = list(vip_on_lo.VipOnLo(None, None, vips, True).probe())
    placements = [m.value for m in metrics if m.context == "vip"]
    assert [p.vip for p in placements] == vips
    for placement in placements:
        assert placement.live == [a for a in live if a.address == placement.vip]
        assert placement.configured == [c for c in boot if c.address == placement.vip]
        assert placement.safe_interfaces == {"lo"}
    by_name = {m.name: m.value for m in metrics}
    assert (by_name["vips"], by_name["missing"], by_name["misplaced"]) == (
        1200, sum(1 for p in placements if not p.live),
        sum(1 for p in placements if p.exposed or p.too_wide))
