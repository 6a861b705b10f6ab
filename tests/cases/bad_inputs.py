"""The named bad inputs across the five plugins: (plugin, arguments, the cause its one UNKNOWN
line must name). tests/unit runs those that need nothing of the host in-process, as any
user, with every socket refused; tests/lab runs them all as processes inside a bare network
namespace (lo only), where the probe, the interfaces and the router's silence are real."""

import os

import lab as lab_module

OWNER, ON_LO, SYSCTL, SWEEP, CACHE = ("check_vip_arp_owner", "check_vip_on_lo",
                                      "check_arp_sysctl", "check_lvs_realservers",
                                      "check_vip_arp_cache")
ROUTER = ["-H", "192.0.2.254", "--snmp-community-file", "PRIVATE"]
OWNED = ["--vip", "192.0.2.100", "--expect-mac", "02:00:5e:00:00:01"]
HOST = ["-H", "192.0.2.11"]

CASES = [
    # VIPs that are no VIPs, for every plugin that takes them.
    *[(plugin_, ["--vip", vip], cause) for plugin_ in (OWNER, ON_LO, CACHE) for vip, cause in (
        ("0.0.0.0", "the unspecified address cannot be a VIP"),
        ("::", "the unspecified address cannot be a VIP"),
        ("224.0.0.18", "a multicast address cannot be a VIP"),
        ("ff02::1", "a multicast address cannot be a VIP"),
        ("255.255.255.255", "the broadcast address cannot be a VIP"),
        ("127.0.0.1", "a loopback address cannot be a VIP"),
        ("::1", "a loopback address cannot be a VIP"),
        ("169.254.1.1", "a link-local address cannot be a VIP"),
        ("fe80::1", "a link-local address cannot be a VIP"),
        ("fe80::1%eth0", "a scoped address is not a VIP"),
        ("::ffff:192.0.2.100", "an IPv4-mapped address (give the IPv4 address 192.0.2.100)"),
        ("192.0.2.100/32", "is not an IPv4 or IPv6 address"),
        ("192.0.2.256", "is not an IPv4 or IPv6 address"),
        (",", "no VIP given"),
    )],
    (ON_LO, [], "no VIP given"),
    (OWNER, [], "no VIP given: name at least one with --vip ADDRESS, or take them with "
                "--from-keepalived or --from-ipvs"),
    # Hosts, ports and SSH files.
    *[(plugin_, (["--vip", "192.0.2.100"] if plugin_ == ON_LO else []) + args, cause)
      for plugin_ in (ON_LO, SYSCTL) for args, cause in (
        (["-H", ""], "-H '': not a host name or IP address"),
        (["-H", "192.0.2.11;touch${IFS}/tmp/x;#"], "not a host name or IP address"),
        (["--host=-oProxyCommand=x"], "not a host name or IP address"),
        (["-H", "a b"], "not a host name or IP address"),
        (["-H", "x" * 300], "not a host name or IP address"),
        (HOST + ["--ssh-port", "0"], "not a TCP port (1-65535): '0'"),
        (HOST + ["--ssh-port", "65536"], "not a TCP port (1-65535)"),
        (HOST + ["--ssh-port", "ssh"], "not a TCP port (1-65535)"),
        (HOST + ["--ssh-password-file", "/dev/zero"], "/dev/zero: not a regular file"),
        (HOST + ["--ssh-key", "/dev/zero"], "--ssh-key /dev/zero: not a regular file"),
        (HOST + ["--known-hosts", "/dev/zero"], "known_hosts /dev/zero: not a regular file"),
        (HOST + ["--ssh-password-file", "WORLD_READABLE"], "readable by others (mode 644)"),
        (HOST + ["--ssh-password-file", "/nonexistent"], "No such file or directory"),
        (HOST + ["--ssh-key", "/nonexistent/key"], "No such file or directory"),
        (["--root", "/nonexistent"], "--root /nonexistent: no such directory"),
        (["-t", "0"], "must be more than 0 and at most 600 seconds: '0'"),
        (["-t", "-1"], "must be more than 0 and at most 600 seconds"),
        (["-t", "601"], "must be more than 0 and at most 600 seconds"),
        (["-t", "nan"], "must be more than 0 and at most 600 seconds"),
        (["-t", "inf"], "must be more than 0 and at most 600 seconds"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    )],
    (SYSCTL, ["--arp-ignore", "0,1"], "must be a list of values that keep a VIP on lo"),
    (SYSCTL, ["--arp-ignore", "3"], "must be a list of values that keep a VIP on lo"),
    (SYSCTL, ["--arp-ignore", "x"], "must be a list of values that keep a VIP on lo"),
    (SYSCTL, ["-i", "nosuchif0"], "no interface nosuchif0 here"),
    # Long options whole, never abbreviated; each refusal names the option typed.
    (ON_LO, ["--vi", "192.0.2.100"], "unrecognized arguments: --vi"),
    (SYSCTL, ["--no-p"], "unrecognized arguments: --no-p"),
    (OWNER, ["--vip", "192.0.2.100", "--witness", "foo"], "--witness 'foo' is not an IPv4 or"),
    (CACHE, ROUTER + ["--vip", "192.0.2.100", "--expect-mac", "foo=02:00:5e:00:00:01"],
     "argument --expect-mac: VIP 'foo' is not an IPv4 or IPv6 address"),
    (OWNER, ["--vip", "192.0.2.100", "--allow-mac", "192.0.2.9=02:00:5e:00:00:01"],
     "--allow-mac 192.0.2.9=...: not one of the VIPs checked"),
    # The probe: bounds on what it sends, and the files it reads.
    (OWNER, ["--vip", "192.0.2.100", "--count", "0"], "--count 0 must be between 1 and 10"),
    (OWNER, ["--vip", "192.0.2.100", "--count", "11"], "--count 11 must be between 1 and 10"),
    (OWNER, ["--vip", "192.0.2.100", "--count", "x"], "invalid int value: 'x'"),
    (OWNER, ["--vip", "192.0.2.100", "--interval", "0"], "must be more than 0 and at most 600 seconds"),
    (OWNER, ["--vip", "192.0.2.100", "--wait", "-1"], "must be more than 0 and at most 600 seconds"),
    (OWNER, ["--vip", "192.0.2.100", "--listen", "700"], "must be at least 0 and at most 300 "
                                                          "seconds"),
    (OWNER, ["--vip", "192.0.2.100", "-t", "301"], "more than 0 and at most 300 seconds: '301'"),
    (OWNER, ["--vip", "192.0.2.100", "--expect-mac", "zz"], "not a MAC address"),
    (OWNER, ["--vip", "192.0.2.100", "--allow-mac", "02:00:5e:00:00"], "not a MAC address"),
    (OWNER, ["--vip", "192.0.2.100", "--name", "02:00:5e:00:00:01"], "expected MAC=LABEL"),
    (OWNER, ["--vip", "192.0.2.100", "--name", "=label"], "not a MAC address"),
    (OWNER, ["--from-ipvs", "/nonexistent"], "--from-ipvs /nonexistent: cannot read it"),
    (OWNER, ["--from-ipvs", "/dev/zero"], "--from-ipvs /dev/zero: cannot read it"),
    (OWNER, ["--from-ipvs", "/etc"], "--from-ipvs /etc: cannot read it"),
    (OWNER, ["--vip", "192.0.2.100", "-i", "nosuchif0"], "no interface nosuchif0 here"),
    (OWNER, ["--vip", "192.0.2.100"], "cannot tell which interface to probe"),
    # -I: the old spelling of -i, kept for one release.
    (OWNER, ["--vip", "192.0.2.100", "-I", "lo"], "does not do ARP (loopback or NOARP)"),
    # Output injection: a label holding a line break.
    (OWNER, ["--vip", "192.0.2.100", "--name", "02:00:5e:00:00:01=evil\nOK: all fine"],
     "the label holds control characters"),
    (CACHE, ROUTER + OWNED + ["--name", "02:00:5e:00:00:01=a\rb"],
     "the label holds control characters"),
    # Ports that no IPVS table can hold.
    (OWNER, ["--from-ipvs", "SERVICE_PORT_TOO_LARGE"], "IPVS table line 4: cannot read"),
    (SWEEP, ["--from-ipvs", "SERVICE_PORT_TOO_LARGE"], "port 99999 is not a port (0-65535)"),
    (SWEEP, ["--from-ipvs", "REALSERVER_PORT_TOO_LARGE"], "port 4294967296 is not a port"),
    # The sweep.
    (SWEEP, ["--from-ipvs", "/nonexistent/ip_vs"], "/nonexistent/ip_vs: not found"),
    (SWEEP, ["--from-ipvs", "/dev/zero"], "/dev/zero: not a regular file"),
    (SWEEP, ["--parallel", "0"], "--parallel 0 must be between 1 and 256"),
    (SWEEP, ["--parallel", "300"], "--parallel 300 must be between 1 and 256"),
    (SWEEP, ["--ssh-port", "0"], "not a TCP port"),
    (SWEEP, ["--unreachable", "maybe"], "invalid choice: 'maybe'"),
    (SWEEP, ["-t", "700"], "must be more than 0 and at most 600 seconds"),
    # The router's table: owners, the router, the SNMP secrets and bounds.
    (CACHE, ROUTER + ["--vip", "192.0.2.100"], "no owner expected for 192.0.2.100"),
    (CACHE, ROUTER + ["--vip", "192.0.2.100", "--expect-mac", "zz"], "not a MAC address"),
    (CACHE, ROUTER + OWNED + ["--expect-mac", "192.0.2.9=02:00:5e:00:00:02"],
     "--expect-mac 192.0.2.9=...: not one of the VIPs checked"),
    (CACHE, ROUTER + OWNED + ["--expect-mac", "224.0.0.1=02:00:5e:00:00:02"],
     "a multicast address cannot be a VIP"),
    (CACHE, OWNED, "no router given: name it with -H"),
    (CACHE, ["-H", "192.0.2.254;id"] + OWNED + ["--snmp-community-file", "PRIVATE"],
     "not a host name or IP address"),
    (CACHE, ["-H", "192.0.2.254"] + OWNED, "give one of --snmp-community-file (v2c) and "
                                           "--snmp-v3-file (v3)"),
    (CACHE, ROUTER + OWNED + ["--snmp-v3-file", "PRIVATE"], "give one of"),
    (CACHE, ["-H", "192.0.2.254", "--snmp-community-file", "WORLD_READABLE"] + OWNED,
     "readable by others (mode 644)"),
    (CACHE, ["-H", "192.0.2.254", "--snmp-community-file", "/dev/zero"] + OWNED,
     "--snmp-community-file /dev/zero: not a regular file"),
    (CACHE, ["-H", "192.0.2.254", "--snmp-v3-file", "/nonexistent"] + OWNED,
     "No such file or directory"),
    (CACHE, ["-H", "192.0.2.254", "--snmp-v3-file", "PRIVATE"] + OWNED,
     "line 1 is not one of user, auth_protocol, auth_key, priv_protocol, priv_key = VALUE"),
    (CACHE, ROUTER + OWNED + ["--snmp-port", "0"], "not a TCP port (1-65535): '0'"),
    (CACHE, ROUTER + OWNED + ["--max-entries", "0"], "--max-entries 0 must be at least 1"),
    (CACHE, ROUTER + OWNED + ["--source", "telnet"], "invalid choice: 'telnet'"),
    (CACHE, ROUTER + OWNED + ["--from-keepalived", "/nonexistent"], "/nonexistent: not found"),
    (CACHE, ROUTER + OWNED, "no answer from 192.0.2.254:161 within 2.0s, tried twice (SNMP v2c)"),
]


# Cases whose cause is a fact of the place they run in (its interfaces, raw sockets, a router
# that does not answer): only the lab's bare namespace gives them.
NEEDS_THE_LAB = {
    (SYSCTL, ("-i", "nosuchif0")),
    (OWNER, ("--vip", "192.0.2.100", "-i", "nosuchif0")),
    (OWNER, ("--vip", "192.0.2.100", "--allow-mac", "192.0.2.9=02:00:5e:00:00:01")),
    (OWNER, ("--vip", "192.0.2.100")),
    (OWNER, ("--vip", "192.0.2.100", "-I", "lo")),
    (CACHE, tuple(ROUTER + OWNED)),
    # The probe reads the files it is given after its raw sockets are open (as the invoking
    # user, when it runs through sudo): without CAP_NET_RAW it says so first.
    *[(OWNER, ("--from-ipvs", path)) for path in ("/nonexistent", "/dev/zero", "/etc",
                                                    "SERVICE_PORT_TOO_LARGE")],
}
STATUS_NAMES = {OWNER: "VIP_ARP_OWNER", ON_LO: "VIP_ON_LO", SYSCTL: "ARP_SYSCTL",
                SWEEP: "LVS_REALSERVERS", CACHE: "VIP_ARP_CACHE"}


def write_files(home):
    """The files the cases name by placeholder, written under home: {placeholder: path}."""
    readable = os.path.join(home, "password")
    with open(readable, "w") as handle:
        handle.write("secret\n")
    os.chmod(readable, 0o644)
    private = os.path.join(home, "community")
    with open(os.open(private, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
        handle.write("community\n")
    tables = {}
    for name, service, realserver in (("SERVICE_PORT_TOO_LARGE", 99999, 80),
                                      ("REALSERVER_PORT_TOO_LARGE", 80, 2 ** 32)):
        tables[name] = os.path.join(home, name)
        with open(tables[name], "w") as handle:
            handle.write(lab_module.ipvsadm_text("192.0.2.100", ["192.0.2.11"], service)
                         .replace("192.0.2.11:{}".format(service),
                                  "192.0.2.11:{}".format(realserver)))
        os.chmod(tables[name], 0o644)
    return dict(tables, WORLD_READABLE=readable, PRIVATE=private)


def assert_one_unknown_line(name, outcome, cause):
    """exit 3, one line '<STATUS> UNKNOWN - ...' naming the cause, nothing else."""
    assert outcome.code == 3, outcome
    assert len(outcome.lines) == 1, outcome
    assert outcome.status.startswith(STATUS_NAMES[name] + " UNKNOWN - "), outcome
    assert cause in outcome.status, outcome
    assert "internal error" not in outcome.stdout and "Traceback" not in outcome.stdout
    assert outcome.stderr == ""
