#!/usr/bin/env python3
"""A newcomer's machine: run commands as root in a minimal Debian root (debootstrap), inside
the private mount namespace this script is started in (``unshare --mount --propagation
private``), so that its mounts, its lab's namespaces and its apt-get runs stay in there.

Usage: fresh_debian.py ROOT SOURCE -- ARGV [-- ARGV ...]. SOURCE (a git checkout) is
seen read-only at /mnt/source inside ROOT. Each ARGV runs in ROOT (chroot) with a clean
environment, its output passed through; the first that fails ends the run with its code.
"""

import os
import shutil
import subprocess
import sys

MOUNT = "/usr/bin/mount"
CHROOT = "/usr/sbin/chroot"
LOCAL_CAS = "/usr/local/share/ca-certificates"
ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
       "HOME": "/root", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}


def mount(*args):
    subprocess.run([MOUNT] + list(args), check=True)


def prepare(root, source):
    mount("--make-rprivate", "/")
    mount("--bind", root, root)  # its / a mount point, as ip netns wants (mount --make-rslave /)
    mount("-t", "proc", "proc", root + "/proc")
    mount("-t", "sysfs", "sysfs", root + "/sys")
    mount("--rbind", "/dev", root + "/dev")
    for directory in ("/run", "/tmp"):
        mount("-t", "tmpfs", "-o", "mode=1777" if directory == "/tmp" else "mode=755",
              "tmpfs", root + directory)
    os.makedirs(root + "/mnt/source", exist_ok=True)
    mount("--bind", source, root + "/mnt/source")
    mount("-o", "remount,bind,ro", root + "/mnt/source")
    with open("/etc/resolv.conf", "rb") as handle:
        resolv = handle.read()
    with open(root + "/etc/resolv.conf", "wb") as handle:
        handle.write(resolv)
    # The local certificate authorities of this machine's network (a TLS proxy in front of
    # the registries): any machine here trusts them, and ca-certificates adds them as it
    # installs.
    if os.path.isdir(LOCAL_CAS):
        shutil.copytree(LOCAL_CAS, root + LOCAL_CAS, dirs_exist_ok=True)


def main():
    root, source = sys.argv[1], sys.argv[2]
    commands, current = [], None
    for word in sys.argv[3:]:
        if word == "--":
            current = []
            commands.append(current)
        else:
            current.append(word)
    prepare(root, source)
    # The project's switches, and where this network's clients find their CA bundle.
    env = dict(ENV, **{k: v for k, v in os.environ.items() if k.startswith("LVS_DR_")
                       or k in ("SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")})
    for argv in commands:
        print("\n### fresh Debian 12 # {}".format(" ".join(argv)), flush=True)
        done = subprocess.run([CHROOT, root] + argv, env=env)
        if done.returncode != 0:
            sys.exit(done.returncode)


if __name__ == "__main__":
    main()
