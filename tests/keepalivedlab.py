"""A keepalived director pair in the lab: two directors (VRRP on the lab bridge only), two
real servers, a client, an IPv4 and an IPv6 VIP, with or without use_vmac. keepalived is
Debian's, started by the tests inside the directors' namespaces (VRRP only, -P), stopped by
pid; nothing is started on the machine itself."""

import contextlib
import os
import signal
import subprocess
import time

import lab as lab_module
from conftest import unavailable

KEEPALIVED = "/usr/sbin/keepalived"
NFT = "/usr/sbin/nft"
VIP4 = "192.0.2.100"
VIP6 = "2001:db8::100"
VRID4, VRID6 = 51, 52
PREFIX6 = "2001:db8::{}/64"


def unavailable_reason():
    missing = [p for p in (KEEPALIVED, NFT) if not os.access(p, os.X_OK)]
    if missing:
        return "{} missing (Debian: keepalived, nftables)".format(", ".join(missing))
    return lab_module.lab_unavailable_reason()


@contextlib.contextmanager
def pair_home(prefix):
    """A directory for a pair's files, readable by all; unavailable without keepalived."""
    reason = unavailable_reason()
    if reason:
        unavailable(reason)
    with lab_module.readable_tempdir(prefix) as path:
        yield path


def config(host, priority, vmac, realservers):
    """keepalived.conf of one director: both instances and the DR virtual server."""
    vmac_line = "    use_vmac\n" if vmac else ""
    instance = ("vrrp_instance {name} {{\n    state BACKUP\n    interface {iface}\n"
                "    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n"
                "{vmac}    virtual_ipaddress {{\n        {vip}\n    }}\n}}\n")
    return ("global_defs {{\n    router_id {}\n    vrrp_garp_master_repeat 1\n}}\n".format(
        host.role)
        + instance.format(name="V4", iface=host.iface, vrid=VRID4, priority=priority,
                          vmac=vmac_line, vip=VIP4 + "/32")
        + instance.format(name="V6", iface=host.iface, vrid=VRID6, priority=priority,
                          vmac=vmac_line, vip=VIP6 + "/128")
        + "virtual_server {} 80 {{\n    lb_kind DR\n    protocol TCP\n".format(VIP4)
        + "".join("    real_server {} 80 {{\n        weight 1\n    }}\n".format(rs.ip)
                  for rs in realservers)
        + "}\n")


def cut_off(lab, host, blocked=True):
    """``host``'s bridge port forwards nothing (carrier up), or again."""
    if blocked:
        rules = ("table bridge lvsdrcut {{\n  chain forward {{\n    type filter hook forward "
                 "priority 0; policy accept;\n    iifname \"{0}\" drop\n    oifname \"{0}\" drop"
                 "\n  }}\n}}\n".format(host.port))
        subprocess.run(lab_module.Host.netns_argv(lab.bridge_ns, [NFT, "-f", "-"]), input=rules,
                       text=True, check=True)
    else:
        subprocess.run(lab_module.Host.netns_argv(
            lab.bridge_ns, [NFT, "delete", "table", "bridge", "lvsdrcut"]), check=True)


