#!/usr/bin/env python3
"""The lab: one network namespace per host (director, real servers, client), joined by a
bridge that lives in a namespace of its own, with the VIPs placed as in production.

Nothing here touches the host's own interfaces or sysctls: every veth is created inside a
lab namespace, and deleting the namespaces removes everything. Also a command line:
``python tests/lab.py demo`` (make demo), ``up`` and ``down``.
"""

import argparse
import atexit
import contextlib
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

import lvs_dr_checks

IP = "/usr/sbin/ip"
SETPRIV = "/usr/bin/setpriv"
NETNS_DIR = "/run/netns"
NAME_PATTERN = re.compile(r"^ldc(\d+)x[0-9a-f]{4}-")
SUBNET = "192.0.2.0/24"
PREFIXLEN = 24
VIP = "192.0.2.100"
NOBODY = "65534"
SYSCTL_KEYS = ("arp_ignore", "arp_announce", "proxy_arp", "arp_filter")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def readable_tempdir(prefix):
    """A temporary directory the lab's unprivileged users may enter; removed afterwards."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def lab_unavailable_reason():
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "the lab needs root (network namespaces); run as root or in CI"
    if not os.path.exists(IP):
        return "{} (iproute2) is missing".format(IP)
    probe = subprocess.run([IP, "netns", "list"], capture_output=True)
    if probe.returncode != 0:
        return "ip netns does not work here: " + probe.stderr.decode(errors="replace").strip()
    return None


def _sh(argv, check=True, **kwargs):
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and done.returncode != 0:
        raise RuntimeError("{} failed ({}): {}".format(" ".join(argv), done.returncode,
                                                       done.stderr.strip()))
    return done


def remove_stale_namespaces():
    """Delete lab namespaces left by a lab process that no longer exists."""
    for name in os.listdir(NETNS_DIR) if os.path.isdir(NETNS_DIR) else []:
        match = NAME_PATTERN.match(name)
        if match and not os.path.exists("/proc/{}".format(match.group(1))):
            _sh([IP, "netns", "del", name], check=False)


class Host:
    """One host of the lab: its namespace, its ARP-facing interface, address and MAC."""

    def __init__(self, lab, role, index, iface):
        self.lab = lab
        self.role = role
        self.ns = "{}-{}".format(lab.tag, role)
        self.iface = iface
        self.ip = "192.0.2.{}".format(index)
        self.mac = "02:00:5e:00:00:{:02x}".format(index)
        self.port = "p{}".format(index)

    @staticmethod
    def netns_argv(ns, argv, user=None):
        """argv run inside namespace ``ns``, as root or as the unprivileged ``user`` uid."""
        prefix = [IP, "netns", "exec", ns]
        if user is not None:
            prefix += [SETPRIV, "--reuid", user, "--regid", user, "--clear-groups", "--"]
        return prefix + list(argv)

    def run(self, argv, user=None, check=False, **kwargs):
        return _sh(self.netns_argv(self.ns, argv, user), check=check, **kwargs)

    def iproute(self, *args):
        return _sh([IP, "-n", self.ns] + list(args))

    def addresses(self, action, addresses, dev):
        """Add or delete host addresses (/32) in one `ip -batch` run, however many."""
        batch = "".join("addr {} {}/32 dev {}\n".format(action, a, dev) for a in addresses)
        if batch:
            _sh([IP, "-n", self.ns, "-batch", "-"], input=batch)

    def sysctl(self, values):
        """Write net.ipv4.conf values: {"all.arp_ignore": 1, "eth0.arp_announce": 2}."""
        for name, value in values.items():
            scope, key = name.rsplit(".", 1)
            path = "/proc/sys/net/ipv4/conf/{}/{}".format(scope, key)
            self.run(["/usr/bin/tee", path], input=str(value), check=True)

    def reset_sysctls(self):
        """Every ARP key of all, default, lo and the interface to 0: new namespaces inherit
        all/default from the host, so no host of the lab may rely on them."""
        self.sysctl({"{}.{}".format(scope, key): 0
                     for scope in ("all", "default", "lo", self.iface) for key in SYSCTL_KEYS})

    def enable_ipv6(self, address=None):
        """IPv6 on here (new namespaces inherit disable_ipv6 from the host), and ``address``
        (ADDRESS/PREFIXLEN) added to the interface without duplicate address detection."""
        for scope in ("all", "default", "lo", self.iface):
            self.run(["/usr/bin/tee", "/proc/sys/net/ipv6/conf/{}/disable_ipv6".format(scope)],
                     input="0", check=True)
        if address:
            self.iproute("addr", "add", address, "dev", self.iface, "nodad")

    def read_sysctl(self, scope, key):
        path = "/proc/sys/net/ipv4/conf/{}/{}".format(scope, key)
        return int(self.run(["/usr/bin/cat", path], check=True).stdout)

    def create(self):
        """The namespace with lo up, and its veth made inside it, peer in the bridge."""
        _sh([IP, "netns", "add", self.ns])
        self.iproute("link", "set", "lo", "up")
        self.iproute("link", "add", self.iface, "address", self.mac, "type", "veth",
                     "peer", "name", self.port, "netns", self.lab.bridge_ns)
        self.reset_sysctls()
        self.iproute("addr", "add", "{}/{}".format(self.ip, PREFIXLEN), "dev", self.iface)
        self.iproute("link", "set", self.iface, "up")
        _sh([IP, "-n", self.lab.bridge_ns, "link", "set", self.port, "master", "br0", "up"])

    def destroy(self):
        """Delete the namespace and wait for its veth peer to leave the bridge: the kernel
        removes it asynchronously, and a recreate must not race it."""
        _sh([IP, "netns", "del", self.ns], check=False)
        for _ in range(100):
            if _sh([IP, "-n", self.lab.bridge_ns, "link", "show", self.port],
                   check=False).returncode != 0:
                return
            time.sleep(0.05)

    def recreate(self):
        """A reboot: a fresh namespace with kernel defaults, the VIPs re-added as at first."""
        self.destroy()
        self.create()
        self.lab.place_vips(self)


class Lab:
    """A director, real servers and a client on one bridge, the VIPs placed as in LVS-DR:
    on the director's interface and on each real server's lo."""

    def __init__(self, realservers=2, iface="eth0", vips=(VIP,)):
        self.tag = "ldc{}x{}".format(os.getpid(), secrets.token_hex(2))
        self.bridge_ns = self.tag + "-br"
        self.vips = list(vips)
        self.director = Host(self, "dir", 1, iface)
        self.realservers = [Host(self, "rs{}".format(n), 10 + n, iface)
                            for n in range(1, realservers + 1)]
        self.client = Host(self, "cli", 200, iface)
        self.started = False

    @property
    def hosts(self):
        return [self.director] + self.realservers + [self.client]

    def place_vips(self, host):
        if host is self.director:
            host.addresses("add", self.vips, host.iface)
        elif host in self.realservers:
            host.addresses("add", self.vips, "lo")

    def start(self):
        remove_stale_namespaces()
        atexit.register(self.stop)
        self.started = True
        _sh([IP, "netns", "add", self.bridge_ns])
        _sh([IP, "-n", self.bridge_ns, "link", "add", "br0", "type", "bridge"])
        _sh([IP, "-n", self.bridge_ns, "link", "set", "br0", "up"])
        for host in self.hosts:
            host.create()
            self.place_vips(host)
        return self

    def stop(self):
        if not self.started:
            return
        for host in self.hosts:
            host.destroy()
        _sh([IP, "netns", "del", self.bridge_ns], check=False)
        self.started = False

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def reachable_by_others(path):
    """Whether a user with no rights of its own may read ``path``: every directory above it
    searchable by others, the path itself readable by them."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    while parent != os.path.dirname(parent):
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
        parent = os.path.dirname(parent)
    return bool(os.stat(path).st_mode & stat.S_IROTH)


