"""Debian's packages as oracles, extracted and never installed: `apt-get download` then
`dpkg-deb -x` into .oracles/ of the repository (nothing is configured, started, or written
outside it). Each package is fetched once; later runs use the extracted tree."""

import os
import subprocess
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))), ".oracles")
APT_GET = "/usr/bin/apt-get"
DPKG_DEB = "/usr/bin/dpkg-deb"


def extracted(package):
    """The directory holding the package's files, or raises OSError naming what failed."""
    target = os.path.join(ROOT, package)
    if os.path.isfile(os.path.join(target, ".complete")):
        return target
    os.makedirs(ROOT, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ROOT) as download:
        os.chmod(download, 0o755)  # apt's _apt user writes there
        done = subprocess.run([APT_GET, "download", "-qq", package], cwd=download,
                              capture_output=True, text=True, timeout=300, check=False)
        debs = [name for name in os.listdir(download) if name.endswith(".deb")]
        if done.returncode != 0 or not debs:
            raise OSError("apt-get download {} failed: {}".format(
                package, (done.stderr.strip().splitlines() or ["no .deb"])[-1]))
        subprocess.run([DPKG_DEB, "-x", os.path.join(download, debs[0]), target], check=True)
    open(os.path.join(target, ".complete"), "w").close()
    return target
