"""lvs-dr-watch's life as systemd sees it, in the lab: readiness and the watchdog through
NOTIFY_SOCKET (a socket of the test's, as systemd's would be), a reload on SIGHUP and on a
change of its keepalived.conf (a VIP added is watched from then on), a clean stop on
SIGTERM, and a start that cannot work (no CAP_NET_RAW) as one line on stderr and exit 1."""

import os
import signal
import socket
import subprocess
import time

import lab as lab_module

AMBIENT = [lab_module.SETPRIV, "--reuid", lab_module.NOBODY, "--regid", lab_module.NOBODY,
           "--clear-groups", "--inh-caps", "+net_raw", "--ambient-caps", "+net_raw", "--"]
KEEPALIVED = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {{
{}
    }}
}}
"""


def _keepalived(path, vips):
    with open(path, "w") as handle:
        handle.write(KEEPALIVED.format("\n".join("        {}/32".format(v) for v in vips)))
    os.chmod(path, 0o644)


def _messages(sock, until, seconds=15):
    """Datagrams received until one equals ``until``."""
    found, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            found.append(sock.recv(4096).decode())
        except socket.timeout:
            break
        if found[-1] == until:
            return found
    raise AssertionError("no {} among {}".format(until, found))


def test_readiness_watchdog_reload_and_stop(lab):
    with lab_module.readable_tempdir("lvs-dr-watch-life-") as home:
        _life(lab, home)


def _life(lab, home):
    conf, state = os.path.join(home, "keepalived.conf"), os.path.join(home, "state")
    os.mkdir(state)
    os.chown(state, int(lab_module.NOBODY), int(lab_module.NOBODY))
    _keepalived(conf, [lab_module.VIP])
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(os.path.join(home, "notify"))
    os.chmod(os.path.join(home, "notify"), 0o777)
    argv = lab_module.Host.netns_argv(lab.director.ns, AMBIENT + [
        "/usr/bin/env", "NOTIFY_SOCKET=" + os.path.join(home, "notify"), "WATCHDOG_USEC=2000000",
        lab_module.plugin("lvs-dr-watch"), "--from-keepalived", conf, "--interval", "1",
        "--wait", "0.3", "--heartbeat", "1", "--state-dir", state])
    watcher = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        assert _messages(notify, "READY=1")[-1] == "READY=1"
        assert "WATCHDOG=1" in _messages(notify, "WATCHDOG=1")
        watcher.send_signal(signal.SIGHUP)
        assert _messages(notify, "READY=1")[-2:] == ["RELOADING=1", "READY=1"]
        time.sleep(1.1)  # a new modification time, whatever the file system's resolution
        _keepalived(conf, [lab_module.VIP, "192.0.2.101"])
        assert _messages(notify, "READY=1")[-2:] == ["RELOADING=1", "READY=1"]
        watcher.send_signal(signal.SIGTERM)
        assert "STOPPING=1" in _messages(notify, "STOPPING=1")
        code = watcher.wait(timeout=10)
    finally:
        if watcher.poll() is None:
            watcher.kill()
        log = watcher.communicate()[1]
        notify.close()
    assert code == 0, log
    assert "reloaded (SIGHUP): 1 VIPs" in log
    assert "reloaded ({} changed): 2 VIPs".format(conf) in log


def test_a_start_without_cap_net_raw_is_one_line_and_exit_1(lab, tmp_path):
    done = lab.director.run([lab_module.plugin("lvs-dr-watch"), "--vip", lab_module.VIP,
                             "--state-dir", str(tmp_path)], user=lab_module.NOBODY)
    assert done.returncode == 1
    assert done.stderr.startswith("lvs-dr-watch: cannot start: sending ARP needs CAP_NET_RAW")
    assert len(done.stderr.splitlines()) == 1 and done.stdout == ""


def test_a_state_directory_it_cannot_write_is_one_line_and_exit_1(lab, tmp_path):
    done = lab.director.run([lab_module.plugin("lvs-dr-watch"), "--vip", lab_module.VIP,
                             "--state-dir", str(tmp_path / "absent")])
    assert (done.returncode, done.stdout, done.stderr) == (1, "", (
        "lvs-dr-watch: cannot start: --state-dir {}: not a directory this user may write: "
        "create it, owned by the user the watcher runs as (the shipped unit: "
        "StateDirectory=)\n".format(tmp_path / "absent")))
