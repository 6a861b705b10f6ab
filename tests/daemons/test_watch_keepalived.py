"""lvs-dr-watch with a real keepalived pair (tests/keepalivedlab.py), with and without
use_vmac: a watcher on each director and one on the client, each with the probe's command
line for that host. VRRP is blocked between the directors until both hold the VIPs (a
little over 4 s: the backup takes over after 3 advertisement intervals and a skew), then
let through again: each watcher records one split-brain episode of the IPv4 VIP, with a
start and an end, and nothing foreign."""

import json
import os
import subprocess
import time

import keepalivedlab
import lab as lab_module
import pytest
from conftest import unavailable
from test_keepalived_lab import commands


@pytest.fixture
def home():
    reason = keepalivedlab.unavailable_reason()
    if reason:
        unavailable(reason)
    with lab_module.readable_tempdir("lvs-dr-watch-pair-") as path:
        yield path


def _events(state_dir):
    with open(os.path.join(state_dir, "state.json")) as handle:
        return json.load(handle)["timeline"]["events"]


@pytest.mark.parametrize("vmac", [False, True], ids=["plain", "use_vmac"])
def test_one_split_brain_episode_on_both_directors_and_the_client(home, vmac):
    with keepalivedlab.KeepalivedLab(home, vmac) as pair:
        watchers = {}
        for host, argv in commands(pair, vmac).items():
            state = os.path.join(home, "watch-" + host.role)
            os.mkdir(state)
            watchers[host.role] = (state, subprocess.Popen(lab_module.Host.netns_argv(
                host.ns, [lab_module.plugin("lvs-dr-watch")] + argv + [
                    "--interval", "0.5", "--wait", "0.3", "--heartbeat", "2",
                    "--state-dir", state]), stderr=subprocess.PIPE, text=True))
        time.sleep(3)
        blocked = time.time()
        pair.split()
        pair.heal()
        healed = time.time()
        pair.settle(pair.directors[0])
        time.sleep(3)
        logs = {}
        for role, (_, process) in watchers.items():
            process.terminate()
            logs[role] = process.communicate(timeout=15)[1]
        print("VRRP blocked for {:.1f} s".format(healed - blocked))
        assert healed - blocked >= 4.0
        for role, (state, _) in watchers.items():
            events = _events(state)
            episodes = [(e["event"], e["at"]) for e in events
                        if e["vip"] == keepalivedlab.VIP4 and e["event"].startswith("split")]
            assert [kind for kind, _ in episodes] == ["split-start", "split-end"], \
                (role, events, logs[role])
            assert blocked < episodes[0][1] < episodes[1][1] <= healed + 5, (role, episodes)
            assert not [e for e in events if e["event"].startswith("foreign")], (role, events)
            for vip in (keepalivedlab.VIP4, keepalivedlab.VIP6):  # no flapping, either VIP
                starts = [e for e in events if e["vip"] == vip and e["event"] == "split-start"]
                assert len(starts) <= 1, (role, vip, events)
