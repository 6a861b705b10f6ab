#!/usr/bin/env python3
"""make bench: the suite's speed and memory, each figure a ratio against a baseline measured
in the same run, in the lab. Prints a table and writes bench-results.json. Not a test: it
asserts nothing; the targets are printed beside the figures."""

import ast
import collections
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import lab as lab_module
import sshlab

RUNS = 5
SWEEP_RUNS = 3  # runs of each sweep (its sshd CPU is their mean)
PARALLEL = os.environ.get("LVS_DR_BENCH_PARALLEL", "8")
ARPING = "/usr/bin/arping"
ARP_SCAN = "/usr/sbin/arp-scan"
# VIPs only from the documentation ranges, none of them a lab host's own address.
ALL_VIPS = (["192.0.2.{}".format(n) for n in range(20, 255) if n not in (200,)]
            + ["203.0.113.{}".format(n) for n in range(1, 255)])
SIZES = (1, 16, 256, len(ALL_VIPS))
PLUGIN_DIR = os.path.dirname(sys.executable)


def plugin(name):
    return os.path.join(PLUGIN_DIR, name)


# A process's peak RSS (ru_maxrss) starts at its parent's at fork, so the program measured is
# started by a minimal interpreter (-S, only os and time) inside the namespace, not by this
# script nor by `ip netns exec` (both larger than the plugins' baseline).
CHILD = """
import os, sys, time
argv = sys.argv[1:]
read_end, write_end = os.pipe()
started = time.monotonic()
pid = os.fork()
if pid == 0:
    os.dup2(write_end, 1)
    os.close(read_end)
    os.execv(argv[0], argv)
os.close(write_end)
chunks = []
while True:
    chunk = os.read(read_end, 65536)
    if not chunk:
        break
    chunks.append(chunk)
usage = os.wait4(pid, 0)[2]
print(repr((time.monotonic() - started, usage.ru_maxrss / 1024.0,
            b"".join(chunks).decode("utf-8", "replace"), usage.ru_utime + usage.ru_stime)))
"""


Runs = collections.namedtuple("Runs", "seconds peak_mb output cpu_seconds")
Runs.__doc__ = """Wall seconds and peak RSS in MB, stdout, and CPU seconds (the program's and
its processes', user and system) of a program run in a namespace."""


def timed(argv):
    """One Runs of argv, run in a namespace by netns_argv."""
    prefix, command = argv[:4], argv[4:]
    done = subprocess.run(prefix + [sys.executable, "-S", "-c", CHILD] + command,
                          capture_output=True, text=True, check=True)
    return Runs(*ast.literal_eval(done.stdout))


def repeat(argv, runs=RUNS):
    """Runs of argv: the median time and CPU, the largest peak, the last output."""
    samples = [timed(argv) for _ in range(runs)]
    return Runs(statistics.median(s.seconds for s in samples), max(s.peak_mb for s in samples),
                samples[-1].output, statistics.median(s.cpu_seconds for s in samples))


def startup(lab):
    rs1 = lab.realservers[0]
    in_ns = lab_module.Host.netns_argv
    base_time, base_mem, _, _ = repeat(in_ns(rs1.ns, [sys.executable, "-c", "import nagiosplugin"]))
    rows = [{"what": "python -c 'import nagiosplugin' (baseline)", "seconds": base_time,
             "peak_mb": base_mem, "ratio": 1.0}]
    for argv in ([plugin("check_arp_sysctl")],
                 [plugin("check_vip_on_lo"), "--vip", lab_module.VIP]):
        seconds, memory, _, _ = repeat(in_ns(rs1.ns, argv))
        rows.append({"what": os.path.basename(argv[0]), "seconds": seconds, "peak_mb": memory,
                     "ratio": seconds / base_time, "target": "<= 1.5x, < 40 MB"})
    return rows


def detected_right(output, expected):
    """Every VIP listed is one that answers, and the status line counts exactly those (the
    long output is bounded: past 60 lines it says how many more)."""
    listed = {m.group(1) for m in re.finditer(r"^CRITICAL: VIP (\S+) answered by", output, re.M)}
    affected = re.search(r"\((\d+) of \d+ VIPs? affected\)", output.splitlines()[0])
    return listed <= expected and bool(listed) == bool(expected) and \
        int(affected.group(1) if affected else 0) == len(expected)


