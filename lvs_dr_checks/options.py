"""Option types the plugins share: a MAC, MAC=LABEL, [VIP=]MAC. Each refusal is an argparse
error, which cli turns into the run's one UNKNOWN line naming the option."""

import argparse
import re

from lvs_dr_checks import cli
from lvs_dr_checks.errors import PluginError
from lvs_dr_checks.host import links

_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def parse_mac(text):
    """aa:bb:cc:dd:ee:ff, any case, '-' taken for ':'; lower case with ':' out."""
    mac = text.strip().lower().replace("-", ":")
    if not _MAC.match(mac):
        raise argparse.ArgumentTypeError("not a MAC address (aa:bb:cc:dd:ee:ff): {!r}".format(text))
    return mac


def parse_name(text):
    """--name MAC=LABEL: (mac, label), a label of printable characters only."""
    mac, sep, label = text.partition("=")
    if not sep or not label.strip():
        raise argparse.ArgumentTypeError("expected MAC=LABEL: {!r}".format(text))
    if cli.unprintable(label):
        raise argparse.ArgumentTypeError("the label holds control characters (a newline, "
                                         "a tab...): {!r}".format(text))
    return parse_mac(mac), label.strip()


def parse_expectation(text):
    """--expect-mac MAC (every VIP) or VIP=MAC (one VIP): (vip or None, mac)."""
    vip, sep, mac = text.rpartition("=")
    if not sep:
        return None, parse_mac(text)
    try:
        return links.vip_address(vip.strip()), parse_mac(mac)
    except PluginError as exc:
        raise argparse.ArgumentTypeError(str(exc))
