"""The boot model of sysctl.d against the real systemd-sysctl (Debian 12's, 252) and procps'
`sysctl --system` (4.0.2, for boots without systemd): each tree is
booted by the real tool in a network and mount namespace of its own (tests/oracles/
sysctl_boot.py: interfaces present at boot, udev's re-run per interface, one created later),
and the model's prediction must be the same, value for value. Hand-written cases for every
rule, then seeded random trees; a mismatch prints the smallest tree that still disagrees."""

import json
import os
import random
import re

import lab as lab_module
import pytest

from lvs_dr_checks.boot.sysctl import boot_model
from lvs_dr_checks.source.local import Source
from oracles.namespace import booted, need_root

SYSTEMD_SYSCTL = "/lib/systemd/systemd-sysctl"
BOOT, LATER = ["eth0", "eth1"], ["vlan5"]
KEYS = ("arp_ignore", "arp_announce", "proxy_arp", "proxy_arp_pvlan", "arp_filter")
SEED = int(os.environ.get("LVS_DR_SEED", "20261126"))
RANDOM_TREES = int(os.environ.get("LVS_DR_TREES", "800"))


@pytest.fixture(scope="module")
def oracle():
    need_root("systemd-sysctl", [(SYSTEMD_SYSCTL, "systemd")])

    def boot(files, run=(), tool="systemd"):
        case = {"files": files, "boot": BOOT, "later": LATER, "run": list(run), "tool": tool}
        result = booted("sysctl_boot.py", [], case)
        return (result["values"], result["runs"]) if run else result["values"]
    return boot


def predicted(files, root, tool="systemd"):
    lab_module.write_config(root, {path.lstrip("/"): text for path, text in files.items()
                                   if not text.startswith("->")})
    for path, text in files.items():
        if text.startswith("->"):
            full = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            os.symlink(text[2:], full)
    state = boot_model(Source(root), tool).boot(["lo"] + BOOT, LATER)
    return {scope: {key: state.value(scope, key).value for key in KEYS}
            for scope in ["all", "default", "lo"] + BOOT + LATER}


def agree(oracle, files, tmp_path_factory, tool="systemd"):
    return predicted(files, str(tmp_path_factory.mktemp("tree")), tool) == oracle(files,
                                                                                  tool=tool)