def arp_scan_responders(output, mac):
    return {line.split()[0] for line in output.splitlines()
            if len(line.split()) >= 2 and line.split()[1].lower() == mac}


def probe_scaling():
    exposed = set(ALL_VIPS[::7])
    rows = []
    with lab_module.Lab(realservers=1, vips=ALL_VIPS) as lab:
        director, rs1 = lab.director, lab.realservers[0]
        rs1.addresses("del", [vip for vip in ALL_VIPS if vip not in exposed], "lo")
        in_dir = lab_module.Host.netns_argv
        baseline = None
        for size in SIZES:
            vips = ALL_VIPS[:size]
            expected = exposed & set(vips)
            seconds, memory, output, _ = repeat(in_dir(director.ns, [
                plugin("check_vip_arp_owner"), "-v", "-t", "30", "--vip", ",".join(vips)]), 3)
            baseline = baseline or seconds
            with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as targets:
                targets.write("\n".join(vips) + "\n")
            scan_seconds, _, scan, _ = repeat(in_dir(director.ns, [
                ARP_SCAN, "-q", "-I", director.iface, "--retry=2", "--timeout=1000",
                "-f", targets.name]), 3)
            os.unlink(targets.name)
            row = {"vips": size, "seconds": seconds, "ratio_to_1_vip": seconds / baseline,
                   "peak_mb": memory, "detected_right": detected_right(output, expected),
                   "arp_scan_seconds": scan_seconds,
                   "arp_scan_same_responders": arp_scan_responders(scan, rs1.mac) == expected}
            if size <= 16:
                started = time.monotonic()
                found = set()
                for vip in vips:
                    done = director.run([ARPING, "-c", "1", "-w", "1", "-I", director.iface,
                                         "-s", director.ip, vip])
                    if rs1.mac.upper() in done.stdout.upper():
                        found.add(vip)
                row["arping_sequential_seconds"] = time.monotonic() - started
                row["arping_same_responders"] = found == expected
            rows.append(row)
    return rows


def ssh_sweep():
    """The sweep against real sshd: 1, 8 and 32 healthy real servers (8 namespaces, each sshd
    also listening on three more addresses: sshd takes 16 listen sockets at most; the VIP on
    lo, arp_ignore 1 and arp_announce 2). With the CPU the plugin and the sshd spent: the
    sshd share this machine's CPUs, so no schedule ends before their sum over the CPUs (the
    floor)."""
    rows = []
    with sshlab.LoginUser() as home, lab_module.Lab(realservers=8) as lab:
        extra = {host: ["192.0.2.{}".format(30 + 3 * index + n) for n in range(3)]
                 for index, host in enumerate(lab.realservers)}
        for host, addresses in extra.items():
            host.addresses("add", addresses, host.iface)
            host.sysctl({"all.arp_ignore": 1, "all.arp_announce": 2})
        ssh = sshlab.SSHLab(lab, home).start(extra=extra)
        every = [host.ip for host in lab.realservers] + sum(extra.values(), [])
        try:
            for count, servers in ((1, every[:1]), (8, every[:8]), (32, every)):
                table = os.path.join(home, "ip_vs_{}".format(count))
                with open(table, "w") as handle:
                    handle.write("IP Virtual Server version 1.2.1 (size=4096)\n"
                                 "Prot LocalAddress:Port Scheduler Flags\n"
                                 "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
                                 "TCP  C0000264:0050 wlc\n")
                    for address in servers:
                        handle.write("  -> {:08X}:0050      Route   1      0          0\n".format(
                            int.from_bytes(bytes(int(p) for p in address.split(".")), "big")))
                os.chmod(table, 0o644)
                servers_before = sum(cpu_seconds(daemon.pid) for daemon in ssh.daemons)
                runs = repeat(lab_module.Host.netns_argv(lab.director.ns, [
                    plugin("check_lvs_realservers"), "--from-ipvs", table, "-t", "30",
                    "--parallel", PARALLEL]
                    + ssh.options()), SWEEP_RUNS)
                servers_cpu = (sum(cpu_seconds(daemon.pid) for daemon in ssh.daemons)
                               - servers_before) / SWEEP_RUNS
                rows.append({"servers": count, "seconds": runs.seconds, "peak_mb": runs.peak_mb,
                             "client_cpu_seconds": runs.cpu_seconds,
                             "servers_cpu_seconds": servers_cpu,
                             "cpu_floor_seconds": (runs.cpu_seconds + servers_cpu)
                             / os.cpu_count(),
                             "status": runs.output.splitlines()[0].split("|")[0][:90]})
        finally:
            ssh.stop()
    for row in rows:
        row["ratio_to_1_server"] = row["seconds"] / rows[0]["seconds"]
        row["cpu_floor_ratio"] = row["cpu_floor_seconds"] / rows[0]["seconds"]
    return rows