_copies = {}  # a directory of the checkout: itself, or the copy others may read


def readable(path, inside=(), then=None):
    """``path`` (a directory of the checkout), or a copy of it that the lab's unprivileged
    users and daemons (nobody, nagios) may read: made once a process in a temporary
    directory, ``then(copy)`` run on it, removed at exit. ``inside``: paths below it that
    must be readable too. Nothing of the user's own directories changes its permissions."""
    if path not in _copies:
        if all(reachable_by_others(p) for p in [path] + list(inside)):
            _copies[path] = path
        else:
            parent = tempfile.mkdtemp(prefix="lvs-dr-copy-")
            atexit.register(shutil.rmtree, parent, True)
            os.chmod(parent, 0o755)
            copy = os.path.join(parent, os.path.basename(path))
            shutil.copytree(path, copy, symlinks=True)
            _open_to_others(copy)
            if then:
                then(copy)
            _copies[path] = copy
    return _copies[path]


def _open_to_others(top):
    """Others may read the copy ``top`` and enter its directories."""
    for directory, directories, files in os.walk(top):
        for name in directories + files:
            full = os.path.join(directory, name)
            if not os.path.islink(full):
                mode = os.stat(full).st_mode
                os.chmod(full, mode | stat.S_IROTH | (stat.S_IXOTH if mode & 0o111 else 0))