E, R, U = "/etc/sysctl.d/", "/run/sysctl.d/", "/usr/lib/sysctl.d/"
CASES = {
    "default reaches interfaces present at boot": {E + "a.conf": "net.ipv4.conf.default.arp_ignore = 1\n"},
    "an explicit interface line wins over default": {
        E + "a.conf": "net.ipv4.conf.eth0.arp_ignore = 2\nnet.ipv4.conf.default.arp_ignore = 1\n"},
    "a write of the value in place is no write": {
        E + "a.conf": "net.ipv4.conf.lo.arp_ignore = 0\nnet.ipv4.conf.default.arp_ignore = 1\n"},
    "the same value written otherwise is a write": {
        E + "a.conf": "net.ipv4.conf.lo.arp_ignore = 00\nnet.ipv4.conf.default.arp_ignore = 1\n"},
    "a refused write still marks the key": {
        E + "a.conf": "net.ipv4.conf.lo.arp_ignore = +1\nnet.ipv4.conf.default.arp_ignore = 1\n"},
    "kernel parsing: comment, hex, octal": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = 1 # LVS-DR\n"
                      "net.ipv4.conf.all.arp_announce = 0x2\nnet.ipv4.conf.lo.arp_announce = 010\n"
                      "net.ipv4.conf.eth0.arp_announce = 08\nnet.ipv4.conf.eth1.arp_announce = 1 2\n"},
    "out of range refused": {E + "a.conf": "net.ipv4.conf.all.arp_ignore = 99999999999\n"},
    "globs skip explicit keys, default still propagates": {
        E + "a.conf": "net.ipv4.conf.*.arp_ignore = 2\n-net.ipv4.conf.lo.arp_ignore\n"},
    "glob per path component": {E + "a.conf": "net.ipv4.*.arp_ignore = 1\n"},
    "glob with a negated class": {E + "a.conf": "net.ipv4.conf.[^ad]*.arp_ignore = 2\n"},
    "later file wins, same name masks": {
        E + "10-a.conf": "net.ipv4.conf.all.arp_ignore = 1\n",
        U + "10-a.conf": "net.ipv4.conf.all.arp_ignore = 2\n",
        R + "20-b.conf": "net.ipv4.conf.all.arp_announce = 2\n"},
    "a link to /dev/null masks": {E + "50-x.conf": "->/dev/null",
                                  U + "50-x.conf": "net.ipv4.conf.all.arp_ignore = 1\n"},
    "slash separators and a leading slash": {
        E + "a.conf": "net/ipv4/conf/all/arp_ignore = 1\n/net/ipv4/conf/lo/arp_ignore = 2\n"
                      "/net.ipv4.conf.eth0.arp_ignore = 2\n"},
    "moved to the end by a different value, kept by the same": {
        E + "a.conf": "net.ipv4.conf.eth0.arp_ignore = 1\nnet.ipv4.conf.default.arp_ignore = 2\n"
                      "net.ipv4.conf.eth0.arp_ignore = 1\n",
        E + "b.conf": "net.ipv4.conf.default.arp_ignore = 3\nnet.ipv4.conf.lo.arp_ignore = 0\n"},
    # Bytes that Python's str methods read otherwise than the tools.
    "a no-break space after a key is part of the key": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore\u00a0= 1\nnet.ipv4.conf.lo.arp_ignore = 1\u00a0\n"},
    "a form feed inside a line": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = \x0c1\nnet.ipv4.conf.all.arp_announce\x0c = 2\n"
                      "\x0cnet.ipv4.conf.eth0.arp_ignore = 2\n"},
    "line breaks only Python knows": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = 1\u2028net.ipv4.conf.eth0.arp_ignore = 2\n"
                      "net.ipv4.conf.all.arp_announce = 2\x85\n"},
    "a lone byte 0xA0 (Latin-1 no-break space) before a value, and after a key": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = \udca01\nnet.ipv4.conf.all.arp_announce = 2\n"
                      "net.ipv4.conf.lo.arp_ignore\udca0 = 2\nnet.ipv4.conf.eth0.arp_ignore = 1\udca0\n"},
    "a NUL inside a line": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = 1\x00net.ipv4.conf.all.arp_announce = 2\n"},
    "carriage returns": {E + "a.conf": "net.ipv4.conf.all.arp_ignore = \r1\r\n"
                                       "net.ipv4.conf.all.arp_announce = 2\rnet.ipv4.conf.lo.arp_ignore = 2\n"},
    "a line over systemd's limit ends the file there": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = 1\n#" + "x" * (1024 * 1024)
                      + "\nnet.ipv4.conf.all.arp_announce = 2\n"},
    "default above all among junk": {
        E + "a.conf": "[Section]\nnet.ipv4.conf.all.arp_ignore = 1\n= 1\n==\n"
                      "net.ipv4.conf.default.arp_ignore = 4\nnet.ipv4.conf.*.arp_announce = 2\n"
                      "net.ipv4.conf.eth0.arp_ignore\t=\t1\n"},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_model_agrees_with_systemd_sysctl(oracle, tmp_path_factory, case):
    files = CASES[case]
    assert predicted(files, str(tmp_path_factory.mktemp("tree"))) == oracle(files), case


# What procps' `sysctl --system` (4.0.2) does differently.
PROCPS_CASES = {
    "/etc/sysctl.conf comes last, without a link": {
        "/etc/sysctl.conf": "net.ipv4.conf.all.arp_ignore = 2\n",
        E + "99-z.conf": "net.ipv4.conf.all.arp_ignore = 1\n"},
    "/etc/sysctl.conf comes last, also after its link": {
        E + "99-sysctl.conf": "->../sysctl.conf", "/etc/sysctl.conf": "net.ipv4.conf.all.arp_announce = 2\n",
        E + "zz.conf": "net.ipv4.conf.all.arp_announce = 1\n"},
    "hidden files are read": {E + ".10-a.conf": "net.ipv4.conf.all.arp_ignore = 2\n"},
    "every line is written: the same value marks the key": {
        E + "a.conf": "net.ipv4.conf.lo.arp_ignore = 0\nnet.ipv4.conf.default.arp_ignore = 1\n"},
    "a later line for the key wins, even the same value again": {
        E + "a.conf": "net.ipv4.conf.all.arp_ignore = 1\n", E + "b.conf":
        "net.ipv4.conf.all.arp_ignore = 2\nnet.ipv4.conf.all.arp_ignore = 1\n"},
    "a glob skips the keys named elsewhere, before or after": {
        E + "a.conf": "net.ipv4.conf.eth0.arp_ignore = 2\nnet.ipv4.conf.*.arp_ignore = 1\n"
                      "net.ipv4.conf.lo.arp_ignore = 3\n"},
    "an excluding pattern excludes nothing, an excluded key is excluded": {
        E + "a.conf": "-net.ipv4.conf.a*.arp_announce\nnet.ipv4.conf.*.arp_announce = 1\n"
                      "-net.ipv4.conf.all.arp_ignore\nnet.ipv4.conf.*.arp_ignore = 2\n"},
    "no udev run: a later interface takes default": {
        E + "a.conf": "net.ipv4.conf.eth0.arp_ignore = 1\nnet.ipv4.conf.default.arp_ignore = 2\n"},
    "/etc before /run": {E + "10-a.conf": "net.ipv4.conf.all.arp_ignore = 1\n",
                         R + "10-a.conf": "net.ipv4.conf.all.arp_ignore = 2\n"},
}