def cpu_seconds(pid):
    """CPU seconds (user and system) of a running process and of every process it has reaped:
    for sshd, each connection's processes (the session, sftp, the commands run)."""
    with open("/proc/{}/stat".format(pid)) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def probe_10k():
    """The probe with 1 and 10,000 VIPs (IPv6, the only documentation range that large) held
    by the director, a real server as witness: the window grows only by the pacing."""
    rows = []
    with lab_module.Lab(realservers=1, vips=()) as lab:
        director, rs1 = lab.director, lab.realservers[0]
        for host in (director, rs1):
            host.enable_ipv6()
        vips = ["2001:db8:1::{:x}".format(n) for n in range(1, 10001)]
        batch = "".join("addr add {}/128 dev {} nodad\n".format(v, director.iface) for v in vips)
        subprocess.run([lab_module.IP, "-n", director.ns, "-batch", "-"], input=batch, text=True,
                       check=True)
        with lab_module.readable_tempdir("lvs-dr-bench-") as home:
            for size in (1, len(vips)):
                table = os.path.join(home, "ipvsadm-{}".format(size))
                lab_module.write_config(home, {os.path.basename(table):
                                               lab_module.ipvsadm_vips_text(vips[:size])})
                seconds, memory, output, _ = repeat(lab_module.Host.netns_argv(director.ns, [
                    plugin("check_vip_arp_owner"), "--from-ipvs", table, "--witness", rs1.ip,
                    "-t", "60"]), 3)
                rows.append({"vips": size, "seconds": seconds, "peak_mb": memory,
                             "status": output.splitlines()[0].split("|")[0][:80]})
    for row in rows:
        row["ratio_to_1_vip"] = row["seconds"] / rows[0]["seconds"]
    return rows


ROUTED_VIPS = 20000


def probe_routed():
    """A client probing 1 and 20,000 VIPs of a prefix routed on its segment (kube-proxy IPVS
    nodes, large pools): the routes of all are looked up in one `ip -batch`. Goal: at most
    2·N/4000 + 1.5 s (two paced rounds at the host-wide 4,000 frames/s are the floor) and
    150 MB. 20,000 VIPs are measured again with nobody answering, the probe's own cost (read
    from an IPVS table, then from one keepalived instance holding them all): in the lab each
    solicitation is received by the director's kernel inside the sender's system call, and
    that kernel walks the list of its 20,000 solicited-node groups for each one (about
    0.2 ms)."""
    rows = []
    with lab_module.Lab(realservers=1, vips=()) as lab:
        vips, witness = lab_module.routed_vips(lab, ROUTED_VIPS)
        with lab_module.readable_tempdir("lvs-dr-bench-") as home:
            def measure(size, setting, option="--from-ipvs"):
                name = "{}-{}".format(option[2:], size)
                text = (lab_module.keepalived_vips_text if option == "--from-keepalived"
                        else lab_module.ipvsadm_vips_text)(vips[:size])
                lab_module.write_config(home, {name: text})
                seconds, memory, output, cpu = repeat(lab_module.Host.netns_argv(lab.client.ns, [
                    plugin("check_vip_arp_owner"), option, os.path.join(home, name),
                    "--expect-mac", lab.director.mac, "--witness", witness, "-t", "60"]), 3)
                rows.append({"vips": size, "setting": setting, "seconds": seconds,
                             "cpu_seconds": cpu, "peak_mb": memory,
                             "goal_seconds": 2 * size / 4000 + 1.5, "goal_peak_mb": 150,
                             "status": output.splitlines()[0].split("|")[0][:80]})
            for size in (1, len(vips)):
                measure(size, "the director answering")
            # Down, the director's interface loses its proxy entries and groups with it.
            lab.director.iproute("link", "set", lab.director.iface, "down")
            measure(len(vips), "nobody answering")
            measure(len(vips), "nobody, keepalived.conf", "--from-keepalived")
    for row in rows:
        row["ratio_to_1_vip"] = row["seconds"] / rows[0]["seconds"]
    return rows