class KeepalivedLab:
    """The pair on a lab of its own; ``directors`` are (dir1, dir2), dir1 the preferred
    master. ``protect_new_interfaces``: default.arp_ignore=1 on the directors, so that the
    vmac interfaces keepalived creates answer only for their own addresses."""

    def __init__(self, home, vmac, protect_new_interfaces=True):
        self.home = home
        self.vmac = vmac
        self.protect = protect_new_interfaces
        self.lab = lab_module.Lab(vips=())
        self.daemons = {}
        self.directors = ()

    def __enter__(self):
        lab = self.lab.start()
        dir1 = lab.director
        dir2 = lab_module.Host(lab, "dir2", 2, dir1.iface)
        dir2.create()
        lab.extra = [dir2]
        self.directors = (dir1, dir2)
        hosts = [dir1, dir2] + lab.realservers + [lab.client]
        for index, host in zip((1, 2, 11, 12, 200), hosts):
            host.enable_ipv6(PREFIX6.format(index))
        for rs in lab.realservers:
            rs.addresses("add", [VIP4], "lo")
            rs.iproute("addr", "add", VIP6 + "/128", "dev", "lo")
            rs.sysctl({"all.arp_ignore": 1, "all.arp_announce": 2})
        for director in self.directors:
            director.sysctl({"{}.arp_ignore".format(director.iface): 1,
                             "default.arp_ignore": 1 if self.protect else 0})
        for director, priority in zip(self.directors, (150, 100)):
            path = os.path.join(self.home, "keepalived-{}.conf".format(director.role))
            with open(path, "w") as handle:
                handle.write(config(director, priority, self.vmac, lab.realservers))
            os.chmod(path, 0o644)
        time.sleep(1.5)  # IPv6 link-local addresses for VRRPv3
        for director in self.directors:
            self.start(director)
        self.settle(self.directors[0])
        return self

    def conf(self, director):
        return os.path.join(self.home, "keepalived-{}.conf".format(director.role))

    def start(self, director):
        run = os.path.join(self.home, director.role)
        os.makedirs(run, exist_ok=True)
        argv = [KEEPALIVED, "-P", "-n", "-l", "-G", "-f", self.conf(director),
                "-p", run + "/keepalived.pid", "-r", run + "/vrrp.pid"]
        log = open(os.path.join(run, "log"), "w")
        self.daemons[director.role] = subprocess.Popen(
            lab_module.Host.netns_argv(director.ns, argv), stdout=log, stderr=subprocess.STDOUT)

    def stop(self, director):
        daemon = self.daemons.pop(director.role, None)
        if daemon:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=15)

    def holds(self, director, vip):
        return vip in director.run(["/usr/sbin/ip", "-o", "addr", "show"]).stdout

    def settle(self, master, timeout=20):
        """Wait until ``master`` holds both VIPs and the other director neither."""
        other = [d for d in self.directors if d is not master][0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.holds(master, v) for v in (VIP4, VIP6)) and \
                    not any(self.holds(other, v) for v in (VIP4, VIP6)):
                time.sleep(1.0)  # the gratuitous ARPs and advertisements of the new master
                return
            time.sleep(0.2)
        raise AssertionError("keepalived did not settle with {} as master".format(master.role))

    def split(self):
        """Block VRRP between the two directors' bridge ports (both become master); the
        client still hears both."""
        one, other = (d.port for d in self.directors)
        drops = ['    iifname "{}" oifname "{}" {} drop'.format(a, b, match)
                 for a, b in ((one, other), (other, one))
                 for match in ("ip protocol 112", "ip6 nexthdr 112")]
        rules = "\n".join(["table bridge lvsdrsplit {", "  chain forward {",
                           "    type filter hook forward priority 0; policy accept;"]
                          + drops + ["  }", "}", ""])
        subprocess.run(lab_module.Host.netns_argv(self.lab.bridge_ns, [NFT, "-f", "-"]),
                       input=rules, text=True, check=True)
        deadline = time.monotonic() + 20
        while not all(self.holds(d, VIP4) for d in self.directors):
            assert time.monotonic() < deadline, "no split brain within 20 s"
            time.sleep(0.2)
        time.sleep(1.0)

    def heal(self):
        subprocess.run(lab_module.Host.netns_argv(
            self.lab.bridge_ns, [NFT, "delete", "table", "bridge", "lvsdrsplit"]))

    def cut_off(self, director, blocked=True):
        """The director's switch port stops forwarding (every frame from or to it dropped in
        the bridge); its carrier stays up."""
        cut_off(self.lab, director, blocked)

    def __exit__(self, *exc):
        for director in self.directors:
            self.stop(director)
        for extra in getattr(self.lab, "extra", []):
            extra.destroy()
        self.lab.stop()