def runnable_venv():
    """The venv the plugins run from, one that the lab's unprivileged users may read: this
    venv where they reach it, else (a checkout under /root, a 0750 home) a copy whose
    console scripts name the copy's Python."""
    return readable(sys.prefix, inside=[os.path.join(sys.prefix, "pyvenv.cfg"),
                                        os.path.dirname(lvs_dr_checks.__file__)],
                    then=_scripts_to)


def _scripts_to(copy):
    """The console scripts of the venv copy ``copy`` run its own Python."""
    old, new = ("#!" + sys.prefix + "/").encode(), ("#!" + copy + "/").encode()
    bin_dir = os.path.join(copy, "bin")
    for name in os.listdir(bin_dir):
        script = os.path.join(bin_dir, name)
        if os.path.islink(script) or not os.path.isfile(script):
            continue
        with open(script, "rb") as handle:
            text = handle.read()
        if text.startswith(old):
            with open(script, "wb") as handle:
                handle.write(new + text[len(old):])


def plugin(name):
    """Full path of an installed check: the venv's console script, in a venv that the lab's
    unprivileged users may run (runnable_venv)."""
    path = os.path.join(runnable_venv(), "bin", name)
    if not os.path.exists(path):
        raise RuntimeError("{} is not installed in {}: run make setup".format(name, path))
    return path


class Scene:
    """One scene of the demo: what it shows, and the exit code each command must give there."""

    def __init__(self, number, title):
        self.number, self.title = number, title
        print("\n== {}. {}".format(number, title))

    def show(self, host, argv, expect, user=None):
        """Run ``argv`` on ``host`` and print it as a terminal would; a different exit code
        than ``expect`` is a failure of the demo, named with what the command printed."""
        shown = " ".join(os.path.basename(a) if a.startswith("/") and "/bin/" in a else a
                         for a in argv)
        print("\n[{}{}]$ {}".format(host.role, " as nobody" if user else "", shown))
        done = host.run(argv, user=user)
        sys.stdout.write(done.stdout)
        print("(exit {})".format(done.returncode))
        if done.returncode != expect:
            said = (done.stdout.strip() or done.stderr.strip() or "nothing").splitlines()[0]
            FAILURES.append("scene {} ({}): {} exited {}, it must exit {}: {}".format(
                self.number, self.title, shown.split()[0], done.returncode, expect, said))
        return done


FAILURES = []


def demo():
    """make demo: the scenes on a lab of their own; exits non-zero, naming each scene that did
    not show what it states, so that a demo that did not happen never looks like one."""
    reason = lab_unavailable_reason()
    if reason:
        print("The lab cannot run here: {}.".format(reason))
        print("Running the real-server checks on this host instead (with the documentation "
              "address {} as the VIP, which this host does not hold):".format(VIP))
        for argv in ([plugin("check_arp_sysctl"), "-v"],
                     [plugin("check_vip_on_lo"), "-v", "--vip", VIP]):
            print("\n$ " + " ".join(os.path.basename(a) for a in argv), flush=True)
            subprocess.run(argv)
        return 1
    from lvs_dr_checks.wire.channels import Pacer

    pacing = Pacer.PATH  # the probe's host-wide reservation
    existed = os.path.exists(pacing)
    try:
        with readable_tempdir("lvs-dr-demo-") as config:
            demo_in_lab(config)
    finally:
        if not existed and os.path.exists(pacing):
            os.unlink(pacing)  # the demo leaves nothing of its own on the machine
    if FAILURES:
        print("\nmake demo FAILED: {} command{} did not show what the scene states:".format(
            len(FAILURES), "" if len(FAILURES) == 1 else "s"), file=sys.stderr)
        for failure in FAILURES:
            print("  " + failure, file=sys.stderr)
        return 1
    print("\nEvery scene showed what it states.")
    return 0