# VIPs a real server holds on lo for check_vip_on_lo's scale (a kube-proxy node holds one for
# every service on its NOARP kube-ipvs0).
VIPS_ON_LO = 20000
# --vip lists of at most this many: one argument may not pass 128 KiB.
VIPS_PER_ARGUMENT = 4000


def vip_on_lo_20k():
    """check_vip_on_lo on a real server holding 1 and 20,000 IPv6 VIPs on lo, each restored by
    an ifupdown line at boot, with and without the boot verdict. Goal: within the default -t
    (10 s), linear in the VIPs: before 0.4 the live half took 69 s and the boot half 52 s."""
    rows = []
    with lab_module.Lab(realservers=1, vips=()) as lab:
        rs1 = lab.realservers[0]
        vips, interfaces = lab_module.vips_on_lo(rs1, VIPS_ON_LO)
        with lab_module.readable_tempdir("lvs-dr-bench-") as root:
            lab_module.write_config(root, {"etc/network/interfaces": interfaces})
            for size in (1, len(vips)):
                asked, given = vips[:size], []
                for start in range(0, size, VIPS_PER_ARGUMENT):
                    given += ["--vip", ",".join(asked[start:start + VIPS_PER_ARGUMENT])]
                for setting, option in (("live and boot", ["--root", root]),
                                        ("live only", ["--no-persistence"])):
                    seconds, memory, output, cpu = repeat(lab_module.Host.netns_argv(rs1.ns, [
                        plugin("check_vip_on_lo")] + given + option + ["-t", "60"]), 3)
                    rows.append({"vips": size, "setting": setting, "seconds": seconds,
                                 "cpu_seconds": cpu, "peak_mb": memory,
                                 "status": output.splitlines()[0].split("|")[0][:60]})
    for row in rows:
        row["ratio_to_1_vip"] = row["seconds"] / next(
            r["seconds"] for r in rows if r["vips"] == 1 and r["setting"] == row["setting"])
    return rows


def sweep_isolation():
    """The sweep against 1 and 32 fake real servers (tests/fakessh.py, in a namespace of its
    own), and 32 with four tarpits among them: bounded by each server's share of -t."""
    import fakessh
    healthy = ["192.0.2.{}".format(n) for n in range(10, 42)]
    farms = {"1 server": {healthy[0]: "ok"}, "32 servers": {ip: "ok" for ip in healthy},
             "32 servers, 4 tarpits": dict({ip: "ok" for ip in healthy[:28]},
                                           **{ip: "tarpit" for ip in healthy[28:]})}
    rows = []
    for label, servers in farms.items():
        with fakessh.farm(servers, "192.0.2.100") as (run, table):
            times = []
            for _ in range(3):
                started = time.monotonic()
                done = run([plugin("check_lvs_realservers"), "--from-ipvs", table, "-t", "20"])
                times.append(time.monotonic() - started)
            rows.append({"farm": label, "seconds": statistics.median(times),
                         "status": done.stdout.splitlines()[0].split("|")[0][:90]})
    for row in rows:
        row["ratio_to_1_server"] = row["seconds"] / rows[0]["seconds"]
    return rows


