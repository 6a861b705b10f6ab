"""What the boot oracles share, inside their own network and mount namespace: an overlay over
a system directory (writes stay in this mount namespace), the tree written under it, the
interfaces present at boot, the addresses left, and the plugin run before and after the boot."""

import json
import os
import subprocess
import sys
import tempfile

IP = "/usr/sbin/ip"
MOUNT = "/usr/bin/mount"
LOOPBACK = {"127.0.0.1/8", "::1/128"}


# The oracle's scratch space: a directory the test made (and removes once the oracle is done),
# covered by a tmpfs in this mount namespace only; a directory made here would stay behind.
SCRATCH_ENV = "LVS_DR_ORACLE_SCRATCH"
_scratch_mounted = []


def scratch():
    """A new directory on this mount namespace's own tmpfs, gone with the namespace."""
    root = os.environ[SCRATCH_ENV]
    if not _scratch_mounted:
        subprocess.run([MOUNT, "-t", "tmpfs", "tmpfs", root], check=True)
        _scratch_mounted.append(root)
    return tempfile.mkdtemp(dir=root)


def overlay(directory):
    """Writes under ``directory`` go to a tmpfs of this mount namespace."""
    work = scratch()
    os.makedirs(work + "/upper")
    os.makedirs(work + "/work")
    subprocess.run([MOUNT, "-t", "overlay", "overlay", "-o",
                    "lowerdir={0},upperdir={1}/upper,workdir={1}/work".format(directory, work),
                    directory], check=True)


def write_tree(files, allowed, modes=None):
    """Files (text, or "->target" for a link) under the allowed directories only."""
    for path, text in files.items():
        if not path.startswith(allowed):
            sys.exit("refusing {}: not under {}".format(path, ", ".join(allowed)))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], path)
            continue
        with open(path, "w", encoding="utf-8", errors="surrogateescape") as handle:
            handle.write(text)
        os.chmod(path, int((modes or {}).get(path, "644"), 8))


def boot_interfaces(names):
    """The interfaces present at boot (veths, their peers up and named peerN), and lo up, as
    systemd brings it up first thing."""
    for index, name in enumerate(names):
        peer = "peer{}".format(index)
        subprocess.run([IP, "link", "add", name, "type", "veth", "peer", "name", peer],
                       check=True)
        subprocess.run([IP, "link", "set", peer, "up"], check=True)
    subprocess.run([IP, "link", "set", "lo", "up"], check=True)


def addresses(names=None):
    """[label, "address/prefix"] of the interfaces (all when None), without lo's own and
    link-local addresses."""
    listing = json.loads(subprocess.run([IP, "-j", "address", "show"], capture_output=True,
                                        text=True, check=True).stdout)
    return sorted([info.get("label", link["ifname"]),
                   "{}/{}".format(info["local"], info["prefixlen"])]
                  for link in listing for info in link.get("addr_info", [])
                  if (names is None or link["ifname"] in names)
                  and "{}/{}".format(info["local"], info["prefixlen"]) not in LOOPBACK
                  and not info["local"].startswith("fe80:"))


def run(argv, log, env=None):
    """The command's stdout, logged; one that cannot even start (execve fails, as systemd's
    would) gives nothing."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60,
                              env=env)
    except OSError as exc:
        log.append("$ {} -> {}".format(" ".join(argv), exc))
        return ""
    log.append("$ {} -> {}\n{}{}".format(" ".join(argv), done.returncode, done.stdout,
                                         done.stderr))
    return done.stdout


def booted_with_check(case, boot, log):
    """Runs ``boot()``; with case["check"] (a plugin's argv), runs it before (the addresses
    of case["live"] on lo) and after (those removed first, then the boot, --no-persistence)."""
    outputs = {}
    if case.get("check"):
        for address in case.get("live", []):
            subprocess.run([IP, "address", "add", address, "dev", "lo"], check=True)
        outputs["before"] = run(case["check"], log)
        for address in case.get("live", []):
            subprocess.run([IP, "address", "del", address, "dev", "lo"], check=True)
    found = boot()
    if case.get("check"):
        outputs["after"] = run(case["check"] + ["--no-persistence"], log)
    return dict(outputs, addresses=found, log="\n".join(log))