@pytest.mark.parametrize("case", sorted(set(CASES) | set(PROCPS_CASES)))
def test_model_agrees_with_procps(oracle, tmp_path_factory, case):
    files = PROCPS_CASES.get(case) or CASES[case]
    assert predicted(files, str(tmp_path_factory.mktemp("tree")), "procps") == oracle(
        files, tool="procps"), case


# Junk the real tools read otherwise than Python's str methods: whitespace that systemd (and
# the kernel, and procps) do not strip or strip differently, line breaks only Python knows,
# NUL (a line end to systemd, the end of the line to procps), other control characters.
BLANKS = [" ", "\t", "\u00a0", "\udca0", "\x0c", "\x0b", "\r", "\u2028", "\x85", "\u3000", "\x1c"]
JUNK_LINES = ["[Section]", "=", "= 1", "==", " = ", "net.ipv4.conf.all.arp_ignore == 1",
              "# comment \u00a0 =", "; x = 1", "garbage", "\x00", "-", "\u00a0"]


def random_tree(chance, junk=0.0):
    """A sysctl.d tree of 1 to 3 files; ``junk``: the chance of each kind of junk per line."""
    scopes = ["all", "default", "lo", "eth0", "eth1", "vlan5", "*", "e*", "[!l]*"]
    values = ["0", "1", "2", "3", "4", "8", "1 # x", "0x2", "010", "+1", "08", "", "-1", "2 2"]
    directories = [E, R, "/usr/local/lib/sysctl.d/", U]
    files = {}
    for _ in range(chance.randint(1, 3)):
        lines = []
        for _ in range(chance.randint(1, 6)):
            key = "net.ipv4.conf.{}.{}".format(chance.choice(scopes), chance.choice(KEYS))
            if chance.random() < 0.2:
                key = key.replace(".", "/")
            if chance.random() < 0.1:
                line = "-" + key
            else:
                value = chance.choice(values)
                if chance.random() < junk:
                    value = chance.choice(BLANKS) + value
                if chance.random() < junk:
                    value += chance.choice(BLANKS)
                if chance.random() < junk:
                    key += chance.choice(BLANKS)
                line = "{}{}={}{}".format(key, chance.choice([" ", ""]),
                                         chance.choice([" ", ""]), value)
            if chance.random() < junk:
                line = chance.choice(BLANKS) + line
            if chance.random() < junk / 2:  # a control character inside the line
                at = chance.randint(0, len(line))
                line = line[:at] + chance.choice(["\x00", "\x0c", "\x1e", "\x7f"]) + line[at:]
            lines.append(line)
            if chance.random() < junk:
                lines.append(chance.choice(JUNK_LINES))
        if chance.random() < junk / 20:  # systemd-sysctl stops reading at a line this long
            lines.insert(chance.randint(0, len(lines)), "#" + "x" * (1024 * 1024))
        path = chance.choice(directories) + "{}-x.conf".format(chance.choice([10, 50, 90]))
        files[path] = chance.choice(["\n", "\r\n"]).join(lines) + "\n"
    return files


def smallest(files, disagrees):
    """Drop lines while the disagreement stays: the case to look at."""
    changed = True
    while changed:
        changed = False
        for path in list(files):
            lines = [line for line in files[path].split("\n") if line]
            for index in range(len(lines)):
                rest = lines[:index] + lines[index + 1:]
                trial = dict(files, **{path: "\n".join(rest) + "\n" if rest else ""})
                if disagrees(trial):
                    files, changed = trial, True
                    break
            if changed:
                break
    return files