def demo_in_lab(config):
    """The five scenes of make demo, on a lab of its own; ``config`` is rs1's /etc tree."""
    arp_sysctl = [plugin("check_arp_sysctl"), "--root", config]
    vip_on_lo = [plugin("check_vip_on_lo"), "--vip", VIP, "--root", config]
    protect = {"all.arp_ignore": 1, "all.arp_announce": 2}
    ok, warning, critical = 0, 1, 2
    with Lab() as lab:
        rs1, rs2 = lab.realservers[:2]
        director = lab.director
        # rs2's own address proves that the director's probe reaches the segment.
        owner = [plugin("check_vip_arp_owner"), "--vip", VIP, "--witness", rs2.ip]
        rs2.sysctl(protect)
        print("Lab: director {} ({}), real servers {}, client {}; VIP {} on the director's "
              "{} and on each real server's lo. rs2 is configured right.".format(
                  director.ip, director.mac,
                  ", ".join("{} ({})".format(h.ip, h.mac) for h in lab.realservers),
                  lab.client.ip, VIP, director.iface))
        scene = Scene(1, "rs1 fresh from the installer: kernel defaults")
        scene.show(rs1, arp_sysctl, critical, user=NOBODY)
        scene.show(director, owner, critical)
        scene = Scene(2, "The usual recipe, applied at runtime only: all and lo set")
        rs1.sysctl(dict(protect, **{"lo.arp_ignore": 1, "lo.arp_announce": 2}))
        scene.show(rs1, arp_sysctl + ["-v"], warning, user=NOBODY)
        scene.show(rs1, vip_on_lo, warning, user=NOBODY)
        scene.show(director, owner, ok)
        scene = Scene(3, "The fix and the VIP persisted in the boot configuration")
        write_config(config, {
            "etc/sysctl.d/90-lvs-dr.conf": "net.ipv4.conf.all.arp_ignore = 1\n"
                                           "net.ipv4.conf.all.arp_announce = 2\n",
            "etc/network/interfaces": "auto lo\niface lo inet loopback\n"
                                      "    up ip addr add {}/32 dev lo\n".format(VIP)})
        scene.show(rs1, arp_sysctl, ok, user=NOBODY)
        scene.show(rs1, vip_on_lo, ok, user=NOBODY)
        scene = Scene(4, "A reboot after configuration management emptied the sysctl file")
        write_config(config, {"etc/sysctl.d/90-lvs-dr.conf": "# managed by nobody\n"})
        rs1.recreate()
        scene.show(rs1, arp_sysctl, critical, user=NOBODY)
        ipvs = ["--from-ipvs", os.path.join(REPO, "tests", "fixtures", "ip_vs")]
        scene.show(director, owner + ipvs, critical)
        scene = Scene(5, "rs1 fixed again; the router (the client) learned the VIP while rs1 "
                         "answered alone")
        director.sysctl({"all.arp_ignore": 8})  # for this once, only rs1 answers
        lab.client.run(["/usr/sbin/ip", "neigh", "flush", "all"], check=True)
        lab.client.run(["/usr/bin/ping", "-c", "1", "-W", "1", rs1.ip], check=True)
        lab.client.run(["/usr/bin/ping", "-c", "1", "-W", "1", VIP], check=True)
        director.sysctl({"all.arp_ignore": 0})
        rs1.sysctl(protect)
        scene.show(rs1, arp_sysctl[:1] + ["--no-persistence"], ok, user=NOBODY)
        scene.show(director, owner + ipvs, ok)
        scene.show(lab.client, [plugin("check_vip_arp_cache"), "--source", "local", "--vip",
                                VIP, "--expect-mac", director.mac] + ipvs, critical)