def router_table_10k():
    """check_vip_arp_cache against the router's table (the lab's client namespace, real
    snmpd; sshd for the SSH source) holding a handful of entries, then 10,000 more (IPv6,
    permanent: the kernel leaves them out of its garbage-collection count). Direct reads of
    the VIP's rows, a walk (513 VIPs on 2 interfaces are more rows than direct reads ask
    for), and ip -j neigh over SSH; each a ratio to the same read of the small table."""
    import snmplab
    rows = []
    with sshlab.LoginUser() as home, lab_module.Lab(realservers=1) as lab:
        director, router = lab.director, lab.client
        for host in (director, router):
            host.enable_ipv6()
        agent = snmplab.SnmpAgent(router, home, ["udp:{}:161".format(router.ip)]).start()
        ssh = sshlab.SSHLab(lab, home, hosts=[router]).start()
        lab.realservers[0].sysctl({"all.arp_ignore": 1, "all.arp_announce": 2})
        router.run(["/usr/bin/ping", "-c", "1", "-W", "1", lab_module.VIP], check=True)
        many = [v for v in ("{}.{}".format(net, n) for net in ("192.0.2", "198.51.100",
                                                               "203.0.113") for n in range(1, 255))
                if v not in {h.ip for h in lab.hosts}][:513]
        common = ["-H", router.ip, "--expect-mac", director.mac, "-t", "60"]
        reads = {
            "SNMP, the VIP's rows": ["--snmp-community-file", agent.community_file, "--vip",
                                     lab_module.VIP],
            "SNMP, a walk (513 VIPs)": ["--snmp-community-file", agent.community_file, "--vip",
                                        ",".join(many)],
            "SSH, ip -j neigh": ["--source", "ssh", "--vip", lab_module.VIP] + ssh.options()}
        try:
            for size in ("small", 10000):
                if size != "small":
                    batch = "".join("neigh add 2001:db8:2::{:x} lladdr 02:00:5e:01:{:02x}:{:02x} "
                                    "dev {} nud permanent\n".format(n, n >> 8, n & 255,
                                                                     router.iface)
                                    for n in range(1, 10001))
                    subprocess.run([lab_module.IP, "-n", router.ns, "-batch", "-"], input=batch,
                                   text=True, check=True)
                entries = len(router.run(["/usr/sbin/ip", "neigh", "show"]).stdout.splitlines())
                for label, args in reads.items():
                    seconds, memory, output, _ = repeat(lab_module.Host.netns_argv(director.ns, [
                        plugin("check_vip_arp_cache")] + common + args), 3)
                    rows.append({"read": label, "entries": entries, "seconds": seconds,
                                 "peak_mb": memory,
                                 "status": output.splitlines()[0].split("|")[0][:70]})
        finally:
            ssh.stop()
            agent.stop()
    small = {row["read"]: row["seconds"] for row in rows[:len(reads)]}
    for row in rows:
        row["ratio_to_small_table"] = row["seconds"] / small[row["read"]]
    return rows


