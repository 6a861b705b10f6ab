#!/usr/bin/env python3
"""The real systemd pieces that decide whether the site's boot scripts run, as an oracle.

Run as root in a new network namespace and a private mount namespace of its own (``unshare
--net --mount --propagation private python3 scripts_boot.py``), with a JSON object on stdin:
{"files": {path: text or "->target"}, "mode": {path: octal}, "units": [names]}. It lays an
overlay over /etc (in this mount namespace only) and writes the tree there, then:
- runs the real systemd-rc-local-generator; when it pulls rc-local.service in, runs what that
  unit runs, `/etc/rc.local start`, in this namespace (through the file's own `#!` line);
- asks the real `systemctl --root=/ is-enabled` of each unit.
Prints {"addresses": [[label, "address/prefix"]], "rc_local": bool, "enabled": {unit: word}}.
"""

import json
import os
import sys

import bootns

GENERATOR = "/lib/systemd/system-generators/systemd-rc-local-generator"
SYSTEMCTL = "/usr/bin/systemctl"


def main():
    case = json.load(sys.stdin)
    bootns.overlay("/etc")
    bootns.write_tree(case["files"], ("/etc/rc.local", "/etc/systemd/system/"),
                      case.get("mode"))
    bootns.boot_interfaces([])
    log = []
    output = bootns.scratch()
    bootns.run([GENERATOR, output, output, output], log)
    rc_local = os.path.lexists(os.path.join(output, "multi-user.target.wants",
                                            "rc-local.service"))
    if rc_local:
        bootns.run(["/etc/rc.local", "start"], log)
    enabled = {unit: bootns.run([SYSTEMCTL, "--root=/", "is-enabled", unit], log).strip()
               for unit in case.get("units", [])}
    print(json.dumps({"addresses": bootns.addresses(), "rc_local": rc_local,
                      "enabled": enabled, "log": "\n".join(log)}))


if __name__ == "__main__":
    main()
