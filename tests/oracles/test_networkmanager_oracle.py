"""The NetworkManager model against the real daemon (Debian 12's NetworkManager 1.42.4,
extracted from its package with libnm0 and libndp0, never installed): each tree of keyfiles is
loaded by the real daemon on a private system bus, in a network and mount namespace of its own
(tests/oracles/nm_boot.py), and the model must predict the same addresses on lo and eth0. The
expected addresses are the real daemon's, captured: the model is held to them everywhere (no
root needed), the oracle column proves them again where root can."""

import os

import pytest
from cases.networkmanager import CASES, LIBRARY_DIRECTORY, PRESENT, profile
from conftest import unavailable

from oracles.extracted import extracted
from oracles.namespace import VIP, assert_boot_verdict_holds, booted, need_root, vip_on_lo_check


@pytest.fixture(scope="module")
def oracle():
    need_root("NetworkManager")
    try:
        daemon = os.path.join(extracted("network-manager"), "usr", "sbin", "NetworkManager")
        libraries = [os.path.join(extracted(package), "usr", "lib", LIBRARY_DIRECTORY)
                     for package in ("libnm0", "libndp0")]
    except OSError as exc:
        unavailable("cannot extract Debian's network-manager: {}".format(exc))

    def boot(files, extra, **more):
        case = dict(more, files=files, boot=PRESENT[1:])
        if extra == "owner":
            case["owner"] = {path: 1000 for path in files}
        elif extra:
            case["mode"] = extra
        return booted("nm_boot.py", [daemon, ":".join(libraries)], case)
    return boot


@pytest.mark.parametrize("case, files, extra, expected", CASES, ids=[c[0] for c in CASES])
def test_the_real_networkmanager_did_what_the_case_says(oracle, case, files, extra, expected):
    result = oracle(files, extra)
    assert sorted(tuple(a) for a in result["addresses"]) == sorted(expected), result["log"][-3000:]


VERDICT_CASES = [
    ("restored", profile()),
    ("type=ethernet on lo (netplan's NetworkManager renderer)", profile(kind="ethernet")),
    ("no prefix", profile("method=manual\naddress1=192.0.2.100\n")),
    ("autoconnect=false", profile(connection="autoconnect=false\n")),
    ("a no-break space after the interface name", profile(name="lo\u00a0")),
]


@pytest.mark.parametrize("case, text", VERDICT_CASES, ids=[c[0] for c in VERDICT_CASES])
def test_the_boot_verdict_is_the_verdict_after_the_real_boot(oracle, case, text):
    """check_vip_on_lo's boot verdict (the VIP live on lo as /32) is the verdict the same check
    gives on what the real NetworkManager left, capped at WARNING."""
    result = oracle({"/etc/NetworkManager/system-connections/vip.nmconnection": text}, None,
                    check=vip_on_lo_check(), live=[VIP + "/32"])
    assert_boot_verdict_holds(result, text)