@pytest.mark.parametrize("tool", ["systemd", "procps"])
def test_seeded_random_trees_agree(oracle, tmp_path_factory, tool):
    """Half the trees plain, half with junk on about one line in four."""
    chance = random.Random(SEED)
    trees = RANDOM_TREES if tool == "systemd" else RANDOM_TREES // 2
    for number in range(trees):
        files = random_tree(chance, junk=0.25 if number % 2 else 0.0)
        if tool == "procps" and chance.random() < 0.5:
            files["/etc/sysctl.conf"] = files.pop(next(iter(files)))
        if not agree(oracle, files, tmp_path_factory, tool):
            minimal = smallest(files, lambda f: not agree(oracle, f, tmp_path_factory, tool))
            pytest.fail("seed {}, tree {}: the model and {} disagree; smallest case:\n{}\n"
                        "the tool: {}\nmodel: {}".format(
                            SEED, number, tool, json.dumps(minimal, indent=1),
                            oracle(minimal, tool=tool),
                            predicted(minimal, str(tmp_path_factory.mktemp("min")), tool)))


CHECK = [lab_module.plugin("check_arp_sysctl"), "-i", "eth0", "-i", "eth1", "-v"]
NEW = "interfaces created later (VLANs, bonds, containers)"
_SAID = re.compile(r"^(OK|WARNING|CRITICAL): (eth[01]|{}(?: get)?) ({}) (?:would be )?(-?\d+)"
                   r"(?: after reboot)?".format(re.escape(NEW), "|".join(KEYS)), re.M)


def judged(output, boot):
    """{(interface, key): (state, value)} from -v lines, boot lines or runtime lines; the
    interfaces created later are 'new'."""
    return {(m.group(2) if m.group(2).startswith("eth") else "new", m.group(3)):
            (m.group(1), int(m.group(4)))
            for m in _SAID.finditer(output)
            if ("after reboot" in output[m.start():output.find("\n", m.start())]) == boot}


def verdicts_after_boot(oracle, files, tool, check):
    """(the boot verdicts check_arp_sysctl predicts, the live verdicts on what the real boot
    left, capped at WARNING as a boot verdict is), with the two outputs for a message."""
    _, (before, after) = oracle(files, run=[check + ["--boot", tool],
                                            check + ["--no-persistence"]], tool=tool)
    predicted_now, runtime = judged(before, boot=True), judged(after, boot=False)
    assert predicted_now and runtime, (before, after)
    capped = {k: ("WARNING" if state == "CRITICAL" else state, value)
              for k, (state, value) in runtime.items()}
    return predicted_now, capped, "boot verdicts:\n{}\nafter the boot:\n{}".format(before, after)


@pytest.mark.parametrize("tool, role", [("systemd", "realserver"), ("procps", "realserver"),
                                        ("systemd", "director")])
def test_the_boot_verdict_is_the_verdict_after_the_real_boot(oracle, tool, role):
    """check_arp_sysctl predicts a reboot; the real systemd-sysctl (or procps' `sysctl
    --system`) then boots the same tree and the same check judges what it left: value for
    value, state for state (the boot verdict capped at WARNING), interfaces created later
    included; for a real server and, with its own keys, for a director."""
    chance = random.Random(SEED + 1)
    # A director has five keys an interface, each said now and after reboot: one interface
    # keeps every line within the plugin's 4 KiB output bound.
    check = (CHECK if role == "realserver" else CHECK[:3] + ["-v"]) + ["--role", role]
    for number in range(int(os.environ.get("LVS_DR_BOOTS", "40"))):
        files = random_tree(chance, junk=0.25 if number % 2 else 0.0)
        predicted_now, capped, said = verdicts_after_boot(oracle, files, tool, check)
        if role == "director":
            assert {"proxy_arp_pvlan", "arp_filter"} <= {key for _, key in predicted_now}
        else:
            assert ("new", "arp_ignore") in predicted_now, said
        assert predicted_now == capped, "tree {}:\n{}\n{}".format(
            number, json.dumps(files, indent=1), said)


@pytest.mark.parametrize("tool", ["systemd", "procps"])
def test_default_above_all_leaves_new_interfaces_answering_after_the_boot(oracle, tool):
    """Every interface present is fixed, but `default` above `all` (among junk lines) gives
    the interfaces created after the boot arp_ignore 4: they answer for the VIPs. The boot
    verdict says so, as the live check says it after the real boot."""
    files = {E + "a.conf": "[lvs]\nnet.ipv4.conf.all.arp_ignore = 1\n= 1\n"
                           "net.ipv4.conf.all.arp_announce = 2\n"
                           "net.ipv4.conf.default.arp_ignore = 4\n"
                           "net.ipv4.conf.eth0.arp_ignore = 1\nnet.ipv4.conf.eth1.arp_ignore = 1\n"}
    predicted_now, capped, said = verdicts_after_boot(oracle, files, tool, CHECK)
    assert predicted_now[("new", "arp_ignore")] == ("WARNING", 4), said
    assert predicted_now[("eth0", "arp_ignore")] == ("OK", 1), said
    assert predicted_now == capped, said