def ipvsadm_text(vip, servers, port=80):
    """`ipvsadm -Ln` of one TCP service of ``vip`` with ``servers`` (addresses) as its
    direct-routing real servers: a saved IPVS table, for this kernel has no IPVS."""
    return ("IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  {}:{} wlc\n".format(vip, port)
            + "".join("  -> {}:{}               Route   1      0          0\n".format(
                server, port) for server in servers))


def ipvsadm_vips_text(vips, port=80):
    """`ipvsadm -Ln` of one TCP service for each of ``vips`` (IPv6 ones in brackets), no real
    servers: a saved table for the probe (argv cannot carry tens of thousands of --vip)."""
    return ("IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            + "".join("TCP  {}:{} wlc\n".format("[{}]".format(v) if ":" in v else v, port)
                      for v in vips))


def keepalived_vips_text(vips, vrid=51):
    """A keepalived.conf of one VRRP instance holding ``vips`` (virtual_ipaddress_excluded,
    where pools of thousands go): for the probe, like ipvsadm_vips_text."""
    return ("vrrp_instance VI_LARGE {{\n  interface eth0\n  virtual_router_id {}\n"
            "  virtual_ipaddress_excluded {{\n{}  }}\n}}\n".format(
                vrid, "".join("    {}\n".format(v) for v in vips)))


ROUTED_PREFIX = "2001:db8:6::/64"


def routed_vips(lab, count):
    """``count`` IPv6 VIPs of ROUTED_PREFIX that the director answers for; the client reaches
    the prefix by a route on its segment, outside its own subnet (2001:db8:5::/64), and rs1's
    2001:db8:5::11 is a witness. The director answers by proxy neighbour discovery (no
    delay): adding 20,000 IPv6 addresses to an interface takes the kernel two minutes, proxy
    entries three seconds. Returns (the VIPs, the witness)."""
    director, client, rs1 = lab.director, lab.client, lab.realservers[0]
    director.enable_ipv6("2001:db8:5::1/64")
    client.enable_ipv6("2001:db8:5::200/64")
    rs1.enable_ipv6("2001:db8:5::11/64")
    for path in ("conf/all/forwarding", "conf/{}/proxy_ndp".format(director.iface)):
        director.run(["/usr/bin/tee", "/proc/sys/net/ipv6/" + path], input="1", check=True)
    director.run(["/usr/bin/tee", "/proc/sys/net/ipv6/neigh/{}/proxy_delay".format(
        director.iface)], input="0", check=True)
    vips = ["2001:db8:6::{:x}".format(n) for n in range(1, count + 1)]
    _sh([IP, "-n", director.ns, "-batch", "-"],
        input="".join("neigh add proxy {} dev {}\n".format(v, director.iface) for v in vips))
    client.iproute("-6", "route", "add", ROUTED_PREFIX, "dev", client.iface)
    return vips, "2001:db8:5::11"


def vips_on_lo(host, count):
    """``count`` IPv6 VIPs of ROUTED_PREFIX added to ``host``'s lo as host addresses, in one
    batch (20,000 take the kernel about 20 s), and the ifupdown lines that restore them at
    boot: (the VIPs, /etc/network/interfaces)."""
    host.enable_ipv6()
    vips = ["2001:db8:6::{:x}".format(n) for n in range(1, count + 1)]
    _sh([IP, "-n", host.ns, "-batch", "-"],
        input="".join("addr add {}/128 dev lo\n".format(v) for v in vips))
    return vips, "auto lo\niface lo inet loopback\n" + "".join(
        "    up ip addr add {}/128 dev lo\n".format(v) for v in vips)


def write_config(root, files):
    """Write {relative path: text} into the demo's configuration tree, readable by all; bytes
    that are not UTF-8 given as surrogate escapes."""
    for path, text in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), mode=0o755, exist_ok=True)
        with open(full, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.chmod(full, 0o644)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("demo", "down"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.command == "demo":
        sys.exit(demo())
    else:
        remove_stale_namespaces()


if __name__ == "__main__":
    main()