def main():
    reason = lab_module.lab_unavailable_reason() or sshlab.unavailable_reason()
    if reason:
        sys.exit("make bench needs the lab: " + reason)
    from lvs_dr_checks.wire.channels import Pacer
    pacing_existed = os.path.exists(Pacer.PATH)
    machine = "{} {}, {} CPUs, Linux {}, Python {}".format(
        platform.machine(), platform.processor() or "", os.cpu_count(), platform.release(),
        platform.python_version())
    with lab_module.Lab(realservers=1) as lab:
        results = {"machine": machine, "startup": startup(lab)}
    results["probe"] = probe_scaling()
    results["ssh_sweep"] = ssh_sweep()
    results["sweep_isolation"] = sweep_isolation()
    results["probe_10k"] = probe_10k()
    results["probe_routed"] = probe_routed()
    results["router_table"] = router_table_10k()
    results["vip_on_lo"] = vip_on_lo_20k()
    print("machine:", machine)
    print("\nstart-up (median of {} runs)".format(RUNS))
    for row in results["startup"]:
        print("  {:45s} {:6.3f} s  {:5.1f} MB  x{:.2f}".format(row["what"], row["seconds"],
                                                              row["peak_mb"], row["ratio"]))
    print("\nprobe scaling (one real server answering every 7th VIP; median of 3)")
    for row in results["probe"]:
        print("  {vips:4d} VIPs {seconds:6.3f} s x{ratio_to_1_vip:.2f} {peak_mb:5.1f} MB "
              "right={detected_right} | arp-scan {arp_scan_seconds:6.3f} s "
              "same={arp_scan_same_responders}".format(**row)
              + (" | arping sequential {arping_sequential_seconds:6.2f} s same="
                 "{arping_same_responders}".format(**row) if "arping_sequential_seconds" in row
                 else ""))
    print("\nSSH sweep of healthy real servers (check_lvs_realservers; median of 3; target: 8 "
          "servers <= 2x, 32 <= 3x of 1)")
    for row in results["ssh_sweep"]:
        print("  {servers:2d} servers {seconds:6.3f} s x{ratio_to_1_server:.2f} {peak_mb:5.1f} MB"
              "  {status}".format(**row))
    print("  CPU: the plugin's and the servers' sshd; the floor is their sum over {} CPUs, a "
          "ratio to 1 server's time".format(os.cpu_count()))
    for row in results["ssh_sweep"]:
        print("  {servers:2d} servers plugin {client_cpu_seconds:5.2f} s, sshd "
              "{servers_cpu_seconds:5.2f} s: floor {cpu_floor_seconds:5.2f} s x{cpu_floor_ratio:.2f}"
              .format(**row))
    print("\nSweep isolation (fake SSH servers, -t 20, 8 at a time: 4 waves of 4.25 s at most; "
          "median of 3)")
    for row in results["sweep_isolation"]:
        print("  {farm:22s} {seconds:6.3f} s x{ratio_to_1_server:.2f}  {status}".format(**row))
    print("\nprobe of 1 and 10,000 IPv6 VIPs held by the director (median of 3; the window "
          "grows by the pacing alone: 2 rounds of 10,000 at 4,000/s)")
    for row in results["probe_10k"]:
        print("  {vips:6d} VIPs {seconds:6.3f} s x{ratio_to_1_vip:.2f} {peak_mb:5.1f} MB  "
              "{status}".format(**row))
    print("\nprobe from a client of 1 and {:,} IPv6 VIPs on a routed prefix (median of 3; goal: "
          "2*N/4000 + 1.5 s and 150 MB)".format(ROUTED_VIPS))
    for row in results["probe_routed"]:
        print("  {vips:6d} VIPs, {setting:24s} {seconds:6.3f} s (CPU {cpu_seconds:5.2f} s) "
              "x{ratio_to_1_vip:.2f} {peak_mb:5.1f} MB  goal {goal_seconds:5.2f} s  {status}"
              .format(**row))
    print("\ncheck_vip_arp_cache against the router's table, small and with 10,000 more entries "
          "(median of 3; target: the VIP's rows read directly cost the same whatever the "
          "table's size, x1.5 at most)")
    for row in results["router_table"]:
        print("  {read:24s} {entries:6d} entries {seconds:6.3f} s x{ratio_to_small_table:.2f} "
              "{peak_mb:5.1f} MB  {status}".format(**row))
    print("\ncheck_vip_on_lo, 1 and {:,} IPv6 VIPs on lo, each restored by an ifupdown line "
          "(median of 3; goal: within the default -t 10 s)".format(VIPS_ON_LO))
    for row in results["vip_on_lo"]:
        print("  {vips:6d} VIPs, {setting:14s} {seconds:6.3f} s (CPU {cpu_seconds:5.2f} s) "
              "x{ratio_to_1_vip:.2f} {peak_mb:5.1f} MB  {status}".format(**row))
    path = os.path.join(lab_module.REPO, "bench-results.json")
    with open(path, "w") as handle:
        json.dump(results, handle, indent=2)
    print("\nwritten:", path)
    if not pacing_existed and os.path.exists(Pacer.PATH):
        os.unlink(Pacer.PATH)  # the probes' pacing file: nothing of the bench stays behind


if __name__ == "__main__":
    main()
